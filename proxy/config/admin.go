package config

import (
	"net/netip"

	"github.com/hashicorp/hcl/v2"
)

// pendingAdmin is an admin block waiting for every file to be read: only
// then is it known whether it is the only one, and whether its address
// overlaps a listener's.
type pendingAdmin struct {
	admin     *Admin
	addr      listenAddr // valid when ok
	ok        bool
	addrRange hcl.Range
}

// addAdmin checks an admin block on its own.
func (l *loader) addAdmin(b *adminBody) {
	p := pendingAdmin{admin: &Admin{DeclRange: b.DefRange}, addrRange: b.AddressRange}
	if b.Pprof != nil {
		p.admin.Pprof = *b.Pprof
	}
	switch {
	case l.failed(b.AddressRange):
	case b.Address == nil:
		l.errorf(b.DefRange, "Missing admin address",
			`The admin block has no address. Add one as "host:port", e.g. `+
				`address = "127.0.0.1:9901"; leave the admin block out to `+
				`turn the admin listener off.`)
	default:
		if a, ok := l.checkListenAddress(*b.Address, b.AddressRange, "admin"); ok {
			p.admin.Address = *b.Address
			p.addr, p.ok = a, true
			l.warnExposedAdmin(a, *b.Address, b.AddressRange)
		}
	}
	l.admins = append(l.admins, p)
}

// warnExposedAdmin warns when the admin listener is reachable from other
// hosts: it has no authentication, and it can reload the configuration.
func (l *loader) warnExposedAdmin(a listenAddr, addr string, rng hcl.Range) {
	var reach string
	switch ip, err := netip.ParseAddr(a.host); {
	case a.host == "", err == nil && ip.IsUnspecified():
		reach = "listens on every interface"
	case a.host == "localhost":
		return
	case err != nil:
		reach = "listens on the addresses of the host name " + a.host +
			", which need not be loopback addresses"
	case ip.IsLoopback():
		return
	default:
		reach = "listens on " + a.host + ", which is not a loopback address"
	}
	l.warnf(rng, "Admin listener reachable from other hosts",
		"The admin listener at %q %s. It has no authentication: whoever "+
			"reaches it can read the configuration, the metrics and the open "+
			"connections, and reload the configuration. Listen on loopback, "+
			`e.g. address = "127.0.0.1:9901", and reach it from elsewhere `+
			"through an SSH tunnel or a proxy that authenticates.", addr, reach)
}

// finishAdmin reports every admin block after the first, and an admin
// address that overlaps a listener's, and returns the admin block or nil.
func (l *loader) finishAdmin() *Admin {
	if len(l.admins) == 0 {
		return nil
	}
	ranges := make([]hcl.Range, len(l.admins))
	for i, p := range l.admins {
		ranges[i] = p.admin.DeclRange
	}
	l.checkOnce("admin", "in a configuration, across all its files", ranges)

	p := l.admins[0]
	if !p.ok || p.addr.port == "0" { // port 0 never overlaps
		return p.admin
	}
	for _, prev := range l.listenAddrs {
		if prev.port != p.addr.port || !hostsOverlap(prev.host, p.addr.host) {
			continue
		}
		l.errorf(p.addrRange, "Admin address already in use",
			"The admin listener would listen on %q, which overlaps the address "+
				"%q of listener %q, declared at %s: both cannot be bound. Give "+
				`the admin listener a port of its own, e.g. address = "127.0.0.1:9901".`,
			p.admin.Address, prev.listener.Address, prev.listener.Name,
			at(prev.listener.DeclRange))
		break
	}
	return p.admin
}
