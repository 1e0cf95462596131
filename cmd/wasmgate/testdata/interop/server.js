// A WebSocket echo server on the ws package, driven over JSON lines
// (peer.js):
//
//   node server.js [--compress] [--protocol P]...
//
// It listens on a free port of 127.0.0.1 and says so first:
// {"event":"listening","port":N}. For each connection, numbered from 1:
// {"event":"open","conn":ID,"path":PATH,"protocol":P,"extensions":E} where E
// is the Sec-WebSocket-Extensions header of its own 101 ("" without one);
// {"event":"message","conn":ID,"type":"text"|"binary","data":BASE64} for
// each message, which it sends back with its type; and
// {"event":"close","conn":ID,"code":N,"reason":R}. The command
// {"op":"close","conn":ID,"code":N,"reason":R} closes a connection. It exits
// when stdin closes.
'use strict';

const { WebSocketServer } = require('ws');
const { emit, onCommand, options, maxPayload } = require('./peer.js');

const opts = options();
const conns = new Map();
let lastID = 0;

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: opts.compress,
  maxPayload,
  // The first subprotocol the client offers that --protocol lists.
  handleProtocols: (offered) => {
    for (const p of offered) {
      if (opts.protocols.includes(p)) return p;
    }
    return false;
  },
});
// The 101's headers are only visible here, before the connection event.
wss.on('headers', (headers, req) => {
  const line = headers.find((h) => /^sec-websocket-extensions:/i.test(h));
  req.wasmgateExtensions = line ? line.slice(line.indexOf(':') + 1).trim() : '';
});
wss.on('listening', () => {
  emit({ event: 'listening', port: wss.address().port });
});
wss.on('connection', (ws, req) => {
  const conn = ++lastID;
  conns.set(conn, ws);
  emit({ event: 'open', conn, path: req.url, protocol: ws.protocol, extensions: req.wasmgateExtensions });
  ws.on('message', (data, isBinary) => {
    emit({ event: 'message', conn, type: isBinary ? 'binary' : 'text', data: data.toString('base64') });
    ws.send(data, { binary: isBinary });
  });
  ws.on('error', (err) => {
    emit({ event: 'error', conn, error: err.message });
  });
  ws.on('close', (code, reason) => {
    conns.delete(conn);
    emit({ event: 'close', conn, code, reason: reason.toString() });
  });
});

onCommand(
  (cmd) => {
    const ws = conns.get(cmd.conn);
    if (cmd.op !== 'close' || ws === undefined) {
      emit({ event: 'error', error: `bad command ${JSON.stringify(cmd)}` });
      return;
    }
    ws.close(cmd.code, cmd.reason);
  },
  () => process.exit(0),
);
