package compare

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// binDir holds the binaries the tests build, once per run of the tests.
var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// built is one binary built from the module, once.
type built struct {
	once sync.Once
	path string
	err  error
}

var (
	builtWasmgate built
	builtWsbench  built
	binDirOnce    sync.Once
	binDirErr     error
)

// build builds ./cmd/<name> of the module into binDir, once per run.
func build(t *testing.T, b *built, name string) string {
	t.Helper()
	b.once.Do(func() {
		binDirOnce.Do(func() { binDir, binDirErr = os.MkdirTemp("", "compare-test-bin-") })
		if binDirErr != nil {
			b.err = binDirErr
			return
		}
		root, err := moduleRoot()
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(binDir, name)
		cmd := exec.Command("go", "build", "-o", b.path, "./cmd/"+name)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = &buildError{name: name, err: err, out: string(out)}
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

type buildError struct {
	name string
	err  error
	out  string
}

func (e *buildError) Error() string {
	return "go build ./cmd/" + e.name + ": " + e.err.Error() + "\n" + e.out
}

func buildWasmgate(t *testing.T) string { return build(t, &builtWasmgate, "wasmgate") }
func buildWsbench(t *testing.T) string  { return build(t, &builtWsbench, "wsbench") }

// TestMain_quick runs a quick comparison of direct and wasmgate through
// the real binaries, and checks that the table has both rows with
// numbers and that the RESULT line parses. It checks no speed.
func TestMain_quick(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs wsbench and wasmgate")
	}
	for _, tool := range []string{"taskset", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	wsbench, wasmgate := buildWsbench(t), buildWasmgate(t)
	out := filepath.Join(t.TempDir(), "table.md")
	var stdout, stderr bytes.Buffer
	err := Main([]string{
		"-quick", "-targets", "direct,wasmgate", "-points", "tput128,idle",
		"-wsbench", wsbench, "-wasmgate", wasmgate, "-out", out,
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("compare: %v\nstderr:\n%s\nstdout:\n%s", err, stderr.String(), stdout.String())
	}
	text := stdout.String()
	number := `\d+(\.\d+)?`
	rows := map[string]*regexp.Regexp{
		// msgs/s, MB/s, CPU (none for direct), KiB/conn (none for
		// direct), alive/opened.
		"direct":   regexp.MustCompile(`(?m)^\| direct \| ` + number + ` \| ` + number + ` \| - \| - \| 500/500 \|$`),
		"wasmgate": regexp.MustCompile(`(?m)^\| wasmgate \| ` + number + ` \| ` + number + ` \| ` + number + ` \| -?` + number + ` \| 500/500 \|$`),
	}
	for name, re := range rows {
		if !re.MatchString(text) {
			t.Errorf("no %s row with numbers in:\n%s\nstderr:\n%s", name, text, stderr.String())
		}
	}
	if !strings.Contains(text, "| wasmgate | direct |") {
		t.Errorf("no ratio of wasmgate to direct in:\n%s", text)
	}

	lines := strings.Split(strings.TrimSpace(text), "\n")
	last := lines[len(lines)-1]
	payload, ok := strings.CutPrefix(last, "RESULT ")
	if !ok {
		t.Fatalf("last line is not RESULT: %q", last)
	}
	var rep struct {
		Settings struct {
			Repeat    int `json:"repeat"`
			IdleConns int `json:"idle_conns"`
		} `json:"settings"`
		Targets []struct {
			Target string `json:"target"`
			Error  string `json:"error"`
			Points []struct {
				Point string `json:"point"`
				Runs  []struct {
					Result   map[string]any     `json:"result"`
					Measured map[string]float64 `json:"measured"`
					Error    string             `json:"error"`
				} `json:"runs"`
			} `json:"points"`
		} `json:"targets"`
	}
	if err := json.Unmarshal([]byte(payload), &rep); err != nil {
		t.Fatalf("RESULT does not parse: %v\n%s", err, payload)
	}
	if rep.Settings.Repeat != 1 || rep.Settings.IdleConns != 500 {
		t.Errorf("settings %+v, want -quick's repeat 1 and 500 idle connections", rep.Settings)
	}
	if len(rep.Targets) != 2 || rep.Targets[0].Target != "direct" || rep.Targets[1].Target != "wasmgate" {
		t.Fatalf("RESULT targets: %+v", rep.Targets)
	}
	for _, tr := range rep.Targets {
		if tr.Error != "" || len(tr.Points) != 2 {
			t.Errorf("%s: error %q, %d points", tr.Target, tr.Error, len(tr.Points))
			continue
		}
		for _, p := range tr.Points {
			if len(p.Runs) != 1 || p.Runs[0].Error != "" {
				t.Errorf("%s %s: runs %+v", tr.Target, p.Point, p.Runs)
				continue
			}
			run := p.Runs[0]
			if p.Point == pointTput128 && run.Result["messages"].(float64) <= 0 {
				t.Errorf("%s tput128: no messages: %v", tr.Target, run.Result)
			}
			if p.Point == pointIdle && run.Result["alive"].(float64) != 500 {
				t.Errorf("%s idle: %v", tr.Target, run.Result)
			}
			if tr.Target == "wasmgate" {
				key := measuredCPUNs
				if p.Point == pointIdle {
					key = measuredRSSAfter
				}
				if run.Measured[key] <= 0 {
					t.Errorf("wasmgate %s: measured %v, want %s", p.Point, run.Measured, key)
				}
			}
		}
	}

	written, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text, string(written)) || strings.Contains(string(written), "RESULT") {
		t.Errorf("-out file is not the markdown part of stdout:\n%s", written)
	}
}
