package config

import (
	"bytes"
	"encoding/json"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// redacted replaces every secret value in the effective configuration.
const redacted = "[redacted]"

// secretWords are the substrings of a key name, compared
// case-insensitively, that mark its value as secret.
var secretWords = []string{
	"secret", "password", "passwd", "token", "apikey", "api_key", "key",
	"credential", "private", "auth",
}

// secretKey reports whether the value of an object key or header name is
// presumed secret because of the name.
func secretKey(name string) bool {
	name = strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// readsSecret reports whether evaluating expr calls env() or file(), whose
// results are where secrets come from. An expression not of the native
// syntax cannot be looked into, so it is presumed to.
func readsSecret(expr hcl.Expression) bool {
	se, ok := expr.(hclsyntax.Expression)
	if !ok {
		return true
	}
	found := false
	hclsyntax.VisitAll(se, func(n hclsyntax.Node) hcl.Diagnostics {
		if call, ok := n.(*hclsyntax.FunctionCallExpr); ok && (call.Name == "env" || call.Name == "file") {
			found = true
		}
		return nil
	})
	return found
}

// unparen returns the expression inside any parentheses around expr.
func unparen(expr hcl.Expression) hcl.Expression {
	for {
		p, ok := expr.(*hclsyntax.ParenthesesExpr)
		if !ok {
			return expr
		}
		expr = p.Expression
	}
}

// objectKey evaluates the key of an object item as a string; ok is false
// when it has none.
func objectKey(item hclsyntax.ObjectConsItem, ctx *hcl.EvalContext) (string, bool) {
	v, diags := item.KeyExpr.Value(ctx)
	if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
		return "", false
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil {
		return "", false
	}
	return s.AsString(), true
}

// redactConfig returns the JSON of a plugin's config, js, with every value
// that is secret replaced by "[redacted]": a value whose expression, in
// expr, reads env() or file(), and the value of every key, at any depth,
// whose name secretKey presumes secret. expr is nil when config was not
// written. JSON that does not decode is redacted as a whole.
func redactConfig(js []byte, expr hcl.Expression, ctx *hcl.EvalContext) []byte {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber() // numbers stay exactly as they were
	var v any
	if err := dec.Decode(&v); err != nil {
		return []byte(`"` + redacted + `"`)
	}
	if expr != nil {
		v = redactByExpr(expr, v, ctx)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // as EffectiveJSON, which embeds it
	if err := enc.Encode(redactByKey(v)); err != nil {
		return []byte(`"` + redacted + `"`)
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n"))
}

// redactByExpr replaces the parts of v, the decoded value of expr, that
// expr reads with env() or file(). Objects and lists written out item by
// item are redacted item by item; any other expression that reads a
// secret, as a whole.
func redactByExpr(expr hcl.Expression, v any, ctx *hcl.EvalContext) any {
	if !readsSecret(expr) {
		return v
	}
	switch e := unparen(expr).(type) {
	case *hclsyntax.ObjectConsExpr:
		m, ok := v.(map[string]any)
		if !ok {
			return redacted
		}
		for _, item := range e.Items {
			key, ok := objectKey(item, ctx)
			if !ok || readsSecret(item.KeyExpr) {
				// A key read from a secret is a secret itself.
				return redacted
			}
			if cur, ok := m[key]; ok {
				m[key] = redactByExpr(item.ValueExpr, cur, ctx)
			}
		}
		return m
	case *hclsyntax.TupleConsExpr:
		s, ok := v.([]any)
		if !ok || len(s) != len(e.Exprs) {
			return redacted
		}
		for i, x := range e.Exprs {
			s[i] = redactByExpr(x, s[i], ctx)
		}
		return s
	}
	return redacted
}

// redactByKey replaces, at any depth of v, the value of every object key
// that secretKey presumes secret.
func redactByKey(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if secretKey(k) {
				v[k] = redacted
			} else {
				v[k] = redactByKey(x)
			}
		}
	case []any:
		for i, x := range v {
			v[i] = redactByKey(x)
		}
	}
	return v
}

// secretHeaders returns the canonical names of the headers of a route's
// headers attribute, expr, whose values it reads with env() or file().
// all is set when the names cannot be told apart, and every value is to be
// presumed secret.
func secretHeaders(expr hcl.Expression, ctx *hcl.EvalContext) (names map[string]bool, all bool) {
	if expr == nil || !readsSecret(expr) {
		return nil, false
	}
	obj, ok := unparen(expr).(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil, true
	}
	names = map[string]bool{}
	for _, item := range obj.Items {
		if !readsSecret(item.KeyExpr) && !readsSecret(item.ValueExpr) {
			continue
		}
		key, ok := objectKey(item, ctx)
		if !ok || readsSecret(item.KeyExpr) {
			return nil, true
		}
		names[textproto.CanonicalMIMEHeaderKey(key)] = true
	}
	return names, false
}

// redactHeaders returns a route's header conditions with the value of
// each header that is secret, by its name or by where its value came
// from, replaced. It returns nil for no headers.
func redactHeaders(r *Route) map[string]string {
	if r.Headers == nil {
		return nil
	}
	out := make(map[string]string, len(r.Headers))
	for name, v := range r.Headers {
		if secretKey(name) || r.secretHeaders[name] {
			v = redacted
		}
		out[name] = v
	}
	return out
}

// redactURL returns u as a string with the value of each query parameter
// whose name secretKey presumes secret replaced: a token in a server URL
// is as secret as one in a plugin's config.
func redactURL(u *url.URL) string {
	if u.RawQuery == "" {
		return u.String()
	}
	params := strings.Split(u.RawQuery, "&")
	changed := false
	for i, p := range params {
		rawName, _, hasValue := strings.Cut(p, "=")
		name := rawName
		if n, err := url.QueryUnescape(rawName); err == nil {
			name = n
		}
		if hasValue && secretKey(name) {
			// Unescaped, for people to read: the result is never parsed.
			params[i] = rawName + "=" + redacted
			changed = true
		}
	}
	if !changed {
		return u.String()
	}
	c := *u
	c.RawQuery = strings.Join(params, "&")
	return c.String()
}

// RedactedHeaders returns the route's header conditions with the values
// that EffectiveJSON redacts replaced, for anything that shows them: a
// start screen, a log line. nil for no headers.
func (r *Route) RedactedHeaders() map[string]string { return redactHeaders(r) }

// RedactURL returns u as a string with the values of its secret-looking
// query parameters replaced, as EffectiveJSON shows server URLs.
func RedactURL(u *url.URL) string { return redactURL(u) }
