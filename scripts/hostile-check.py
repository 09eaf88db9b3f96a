#!/usr/bin/env python3
"""Hostile-peer checks for the echo server: does it bound every phase of a connection's life?

Starts the echo server itself on a free port of 127.0.0.1, once per scenario, attacks it over
loopback and prints one line per scenario, `ok NAME: FIGURES` or `FAIL NAME: WHY`, with what it
measured (elapsed times, counts, the server's RSS from /proc/PID/status and its CPU time from
/proc/PID/stat). Exits 1 if any scenario failed, 2 if the server could not be started.

Scenarios (all by default, or name some on the command line):

  slowloris           500 connections each send a valid upgrade request one byte per second;
                      each must be dropped by the server's handshake deadline (+3 s).
  silent              1000 connections that send nothing; each must be closed by the handshake
                      deadline (+3 s). The server gets MAX_CONNECTIONS=4096.
  non-reading         a WebSocket client with a small receive buffer sends 60 KiB messages and
                      never reads; with HEARTBEAT_INTERVAL=1000 the server must let go of it
                      within 2 heartbeats + close timeout (5 s) + linger (2 s) + 3 s of slack
                      after the last send that went through.
  fd-limit            the server runs with RLIMIT_NOFILE 64 and gets 100 silent connections: it
                      must stay under 20% of a core and 50 stderr lines over 3 s at the limit,
                      and serve a handshake and an echo within 5 s once they are gone.
  close-arrives       50 text messages, then a frame with RSV2 set, then more frames for ~1 s
                      without reading: the client must then read the 50 echoes and a Close 1002,
                      with no connection reset before it, neither when reading nor on the writes
                      after the violation (the server must drain them: a lingering close, not a
                      reset; a browser fails the connection with 1006 on a reset while it
                      writes, even though Linux still lets a raw client read the bytes that came
                      before it). 20 trials.
  close-arrives-1009  the same with a 70,000-byte message (MAX_MESSAGE_SIZE=65536): Close 1009.

It builds nothing. Build the server first, then run:

    cargo build --release --example echo_server --example echo_server_blocking
    scripts/hostile-check.py                       # every scenario, target/release/examples/echo_server
    scripts/hostile-check.py --blocking silent     # echo_server_blocking, one scenario
    scripts/hostile-check.py --count 50 slowloris  # a short run while developing
    scripts/hostile-check.py --server PATH --handshake-deadline 10

Python 3.11, standard library only, Linux only (/proc, poll). Everything is on
loopback, every loop is bounded in count and time, and the server is killed at the end, also on
failure or Ctrl-C. A full run takes about a minute.
"""

import argparse
import base64
import collections
import ctypes
import errno
import hashlib
import itertools
import os
import resource
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SERVER = os.path.join(REPO, "target/release/examples/echo_server")
BLOCKING_SERVER = os.path.join(REPO, "target/release/examples/echo_server_blocking")

# What the fixed server is expected to do (its defaults; see the module docstring).
CLOSE_TIMEOUT = 5.0  # Config::close_timeout
LINGER = 2.0  # the lingering close after the last frame
SLACK = 3.0

# The server's environment variables: never inherited from ours, each scenario sets its own.
SERVER_VARIABLES = (
    "BIND_ADDRESS",
    "BIND_PORT",
    "HEARTBEAT_INTERVAL",
    "HIGH_WATER_MARK",
    "MAX_MESSAGE_SIZE",
    "MAX_CONNECTIONS",
)

PR_SET_PDEATHSIG = 1  # linux/prctl.h

VERBOSE = False


def say(message):
    """Progress, on stderr, with -v."""
    if VERBOSE:
        print(f"  .. {message}", file=sys.stderr, flush=True)


class SetupError(Exception):
    """The check itself could not run (no server binary, server did not start...)."""


# --- RFC 6455 §5.2 frames, §5.3 masking, §4 opening handshake: just enough of a client --------

FIN = 0b1000_0000
RSV2 = 0b0010_0000
MASK = 0b1000_0000
OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x2, 0x8, 0x9, 0xA
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

Frame = collections.namedtuple("Frame", "fin rsv opcode payload")


def apply_mask(key, data):
    """§5.3: byte i is XORed with key[i % 4] (one big-integer XOR instead of a Python loop)."""
    size = len(data)
    if size == 0:
        return b""
    stream = (bytes(key) * (size // 4 + 1))[:size]
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(size, "big")


def encode_frame(opcode, payload=b"", *, fin=True, rsv=0, mask=True):
    """One frame in wire order: FIN/RSV/opcode, MASK/payload_len, extended length, key, payload."""
    first = (FIN if fin else 0) | rsv | opcode
    mask_bit = MASK if mask else 0
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", first, mask_bit | size)
    elif size < 65536:
        head = struct.pack("!BBH", first, mask_bit | 126, size)
    else:
        head = struct.pack("!BBQ", first, mask_bit | 127, size)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + apply_mask(key, payload)


class FrameDecoder:
    """Feed bytes, get whole frames back; what is left waits for the next feed."""

    def __init__(self):
        self.buffer = bytearray()

    def feed(self, data):
        self.buffer += data
        frames = []
        while (frame := self._next()) is not None:
            frames.append(frame)
        return frames

    def _next(self):
        buffer = self.buffer
        if len(buffer) < 2:
            return None
        first, second = buffer[0], buffer[1]
        size, offset = second & 0x7F, 2
        if size == 126:
            if len(buffer) < 4:
                return None
            (size,), offset = struct.unpack_from("!H", buffer, 2), 4
        elif size == 127:
            if len(buffer) < 10:
                return None
            (size,), offset = struct.unpack_from("!Q", buffer, 2), 10
        key = None
        if second & MASK:
            if len(buffer) < offset + 4:
                return None
            key, offset = bytes(buffer[offset : offset + 4]), offset + 4
        if len(buffer) < offset + size:
            return None
        payload = bytes(buffer[offset : offset + size])
        del buffer[: offset + size]
        if key is not None:
            payload = apply_mask(key, payload)
        return Frame(bool(first & FIN), first & 0b0111_0000, first & 0x0F, payload)


def close_code(payload):
    """§5.5.1: the status code of a Close body, None if it has none."""
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


def upgrade_request(port, key):
    """§4.1: a valid opening handshake request."""
    return (
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        "Origin: http://127.0.0.1\r\n\r\n"
    ).encode()


def ws_connect(port, deadline, rcvbuf=None):
    """Opens a WebSocket by hand; returns the socket (blocking) and the bytes after the 101 head.

    `rcvbuf` is set before connecting: the window scale is agreed on in the SYN, so a receive
    buffer shrunk afterwards would not shrink what the server may send.
    """
    key = base64.b64encode(os.urandom(16)).decode()
    expected_accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)

        def remaining():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("handshake deadline passed")
            return left

        sock.settimeout(remaining())
        sock.connect(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(remaining())
        sock.sendall(upgrade_request(port, key))
        response = bytearray()
        while b"\r\n\r\n" not in response:
            if len(response) > 16384:
                raise ConnectionError("response head over 16 KiB")
            sock.settimeout(remaining())
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError("EOF during the opening handshake")
            response += chunk
        head, _, leftover = bytes(response).partition(b"\r\n\r\n")
        status, *fields = head.decode("latin-1").split("\r\n")
        if not status.startswith("HTTP/1.1 101"):
            raise ConnectionError(f"answered {status!r}")
        headers = {}
        for field in fields:
            name, _, value = field.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("sec-websocket-accept") != expected_accept:
            raise ConnectionError("wrong Sec-WebSocket-Accept")
        sock.settimeout(None)
        return sock, leftover
    except BaseException:
        sock.close()
        raise


# --- the server under test ----------------------------------------------------------------------

RUNNING = set()  # servers to kill on the way out, whatever happens


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """The echo server in a process of its own; its stderr is read (and counted) by a thread."""

    def __init__(self, binary, environment, nofile=None):
        self.binary = binary
        self.environment = {name: str(value) for name, value in environment.items()}
        self.nofile = nofile
        self.lines = collections.deque(maxlen=5000)  # (monotonic time, line bytes), the latest
        self.line_count = 0
        self.listening = threading.Event()
        self.process = None
        self.port = None

    def start(self):
        self.port = free_port()
        environment = {k: v for k, v in os.environ.items() if k not in SERVER_VARIABLES}
        environment.update(self.environment, BIND_ADDRESS="127.0.0.1", BIND_PORT=str(self.port))
        nofile = self.nofile
        libc = ctypes.CDLL(None, use_errno=True)

        def in_the_child():
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # dies with us, even on SIGKILL
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        settings = " ".join(f"{k}={v}" for k, v in self.environment.items())
        say(f"starting {os.path.basename(self.binary)} on port {self.port} {settings}"
            + (f" nofile={nofile}" if nofile else ""))
        self.process = subprocess.Popen(
            [self.binary],
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=in_the_child,
            start_new_session=True,  # Ctrl-C reaches us, and we kill it
        )
        RUNNING.add(self)
        threading.Thread(target=self._read_stderr, daemon=True).start()
        deadline = time.monotonic() + 10
        while not self.listening.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = b" | ".join(line for _, line in list(self.lines)[-5:]).decode(errors="replace")
                raise SetupError(f"the server did not say 'listening on' ({tail or 'no output'})")
        return self

    def _read_stderr(self):
        fd = self.process.stderr.fileno()
        partial = b""
        while chunk := os.read(fd, 65536):
            now = time.monotonic()
            self.line_count += chunk.count(b"\n")
            lines = (partial + chunk).split(b"\n")
            partial = lines.pop()
            self.lines.extend(zip(itertools.repeat(now), lines))
            if not self.listening.is_set() and any(b"listening on" in line for line in lines):
                self.listening.set()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(2)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(2)
        RUNNING.discard(self)

    def alive(self):
        return self.process.poll() is None

    def rss_kib(self):
        """VmRSS from /proc/PID/status, in KiB (0 once the process is gone)."""
        try:
            with open(f"/proc/{self.process.pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def cpu_seconds(self):
        """utime + stime from /proc/PID/stat (fields 14 and 15), in seconds."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def socket_inodes(self):
        """The inodes of the sockets the server holds open."""
        inodes = set()
        directory = f"/proc/{self.process.pid}/fd"
        try:
            names = os.listdir(directory)
        except OSError:
            return inodes
        for name in names:
            try:
                target = os.readlink(f"{directory}/{name}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        return inodes

    def descriptor_count(self):
        try:
            return len(os.listdir(f"/proc/{self.process.pid}/fd"))
        except OSError:
            return 0

    def tail(self, count=3):
        return " | ".join(line.decode(errors="replace") for _, line in list(self.lines)[-count:])


def server_side_inode(server_port, client_port):
    """The inode of the server's end of our connection, from /proc/net/tcp (IPv4 loopback)."""
    local = f"0100007F:{server_port:04X}"
    remote = f"0100007F:{client_port:04X}"
    with open("/proc/net/tcp") as table:
        for line in table:
            fields = line.split()
            if len(fields) > 9 and fields[1] == local and fields[2] == remote:
                return fields[9]
    return None


def mib(kib):
    return f"{kib / 1024:.1f}"


class RssSampler:
    """The server's RSS before, at its peak while sampled, and after."""

    def __init__(self, server):
        self.server = server
        self.before = server.rss_kib()
        self.peak = self.before
        self.after = None
        self.last = 0.0

    def sample(self, every=0.2):
        now = time.monotonic()
        if now - self.last >= every:
            self.last = now
            self.peak = max(self.peak, self.server.rss_kib())

    def finish(self):
        self.sample(0)
        self.after = self.server.rss_kib()

    def __str__(self):
        return f"RSS {mib(self.before)}/{mib(self.peak)}/{mib(self.after)} MiB before/peak/after"


def errno_name(error):
    """ECONNRESET and the like for a system error, the message for one of ours."""
    if isinstance(error, OSError) and error.errno in errno.errorcode:
        return errno.errorcode[error.errno]
    return str(error) or type(error).__name__


def seconds_summary(times):
    if not times:
        return "none"
    return f"{min(times):.1f}/{statistics.median(times):.1f}/{max(times):.1f} s min/median/max"


# --- slowloris and silent: connections that never finish their handshake -------------------------


def hold_connections(args, name, count, trickle):
    """Opens `count` connections (each sending its request head a byte a second if `trickle`)
    and watches when the server drops them, for up to handshake deadline + 5 s."""
    deadline = args.handshake_deadline
    limit = deadline + 3
    server = Server(args.server, {"MAX_CONNECTIONS": 4096}).start()
    try:
        rss = RssSampler(server)
        cpu_before = server.cpu_seconds()
        poller = select.poll()
        connections = {}  # fd -> [socket, connected at, bytes sent, request]
        dropped = []  # seconds from connect to EOF or reset
        endings = collections.Counter()
        answered = set()  # connections that got bytes before their end (an HTTP 408, say)
        failed_connects = collections.Counter()
        started = time.monotonic()

        def drop(fd, how):
            sock, connected_at, *_ = connections.pop(fd)
            dropped.append(time.monotonic() - connected_at)
            endings[how] += 1
            poller.unregister(fd)
            sock.close()

        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(3)
            try:
                sock.connect(("127.0.0.1", server.port))
            except OSError as error:
                failed_connects[errno_name(error)] += 1
                sock.close()
                if time.monotonic() - started > 10:
                    break  # the server stopped accepting: stop trying
                continue
            sock.setblocking(False)
            request = upgrade_request(server.port, base64.b64encode(os.urandom(16)).decode())
            connections[sock.fileno()] = [sock, time.monotonic(), 0, request]
            poller.register(sock, select.POLLIN | select.POLLRDHUP)
        last_connect = time.monotonic()
        say(f"{name}: {len(connections)} connections open in {last_connect - started:.1f} s")

        next_byte = started
        observe_until = last_connect + deadline + 5
        while connections and time.monotonic() < observe_until:
            now = time.monotonic()
            if trickle and now >= next_byte:
                next_byte += 1.0
                for fd, connection in list(connections.items()):
                    sock, _, sent, request = connection
                    if sent < len(request):
                        try:
                            connection[2] += sock.send(request[sent : sent + 1])
                        except BlockingIOError:
                            pass
                        except OSError as error:
                            drop(fd, errno_name(error))
            timeout = min(0.2, max(0.0, next_byte - time.monotonic())) if trickle else 0.2
            for fd, _ in poller.poll(timeout * 1000):
                if fd not in connections:
                    continue
                sock = connections[fd][0]
                try:
                    data = sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError as error:
                    drop(fd, errno_name(error))
                    continue
                if data:
                    answered.add(fd)  # keep reading to the end
                else:
                    drop(fd, "EOF")
            rss.sample()
        open_at_end = len(connections)
        for sock, *_ in connections.values():
            sock.close()
        connections.clear()
        cpu = server.cpu_seconds() - cpu_before
        time.sleep(1)
        rss.finish()
    finally:
        server.stop()

    opened = len(dropped) + open_at_end
    in_time = sorted(t for t in dropped if t <= limit)
    how = ", ".join(f"{n} {what}" for what, n in endings.most_common())
    figures = f"{len(in_time)}/{count} dropped within {limit:.0f} s"
    if dropped:
        figures += f", {len(dropped)} in all at {seconds_summary(dropped)} after connecting ({how})"
    if answered:
        figures += f", {len(answered)} answered with data first"
    figures += f"; {open_at_end} still open after {deadline + 5:.0f} s; {rss}; server CPU {cpu:.2f} s"
    if failed_connects:
        figures += "; failed connects: " + ", ".join(f"{n} {e}" for e, n in failed_connects.items())
    ok = len(in_time) == count and opened == count
    return ok, figures


def scenario_slowloris(args):
    return hold_connections(args, "slowloris", args.count or 500, trickle=True)


def scenario_silent(args):
    return hold_connections(args, "silent", args.count or 1000, trickle=False)


# --- non-reading: a client that sends and never reads ----------------------------------------------


def scenario_non_reading(args):
    heartbeat = 1.0
    limit = 2 * heartbeat + CLOSE_TIMEOUT + LINGER + SLACK
    server = Server(args.server, {"HEARTBEAT_INTERVAL": 1000, "MAX_MESSAGE_SIZE": 65536}).start()
    try:
        rss = RssSampler(server)
        sock, _ = ws_connect(server.port, time.monotonic() + 5, rcvbuf=4096)
        client_port = sock.getsockname()[1]
        inode = None
        for _ in range(20):
            inode = server_side_inode(server.port, client_port)
            if inode and inode in server.socket_inodes():
                break
            time.sleep(0.05)
        else:
            inode = None
        messages = [encode_frame(OP_BINARY, os.urandom(60 * 1024)) for _ in range(4)]
        sock.setblocking(False)
        poller = select.poll()
        poller.register(sock, select.POLLOUT | select.POLLRDHUP)
        sent_messages = sent_bytes = 0
        pending = memoryview(messages[0])
        started = time.monotonic()
        last_send = started
        client_saw = None  # (time, how) when the client noticed the end
        server_dropped = None  # when the server closed its descriptor for us

        def hangup(events):
            if events & select.POLLERR:
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                return errno.errorcode.get(code, "error")
            return "EOF" if events & (select.POLLRDHUP | select.POLLHUP) else None

        # Send as fast as the socket takes it; stop once it has not been writable for 1 s.
        blocked = False
        while time.monotonic() - started < args.send_seconds:
            events = poller.poll(1000)
            now = time.monotonic()
            if not events:
                blocked = True
                break
            how = hangup(events[0][1])
            if how:
                client_saw = (now, how)
                break
            try:
                written = sock.send(pending)
            except BlockingIOError:
                continue
            except OSError as error:
                client_saw = (now, errno_name(error))
                break
            last_send = now
            sent_bytes += written
            pending = pending[written:]
            if not pending:
                sent_messages += 1
                pending = memoryview(messages[sent_messages % len(messages)])
            rss.sample()
        say(f"non-reading: {sent_messages} messages sent, blocked={blocked}")

        # Wait for the server to let go: its descriptor closes, and we see a hangup if it comes.
        poller.modify(sock, select.POLLRDHUP)
        wait_until = last_send + limit + 5
        while time.monotonic() < wait_until and (client_saw is None or server_dropped is None):
            events = poller.poll(100)
            now = time.monotonic()
            if events and client_saw is None:
                client_saw = (now, hangup(events[0][1]) or "hangup")
                poller.unregister(sock)
            if server_dropped is None and inode and inode not in server.socket_inodes():
                server_dropped = now
            rss.sample()

        # Read everything that was sent to us, to the end (bounded).
        sock.setblocking(True)
        sock.settimeout(2)
        decoder = FrameDecoder()
        received = 0
        close_seen = None
        read_end = "timeout: still connected"
        read_until = time.monotonic() + 15
        while time.monotonic() < read_until:
            try:
                data = sock.recv(262144)
            except ConnectionResetError:
                read_end = "ECONNRESET"
                break
            except TimeoutError:
                break
            except OSError as error:
                read_end = errno_name(error)
                break
            if not data:
                read_end = "EOF"
                break
            received += len(data)
            for frame in decoder.feed(data):
                if frame.opcode == OP_CLOSE and close_seen is None:
                    close_seen = close_code(frame.payload)
        read_at = time.monotonic()
        if client_saw is None and read_end != "timeout: still connected":
            client_saw = (read_at, f"{read_end} when reading at the end")
        sock.close()
        time.sleep(1)
        rss.finish()
        tail = server.tail(2)
        peer = f"127.0.0.1:{client_port}:".encode()
        logged = [moment for moment, line in list(server.lines)
                  if peer in line and b"connected to" not in line]
        for moment, line in list(server.lines)[-3:]:
            text = line.decode(errors="replace")
            say(f"server at {moment - last_send:+.1f} s after the last send: {text}")
    finally:
        server.stop()

    def since_last_send(moment):
        return f"{moment - last_send:.1f} s"

    server_figures = [f"logged the end at {since_last_send(logged[0])}" if logged else "logged no end"]
    if not inode:
        server_figures.append("its socket was not found in /proc")
    elif server_dropped is None:
        server_figures.append(f"still held its socket at {wait_until - last_send:.0f} s")
    else:
        server_figures.append(f"closed its socket at {since_last_send(server_dropped)}")
    client_figure = f"at {since_last_send(client_saw[0])} ({client_saw[1]})" if client_saw else "never"
    figures = (
        f"sent {sent_messages} x 60 KiB ({sent_bytes / 2**20:.1f} MiB) in "
        f"{last_send - started:.1f} s, {'blocked' if blocked else 'never blocked'}; after the last "
        f"send the server {' and '.join(server_figures)}, the client saw the end {client_figure} "
        f"(limit {limit:.0f} s); read back {received / 2**20:.1f} MiB, "
        f"Close {close_seen if close_seen is not None else 'none'}, then {read_end}; {rss}"
    )
    ends = [t for t in (server_dropped, client_saw and client_saw[0]) if t]
    ok = bool(ends) and min(ends) - last_send <= limit and read_end != "timeout: still connected"
    if not ok and VERBOSE:
        figures += f"; server said: {tail}"
    return ok, figures


# --- fd-limit: the server out of descriptors ---------------------------------------------------------


def echo_once(port, deadline):
    """A handshake and one echoed text message before `deadline`; returns the seconds it took."""
    started = time.monotonic()
    sock, leftover = ws_connect(port, deadline)
    try:
        decoder = FrameDecoder()
        frames = decoder.feed(leftover)
        text = b"echo after the descriptor limit"
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        sock.sendall(encode_frame(OP_TEXT, text))
        while True:
            for frame in frames:
                if frame.opcode == OP_TEXT:
                    if frame.payload != text:
                        raise ConnectionError(f"echo was {frame.payload[:40]!r}")
                    sock.sendall(encode_frame(OP_CLOSE, struct.pack("!H", 1000)))
                    return time.monotonic() - started
                if frame.opcode == OP_CLOSE:
                    raise ConnectionError(f"Close {close_code(frame.payload)} instead of the echo")
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("EOF instead of the echo")
            frames = decoder.feed(data)
    finally:
        sock.close()


def scenario_fd_limit(args):
    nofile = 64
    count = 100
    window = 3.0
    server = Server(args.server, {}, nofile=nofile).start()
    silent = []
    try:
        rss = RssSampler(server)
        failed = collections.Counter()
        started = time.monotonic()
        for _ in range(count):
            if time.monotonic() - started > 10:
                failed["not tried: 10 s of connecting"] += 1
                continue
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(2)
            try:
                sock.connect(("127.0.0.1", server.port))
                silent.append(sock)
            except OSError as error:
                failed[errno_name(error)] += 1
                sock.close()
        time.sleep(1)  # let it reach the limit
        descriptors = server.descriptor_count()
        cpu_before, lines_before, window_start = server.cpu_seconds(), server.line_count, time.monotonic()
        while time.monotonic() - window_start < window:
            time.sleep(0.2)
            rss.sample()
        elapsed = time.monotonic() - window_start
        cpu = (server.cpu_seconds() - cpu_before) / elapsed * 100
        lines = server.line_count - lines_before
        sample = server.tail(1)
        for sock in silent:
            sock.close()
        silent.clear()
        try:
            took = echo_once(server.port, time.monotonic() + 5)
            echo = f"handshake + echo in {took:.2f} s"
            echo_ok = True
        except (OSError, ConnectionError) as error:
            echo = f"no handshake + echo within 5 s ({errno_name(error)})"
            echo_ok = False
        alive = server.alive()
        rss.finish()
    finally:
        for sock in silent:
            sock.close()
        server.stop()

    figures = (
        f"{count} silent connections ({sum(failed.values())} failed), server at "
        f"{descriptors}/{nofile} descriptors: CPU {cpu:.0f}% of a core over {elapsed:.1f} s "
        f"(limit 20%), {lines} stderr lines (limit 50); after closing them: {echo}; {rss}"
    )
    if not alive:
        figures += "; the server exited"
    if lines and VERBOSE:
        figures += f"; a line: {sample}"
    return cpu < 20 and lines < 50 and echo_ok and alive, figures


# --- close-arrives: the Close a server fails a connection with reaches the client ---------------------


def close_trial(port, violation, expected_code, count=50):
    """One trial; returns (the echoes and the Close were read, what was read, how the writes
    after the violation ended: None if they all went through)."""
    sock, leftover = ws_connect(port, time.monotonic() + 5)
    try:
        decoder = FrameDecoder()
        frames = decoder.feed(leftover)
        burst = b"".join(encode_frame(OP_TEXT, b"message %02d" % i) for i in range(count))
        write_end = None
        sock.settimeout(5)
        try:
            sock.sendall(burst + violation)
        except OSError as error:
            write_end = errno_name(error)
        # Keep writing small frames for about 1 s without reading (at most 100 of them).
        sock.setblocking(False)
        pending = bytearray()
        stop_at = time.monotonic() + 1.0
        extra = 0
        while write_end is None and time.monotonic() < stop_at and extra < 100:
            pending += encode_frame(OP_TEXT, b"after %d" % extra)
            extra += 1
            try:
                del pending[: sock.send(pending)]
            except BlockingIOError:
                pass
            except OSError as error:
                write_end = errno_name(error)
            time.sleep(0.01)
        # Now read: the echoes in order, then the Close.
        sock.setblocking(True)
        sock.settimeout(2)
        texts = []
        close = None
        ending = None
        read_until = time.monotonic() + 5
        while close is None:
            for frame in frames:
                if frame.opcode == OP_CLOSE:
                    close = close_code(frame.payload)
                    break
                if frame.opcode in (OP_TEXT, OP_BINARY):
                    texts.append(frame.payload)
            if close is not None:
                break
            if time.monotonic() > read_until:
                ending = "timeout"
                break
            try:
                data = sock.recv(65536)
            except TimeoutError:
                ending = "timeout"
                break
            except OSError as error:
                ending = errno_name(error)
                break
            if not data:
                ending = "EOF"
                break
            frames = decoder.feed(data)
        expected = [b"message %02d" % i for i in range(count)]
        in_order = texts == expected
        if close is not None:
            try:
                sock.settimeout(0.5)
                sock.sendall(encode_frame(OP_CLOSE, struct.pack("!H", close)))
            except OSError:
                pass
        echoes = f"{len(texts)} echoes{'' if in_order else ' (not the ones sent)'}"
        if close is not None:
            what = f"{echoes}, Close {close}"
        else:
            what = f"{echoes}, then {ending} before a Close"
        return in_order and close == expected_code, what, write_end
    finally:
        sock.close()


def close_arrives(args, violation, expected_code, environment):
    trials = args.trials or 20
    server = Server(args.server, environment).start()
    outcomes = collections.Counter()
    write_ends = collections.Counter()
    successes = read_all = 0
    try:
        rss = RssSampler(server)
        started = time.monotonic()
        for trial in range(trials):
            try:
                read_ok, what, write_end = close_trial(server.port, violation(), expected_code)
            except (OSError, ConnectionError) as error:
                read_ok, what, write_end = False, f"handshake failed ({error})", "-"
            ok = read_ok and write_end is None
            successes += ok
            read_all += read_ok
            outcomes[what] += 1
            write_ends[write_end or "went through"] += 1
            verdict = "ok" if ok else "FAIL"
            say(f"trial {trial + 1}: {verdict} {what}; writes after: {write_end or 'went through'}")
            rss.sample(0)
        elapsed = time.monotonic() - started
        rss.finish()
    finally:
        server.stop()
    seen = "; ".join(f"{n}x {what}" for what, n in outcomes.most_common())
    writes = ", ".join(f"{n}x {what}" for what, n in write_ends.most_common())
    figures = (
        f"{successes}/{trials} trials ok; read: {seen} ({read_all}/{trials} as expected); the "
        f"writes after the violation: {writes}; {elapsed:.1f} s; {rss}"
    )
    return successes == trials, figures


def scenario_close_arrives(args):
    def rsv2_frame():  # §5.2: RSV2 set without an extension that defines it -> 1002
        return encode_frame(OP_TEXT, b"rsv2 is set", rsv=RSV2)

    return close_arrives(args, rsv2_frame, 1002, {"MAX_MESSAGE_SIZE": 65536})


def scenario_close_arrives_1009(args):
    def oversize_message():  # 70,000 bytes over MAX_MESSAGE_SIZE=65536 -> 1009
        return encode_frame(OP_BINARY, os.urandom(70_000))

    return close_arrives(args, oversize_message, 1009, {"MAX_MESSAGE_SIZE": 65536})


SCENARIOS = {
    "slowloris": scenario_slowloris,
    "silent": scenario_silent,
    "non-reading": scenario_non_reading,
    "fd-limit": scenario_fd_limit,
    "close-arrives": scenario_close_arrives,
    "close-arrives-1009": scenario_close_arrives_1009,
}


def raise_descriptor_limit(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
            return
        except (ValueError, OSError):
            needed = hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def main():
    global VERBOSE
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                        help=f"any of {', '.join(SCENARIOS)} (default: all)")
    parser.add_argument("--server", help=f"server binary (default {os.path.relpath(DEFAULT_SERVER)})")
    parser.add_argument("--blocking", action="store_true",
                        help=f"use {os.path.relpath(BLOCKING_SERVER)}")
    parser.add_argument("--handshake-deadline", type=float, default=10.0, metavar="S",
                        help="the server's opening-handshake deadline in seconds (default 10)")
    parser.add_argument("--count", type=int, metavar="N",
                        help="connections for slowloris and silent (default 500 and 1000)")
    parser.add_argument("--trials", type=int, metavar="N", help="close-arrives trials (default 20)")
    parser.add_argument("--send-seconds", type=float, default=30.0, metavar="S",
                        help="longest non-reading sending phase (default 30)")
    parser.add_argument("-v", "--verbose", action="store_true", help="progress on stderr")
    args = parser.parse_args()
    VERBOSE = args.verbose
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    if args.server and args.blocking:
        parser.error("--server and --blocking exclude each other")
    args.server = os.path.abspath(args.server or (BLOCKING_SERVER if args.blocking else DEFAULT_SERVER))
    if not os.access(args.server, os.X_OK):
        print(f"hostile-check: no server binary at {args.server}; build it first:\n"
              "    cargo build --release --example echo_server --example echo_server_blocking",
              file=sys.stderr)
        return 2
    raise_descriptor_limit(max(args.count or 0, 1000) + 256)

    # SIGTERM and SIGHUP end us like Ctrl-C does, through the finally that kills the server
    # (unless they are ignored, as under nohup).
    def interrupted(signum, _frame):
        raise KeyboardInterrupt

    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, interrupted)

    failures = 0
    try:
        for name in args.scenarios or list(SCENARIOS):
            try:
                ok, figures = SCENARIOS[name](args)
            except SetupError as error:
                print(f"FAIL {name}: {error}", flush=True)
                return 2
            except (OSError, ConnectionError) as error:
                ok, figures = False, f"{type(error).__name__}: {error}"
            print(f"{'ok' if ok else 'FAIL'} {name}: {figures}", flush=True)
            failures += not ok
    except KeyboardInterrupt:
        print("hostile-check: interrupted", file=sys.stderr)
        return 130
    finally:
        for server in list(RUNNING):
            server.stop()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
