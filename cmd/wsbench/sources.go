package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
)

// sourceList is the source addresses that connections bind, round robin.
// Each (source, destination) pair has its own ~28,000 ephemeral ports, so
// spreading connections over loopback sources (the whole of 127.0.0.0/8 is
// local on Linux) lifts that ceiling. An empty list lets the kernel choose.
type sourceList []netip.Addr

// maxSources bounds a -sources SPEC, so that a typo cannot make a list of
// millions of addresses.
const maxSources = 1 << 16

// firstCountedSource is where a -sources count starts: 127.0.0.1 is the
// kernel's default source, 127.0.0.2 onwards are spare.
var firstCountedSource = netip.AddrFrom4([4]byte{127, 0, 0, 2})

// parseSources parses a -sources SPEC: "" (the kernel chooses), a count N
// (127.0.0.2 .. 127.0.0.N+1), or a comma-separated list of IPs and ranges
// "FIRST-LAST" (inclusive, one address family).
func parseSources(spec string) (sourceList, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, nil
	}
	if n, err := strconv.Atoi(spec); err == nil {
		if n < 1 || n > maxSources {
			return nil, fmt.Errorf("sources %q: a count must be 1 to %d", spec, maxSources)
		}
		return addrRange(firstCountedSource, n), nil
	}
	var list sourceList
	for elem := range strings.SplitSeq(spec, ",") {
		elem = strings.TrimSpace(elem)
		if elem == "" {
			return nil, fmt.Errorf("sources %q: empty element", spec)
		}
		firstText, lastText, isRange := strings.Cut(elem, "-")
		first, err := netip.ParseAddr(strings.TrimSpace(firstText))
		if err != nil {
			return nil, fmt.Errorf("sources %q: %w", spec, err)
		}
		if !isRange {
			list = append(list, first)
		} else {
			last, err := netip.ParseAddr(strings.TrimSpace(lastText))
			if err != nil {
				return nil, fmt.Errorf("sources %q: %w", spec, err)
			}
			if first.Is4() != last.Is4() {
				return nil, fmt.Errorf("sources %q: range %s mixes IPv4 and IPv6", spec, elem)
			}
			if last.Less(first) {
				return nil, fmt.Errorf("sources %q: range %s ends before it starts", spec, elem)
			}
			for a := first; len(list) <= maxSources; a = a.Next() {
				list = append(list, a)
				if a == last {
					break
				}
			}
		}
		if len(list) > maxSources {
			return nil, fmt.Errorf("sources %q: more than %d addresses", spec, maxSources)
		}
	}
	return list, nil
}

// addrRange returns n consecutive addresses from first.
func addrRange(first netip.Addr, n int) sourceList {
	list := make(sourceList, 0, n)
	for a := first; len(list) < n; a = a.Next() {
		list = append(list, a)
	}
	return list
}

// String returns the list in the syntax parseSources reads, ranges
// collapsed, for a child process's command line.
func (s sourceList) String() string {
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j].Next() == s[j+1] {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i].String())
		if j > i {
			b.WriteByte('-')
			b.WriteString(s[j].String())
		}
		i = j + 1
	}
	return b.String()
}

// defaultSources is the list for n connections when -sources is not
// given: none (the kernel's choice) up to perSource connections, else
// enough counted loopback sources that none carries more than perSource.
func defaultSources(n, perSource int) sourceList {
	if n <= perSource {
		return nil
	}
	return addrRange(firstCountedSource, (n+perSource-1)/perSource)
}

// sourceDialer dials TCP from the sources in turn.
type sourceDialer struct {
	dialers []net.Dialer
	next    atomic.Uint64
}

// newSourceDialer returns a dialer over the sources, or nil for an empty
// list (codec.Dialer then dials as usual).
func newSourceDialer(sources sourceList) *sourceDialer {
	if len(sources) == 0 {
		return nil
	}
	d := &sourceDialer{dialers: make([]net.Dialer, len(sources))}
	for i, a := range sources {
		d.dialers[i].LocalAddr = &net.TCPAddr{IP: a.AsSlice()}
	}
	return d
}

// DialContext has net.Dialer.DialContext's signature, for
// codec.Dialer.NetDial.
func (d *sourceDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	i := d.next.Add(1) - 1
	nd := &d.dialers[i%uint64(len(d.dialers))]
	nc, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("from %v: %w", nd.LocalAddr, err)
	}
	return nc, nil
}

// netDial returns the codec.Dialer.NetDial for the sources, or nil.
func (s sourceList) netDial() func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := newSourceDialer(s)
	if d == nil {
		return nil
	}
	return d.DialContext
}
