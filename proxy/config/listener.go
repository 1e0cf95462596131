package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

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

	var ranges []hcl.Range
	for _, t := range b.TLS {
		ranges = append(ranges, t.DefRange)
	}
	l.checkOnce("tls", "in a listener", ranges)
	if len(b.TLS) > 0 {
		lis.TLS = l.serverTLS(b.TLS[0], baseDir)
		if lis.TLS != nil {
			t := b.TLS[0]
			lis.CertFile = resolvePath(baseDir, *t.CertFile)
			lis.KeyFile = resolvePath(baseDir, *t.KeyFile)
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

// serverTLS checks the tls block of a listener and loads its certificate.
func (l *loader) serverTLS(b *listenerTLSBody, baseDir string) *tls.Config {
	const (
		certAllowed = "cert_file names a PEM file with the listener's certificate, " +
			"followed by any intermediate certificates; a relative path is relative " +
			"to the configuration's directory."
		keyAllowed = "key_file names a PEM file with the private key of the " +
			"certificate (PKCS #1, PKCS #8 or SEC 1 EC); a relative path is " +
			"relative to the configuration's directory."
	)
	certPath := l.requiredPath(b.CertFile, b.CertFileRange, b.DefRange, "cert_file", certAllowed, baseDir)
	keyPath := l.requiredPath(b.KeyFile, b.KeyFileRange, b.DefRange, "key_file", keyAllowed, baseDir)
	if certPath == "" || keyPath == "" {
		return nil
	}
	certPEM, err := readFile(certPath)
	if err != nil {
		l.errorf(b.CertFileRange, "Cannot read certificate", "%s. %s", err, certAllowed)
	}
	keyPEM, err := readFile(keyPath)
	if err != nil {
		l.errorf(b.KeyFileRange, "Cannot read private key", "%s. %s", err, keyAllowed)
	}
	if certPEM == nil || keyPEM == nil {
		return nil
	}
	leaf, err := firstCertificate(certPEM)
	if err != nil {
		l.errorf(b.CertFileRange, "Invalid certificate", "%s holds no usable certificate: %s. %s", certPath, err, certAllowed)
		return nil
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		l.errorf(b.KeyFileRange, "Invalid private key",
			"%s holds no private key that matches the certificate in %s: %s. %s",
			keyPath, certPath, strings.TrimPrefix(err.Error(), "tls: "), keyAllowed)
		return nil
	}
	if now := time.Now(); now.After(leaf.NotAfter) {
		l.warnf(b.CertFileRange, "Certificate expired",
			"The certificate in %s expired on %s: clients will refuse it. Renew it.",
			certPath, leaf.NotAfter.UTC().Format(time.DateOnly))
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}
}

// requiredPath checks a file attribute that must be set, and resolves it.
// It returns "" after reporting a problem.
func (l *loader) requiredPath(v *string, rng, blockRange hcl.Range, name, allowed, baseDir string) string {
	switch {
	case l.failed(rng):
		return ""
	case v == nil:
		l.errorf(blockRange, "Missing "+name, "This tls block has no %s. %s", name, allowed)
		return ""
	case *v == "":
		l.errorf(rng, "Empty "+name, "%s is empty. %s", name, allowed)
		return ""
	}
	return resolvePath(baseDir, *v)
}

// firstCertificate parses the first certificate of a PEM file.
func firstCertificate(data []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no CERTIFICATE PEM block")
		}
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
	}
}
