package abi

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The tests read ABI.md, the contract, and check that this package says
// exactly what it says: the same names, values and signatures.

func readSpec(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../ABI.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// section returns the text of the spec from the heading that starts with
// prefix to the next heading of the same level.
func section(t *testing.T, spec, prefix string) string {
	t.Helper()
	i := strings.Index(spec, "\n"+prefix)
	if i < 0 {
		t.Fatalf("ABI.md has no section %q", prefix)
	}
	level := prefix[:strings.IndexByte(prefix, ' ')+1]
	rest := spec[i+1+len(prefix):]
	if j := strings.Index(rest, "\n"+level); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// rowRE matches a table row whose first cell is a backticked name and
// whose second cell is a WAT function type (or "same as `other`").
var rowRE = regexp.MustCompile("(?m)^\\| `([a-z_0-9]+)` \\| (`\\(func[^`]*\\)`|same as `[a-z_]+`|`\\(memory 1\\)`) \\|")

// parseWAT turns "(func (param $a i32) (param $b i64) (result i32))" into
// a Signature.
func parseWAT(t *testing.T, wat string) Signature {
	t.Helper()
	var s Signature
	for _, m := range regexp.MustCompile(`\((param|result)(?: \$\w+)? (i32|i64)\)`).FindAllStringSubmatch(wat, -1) {
		vt := I32
		if m[2] == "i64" {
			vt = I64
		}
		if m[1] == "param" {
			s.Params = append(s.Params, vt)
		} else {
			s.Results = append(s.Results, vt)
		}
	}
	return s
}

func specSignatures(t *testing.T, text string) map[string]Signature {
	t.Helper()
	out := map[string]Signature{}
	pending := map[string]string{}
	for _, m := range rowRE.FindAllStringSubmatch(text, -1) {
		name, typ := m[1], m[2]
		switch {
		case strings.HasPrefix(typ, "same as"):
			pending[name] = strings.Trim(strings.TrimPrefix(typ, "same as "), "`")
		case strings.Contains(typ, "memory"):
			out[name] = Signature{}
		default:
			out[name] = parseWAT(t, typ)
		}
	}
	for name, other := range pending {
		s, ok := out[other]
		if !ok {
			t.Fatalf("ABI.md: %s has the signature of %s, which it does not define", name, other)
		}
		out[name] = s
	}
	return out
}

func equalSig(a, b Signature) bool {
	return slices.Equal(a.Params, b.Params) && slices.Equal(a.Results, b.Results)
}

// checkSignatures compares the signatures ABI.md gives to a table of this
// package; what names the kind of function in messages.
func checkSignatures(t *testing.T, what string, spec, table map[string]Signature) {
	t.Helper()
	if len(spec) != len(table) {
		t.Errorf("ABI.md lists %d %ss, this package %d", len(spec), what, len(table))
	}
	for name, want := range spec {
		got, ok := table[name]
		if !ok {
			t.Errorf("%s %s is in ABI.md but not in this package", what, name)
		} else if !equalSig(got, want) {
			t.Errorf("%s %s: this package has %v, ABI.md says %v", what, name, got, want)
		}
	}
}

func TestExportsMatchSpec(t *testing.T) {
	spec := specSignatures(t, section(t, readSpec(t), "## 3. Guest exports"))
	delete(spec, ExportMemory)
	checkSignatures(t, "function export", spec, ExportSignatures)
}

func TestImportsMatchSpec(t *testing.T) {
	checkSignatures(t, "host function", specSignatures(t, section(t, readSpec(t), "## 4. Host functions")), ImportSignatures)
}

// valueNames maps the spec's names of codes, flags and enumerations to the
// constants.
var valueNames = map[string]int{
	"OK": OK, "ERR_NOT_FOUND": ErrNotFound, "ERR_INVALID_ARGUMENT": ErrInvalidArgument,
	"ERR_TOO_LARGE": ErrTooLarge, "ERR_WRONG_HOOK": ErrWrongHook, "KV_ADD_FULL": KVAddFull,
	"ACTION_CONTINUE": ActionContinue, "ACTION_REJECT": ActionReject,
	"OPEN_TLS": OpenTLS, "OPEN_REOPEN": OpenReopen,
	"DIR_UPSTREAM_TO_CLIENT": DirUpstreamToClient,
	"CLOSE_BY_UPSTREAM":      CloseByUpstream, "CLOSE_ABNORMAL": CloseAbnormal,
	"TYPE_TEXT": TypeText, "TYPE_BINARY": TypeBinary,
	"FIELD_METHOD": FieldMethod, "FIELD_URI": FieldURI, "FIELD_PATH": FieldPath,
	"FIELD_QUERY": FieldQuery, "FIELD_HOST": FieldHost, "FIELD_REMOTE_ADDR": FieldRemoteAddr,
	"FIELD_PROTOCOLS": FieldProtocols, "FIELD_ROUTE": FieldRoute,
	"LOG_DEBUG": LogDebug, "LOG_INFO": LogInfo, "LOG_WARN": LogWarn, "LOG_ERROR": LogError,
	"METRIC_COUNTER": MetricCounter, "METRIC_GAUGE": MetricGauge,
}

func TestValuesMatchSpec(t *testing.T) {
	spec := readSpec(t)
	found := map[string]int{}
	record := func(name string, v int) {
		if prev, ok := found[name]; ok && prev != v {
			t.Errorf("ABI.md gives %s two values: %d and %d", name, prev, v)
		}
		found[name] = v
	}
	// Table rows: | `NAME` ... | value |
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z][A-Z0-9_]+)`[^|]*\\| (-?\\d+) \\|").FindAllStringSubmatch(spec, -1) {
		v, _ := strconv.Atoi(m[2])
		record(m[1], v)
	}
	// Inline: `NAME` (value) and `NAME` (bit n).
	for _, m := range regexp.MustCompile("`([A-Z][A-Z0-9_]+)` \\((bit )?(\\d+)").FindAllStringSubmatch(spec, -1) {
		v, _ := strconv.Atoi(m[3])
		if m[2] != "" {
			v = 1 << v
		}
		record(m[1], v)
	}
	for name, want := range valueNames {
		got, ok := found[name]
		if !ok {
			t.Errorf("%s (%d) is not given a value in ABI.md", name, want)
		} else if got != want {
			t.Errorf("%s: the constant is %d, ABI.md says %d", name, want, got)
		}
	}
	for name := range found {
		if _, ok := valueNames[name]; !ok {
			t.Errorf("ABI.md gives %s a value, but no constant mirrors it", name)
		}
	}
}

func TestMessageInfo(t *testing.T) {
	for _, tt := range []struct {
		length uint32
		typ    int32
	}{{0, TypeText}, {125, TypeBinary}, {1<<32 - 1, TypeText}} {
		info := MessageInfo(tt.length, tt.typ)
		if info < 0 {
			t.Fatalf("MessageInfo(%d, %d) = %d: negative results are errors", tt.length, tt.typ, info)
		}
		if l, ty := SplitMessageInfo(info); l != tt.length || ty != tt.typ {
			t.Fatalf("round trip of (%d, %d) gave (%d, %d)", tt.length, tt.typ, l, ty)
		}
	}
}
