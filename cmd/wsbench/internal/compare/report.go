package compare

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// report is everything one comparison measured; its JSON is the RESULT
// line.
type report struct {
	Machine  machine         `json:"machine"`
	Settings settings        `json:"settings"`
	Targets  []*targetResult `json:"targets"`
}

// settings are the options a comparison ran with.
type settings struct {
	Targets    []string `json:"targets"`
	Points     []string `json:"points"`
	Repeat     int      `json:"repeat"`
	IdleRepeat int      `json:"idle_repeat"`
	DurationS  float64  `json:"duration_s"`
	WarmupS    float64  `json:"warmup_s"`
	IdleConns  int      `json:"idle_conns"`
	ProxyCPU   string   `json:"proxy_cpu"`
	LoadCPUs   string   `json:"load_cpus"`
	// Sandbox is the wasmgate filters' sandbox, "" for the
	// configuration's default.
	Sandbox string `json:"sandbox"`
}

func settingsOf(o *options) settings {
	return settings{
		Targets: o.targets, Points: o.points, Repeat: o.repeat, IdleRepeat: o.idleRepeat,
		DurationS: o.duration.Seconds(), WarmupS: o.warmup.Seconds(), IdleConns: o.idleConns,
		ProxyCPU: o.proxyCPU, LoadCPUs: o.loadCPUs, Sandbox: o.sandbox,
	}
}

// targetResult is what one target measured.
type targetResult struct {
	Name string `json:"target"`
	// Error says why the target could not start; it has no points then.
	Error  string         `json:"error,omitempty"`
	Points []*pointResult `json:"points,omitempty"`
}

// point returns the target's result for point name, nil if it did not
// run.
func (t *targetResult) point(name string) *pointResult {
	for _, p := range t.Points {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// failed reports whether the target measured nothing at all.
func (t *targetResult) failed() bool {
	if t.Error != "" {
		return true
	}
	for _, p := range t.Points {
		if p.failure() == "" {
			return false
		}
	}
	return true
}

// failure says why the target measured nothing, "" if it measured
// something.
func (t *targetResult) failure() string {
	if t.Error != "" {
		return t.Error
	}
	if !t.failed() {
		return ""
	}
	if len(t.Points) == 0 {
		return "nothing ran"
	}
	return t.Points[0].Name + ": " + t.Points[0].failure()
}

// pointResult is the runs of one point on one target.
type pointResult struct {
	Name string `json:"point"`
	// Error says why the point could not run at all.
	Error string       `json:"error,omitempty"`
	Runs  []*runResult `json:"runs,omitempty"`
}

// failure says why the point has no numbers: "" when at least one run
// counts.
func (p *pointResult) failure() string {
	if p.Error != "" {
		return p.Error
	}
	for _, r := range p.Runs {
		if r.Error == "" {
			return ""
		}
	}
	if len(p.Runs) == 0 {
		return "not run"
	}
	return p.Runs[0].Error
}

// median returns the median of metric over the runs that count and have
// it.
func (p *pointResult) median(metric string) (float64, bool) {
	if p == nil {
		return 0, false
	}
	var values []float64
	for _, r := range p.Runs {
		if r.Error != "" {
			continue
		}
		if v, ok := r.metrics[metric]; ok {
			values = append(values, v)
		}
	}
	return median(values)
}

// median returns the median of values: the middle one, or the mean of
// the two middle ones; false for none.
func median(values []float64) (float64, bool) {
	if len(values) == 0 {
		return 0, false
	}
	s := slices.Clone(values)
	slices.Sort(s)
	mid := len(s) / 2
	if len(s)%2 == 1 {
		return s[mid], true
	}
	return (s[mid-1] + s[mid]) / 2, true
}

// ratio returns a/b, false when b is not positive.
func ratio(a, b float64) (float64, bool) {
	if b <= 0 {
		return 0, false
	}
	return a / b, true
}

// noValue fills a cell that has no number: a metric that does not apply
// (the direct target has no proxy to measure) or could not be measured.
const noValue = "-"

// column is one column of the medians table.
type column struct {
	point, title string
	// cell renders the column's value from the point's runs.
	cell func(p *pointResult) string
}

// metricCell renders the median of metric with format.
func metricCell(metric, format string) func(p *pointResult) string {
	return func(p *pointResult) string {
		v, ok := p.median(metric)
		if !ok {
			return noValue
		}
		return fmt.Sprintf(format, v)
	}
}

// aliveCell renders the idle point's alive/opened connections.
func aliveCell(p *pointResult) string {
	alive, ok1 := p.median("alive")
	opened, ok2 := p.median("opened")
	if !ok1 || !ok2 {
		return noValue
	}
	return fmt.Sprintf("%.0f/%.0f", alive, opened)
}

var medianColumns = []column{
	{pointTput128, "128 B msgs/s", metricCell("msgs_per_s", "%.0f")},
	{pointTput128, "128 B MB/s", metricCell("mb_per_s", "%.1f")},
	{pointTput128, "128 B CPU µs/msg", metricCell(measuredCPUPerMsg, "%.2f")},
	{pointTput4K, "4 KiB msgs/s", metricCell("msgs_per_s", "%.0f")},
	{pointTput4K, "4 KiB MB/s", metricCell("mb_per_s", "%.1f")},
	{pointTput4K, "4 KiB CPU µs/msg", metricCell(measuredCPUPerMsg, "%.2f")},
	{pointPingPong, "ping-pong p50 µs", metricCell("p50_us", "%.1f")},
	{pointPingPong, "ping-pong p99 µs", metricCell("p99_us", "%.1f")},
	{pointConnRate, "handshakes/s", metricCell("handshakes_per_s", "%.0f")},
	{pointIdle, "KiB/idle conn", metricCell(measuredKiBPerConn, "%.1f")},
	{pointIdle, "idle alive/opened", aliveCell},
}

// ratioColumn is one column of the ratios table: the same metric of a
// target and of a base, divided.
type ratioColumn struct {
	point, title, metric string
}

var ratioColumns = []ratioColumn{
	{pointTput128, "msgs/s 128 B", "msgs_per_s"},
	{pointTput128, "CPU/msg 128 B", measuredCPUPerMsg},
	{pointTput4K, "msgs/s 4 KiB", "msgs_per_s"},
	{pointTput4K, "CPU/msg 4 KiB", measuredCPUPerMsg},
	{pointPingPong, "p50", "p50_us"},
	{pointPingPong, "p99", "p99_us"},
	{pointConnRate, "handshakes/s", "handshakes_per_s"},
	{pointIdle, "KiB/idle conn", measuredKiBPerConn},
}

// table is a markdown table.
type table struct {
	header []string
	rows   [][]string
}

// String renders the table in markdown, cells escaped.
func (t table) String() string {
	var b strings.Builder
	writeRow := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" ")
			b.WriteString(escapeCell(c))
			b.WriteString(" |")
		}
		b.WriteString("\n")
	}
	writeRow(t.header)
	b.WriteString("|")
	for range t.header {
		b.WriteString(" --- |")
	}
	b.WriteString("\n")
	for _, row := range t.rows {
		writeRow(row)
	}
	return b.String()
}

// maxCell bounds a cell's text: a failure's reason can be long, its
// start says enough; the RESULT line has it whole.
const maxCell = 100

// escapeCell makes s safe inside a markdown table cell.
func escapeCell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = shorten(s, maxCell)
	return strings.ReplaceAll(s, "|", `\|`)
}

// shorten cuts s to at most n bytes, on a character boundary, marking
// the cut.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// failedCell is the text of a cell that stands for a failure.
func failedCell(why string) string { return "failed: " + why }

// mediansTable is the first table: one row per target, the medians of
// the points that ran.
func (rep *report) mediansTable() table {
	var cols []column
	for _, c := range medianColumns {
		if slices.Contains(rep.Settings.Points, c.point) {
			cols = append(cols, c)
		}
	}
	t := table{header: []string{"target"}}
	for _, c := range cols {
		t.header = append(t.header, c.title)
	}
	for _, tr := range rep.Targets {
		row := []string{tr.Name}
		if tr.Error != "" {
			row = append(row, failedCell(tr.Error))
			for i := 1; i < len(cols); i++ {
				row = append(row, "")
			}
			t.rows = append(t.rows, row)
			continue
		}
		for i, c := range cols {
			p := tr.point(c.point)
			switch {
			case p == nil:
				row = append(row, noValue)
			case p.failure() != "":
				// The reason once, in the point's first column.
				if i == 0 || cols[i-1].point != c.point {
					row = append(row, failedCell(p.failure()))
				} else {
					row = append(row, "")
				}
			default:
				row = append(row, c.cell(p))
			}
		}
		t.rows = append(t.rows, row)
	}
	return t
}

// ratioBases are the targets the others are compared to.
var ratioBases = []string{targetDirect, targetNginx}

// ratiosTable is the second table: each target's medians divided by
// direct's and by nginx's.
func (rep *report) ratiosTable() (table, bool) {
	var cols []ratioColumn
	for _, c := range ratioColumns {
		if slices.Contains(rep.Settings.Points, c.point) {
			cols = append(cols, c)
		}
	}
	t := table{header: []string{"target", "vs"}}
	for _, c := range cols {
		t.header = append(t.header, c.title)
	}
	for _, baseName := range ratioBases {
		base := rep.target(baseName)
		if base == nil {
			continue
		}
		for _, tr := range rep.Targets {
			if tr == base {
				continue
			}
			row := []string{tr.Name, baseName}
			for _, c := range cols {
				v, ok1 := tr.point(c.point).median(c.metric)
				b, ok2 := base.point(c.point).median(c.metric)
				r, ok3 := ratio(v, b)
				if ok1 && ok2 && ok3 {
					row = append(row, fmt.Sprintf("%.2f", r))
				} else {
					row = append(row, noValue)
				}
			}
			t.rows = append(t.rows, row)
		}
	}
	return t, len(t.rows) > 0
}

// target returns the result of target name, nil if it did not run.
func (rep *report) target(name string) *targetResult {
	for _, t := range rep.Targets {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// markdown renders the machine, the settings, both tables and the notes.
func (rep *report) markdown() string {
	var b strings.Builder
	m, s := rep.Machine, rep.Settings
	b.WriteString("## wsbench compare\n\n")
	fmt.Fprintf(&b, "- date: %s\n", m.Date)
	fmt.Fprintf(&b, "- machine: %s, %d cores, Linux %s, %s\n", m.CPU, m.Cores, m.Kernel, m.Go)
	fmt.Fprintf(&b, "- nginx %s, HAProxy %s, Caddy %s", m.Nginx, m.HAProxy, m.Caddy)
	if m.Wasmgate != "" {
		fmt.Fprintf(&b, ", %s", m.Wasmgate)
	}
	b.WriteString("\n")
	sandbox := "the configuration's default"
	if s.Sandbox != "" {
		sandbox = s.Sandbox
	}
	fmt.Fprintf(&b, "- proxy on CPU %s; load generator and echo backend on CPU %s; medians of %d run(s) of %gs after %gs of warmup (idle: %d run(s) of %d connections); wasmgate filters' sandbox: %s\n",
		s.ProxyCPU, s.LoadCPUs, s.Repeat, s.DurationS, s.WarmupS, s.IdleRepeat, s.IdleConns, sandbox)
	b.WriteString("- throughput: 50 connections, 16 messages in flight each, text; CPU µs/msg is the proxy's CPU time (all its processes and threads) per echoed message; ping-pong: 1 connection, 64 B; handshakes/s: 50 connections; KiB/idle conn: growth of the proxy's resident memory per open idle connection\n\n")
	b.WriteString(rep.mediansTable().String())
	if t, ok := rep.ratiosTable(); ok {
		b.WriteString("\nRatios of each target's median to direct's and to nginx's (msgs/s and handshakes/s: higher is better; CPU, latency and memory: lower is better):\n\n")
		b.WriteString(t.String())
	}
	if notes := rep.notes(); len(notes) > 0 {
		b.WriteString("\nNotes:\n\n")
		for _, n := range notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

// notes lists what went wrong in runs, in order.
func (rep *report) notes() []string {
	var notes []string
	for _, t := range rep.Targets {
		for _, p := range t.Points {
			for i, r := range p.Runs {
				where := fmt.Sprintf("%s %s run %d", t.Name, p.Name, i+1)
				if r.Error != "" && p.failure() == "" {
					notes = append(notes, where+" failed: "+r.Error)
				}
				for _, n := range r.Notes {
					notes = append(notes, where+": "+n)
				}
			}
		}
	}
	return notes
}

// resultLine is the RESULT line: every raw number, for archiving.
func (rep *report) resultLine() (string, error) {
	data, err := json.Marshal(rep)
	if err != nil {
		return "", fmt.Errorf("encode RESULT: %w", err)
	}
	return "RESULT " + string(data), nil
}

// verdict is the run's error: the direct baseline failed, or every
// target did; nil otherwise.
func (rep *report) verdict() error {
	if d := rep.target(targetDirect); d != nil && d.failed() {
		return fmt.Errorf("compare: the direct baseline failed: %s", d.failure())
	}
	for _, t := range rep.Targets {
		if !t.failed() {
			return nil
		}
	}
	return errors.New("compare: every target failed")
}
