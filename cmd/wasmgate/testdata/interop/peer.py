"""The JSON-lines protocol that cmd/wasmgate/interop_test.go drives the
Python peers (client.py, server.py) with, as peer.js does the Node ones:
commands arrive on stdin, events leave on stdout, one JSON object a line,
payloads as base64.

Written for the websockets package of Debian bookworm (10.4), whose asyncio
API ("legacy" in later releases) it uses.
"""

import argparse
import asyncio
import base64
import json
import sys

# Bounds a received message, and a line of stdin: above the tests' largest.
MAX_SIZE = 64 << 20


def emit(**event):
    """Writes one event."""
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


async def commands():
    """Yields each command read from stdin, until it closes."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2 * MAX_SIZE)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if line.strip():
            yield json.loads(line)


def message_event(msg, **fields):
    """The event for a received message: str is a text message."""
    if isinstance(msg, str):
        return dict(event="message", type="text", data=base64.b64encode(msg.encode()).decode(), **fields)
    return dict(event="message", type="binary", data=base64.b64encode(msg).decode(), **fields)


def command_message(cmd):
    """The message a send command carries: str for text, bytes for binary."""
    data = base64.b64decode(cmd["data"])
    return data.decode() if cmd["type"] == "text" else data


def options(positional=None):
    """Parses the flags both peers take: --compress (offer or accept
    permessage-deflate) and --protocol (repeated: the subprotocols to offer,
    or to accept)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--compress", action="store_true")
    parser.add_argument("--protocol", action="append", default=[])
    if positional:
        parser.add_argument(positional)
    return parser.parse_args()
