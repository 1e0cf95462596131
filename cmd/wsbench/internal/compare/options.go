package compare

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Targets, in the order they run by default.
const (
	targetDirect         = "direct"
	targetNginx          = "nginx"
	targetHAProxy        = "haproxy"
	targetCaddy          = "caddy"
	targetWasmgate       = "wasmgate"
	targetWasmgateNoop   = "wasmgate-noop"
	targetWasmgateRedact = "wasmgate-redact"
)

var allTargets = []string{
	targetDirect, targetNginx, targetHAProxy, targetCaddy,
	targetWasmgate, targetWasmgateNoop, targetWasmgateRedact,
}

// Points, the measurements.
const (
	pointTput128  = "tput128"
	pointTput4K   = "tput4k"
	pointPingPong = "pingpong"
	pointConnRate = "connrate"
	pointIdle     = "idle"
)

var allPoints = []string{pointTput128, pointTput4K, pointPingPong, pointConnRate, pointIdle}

// options are compare's settings, from its flags.
type options struct {
	targets []string
	points  []string
	repeat  int
	// idleRepeat is how often the idle point runs: once, unless -repeat
	// was given.
	idleRepeat int
	duration   time.Duration
	warmup     time.Duration
	idleConns  int
	// wasmgate is the proxy binary; "" builds it from the module.
	wasmgate string
	// wsbench runs the load and the echo backend; "" is this program.
	wsbench  string
	proxyCPU string
	loadCPUs string
	// sandbox is the wasmgate filters' sandbox attribute; "" leaves it
	// out.
	sandbox string
	out     string
}

// cpuList matches a taskset CPU list: 0, 1-3, 0,2-3.
var cpuList = regexp.MustCompile(`^\d+(-\d+)?(,\d+(-\d+)?)*$`)

const usage = `Usage: wsbench compare [flags]

Compare runs the same WebSocket load through nginx, HAProxy, Caddy and
wasmgate (without a filter, with a no-op Wasm filter and with the redact
filter), each in turn, pinned to its own CPU, in front of one echo
backend (for ping-pong the proxy moves to the load CPUs: latency on one
core), and prints a markdown table of the medians, a table of ratios
to direct and to nginx, and a RESULT line with every raw number.

Flags:
`

// parseOptions parses compare's command line. Usage and flag errors go to
// stderr; -h returns flag.ErrHelp.
func parseOptions(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("wsbench compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	o := &options{}
	targets := fs.String("targets", strings.Join(allTargets, ","), "comma-separated `list` of targets to run, in this order")
	points := fs.String("points", strings.Join(allPoints, ","), "comma-separated `list` of measurements")
	fs.IntVar(&o.repeat, "repeat", 3, "runs of each measurement; the table shows medians. The idle point runs once unless -repeat is given")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "measured time of each run")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured time before each run's measured time")
	fs.IntVar(&o.idleConns, "idle-conns", 5000, "connections the idle point opens")
	quick := fs.Bool("quick", false, "a smoke test: -repeat 1 -duration 1s -idle-conns 500, unless given")
	fs.StringVar(&o.wasmgate, "wasmgate", "", "wasmgate `binary` (default: go build ./cmd/wasmgate from the module this runs in)")
	fs.StringVar(&o.wsbench, "wsbench", "", "wsbench `binary` that runs the load and the echo backend (default: this program)")
	fs.StringVar(&o.proxyCPU, "proxy-cpu", "0", "taskset CPU `list` of the proxy under test")
	fs.StringVar(&o.loadCPUs, "load-cpus", "1", "taskset CPU `list` of the load generator and the echo backend")
	fs.StringVar(&o.sandbox, "sandbox", "", "wasmgate filters' sandbox: checked or plain (default: the configuration's default)")
	fs.StringVar(&o.out, "out", "", "also write the markdown tables to this `file`")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if *quick {
		if !given["repeat"] {
			o.repeat = 1
		}
		if !given["duration"] {
			o.duration = time.Second
		}
		if !given["idle-conns"] {
			o.idleConns = 500
		}
	}
	o.idleRepeat = 1
	if given["repeat"] {
		o.idleRepeat = o.repeat
	}
	var err error
	if o.targets, err = parseList("target", *targets, allTargets); err != nil {
		return nil, err
	}
	if o.points, err = parseList("point", *points, allPoints); err != nil {
		return nil, err
	}
	switch {
	case o.repeat < 1:
		return nil, fmt.Errorf("-repeat %d: at least 1", o.repeat)
	case o.duration <= 0:
		return nil, fmt.Errorf("-duration %v: must be positive", o.duration)
	case o.warmup < 0:
		return nil, fmt.Errorf("-warmup %v: must not be negative", o.warmup)
	case o.idleConns < 1:
		return nil, fmt.Errorf("-idle-conns %d: at least 1", o.idleConns)
	case !cpuList.MatchString(o.proxyCPU):
		return nil, fmt.Errorf("-proxy-cpu %q: not a CPU list like 0 or 0,2-3", o.proxyCPU)
	case !cpuList.MatchString(o.loadCPUs):
		return nil, fmt.Errorf("-load-cpus %q: not a CPU list like 1 or 1-3", o.loadCPUs)
	case o.sandbox != "" && o.sandbox != "checked" && o.sandbox != "plain":
		return nil, fmt.Errorf("-sandbox %q: checked or plain", o.sandbox)
	}
	return o, nil
}

// parseList parses a comma-separated list of names, each one of known,
// kept in the order given, without repeats.
func parseList(what, s string, known []string) ([]string, error) {
	var list []string
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("unknown %s %q; known: %s", what, name, strings.Join(known, ", "))
		}
		if !slices.Contains(list, name) {
			list = append(list, name)
		}
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("no %s given; known: %s", what, strings.Join(known, ", "))
	}
	return list, nil
}

// errHelp reports whether err is the -h request, which is not a failure.
func errHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }
