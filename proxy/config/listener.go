package config

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// listenAddr is a listener's address, normalized to find overlaps.
type listenAddr struct {
	host     string // canonical IP, lower-cased name, or "" for every interface
	port     string
	listener *Listener
}

// addListener checks a listener block and adds it to the configuration.
func (l *loader) addListener(b *listenerBody, baseDir string) {
	lis := &Listener{Name: b.Name, DeclRange: b.DefRange}
	var first *hcl.Range
	if prev, ok := l.listenerAt[b.Name]; ok {
		first = &prev.DeclRange
	} else {
		l.listenerAt[b.Name] = lis
	}
	l.checkName("listener", blockHeader{b.Name, b.NameRange, b.DefRange}, first)
	l.listeners = append(l.listeners, lis)

	switch {
	case l.failed(b.AddressRange):
	case b.Address == nil:
		l.errorf(b.DefRange, "Missing listener address",
			`Listener %q has no address. Add one as "host:port", e.g. `+
				`address = "127.0.0.1:8080".`, b.Name)
	default:
		if a, ok := l.checkListenAddress(*b.Address, b.AddressRange, "listener"); ok {
			lis.Address = *b.Address
			a.listener = lis
			l.checkAddressOverlap(a, b.AddressRange)
			l.listenAddrs = append(l.listenAddrs, a)
		}
	}

	if b.ReusePort != nil {
		lis.ReusePort = *b.ReusePort
	}
	if b.Console != nil {
		lis.Console = *b.Console
	}

	var ranges []hcl.Range
	for _, t := range b.TLS {
		ranges = append(ranges, t.DefRange)
	}
	l.checkOnce("tls", "in a listener", ranges)
	if len(b.TLS) > 0 {
		var files tlsFiles
		lis.TLS, files = l.serverTLS(b.TLS[0], baseDir)
		if lis.TLS != nil {
			lis.CertFile, lis.KeyFile, lis.ClientCAFile = files.cert, files.key, files.ca
		}
	}
}

// checkListenAddress checks the address of a listener, or of the admin
// listener: kind names which in the diagnostics.
func (l *loader) checkListenAddress(addr string, rng hcl.Range, kind string) (listenAddr, bool) {
	const allowed = `An address is "host:port", e.g. "127.0.0.1:8080", "[::1]:8443", ` +
		`or ":8080" for every interface; the port is a number from 0 to ` +
		`65535, where 0 picks a free port.`
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		reason := err.Error()
		if errors.As(err, &ae) {
			reason = ae.Err
		}
		l.errorf(rng, "Invalid "+kind+" address", "%q is not host:port: %s. %s", addr, reason, allowed)
		return listenAddr{}, false
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || port != strconv.FormatUint(n, 10) {
		l.errorf(rng, "Invalid "+kind+" address", "The port %q of %q is not a number from 0 to 65535. %s", port, addr, allowed)
		return listenAddr{}, false
	}
	a := listenAddr{port: port}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.IsUnspecified() && ip.Is6() {
			// "[::]:80" listens on every interface, IPv4 included, as ":80".
			a.host = ""
		} else {
			a.host = ip.Unmap().String()
		}
	} else if host != "" {
		if reason := checkHostname(host); reason != "" {
			l.errorf(rng, "Invalid "+kind+" address", "The host %q of %q is not an IP address or a host name: %s. %s", host, addr, reason, allowed)
			return listenAddr{}, false
		}
		a.host = strings.ToLower(host)
	}
	return a, true
}

// checkAddressOverlap reports a listener address that another listener
// already uses. Port 0 never overlaps: each listener gets its own port.
func (l *loader) checkAddressOverlap(a listenAddr, rng hcl.Range) {
	if a.port == "0" {
		return
	}
	for _, prev := range l.listenAddrs {
		if prev.port != a.port || !hostsOverlap(prev.host, a.host) {
			continue
		}
		l.errorf(rng, "Listener address already in use",
			"Listener %q would listen on %q, which overlaps the address %q of "+
				"listener %q, declared at %s: both cannot be bound. Give each "+
				"listener its own port, or distinct IP addresses.",
			a.listener.Name, a.listener.Address, prev.listener.Address,
			prev.listener.Name, at(prev.listener.DeclRange))
		return
	}
}

// hostsOverlap reports whether listening on the same port on both hosts
// conflicts: the same host, or a wildcard that covers the other.
func hostsOverlap(a, b string) bool {
	if a == b || a == "" || b == "" {
		return true
	}
	ipv4 := func(s string) bool {
		ip, err := netip.ParseAddr(s)
		return err == nil && ip.Is4()
	}
	return a == "0.0.0.0" && ipv4(b) || b == "0.0.0.0" && ipv4(a)
}
