package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// TestConfig_EffectiveJSON renders testdata/effective/config.hcl and
// compares it with config.golden.json. Run `go test -run
// TestConfig_EffectiveJSON -update` to rewrite the golden file.
func TestConfig_EffectiveJSON(t *testing.T) {
	const secret = "s3cret-from-env"
	t.Setenv("WASMGATE_TEST_SECRET", secret)
	src, err := os.ReadFile(filepath.Join("testdata", "effective", "config.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	golden, err := filepath.Abs(filepath.Join("testdata", "effective", "config.golden.json"))
	if err != nil {
		t.Fatal(err)
	}

	// The certificates and modules are generated, not committed: load a
	// copy of the file from a directory that holds them too, at the same
	// relative path, so that the paths in the output are the same.
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "testdata", "effective")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pki := writeTestPKI(t)
	for _, name := range []string{"cert.pem", "key.pem", "ca.pem", "client.pem", "client-key.pem", "hello.txt"} {
		b, err := os.ReadFile(filepath.Join(pki, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeTestPlugins(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "config.hcl"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(tmp)

	cfg, diags := Load("testdata/effective/config.hcl")
	if len(diags) > 0 {
		var b strings.Builder
		_ = cfg.WriteDiagnostics(&b, diags)
		t.Fatalf("unexpected diagnostics:\n%s", b.String())
	}
	got, err := cfg.EffectiveJSON()
	if err != nil {
		t.Fatal(err)
	}

	// Whatever the golden file says, no secret may appear, and the
	// plugin still gets it.
	for _, s := range []string{secret, "hunter2", "k-literal", "literal-pem", "literal-token", "abc123", "hello"} {
		if bytes.Contains(got, []byte(s)) {
			t.Errorf("the effective configuration holds the secret %q:\n%s", s, got)
		}
	}
	if !bytes.Contains(cfg.Plugins[0].Config, []byte(secret)) || string(cfg.Plugins[1].Config) != `"`+secret+`"` {
		t.Errorf("redaction changed the plugins' configs: %s and %s", cfg.Plugins[0].Config, cfg.Plugins[1].Config)
	}
	if again, err := cfg.EffectiveJSON(); err != nil || !bytes.Equal(again, got) {
		t.Errorf("a second call gave other bytes (%v):\n%s", err, again)
	}

	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("EffectiveJSON differs from %s (run with -update to accept):\n--- got\n%s\n--- want\n%s", golden, got, want)
	}
}

// TestConfig_EffectiveJSON_defaults checks the document of a minimal
// configuration: every default present, and admin null.
func TestConfig_EffectiveJSON_defaults(t *testing.T) {
	cfg, _ := mustParse(t, lines(
		`listener "public" { address = "127.0.0.1:8080" }`,
		`upstream "chat" { servers = ["ws://127.0.0.1:9000"] }`,
		`route "chat" { upstream = "chat" }`,
	), "")
	js, err := cfg.EffectiveJSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, js)
	}
	route := doc["routes"].([]any)[0].(map[string]any)
	upstream := doc["upstreams"].([]any)[0].(map[string]any)
	// A route gets the global limits but max_connections, which caps the
	// whole proxy, not each route.
	routeLimits := maps.Clone(doc["limits"].(map[string]any))
	routeLimits["max_connections"] = 0
	tests := []struct {
		name string
		got  any
		want string // as JSON
	}{
		{name: "source", got: doc["source"], want: `"test.hcl"`},
		{name: "admin", got: doc["admin"], want: `null`},
		{name: "plugins", got: doc["plugins"], want: `[]`},
		{name: "listener", got: doc["listeners"], want: `[{"address":"127.0.0.1:8080","console":false,"name":"public","reuse_port":false,"tls":null}]`},
		{name: "upstream timeouts", got: []any{upstream["connect_timeout"], upstream["handshake_timeout"], upstream["tls"]}, want: `["5s","10s",null]`},
		{name: "route host and path", got: []any{route["host"], route["path"], route["exact_path"]}, want: `[null,"/",null]`},
		{name: "route header rules", got: []any{route["headers"], route["origins"], route["forward_headers"], route["drop_headers"], route["filters"]}, want: `[null,null,null,[],[]]`},
		{name: "route listener and upstream", got: []any{route["listener"], route["upstream"]}, want: `["public","chat"]`},
		{name: "global limits", got: doc["limits"], want: `{"client_max_frame_size":16777216,"client_max_message_size":16777216,` +
			`"close_timeout":"5s","handshake_timeout":"10s","idle_timeout":"1h0m0s",` +
			fmt.Sprintf(`"max_connections":%d,"max_connections_per_ip":0,`, defaultMaxConnections()) +
			`"max_frame_size":16777216,"max_header_size":8192,"max_message_rate":0,"max_message_size":16777216,` +
			`"message_burst":0,"ping_interval":"30s","pong_timeout":"15s",` +
			`"upstream_max_frame_size":16777216,"upstream_max_message_size":16777216,"write_timeout":"30s"}`},
		{name: "route limits", got: route["limits"], want: mustMarshal(t, routeLimits)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustMarshal(t, tt.got); got != tt.want {
				t.Errorf("%s = %s, want %s", tt.name, got, tt.want)
			}
		})
	}
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestConfig_EffectiveJSON_built checks a Config that Load did not make:
// with no record of env() and file(), key names alone decide.
func TestConfig_EffectiveJSON_built(t *testing.T) {
	cfg := &Config{
		Plugins: []*Plugin{{Name: "p", Config: []byte(`{"user":"u","Password":"p4ss","nested":[{"token":"t0k"}]}`)}},
		Routes:  []*Route{{Name: "r", Headers: map[string]string{"Authorization": "Bearer b34rer", "X-Tenant": "acme"}}},
	}
	js, err := cfg.EffectiveJSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Plugins []struct {
			Config json.RawMessage `json:"config"`
		} `json:"plugins"`
		Routes []struct {
			Headers map[string]string `json:"headers"`
		} `json:"routes"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatal(err)
	}
	var config bytes.Buffer
	if err := json.Compact(&config, doc.Plugins[0].Config); err != nil {
		t.Fatal(err)
	}
	if got, want := config.String(), `{"Password":"[redacted]","nested":[{"token":"[redacted]"}],"user":"u"}`; got != want {
		t.Errorf("config = %s, want %s", got, want)
	}
	if got := doc.Routes[0].Headers; got["Authorization"] != redacted || got["X-Tenant"] != "acme" {
		t.Errorf("headers = %v", got)
	}
}

func TestRedactConfig(t *testing.T) {
	pki := writeTestPKI(t)
	t.Setenv("WASMGATE_TEST_SECRET", "s3cret")
	tests := []struct {
		name string
		expr string // the value of config
		want string
	}{
		{name: "literals pass", expr: `{ rooms = ["a", "b"], n = 1.5, on = true, none = null }`,
			want: `{"n":1.5,"none":null,"on":true,"rooms":["a","b"]}`},
		{name: "whole config from env", expr: `env("WASMGATE_TEST_SECRET")`, want: `"[redacted]"`},
		{name: "whole config in parentheses", expr: `(env("WASMGATE_TEST_SECRET"))`, want: `"[redacted]"`},
		{name: "item from env", expr: `{ a = env("WASMGATE_TEST_SECRET"), b = "x" }`, want: `{"a":"[redacted]","b":"x"}`},
		{name: "item from a file", expr: `{ a = file("hello.txt"), b = "x" }`, want: `{"a":"[redacted]","b":"x"}`},
		{name: "env with a default", expr: `{ a = env("WASMGATE_TEST_UNSET", "dflt") }`, want: `{"a":"[redacted]"}`},
		{name: "template that reads env", expr: `{ url = "https://u:${env("WASMGATE_TEST_SECRET")}@h" }`, want: `{"url":"[redacted]"}`},
		{name: "list element from env", expr: `["a", env("WASMGATE_TEST_SECRET")]`, want: `["a","[redacted]"]`},
		{name: "nested item from env", expr: `{ db = { host = "h", pw = env("WASMGATE_TEST_SECRET") } }`, want: `{"db":{"host":"h","pw":"[redacted]"}}`},
		{name: "for expression that reads env", expr: `{ a = [for s in ["x"] : "${s}${env("WASMGATE_TEST_SECRET")}"], b = 1 }`, want: `{"a":"[redacted]","b":1}`},
		{name: "key from env redacts the object", expr: `{ (env("WASMGATE_TEST_SECRET")) = "v" }`, want: `"[redacted]"`},
		{name: "secret-looking keys at any depth", expr: `{ Secret = "a", db = { PassWord = "b", api_key = { x = 1 } }, list = [{ AuthHeader = "c" }], keep = "d" }`,
			want: `{"Secret":"[redacted]","db":{"PassWord":"[redacted]","api_key":"[redacted]"},"keep":"d","list":[{"AuthHeader":"[redacted]"}]}`},
		{name: "every secret word", expr: `{ secret = 1, password = 1, passwd = 1, token = 1, apikey = 1, api_key = 1, key = 1, credential = 1, private = 1, auth = 1, other = 1 }`,
			want: `{"api_key":"[redacted]","apikey":"[redacted]","auth":"[redacted]","credential":"[redacted]","key":"[redacted]","other":1,"passwd":"[redacted]","password":"[redacted]","private":"[redacted]","secret":"[redacted]","token":"[redacted]"}`},
		{name: "big numbers stay exact", expr: `{ n = 12345678901234567890 }`, want: `{"n":12345678901234567890}`},
		{name: "HTML characters stay as written", expr: `{ u = "a<b>&c" }`, want: `{"u":"a<b>&c"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expr, diags := hclsyntax.ParseExpression([]byte(tt.expr), "test.hcl", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			ctx := evalContext(pki)
			v, diags := expr.Value(ctx)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			js, err := ctyjson.Marshal(v, v.Type())
			if err != nil {
				t.Fatal(err)
			}
			if got := string(redactConfig(js, expr, ctx)); got != tt.want {
				t.Errorf("redactConfig(%s) = %s, want %s", tt.expr, got, tt.want)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ws://h:9000/p", "ws://h:9000/p"},
		{"ws://h/p?room=a&b=c", "ws://h/p?room=a&b=c"},
		{"ws://h/p?access_token=abc&room=a", "ws://h/p?access_token=[redacted]&room=a"},
		{"wss://h/?API%4BEY=abc&flag", "wss://h/?API%4BEY=[redacted]&flag"},
		{"wss://h/?auth", "wss://h/?auth"},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := redactURL(u); got != tt.want {
			t.Errorf("redactURL(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestRedactedHeadersAndURL(t *testing.T) {
	t.Setenv("WASMGATE_TEST_TENANT", "tenant-secret")
	cfg, diags := Parse([]byte(`
listener "l" { address = "127.0.0.1:0" }
upstream "u" { servers = ["ws://127.0.0.1:9000/ws?access_token=tok-secret&room=1"] }
route "r" {
  upstream = "u"
  headers  = { "X-Tenant" = env("WASMGATE_TEST_TENANT"), "X-Api-Key" = "key-secret", "X-Room" = "lobby" }
}
`), "r.hcl", t.TempDir())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	h := cfg.Routes[0].RedactedHeaders()
	if h["X-Tenant"] != "[redacted]" || h["X-Api-Key"] != "[redacted]" || h["X-Room"] != "lobby" {
		t.Errorf("RedactedHeaders() = %v", h)
	}
	if got := RedactURL(cfg.Upstreams[0].Servers[0]); strings.Contains(got, "tok-secret") || !strings.Contains(got, "room=1") {
		t.Errorf("RedactURL = %q", got)
	}
}
