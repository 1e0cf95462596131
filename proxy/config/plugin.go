package config

import (
	"context"
	"os"
	"runtime"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/wasmgate/wasmgate/plugins"
)

// addPlugin checks a plugin block, reads and inspects its module, and adds
// it to the configuration.
func (l *loader) addPlugin(b *pluginBody, baseDir string, ctx *hcl.EvalContext) {
	p := &Plugin{
		Name:        b.Name,
		Config:      []byte("null"),
		Instances:   min(runtime.GOMAXPROCS(0), maxPluginInstances),
		MemoryLimit: defaultPluginMemoryLimit,
		Timeout:     defaultPluginTimeout,
		KVNamespace: b.Name,
		DeclRange:   b.DefRange,
	}
	var first *hcl.Range
	if prev, ok := l.pluginAt[b.Name]; ok {
		first = &prev.DeclRange
	} else {
		l.pluginAt[b.Name] = p
	}
	l.checkName("plugin", blockHeader{b.Name, b.NameRange, b.DefRange}, first)
	l.plugins = append(l.plugins, p)

	l.pluginModule(b, baseDir, p)
	l.pluginConfig(b, ctx, p)

	if b.Instances != nil && !l.failed(b.InstancesRange) {
		if n := *b.Instances; n < 1 || n > maxPluginInstances {
			l.errorf(b.InstancesRange, "Invalid instances",
				"instances = %d is out of range: a plugin has from 1 to %d instances. "+
					"Each instance serves many connections, one call at a time; leave "+
					"instances out for one instance per CPU.", n, maxPluginInstances)
		} else {
			p.Instances = n
		}
	}
	if n, ok := l.size(b.MemoryLimit, b.MemoryLimitRange, "memory_limit", minPluginMemory, maxPluginMemory); ok {
		p.MemoryLimit = (n + wasmPageSize - 1) / wasmPageSize * wasmPageSize
	}
	if d, ok := l.duration(b.Timeout, b.TimeoutRange, "timeout", false); ok {
		if d > maxPluginTimeout {
			l.errorf(b.TimeoutRange, "Duration too long",
				"timeout must be at most %v; %q is %v. timeout is the deadline of each "+
					"call into the plugin, and a connection waits for the call: a hook "+
					"takes microseconds, and the default is %v.",
				maxPluginTimeout, *b.Timeout, d, defaultPluginTimeout)
		} else {
			p.Timeout = d
		}
	}
	if i, ok := l.choice(b.OnError, b.OnErrorRange, "on_error", []string{"close", "pass"},
		`on_error says what happens to the connections of a plugin instance `+
			`that fails (a trap, a missed deadline, exhausted memory): "close", the `+
			`default, closes them with status 1011; "pass" keeps them open and `+
			`skips the plugin for them.`); ok {
		p.OnError = OnError(i)
	}
	if i, ok := l.choice(b.Sandbox, b.SandboxRange, "sandbox", []string{"checked", "plain"},
		`sandbox says how timeout is enforced: "checked", the default, stops a `+
			`call inside the plugin when its deadline passes, at a small cost per `+
			`call; "plain" is faster, but notices a missed deadline only when the `+
			`call returns, and cannot stop a plugin stuck in a loop.`); ok {
		p.Sandbox = Sandbox(i)
	}
	if i, ok := l.choice(b.Reload, b.ReloadRange, "reload", []string{"restart", "live"},
		`reload says what a configuration reload does to the connections the `+
			`plugin already filters: "restart", the default, leaves each on the `+
			`version it started with until it closes; "live" moves each to the new `+
			`version at its next message boundary and runs the new version's on_open `+
			`again for it, when the plugin is live in both the old and the new `+
			`configuration. New connections get the new version either way.`); ok {
		p.Reload = Reload(i)
	}
	if b.KVNamespace != nil && !l.failed(b.KVNamespaceRange) {
		if ns := *b.KVNamespace; !validName(ns) {
			l.errorf(b.KVNamespaceRange, "Invalid kv_namespace",
				"%q is not a valid key-value namespace. A namespace is written like a "+
					"block name: a letter or digit, followed by letters, digits, '_', '-' "+
					"or '.', at most 64 in all. Plugins with the same kv_namespace share "+
					"one key-value store; the default is the plugin's name.", ns)
		} else {
			p.KVNamespace = ns
		}
	}
	l.pluginCacheDir(b, baseDir, p)
}

// pluginModule reads the module of a plugin and checks it against the ABI.
func (l *loader) pluginModule(b *pluginBody, baseDir string, p *Plugin) {
	const allowed = `wasm names the plugin's WebAssembly module, e.g. ` +
		`wasm = "plugins/auth.wasm"; a relative path is relative to the ` +
		`directory of the configuration file.`
	switch {
	case l.failed(b.WasmRange):
		return
	case b.Wasm == nil:
		l.errorf(b.DefRange, "Missing plugin module", "Plugin %q has no wasm attribute. %s", b.Name, allowed)
		return
	case *b.Wasm == "":
		l.errorf(b.WasmRange, "Missing plugin module", "The wasm attribute of plugin %q is empty. %s", b.Name, allowed)
		return
	}
	path := resolvePath(baseDir, *b.Wasm)
	wasm, err := readFileMax(path, maxWasmSize)
	if err != nil {
		l.errorf(b.WasmRange, "Cannot read plugin module", "%s. %s", err, allowed)
		return
	}
	// Inspect decodes and validates the module without compiling it to
	// machine code, so loading stays cheap.
	info, err := plugins.Inspect(context.Background(), b.Name, wasm)
	if err != nil {
		// The version errors end with the text of the sentinel they wrap,
		// which repeats what they say.
		msg := strings.TrimSuffix(err.Error(), ": "+plugins.ErrABIVersion.Error())
		l.errorf(b.WasmRange, "Invalid plugin module",
			"%s: %s. A plugin is a WebAssembly module built against wasmgate ABI "+
				"version 1: it exports its memory and the function wasmgate_abi_v1, "+
				"its hooks and imports have the signatures that sdk/ABI.md gives, and "+
				"it imports from nothing but wasmgate and WASI preview 1.", path, msg)
		return
	}
	p.WasmPath, p.Wasm, p.Info = path, wasm, info
}

// pluginConfig evaluates the config of a plugin and stores it as JSON.
func (l *loader) pluginConfig(b *pluginBody, ctx *hcl.EvalContext, p *Plugin) {
	if b.Config == nil || !present(b.ConfigRange) {
		return
	}
	const allowed = `config is any value made of strings, numbers, bools, ` +
		`lists and objects, e.g. config = { secret = env("AUTH_SECRET"), ` +
		`rooms = ["lobby"] }; the plugin reads it as JSON.`
	v, diags := b.Config.Value(ctx)
	l.diags = append(l.diags, diags...)
	switch {
	case diags.HasErrors():
		return
	case !v.IsWhollyKnown():
		l.errorf(b.ConfigRange, "Invalid plugin config",
			"The config of plugin %q has a value that is not known at load time. %s", b.Name, allowed)
		return
	case v.IsNull():
		return
	}
	js, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		l.errorf(b.ConfigRange, "Invalid plugin config",
			"The config of plugin %q cannot be written as JSON: %s. %s", b.Name, err, allowed)
		return
	}
	p.Config = js
	// Only here is it known which values were read with env() or file().
	p.redactedConfig = redactConfig(js, b.Config, ctx)
}

// pluginCacheDir checks and stores the cache_dir of a plugin. A missing
// directory is fine: it is created when a module is first compiled.
func (l *loader) pluginCacheDir(b *pluginBody, baseDir string, p *Plugin) {
	if b.CacheDir == nil || l.failed(b.CacheDirRange) {
		return
	}
	const allowed = `cache_dir names a directory where compiled plugin ` +
		`modules are kept between runs, created if missing; a relative path ` +
		`is relative to the directory of the configuration file. Leave ` +
		`cache_dir out for no on-disk cache.`
	if *b.CacheDir == "" {
		l.errorf(b.CacheDirRange, "Invalid cache_dir", "cache_dir is empty. %s", allowed)
		return
	}
	path := resolvePath(baseDir, *b.CacheDir)
	if info, err := os.Stat(path); err == nil && !info.IsDir() {
		l.errorf(b.CacheDirRange, "Invalid cache_dir", "%s exists and is not a directory. %s", path, allowed)
		return
	}
	p.CacheDir = path
}

// choice returns the index among values of the value of an enumerated
// attribute; meaning says what the attribute chooses. ok is false when the
// attribute is absent or its value was reported as wrong.
func (l *loader) choice(v *string, rng hcl.Range, name string, values []string, meaning string) (int, bool) {
	if v == nil || l.failed(rng) {
		return 0, false
	}
	if i := slices.Index(values, *v); i >= 0 {
		return i, true
	}
	l.errorf(rng, "Invalid "+name, "%s = %q is not one of %s.%s %s",
		name, *v, joinNames(values), didYouMean(*v, values), meaning)
	return 0, false
}

// routeFilters resolves the filters of a route.
func (l *loader) routeFilters(b *routeBody) []*Plugin {
	if len(b.Filters) == 0 || l.failed(b.FiltersRange) {
		return nil
	}
	var filters []*Plugin
	seen := map[string]int{}
	for i, name := range b.Filters {
		rng := elemRange(b.Body, "filters", i, b.FiltersRange)
		if j, dup := seen[name]; dup {
			l.errorf(rng, "Duplicate filter",
				"Route %q lists filter %q twice (first as filter %d): a plugin runs "+
					"at most once on a connection. Remove one of them.", b.Name, name, j+1)
			continue
		}
		seen[name] = i
		p := l.pluginAt[name]
		if p == nil {
			if !l.incomplete {
				l.errorf(rng, "Unknown filter",
					"Route %q names filter %q, but no plugin has that name.%s %s",
					b.Name, name, didYouMean(name, l.pluginNames()), l.knownPlugins())
			}
			continue
		}
		filters = append(filters, p)
	}
	return filters
}

// pluginNames returns the names of the declared plugins, in order.
func (l *loader) pluginNames() []string {
	var names []string
	for _, p := range l.plugins {
		if l.pluginAt[p.Name] == p {
			names = append(names, p.Name)
		}
	}
	return names
}

// knownPlugins lists the declared plugins for a diagnostic.
func (l *loader) knownPlugins() string {
	names := l.pluginNames()
	if len(names) == 0 {
		return `No plugin block is declared: a filter is the name of a plugin ` +
			`block, e.g. plugin "auth" { wasm = "auth.wasm" }.`
	}
	return "The declared plugins are " + joinNames(names) + "."
}
