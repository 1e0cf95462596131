package wasmgate

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// appendList appends items to b as a NUL-separated list.
func appendList(b []byte, items ...string) []byte {
	for _, s := range items {
		b = append(b, s...)
		b = append(b, 0)
	}
	return b
}

func TestSplitList(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"\x00", []string{""}},
		{"chat.v2\x00chat.v1\x00", []string{"chat.v2", "chat.v1"}},
		{"a\x00\x00b\x00", []string{"a", "", "b"}},
		{"one\x00", []string{"one"}},
		// Lenient: bytes after the last NUL are one more item.
		{"a\x00tail", []string{"a", "tail"}},
		{"tail", []string{"tail"}},
	} {
		got := splitList([]byte(tt.in))
		if !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("splitList(%q) = %q, want %q", tt.in, got, tt.want)
		}
		first, ok := firstItem([]byte(tt.in))
		if ok != (len(tt.want) > 0) || (ok && first != tt.want[0]) {
			t.Errorf("firstItem(%q) = %q, %v", tt.in, first, ok)
		}
	}
}

func TestParseHeaderList(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []Header
	}{
		{"", nil},
		{"cookie\x00a=1\x00origin\x00https://x\x00", []Header{{"cookie", "a=1"}, {"origin", "https://x"}}},
		{"x-empty\x00\x00", []Header{{"x-empty", ""}}},
		{"x-multi\x00a\x00x-multi\x00b\x00", []Header{{"x-multi", "a"}, {"x-multi", "b"}}},
		// Lenient: a name without a value gets the empty value.
		{"a\x001\x00b\x00", []Header{{"a", "1"}, {"b", ""}}},
		{"a", []Header{{"a", ""}}},
	} {
		got := parseHeaderList([]byte(tt.in))
		if !slices.Equal(got, tt.want) {
			t.Errorf("parseHeaderList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzHeaderList checks that the list parsers never panic, and that a
// list made of items without NUL parses back to them.
func FuzzHeaderList(f *testing.F) {
	f.Add([]byte("cookie\x00a=1\x00origin\x00https://x\x00"))
	f.Add([]byte("a\x00\x00b"))
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		items := splitList(b)
		headers := parseHeaderList(b)
		if len(headers) != (len(items)+1)/2 {
			t.Fatalf("%q: %d items but %d headers", b, len(items), len(headers))
		}
		// Every item is a piece of the input, and the input is the items
		// with their NULs (the last one possibly missing).
		again := appendList(nil, items...)
		if !bytes.Equal(again, b) && !bytes.Equal(again, append(slices.Clip(b), 0)) {
			t.Fatalf("%q: items %q make %q", b, items, again)
		}
		// Round trip from headers without NUL.
		var pairs []string
		for _, h := range headers {
			pairs = append(pairs, strings.ReplaceAll(h.Name, "\x00", ""), strings.ReplaceAll(h.Value, "\x00", ""))
		}
		back := parseHeaderList(appendList(nil, pairs...))
		for i, h := range back {
			if h.Name != pairs[2*i] || h.Value != pairs[2*i+1] {
				t.Fatalf("round trip of %q gave %q", pairs, back)
			}
		}
		if len(back) != len(headers) {
			t.Fatalf("round trip of %q gave %d headers, want %d", pairs, len(back), len(headers))
		}
	})
}
