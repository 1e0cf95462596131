package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"
)

const testSecret = "0123456789abcdef0123456789abcdef"

var testNow = time.Unix(1_700_000_000, 0)

// mint signs header and claims (JSON texts) with secret.
func mint(secret, header, claims string) string {
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signed))
	return signed + "." + enc.EncodeToString(mac.Sum(nil))
}

// unsigned returns a token with an empty signature, as "alg":"none"
// tokens are.
func unsigned(header, claims string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims)) + "."
}

const hs256 = `{"alg":"HS256","typ":"JWT"}`

func TestVerify(t *testing.T) {
	v := verifier{secret: []byte(testSecret), claim: "sub", leeway: 30 * time.Second, requireExp: true}
	strict := v
	strict.issuer, strict.audience = "https://id.example", "chat"
	optionalExp := v
	optionalExp.requireExp = false

	valid := mint(testSecret, hs256, `{"sub":"alice","exp":1700000060}`)
	for _, tc := range []struct {
		name  string
		v     verifier
		token string
		user  string
		err   error
	}{
		{"valid", v, valid, "alice", nil},
		{"valid, fractional exp", v, mint(testSecret, hs256, `{"sub":"bob","exp":1700000000.5e0}`), "bob", nil},
		{"within leeway after exp", v, mint(testSecret, hs256, `{"sub":"a","exp":1699999971}`), "a", nil},
		{"expired", v, mint(testSecret, hs256, `{"sub":"a","exp":1699999970}`), "", errExpired},
		{"within leeway before nbf", v, mint(testSecret, hs256, `{"sub":"a","exp":1700000100,"nbf":1700000030}`), "a", nil},
		{"not yet valid", v, mint(testSecret, hs256, `{"sub":"a","exp":1700000100,"nbf":1700000031}`), "", errNotYetValid},
		{"no exp", v, mint(testSecret, hs256, `{"sub":"a"}`), "", errNoExpiry},
		{"no exp, not required", optionalExp, mint(testSecret, hs256, `{"sub":"a"}`), "a", nil},
		{"exp not a number", v, mint(testSecret, hs256, `{"sub":"a","exp":"1700000060"}`), "", errMalformed},
		{"nbf not a number", v, mint(testSecret, hs256, `{"sub":"a","exp":1700000060,"nbf":true}`), "", errMalformed},
		{"issuer and audience list", strict, mint(testSecret, hs256, `{"sub":"a","exp":1700000060,"iss":"https://id.example","aud":["x","chat"]}`), "a", nil},
		{"audience string", strict, mint(testSecret, hs256, `{"sub":"a","exp":1700000060,"iss":"https://id.example","aud":"chat"}`), "a", nil},
		{"wrong issuer", strict, mint(testSecret, hs256, `{"sub":"a","exp":1700000060,"iss":"https://evil.example","aud":"chat"}`), "", errIssuer},
		{"no issuer", strict, mint(testSecret, hs256, `{"sub":"a","exp":1700000060,"aud":"chat"}`), "", errIssuer},
		{"wrong audience", strict, mint(testSecret, hs256, `{"sub":"a","exp":1700000060,"iss":"https://id.example","aud":["x"]}`), "", errAudience},
		{"no user", v, mint(testSecret, hs256, `{"exp":1700000060}`), "", errUser},
		{"user not a string", v, mint(testSecret, hs256, `{"sub":42,"exp":1700000060}`), "", errUser},
		{"user with a line break", v, mint(testSecret, hs256, `{"sub":"a\r\nx-admin: 1","exp":1700000060}`), "", errUser},
		{"bad signature", v, mint("another secret, just as long....", hs256, `{"sub":"a","exp":1700000060}`), "", errSignature},
		{"alg none", v, unsigned(`{"alg":"none"}`, `{"sub":"a","exp":1700000060}`), "", errAlgorithm},
		{"alg none, with a signature", v, mint(testSecret, `{"alg":"none"}`, `{"sub":"a","exp":1700000060}`), "", errAlgorithm},
		{"alg HS512", v, mint(testSecret, `{"alg":"HS512"}`, `{"sub":"a","exp":1700000060}`), "", errAlgorithm},
		{"alg lower case", v, mint(testSecret, `{"alg":"hs256"}`, `{"sub":"a","exp":1700000060}`), "", errAlgorithm},
		{"no alg", v, mint(testSecret, `{"typ":"JWT"}`, `{"sub":"a","exp":1700000060}`), "", errAlgorithm},
		{"crit", v, mint(testSecret, `{"alg":"HS256","crit":["x"],"x":1}`, `{"sub":"a","exp":1700000060}`), "", errCritical},
		{"two parts", v, "abc.def", "", errMalformed},
		{"four parts", v, valid + ".x", "", errMalformed},
		{"empty signature", v, unsigned(hs256, `{"sub":"a","exp":1700000060}`), "", errSignature},
		{"empty payload", v, "eyJhbGciOiJIUzI1NiJ9..", "", errMalformed},
		{"padding", v, valid + "=", "", errMalformed},
		{"line break in a part", v, valid[:10] + "\n" + valid[10:], "", errMalformed},
		{"header not JSON", v, mint(testSecret, `alg=HS256`, `{}`), "", errMalformed},
		{"header not an object", v, mint(testSecret, `["HS256"]`, `{}`), "", errMalformed},
		{"claims not an object", v, mint(testSecret, hs256, `"alice"`), "", errMalformed},
		{"claims null", v, mint(testSecret, hs256, `null`), "", errMalformed},
		{"too long", v, mint(testSecret, hs256, `{"sub":"`+string(make([]byte, maxTokenLen))+`"}`), "", errMalformed},
	} {
		user, err := tc.v.verify(tc.token, testNow)
		if user != tc.user || err != tc.err {
			t.Errorf("%s: verify = %q, %v; want %q, %v", tc.name, user, err, tc.user, tc.err)
		}
	}
}

// TestReasonsFitTheChallenge checks that every reason can be quoted in an
// error_description (RFC 6750, 3: %x20-21 / %x23-5B / %x5D-7E).
func TestReasonsFitTheChallenge(t *testing.T) {
	for _, err := range []error{errMissing, errScheme, errMalformed, errAlgorithm, errCritical, errSignature,
		errNoExpiry, errExpired, errNotYetValid, errIssuer, errAudience, errUser} {
		for _, c := range []byte(err.Error()) {
			if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
				t.Errorf("reason %q has %q", err, c)
			}
		}
	}
}

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		value string
		bare  bool
		token string
		err   error
	}{
		{"Bearer abc", false, "abc", nil},
		{"bearer  abc ", false, "abc", nil},
		{"BEARER abc", true, "abc", nil},
		{"abc", true, "abc", nil},
		{"abc", false, "", errScheme},
		{"Basic dXNlcjpwdw==", false, "", errScheme},
		{"Bearer", false, "", errMissing},
		{"Bearer ", false, "", errMissing},
		{"", false, "", errMissing},
		{"  ", true, "", errMissing},
	} {
		token, err := bearerToken(tc.value, tc.bare)
		if token != tc.token || err != tc.err {
			t.Errorf("bearerToken(%q, %v) = %q, %v; want %q, %v", tc.value, tc.bare, token, err, tc.token, tc.err)
		}
	}
}

func TestWithoutParam(t *testing.T) {
	for _, tc := range []struct{ query, want string }{
		{"token=a.b.c", ""},
		{"room=1&token=a.b.c&x", "room=1&x"},
		{"token=first&room=1&token=second", "room=1"},
		{"tokens=a&token", "tokens=a"},
		{"room=%20&a=b", "room=%20&a=b"},
		{"", ""},
	} {
		if got := withoutParam(tc.query, "token"); got != tc.want {
			t.Errorf("withoutParam(%q) = %q, want %q", tc.query, got, tc.want)
		}
	}
}

func TestQueryToken(t *testing.T) {
	for _, tc := range []struct {
		query, token string
		ok           bool
	}{
		{"token=a.b.c", "a.b.c", true},
		{"room=1&token=a.b.c&x", "a.b.c", true},
		{"token=", "", true},
		{"token", "", true},
		{"tokens=a", "", false},
		{"", "", false},
		{"token=first&token=second", "first", true},
	} {
		token, ok := queryToken(tc.query, "token")
		if token != tc.token || ok != tc.ok {
			t.Errorf("queryToken(%q) = %q, %v; want %q, %v", tc.query, token, ok, tc.token, tc.ok)
		}
	}
}
