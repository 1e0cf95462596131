package examples_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/proxy"
)

// The close reasons of the ratelimit example, with the limits of its
// wasmgate.hcl: 20 messages per second per connection, 30 per user.
const (
	rateLimitConnReason = "rate limit: over 20 messages per second on this connection"
	rateLimitUserReason = "rate limit: over 30 messages per second for this user"
)

// TestRateLimit runs the ratelimit example with its own configuration.
// The limits count messages in whole seconds of the clock, so the test
// never relies on where a second ends: a client within a limit sends far
// fewer messages than it, a flood sends far more (100 in a tight loop),
// and the one case that needs two connections in the same second retries
// when a second ended between them.
func TestRateLimit(t *testing.T) {
	e := startExample(t, "ratelimit", nil)

	// Within the limits, everything passes.
	c := e.mustDial(t, "/chat", rateLimitUser("alice"))
	for i := range 5 {
		msg := fmt.Sprintf("message %d", i)
		if got := roundTrip(t, c, msg); got != msg {
			t.Fatalf("within the limit: got %q, want %q", got, msg)
		}
	}

	// A flood is cut by the connection's limit, with or without a user.
	for _, h := range []http.Header{nil, rateLimitUser("bob")} {
		flood := e.mustDial(t, "/chat", h)
		rateLimitRequireClose(t, rateLimitFlood(t, flood), rateLimitConnReason)
	}

	// Two connections of one user share the user's budget: after the
	// first sent 15 messages, the second's flood is cut by the user's
	// limit (30) before its own (20) would cut it. Only a second that
	// ends between the two can make the connection's limit cut it.
	retries := 0
	for attempt := 1; ; attempt++ {
		h := rateLimitUser(fmt.Sprintf("carol-%d", attempt))
		first := e.mustDial(t, "/chat", h)
		for i := range 15 {
			msg := fmt.Sprintf("first %d", i)
			if got := roundTrip(t, first, msg); got != msg {
				t.Fatalf("first connection: got %q, want %q", got, msg)
			}
		}
		ce := rateLimitFlood(t, e.mustDial(t, "/chat", h))
		if ce.Reason == rateLimitConnReason && attempt < 5 {
			t.Logf("attempt %d: a second ended between the two connections; again", attempt)
			retries++
			continue
		}
		rateLimitRequireClose(t, ce, rateLimitUserReason)
		break
	}

	// Another user is unaffected.
	other := e.mustDial(t, "/chat", rateLimitUser("dave"))
	for i := range 5 {
		msg := fmt.Sprintf("dave %d", i)
		if got := roundTrip(t, other, msg); got != msg {
			t.Fatalf("another user: got %q, want %q", got, msg)
		}
	}

	if n := rateLimitMetric(t, e.Proxy, "ratelimit", "ratelimit_connection_closes"); n != int64(2+retries) {
		t.Errorf("ratelimit_connection_closes = %d, want %d", n, 2+retries)
	}
	if n := rateLimitMetric(t, e.Proxy, "ratelimit", "ratelimit_user_closes"); n != 1 {
		t.Errorf("ratelimit_user_closes = %d, want 1", n)
	}
}

// rateLimitUser returns the headers of a connection of user name.
func rateLimitUser(name string) http.Header {
	return http.Header{"X-User-Id": {name}}
}

// rateLimitFlood sends 100 messages as fast as it can, then returns the
// close the proxy sent. Writes fail once the proxy has closed: the flood
// stops there.
func rateLimitFlood(t *testing.T, c *codec.Conn) *codec.CloseError {
	t.Helper()
	for i := range 100 {
		if err := c.WriteMessage(codec.Text, []byte(fmt.Sprintf("flood %d", i))); err != nil {
			break
		}
	}
	return closed(t, c)
}

// rateLimitRequireClose requires a close with 1008 and reason.
func rateLimitRequireClose(t *testing.T, ce *codec.CloseError, reason string) {
	t.Helper()
	if ce.Code != codec.ClosePolicyViolation || ce.Reason != reason {
		t.Fatalf("closed with %d %q, want %d %q", ce.Code, ce.Reason, codec.ClosePolicyViolation, reason)
	}
}

// rateLimitMetric returns the value of a plugin's metric.
func rateLimitMetric(t *testing.T, p *proxy.Proxy, plugin, name string) int64 {
	t.Helper()
	for _, s := range p.Plugins().Metrics().Snapshot() {
		if s.Plugin == plugin && s.Name == name {
			return s.Value
		}
	}
	t.Fatalf("plugin %s has no metric %s", plugin, name)
	return 0
}
