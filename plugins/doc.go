// Package plugins is wasmgate's WebAssembly host: it loads filter plugins
// (modules that implement sdk/ABI.md), compiles each once with wazero,
// keeps a small pool of instances per plugin, pins every proxied
// connection to one instance under a context id, provides the ABI's host
// functions, enforces each plugin's sandbox (memory cap, deadline per
// call, on_error policy), and runs a route's filters as a chain in both
// directions. Hosts can share compiled code (CompilationCaches) and
// retire gracefully, and live plugins move their open connections to a
// new version (Supersede), so that a config reload drops nothing.
//
// It knows nothing of sockets: the proxy hands it requests and messages
// and gets back verdicts and messages to write, through Chain and Conn.
package plugins
