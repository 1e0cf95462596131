package config

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Load reads the configuration at path: one .hcl file, or every *.hcl file
// of a directory (not its subdirectories, and not files whose name starts
// with a dot) in lexical order, merged as one configuration. Relative paths
// in a file (file(), cert_file, key_file, ca_file, client_ca_file, wasm,
// cache_dir) resolve against the file's directory. Plugin modules are read
// and checked against the plugin ABI; nothing is compiled to machine code
// and no instance runs.
//
// On success the diagnostics hold at most warnings. When they hold an
// error, the returned Config is still non-nil but holds only Files, so that
// Config.WriteDiagnostics can show the source of each diagnostic; nothing
// else of it may be used.
func Load(path string) (*Config, hcl.Diagnostics) {
	l := newLoader()
	l.source = path
	info, err := os.Stat(path)
	if err != nil {
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Cannot read configuration",
			Detail:   fmt.Sprintf("%s. Give the path of an .hcl file, or of a directory of .hcl files.", err),
		})
		return l.finish()
	}
	if !info.IsDir() {
		l.loadFile(path, filepath.Dir(path))
		return l.finish()
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Cannot read configuration directory",
			Detail:   fmt.Sprintf("%s.", err),
		})
		return l.finish()
	}
	n := 0
	for _, e := range entries { // sorted by name
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".hcl") {
			continue
		}
		l.loadFile(filepath.Join(path, name), path)
		n++
	}
	if n == 0 {
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No configuration files",
			Detail: fmt.Sprintf("The directory %s holds no .hcl file. A configuration "+
				"directory holds one or more files named *.hcl, loaded in lexical order.", path),
		})
	}
	return l.finish()
}

// Parse parses and validates configuration source held in memory, such as
// an embedded default configuration. filename names the source in
// diagnostics; baseDir is the directory against which relative paths
// (file(), cert_file, key_file, ca_file, client_ca_file, wasm,
// cache_dir) resolve.
//
// The results are those of Load: on error the Config holds only Files.
func Parse(src []byte, filename, baseDir string) (*Config, hcl.Diagnostics) {
	l := newLoader()
	l.source = filename
	l.parse(src, filename, baseDir)
	return l.finish()
}

// loader gathers the blocks of every file, then resolves and validates them
// as one configuration. Each check appends its diagnostic and goes on, so
// that one pass reports as many mistakes as it can.
type loader struct {
	source string // what Load or Parse was given, for Config.Source

	parser *hclparse.Parser
	diags  hcl.Diagnostics

	// order is each parsed file's position in the load order, by name: the
	// diagnostics are sorted by file, then by position in the file.
	order map[string]int
	// firstFile is the first file parsed: configuration-wide diagnostics
	// (no listener, no route) point at its start.
	firstFile string
	// incomplete is set when a file had syntax errors and its blocks are
	// missing: checks that need the whole configuration (unknown names,
	// missing blocks, unused listeners) are skipped rather than reporting
	// errors that are not there.
	incomplete bool

	listeners   []*Listener
	listenerAt  map[string]*Listener // by name, the first declared
	listenAddrs []listenAddr
	upstreams   []*Upstream
	upstreamAt  map[string]*Upstream
	plugins     []*Plugin
	pluginAt    map[string]*Plugin
	routeAt     map[string]hcl.Range
	written     map[string]int // blocks written, by type
	routes      []pendingRoute
	limits      []*limitsBody
	admins      []pendingAdmin
}

// pendingRoute is a route block waiting for every file to be read, since it
// refers to listeners, upstreams and plugins by name.
type pendingRoute struct {
	body *routeBody
	ctx  *hcl.EvalContext
}

func newLoader() *loader {
	return &loader{
		parser:     hclparse.NewParser(),
		order:      map[string]int{},
		listenerAt: map[string]*Listener{},
		upstreamAt: map[string]*Upstream{},
		pluginAt:   map[string]*Plugin{},
		routeAt:    map[string]hcl.Range{},
		written:    map[string]int{},
	}
}

// loadFile reads and parses one file.
func (l *loader) loadFile(path, baseDir string) {
	src, err := readFile(path)
	if err != nil {
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Cannot read configuration file",
			Detail:   fmt.Sprintf("%s.", err),
		})
		l.incomplete = true
		return
	}
	l.parse(src, path, baseDir)
}

// parse parses one file, decodes its blocks, and checks those that stand on
// their own: listeners, upstreams, plugins and the admin block. Routes and
// limits wait for finish, and so do the checks of the admin block against
// the listeners and against other admin blocks.
func (l *loader) parse(src []byte, filename, baseDir string) {
	f, diags := l.parser.ParseHCL(src, filename)
	l.diags = append(l.diags, diags...)
	if f == nil {
		l.incomplete = true
		return
	}
	if _, seen := l.order[filename]; !seen {
		l.order[filename] = len(l.order)
	}
	if l.firstFile == "" {
		l.firstFile = filename
	}
	if diags.HasErrors() {
		// The body of a file with syntax errors is partial; decoding it
		// would mostly report the syntax errors again in other words.
		l.incomplete = true
		return
	}

	// Count the blocks as written: one whose header is wrong (a missing
	// label) is not decoded, but must not be reported as missing too.
	if body, ok := f.Body.(*hclsyntax.Body); ok {
		for _, b := range body.Blocks {
			l.written[b.Type]++
		}
	}

	ctx := evalContext(baseDir)
	var fb fileBody
	l.diags = append(l.diags, dropUnknownCascade(gohcl.DecodeBody(f.Body, ctx, &fb))...)

	for _, b := range fb.Listeners {
		l.addListener(b, baseDir)
	}
	for _, b := range fb.Upstreams {
		l.addUpstream(b, baseDir)
	}
	for _, b := range fb.Plugins {
		l.addPlugin(b, baseDir, ctx)
	}
	for _, b := range fb.Routes {
		l.routes = append(l.routes, pendingRoute{body: b, ctx: ctx})
	}
	l.limits = append(l.limits, fb.Limits...)
	for _, b := range fb.Admins {
		l.addAdmin(b)
	}
}

// finish resolves the routes, runs the configuration-wide checks, and
// returns the result.
func (l *loader) finish() (*Config, hcl.Diagnostics) {
	cfg := &Config{Files: l.parser.Files(), Source: l.source}

	global, explicit := l.globalLimits()
	routes := make([]*Route, 0, len(l.routes))
	for _, p := range l.routes {
		routes = append(routes, l.resolveRoute(p, global, explicit))
	}
	admin := l.finishAdmin()

	if !l.incomplete && l.firstFile != "" {
		start := hcl.Range{
			Filename: l.firstFile,
			Start:    hcl.InitialPos,
			End:      hcl.InitialPos,
		}
		if l.written["listener"] == 0 {
			l.errorf(start, "No listener",
				`The configuration declares no listener block, so wasmgate would `+
					`accept no connection. Declare one, e.g. listener "public" `+
					`{ address = "127.0.0.1:8080" }.`)
		}
		if l.written["route"] == 0 {
			l.errorf(start, "No route",
				`The configuration declares no route block, so no request could `+
					`be proxied. Declare one, e.g. route "default" { upstream = "name" }, `+
					`naming one of the upstream blocks.`)
		}
		l.warnUnusedListeners(routes)
	}

	explain(l.diags, cfg.Files)
	l.sortDiags()
	if l.diags.HasErrors() {
		return cfg, l.diags
	}
	cfg.Listeners = l.listeners
	cfg.Upstreams = l.upstreams
	cfg.Plugins = l.plugins
	cfg.Routes = routes
	cfg.Limits = global
	cfg.Admin = admin
	return cfg, l.diags
}

// warnUnusedListeners warns about each listener that no route names.
func (l *loader) warnUnusedListeners(routes []*Route) {
	used := map[*Listener]bool{}
	for _, r := range routes {
		if r.Listener == nil {
			return // unresolved: the warnings could be wrong
		}
		used[r.Listener] = true
	}
	for _, lis := range l.listeners {
		if !used[lis] && l.listenerAt[lis.Name] == lis {
			l.warnf(lis.DeclRange, "Unused listener",
				"No route uses listener %q, so no connection it accepts can be "+
					"routed. Add a route with listener = %q, or remove the "+
					"listener.", lis.Name, lis.Name)
		}
	}
}

// sortDiags orders the diagnostics by file in load order, then by position
// in the file; those without a subject come first.
func (l *loader) sortDiags() {
	key := func(d *hcl.Diagnostic) (int, int) {
		if d.Subject == nil {
			return -1, 0
		}
		i, ok := l.order[d.Subject.Filename]
		if !ok {
			i = len(l.order)
		}
		return i, d.Subject.Start.Byte
	}
	slices.SortStableFunc(l.diags, func(a, b *hcl.Diagnostic) int {
		af, ab := key(a)
		bf, bb := key(b)
		return cmp.Or(cmp.Compare(af, bf), cmp.Compare(ab, bb))
	})
}

// errorf appends an error diagnostic.
func (l *loader) errorf(subject hcl.Range, summary, format string, args ...any) {
	l.diags = append(l.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  subject.Ptr(),
	})
}

// warnf appends a warning diagnostic.
func (l *loader) warnf(subject hcl.Range, summary, format string, args ...any) {
	l.diags = append(l.diags, &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  subject.Ptr(),
	})
}

// failed reports whether an error was already reported inside rng, such as
// a value of the wrong type: further checks of that value are skipped.
func (l *loader) failed(rng hcl.Range) bool {
	if rng.Filename == "" && rng.Empty() {
		return false
	}
	for _, d := range l.diags {
		if d.Severity == hcl.DiagError && d.Subject != nil &&
			d.Subject.Filename == rng.Filename && rng.Overlaps(*d.Subject) {
			return true
		}
	}
	return false
}

// present reports whether an attribute was written, given its range.
func present(rng hcl.Range) bool {
	return rng != (hcl.Range{})
}

// checkName reports a block name that is not a plain identifier, and a name
// already used by a block of the same type (first is where that one was
// declared, nil if none).
func (l *loader) checkName(kind string, b blockHeader, first *hcl.Range) {
	if !validName(b.name) {
		l.errorf(b.nameRange, "Invalid "+kind+" name",
			"%q is not a valid %s name. A name starts with a letter or digit, followed "+
				"by letters, digits, '_', '-' or '.', at most 64 in all, e.g. %q.",
			b.name, kind, "public-v2")
	}
	if first != nil {
		l.errorf(b.defRange, "Duplicate "+kind+" name",
			"A %s named %q is already declared at %s. Each %s needs a unique "+
				"name: rename or remove one of them.",
			kind, b.name, at(*first), kind)
	}
}

// blockHeader is what checkName needs of a block.
type blockHeader struct {
	name      string
	nameRange hcl.Range
	defRange  hcl.Range
}

// validName reports whether s is a valid block name.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '_' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// checkOnce reports each block after the first of a type allowed once.
func (l *loader) checkOnce(kind, where string, ranges []hcl.Range) {
	for _, r := range ranges[min(1, len(ranges)):] {
		l.errorf(r, "Duplicate "+kind+" block",
			"Only one %s block is allowed %s; the first is at %s. Merge their "+
				"attributes into one block.", kind, where, at(ranges[0]))
	}
}

// at formats where a range starts, as file:line,column.
func at(r hcl.Range) string {
	return fmt.Sprintf("%s:%d,%d", r.Filename, r.Start.Line, r.Start.Column)
}

// attrExpr returns the expression of the named attribute of body, or nil.
func attrExpr(body hcl.Body, name string) hcl.Expression {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	a := sb.Attributes[name]
	if a == nil {
		return nil
	}
	return a.Expr
}

// elemRange returns the range of element i of the list attribute name of
// body, or whole when the list is not written out element by element.
func elemRange(body hcl.Body, name string, i int, whole hcl.Range) hcl.Range {
	expr := attrExpr(body, name)
	if expr == nil {
		return whole
	}
	elems, diags := hcl.ExprList(expr)
	if diags.HasErrors() || i >= len(elems) {
		return whole
	}
	return elems[i].Range()
}

// joinNames lists names for a diagnostic: `"a", "b"`.
func joinNames(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// dropUnknownCascade removes gohcl's "value must be known" diagnostics. With
// no variables, a value is unknown only when evaluating its expression
// failed, and that failure was reported already, more precisely.
func dropUnknownCascade(diags hcl.Diagnostics) hcl.Diagnostics {
	out := diags[:0]
	for _, d := range diags {
		if d.Summary == "Unsuitable value type" && strings.HasSuffix(d.Detail, "value must be known") {
			continue
		}
		out = append(out, d)
	}
	return out
}
