package config

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// addUpstream checks an upstream block and adds it to the configuration.
func (l *loader) addUpstream(b *upstreamBody, baseDir string) {
	up := &Upstream{
		Name:             b.Name,
		ConnectTimeout:   defaultConnectTimeout,
		HandshakeTimeout: defaultHandshakeTimeout,
		DeclRange:        b.DefRange,
	}
	var first *hcl.Range
	if prev, ok := l.upstreamAt[b.Name]; ok {
		first = &prev.DeclRange
	} else {
		l.upstreamAt[b.Name] = up
	}
	l.checkName("upstream", blockHeader{b.Name, b.NameRange, b.DefRange}, first)
	l.upstreams = append(l.upstreams, up)

	const serversAllowed = `servers lists one or more ws:// or wss:// URLs, ` +
		`e.g. servers = ["ws://127.0.0.1:9000"].`
	anyWSS := false
	switch {
	case l.failed(b.ServersRange):
	case !present(b.ServersRange):
		l.errorf(b.DefRange, "Upstream has no servers", "Upstream %q has no servers attribute. %s", b.Name, serversAllowed)
	case len(b.Servers) == 0:
		l.errorf(b.ServersRange, "Upstream has no servers", "The servers list of upstream %q is empty. %s", b.Name, serversAllowed)
	}
	for i, s := range b.Servers {
		u, reason := parseServerURL(s)
		if reason != "" {
			l.errorf(elemRange(b.Body, "servers", i, b.ServersRange), "Invalid server URL",
				"%q %s. A server is a ws:// or wss:// URL with a host and an optional "+
					`port and path, e.g. "ws://127.0.0.1:9000" or "wss://chat.internal/socket".`,
				s, reason)
			continue
		}
		anyWSS = anyWSS || u.Scheme == "wss"
		up.Servers = append(up.Servers, u)
	}

	if d, ok := l.duration(b.ConnectTimeout, b.ConnectTimeoutRange, "connect_timeout", false); ok {
		up.ConnectTimeout = d
	}
	if d, ok := l.duration(b.HandshakeTimeout, b.HandshakeTimeoutRange, "handshake_timeout", false); ok {
		up.HandshakeTimeout = d
	}

	var ranges []hcl.Range
	for _, t := range b.TLS {
		ranges = append(ranges, t.DefRange)
	}
	l.checkOnce("tls", "in an upstream", ranges)
	var tb *upstreamTLSBody
	if len(b.TLS) > 0 {
		tb = b.TLS[0]
		if !anyWSS && len(up.Servers) == len(b.Servers) && len(b.Servers) > 0 {
			l.warnf(tb.DefRange, "TLS settings unused",
				"Upstream %q has no wss:// server, so its tls block has no effect. "+
					"Use wss:// server URLs, or remove the tls block.", b.Name)
		}
	}
	if cfg, files := l.clientTLS(tb, b.Name, baseDir); anyWSS {
		up.TLS = cfg
		up.CAFile, up.CertFile, up.KeyFile = files.ca, files.cert, files.key
	}
}

// parseServerURL parses a server URL, returning why it is not one.
func parseServerURL(s string) (*url.URL, string) {
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, "is not a URL: " + err.Error()
	}
	switch {
	case u.Scheme == "http" || u.Scheme == "https":
		return nil, "has the scheme " + u.Scheme + "://; upstreams are dialed as WebSocket servers: " +
			"use ws:// for http:// and wss:// for https://"
	case u.Scheme != "ws" && u.Scheme != "wss":
		if u.Scheme == "" {
			return nil, "has no scheme"
		}
		return nil, "has the scheme " + u.Scheme + "://, which is neither ws:// nor wss://"
	case u.Opaque != "" || u.Hostname() == "":
		return nil, "has no host"
	case u.User != nil:
		return nil, "holds user info; credentials in server URLs are not supported"
	case strings.Contains(s, "#"):
		return nil, "has a fragment; WebSocket URLs have none (RFC 6455, section 3)"
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return nil, "has the port " + strconv.Quote(p) + ", which is not a number from 1 to 65535"
		}
	}
	return u, ""
}

// duration parses the value of a duration attribute. ok is false when the
// attribute is absent or its value was reported as wrong.
func (l *loader) duration(v *string, rng hcl.Range, name string, zeroDisables bool) (d time.Duration, ok bool) {
	if v == nil || l.failed(rng) {
		return 0, false
	}
	d, reason := parseDuration(*v)
	if reason != "" {
		l.errorf(rng, "Invalid duration", "%s = %q is not a duration: %s. %s", name, *v, reason, durationSyntax)
		return 0, false
	}
	if d == 0 && !zeroDisables {
		l.errorf(rng, "Invalid duration", "%s must be greater than 0: a zero timeout "+
			"would fail every connection, and there is no setting for no timeout. "+
			`Give a duration such as "10s".`, name)
		return 0, false
	}
	return d, true
}
