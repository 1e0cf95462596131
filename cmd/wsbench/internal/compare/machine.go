package compare

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// machine describes where the comparison ran.
type machine struct {
	Date     string `json:"date"`
	CPU      string `json:"cpu"`
	Cores    int    `json:"cores"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
	Nginx    string `json:"nginx"`
	HAProxy  string `json:"haproxy"`
	Caddy    string `json:"caddy"`
	Wasmgate string `json:"wasmgate,omitempty"`
}

// notInstalled is the version of a program that is not there.
const notInstalled = "not installed"

// machine gathers the machine's description and the programs' versions.
// The wasmgate binary is built here when a wasmgate target will run, so
// that a failed build shows before anything starts.
func (r *runner) machine(ctx context.Context) machine {
	m := machine{
		Date:   time.Now().UTC().Format(time.RFC3339),
		Cores:  runtime.NumCPU(),
		Kernel: "unknown",
		Go:     runtime.Version(),
	}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPU, m.Cores = parseCPUInfo(string(data))
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	m.Nginx = version(ctx, "nginx", "-v")
	m.Nginx = strings.TrimPrefix(m.Nginx, "nginx version: ")
	m.HAProxy = version(ctx, "haproxy", "-v")
	if f := strings.Fields(m.HAProxy); len(f) >= 3 && f[0] == "HAProxy" && f[1] == "version" {
		m.HAProxy = f[2]
	}
	m.Caddy = version(ctx, "caddy", "version")
	if slices.ContainsFunc(r.opts.targets, func(t string) bool { return strings.HasPrefix(t, targetWasmgate) }) {
		if bin, err := r.wasmgateBinary(ctx); err != nil {
			m.Wasmgate = "failed to build: " + err.Error()
		} else {
			m.Wasmgate = version(ctx, bin, "version")
		}
	}
	return m
}

// parseCPUInfo returns the CPU model and the number of processors listed
// in the content of /proc/cpuinfo.
func parseCPUInfo(cpuinfo string) (model string, processors int) {
	model = "unknown"
	for line := range strings.Lines(cpuinfo) {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "processor":
			processors++
		case "model name":
			if model == "unknown" {
				model = strings.TrimSpace(value)
			}
		}
	}
	if processors == 0 {
		processors = runtime.NumCPU()
	}
	return model, processors
}

// version runs a program's version command and returns the first line
// of what it printed.
func version(ctx context.Context, program string, args ...string) string {
	if _, err := exec.LookPath(program); err != nil {
		return notInstalled
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, program, args...).CombinedOutput()
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if err != nil && first == "" {
		return "unknown (" + err.Error() + ")"
	}
	return strings.TrimSpace(first)
}
