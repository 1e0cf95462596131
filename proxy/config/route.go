package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// resolveRoute checks a route block and resolves its references.
func (l *loader) resolveRoute(p pendingRoute, global Limits, explicit explicitLimits) *Route {
	b := p.body
	r := &Route{Name: b.Name, Path: "/", DeclRange: b.DefRange}
	var first *hcl.Range
	if prev, ok := l.routeAt[b.Name]; ok {
		first = &prev
	} else {
		l.routeAt[b.Name] = b.DefRange
	}
	l.checkName("route", blockHeader{b.Name, b.NameRange, b.DefRange}, first)

	r.Listener = l.routeListener(b)
	r.Upstream = l.routeUpstream(b)
	l.routeHost(b, r)
	l.routePath(b, r)
	l.routeHeaders(b, p.ctx, r)
	l.routeOrigins(b, r)
	if b.RequireTLS != nil {
		r.RequireTLS = *b.RequireTLS
	}
	r.Compression = l.routeCompression(b)
	l.routeHeaderLists(b, p.ctx, r)
	r.Filters = l.routeFilters(b)
	r.Limits = l.routeLimits(b, global, explicit)
	return r
}

// routeListener resolves the listener of a route.
func (l *loader) routeListener(b *routeBody) *Listener {
	switch {
	case l.failed(b.ListenerRange):
	case b.Listener != nil:
		if lis := l.listenerAt[*b.Listener]; lis != nil {
			return lis
		}
		if !l.incomplete {
			l.errorf(b.ListenerRange, "Unknown listener",
				"Route %q names listener %q, but no listener has that name.%s %s",
				b.Name, *b.Listener, didYouMean(*b.Listener, l.listenerNames()),
				l.knownListeners())
		}
	case len(l.listeners) == 1:
		return l.listeners[0]
	case len(l.listeners) > 1 && !l.incomplete:
		l.errorf(b.DefRange, "Route has no listener",
			"Route %q does not say which listener it serves, and there are "+
				"several. Add listener = %q, or the name of another listener. %s",
			b.Name, l.listeners[0].Name, l.knownListeners())
	}
	return nil
}

// listenerNames returns the names of the declared listeners, in order.
func (l *loader) listenerNames() []string {
	var names []string
	for _, lis := range l.listeners {
		if l.listenerAt[lis.Name] == lis {
			names = append(names, lis.Name)
		}
	}
	return names
}

// knownListeners lists the declared listeners for a diagnostic.
func (l *loader) knownListeners() string {
	names := l.listenerNames()
	if len(names) == 0 {
		return "No listener block is declared."
	}
	return "The declared listeners are " + joinNames(names) + "."
}

// routeUpstream resolves the upstream of a route.
func (l *loader) routeUpstream(b *routeBody) *Upstream {
	switch {
	case l.failed(b.UpstreamRange):
	case b.Upstream != nil:
		if up := l.upstreamAt[*b.Upstream]; up != nil {
			return up
		}
		if !l.incomplete {
			l.errorf(b.UpstreamRange, "Unknown upstream",
				"Route %q names upstream %q, but no upstream has that name.%s %s",
				b.Name, *b.Upstream, didYouMean(*b.Upstream, l.upstreamNames()),
				l.knownUpstreams())
		}
	case !l.incomplete:
		l.errorf(b.DefRange, "Route has no upstream",
			`Route %q does not say where to proxy to. Add upstream = "name", `+
				`naming an upstream block. %s`, b.Name, l.knownUpstreams())
	}
	return nil
}

// upstreamNames returns the names of the declared upstreams, in order.
func (l *loader) upstreamNames() []string {
	var names []string
	for _, up := range l.upstreams {
		if l.upstreamAt[up.Name] == up {
			names = append(names, up.Name)
		}
	}
	return names
}

// knownUpstreams lists the declared upstreams for a diagnostic.
func (l *loader) knownUpstreams() string {
	names := l.upstreamNames()
	if len(names) == 0 {
		return `No upstream block is declared: declare one, e.g. ` +
			`upstream "backend" { servers = ["ws://127.0.0.1:9000"] }.`
	}
	return "The declared upstreams are " + joinNames(names) + "."
}

// routeHost checks and stores the host pattern of a route.
func (l *loader) routeHost(b *routeBody, r *Route) {
	if b.Host == nil || l.failed(b.HostRange) {
		return
	}
	host, reason := normalizeHost(*b.Host)
	if reason != "" {
		l.errorf(b.HostRange, "Invalid host pattern",
			`%q %s. host is a host name such as "chat.example.com", a suffix `+
				`wildcard such as "*.example.com", or an IP address, without `+
				`port; omit host to match any host.`, *b.Host, reason)
		return
	}
	r.Host = host
}

// normalizeHost checks a host pattern and returns it lower-cased, or the
// reason it is invalid.
func normalizeHost(s string) (string, string) {
	s = strings.ToLower(s)
	switch {
	case s == "":
		return "", ""
	case s == "*":
		return "", "is not a host pattern; to match any host, omit host"
	case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
		ip, err := netip.ParseAddr(s[1 : len(s)-1])
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return "", "is not an IPv6 address in brackets"
		}
		return ip.String(), ""
	case strings.HasPrefix(s, "*."):
		if reason := checkHostname(s[2:]); reason != "" {
			return "", reason
		}
		return s, ""
	case strings.Contains(s, "*"):
		return "", "has a wildcard that is not the whole first label: the only wildcard form is a suffix pattern such as *.example.com"
	}
	if ip, err := netip.ParseAddr(s); err == nil && ip.Zone() == "" {
		return ip.String(), ""
	}
	if strings.Contains(s, ":") {
		if _, _, err := net.SplitHostPort(s); err == nil {
			return "", "includes a port; hosts are matched without the port, so remove it"
		}
		return "", "is not a host name or IP address"
	}
	if reason := checkHostname(s); reason != "" {
		return "", reason
	}
	return s, ""
}

// checkHostname returns why s is not a DNS host name, or "" if it is one.
// Underscores are allowed, as they occur in real names.
func checkHostname(s string) string {
	switch {
	case s == "":
		return "the host name is empty"
	case len(s) > 253:
		return "the host name is longer than 253 characters"
	case strings.HasSuffix(s, "."):
		return "the host name ends with a dot; write it without"
	}
	for label := range strings.SplitSeq(s, ".") {
		switch {
		case label == "":
			return "the host name has an empty label (two dots in a row, or a leading dot)"
		case len(label) > 63:
			return "a label of the host name is longer than 63 characters"
		case label[0] == '-' || label[len(label)-1] == '-':
			return "a label of the host name starts or ends with '-'"
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return fmt.Sprintf("the character %q is not allowed in a host name", rune(c))
			}
		}
	}
	return ""
}

// routePath checks and stores path or exact_path.
func (l *loader) routePath(b *routeBody, r *Route) {
	if b.Path != nil && b.ExactPath != nil {
		l.errorf(b.ExactPathRange, "Conflicting path attributes",
			"Route %q sets both path and exact_path, which are mutually "+
				"exclusive. Keep path to match every request path that starts "+
				"with it, or exact_path to match one path exactly.", b.Name)
		return
	}
	check := func(name string, v *string, rng hcl.Range) bool {
		if v == nil || l.failed(rng) {
			return false
		}
		if reason := checkPath(*v); reason != "" {
			l.errorf(rng, "Invalid "+name,
				`%s = %q %s. A path starts with "/" and holds no query, fragment, `+
					`space or control character, e.g. "/ws/"; characters that `+
					`requests percent-encode are written percent-encoded.`,
				name, *v, reason)
			return false
		}
		return true
	}
	if check("path", b.Path, b.PathRange) {
		r.Path = *b.Path
	}
	if check("exact_path", b.ExactPath, b.ExactPathRange) {
		r.Path, r.ExactPath = "", *b.ExactPath
	}
}

// checkPath returns why p is not a path to match, or "" if it is one.
func checkPath(p string) string {
	switch {
	case p == "":
		return "is empty"
	case p[0] != '/':
		return `does not start with "/"`
	case strings.Contains(p, "?"):
		return "holds a query (from ?); paths are matched without the query"
	case strings.Contains(p, "#"):
		return "holds a fragment (from #), which requests never carry"
	}
	for i := 0; i < len(p); i++ {
		if p[i] <= ' ' || p[i] == 0x7f {
			return "holds a space or control character"
		}
	}
	return ""
}

// routeHeaders checks and stores the header conditions of a route.
func (l *loader) routeHeaders(b *routeBody, ctx *hcl.EvalContext, r *Route) {
	if len(b.Headers) == 0 || l.failed(b.HeadersRange) {
		return
	}
	keys := make([]string, 0, len(b.Headers))
	for k := range b.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	r.Headers = make(map[string]string, len(keys))
	for _, k := range keys {
		rng := keyRange(ctx, b.Body, "headers", k, b.HeadersRange)
		v := b.Headers[k]
		if !validToken(k) {
			l.errorf(rng, "Invalid header name",
				`%q is not an HTTP header name. A header name is a token: letters, `+
					"digits and !#$%%&'*+-.^_`|~ (RFC 9110, section 5.1), e.g. "+
					`"X-Tenant"; write it quoted, as in headers = { "X-Tenant" = "acme" }.`, k)
			continue
		}
		ck := textproto.CanonicalMIMEHeaderKey(k)
		if _, dup := r.Headers[ck]; dup {
			l.errorf(rng, "Duplicate header condition",
				"%q names the header %s a second time: header names are "+
					"case-insensitive. Keep one of the two conditions.", k, ck)
			continue
		}
		if reason := checkHeaderValue(v); reason != "" {
			l.errorf(rng, "Invalid header value",
				"The value %q required for header %s %s. The value is compared "+
					"exactly with the request's header value.", v, ck, reason)
			continue
		}
		r.Headers[ck] = v
	}
	names, all := secretHeaders(attrExpr(b.Body, "headers"), ctx)
	if all {
		names = make(map[string]bool, len(r.Headers))
		for k := range r.Headers {
			names[k] = true
		}
	}
	r.secretHeaders = names
}

// checkHeaderValue returns why v can never be a header's value, or "".
func checkHeaderValue(v string) string {
	if strings.TrimSpace(v) != v {
		return "starts or ends with white space, which HTTP strips from header values, so it could never match"
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return "holds a control character"
		}
	}
	return ""
}

// keyRange returns the range of the key of the object attribute name whose
// value is key, or whole when the object is not written out key by key.
func keyRange(ctx *hcl.EvalContext, body hcl.Body, name, key string, whole hcl.Range) hcl.Range {
	expr := attrExpr(body, name)
	if expr == nil {
		return whole
	}
	pairs, diags := hcl.ExprMap(expr)
	if diags.HasErrors() {
		return whole
	}
	for _, p := range pairs {
		v, diags := p.Key.Value(ctx)
		if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
			continue
		}
		if v, err := convert.Convert(v, cty.String); err == nil && v.AsString() == key {
			return p.Key.Range()
		}
	}
	return whole
}

// isNull reports whether the attribute name of body is written as null
// (which gohcl decodes as an empty list).
func isNull(ctx *hcl.EvalContext, body hcl.Body, name string) bool {
	expr := attrExpr(body, name)
	if expr == nil {
		return false
	}
	v, _ := expr.Value(ctx)
	return v.IsNull()
}

// validToken reports whether s is an HTTP token (RFC 9110, section 5.6.2),
// the syntax of header names.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// routeOrigins checks and stores the Origin allowlist of a route.
func (l *loader) routeOrigins(b *routeBody, r *Route) {
	if len(b.Origins) == 0 || l.failed(b.OriginsRange) {
		return
	}
	for i, o := range b.Origins {
		rng := elemRange(b.Body, "origins", i, b.OriginsRange)
		if o == "*" {
			if len(b.Origins) > 1 {
				l.errorf(rng, "Wildcard among origins",
					`"*" allows any origin, so it must be the only element of `+
						`origins. Remove "*", or the other origins.`)
				continue
			}
			r.Origins = []string{"*"}
			continue
		}
		origin, reason := normalizeOrigin(o)
		if reason != "" {
			l.errorf(rng, "Invalid origin",
				`%q %s. An origin is scheme://host[:port] as browsers send it in `+
					`the Origin header, e.g. "https://chat.example.com" or `+
					`"http://localhost:3000"; or origins = ["*"] for any origin.`, o, reason)
			continue
		}
		if !slices.Contains(r.Origins, origin) {
			r.Origins = append(r.Origins, origin)
		}
	}
}

// normalizeOrigin checks an origin and returns it lower-cased, or the reason
// it is invalid.
func normalizeOrigin(s string) (string, string) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "", "is not scheme://host[:port]"
	case u.Scheme == "" || u.Opaque != "" || u.Host == "":
		return "", "is not scheme://host[:port]"
	case u.User != nil:
		return "", "holds user info, which origins never carry"
	case u.Path == "/" && u.RawQuery == "" && !u.ForceQuery && !strings.Contains(s, "#"):
		return "", "ends with a slash; origins have no path, so remove it"
	case u.Path != "" || u.RawQuery != "" || u.ForceQuery || strings.Contains(s, "#"):
		return "", "has a path, query or fragment, which origins never carry"
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return "", "has a port that is not a number from 1 to 65535"
		}
	}
	if h := u.Hostname(); !strings.HasPrefix(u.Host, "[") {
		if reason := checkHostname(h); reason != "" {
			return "", "has an invalid host: " + reason
		}
	} else if ip, err := netip.ParseAddr(h); err != nil || !ip.Is6() {
		return "", "has an invalid IPv6 address"
	}
	return strings.ToLower(s), ""
}

// managedHeader reports whether the proxy sets or strips the header itself
// on the upstream request, whatever forward_headers says: the hop-by-hop
// headers (RFC 9110, section 7.6.1) and those of the WebSocket handshake
// (RFC 6455, section 4.1).
func managedHeader(canonical string) bool {
	switch canonical {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Host", "Content-Length", "Sec-Websocket-Key", "Sec-Websocket-Version",
		"Sec-Websocket-Accept", "Sec-Websocket-Extensions", "Sec-Websocket-Protocol":
		return true
	}
	return false
}

// routeHeaderLists checks and stores forward_headers and drop_headers.
func (l *loader) routeHeaderLists(b *routeBody, ctx *hcl.EvalContext, r *Route) {
	// nil (absent or null) and an empty list differ: forward_headers = []
	// forwards no header.
	list := func(name string, names []string, rng hcl.Range) ([]string, []hcl.Range) {
		if !present(rng) || l.failed(rng) || isNull(ctx, b.Body, name) {
			return nil, nil
		}
		out := make([]string, 0, len(names))
		var ranges []hcl.Range
		for i, n := range names {
			er := elemRange(b.Body, name, i, rng)
			if !validToken(n) {
				l.errorf(er, "Invalid header name",
					`%q in %s is not an HTTP header name. A header name is a token: `+
						"letters, digits and !#$%%&'*+-.^_`|~ (RFC 9110, section 5.1), "+
						`e.g. "Authorization".`, n, name)
				continue
			}
			c := textproto.CanonicalMIMEHeaderKey(n)
			if !slices.Contains(out, c) {
				out = append(out, c)
				ranges = append(ranges, er)
			}
		}
		return out, ranges
	}
	fwd, fwdRanges := list("forward_headers", b.ForwardHeaders, b.ForwardHeadersRange)
	drop, dropRanges := list("drop_headers", b.DropHeaders, b.DropHeadersRange)
	for i, h := range fwd {
		if managedHeader(h) {
			l.warnf(fwdRanges[i], "Header always handled by the proxy",
				"%s is a hop-by-hop or WebSocket handshake header: the proxy sets "+
					"or strips it on the upstream request itself, so listing it in "+
					"forward_headers has no effect. Remove it.", h)
		}
	}
	for i, h := range drop {
		if slices.Contains(fwd, h) {
			l.errorf(dropRanges[i], "Header both forwarded and dropped",
				"%s is listed in both forward_headers and drop_headers of route %q. "+
					"Remove it from one of them.", h, b.Name)
		}
	}
	r.ForwardHeaders, r.DropHeaders = fwd, drop
	if len(r.DropHeaders) == 0 {
		r.DropHeaders = nil
	}
}

// didYouMean returns ` Did you mean "x"?` for the name among names closest
// to the unknown name s, if one is close enough to be a typo, or "".
func didYouMean(s string, names []string) string {
	best, bestDist := "", 3 // at most two edits away
	for _, n := range names {
		if d := editDistance(s, n); d < bestDist {
			best, bestDist = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
