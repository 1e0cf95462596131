package config

import (
	"cmp"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Bounds of max_header_size.
const (
	minHeaderBytes = 1 << 10
	maxHeaderBytes = 1 << 20
)

// maxMessageRate bounds max_message_rate, in messages per second: far above
// what one connection can carry, and low enough that one second's worth,
// the default message_burst, fits an int on every platform.
const maxMessageRate = 1e9

// maxCount bounds the whole-number limits (connection caps, message_burst):
// far above any real need, and within an int on every platform.
const maxCount = math.MaxInt32

// reservedFiles is how many file descriptors the default of the global
// max_connections leaves for everything but proxied connections: the
// listeners, the admin plane, logs, plugin and certificate files.
const reservedFiles = 64

// connectionsFor returns the default cap on the proxy's connections for an
// open-file limit of nofile descriptors: each proxied connection holds two
// sockets (client and upstream), after reservedFiles. At least 1, so that a
// tiny limit still lets the proxy serve rather than refuse everything.
func connectionsFor(nofile uint64) int {
	if nofile < reservedFiles+2 {
		return 1
	}
	return int(min((nofile-reservedFiles)/2, math.MaxInt))
}

// defaultBurst returns the default message_burst for a message rate: one
// second's worth, at least 1; 0 when the rate is 0 (no limit, no bucket).
func defaultBurst(rate float64) int {
	if rate == 0 {
		return 0
	}
	return max(1, int(math.Ceil(rate)))
}

// explicitLimits says which global limits whose default depends on another
// attribute the top-level limits block set itself: a route inherits those
// as they are, and derives the others from its own limits.
type explicitLimits struct {
	frame bool // max_frame_size
	burst bool // message_burst

	// clientFrame and upstreamFrame are the frame sizes a route inherits
	// for each direction, before they are lowered to the route's message
	// size for it: the top-level client_max_frame_size (or
	// upstream_max_frame_size), else the top-level max_frame_size; nil
	// where the top-level block sets neither.
	clientFrame, upstreamFrame *int64
}

// directionOverrides are the size limits one limits block sets for the
// messages that one side of a connection sends; nil where it does not.
type directionOverrides struct {
	side           string // "client" or "upstream", the prefix of the attributes
	maxMessageSize *int64
	maxFrameSize   *int64
	messageRange   hcl.Range // where <side>_max_message_size is set
	frameRange     hcl.Range // where <side>_max_frame_size is set
}

// limitOverrides are the attributes one limits block sets; nil for those it
// does not.
type limitOverrides struct {
	maxMessageSize   *int64
	maxFrameSize     *int64
	client, upstream directionOverrides
	handshakeTimeout *time.Duration
	maxHeaderBytes   *int
	idleTimeout      *time.Duration
	pingInterval     *time.Duration
	pongTimeout      *time.Duration
	closeTimeout     *time.Duration
	writeTimeout     *time.Duration

	maxConnections      *int
	maxConnectionsPerIP *int
	maxMessageRate      *float64
	messageBurst        *int

	messageRange hcl.Range // where max_message_size is set
	frameRange   hcl.Range // where max_frame_size is set
	burstRange   hcl.Range // where message_burst is set
	// rateFailed is set when max_message_rate is written but was reported
	// as wrong: whether a message_burst has a rate to apply to is unknown.
	rateFailed bool
}

// apply returns base with the set attributes replaced. MaxFrameSize, the
// sizes of each direction, MaxConnections and MessageBurst are left to the
// caller: all but MaxConnections have defaults that depend on other
// attributes, and MaxConnections means one thing at the top level and
// another in a route.
func (o limitOverrides) apply(base Limits) Limits {
	set := func(dst *time.Duration, v *time.Duration) {
		if v != nil {
			*dst = *v
		}
	}
	if o.maxMessageSize != nil {
		base.MaxMessageSize = *o.maxMessageSize
	}
	if o.maxHeaderBytes != nil {
		base.MaxHeaderBytes = *o.maxHeaderBytes
	}
	set(&base.HandshakeTimeout, o.handshakeTimeout)
	set(&base.IdleTimeout, o.idleTimeout)
	set(&base.PingInterval, o.pingInterval)
	set(&base.PongTimeout, o.pongTimeout)
	set(&base.CloseTimeout, o.closeTimeout)
	set(&base.WriteTimeout, o.writeTimeout)
	if o.maxConnectionsPerIP != nil {
		base.MaxConnectionsPerIP = *o.maxConnectionsPerIP
	}
	if o.maxMessageRate != nil {
		base.MaxMessageRate = *o.maxMessageRate
	}
	return base
}

// globalLimits checks the top-level limits blocks and returns the global
// limits, and which of them the block set explicitly. MaxConnections is the
// proxy-wide cap: the block's value, or defaultMaxConnections().
func (l *loader) globalLimits() (Limits, explicitLimits) {
	var ranges []hcl.Range
	var overrides []limitOverrides
	for _, b := range l.limits {
		ranges = append(ranges, b.DefRange)
		overrides = append(overrides, l.limitOverrides(b))
	}
	l.checkOnce("limits", "at the top level", ranges)
	limits := DefaultLimits()
	limits.MaxConnections = defaultMaxConnections()
	var o limitOverrides
	if len(overrides) > 0 {
		o = overrides[0]
	}
	limits = o.apply(limits)
	if o.maxConnections != nil {
		limits.MaxConnections = *o.maxConnections
	}
	var explicit explicitLimits
	if o.maxFrameSize == nil {
		limits.MaxFrameSize = limits.MaxMessageSize
	} else {
		limits.MaxFrameSize = *o.maxFrameSize
		l.checkFrameSize(limits, o.frameRange, "")
		explicit.frame = true
	}
	explicit.clientFrame = cmp.Or(o.client.maxFrameSize, o.maxFrameSize)
	explicit.upstreamFrame = cmp.Or(o.upstream.maxFrameSize, o.maxFrameSize)
	limits.ClientMaxMessageSize, limits.ClientMaxFrameSize =
		l.directionSizes(o.client, o, limits.MaxMessageSize, nil, "")
	limits.UpstreamMaxMessageSize, limits.UpstreamMaxFrameSize =
		l.directionSizes(o.upstream, o, limits.MaxMessageSize, nil, "")
	limits.MessageBurst = defaultBurst(limits.MaxMessageRate)
	if o.messageBurst != nil && l.checkBurst(limits, o, "") {
		limits.MessageBurst = *o.messageBurst
		explicit.burst = true
	}
	return limits, explicit
}

// routeLimits returns the limits of a route: the global limits overridden
// by the route's limits block. max_frame_size defaults to max_message_size;
// a global max_frame_size larger than the route's max_message_size is
// lowered to it. The sizes of each direction follow the same way (see
// directionSizes). message_burst defaults to one second's worth of the
// route's max_message_rate, unless the top-level block set it.
// max_connections is not inherited: the global value caps the whole proxy.
func (l *loader) routeLimits(b *routeBody, global Limits, explicit explicitLimits) Limits {
	var ranges []hcl.Range
	var overrides []limitOverrides
	for _, lb := range b.Limits {
		ranges = append(ranges, lb.DefRange)
		l.refuseHandshakeLimit(lb.HandshakeTimeout, lb.HandshakeTimeoutRange, "handshake_timeout")
		l.refuseHandshakeLimit(lb.MaxHeaderSize, lb.MaxHeaderSizeRange, "max_header_size")
		overrides = append(overrides, l.limitOverrides(lb))
	}
	l.checkOnce("limits", "in a route", ranges)
	if len(overrides) == 0 {
		global.MaxConnections = 0
		return global
	}
	o := overrides[0]
	limits := o.apply(global)
	limits.MaxConnections = 0
	if o.maxConnections != nil {
		limits.MaxConnections = *o.maxConnections
	}
	switch {
	case o.maxFrameSize != nil:
		limits.MaxFrameSize = *o.maxFrameSize
		l.checkFrameSize(limits, o.frameRange, b.Name)
	case explicit.frame:
		limits.MaxFrameSize = min(global.MaxFrameSize, limits.MaxMessageSize)
	default:
		limits.MaxFrameSize = limits.MaxMessageSize
	}
	limits.ClientMaxMessageSize, limits.ClientMaxFrameSize =
		l.directionSizes(o.client, o, global.ClientMaxMessageSize, explicit.clientFrame, b.Name)
	limits.UpstreamMaxMessageSize, limits.UpstreamMaxFrameSize =
		l.directionSizes(o.upstream, o, global.UpstreamMaxMessageSize, explicit.upstreamFrame, b.Name)
	switch {
	case limits.MaxMessageRate == 0:
		limits.MessageBurst = 0
		if o.messageBurst != nil {
			l.checkBurst(limits, o, b.Name)
		}
	case o.messageBurst != nil:
		limits.MessageBurst = *o.messageBurst
	case explicit.burst:
		limits.MessageBurst = global.MessageBurst
	default:
		limits.MessageBurst = defaultBurst(limits.MaxMessageRate)
	}
	return limits
}

// directionSizes returns the largest message and frame that one side of a
// connection may send, from the limits block o (its attributes for that
// side, d, and its max_message_size and max_frame_size) and what the block
// inherits: the message size of that side, and the frame size set for it
// (nil for none). route is "" for the top-level block, which inherits
// the global max_message_size and no frame size.
//
// The more specific attribute wins within a block, and a route's block
// wins over the top-level one: the message size is the block's own for
// the side, else the block's max_message_size, else the inherited one. A
// frame size set for the side must fit in its message size; one that
// comes from max_frame_size or from the top level is lowered to it, as a
// global max_frame_size is lowered to a route's max_message_size. Where no
// frame size is set at all, the frame size follows the message size.
func (l *loader) directionSizes(d directionOverrides, o limitOverrides, inheritedMessage int64, inheritedFrame *int64, route string) (message, frame int64) {
	message = *cmp.Or(d.maxMessageSize, o.maxMessageSize, &inheritedMessage)
	if d.maxFrameSize != nil {
		// A message size that is written but was reported as wrong is
		// unknown: checking the frame size against the inherited one
		// instead would add a second, misleading error.
		if d.maxMessageSize != nil || !l.failed(d.messageRange) && !l.failed(o.messageRange) {
			l.checkDirectionFrameSize(d, message, route)
		}
		return message, *d.maxFrameSize
	}
	if f := cmp.Or(o.maxFrameSize, inheritedFrame); f != nil {
		return message, min(*f, message)
	}
	return message, message
}

// checkDirectionFrameSize reports a client_max_frame_size or
// upstream_max_frame_size larger than the message size of its side.
func (l *loader) checkDirectionFrameSize(d directionOverrides, message int64, route string) {
	if *d.maxFrameSize <= message {
		return
	}
	sender := "a client"
	if d.side == "upstream" {
		sender = "an upstream"
	}
	where := fmt.Sprintf("the largest message %s may send", sender)
	if route != "" {
		where += fmt.Sprintf(" on route %q", route)
	}
	name := d.side + "_max_frame_size"
	l.errorf(d.frameRange, "Frame size larger than message size",
		"%s (%s) is larger than %s (%s), but a frame never carries more than a "+
			"message. Lower %s, raise %s_max_message_size, or omit %s: it defaults "+
			"to max_frame_size, lowered to the %s message size.",
		name, formatSize(*d.maxFrameSize), where, formatSize(message),
		name, d.side, name, d.side)
}

// checkBurst reports a message_burst set where no max_message_rate is in
// effect, and returns whether the burst applies. route is "" for the
// top-level block.
func (l *loader) checkBurst(limits Limits, o limitOverrides, route string) bool {
	if limits.MaxMessageRate > 0 {
		return true
	}
	if o.rateFailed {
		return false
	}
	where := "the top-level limits block sets no max_message_rate above 0"
	if route != "" {
		where = fmt.Sprintf("route %q has no max_message_rate above 0, neither "+
			"in its own limits block nor in the top-level one", route)
	}
	l.errorf(o.burstRange, "Burst without a message rate",
		"message_burst has no effect without max_message_rate: it is how many "+
			"messages a client may send at once before the rate applies, but %s, "+
			"so messages are not limited. Set max_message_rate (messages per "+
			"second, e.g. 50) beside it, or remove message_burst.", where)
	return false
}

// refuseHandshakeLimit reports a limit on the upgrade request set in a
// route: it bounds the request the route is chosen from, so only the
// top-level value can apply.
func (l *loader) refuseHandshakeLimit(v *string, rng hcl.Range, name string) {
	if v == nil {
		return
	}
	l.errorf(rng, "Not a route limit",
		"%s bounds the client's upgrade request, which is read before any route is "+
			"chosen (the route depends on it), so it cannot differ per route. Set it in "+
			"the top-level limits block.", name)
}

// checkFrameSize reports a max_frame_size larger than max_message_size.
func (l *loader) checkFrameSize(limits Limits, rng hcl.Range, route string) {
	if limits.MaxFrameSize <= limits.MaxMessageSize {
		return
	}
	where := "the global max_message_size"
	if route != "" {
		where = fmt.Sprintf("the max_message_size of route %q", route)
	}
	l.errorf(rng, "Frame size larger than message size",
		"max_frame_size (%s) is larger than %s (%s), but a frame never carries "+
			"more than a message. Lower max_frame_size, raise max_message_size, "+
			"or omit max_frame_size: it defaults to max_message_size.",
		formatSize(limits.MaxFrameSize), where, formatSize(limits.MaxMessageSize))
}

// limitOverrides checks the attributes of a limits block.
func (l *loader) limitOverrides(b *limitsBody) limitOverrides {
	o := limitOverrides{
		messageRange: b.MaxMessageSizeRange,
		frameRange:   b.MaxFrameSizeRange,
		burstRange:   b.MessageBurstRange,
		client: directionOverrides{side: "client",
			messageRange: b.ClientMaxMessageSizeRange, frameRange: b.ClientMaxFrameSizeRange},
		upstream: directionOverrides{side: "upstream",
			messageRange: b.UpstreamMaxMessageSizeRange, frameRange: b.UpstreamMaxFrameSizeRange},
	}
	sizes := []struct {
		dst  **int64
		v    *string
		rng  hcl.Range
		name string
	}{
		{&o.maxMessageSize, b.MaxMessageSize, b.MaxMessageSizeRange, "max_message_size"},
		{&o.maxFrameSize, b.MaxFrameSize, b.MaxFrameSizeRange, "max_frame_size"},
		{&o.client.maxMessageSize, b.ClientMaxMessageSize, b.ClientMaxMessageSizeRange, "client_max_message_size"},
		{&o.client.maxFrameSize, b.ClientMaxFrameSize, b.ClientMaxFrameSizeRange, "client_max_frame_size"},
		{&o.upstream.maxMessageSize, b.UpstreamMaxMessageSize, b.UpstreamMaxMessageSizeRange, "upstream_max_message_size"},
		{&o.upstream.maxFrameSize, b.UpstreamMaxFrameSize, b.UpstreamMaxFrameSizeRange, "upstream_max_frame_size"},
	}
	for _, sz := range sizes {
		if n, ok := l.size(sz.v, sz.rng, sz.name, 1, 0); ok {
			*sz.dst = &n
		}
	}
	if n, ok := l.size(b.MaxHeaderSize, b.MaxHeaderSizeRange, "max_header_size", minHeaderBytes, maxHeaderBytes); ok {
		h := int(n)
		o.maxHeaderBytes = &h
	}
	durations := []struct {
		dst          **time.Duration
		v            *string
		rng          hcl.Range
		name         string
		zeroDisables bool
	}{
		{&o.handshakeTimeout, b.HandshakeTimeout, b.HandshakeTimeoutRange, "handshake_timeout", false},
		{&o.idleTimeout, b.IdleTimeout, b.IdleTimeoutRange, "idle_timeout", true},
		{&o.pingInterval, b.PingInterval, b.PingIntervalRange, "ping_interval", true},
		{&o.pongTimeout, b.PongTimeout, b.PongTimeoutRange, "pong_timeout", false},
		{&o.closeTimeout, b.CloseTimeout, b.CloseTimeoutRange, "close_timeout", false},
		{&o.writeTimeout, b.WriteTimeout, b.WriteTimeoutRange, "write_timeout", false},
	}
	for _, d := range durations {
		if v, ok := l.duration(d.v, d.rng, d.name, d.zeroDisables); ok {
			*d.dst = &v
		}
	}
	counts := []struct {
		dst     **int
		v       *float64
		rng     hcl.Range
		name    string
		lo      int
		meaning string
	}{
		{&o.maxConnections, b.MaxConnections, b.MaxConnectionsRange, "max_connections", 0,
			"the most connections held at once, e.g. 10000, or 0 for no cap"},
		{&o.maxConnectionsPerIP, b.MaxConnectionsPerIP, b.MaxConnectionsPerIPRange, "max_connections_per_ip", 0,
			"the most connections one client IP address holds at once, e.g. 100, or 0 for no cap"},
		{&o.messageBurst, b.MessageBurst, b.MessageBurstRange, "message_burst", 1,
			"how many messages a client may send at once, e.g. 100, or omit it for one second's worth of max_message_rate"},
	}
	for _, c := range counts {
		if n, ok := l.count(c.v, c.rng, c.name, c.lo, c.meaning); ok {
			*c.dst = &n
		}
	}
	o.maxMessageRate, o.rateFailed = l.messageRate(b)
	return o
}

// count checks the value of a whole-number attribute, which must be from lo
// to maxCount; meaning says what the number is, for the diagnostics. ok is
// false when the attribute is absent or its value was reported as wrong.
func (l *loader) count(v *float64, rng hcl.Range, name string, lo int, meaning string) (n int, ok bool) {
	if v == nil || l.failed(rng) {
		return 0, false
	}
	f := *v
	written := formatNumber(f)
	switch {
	case f < float64(lo) || f > maxCount:
		l.errorf(rng, "Invalid "+name, "%s = %s is out of range: give a whole number "+
			"from %d to %d, %s.", name, written, lo, maxCount, meaning)
		return 0, false
	case f != math.Trunc(f):
		l.errorf(rng, "Invalid "+name, "%s = %s is not a whole number: give %s.",
			name, written, meaning)
		return 0, false
	}
	return int(f), true
}

// messageRate checks max_message_rate. failed is true when it is written
// but wrong.
func (l *loader) messageRate(b *limitsBody) (rate *float64, failed bool) {
	// A value of the wrong type leaves MaxMessageRate nil, but its range
	// set and an error reported there.
	if b.MaxMessageRate == nil || l.failed(b.MaxMessageRateRange) {
		return nil, l.failed(b.MaxMessageRateRange)
	}
	v := *b.MaxMessageRate
	if v < 0 || v > maxMessageRate {
		l.errorf(b.MaxMessageRateRange, "Invalid max_message_rate",
			"max_message_rate = %s is out of range: it is the number of data messages "+
				"per second a client may send on one connection, greater than 0 and at "+
				"most %s (e.g. 50, or 0.5 for one message every two seconds), or 0 for "+
				"no limit.", formatNumber(v), formatNumber(maxMessageRate))
		return nil, true
	}
	return &v, false
}

// size parses the value of a size attribute, which must be at least lo and,
// unless hi is 0, at most hi. ok is false when the attribute is absent or
// its value was reported as wrong.
func (l *loader) size(v *string, rng hcl.Range, name string, lo, hi int64) (int64, bool) {
	if v == nil || l.failed(rng) {
		return 0, false
	}
	n, reason := parseSize(*v)
	switch {
	case reason != "":
		l.errorf(rng, "Invalid size", "%s = %q is not a size: %s. %s", name, *v, reason, sizeSyntax)
		return 0, false
	case n < lo:
		l.errorf(rng, "Size too small", "%s must be at least %s; %q is %s. There is "+
			"no setting for no limit.", name, formatSize(lo), *v, formatSize(n))
		return 0, false
	case hi > 0 && n > hi:
		l.errorf(rng, "Size too large", "%s must be at most %s; %q is %s.",
			name, formatSize(hi), *v, formatSize(n))
		return 0, false
	}
	return n, true
}

// formatSize formats a size with the largest binary unit that divides it.
func formatSize(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d%s", n/u.size, u.name)
		}
	}
	if n == 1 {
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}

// formatNumber formats a number as a configuration would write it: without
// an exponent (3000000000, not 3e+09), unless it is huge.
func formatNumber(f float64) string {
	if math.Abs(f) >= 1e21 {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
