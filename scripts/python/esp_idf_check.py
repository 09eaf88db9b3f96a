"""Checks examples/esp_idf_server.rs with a raw-socket WebSocket client: standard library only.

usage: python3 esp_idf_check.py HOST PORT

Speaks RFC 6455 by hand (so every frame boundary is visible, which a library would hide):
- the opening handshake for /ws offering subprotocol "chat": 101, the right Sec-WebSocket-Accept,
  and "chat" selected (§4.1, §4.2.2); offering only "superchat" gets no protocol; another path 404;
- a masked Ping gets a Pong with the same payload (§5.5.2); an unsolicited Pong gets nothing;
- "Trigger async" gets its echo plus "Async data", sent by another task;
- "Trigger fragments" gets its echo, then one message in 3 frames: opcode 1 FIN 0, opcode 0
  FIN 0, opcode 0 FIN 1 (§5.4);
- a Close with 1000 gets a Close with 1000 back, then the server closes TCP (§5.5.1, §7.1.1).
One "ok" line per check; exits 1 at the first failure.
"""
import base64
import hashlib
import os
import socket
import struct
import sys

HOST = sys.argv[1]
PORT = int(sys.argv[2])
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TIMEOUT = 5

OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def check(condition, what):
    print(("ok    " if condition else "FAIL  ") + what, flush=True)
    if not condition:
        sys.exit(1)


class Client:
    """One TCP connection: an HTTP head, then frames."""

    def __init__(self):
        self.sock = socket.create_connection((HOST, PORT), timeout=TIMEOUT)
        self.buffer = b""

    def read_exact(self, count):
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"connection closed with {len(self.buffer)} of {count} bytes read")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def read_head(self):
        """The response head: status code and header fields (lower-case names, values listed)."""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed during the response head")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields.setdefault(name.strip().lower(), []).append(value.strip())
        return status, fields

    def handshake(self, path, protocols):
        """Sends an upgrade request; returns (status, fields, expected accept key)."""
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {HOST}:{PORT}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if protocols:
            lines.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status, fields = self.read_head()
        accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        return status, fields, accept

    def send_frame(self, opcode, payload, fin=True):
        """A masked frame (§5.1: "a client MUST mask all frames that it sends to the server")."""
        first = (0x80 if fin else 0) | opcode
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", first, 0x80 | length)
        elif length < 65536:
            header = struct.pack("!BBH", first, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", first, 0x80 | 127, length)
        key = os.urandom(4)
        masked = bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))
        self.sock.sendall(header + key + masked)

    def read_frame(self):
        """(fin, opcode, payload) of the next frame; a server's frames are never masked."""
        first, second = self.read_exact(2)
        if second & 0x80:
            raise ValueError("the server sent a masked frame")
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self.read_exact(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self.read_exact(8))
        return bool(first & 0x80), first & 0x0F, self.read_exact(length)

    def read_eof(self):
        """Whether the server closes TCP next, with no more bytes."""
        if self.buffer:
            return False
        try:
            return self.sock.recv(1) == b""
        except OSError:
            return False

    def close(self):
        self.sock.close()


def main():
    # Subprotocol negotiation: .supported_subprotocol = "chat".
    client = Client()
    status, fields, accept = client.handshake("/ws", ["superchat", "chat"])
    check(status == 101, f"GET /ws offering superchat, chat: 101 Switching Protocols (got {status})")
    check(fields.get("sec-websocket-accept") == [accept], "Sec-WebSocket-Accept matches the key (§4.2.2)")
    check(fields.get("sec-websocket-protocol") == ["chat"],
          f"Sec-WebSocket-Protocol: chat selected (got {fields.get('sec-websocket-protocol')})")

    # Control frames: the server answers a Ping itself and reports it (and a Pong) to its handler.
    client.send_frame(OP_PING, b"esp-idf ping")
    check(client.read_frame() == (True, OP_PONG, b"esp-idf ping"), "masked Ping answered by a Pong, same payload")
    client.send_frame(OP_PONG, b"unsolicited")

    # Asynchronous send from another task.
    client.send_frame(OP_TEXT, b"Trigger async")
    replies = [client.read_frame(), client.read_frame()]
    check(sorted(replies) == [(True, OP_TEXT, b"Async data"), (True, OP_TEXT, b"Trigger async")],
          f"Trigger async: echoed, then Async data from another task (got {replies})")

    # Manual fragmentation.
    client.send_frame(OP_TEXT, b"Trigger fragments")
    check(client.read_frame() == (True, OP_TEXT, b"Trigger fragments"), "Trigger fragments: echoed")
    frames = [client.read_frame() for _ in range(3)]
    shape = [(fin, opcode) for fin, opcode, _ in frames]
    check(shape == [(False, OP_TEXT), (False, OP_CONTINUATION), (True, OP_CONTINUATION)],
          f"Trigger fragments: one message in 3 frames, opcode 1 FIN 0, 0 FIN 0, 0 FIN 1 (got {shape})")
    message = b"".join(payload for _, _, payload in frames).decode()
    check(message == "This message was sent as three fragments", f"the fragments make one message: {message!r}")

    # A message sent in fragments by the client is echoed whole, with a Ping between the fragments.
    client.send_frame(OP_TEXT, b"frag", fin=False)
    client.send_frame(OP_PING, b"between")
    client.send_frame(OP_CONTINUATION, "mented κόσμε".encode(), fin=True)
    check(client.read_frame() == (True, OP_PONG, b"between"), "Ping between a client's fragments answered")
    check(client.read_frame() == (True, OP_TEXT, "fragmented κόσμε".encode()),
          "client's fragmented message echoed as one frame")

    # Closing handshake.
    client.send_frame(OP_CLOSE, struct.pack("!H", 1000))
    fin, opcode, payload = client.read_frame()
    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
    check((fin, opcode, code) == (True, OP_CLOSE, 1000), f"Close 1000 echoed with 1000 (got {opcode:#x}, {code})")
    check(client.read_eof(), "then the server closes TCP first (§7.1.1)")
    client.close()

    # No common subprotocol: accepted without one.
    client = Client()
    status, fields, _ = client.handshake("/ws", ["superchat"])
    check(status == 101 and "sec-websocket-protocol" not in fields,
          f"offering only superchat: 101 without Sec-WebSocket-Protocol (got {status}, {fields})")
    client.send_frame(OP_CLOSE, struct.pack("!H", 1000))
    check(client.read_frame()[1] == OP_CLOSE, "and it closes cleanly")
    client.close()

    # Only /ws is a WebSocket handler.
    client = Client()
    status, _, _ = client.handshake("/other", ["chat"])
    check(status == 404, f"an upgrade to /other: 404 (got {status})")
    client.close()


if __name__ == "__main__":
    try:
        main()
    except (OSError, EOFError, ValueError) as error:
        check(False, f"{type(error).__name__}: {error}")
