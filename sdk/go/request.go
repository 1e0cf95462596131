package wasmgate

import "github.com/wasmgate/wasmgate/sdk/abi"

// Request is the WebSocket handshake of a connection, given to
// Filter.Open. It is valid only during that call: afterwards its getters
// return zero values and its other methods ErrWrongHook.
type Request struct {
	conn   *Conn
	reopen bool
	valid  bool
}

func (r *Request) ok() bool { return r != nil && r.valid && current == hookOpen }

// Reopened reports whether this Open reruns for a live connection after
// the plugin was replaced: no handshake is in progress, and the methods
// that edit the upstream request or the refusal return ErrWrongHook.
func (r *Request) Reopened() bool { return r != nil && r.reopen }

func (r *Request) field(f int32) string {
	if !r.ok() {
		return ""
	}
	b, err := fetch(func(buf []byte) int32 { return hRequestGet(f, buf) })
	if err != nil {
		return ""
	}
	return string(b)
}

// Method returns the request's method (GET).
func (r *Request) Method() string { return r.field(abi.FieldMethod) }

// URI returns the request's path and query as the client sent them.
func (r *Request) URI() string { return r.field(abi.FieldURI) }

// Path returns the request's path.
func (r *Request) Path() string { return r.field(abi.FieldPath) }

// Query returns the request's query, without "?".
func (r *Request) Query() string { return r.field(abi.FieldQuery) }

// Host returns the host the client asked for.
func (r *Request) Host() string { return r.field(abi.FieldHost) }

// RemoteAddr returns the client's address, as ip:port.
func (r *Request) RemoteAddr() string { return r.field(abi.FieldRemoteAddr) }

// Route returns the name of the route the request matched.
func (r *Request) Route() string { return r.field(abi.FieldRoute) }

// Protocols returns the subprotocols the client offered, nil for none.
func (r *Request) Protocols() []string {
	if !r.ok() {
		return nil
	}
	b, err := fetch(func(buf []byte) int32 { return hRequestGet(abi.FieldProtocols, buf) })
	if err != nil {
		return nil
	}
	return splitList(b)
}

// Header returns the first value of the named header (matched without
// regard to case), and false when the request has no such header.
func (r *Request) Header(name string) (string, bool) {
	b, err := r.header(name)
	if err != nil {
		return "", false
	}
	return firstItem(b)
}

// HeaderValues returns every value of the named header (matched without
// regard to case), nil when the request has no such header.
func (r *Request) HeaderValues(name string) []string {
	b, err := r.header(name)
	if err != nil {
		return nil
	}
	return splitList(b)
}

func (r *Request) header(name string) ([]byte, error) {
	if !r.ok() {
		return nil, ErrWrongHook
	}
	return fetch(func(buf []byte) int32 { return hRequestHeader(name, buf) })
}

// Headers returns every header of the request, in order, names in lower
// case; a header with several values comes once per value.
func (r *Request) Headers() []Header {
	if !r.ok() {
		return nil
	}
	b, err := fetch(hRequestHeaders)
	if err != nil {
		return nil
	}
	return parseHeaderList(b)
}

// SetUpstreamHeader replaces a header of the request sent upstream.
// Handshake headers (Host, Upgrade, Connection, Sec-WebSocket-*) and
// hop-by-hop headers cannot be set: ErrInvalidArgument.
func (r *Request) SetUpstreamHeader(name, value string) error {
	if !r.ok() {
		return ErrWrongHook
	}
	return errorFor(hUpstreamHeaderSet(name, value))
}

// AddUpstreamHeader adds a value to a header of the request sent
// upstream, with the limits of SetUpstreamHeader.
func (r *Request) AddUpstreamHeader(name, value string) error {
	if !r.ok() {
		return ErrWrongHook
	}
	return errorFor(hUpstreamHeaderAdd(name, value))
}

// RemoveUpstreamHeader removes a header from the request sent upstream,
// with the limits of SetUpstreamHeader.
func (r *Request) RemoveUpstreamHeader(name string) error {
	if !r.ok() {
		return ErrWrongHook
	}
	return errorFor(hUpstreamHeaderRemove(name))
}

// ChooseUpstream makes the connection dial the named upstream instead of
// the route's; ErrNotFound for an unknown name.
func (r *Request) ChooseUpstream(name string) error {
	if !r.ok() {
		return ErrWrongHook
	}
	return errorFor(hUpstreamChoose(name))
}

// SetUpstreamURI replaces the request-target (path and query, as in
// "/v2/chat?room=1") sent to the upstream, after its server's base path.
// Filters later in the route read the new one. ErrInvalidArgument unless
// it starts with "/" and is at most 8192 bytes of visible ASCII without
// "#" (percent-encode anything else).
func (r *Request) SetUpstreamURI(uri string) error {
	if !r.ok() {
		return ErrWrongHook
	}
	return errorFor(hUpstreamURISet(uri))
}

// Reject sets the refusal sent to the client, a status from 400 to 599
// and a body, and returns Reject for Open to return:
//
//	return r.Reject(401, []byte("who are you?"))
//
// When the refusal cannot be set (a status out of range, a reopened
// connection, a call after Open) it logs why and still returns Reject:
// the client then gets the default refusal, 403 with an empty body.
func (r *Request) Reject(status int, body []byte) Action {
	var err error
	switch {
	case !r.ok():
		err = ErrWrongHook
	case status < 400 || status > 599:
		err = ErrInvalidArgument
	default:
		err = errorFor(hReject(int32(status), body))
	}
	if err != nil {
		Errorf("reject with status %d: %v", status, err)
	}
	return Reject
}

// RejectHeader adds a header to the refusal sent if Open returns Reject.
func (r *Request) RejectHeader(name, value string) error {
	if !r.ok() {
		return ErrWrongHook
	}
	return errorFor(hRejectHeader(name, value))
}
