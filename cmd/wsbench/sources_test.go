package main

import (
	"net/netip"
	"slices"
	"testing"
)

func addrs(ss ...string) sourceList {
	list := make(sourceList, len(ss))
	for i, s := range ss {
		list[i] = netip.MustParseAddr(s)
	}
	return list
}

func TestParseSources(t *testing.T) {
	for _, tc := range []struct {
		name    string
		spec    string
		want    sourceList
		wantErr bool
	}{
		{name: "empty", spec: "", want: nil},
		{name: "blank", spec: "  ", want: nil},
		{name: "count", spec: "3", want: addrs("127.0.0.2", "127.0.0.3", "127.0.0.4")},
		{name: "count 8", spec: "8", want: addrs("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8", "127.0.0.9")},
		{name: "one IP", spec: "127.0.0.5", want: addrs("127.0.0.5")},
		{name: "list", spec: "127.0.0.5, 127.0.0.9", want: addrs("127.0.0.5", "127.0.0.9")},
		{name: "range", spec: "127.0.0.2-127.0.0.4", want: addrs("127.0.0.2", "127.0.0.3", "127.0.0.4")},
		{name: "range across an octet", spec: "127.0.0.255-127.0.1.1", want: addrs("127.0.0.255", "127.0.1.0", "127.0.1.1")},
		{name: "one-address range", spec: "127.0.0.7-127.0.0.7", want: addrs("127.0.0.7")},
		{name: "range and IP", spec: "127.0.0.2-127.0.0.3,127.0.1.1", want: addrs("127.0.0.2", "127.0.0.3", "127.0.1.1")},
		{name: "IPv6", spec: "::1", want: addrs("::1")},
		{name: "zero count", spec: "0", wantErr: true},
		{name: "negative count", spec: "-3", wantErr: true},
		{name: "huge count", spec: "100000", wantErr: true},
		{name: "bad IP", spec: "127.0.0.300", wantErr: true},
		{name: "host name", spec: "localhost", wantErr: true},
		{name: "empty element", spec: "127.0.0.2,,127.0.0.3", wantErr: true},
		{name: "trailing comma", spec: "127.0.0.2,", wantErr: true},
		{name: "count in a list", spec: "127.0.0.2,8", wantErr: true},
		{name: "reversed range", spec: "127.0.0.9-127.0.0.2", wantErr: true},
		{name: "open range", spec: "127.0.0.2-", wantErr: true},
		{name: "mixed families", spec: "127.0.0.1-::1", wantErr: true},
		{name: "range too large", spec: "10.0.0.0-10.255.255.255", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSources(tc.spec)
			if tc.wantErr {
				if err == nil {
					t.Errorf("parseSources(%q) = %v; want an error", tc.spec, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseSources(%q): %v", tc.spec, err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("parseSources(%q) = %v, want %v", tc.spec, got, tc.want)
			}
		})
	}
}

func TestSourceList_String(t *testing.T) {
	for _, tc := range []struct {
		name string
		list sourceList
		want string
	}{
		{"empty", nil, ""},
		{"one", addrs("127.0.0.2"), "127.0.0.2"},
		{"a range", addrs("127.0.0.2", "127.0.0.3", "127.0.0.4"), "127.0.0.2-127.0.0.4"},
		{"ranges and singles", addrs("127.0.0.2", "127.0.0.3", "127.0.0.9", "127.0.1.1", "127.0.1.2"), "127.0.0.2-127.0.0.3,127.0.0.9,127.0.1.1-127.0.1.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.list.String()
			if got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
			back, err := parseSources(got)
			if err != nil || !slices.Equal(back, tc.list) {
				t.Errorf("parseSources(%q) = %v, %v; want %v", got, back, err, tc.list)
			}
		})
	}
}

func TestDefaultSources(t *testing.T) {
	for _, tc := range []struct {
		n, want int
	}{
		{1, 0}, {20000, 0}, {20001, 2}, {40000, 2}, {100000, 5},
	} {
		if got := len(defaultSources(tc.n, connsPerSource)); got != tc.want {
			t.Errorf("defaultSources(%d) has %d sources, want %d", tc.n, got, tc.want)
		}
	}
}
