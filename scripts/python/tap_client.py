#!/usr/bin/env python3
"""A raw-socket WebSocket client for scripts/tap-check.sh, standard library only, so that every
byte it sends is known: the RFC's example key, a masked text frame "WebSocket Rocks!" with the
RFC's §5.7 masking key, a ping, a Close 1000; then, on a second connection, a 100,000-byte
binary frame, larger than the tap keeps. Prints one `ok`/`FAIL` line per check of what came back.

With --deflate, one connection through Python `websockets` instead, which offers
permessage-deflate (RFC 7692) and compresses every message it sends: a text message of a few KiB
twice (the second refers back to the first: context takeover), the same text fragmented, "Hello",
a binary message, a ping and a close. The echo server must accept permessage-deflate
(PERMESSAGE_DEFLATE=1); it compresses the echoes of 1 KiB or more.

usage: tap_client.py PORT [--deflate]
"""
import base64
import hashlib
import socket
import struct
import sys

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3
MASKING_KEY = bytes([0x37, 0xFA, 0x21, 0x3D])  # RFC 6455 §5.7
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
failures = 0


def check(ok, what):
    global failures
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    failures += 0 if ok else 1


def masked_frame(opcode, payload):
    """A final frame as a client sends it: masked (RFC 6455 §5.1, §5.3)."""
    header = bytes([0x80 | opcode])
    if len(payload) < 126:
        header += bytes([0x80 | len(payload)])
    elif len(payload) < 65536:
        header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    else:
        header += bytes([0x80 | 127]) + struct.pack("!Q", len(payload))
    masked = bytes(b ^ MASKING_KEY[i % 4] for i, b in enumerate(payload))
    return header + MASKING_KEY + masked


class Peer:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def read_exactly(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def handshake(self):
        self.sock.sendall(
            (
                "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("connection closed during the handshake")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        expected = base64.b64encode(hashlib.sha1((KEY + GUID).encode()).digest()).decode()
        return head.startswith(b"HTTP/1.1 101") and f"Sec-WebSocket-Accept: {expected}".encode() in head

    def frame(self):
        """The next frame from the server: (opcode, payload); it must not be masked."""
        first, second = self.read_exactly(2)
        assert second & 0x80 == 0, "a server must not mask"
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self.read_exactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self.read_exactly(8))
        return first & 0x0F, self.read_exactly(length)

    def closed_by_server(self):
        try:
            return self.sock.recv(1) == b""
        except OSError:
            return False


# --deflate's text message: 3,660 bytes, whose start the tap shows inflated.
LETTER = "".join(f"line {i:02}: the tap inflates what permessage-deflate compressed\n" for i in range(60))


def deflate_run(port):
    """One connection through `websockets`, which negotiates and compresses (RFC 7692)."""
    import websockets  # only this mode needs more than the standard library
    from websockets.sync.client import connect

    # No keepalive pings of its own, and no proxy from the environment (websockets 15 and later
    # use one): the tap sees only what is below.
    options = {"ping_interval": None, "open_timeout": 10}
    if int(websockets.version.version.split(".")[0]) >= 15:
        options["proxy"] = None
    with connect(f"ws://127.0.0.1:{port}/", **options) as ws:
        names = [extension.name for extension in ws.protocol.extensions]
        check(names == ["permessage-deflate"], f"deflate client: permessage-deflate negotiated through the tap ({names})")
        for what in ["a 3,660-byte text", "the same text again (context takeover)"]:
            ws.send(LETTER)
            check(ws.recv() == LETTER, f"deflate client: {what} came back intact")
        fragments = [LETTER[:1000], LETTER[1000:2500], LETTER[2500:]]
        ws.send(fragments)
        check(ws.recv() == LETTER, "deflate client: the text sent in 3 compressed fragments came back whole")
        ws.send("Hello")
        check(ws.recv() == "Hello", 'deflate client: "Hello" came back (the server sends it uncompressed)')
        data = bytes(i % 7 for i in range(3000))
        ws.send(data)
        check(ws.recv() == data, "deflate client: a 3,000-byte binary message came back intact")
        check(ws.ping(b"tap check").wait(10), "deflate client: got a Pong")
    check(ws.close_code == 1000, f"deflate client: closed with 1000 ({ws.close_code})")
    sys.exit(1 if failures else 0)


def main():
    port = int(sys.argv[1])
    if sys.argv[2:] == ["--deflate"]:
        deflate_run(port)

    peer = Peer(port)
    check(peer.handshake(), "client: 101 with the right Sec-WebSocket-Accept, through the tap")
    peer.sock.sendall(masked_frame(0x1, b"WebSocket Rocks!"))
    check(peer.frame() == (0x1, b"WebSocket Rocks!"), 'client: got its echo "WebSocket Rocks!" through the tap')
    peer.sock.sendall(masked_frame(0x9, b"tap check"))
    check(peer.frame() == (0xA, b"tap check"), "client: got a Pong with the Ping's data")
    peer.sock.sendall(masked_frame(0x8, struct.pack("!H", 1000)))
    opcode, body = peer.frame()
    check(opcode == 0x8 and body[:2] == struct.pack("!H", 1000), "client: got the server's Close 1000")
    check(peer.closed_by_server(), "client: the server closed the TCP connection")

    big = bytes(i % 251 for i in range(100_000))
    peer = Peer(port)
    peer.handshake()
    peer.sock.sendall(masked_frame(0x2, big))
    check(peer.frame() == (0x2, big), "client: a 100,000-byte binary frame came back intact through the tap")
    peer.sock.sendall(masked_frame(0x8, struct.pack("!H", 1000)))
    peer.frame()
    peer.closed_by_server()
    sys.exit(1 if failures else 0)


main()
