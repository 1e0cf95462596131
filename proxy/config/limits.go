package config

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Bounds of max_header_size.
const (
	minHeaderBytes = 1 << 10
	maxHeaderBytes = 1 << 20
)

// limitOverrides are the attributes one limits block sets; nil for those it
// does not.
type limitOverrides struct {
	maxMessageSize   *int64
	maxFrameSize     *int64
	handshakeTimeout *time.Duration
	maxHeaderBytes   *int
	idleTimeout      *time.Duration
	pingInterval     *time.Duration
	pongTimeout      *time.Duration
	closeTimeout     *time.Duration
	writeTimeout     *time.Duration

	frameRange hcl.Range // where max_frame_size is set
}

// apply returns base with the set attributes replaced. MaxFrameSize is left
// to the caller, since its default depends on MaxMessageSize.
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
	return base
}

// globalLimits checks the top-level limits blocks and returns the global
// limits, and whether they set max_frame_size explicitly.
func (l *loader) globalLimits() (Limits, bool) {
	var ranges []hcl.Range
	var overrides []limitOverrides
	for _, b := range l.limits {
		ranges = append(ranges, b.DefRange)
		overrides = append(overrides, l.limitOverrides(b))
	}
	l.checkOnce("limits", "at the top level", ranges)
	limits := DefaultLimits()
	limits.MaxFrameSize = 0
	if len(overrides) == 0 {
		limits.MaxFrameSize = limits.MaxMessageSize
		return limits, false
	}
	o := overrides[0]
	limits = o.apply(limits)
	if o.maxFrameSize == nil {
		limits.MaxFrameSize = limits.MaxMessageSize
		return limits, false
	}
	limits.MaxFrameSize = *o.maxFrameSize
	l.checkFrameSize(limits, o.frameRange, "")
	return limits, true
}

// routeLimits returns the limits of a route: the global limits overridden
// by the route's limits block. max_frame_size defaults to max_message_size;
// a global max_frame_size larger than the route's max_message_size is
// lowered to it.
func (l *loader) routeLimits(b *routeBody, global Limits, globalFrame bool) Limits {
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
		return global
	}
	o := overrides[0]
	limits := o.apply(global)
	switch {
	case o.maxFrameSize != nil:
		limits.MaxFrameSize = *o.maxFrameSize
		l.checkFrameSize(limits, o.frameRange, b.Name)
	case globalFrame:
		limits.MaxFrameSize = min(global.MaxFrameSize, limits.MaxMessageSize)
	default:
		limits.MaxFrameSize = limits.MaxMessageSize
	}
	return limits
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
	o := limitOverrides{frameRange: b.MaxFrameSizeRange}
	if n, ok := l.size(b.MaxMessageSize, b.MaxMessageSizeRange, "max_message_size", 1, 0); ok {
		o.maxMessageSize = &n
	}
	if n, ok := l.size(b.MaxFrameSize, b.MaxFrameSizeRange, "max_frame_size", 1, 0); ok {
		o.maxFrameSize = &n
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
	return o
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
