"""permessage-deflate (RFC 7692) against real peers: Python `websockets` both ways, and a raw socket.

usage: python deflate_check.py echo PORT
           examples/echo_server (run with PERMESSAGE_DEFLATE=1 and MAX_MESSAGE_SIZE >= 1 MiB) on
           127.0.0.1:PORT, checked by
           - a `websockets` client (compression on, its default): the response's
             Sec-WebSocket-Extensions names permessage-deflate; text and binary messages of every
             size class up to 1 MiB, compressible and random, are echoed equal; every message
             websockets sent went compressed (RSV1), and the server's echo had RSV1 exactly when
             it is at least 1 KiB (the server's compression threshold) and compression shrinks
             it (the server keeps no context, so it sends random data as it is);
           - a raw socket (the standard library's socket and zlib, no WebSocket library): the
             handshake, then messages sent compressed and uncompressed; each echo is read off
             the wire: unmasked, RSV1 on its first frame exactly when it is at least 1 KiB and
             compressible, never
             RSV2/RSV3 or RSV1 on a continuation, and inflated with zlib it is the message sent.
       python deflate_check.py client-role CLIENT
           a `websockets` server (compression on, its default: it asks for 12-bit windows) on a
           free loopback port, and examples/client (the binary CLIENT) run against it with
           --deflate: the client offers permessage-deflate and reports it accepted, its
           messages arrive equal, with RSV1 exactly when they are at least 1 KiB, its echoes
           (compressed by websockets) are all received, and it exits 0 after a clean close.

Prints one "ok    ..." or "FAIL  ..." line per check and exits 1 at the first failure. Every wait
is bounded (10 s per exchange, 30 s per client run).
"""
import asyncio
import base64
import hashlib
import os
import random
import re
import socket
import struct
import sys
import zlib

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Opcode

KIB = 1024
MIB = 1024 * KIB
# Around the 7-bit, 16-bit and 64-bit payload lengths (RFC 6455 §5.2) and the 1 KiB threshold.
SIZES = [0, 1, 125, 126, 1023, 1024, 1025, 64 * KIB - 1, 64 * KIB, 64 * KIB + 1, MIB]
# The echo server compresses messages of at least this many bytes (DEFAULT_COMPRESS_MIN).
COMPRESS_MIN = 1024
EXCHANGE_TIMEOUT = 10
DATA_OPCODES = (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)


def check(condition, what):
    print(("ok    " if condition else "FAIL  ") + what, flush=True)
    if not condition:
        sys.exit(1)


# ------------------------------------------------------------------------------------------------
# Payloads: deterministic, so a failure can be reproduced.

PHRASE = "permessage-deflate compresses repeated text: κόσμε, €, 😀. "


def compressible_text(size):
    """Text of exactly `size` UTF-8 bytes that compresses well (repeated, with 2- to 4-byte code points)."""
    data = (PHRASE * (size // len(PHRASE.encode()) + 1)).encode()[:size]
    # Cut at a code point boundary, then pad with ASCII to the exact size.
    text = data.decode("utf-8", errors="ignore")
    return text + "." * (size - len(text.encode()))


def random_text(size, rng):
    """Text of exactly `size` UTF-8 bytes of random characters, some multi-byte."""
    alphabet = [chr(c) for c in range(0x21, 0x7F) if chr(c) != "%"] + list("éßκόσμε€😀")
    chars, length = [], 0
    while length < size:
        char = rng.choice(alphabet)
        if length + len(char.encode()) > size:
            char = "x"
        chars.append(char)
        length += len(char.encode())
    return "".join(chars)


def compressible_binary(size):
    return bytes(range(256)) * (size // 256) + bytes(range(size % 256))


def samples():
    """(label, message) for every size: text and binary, compressible and random."""
    rng = random.Random(7692)
    result = []
    for size in SIZES:
        result.append((f"compressible text of {size} bytes", compressible_text(size)))
        result.append((f"random text of {size} bytes", random_text(size, rng)))
        result.append((f"compressible binary of {size} bytes", compressible_binary(size)))
        result.append((f"random binary of {size} bytes", rng.randbytes(size)))
    return result


def size_of(message):
    return len(message.encode()) if isinstance(message, str) else len(message)


def server_compresses(message):
    """Whether the echo server sends `message` compressed: at least COMPRESS_MIN bytes, and, as its
    compressor keeps no context between messages (server_no_context_takeover), only if compressing
    shrinks it (random data does not)."""
    data = message.encode() if isinstance(message, str) else message
    if len(data) < COMPRESS_MIN:
        return False
    deflate = zlib.compressobj(wbits=-15)
    return len(deflate.compress(data) + deflate.flush(zlib.Z_SYNC_FLUSH)) - 4 < len(data)


def digest(message):
    data = message.encode() if isinstance(message, str) else message
    return hashlib.sha256(data).hexdigest()[:12]


# ------------------------------------------------------------------------------------------------
# websockets' permessage-deflate, recording the RSV1 bit of every data frame it reads and writes.
# The factories are websockets' own, with its default settings; only the extension instance they
# return is wrapped (the public Extension API: decode() sees the frame as it came off the wire,
# encode() returns it as it goes onto it).


def record_frames(extension, received, sent):
    decode, encode = extension.decode, extension.encode

    def recording_decode(frame, *, max_size=None):
        if frame.opcode in DATA_OPCODES:
            received.append((frame.opcode, frame.rsv1, frame.fin))
        return decode(frame, max_size=max_size)

    def recording_encode(frame):
        frame = encode(frame)
        if frame.opcode in DATA_OPCODES:
            sent.append((frame.opcode, frame.rsv1, frame.fin))
        return frame

    extension.decode, extension.encode = recording_decode, recording_encode
    return extension


class RecordingClientFactory(ClientPerMessageDeflateFactory):
    def __init__(self):
        # enable_client_permessage_deflate's settings: websockets' default.
        super().__init__(compress_settings={"memLevel": 5})
        self.received, self.sent = [], []

    def process_response_params(self, params, accepted_extensions):
        extension = super().process_response_params(params, accepted_extensions)
        return record_frames(extension, self.received, self.sent)


class RecordingServerFactory(ServerPerMessageDeflateFactory):
    def __init__(self):
        # enable_server_permessage_deflate's settings: websockets' default.
        super().__init__(server_max_window_bits=12, client_max_window_bits=12, compress_settings={"memLevel": 5})
        self.received, self.sent = [], []

    def process_request_params(self, params, accepted_extensions):
        response, extension = super().process_request_params(params, accepted_extensions)
        return response, record_frames(extension, self.received, self.sent)


def first_frames_rsv1(frames):
    """The RSV1 bit of each message's first frame; checks that no continuation frame has it."""
    firsts = []
    for opcode, rsv1, _fin in frames:
        if opcode == Opcode.CONT:
            if rsv1:
                check(False, "no continuation frame has RSV1 (RFC 7692 §6.1)")
        else:
            firsts.append(rsv1)
    return firsts


# ------------------------------------------------------------------------------------------------
# echo: websockets client against the echo server.


async def websockets_client(port):
    factory = RecordingClientFactory()
    async with connect(f"ws://127.0.0.1:{port}/deflate", extensions=[factory], max_size=None,
                       ping_interval=None, open_timeout=EXCHANGE_TIMEOUT) as ws:
        offered = ws.request.headers.get("Sec-WebSocket-Extensions", "")
        answered = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        check("permessage-deflate" in offered and "permessage-deflate" in answered,
              f"websockets: offered {offered!r}, the echo server answered {answered!r}")
        check(len(ws.protocol.extensions) == 1, f"websockets: negotiated {ws.protocol.extensions}")
        exchanged = samples()
        for label, message in exchanged:
            await asyncio.wait_for(ws.send(message), EXCHANGE_TIMEOUT)
            echo = await asyncio.wait_for(ws.recv(), EXCHANGE_TIMEOUT)
            same = type(echo) is type(message) and echo == message
            check(same, f"websockets -> echo server -> websockets: {label} echoed equal "
                        f"(sha256 {digest(message)})")
        await ws.close()
        check(ws.close_code == 1000, f"websockets: closed with {ws.close_code}")
    # websockets compresses every message it sends: the server inflated all of them.
    sent = first_frames_rsv1(factory.sent)
    check(len(sent) == len(exchanged) and all(sent),
          f"websockets sent all {len(sent)} messages compressed (RSV1), the server inflated them")
    received = first_frames_rsv1(factory.received)
    expected = [server_compresses(message) for _, message in exchanged]
    check(received == expected,
          f"the echo server's {len(received)} echoes had RSV1 exactly when at least {COMPRESS_MIN} bytes "
          f" and compressible "
          f"({sum(received)} compressed, {len(received) - sum(received)} not)")


# ------------------------------------------------------------------------------------------------
# echo: a raw socket, the RFC's bytes by hand.


class RawClient:
    """A WebSocket client on a plain socket: frames encoded and decoded here, zlib for DEFLATE."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=EXCHANGE_TIMEOUT)
        self.buffer = b""
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (f"GET /raw HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
             f"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n").encode())
        while b"\r\n\r\n" not in self.buffer:
            self.fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.status = lines[0]
        self.extensions = headers.get("sec-websocket-extensions", "")
        # RFC 7692 §7.2.2: one inflater for the connection (context takeover unless negotiated
        # otherwise: an inflater that keeps its window decodes both).
        self.inflater = zlib.decompressobj(wbits=-15)
        self.deflater = zlib.compressobj(wbits=-15)

    def fill(self):
        data = self.sock.recv(256 * KIB)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buffer += data

    def take(self, count):
        while len(self.buffer) < count:
            self.fill()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def send_frame(self, opcode, payload, rsv1=False):
        first = 0x80 | (0x40 if rsv1 else 0) | opcode
        length = len(payload)
        if length < 126:
            head = struct.pack("!BB", first, 0x80 | length)
        elif length < 65536:
            head = struct.pack("!BBH", first, 0x80 | 126, length)
        else:
            head = struct.pack("!BBQ", first, 0x80 | 127, length)
        mask = os.urandom(4)
        # §5.3: octet i XOR masking-key octet i % 4, done on the whole payload as one integer.
        key = (mask * (length // 4 + 1))[:length]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(length, "big")
        self.sock.sendall(head + mask + masked)

    def send_message(self, opcode, data, compress):
        if compress:
            # §7.2.1: compress, sync flush, remove the trailing 00 00 ff ff.
            body = self.deflater.compress(data) + self.deflater.flush(zlib.Z_SYNC_FLUSH)
            assert body.endswith(b"\x00\x00\xff\xff")
            self.send_frame(opcode, body[:-4], rsv1=True)
        else:
            self.send_frame(opcode, data)

    def read_frame(self):
        first, second = self.take(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self.take(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self.take(8))
        return {"fin": bool(first & 0x80), "rsv1": bool(first & 0x40), "rsv23": first & 0x30,
                "opcode": first & 0x0F, "masked": bool(second & 0x80), "payload": self.take(length)}

    def read_message(self):
        """(opcode, data, RSV1 of the first frame, bytes on the wire), with every frame's header checked."""
        frames = []
        while True:
            frame = self.read_frame()
            if frame["masked"] or frame["rsv23"]:
                check(False, f"raw socket: frames from the server unmasked, RSV2 and RSV3 clear ({frame})")
            if frame["opcode"] >= 0x8:
                return frame["opcode"], frame["payload"], frame["rsv1"], len(frame["payload"])
            if frames and (frame["opcode"] != 0 or frame["rsv1"]):
                check(False, f"continuation frame well formed (opcode {frame['opcode']}, rsv1 {frame['rsv1']})")
            frames.append(frame)
            if frame["fin"]:
                break
        wire = b"".join(frame["payload"] for frame in frames)
        if frames[0]["rsv1"]:
            data = self.inflater.decompress(wire + b"\x00\x00\xff\xff")
        else:
            data = wire
        return frames[0]["opcode"], data, frames[0]["rsv1"], len(wire)


def raw_client(port):
    raw = RawClient(port)
    check(raw.status.startswith("HTTP/1.1 101") and raw.extensions.startswith("permessage-deflate"),
          f"raw socket: {raw.status!r}, Sec-WebSocket-Extensions: {raw.extensions!r}")
    rng = random.Random(6455)
    cases = []
    for size in [0, 1, 1023, 1024, 64 * KIB, MIB]:
        cases.append((0x1, compressible_text(size).encode(), "compressible text"))
        cases.append((0x2, rng.randbytes(size), "random binary"))
    for index, (opcode, data, kind) in enumerate(cases):
        compress = index % 4 < 2  # every other pair goes compressed: both forms are valid input
        raw.send_message(opcode, data, compress)
        got_opcode, got, rsv1, wire = raw.read_message()
        expected_rsv1 = server_compresses(data)
        check(got_opcode == opcode and got == data and rsv1 == expected_rsv1,
              f"raw socket: {kind} of {len(data)} bytes sent {'compressed' if compress else 'plain'}, "
              f"echoed equal with RSV1={rsv1} in {wire} bytes on the wire")
    raw.send_frame(0x8, struct.pack("!H", 1000))
    opcode, payload, _, _ = raw.read_message()
    check(opcode == 0x8 and payload[:2] == struct.pack("!H", 1000), "raw socket: Close 1000 answered with 1000")
    raw.sock.close()


# ------------------------------------------------------------------------------------------------
# client-role: examples/client --deflate against a websockets server.


# The client's line for each piece of data: its frame's length on the wire, the piece's inflated
# length, and the piece's offset in the frame (on the wire).
DATA_LINE = re.compile(r"Total payload length=(\d+), data_len=(\d+), current payload offset=(\d+)")


async def client_role(client):
    factory = RecordingServerFactory()
    connections = []

    async def echo(ws):
        record = {"offer": ws.request.headers.get("Sec-WebSocket-Extensions", ""),
                  "answer": ws.response.headers.get("Sec-WebSocket-Extensions", ""), "messages": []}
        connections.append(record)
        async for message in ws:
            record["messages"].append(message)
            await ws.send(message)

    rng = random.Random(1)
    long_text = compressible_text(100_000)
    runs = [
        # (label, arguments, the messages the server should receive)
        ("3 short text messages (under 1 KiB: sent plain)", ["--message", "hello %d", "--count", "3"],
         [f"hello {i}" for i in range(3)]),
        ("3 compressible text messages of 100,000 bytes", ["--message", "%d" + long_text[1:], "--count", "3"],
         [f"{i}" + long_text[1:] for i in range(3)]),
    ]
    random_body = random_text(99_999, rng)
    runs.append(("2 random text messages of 100,000 bytes", ["--message", "%d" + random_body, "--count", "2"],
                 [f"{i}" + random_body for i in range(2)]))
    binary_body = compressible_text(4999)
    runs.append(("2 binary messages of 5,000 bytes", ["--message", "%d" + binary_body, "--count", "2", "--binary"],
                 [f"{i}{binary_body}".encode() for i in range(2)]))

    async with serve(echo, "127.0.0.1", 0, extensions=[factory], max_size=None, ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        for label, arguments, expected in runs:
            connections.clear()
            factory.received.clear()
            factory.sent.clear()
            process = await asyncio.create_subprocess_exec(
                client, f"ws://127.0.0.1:{port}/", "--deflate", "--interval", "0", "--timeout", "5", *arguments,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            try:
                stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()
                check(False, f"client --deflate, {label}: finished within 30 s")
            output = stdout.decode(errors="replace")
            errors = stderr.decode(errors="replace")
            if process.returncode != 0 or errors:
                print(output + errors, flush=True)
            check(process.returncode == 0 and not errors, f"client --deflate, {label}: exited 0 after a clean close")
            check(len(connections) == 1, f"client --deflate, {label}: one connection")
            record = connections[0]
            accepted = re.search(r"Extensions accepted by the server: (.*)", output)
            check("permessage-deflate" in record["offer"] and "permessage-deflate" in record["answer"]
                  and accepted is not None and accepted.group(1) == record["answer"],
                  f"client --deflate, {label}: offered {record['offer']!r}, "
                  f"reports accepted {accepted.group(1) if accepted else None!r}")
            check(record["messages"] == expected,
                  f"client --deflate, {label}: all arrived equal at the websockets server")
            rsv1 = first_frames_rsv1(factory.received)
            want = [size_of(message) >= COMPRESS_MIN for message in expected]
            check(rsv1 == want, f"client --deflate, {label}: RSV1 {rsv1} (compressed from 1 KiB on)")
            received = sum(int(match.group(2)) for match in DATA_LINE.finditer(output))
            wire = sum(int(match.group(1)) for match in DATA_LINE.finditer(output) if match.group(3) == "0")
            total = sum(size_of(message) for message in expected)
            echoes_compressed = all(first_frames_rsv1(factory.sent))
            check(received == total and echoes_compressed and "No data received" not in output,
                  f"client --deflate, {label}: every echo (compressed by websockets) received, "
                  f"{received} bytes inflated from {wire} on the wire")


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "echo" and len(sys.argv) == 3:
        asyncio.run(websockets_client(int(sys.argv[2])))
        raw_client(int(sys.argv[2]))
    elif mode == "client-role" and len(sys.argv) == 3:
        asyncio.run(client_role(sys.argv[2]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


main()
