package config

import (
	"testing"
)

func TestParse_compression(t *testing.T) {
	route := func(attrs ...string) string {
		src := `route "r" {` + "\n" + `  upstream = "u"` + "\n"
		for _, a := range attrs {
			src += "  " + a + "\n"
		}
		return lines(okListener, okUpstream) + src + "}\n"
	}
	tests := []struct {
		name  string
		src   string
		want  *Compression
		diags []wantDiag
	}{
		{name: "off by default", src: route(), want: nil},
		{name: "on, with the defaults", src: route(`compression = true`),
			want: &Compression{Threshold: 128, WindowBits: 15}},
		{name: "every setting", src: route(`compression = true`, `compression_threshold = "1KiB"`,
			`compression_window_bits = 10`, `compression_context_takeover = true`),
			want: &Compression{Threshold: 1024, WindowBits: 10, ContextTakeover: true}},
		{name: "threshold 0 compresses everything", src: route(`compression = true`, `compression_threshold = "0"`),
			want: &Compression{Threshold: 0, WindowBits: 15}},
		{name: "off, with a setting", src: route(`compression = false`, `compression_window_bits = 9`),
			diags: []wantDiag{{warning: true, summary: "Compression settings unused", at: "3:1",
				detail: []string{`Route "r" sets compression_window_bits but not compression = true`}}}},
		{name: "window too small", src: route(`compression = true`, `compression_window_bits = 7`),
			diags: []wantDiag{{summary: "Invalid compression_window_bits", at: "6:29",
				detail: []string{"= 7 is not a window size", "from 8 to 15"}}}},
		{name: "window too large", src: route(`compression = true`, `compression_window_bits = 16`),
			diags: []wantDiag{{summary: "Invalid compression_window_bits", at: "6:29"}}},
		{name: "window not whole", src: route(`compression = true`, `compression_window_bits = 9.5`),
			diags: []wantDiag{{summary: "Invalid compression_window_bits", at: "6:29", detail: []string{"9.5"}}}},
		{name: "threshold not a size", src: route(`compression = true`, `compression_threshold = "lots"`),
			diags: []wantDiag{{summary: "Invalid size", at: "6:27", detail: []string{`compression_threshold = "lots"`}}}},
		{name: "compression not a bool", src: route(`compression = "yes"`),
			diags: []wantDiag{{summary: "Unsuitable value type", at: "5:18", detail: []string{"true or false"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := Parse([]byte(tt.src), "test.hcl", t.TempDir())
			checkDiags(t, diags, tt.diags)
			if diags.HasErrors() {
				return
			}
			got := cfg.Routes[0].Compression
			switch {
			case got == nil && tt.want == nil:
			case got == nil || tt.want == nil || *got != *tt.want:
				t.Errorf("Compression = %+v, want %+v", got, tt.want)
			}
		})
	}
}
