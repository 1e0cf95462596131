package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func mustSchema(t testing.TB, fields map[string]kind, required []string, allowUnknown bool, maxDepth int) *schema {
	t.Helper()
	s, err := newSchema(fields, required, allowUnknown, maxDepth)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCheck(t *testing.T) {
	fields := map[string]kind{
		"type": kindString, "id": kindNumber, "n": kindInteger, "ok": kindBoolean,
		"payload": kindObject, "list": kindArray, "nothing": kindNull, "x": kindAny,
	}
	open := mustSchema(t, fields, []string{"type", "id"}, true, 3)
	closed := mustSchema(t, fields, []string{"type", "id"}, false, 3)
	long := strings.Repeat("é", 40) // 80 bytes

	for _, tc := range []struct {
		s    *schema
		msg  string
		want string // "" for a valid message
	}{
		{open, `{"type":"a","id":1}`, ""},
		{open, ` { "id" : -1.5e3 , "type" : "" } `, ""},
		{open, `{"type":"a","id":1,"n":-7,"ok":false,"payload":{"a":[1]},"list":[],"nothing":null,"x":"any"}`, ""},
		{open, `{"type":"a","id":1,"extra":{"deep":[1]}}`, ""},
		{open, `{"typ\u0065":"a","id":1}`, ""},
		{closed, `{"type":"a","id":1,"x":[true]}`, ""},

		{open, `{"type":"a","id":1`, "invalid JSON at byte 18"},
		{open, `{"type":"a","id":01}`, "invalid JSON at byte 18"},
		{open, `{"type":"a","id":1,}`, "invalid JSON at byte 19"},
		{open, `{"type":"a","id":1} {}`, "invalid JSON at byte 20"},
		{open, "{\"type\":\"a\x01\",\"id\":1}", "invalid JSON at byte 10"},
		{open, `{"type":"\q","id":1}`, "invalid JSON at byte 10"},
		{open, `{"type":"\u12G4","id":1}`, "invalid JSON at byte 11"},
		{open, `{'type':"a"}`, "invalid JSON at byte 1"},
		{open, `hello`, "invalid JSON at byte 0"},
		{open, ``, "invalid JSON at byte 0"},
		{open, "{\"type\":\"\xff\"}", "invalid JSON: not UTF-8"},
		// A syntax error wins over a field that breaks the schema.
		{open, `{"id":"1","type":`, "invalid JSON at byte 17"},

		{open, `[1,2]`, "not an object"},
		{open, `"text"`, "not an object"},
		{open, ` null `, "not an object"},

		{open, `{"type":"a"}`, "missing field id"},
		{open, `{}`, "missing field type"},
		{open, `{"id":"1","type":"a"}`, "field id: want number, got string"},
		{open, `{"type":"a","id":1,"n":1.0}`, "field n: want integer, got number"},
		{open, `{"type":"a","id":1,"n":1e2}`, "field n: want integer, got number"},
		{open, `{"type":"a","id":1,"ok":"true"}`, "field ok: want boolean, got string"},
		{open, `{"type":"a","id":1,"payload":[]}`, "field payload: want object, got array"},
		{open, `{"type":"a","id":1,"list":{}}`, "field list: want array, got object"},
		{open, `{"type":"a","id":1,"nothing":0}`, "field nothing: want null, got integer"},
		{open, `{"type":null,"id":1}`, "field type: want string, got null"},
		// The first member that breaks the schema is the one reported, and
		// it wins over a missing field.
		{open, `{"id":true,"type":1}`, "field id: want number, got boolean"},
		{closed, `{"type":"a","id":1,"extra":1}`, "unknown field extra"},
		{closed, `{"type":"a","id":1,"` + long + `":1}`, "unknown field " + strings.Repeat("é", 32) + "..."},
		{closed, `{"\u0000\"":1,"type":"a","id":1}`, "unknown field \x00\""},
		{open, `{"type":"a","id":1,"id":2}`, "duplicate field id"},
		{open, `{"type":"a","id":1,"t\u0079pe":"b"}`, "duplicate field type"},

		{open, `{"type":"a","id":1,"x":[[1]]}`, ""},
		{open, `{"type":"a","id":1,"x":[[[1]]]}`, "nesting deeper than 3"},
		{open, `{"type":"a","id":1,"x":{"a":{"b":{}}}}`, "nesting deeper than 3"},
		{open, `[[[[]]]]`, "nesting deeper than 3"},
		// Depth stops the scan: what follows is not read.
		{open, `{"x":[[[1]]], "id":"broken`, "nesting deeper than 3"},
	} {
		got := ""
		if err := tc.s.check([]byte(tc.msg)); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("check(%q) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}

func TestNewSchema(t *testing.T) {
	fields := map[string]kind{"a": kindAny, "b": kindString, "c": kindNull}
	if _, err := newSchema(fields, []string{"a", "zz"}, true, 1); err == nil || !strings.Contains(err.Error(), `"zz" is not in fields`) {
		t.Errorf("unknown required field: %v", err)
	}
	if _, err := newSchema(fields, []string{"a", "a"}, true, 1); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Errorf("required field listed twice: %v", err)
	}
	// Missing fields are reported in the order required lists them.
	s := mustSchema(t, fields, []string{"c", "a", "b"}, true, 1)
	for _, tc := range []struct{ msg, want string }{
		{`{}`, "missing field c"},
		{`{"c":null}`, "missing field a"},
		{`{"c":null,"a":0}`, "missing field b"},
	} {
		if err := s.check([]byte(tc.msg)); err == nil || err.Error() != tc.want {
			t.Errorf("check(%s) = %v, want %s", tc.msg, err, tc.want)
		}
	}
}

func TestParseKind(t *testing.T) {
	for k := range kindNames {
		if got, ok := parseKind(kind(k).String()); !ok || got != kind(k) {
			t.Errorf("parseKind(%q) = %v, %v", kind(k).String(), got, ok)
		}
	}
	if _, ok := parseKind("String"); ok {
		t.Error(`parseKind("String") succeeded`)
	}
}

func TestCheckAllocates(t *testing.T) {
	s := mustSchema(t, map[string]kind{"type": kindString, "id": kindNumber}, []string{"type"}, true, 32)
	msg := []byte(`{"type":"chat","id":12,"t\u0065xt":"hello","meta":{"tags":["a","b"]}}`)
	if n := testing.AllocsPerRun(100, func() { s.check(msg) }); n != 0 {
		t.Errorf("a valid message costs %v allocations", n)
	}
}

// FuzzCheck checks the scanner against encoding/json: on UTF-8 text a
// permissive schema accepts exactly the JSON objects, reports "not an
// object" for the other JSON values, and a syntax error otherwise.
func FuzzCheck(f *testing.F) {
	for _, seed := range []string{`{"a":[1,2.5e-3,{"b":null}],"c":"\u00e9\ud83d\ude00"}`, `[true,false]`, `"x"`, `-0.0E+1`, `{"a":1,}`, `{"\ud800":1}`} {
		f.Add([]byte(seed))
	}
	s := mustSchema(f, nil, nil, true, 10000)
	f.Fuzz(func(t *testing.T, msg []byte) {
		if !utf8.Valid(msg) {
			return
		}
		err := s.check(msg)
		// json.Valid, not Unmarshal: a number too large for a float64 is
		// valid JSON, which Unmarshal refuses to convert.
		valid := json.Valid(msg)
		isObject := valid && bytes.TrimLeft(msg, " \t\r\n")[0] == '{'
		switch {
		case valid && isObject && err != nil:
			t.Fatalf("check(%q) = %v, want nil", msg, err)
		case valid && !isObject && (err == nil || err.Error() != "not an object"):
			t.Fatalf("check(%q) = %v, want not an object", msg, err)
		case !valid && (err == nil || !strings.HasPrefix(err.Error(), "invalid JSON")):
			t.Fatalf("check(%q) = %v, want invalid JSON", msg, err)
		}
	})
}

// FuzzUnescape checks member names decoded with escapes against
// encoding/json.
func FuzzUnescape(f *testing.F) {
	for _, seed := range []string{`"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\ud83d\ude00"`, `"\ud800x"`, `"\ud800\u0041"`, `"\udc00\ud800"`, `"\ud800\\u0041"`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, lit []byte) {
		var want string
		// encoding/json also takes the white space around a value.
		if !utf8.Valid(lit) || len(bytes.TrimSpace(lit)) != len(lit) || json.Unmarshal(lit, &want) != nil {
			return
		}
		sc := scanner{p: lit}
		raw, _ := sc.str()
		if sc.err != nil || sc.i != len(lit) {
			t.Fatalf("scanner refused %q, which encoding/json takes", lit)
		}
		if got := unescape(nil, raw); !bytes.Equal(got, []byte(want)) {
			t.Fatalf("unescape(%q) = %q, want %q", raw, got, want)
		}
	})
}
