package examples_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/proxy"
	"github.com/wasmgate/wasmgate/proxy/config"
)

const authSecret = "test secret of thirty-two bytes!"

// authToken mints a token: header and claims are JSON texts, signed with
// HMAC-SHA256 under secret.
func authToken(secret, header, claims string) string {
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signed))
	return signed + "." + enc.EncodeToString(mac.Sum(nil))
}

// authClaims returns the claims of a token for user, with exp and, when not
// zero, nbf as offsets from now.
func authClaims(user string, exp, nbf time.Duration) string {
	now := time.Now()
	c := `{"sub":"` + user + `","exp":` + strconv.FormatInt(now.Add(exp).Unix(), 10)
	if nbf != 0 {
		c += `,"nbf":` + strconv.FormatInt(now.Add(nbf).Unix(), 10)
	}
	return c + "}"
}

const authHS256 = `{"alg":"HS256","typ":"JWT"}`

// authBearer returns an Authorization header that carries token.
func authBearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// TestAuth runs examples/auth: valid tokens, by header or query, reach
// the upstream as X-User-Id without the Authorization header; every kind
// of bad token is refused with 401, its reason and a Bearer challenge.
func TestAuth(t *testing.T) {
	e := startExample(t, "auth", map[string]string{"AUTH_SECRET": authSecret})
	backend := e.Backends["127.0.0.1:9000"]

	t.Run("header", func(t *testing.T) {
		h := authBearer(authToken(authSecret, authHS256, authClaims("alice", time.Hour, 0)))
		h.Set("X-User-Id", "mallory") // the filter's value wins
		c := e.mustDial(t, "/chat", h)
		if got := roundTrip(t, c, "hello"); got != "hello" {
			t.Fatalf("echo: got %q", got)
		}
		hs := backend.lastHandshake(t)
		if got := hs.Header.Values("X-User-Id"); len(got) != 1 || got[0] != "alice" {
			t.Errorf("upstream X-User-Id = %q, want [alice]", got)
		}
		if got := hs.Header.Values("Authorization"); got != nil {
			t.Errorf("upstream Authorization = %q, want none", got)
		}
	})

	t.Run("query", func(t *testing.T) {
		token := authToken(authSecret, authHS256, authClaims("bob", time.Hour, -time.Minute))
		c := e.mustDial(t, "/chat?room=1&token="+token, nil)
		if got := roundTrip(t, c, "hi"); got != "hi" {
			t.Fatalf("echo: got %q", got)
		}
		hs := backend.lastHandshake(t)
		if got := hs.Header.Get("X-User-Id"); got != "bob" {
			t.Errorf("upstream X-User-Id = %q, want bob", got)
		}
		if hs.URI != "/chat?room=1" {
			t.Errorf("upstream URI = %q, want /chat?room=1 (the token stripped)", hs.URI)
		}
		if got := hs.Header.Values("Authorization"); got != nil {
			t.Errorf("upstream Authorization = %q, want none", got)
		}
	})

	before := len(backend.handshakes())
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(authClaims("eve", time.Hour, 0))) + "."
	for _, tc := range []struct {
		name, path string
		header     http.Header
		reason     string
	}{
		{"missing", "/chat", nil, "missing token"},
		{"empty query token", "/chat?token=", nil, "missing token"},
		{"not bearer", "/chat", http.Header{"Authorization": {"Basic dXNlcjpwdw=="}}, "authorization scheme is not Bearer"},
		{"malformed", "/chat", authBearer("not.a-token"), "malformed token"},
		{"malformed in query", "/chat?token=abc", nil, "malformed token"},
		{"bad signature", "/chat", authBearer(authToken("another secret, thirty-two bytes", authHS256, authClaims("eve", time.Hour, 0))), "bad signature"},
		{"alg none", "/chat", authBearer(none), "unsupported algorithm"},
		{"alg HS384", "/chat", authBearer(authToken(authSecret, `{"alg":"HS384"}`, authClaims("eve", time.Hour, 0))), "unsupported algorithm"},
		{"expired", "/chat", authBearer(authToken(authSecret, authHS256, authClaims("eve", -time.Hour, 0))), "token expired"},
		{"not yet valid", "/chat", authBearer(authToken(authSecret, authHS256, authClaims("eve", 2*time.Hour, time.Hour))), "token not yet valid"},
		{"no expiry", "/chat", authBearer(authToken(authSecret, authHS256, `{"sub":"eve"}`)), "token has no expiry"},
		{"no user", "/chat", authBearer(authToken(authSecret, authHS256, `{"exp":4102444800}`)), "token has no valid user claim"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			se := e.refusal(t, tc.path, tc.header)
			if se.Status != http.StatusUnauthorized || string(se.Body) != tc.reason+"\n" {
				t.Errorf("got %d %q, want 401 %q", se.Status, se.Body, tc.reason+"\n")
			}
			want := `Bearer error="invalid_token", error_description="` + tc.reason + `"`
			if tc.reason == "missing token" {
				want = "Bearer" // RFC 6750, 3.1: no error code without a token
			}
			if got := se.Header.Values("Www-Authenticate"); len(got) != 1 || got[0] != want {
				t.Errorf("WWW-Authenticate = %q, want [%s]", got, want)
			}
			if got := se.Header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type = %q", got)
			}
		})
	}
	if n := len(backend.handshakes()); n != before {
		t.Errorf("refused handshakes reached the upstream: %d, want %d", n, before)
	}

	counts := map[string]int64{}
	for _, m := range e.Proxy.Plugins().Metrics().Snapshot() {
		if m.Plugin == "auth" {
			counts[m.Name] = m.Value
		}
	}
	if counts["auth_accepted"] != 2 || counts["auth_rejected"] != 12 {
		t.Errorf("metrics %v, want 2 accepted and 12 rejected", counts)
	}
}

// TestAuthNeedsSecret checks that the proxy refuses to start with the
// example's configuration when AUTH_SECRET is empty.
func TestAuthNeedsSecret(t *testing.T) {
	t.Setenv("AUTH_SECRET", "")
	src, err := os.ReadFile("auth/wasmgate.hcl")
	if err != nil {
		t.Fatal(err)
	}
	src = bytes.ReplaceAll(src, []byte(`"127.0.0.1:8080"`), []byte(`"127.0.0.1:0"`))
	abs, err := filepath.Abs("auth")
	if err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Parse(src, "auth/wasmgate.hcl", abs)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var logs syncBuffer
	p := proxy.New(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err := p.Start(); err == nil {
		p.Shutdown(t.Context())
		t.Fatal("the proxy started without a secret")
	}
	if want := "config.secret is missing or empty"; !strings.Contains(logs.String(), want) {
		t.Errorf("the log does not say %q:\n%s", want, logs.String())
	}
}
