package config

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// FuzzParse checks that no source, however broken, makes Parse panic, and
// that whatever Parse accepts is fully resolved.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"example.hcl", "diagnostics/typos.hcl", "diagnostics/structure.hcl", "diagnostics/plugins.hcl", "effective/config.hcl"} {
		src, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add([]byte(lines(okListener, okUpstream, okRoute)))
	f.Add([]byte(lines(okListener, okUpstream, okPlugin, `route "r" {`, `  upstream = "u"`, `  filters  = ["auth"]`, `}`)))
	// Relative paths resolve against a directory that holds nothing but
	// the modules of writeTestPlugins.
	dir := f.TempDir()
	writeTestPlugins(f, dir)
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, diags := Parse(src, "fuzz.hcl", dir)
		if cfg == nil {
			t.Fatal("Parse returned a nil Config")
		}
		if err := cfg.WriteDiagnostics(io.Discard, diags); err != nil {
			t.Fatalf("WriteDiagnostics: %v", err)
		}
		for _, d := range diags {
			if d.Subject == nil {
				t.Errorf("diagnostic without a subject: %v", d)
			}
		}
		if diags.HasErrors() {
			if cfg.Listeners != nil || cfg.Upstreams != nil || cfg.Routes != nil || cfg.Plugins != nil {
				t.Fatal("a failed Parse returned more than Files")
			}
			return
		}
		if len(cfg.Listeners) == 0 || len(cfg.Routes) == 0 {
			t.Fatalf("accepted a config with %d listeners and %d routes", len(cfg.Listeners), len(cfg.Routes))
		}
		for _, u := range cfg.Upstreams {
			if len(u.Servers) == 0 {
				t.Fatalf("accepted upstream %q without servers", u.Name)
			}
		}
		for _, r := range cfg.Routes {
			if r.Listener == nil || r.Upstream == nil {
				t.Fatalf("route %q is not resolved", r.Name)
			}
			if (r.Path == "") == (r.ExactPath == "") {
				t.Fatalf("route %q: path %q, exact_path %q", r.Name, r.Path, r.ExactPath)
			}
			l := r.Limits
			for _, s := range []struct {
				side           string
				frame, message int64
			}{
				{"either", l.MaxFrameSize, l.MaxMessageSize},
				{"client", l.ClientMaxFrameSize, l.ClientMaxMessageSize},
				{"upstream", l.UpstreamMaxFrameSize, l.UpstreamMaxMessageSize},
			} {
				if s.frame <= 0 || s.frame > s.message {
					t.Fatalf("route %q, %s side: frame size %d, message size %d", r.Name, s.side, s.frame, s.message)
				}
			}
			if err := checkCaps(r.Limits); err != "" {
				t.Fatalf("route %q: %s", r.Name, err)
			}
			for _, p := range r.Filters {
				if !slices.Contains(cfg.Plugins, p) {
					t.Fatalf("route %q: filter %q is not among the plugins", r.Name, p.Name)
				}
			}
		}
		if err := checkCaps(cfg.Limits); err != "" {
			t.Fatalf("global limits: %s", err)
		}
		for _, p := range cfg.Plugins {
			switch {
			case len(p.Wasm) == 0 || p.Info == nil:
				t.Fatalf("plugin %q: no module", p.Name)
			case !json.Valid(p.Config):
				t.Fatalf("plugin %q: config %q is not JSON", p.Name, p.Config)
			case p.Instances < 1 || p.Instances > 1024:
				t.Fatalf("plugin %q: %d instances", p.Name, p.Instances)
			case p.MemoryLimit < 64<<10 || p.MemoryLimit > 4<<30 || p.MemoryLimit%(64<<10) != 0:
				t.Fatalf("plugin %q: memory limit %d", p.Name, p.MemoryLimit)
			case p.Timeout <= 0 || p.Timeout > 10*time.Second:
				t.Fatalf("plugin %q: timeout %v", p.Name, p.Timeout)
			case !validName(p.KVNamespace):
				t.Fatalf("plugin %q: kv namespace %q", p.Name, p.KVNamespace)
			}
		}
		if js, err := cfg.EffectiveJSON(); err != nil || !json.Valid(js) {
			t.Fatalf("EffectiveJSON = %s, %v", js, err)
		}
	})
}

// checkCaps describes what is wrong with the connection caps and the
// message rate of accepted limits, or returns "".
func checkCaps(l Limits) string {
	switch {
	case l.MaxConnections < 0 || l.MaxConnectionsPerIP < 0:
		return fmt.Sprintf("connection caps %d, %d", l.MaxConnections, l.MaxConnectionsPerIP)
	case l.MaxMessageRate < 0 || l.MaxMessageRate > 1e9:
		return fmt.Sprintf("message rate %v", l.MaxMessageRate)
	case (l.MaxMessageRate > 0) != (l.MessageBurst >= 1) || l.MessageBurst < 0:
		return fmt.Sprintf("message rate %v with burst %d", l.MaxMessageRate, l.MessageBurst)
	}
	return ""
}
