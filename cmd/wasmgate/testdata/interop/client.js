// A WebSocket client on the ws package, driven over JSON lines (peer.js):
//
//   node client.js [--compress] [--protocol P]... URL
//
// Events: {"event":"open","protocol":P,"extensions":E} where E is the
// Sec-WebSocket-Extensions header of the server's 101 ("" without one);
// {"event":"message","type":"text"|"binary","data":BASE64} for each
// message received; {"event":"error","error":MSG}; and last
// {"event":"close","code":N,"reason":R}, after which the process exits.
// Commands, read once open: {"op":"send","type":"text"|"binary","data":BASE64}
// and {"op":"close","code":N,"reason":R}.
'use strict';

const WebSocket = require('ws');
const { emit, onCommand, payload, options, maxPayload } = require('./peer.js');

const opts = options();
// ws offers permessage-deflate unless told not to.
const ws = new WebSocket(opts.args[0], opts.protocols, {
  perMessageDeflate: opts.compress,
  maxPayload,
  handshakeTimeout: 10000,
});
let extensions = '';
ws.on('upgrade', (res) => {
  extensions = res.headers['sec-websocket-extensions'] || '';
});
ws.on('open', () => {
  emit({ event: 'open', protocol: ws.protocol, extensions });
  onCommand((cmd) => {
    switch (cmd.op) {
      case 'send':
        ws.send(payload(cmd), { binary: cmd.type === 'binary' });
        break;
      case 'close':
        ws.close(cmd.code, cmd.reason);
        break;
      default:
        emit({ event: 'error', error: `unknown command ${cmd.op}` });
    }
  });
});
ws.on('message', (data, isBinary) => {
  emit({ event: 'message', type: isBinary ? 'binary' : 'text', data: data.toString('base64') });
});
ws.on('error', (err) => {
  emit({ event: 'error', error: err.message });
});
ws.on('close', (code, reason) => {
  emit({ event: 'close', code, reason: reason.toString() });
  process.exit(0);
});
