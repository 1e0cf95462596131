// Package proxy is wasmgate's data plane: it listens for WebSocket clients
// (ws and wss), picks a route for each upgrade request, dials the route's
// upstream as a WebSocket client, and relays frames both ways through two
// pumps, each leg a full WebSocket session of its own.
//
// The upstream is dialed before the client gets its answer: a client sees
// 101 only once the upstream has accepted, and 502 or 504 otherwise.
package proxy
