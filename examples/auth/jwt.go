package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// The reasons a token is refused. Their text is the body of the 401 and
// the error_description of its WWW-Authenticate header, so it must stay
// within the characters RFC 6750 allows there (no '"' nor '\').
var (
	errMissing     = errors.New("missing token")
	errScheme      = errors.New("authorization scheme is not Bearer")
	errMalformed   = errors.New("malformed token")
	errAlgorithm   = errors.New("unsupported algorithm")
	errCritical    = errors.New("unsupported critical header")
	errSignature   = errors.New("bad signature")
	errNoExpiry    = errors.New("token has no expiry")
	errExpired     = errors.New("token expired")
	errNotYetValid = errors.New("token not yet valid")
	errIssuer      = errors.New("wrong issuer")
	errAudience    = errors.New("wrong audience")
	errUser        = errors.New("token has no valid user claim")
)

// maxTokenLen bounds the work an unauthenticated client can ask for.
const maxTokenLen = 8 << 10

// verifier checks JSON Web Tokens signed with HS256 (RFC 7519, RFC 7515).
type verifier struct {
	secret     []byte
	claim      string // the claim that names the user
	issuer     string // required iss, when not empty
	audience   string // required in aud, when not empty
	leeway     time.Duration
	requireExp bool
}

// verify checks token at time now and returns the user its claim names,
// or one of the err variables. The signature is checked before anything
// in the payload is believed, and the algorithm before the signature: a
// token cannot choose "none", or another key type, for itself.
func (v *verifier) verify(token string, now time.Time) (string, error) {
	if len(token) > maxTokenLen {
		return "", errMalformed
	}
	header, rest, ok1 := strings.Cut(token, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	// An empty signature is well-formed: it is how "alg":"none" tokens
	// look, and they deserve the algorithm's refusal.
	if !ok1 || !ok2 || header == "" || payload == "" {
		return "", errMalformed
	}
	rawHeader, err1 := decodeSegment(header)
	rawPayload, err2 := decodeSegment(payload)
	rawSig, err3 := decodeSegment(sig)
	if err1 != nil || err2 != nil || err3 != nil {
		return "", errMalformed
	}

	var h map[string]any
	if json.Unmarshal(rawHeader, &h) != nil || h == nil {
		return "", errMalformed
	}
	if alg, _ := h["alg"].(string); alg != "HS256" {
		return "", errAlgorithm
	}
	// RFC 7515, 4.1.11: an extension listed as critical must be
	// understood, and this verifier understands none.
	if _, ok := h["crit"]; ok {
		return "", errCritical
	}
	mac := hmac.New(sha256.New, v.secret)
	mac.Write([]byte(token[:len(header)+1+len(payload)]))
	if !hmac.Equal(mac.Sum(nil), rawSig) {
		return "", errSignature
	}

	var claims map[string]any
	if json.Unmarshal(rawPayload, &claims) != nil || claims == nil {
		return "", errMalformed
	}
	t := float64(now.UnixNano()) / 1e9
	leeway := v.leeway.Seconds()
	switch exp, err := numericDate(claims, "exp"); {
	case err != nil:
		return "", err
	case exp == nil && v.requireExp:
		return "", errNoExpiry
	case exp != nil && t >= *exp+leeway:
		return "", errExpired
	}
	switch nbf, err := numericDate(claims, "nbf"); {
	case err != nil:
		return "", err
	case nbf != nil && t < *nbf-leeway:
		return "", errNotYetValid
	}
	if v.issuer != "" {
		if iss, _ := claims["iss"].(string); iss != v.issuer {
			return "", errIssuer
		}
	}
	if v.audience != "" && !hasAudience(claims["aud"], v.audience) {
		return "", errAudience
	}
	user, _ := claims[v.claim].(string)
	if !headerSafe(user) {
		return "", errUser
	}
	return user, nil
}

// decodeSegment decodes one part of a token: base64url without padding
// (RFC 7515, 2). The alphabet is checked first because the decoder skips
// line breaks, which would let two spellings of a token verify.
func decodeSegment(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return nil, errMalformed
		}
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

// numericDate returns the claim name as seconds since the epoch, nil when
// the token has no such claim, and errMalformed when it is not a number.
func numericDate(claims map[string]any, name string) (*float64, error) {
	v, ok := claims[name]
	if !ok {
		return nil, nil
	}
	f, ok := v.(float64)
	if !ok {
		return nil, errMalformed
	}
	return &f, nil
}

// hasAudience reports whether an aud claim, a string or a list of
// strings (RFC 7519, 4.1.3), names want.
func hasAudience(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, x := range a {
			if s, _ := x.(string); s == want {
				return true
			}
		}
	}
	return false
}

// headerSafe reports whether s can be sent as a header value: not empty,
// no control characters (a user id with a line break must not reach the
// upstream's request).
func headerSafe(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// bearerToken returns the token of an Authorization-style value,
// "Bearer <token>" with the scheme in any case (RFC 7235, 2.1). When bare
// is set, a value without the scheme is the token itself, for headers
// that carry nothing else.
func bearerToken(value string, bare bool) (string, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return "", errMissing
	}
	scheme, token, _ := strings.Cut(value, " ")
	switch {
	case strings.EqualFold(scheme, "bearer"):
		token = strings.TrimLeft(token, " ")
	case bare:
		token = value
	default:
		return "", errScheme
	}
	if token == "" {
		return "", errMissing
	}
	return token, nil
}

// queryToken returns the value of the query parameter name, and false
// when the query has none. The value is taken as written: the characters
// of a token (base64url and '.') need no escaping, so one that is escaped
// is malformed.
// withoutParam returns query without its parameters named name, the
// others in their order and as written.
func withoutParam(query, name string) string {
	var b strings.Builder
	for query != "" {
		var pair string
		pair, query, _ = strings.Cut(query, "&")
		if k, _, _ := strings.Cut(pair, "="); k == name {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(pair)
	}
	return b.String()
}

func queryToken(query, name string) (string, bool) {
	for query != "" {
		var pair string
		pair, query, _ = strings.Cut(query, "&")
		if k, v, _ := strings.Cut(pair, "="); k == name {
			return v, true
		}
	}
	return "", false
}
