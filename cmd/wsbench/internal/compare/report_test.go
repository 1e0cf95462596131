package compare

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		want   float64
		ok     bool
	}{
		{"none", nil, 0, false},
		{"one", []float64{7}, 7, true},
		{"odd, unsorted", []float64{9, 1, 5}, 5, true},
		{"even: mean of the middle two", []float64{4, 1, 3, 2}, 2.5, true},
		{"repeats", []float64{2, 2, 9}, 2, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]float64(nil), tc.values...)
			got, ok := median(tc.values)
			if got != tc.want || ok != tc.ok {
				t.Errorf("got %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
			for i := range in {
				if in[i] != tc.values[i] {
					t.Fatalf("median reordered its input: %v", tc.values)
				}
			}
		})
	}
}

func TestRatio(t *testing.T) {
	tests := []struct {
		a, b, want float64
		ok         bool
	}{
		{10, 4, 2.5, true},
		{0, 4, 0, true},
		{3, 0, 0, false},
		{3, -1, 0, false},
	}
	for _, tc := range tests {
		got, ok := ratio(tc.a, tc.b)
		if math.Abs(got-tc.want) > 1e-12 || ok != tc.ok {
			t.Errorf("ratio(%v, %v) = %v, %v; want %v, %v", tc.a, tc.b, got, ok, tc.want, tc.ok)
		}
	}
}

// testRun is a run that counts, with the given numbers.
func testRun(metrics map[string]float64) *runResult {
	return &runResult{metrics: metrics}
}

func TestPointResult_median(t *testing.T) {
	p := &pointResult{Name: pointTput128, Runs: []*runResult{
		testRun(map[string]float64{"msgs_per_s": 300}),
		{Error: "no messages", metrics: map[string]float64{"msgs_per_s": 1e9}},
		testRun(map[string]float64{"msgs_per_s": 100}),
		testRun(map[string]float64{"msgs_per_s": 200, measuredCPUPerMsg: 1.5}),
	}}
	tests := []struct {
		metric string
		want   float64
		ok     bool
	}{
		{"msgs_per_s", 200, true}, // the failed run is left out
		{measuredCPUPerMsg, 1.5, true},
		{"p50_us", 0, false},
	}
	for _, tc := range tests {
		got, ok := p.median(tc.metric)
		if got != tc.want || ok != tc.ok {
			t.Errorf("median(%s) = %v, %v; want %v, %v", tc.metric, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := (*pointResult)(nil).median("msgs_per_s"); ok {
		t.Error("median of a point that did not run: ok")
	}
}

func TestPointResult_failure(t *testing.T) {
	tests := []struct {
		name string
		p    pointResult
		want string
	}{
		{"one run counts", pointResult{Runs: []*runResult{{Error: "a"}, testRun(nil)}}, ""},
		{"every run failed", pointResult{Runs: []*runResult{{Error: "a"}, {Error: "b"}}}, "a"},
		{"could not run", pointResult{Error: "the proxy exited"}, "the proxy exited"},
		{"no runs", pointResult{}, "not run"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.failure(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTable_String(t *testing.T) {
	tb := table{
		header: []string{"target", "msgs/s"},
		rows: [][]string{
			{"nginx", "1000"},
			{"caddy", "failed: a|b\nc"},
		},
	}
	want := "| target | msgs/s |\n| --- | --- |\n| nginx | 1000 |\n| caddy | failed: a\\|b c |\n"
	if got := tb.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestShorten(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"a longer text", 6, "a long…"},
		{"µµµ", 3, "µ…"}, // never half a character
	}
	for _, tc := range tests {
		if got := shorten(tc.s, tc.n); got != tc.want {
			t.Errorf("shorten(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}

// testReport is a report of three targets over tput128 and idle: direct,
// nginx, and wasmgate, whose idle point failed.
func testReport() *report {
	tput := func(msgs, cpu float64) *pointResult {
		m := map[string]float64{"msgs_per_s": msgs, "mb_per_s": msgs * 128 / 1e6}
		if cpu > 0 {
			m[measuredCPUPerMsg] = cpu
		}
		return &pointResult{Name: pointTput128, Runs: []*runResult{testRun(m)}}
	}
	idle := func(kib float64) *pointResult {
		m := map[string]float64{"opened": 100, "alive": 99}
		if kib > 0 {
			m[measuredKiBPerConn] = kib
		}
		return &pointResult{Name: pointIdle, Runs: []*runResult{testRun(m)}}
	}
	return &report{
		Settings: settings{Points: []string{pointTput128, pointIdle}, Repeat: 1, IdleRepeat: 1},
		Targets: []*targetResult{
			{Name: targetDirect, Points: []*pointResult{idle(0), tput(800000, 0)}},
			{Name: targetNginx, Points: []*pointResult{idle(20), tput(400000, 1)}},
			{Name: targetWasmgate, Points: []*pointResult{
				{Name: pointIdle, Runs: []*runResult{{Error: "no opened"}}},
				tput(600000, 1.5),
			}},
			{Name: targetCaddy, Error: "exited before accepting a WebSocket"},
		},
	}
}

func TestReport_mediansTable(t *testing.T) {
	got := testReport().mediansTable().String()
	want := `| target | 128 B msgs/s | 128 B MB/s | 128 B CPU µs/msg | KiB/idle conn | idle alive/opened |
| --- | --- | --- | --- | --- | --- |
| direct | 800000 | 102.4 | - | - | 99/100 |
| nginx | 400000 | 51.2 | 1.00 | 20.0 | 99/100 |
| wasmgate | 600000 | 76.8 | 1.50 | failed: no opened |  |
| caddy | failed: exited before accepting a WebSocket |  |  |  |  |
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestReport_ratiosTable(t *testing.T) {
	tb, ok := testReport().ratiosTable()
	if !ok {
		t.Fatal("no ratios")
	}
	got := tb.String()
	want := `| target | vs | msgs/s 128 B | CPU/msg 128 B | KiB/idle conn |
| --- | --- | --- | --- | --- |
| nginx | direct | 0.50 | - | - |
| wasmgate | direct | 0.75 | - | - |
| caddy | direct | - | - | - |
| direct | nginx | 2.00 | - | - |
| wasmgate | nginx | 1.50 | 1.50 | - |
| caddy | nginx | - | - | - |
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	alone := &report{Settings: settings{Points: []string{pointTput128}}, Targets: []*targetResult{{Name: targetWasmgate}}}
	if _, ok := alone.ratiosTable(); ok {
		t.Error("ratios without direct or nginx")
	}
}

func TestReport_verdict(t *testing.T) {
	ok := &pointResult{Name: pointTput128, Runs: []*runResult{testRun(map[string]float64{"messages": 1})}}
	failed := &pointResult{Name: pointTput128, Runs: []*runResult{{Error: "no messages"}}}
	tests := []struct {
		name    string
		targets []*targetResult
		wantErr string
	}{
		{"all well", []*targetResult{{Name: targetDirect, Points: []*pointResult{ok}}, {Name: targetNginx, Points: []*pointResult{ok}}}, ""},
		{"one proxy failed", []*targetResult{{Name: targetDirect, Points: []*pointResult{ok}}, {Name: targetNginx, Error: "x"}}, ""},
		{"direct failed", []*targetResult{{Name: targetDirect, Points: []*pointResult{failed}}, {Name: targetNginx, Points: []*pointResult{ok}}}, "direct baseline failed: tput128: no messages"},
		{"no direct, one proxy measured", []*targetResult{{Name: targetNginx, Error: "x"}, {Name: targetCaddy, Points: []*pointResult{failed, ok}}}, ""},
		{"every target failed", []*targetResult{{Name: targetNginx, Error: "x"}, {Name: targetCaddy, Points: []*pointResult{failed}}}, "every target failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := (&report{Targets: tc.targets}).verdict()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("verdict: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("verdict: %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestReport_markdownAndResult(t *testing.T) {
	rep := testReport()
	rep.Machine = machine{Date: "2026-01-02T03:04:05Z", CPU: "Test CPU", Cores: 2, Kernel: "6.1.0", Go: "go1.26",
		Nginx: "nginx/1.22.1", HAProxy: "2.6.12", Caddy: "2.6.2", Wasmgate: "wasmgate dev"}
	rep.Settings.Sandbox = "plain"
	rep.Targets[1].Points[1].Runs[0].Notes = []string{"errors=2"}
	md := rep.markdown()
	for _, want := range []string{
		"Test CPU, 2 cores, Linux 6.1.0, go1.26", "nginx nginx/1.22.1, HAProxy 2.6.12, Caddy 2.6.2, wasmgate dev",
		"sandbox: plain", "| direct | 800000 |", "| wasmgate | nginx | 1.50 |", "- nginx tput128 run 1: errors=2",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}

	rep.Targets[1].Points[1].Runs[0].Result = json.RawMessage(`{"mode":"throughput","messages":5}`)
	line, err := rep.resultLine()
	if err != nil {
		t.Fatal(err)
	}
	payload, ok := strings.CutPrefix(line, "RESULT ")
	if !ok || strings.Contains(payload, "\n") {
		t.Fatalf("not one RESULT line: %q", line)
	}
	var back struct {
		Machine machine `json:"machine"`
		Targets []struct {
			Target string `json:"target"`
			Error  string `json:"error"`
			Points []struct {
				Runs []struct {
					Result map[string]any `json:"result"`
					Notes  []string       `json:"notes"`
				} `json:"runs"`
			} `json:"points"`
		} `json:"targets"`
	}
	if err := json.Unmarshal([]byte(payload), &back); err != nil {
		t.Fatalf("RESULT: %v", err)
	}
	if back.Machine != rep.Machine || len(back.Targets) != 4 || back.Targets[3].Error == "" {
		t.Errorf("RESULT round trip: %+v", back)
	}
	if r := back.Targets[1].Points[1].Runs[0]; r.Result["messages"] != 5.0 || len(r.Notes) != 1 {
		t.Errorf("nginx tput128 run: %+v", r)
	}
}

func TestRunResult_check(t *testing.T) {
	tests := []struct {
		name      string
		line      string
		point     string
		wantErr   string
		wantNotes int
	}{
		{"fine", `{"messages":10,"errors":0}`, pointTput128, "", 0},
		{"some errors", `{"messages":10,"errors":2,"first_error":"reset"}`, pointTput128, "", 1},
		{"nothing echoed", `{"messages":0,"errors":50,"first_error":"refused"}`, pointTput128, "no messages: refused", 1},
		{"idle drops", `{"opened":10,"failed":1,"dropped":2}`, pointIdle, "", 2},
		{"idle opened none", `{"opened":0,"failed":10}`, pointIdle, "no opened: failed=10", 1},
		{"connrate", `{"handshakes":0,"failures":3,"first_error":"502"}`, pointConnRate, "no handshakes: 502", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run, err := parseRun(tc.line)
			if err != nil {
				t.Fatal(err)
			}
			run.check(pointInfos[tc.point])
			if run.Error != tc.wantErr || len(run.Notes) != tc.wantNotes {
				t.Errorf("error %q, notes %q; want %q and %d notes", run.Error, run.Notes, tc.wantErr, tc.wantNotes)
			}
		})
	}
	if _, err := parseRun("{not json"); err == nil {
		t.Error("parseRun of bad JSON: no error")
	}
}

func TestParseCPUInfo(t *testing.T) {
	const cpuinfo = "processor\t: 0\nvendor_id\t: X\nmodel name\t: Test CPU @ 3GHz\n\nprocessor\t: 1\nmodel name\t: Test CPU @ 3GHz\n"
	model, n := parseCPUInfo(cpuinfo)
	if model != "Test CPU @ 3GHz" || n != 2 {
		t.Errorf("got %q, %d", model, n)
	}
	if model, n := parseCPUInfo("Hardware: x\n"); model != "unknown" || n < 1 {
		t.Errorf("without model or processors: %q, %d", model, n)
	}
}
