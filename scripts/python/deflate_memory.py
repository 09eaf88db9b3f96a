"""Memory per connection of a running echo server, with Python `websockets` as the clients.

usage: python deflate_memory.py PORT CONNECTIONS SERVER_PID EXPECTED_EXTENSION LIMIT_BYTES [BASELINE]
Opens CONNECTIONS connections (websockets offers permessage-deflate by default), each sends a
telemetry batch of about 1.5 KiB (over the server's 1 KiB compression threshold, so it is
compressed both ways) and reads the echo; then reads the server's resident memory from /proc and
prints bytes per connection. EXPECTED_EXTENSION is the server's `Sec-WebSocket-Extensions`
answer ("" when deflate is off). Fails if the figure is over LIMIT_BYTES; with BASELINE (bytes per
connection without deflate), if the figure minus BASELINE (what deflate adds) is over LIMIT_BYTES.
Prints the figure alone on the last line.
"""
import asyncio
import sys

import websockets

PORT = int(sys.argv[1])
CONNECTIONS = int(sys.argv[2])
SERVER_PID = sys.argv[3]
EXPECTED = sys.argv[4]
LIMIT = int(sys.argv[5])
BASELINE = float(sys.argv[6]) if len(sys.argv) > 6 else None
BATCH = "".join(f'{{"sensor":"esp32-{i:02}","celsius":21.{i}}},' for i in range(40))


def resident_kib():
    with open(f"/proc/{SERVER_PID}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def main():
    before = resident_kib()
    sockets = []
    for i in range(CONNECTIONS):
        ws = await websockets.connect(f"ws://127.0.0.1:{PORT}", ping_interval=None, open_timeout=10)
        answer = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        if answer != EXPECTED:
            print(f"FAIL  connection {i}: Sec-WebSocket-Extensions {answer!r}, expected {EXPECTED!r}")
            sys.exit(1)
        await ws.send(f"{i} {BATCH}")
        if await asyncio.wait_for(ws.recv(), 10) != f"{i} {BATCH}":
            print(f"FAIL  connection {i}: echo differs")
            sys.exit(1)
        sockets.append(ws)
    await asyncio.sleep(1)
    after = resident_kib()
    per_connection = (after - before) * 1024 / CONNECTIONS
    measured = per_connection if BASELINE is None else per_connection - BASELINE
    ok = measured <= LIMIT
    added = "" if BASELINE is None else f", {measured:.0f} more than without deflate"
    print(f"{'ok  ' if ok else 'FAIL'}  {CONNECTIONS} connections, each echoed a {len(BATCH)}-byte batch; "
          f"extension {EXPECTED or '(none)'!r}: server resident memory {before} KiB -> {after} KiB, "
          f"{per_connection:.0f} bytes per connection{added} (limit {LIMIT})", flush=True)
    print(f"{per_connection:.0f}", flush=True)
    await asyncio.gather(*(ws.close() for ws in sockets))
    sys.exit(0 if ok else 1)


asyncio.run(main())
