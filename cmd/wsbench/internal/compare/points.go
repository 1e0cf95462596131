package compare

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// pointInfo describes how a point is judged and summarized.
type pointInfo struct {
	// count is the RESULT field that must be above zero for a run to
	// count: nothing measured otherwise.
	count string
	// problems are RESULT fields that should be zero; a run where one is
	// not gets a note under the table.
	problems []string
}

var pointInfos = map[string]pointInfo{
	pointTput128:  {count: "messages", problems: []string{"errors", "bad_timestamps"}},
	pointTput4K:   {count: "messages", problems: []string{"errors", "bad_timestamps"}},
	pointPingPong: {count: "rtts", problems: []string{"errors"}},
	pointConnRate: {count: "handshakes", problems: []string{"failures"}},
	pointIdle:     {count: "opened", problems: []string{"failed", "dropped"}},
}

// Fields compare adds to a run's numbers (runResult.Measured).
const (
	measuredCPUNs      = "proxy_cpu_ns"
	measuredCPUPerMsg  = "cpu_us_per_msg"
	measuredRSSBefore  = "rss_before_kib"
	measuredRSSAfter   = "rss_after_kib"
	measuredKiBPerConn = "kib_per_conn"
)

// runPoint runs one point through url, repeated, and gathers its runs.
func (r *runner) runPoint(ctx context.Context, target, point, url string, p *proxy) *pointResult {
	res := &pointResult{Name: point}
	repeat := r.opts.repeat
	if point == pointIdle {
		repeat = r.opts.idleRepeat
	}
	for i := range repeat {
		if ctx.Err() != nil {
			break
		}
		var run *runResult
		switch point {
		case pointTput128:
			run = r.throughput(ctx, target, url, 128, p)
		case pointTput4K:
			run = r.throughput(ctx, target, url, 4096, p)
		case pointPingPong:
			run = r.pingPong(ctx, target, url, p)
		case pointConnRate:
			run = r.runLoad(ctx, load{name: target + " " + point, args: []string{
				"connrate", "-url", url, "-c", "50",
				"-duration", r.opts.duration.String(), "-warmup", r.opts.warmup.String(),
			}, timeout: r.loadTimeout()})
		case pointIdle:
			run = r.idle(ctx, target, url, p)
		}
		run.check(pointInfos[point])
		res.Runs = append(res.Runs, run)
		r.progress("%s: %s run %d/%d: %s", target, point, i+1, repeat, run.summary(point))
		if run.Error != "" && p != nil {
			// The proxy's side of the story.
			if tail := p.proc.logTail(10); tail != "" {
				r.progress("%s: its log ends with:\n%s", target, indent(tail))
			}
		}
	}
	return res
}

// loadTimeout bounds a timed load run: its warmup and duration, plus
// time to connect and to close.
func (r *runner) loadTimeout() time.Duration {
	return r.opts.warmup + r.opts.duration + 60*time.Second
}

// throughput runs `wsbench throughput` with size-byte messages and, when
// there is a proxy, measures its CPU time between the MEASURE lines.
func (r *runner) throughput(ctx context.Context, target, url string, size int, p *proxy) *runResult {
	args := []string{
		"throughput", "-url", url, "-c", "50", "-window", "16", "-size", strconv.Itoa(size),
		"-duration", r.opts.duration.String(), "-warmup", r.opts.warmup.String(),
	}
	if target == targetWasmgateRedact {
		// Every message then holds an address to mask: the filter
		// rewrites each one.
		args = append(args, "-payload", "redactable")
	}
	// Written by the line reader, read once the lines are done.
	var (
		before, after    cpuSample
		sawStart, sawEnd bool
		sampleErr        error
	)
	l := load{name: fmt.Sprintf("%s tput%d", target, size), args: args, timeout: r.loadTimeout()}
	if p != nil {
		pid := p.proc.pid()
		l.onLine = func(line string) {
			var err error
			switch line {
			case "MEASURE start":
				before, err = proc.treeCPU(pid)
				sawStart = true
			case "MEASURE end":
				after, err = proc.treeCPU(pid)
				sawEnd = true
			}
			if err != nil && sampleErr == nil {
				sampleErr = err
			}
		}
	}
	run := r.runLoad(ctx, l)
	if p == nil || run.Error != "" {
		return run
	}
	switch {
	case sampleErr != nil:
		run.note("proxy CPU not measured: %v", sampleErr)
	case !sawStart || !sawEnd:
		run.note("proxy CPU not measured: no MEASURE start and end lines")
	default:
		ns := cpuNs(before, after)
		run.measure(measuredCPUNs, float64(ns))
		if msgs := run.metrics["messages"]; msgs > 0 {
			run.measure(measuredCPUPerMsg, float64(ns)/1e3/msgs)
		}
	}
	return run
}

// idleSettle is how long the proxy is left alone holding the idle
// connections before its memory is read.
const idleSettle = 2 * time.Second

// idle runs `wsbench idle`: the proxy's memory is read before it opens
// its connections and again once they are open and have settled; then
// the connections are released and checked.
func (r *runner) idle(ctx context.Context, target, url string, p *proxy) *runResult {
	n := r.opts.idleConns
	args := []string{
		"idle", "-url", url, "-n", strconv.Itoa(n), "-procs", "auto",
		// Each source address then carries at most 10,000 connections to
		// the proxy's one address, well within its ~28,000 ports.
		"-sources", strconv.Itoa(ceilDiv(n, 10000)),
	}
	var rssBefore int64
	if p != nil {
		var err error
		if rssBefore, err = proc.treeRSS(p.proc.pid()); err != nil {
			return &runResult{Error: fmt.Sprintf("read the proxy's memory: %v", err)}
		}
	}
	ready := make(chan string, 1)
	var rssAfter int64
	var rssErr error
	l := load{
		name: target + " idle", args: args, stdin: true,
		// Opening is paced at 5,000 connections/s by default.
		timeout: time.Duration(n/1000)*time.Second + idleSettle + 90*time.Second,
		onLine: func(line string) {
			if strings.HasPrefix(line, "READY") {
				select {
				case ready <- line:
				default:
				}
			}
		},
		during: func(c *child) error {
			openTimeout := time.Duration(n/1000)*time.Second + 30*time.Second
			select {
			case <-ready:
			case <-c.done:
				return nil // runLoad reports the exit
			case <-time.After(openTimeout):
				return fmt.Errorf("no READY within %v", openTimeout)
			case <-ctx.Done():
				return errStopped
			}
			select {
			case <-time.After(idleSettle):
			case <-ctx.Done():
				return errStopped
			}
			if p != nil {
				rssAfter, rssErr = proc.treeRSS(p.proc.pid())
			}
			c.release()
			return nil
		},
	}
	run := r.runLoad(ctx, l)
	if p == nil || run.Error != "" {
		return run
	}
	if rssErr != nil {
		run.note("proxy memory not measured: %v", rssErr)
		return run
	}
	run.measure(measuredRSSBefore, float64(rssBefore))
	run.measure(measuredRSSAfter, float64(rssAfter))
	if opened := run.metrics["opened"]; opened > 0 {
		run.measure(measuredKiBPerConn, float64(rssAfter-rssBefore)/opened)
	}
	return run
}

// load is one run of a wsbench load command.
type load struct {
	// name names the run in errors.
	name string
	// args are wsbench's subcommand and flags.
	args []string
	// timeout bounds the whole run; the command is stopped after it.
	timeout time.Duration
	// stdin gives the command a stdin that during can release.
	stdin bool
	// onLine, when set, sees each stdout line as it comes, from the line
	// reader's goroutine.
	onLine func(line string)
	// during, when set, runs once the command has started, before
	// waiting for its end; an error stops the command and fails the run.
	during func(c *child) error
}

// runLoad runs l pinned to the load CPUs and returns its RESULT.
func (r *runner) runLoad(ctx context.Context, l load) *runResult {
	var result string // written by the line reader, read after linesDone
	c, err := startChild(childSpec{
		name: "wsbench " + l.args[0], argv: append([]string{r.wsbench}, l.args...),
		cpus: r.opts.loadCPUs, logPath: r.logPath(strings.ReplaceAll(l.name, " ", "-")),
		stdin: l.stdin,
		onLine: func(line string) {
			if rest, ok := strings.CutPrefix(line, "RESULT "); ok {
				result = rest
			}
			if l.onLine != nil {
				l.onLine(line)
			}
		},
	})
	if err != nil {
		return &runResult{Error: err.Error()}
	}
	timeout := time.NewTimer(l.timeout)
	defer timeout.Stop()
	if l.during != nil {
		if err := l.during(c); err != nil {
			c.stop()
			return &runResult{Error: err.Error()}
		}
	}
	select {
	case <-c.done:
	case <-timeout.C:
		c.stop()
		return &runResult{Error: fmt.Sprintf("did not finish within %v; %s", l.timeout, lastLine(c.logTail(5)))}
	case <-ctx.Done():
		c.stop()
		return &runResult{Error: errStopped.Error()}
	}
	select {
	case <-c.linesDone:
	case <-time.After(stopGrace):
		// A child of the command still holds its stdout open.
		return &runResult{Error: "its output did not end after it exited"}
	}
	exitErr := c.exitErr()
	if result == "" {
		why := "no RESULT line"
		if exitErr != nil {
			why += "; " + exitErr.Error()
		}
		if tail := lastLine(c.logTail(5)); tail != "" {
			why += ": " + tail
		}
		return &runResult{Error: why}
	}
	run, err := parseRun(result)
	if err != nil {
		return &runResult{Error: err.Error()}
	}
	if exitErr != nil {
		run.note("%v", exitErr)
	}
	return run
}

// runResult is one run of a point.
type runResult struct {
	// Result is wsbench's RESULT object, as it printed it.
	Result json.RawMessage `json:"result,omitempty"`
	// Measured are compare's own numbers: the proxy's CPU time and
	// memory (the measured* names).
	Measured map[string]float64 `json:"measured,omitempty"`
	// Error says why the run failed; its numbers are not used.
	Error string `json:"error,omitempty"`
	// Notes are what went wrong in a run that still counts.
	Notes []string `json:"notes,omitempty"`

	// metrics are the numbers of Result and Measured together.
	metrics map[string]float64
	// texts are the strings of Result (first_error...).
	texts map[string]string
}

// parseRun parses the JSON of a RESULT line.
func parseRun(line string) (*runResult, error) {
	var fields map[string]any
	if err := json.Unmarshal([]byte(line), &fields); err != nil {
		return nil, fmt.Errorf("RESULT line: %w", err)
	}
	run := &runResult{Result: json.RawMessage(line), metrics: map[string]float64{}, texts: map[string]string{}}
	for k, v := range fields {
		switch v := v.(type) {
		case float64:
			run.metrics[k] = v
		case string:
			run.texts[k] = v
		}
	}
	return run, nil
}

// measure records one of compare's own numbers.
func (run *runResult) measure(name string, v float64) {
	if run.Measured == nil {
		run.Measured = map[string]float64{}
	}
	run.Measured[name] = v
	if run.metrics == nil {
		run.metrics = map[string]float64{}
	}
	run.metrics[name] = v
}

// note records something that went wrong in a run that still counts.
func (run *runResult) note(format string, args ...any) {
	run.Notes = append(run.Notes, fmt.Sprintf(format, args...))
}

// check fails a run that measured nothing, and notes its problem
// counters.
func (run *runResult) check(info pointInfo) {
	if run.Error != "" {
		return
	}
	for _, name := range info.problems {
		if v := run.metrics[name]; v > 0 {
			msg := fmt.Sprintf("%s=%g", name, v)
			if first := run.texts["first_error"]; first != "" {
				msg += " (first: " + first + ")"
			}
			run.note("%s", msg)
		}
	}
	if run.metrics[info.count] <= 0 {
		why := "no " + info.count
		if first := run.texts["first_error"]; first != "" {
			why += ": " + first
		} else if len(run.Notes) > 0 {
			why += ": " + strings.Join(run.Notes, "; ")
		}
		run.Error = why
	}
}

// summary is a run's one-line progress report.
func (run *runResult) summary(point string) string {
	if run.Error != "" {
		return "failed: " + run.Error
	}
	m := run.metrics
	var parts []string
	add := func(format, name string) {
		if v, ok := m[name]; ok {
			parts = append(parts, fmt.Sprintf(format, v))
		}
	}
	switch point {
	case pointTput128, pointTput4K:
		add("%.0f msgs/s", "msgs_per_s")
		add("%.1f MB/s", "mb_per_s")
		add("proxy CPU %.2f µs/msg", measuredCPUPerMsg)
		add("p50 %.0f µs", "p50_us")
	case pointPingPong:
		add("p50 %.1f µs", "p50_us")
		add("p99 %.1f µs", "p99_us")
	case pointConnRate:
		add("%.0f handshakes/s", "handshakes_per_s")
	case pointIdle:
		add("opened %.0f", "opened")
		add("alive %.0f", "alive")
		add("%.1f KiB/conn", measuredKiBPerConn)
	}
	for _, n := range run.Notes {
		parts = append(parts, "("+n+")")
	}
	return strings.Join(parts, ", ")
}

// pingPong measures round trips with every process on the same core: the
// proxy joins the load generator and the echo backend for this point. One
// message at a time leaves a core idle between hops, and waking a process on
// another core costs a virtual machine tens of microseconds that then
// swamp what the proxies themselves add.
func (r *runner) pingPong(ctx context.Context, target, url string, p *proxy) *runResult {
	if p != nil {
		if err := pinTree(p.proc.pid(), r.opts.loadCPUs); err != nil {
			return &runResult{Error: fmt.Sprintf("pin the proxy to CPUs %s: %v", r.opts.loadCPUs, err)}
		}
		defer pinTree(p.proc.pid(), r.opts.proxyCPU) //nolint:errcheck // a failure shows in the next point's numbers
	}
	return r.runLoad(ctx, load{name: target + " " + pointPingPong, args: []string{
		"pingpong", "-url", url, "-size", "64",
		"-duration", r.opts.duration.String(), "-warmup", r.opts.warmup.String(),
	}, timeout: r.loadTimeout()})
}

// pinTree moves every thread of every process in root's tree to cpus.
func pinTree(root int, cpus string) error {
	pids, err := proc.tree(root)
	if err != nil {
		return err
	}
	for _, pid := range pids {
		out, err := exec.Command("taskset", "-a", "-p", "-c", cpus, strconv.Itoa(pid)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("taskset -a -p -c %s %d: %v: %s", cpus, pid, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}
