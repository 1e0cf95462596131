// The JSON-lines protocol that cmd/wasmgate/interop_test.go drives the
// Node peers (client.js, server.js) with: commands arrive on stdin, events
// leave on stdout, one JSON object a line. Payloads travel as base64, so
// that every byte, valid UTF-8 or not, arrives as it was.
'use strict';

const readline = require('node:readline');
const { parseArgs } = require('node:util');

// emit writes one event. Writes to a pipe are synchronous on Linux, so an
// event is out before the process exits.
function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n');
}

// onCommand calls handle with each command read from stdin, and onEnd
// when stdin closes.
function onCommand(handle, onEnd) {
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  rl.on('line', (line) => {
    if (line.trim() !== '') handle(JSON.parse(line));
  });
  if (onEnd) rl.on('close', onEnd);
}

// payload is a command's data as bytes.
function payload(cmd) {
  return Buffer.from(cmd.data, 'base64');
}

// options parses the flags both peers take: --compress (offer or accept
// permessage-deflate) and --protocol (repeated: the subprotocols to offer,
// or to accept).
function options() {
  const { values, positionals } = parseArgs({
    options: {
      compress: { type: 'boolean', default: false },
      protocol: { type: 'string', multiple: true, default: [] },
    },
    allowPositionals: true,
  });
  return { compress: values.compress, protocols: values.protocol, args: positionals };
}

// maxPayload bounds a received message: above the tests' largest.
const maxPayload = 64 << 20;

module.exports = { emit, onCommand, payload, options, maxPayload };
