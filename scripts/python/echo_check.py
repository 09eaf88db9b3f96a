"""Checks the echo server with Python's `websockets` as the peer (the course's Python side).

usage: python echo_check.py PORT CONNECTIONS SERVER_PID
Over 127.0.0.1 and [::1]: text, binary, a fragmented message with a split code point, 64 KiB,
heartbeats survived; then a message over MAX_MESSAGE_SIZE closes with 1009, a plain HTTP request
gets 426, and CONNECTIONS concurrent connections are held (the server's resident memory is read
from /proc before and after).
"""
import asyncio
import sys
import urllib.error
import urllib.request

import websockets

PORT = int(sys.argv[1])
CONNECTIONS = int(sys.argv[2])
SERVER_PID = sys.argv[3]


def resident_kib():
    with open(f"/proc/{SERVER_PID}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def check(condition, what):
    print(("ok    " if condition else "FAIL  ") + what, flush=True)
    if not condition:
        sys.exit(1)


async def echoes(host):
    async with websockets.connect(f"ws://{host}:{PORT}", max_size=None, ping_interval=None) as ws:
        await ws.send("WebSocket Rocks!")
        check(await ws.recv() == "WebSocket Rocks!", f"{host}: text echoed as text")
        await ws.send(bytes(range(256)) * 4)
        reply = await ws.recv()
        check(reply == bytes(range(256)) * 4, f"{host}: binary echoed as binary")
        await ws.send(["frag", "mented ", "κό", "σμε"])
        check(await ws.recv() == "fragmented κόσμε", f"{host}: fragmented message echoed whole")
        await ws.send("x" * 65536)
        check(len(await ws.recv()) == 65536, f"{host}: 64 KiB message echoed")
        await asyncio.sleep(1.5)  # several heartbeat pings, answered by websockets
        await ws.send("still there?")
        check(await ws.recv() == "still there?", f"{host}: open after heartbeats")


async def too_big():
    async with websockets.connect(f"ws://127.0.0.1:{PORT}", max_size=None) as ws:
        await ws.send("y" * 65537)
        try:
            await ws.recv()
            check(False, "message over MAX_MESSAGE_SIZE closes with 1009")
        except websockets.ConnectionClosed as closed:
            check(closed.rcvd is not None and closed.rcvd.code == 1009,
                  "message over MAX_MESSAGE_SIZE closes with 1009")


def plain_http():
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{PORT}/", timeout=5)
        check(False, "plain HTTP request answered 426")
    except urllib.error.HTTPError as error:
        check(error.code == 426, "plain HTTP request answered 426")


async def many():
    before = resident_kib()
    sockets = []
    for i in range(CONNECTIONS):
        ws = await websockets.connect(f"ws://127.0.0.1:{PORT}", ping_interval=None)
        await ws.send(f"hello {i}")
        assert await ws.recv() == f"hello {i}"
        sockets.append(ws)
    await asyncio.sleep(1)
    after = resident_kib()
    per_connection = (after - before) * 1024 / CONNECTIONS
    print(f"ok    {CONNECTIONS} concurrent connections open, each echoed once: server resident "
          f"memory {before} KiB -> {after} KiB, {per_connection:.0f} bytes per connection", flush=True)
    for ws in sockets:
        await ws.close()


async def main():
    for host in ["127.0.0.1", "[::1]"]:
        await echoes(host)
    await too_big()
    plain_http()
    await many()


asyncio.run(main())
