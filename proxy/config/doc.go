// Package config loads wasmgate's HCL configuration and validates all of it
// before any socket opens.
//
// Load reads one .hcl file, or every .hcl file of a directory merged as one
// configuration; Parse reads configuration held in memory. Both return a
// fully resolved *Config: route references point at their *Listener,
// *Upstream and filter *Plugins, TLS certificates are loaded, plugin modules
// are read and checked against the plugin ABI (sdk/ABI.md), sizes and
// durations are parsed, and every limit and plugin setting has its default
// filled in. Every mistake in the configuration is an hcl.Diagnostic with a
// summary, a detail that says what is allowed, and the source range (file,
// line and column) of the offending text. Diagnostics are collected in one
// pass, so a single run reports as many mistakes as it can find;
// WriteDiagnostics renders them with source snippets. Config.EffectiveJSON
// renders a loaded configuration, secrets redacted, for the admin
// endpoint that shows it.
//
// The syntax, every block and attribute, and the matching rules are
// documented in docs/configuration.md.
package config
