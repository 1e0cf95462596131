"""A WebSocket echo server on the websockets package, driven over JSON lines
(peer.py), with the events and commands of server.js:

    /usr/bin/python3 server.py [--compress] [--protocol P]...
"""

import asyncio

import websockets

from peer import MAX_SIZE, commands, emit, message_event, options

conns = {}
last_id = 0


async def echo(ws):
    global last_id
    last_id += 1
    conn = last_id
    conns[conn] = ws
    emit(
        event="open",
        conn=conn,
        path=ws.path,
        protocol=ws.subprotocol or "",
        extensions=ws.response_headers.get("Sec-WebSocket-Extensions", ""),
    )
    try:
        async for msg in ws:
            emit(**message_event(msg, conn=conn))
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass  # a close code other than 1000 or 1001: the close event says which
    await ws.wait_closed()
    del conns[conn]
    emit(event="close", conn=conn, code=ws.close_code, reason=ws.close_reason)


async def main():
    opts = options()
    async with websockets.serve(
        echo,
        "127.0.0.1",
        0,
        subprotocols=opts.protocol or None,
        compression="deflate" if opts.compress else None,
        max_size=MAX_SIZE,
    ) as server:
        emit(event="listening", port=server.sockets[0].getsockname()[1])
        async for cmd in commands():
            ws = conns.get(cmd.get("conn"))
            if cmd["op"] != "close" or ws is None:
                emit(event="error", error=f"bad command {cmd}")
                continue
            asyncio.ensure_future(ws.close(cmd["code"], cmd["reason"]))


asyncio.run(main())
