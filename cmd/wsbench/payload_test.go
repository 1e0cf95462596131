package main

import (
	"bytes"
	"math"
	"testing"
	"unicode/utf8"
)

func TestTimestamp_RoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		ns   int64
		want string
	}{
		{"zero", 0, "aaaaaaaaaaaaaaaa"},
		{"one", 1, "aaaaaaaaaaaaaaab"},
		{"fifteen", 15, "aaaaaaaaaaaaaaap"},
		{"sixteen", 16, "aaaaaaaaaaaaaaba"},
		{"one second", 1e9, "aaaaaaaadljkmkaa"}, // 0x3b9aca00,
		{"max", math.MaxInt64, "hppppppppppppppp"},
		{"negative", -1, "pppppppppppppppp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := make([]byte, timestampSize+3)
			copy(b[timestampSize:], "xyz")
			putTimestamp(b, tc.ns)
			if got := string(b[:timestampSize]); got != tc.want {
				t.Errorf("putTimestamp(%d) = %q, want %q", tc.ns, got, tc.want)
			}
			if string(b[timestampSize:]) != "xyz" {
				t.Errorf("putTimestamp wrote past the timestamp: %q", b)
			}
			got, ok := parseTimestamp(b)
			if !ok || got != tc.ns {
				t.Errorf("parseTimestamp(%q) = %d, %v; want %d, true", b, got, ok, tc.ns)
			}
		})
	}
}

func TestParseTimestamp_Rejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"short", "aaaaaaaaaaaaaaa"},
		{"letter past p", "aaaaaaaaaaaaaaaq"},
		{"digit", "aaaaaaa0aaaaaaaa"},
		{"uppercase", "Aaaaaaaaaaaaaaaa"},
		{"masked local part", "***aaaaaaaaaaaaa"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if ns, ok := parseTimestamp([]byte(tc.in)); ok {
				t.Errorf("parseTimestamp(%q) = %d, true; want false", tc.in, ns)
			}
		})
	}
}

func FuzzTimestamp(f *testing.F) {
	for _, ns := range []int64{0, 1, 1e9, math.MaxInt64, math.MinInt64, -1} {
		f.Add(ns)
	}
	f.Fuzz(func(t *testing.T, ns int64) {
		b := make([]byte, timestampSize)
		putTimestamp(b, ns)
		if !utf8.Valid(b) || bytes.ContainsAny(b, "0123456789@") {
			t.Fatalf("timestamp %q is not digit-free UTF-8 text", b)
		}
		got, ok := parseTimestamp(b)
		if !ok || got != ns {
			t.Fatalf("round trip of %d gave %d, %v", ns, got, ok)
		}
	})
}

func TestNewPayload(t *testing.T) {
	for _, tc := range []struct {
		name      string
		size      int
		kind      payloadKind
		wantEmail bool
	}{
		{"plain minimum", 16, payloadPlain, false},
		{"plain 128", 128, payloadPlain, false},
		{"plain 4096", 4096, payloadPlain, false},
		{"redactable too small for the address", 63, payloadRedactable, false},
		{"redactable 64", 64, payloadRedactable, true},
		{"redactable 128", 128, payloadRedactable, true},
		{"redactable 65536", 65536, payloadRedactable, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := newPayload(tc.size, tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			if len(p) != tc.size {
				t.Errorf("size %d, want %d", len(p), tc.size)
			}
			if !utf8.Valid(p) {
				t.Errorf("payload is not valid UTF-8")
			}
			if bytes.ContainsAny(p, "0123456789") {
				t.Errorf("payload holds a digit, which a redacting filter would rewrite: %q", p)
			}
			if _, ok := parseTimestamp(p); !ok {
				t.Errorf("payload starts with no timestamp: %q", p[:timestampSize])
			}
			wantAt := 0
			if tc.wantEmail {
				wantAt = 1
				if want := " " + redactableAddress; !bytes.HasPrefix(p[timestampSize:], []byte(want)) {
					t.Errorf("the address does not follow the timestamp: %q", p[:min(len(p), 64)])
				}
			}
			if n := bytes.Count(p, []byte("@")); n != wantAt {
				t.Errorf("%d '@' in the payload, want %d", n, wantAt)
			}
		})
	}
}

func TestNewPayload_TooSmall(t *testing.T) {
	if _, err := newPayload(timestampSize-1, payloadPlain); err == nil {
		t.Error("newPayload(15) succeeded; want an error: no room for the timestamp")
	}
}

func TestPayloadKind_Set(t *testing.T) {
	var k payloadKind
	for _, v := range []string{"plain", "redactable"} {
		if err := k.Set(v); err != nil || string(k) != v {
			t.Errorf("Set(%q) = %v, kind %q", v, err, k)
		}
	}
	if err := k.Set("json"); err == nil {
		t.Error(`Set("json") succeeded; want an error`)
	}
}
