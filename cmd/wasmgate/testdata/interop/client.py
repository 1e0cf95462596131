"""A WebSocket client on the websockets package, driven over JSON lines
(peer.py), with the events and commands of client.js:

    /usr/bin/python3 client.py [--compress] [--protocol P]... URL
"""

import asyncio

import websockets

from peer import MAX_SIZE, command_message, commands, emit, message_event, options


async def relay_commands(ws):
    async for cmd in commands():
        if cmd["op"] == "send":
            await ws.send(command_message(cmd))
        elif cmd["op"] == "close":
            # Not awaited here: close waits for the handshake, and the
            # loop in main must go on reading meanwhile.
            asyncio.ensure_future(ws.close(cmd["code"], cmd["reason"]))
        else:
            emit(event="error", error=f"unknown command {cmd['op']}")


async def main():
    opts = options("url")
    try:
        ws = await websockets.connect(
            opts.url,
            subprotocols=opts.protocol or None,
            compression="deflate" if opts.compress else None,
            max_size=MAX_SIZE,
            open_timeout=10,
        )
    except Exception as e:  # any failure to connect is reported alike
        emit(event="error", error=str(e))
        return
    emit(event="open", protocol=ws.subprotocol or "", extensions=ws.response_headers.get("Sec-WebSocket-Extensions", ""))
    relay = asyncio.ensure_future(relay_commands(ws))
    try:
        async for msg in ws:
            emit(**message_event(msg))
    except websockets.ConnectionClosed:
        pass  # a close code other than 1000 or 1001: the close event says which
    await ws.wait_closed()
    emit(event="close", code=ws.close_code, reason=ws.close_reason)
    relay.cancel()


asyncio.run(main())
