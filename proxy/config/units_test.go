package config

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int64
		wantErr string // substring of the error; "" for success
	}{
		{name: "bare number is bytes", in: "4096", want: 4096},
		{name: "zero", in: "0", want: 0},
		{name: "bytes", in: "100B", want: 100},
		{name: "kilobytes", in: "2KB", want: 2000},
		{name: "megabytes", in: "3MB", want: 3_000_000},
		{name: "gigabytes", in: "1GB", want: 1_000_000_000},
		{name: "kibibytes", in: "512KiB", want: 512 << 10},
		{name: "mebibytes", in: "16MiB", want: 16 << 20},
		{name: "gibibytes", in: "2GiB", want: 2 << 30},
		{name: "one space before the unit", in: "1 MiB", want: 1 << 20},
		{name: "leading zeros", in: "007B", want: 7},
		{name: "largest", in: "9223372036854775807", want: math.MaxInt64},
		{name: "largest with unit", in: "8589934591GiB", want: 8589934591 << 30},

		{name: "empty", in: "", wantErr: "empty"},
		{name: "negative", in: "-1MiB", wantErr: "negative"},
		{name: "fraction", in: "1.5MiB", wantErr: "fractions are not allowed"},
		{name: "unit alone", in: "MiB", wantErr: "does not start with a number"},
		{name: "lower-case unit", in: "1mib", wantErr: `unknown unit "mib"`},
		{name: "unknown unit", in: "1TB", wantErr: `unknown unit "TB"`},
		{name: "two spaces", in: "1  MiB", wantErr: "unknown unit"},
		{name: "leading space", in: " 1MiB", wantErr: "does not start with a number"},
		{name: "trailing space", in: "1MiB ", wantErr: "unknown unit"},
		{name: "plus sign", in: "+1", wantErr: "does not start with a number"},
		{name: "overflow", in: "9223372036854775808", wantErr: "too large"},
		{name: "overflow with unit", in: "8589934592GiB", wantErr: "too large"},
		{name: "garbage after the unit", in: "1MiBx", wantErr: "unknown unit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSize(%q) = %d, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "config: invalid size ") {
					t.Errorf("error %q lacks the package prefix", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    time.Duration
		wantErr string
	}{
		{name: "zero", in: "0", want: 0},
		{name: "seconds", in: "30s", want: 30 * time.Second},
		{name: "combined", in: "1m30s", want: 90 * time.Second},
		{name: "milliseconds", in: "250ms", want: 250 * time.Millisecond},
		{name: "hours", in: "2h", want: 2 * time.Hour},
		{name: "fraction", in: "1.5s", want: 1500 * time.Millisecond},

		{name: "empty", in: "", wantErr: "empty"},
		{name: "negative", in: "-1s", wantErr: "negative durations are not allowed"},
		{name: "negative without unit", in: "-1", wantErr: "negative durations are not allowed"},
		{name: "missing unit", in: "30", wantErr: "missing unit"},
		{name: "unknown unit", in: "5d", wantErr: `unknown unit "d"`},
		{name: "words", in: "5 minutes", wantErr: "unknown unit"},
		{name: "garbage", in: "soon", wantErr: "invalid syntax"},
		{name: "overflow", in: "3000000h", wantErr: "invalid syntax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseDuration(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "config: invalid duration ") {
					t.Errorf("error %q lacks the package prefix", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "1MiB", "512 KiB", "1.5MiB", "-1", "9223372036854775807", "8589934592GiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("ParseSize(%q) = %d, a negative size", s, n)
		}
		// Every accepted size is a whole number of bytes, and its bare
		// decimal form parses back to it.
		back, err := ParseSize(strconv.FormatInt(n, 10))
		if err != nil || back != n {
			t.Fatalf("ParseSize(%q) = %d, but its decimal form gives %d, %v", s, n, back, err)
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"0", "30s", "1m30s", "-1s", "1.5h", "5 minutes"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, a negative duration", s, d)
		}
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v, but its String form gives %v, %v", s, d, back, err)
		}
	})
}
