// Command auth is a filter that admits only the handshakes that carry a
// valid JSON Web Token signed with HS256, and tells the upstream who the
// user is. See README.md for its configuration.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags='-s -w' -o auth.wasm .
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	wasmgate "github.com/wasmgate/wasmgate/sdk/go"
)

// config is the plugin's configuration, with its defaults in
// defaultConfig.
type config struct {
	// Secret is the HMAC key, the bytes of the string. Required.
	Secret string `json:"secret"`
	// Header is the request header that carries "Bearer <token>" (or,
	// for a header other than Authorization, the bare token); "" reads
	// no header.
	Header string `json:"header"`
	// Query is the query parameter that carries the token when the
	// header is absent; "" reads no query.
	Query string `json:"query"`
	// UserHeader is the header of the upstream request that gets the
	// user id; "" sends none.
	UserHeader string `json:"user_header"`
	// Claim is the claim of the token that names the user.
	Claim string `json:"claim"`
	// LeewaySeconds is the clock skew tolerated on exp and nbf.
	LeewaySeconds int64 `json:"leeway_seconds"`
	// Issuer, when set, is the iss the token must have.
	Issuer string `json:"issuer"`
	// Audience, when set, must be in the token's aud.
	Audience string `json:"audience"`
	// RequireExp refuses tokens without an exp claim.
	RequireExp bool `json:"require_exp"`
	// StripToken removes the token from the upstream request: its header,
	// or its query parameter.
	StripToken bool `json:"strip_token"`
}

var defaultConfig = config{
	Header:        "authorization",
	Query:         "token",
	UserHeader:    "x-user-id",
	Claim:         "sub",
	LeewaySeconds: 30,
	RequireExp:    true,
	StripToken:    true,
}

type auth struct {
	wasmgate.Base
	cfg                config
	verifier           verifier
	accepted, rejected wasmgate.Counter
}

func (a *auth) Start(raw wasmgate.Config) error {
	cfg := defaultConfig
	// Unknown fields are refused: a misspelt option must stop the proxy
	// rather than leave a check silently off.
	dec := json.NewDecoder(bytes.NewReader(raw.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return errors.New("config: " + err.Error())
	}
	switch {
	case cfg.Secret == "":
		return errors.New(`config.secret is missing or empty; set it, as secret = env("AUTH_SECRET")`)
	case cfg.Header == "" && cfg.Query == "":
		return errors.New("config.header and config.query are both empty: no token could be read")
	case cfg.Claim == "":
		return errors.New("config.claim is empty")
	case cfg.LeewaySeconds < 0:
		return errors.New("config.leeway_seconds is negative")
	}
	if len(cfg.Secret) < 32 {
		wasmgate.Log(wasmgate.LevelWarn, "the secret is shorter than 32 bytes, the 256 bits RFC 7518 asks of an HS256 key")
	}
	a.cfg = cfg
	a.verifier = verifier{
		secret:     []byte(cfg.Secret),
		claim:      cfg.Claim,
		issuer:     cfg.Issuer,
		audience:   cfg.Audience,
		leeway:     time.Duration(cfg.LeewaySeconds) * time.Second,
		requireExp: cfg.RequireExp,
	}
	var err error
	if a.accepted, err = wasmgate.NewCounter("auth_accepted"); err != nil {
		return err
	}
	a.rejected, err = wasmgate.NewCounter("auth_rejected")
	return err
}

func (a *auth) Open(c *wasmgate.Conn, r *wasmgate.Request) wasmgate.Action {
	if r.Reopened() {
		// The plugin was replaced on a live connection: its handshake was
		// checked by the previous instance and cannot be refused now.
		return wasmgate.Continue
	}
	token, fromHeader, err := a.token(r)
	var user string
	if err == nil {
		user, err = a.verifier.verify(token, wasmgate.Now())
	}
	if err != nil {
		a.rejected.Add(1)
		// The reason, never the token: a log must not hold credentials.
		wasmgate.Log(wasmgate.LevelDebug, "refused "+r.RemoteAddr()+": "+err.Error())
		return unauthorized(r, err)
	}
	if a.cfg.StripToken {
		if fromHeader {
			if err := r.RemoveUpstreamHeader(a.cfg.Header); err != nil {
				return internalError(r, "removing the token's header", err)
			}
		} else if err := r.SetUpstreamURI(uriWithout(r.URI(), a.cfg.Query)); err != nil {
			return internalError(r, "removing the token from the query", err)
		}
	}
	if a.cfg.UserHeader != "" {
		// Set, not add: a value the client sent itself must not survive.
		if err := r.SetUpstreamHeader(a.cfg.UserHeader, user); err != nil {
			return internalError(r, "setting the user header", err)
		}
	}
	a.accepted.Add(1)
	return wasmgate.Continue
}

// uriWithout returns the request-target uri without the query parameter
// name, path and other parameters as the client wrote them.
func uriWithout(uri, name string) string {
	path, query, _ := strings.Cut(uri, "?")
	if query = withoutParam(query, name); query != "" {
		return path + "?" + query
	}
	return path
}

// token finds the request's token: in the header when it is there, else
// in the query. fromHeader tells where it was.
func (a *auth) token(r *wasmgate.Request) (token string, fromHeader bool, err error) {
	if a.cfg.Header != "" {
		switch values := r.HeaderValues(a.cfg.Header); len(values) {
		case 0:
		case 1:
			t, err := bearerToken(values[0], !strings.EqualFold(a.cfg.Header, "authorization"))
			return t, true, err
		default:
			// Which one would the upstream believe?
			return "", true, errMalformed
		}
	}
	if a.cfg.Query != "" {
		if t, ok := queryToken(r.Query(), a.cfg.Query); ok {
			if t == "" {
				return "", false, errMissing
			}
			return t, false, nil
		}
	}
	return "", false, errMissing
}

// unauthorized refuses the handshake with 401 and the reason, in the body
// and in the WWW-Authenticate header. RFC 6750, 3.1: a request with no
// token at all gets the challenge without an error code.
func unauthorized(r *wasmgate.Request, reason error) wasmgate.Action {
	challenge := "Bearer"
	if reason != errMissing {
		challenge = `Bearer error="invalid_token", error_description="` + reason.Error() + `"`
	}
	for _, h := range [][2]string{
		{"www-authenticate", challenge},
		{"content-type", "text/plain; charset=utf-8"},
	} {
		if err := r.RejectHeader(h[0], h[1]); err != nil {
			wasmgate.Log(wasmgate.LevelError, "reject header "+h[0]+": "+err.Error())
		}
	}
	return r.Reject(401, []byte(reason.Error()+"\n"))
}

// internalError refuses a handshake the filter could not pass on as it
// should: letting it through would skip what the filter promises.
func internalError(r *wasmgate.Request, doing string, err error) wasmgate.Action {
	wasmgate.Log(wasmgate.LevelError, doing+": "+err.Error()+" (code "+strconv.Itoa(int(wasmgate.Code(err)))+")")
	return r.Reject(500, []byte("internal error\n"))
}

func init() { wasmgate.Register(&auth{}) }

func main() {}
