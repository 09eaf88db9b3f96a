//! A whole connection, in memory: one endpoint sends N messages, the other receives them all,
//! beside tungstenite doing the same in the same run.
//!
//! Groups, each with `Throughput::Bytes` = payload bytes per iteration (N x SIZE):
//! - `connection/client_to_server/SIZE`: Binary messages from a client (masks every frame) to a
//!   server (unmasks);
//! - `connection/server_to_client/SIZE`: Binary messages from a server (no masking) to a client;
//! - `connection/client_to_server_text/16B`: Text messages client to server, so the receiver
//!   validates UTF-8 too (the 16-byte payload has 2-byte code points);
//! - `connection/echo_one_at_a_time/16B`: a client sends a Binary message, the server receives
//!   it and sends it back, the client receives the echo; 1000 times per iteration, each message
//!   alone on the wire (one read per message, as when a peer waits for each answer: the case
//!   where the cost per `receive` call counts, not the cost per message of a batch).
//!
//! SIZE is 16 B or 1 KiB with N = 1000, or 64 KiB with N = 100. Messages per second are
//! `N / time per iteration` (`scripts/bench-summary.py` prints that time).
//!
//! One iteration, for either implementation, is one batch over a simulated socket:
//! 1. the sender queues N messages (framing, and for a client a fresh masking key per frame from
//!    its CSPRNG plus the masking itself);
//! 2. its output is copied onto a wire buffer, as a socket write would copy it, whenever more
//!    than 128 KiB is pending and once at the end: tungstenite's default `write_buffer_size`
//!    policy, which its `write` applies itself and the rfc6455 loop applies by hand (so neither
//!    side builds a multi-megabyte output buffer the other does not);
//! 3. the receiver gets the wire bytes in reads of at most 64 KiB, and every message is taken
//!    out (header decoding, unmasking, UTF-8 validation for Text, reassembly into an owned
//!    message), counted, and the count asserted to be N.
//!
//! In detail:
//! - `rfc6455`: `Connection::send_message(&message)` N times (the message holds its payload as
//!   `Bytes`, as tungstenite's does), and after each one if `unsent_len() > 128 KiB`, the pieces
//!   of `bytes_to_send_vectored` appended to the wire `Vec` (a vectored socket write) and
//!   `mark_sent`; the same once more at the end. Then for each 64 KiB piece of the wire,
//!   `Connection::receive(now, piece)` and `poll_event` until `None`, each `Event::Message`
//!   counted.
//! - `tungstenite`: `WebSocket::write(message.clone())` N times (a `Bytes`/`Utf8Bytes` clone, a
//!   reference-count increment: its API takes messages by value; `write` itself writes its
//!   buffer to the stream past 128 KiB) and one `flush`, into a [`MemoryStream`] whose written
//!   `Vec` is then swapped, without copying, into the receiver's `MemoryStream` as its input;
//!   the receiver calls `WebSocket::read` until the stream says `WouldBlock`.
//!   `MemoryStream::read` hands out at most 64 KiB per call, copied into tungstenite's read
//!   buffer as a socket read would.
//!
//! So both sides copy the bytes the same number of times outside the library (once onto the
//! wire; the read into the receiver's buffer is the library's own). Both use their default
//! configuration. The connections, the payload and the wire buffers are built once, outside the
//! timed closure, and reused from one iteration to the next (a long-lived connection): each
//! iteration leaves both endpoints idle. One untimed round first checks that every message
//! arrives intact. The clock is one `Instant::now()` taken before the benches.
//!
//! Run: `cargo bench --bench connection`, then
//! `scripts/bench-summary.py connection/ --reference tungstenite` for ratios. To profile one
//! side (instructions per iteration, whatever the machine's load), build with
//! `CARGO_PROFILE_BENCH_DEBUG=true cargo bench --bench connection --no-run` and run the printed
//! executable under `valgrind --tool=callgrind --toggle-collect='criterion::bencher::Bencher*iter*'`
//! with `--bench --profile-time 2 '^connection/client_to_server/16B/rfc6455$'`.

use std::hint::black_box;
use std::io::{self, IoSlice, Read, Write};
use std::time::Instant;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rfc6455::{Config, Connection, Event, Message, Role};
use tungstenite::protocol::{Role as TungsteniteRole, WebSocket};

/// The most a simulated socket read hands over at once.
const READ_SIZE: usize = 64 * 1024;

/// Output buffered beyond this is written to the socket at once: tungstenite's default
/// `WebSocketConfig::write_buffer_size`, applied to rfc6455 by the driving loop below.
const WRITE_BUFFER_SIZE: usize = 128 * 1024;

/// Payload size, messages per iteration, name.
const CASES: &[(usize, usize, &str)] = &[(16, 1000, "16B"), (1024, 1000, "1KiB"), (64 * 1024, 100, "64KiB")];

/// 16 bytes of UTF-8 with 2-byte code points.
const TEXT_16B: &str = "héllo wörld 12";

/// What is sent, N times per iteration.
#[derive(Clone, Copy)]
enum Payload<'a> {
    Binary(&'a [u8]),
    Text(&'a str),
}

impl Payload<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Payload::Binary(bytes) => bytes,
            Payload::Text(text) => text.as_bytes(),
        }
    }

    fn rfc6455(&self) -> Message {
        match self {
            Payload::Binary(bytes) => Message::Binary(Bytes::copy_from_slice(bytes)),
            Payload::Text(text) => Message::Text(text.to_string().into()),
        }
    }

    fn tungstenite(&self) -> tungstenite::Message {
        match self {
            Payload::Binary(bytes) => {
                tungstenite::Message::Binary(tungstenite::Bytes::copy_from_slice(bytes))
            }
            Payload::Text(text) => tungstenite::Message::Text((*text).into()),
        }
    }
}

/// An in-memory socket for tungstenite: reads come from `read` (at most [`READ_SIZE`] bytes a
/// call, `WouldBlock` once all are read), writes go to `write`.
#[derive(Default)]
struct MemoryStream {
    read: Vec<u8>,
    read_at: usize,
    write: Vec<u8>,
}

impl Read for MemoryStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = &self.read[self.read_at..];
        if available.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let len = available.len().min(buf.len()).min(READ_SIZE);
        buf[..len].copy_from_slice(&available[..len]);
        self.read_at += len;
        Ok(len)
    }
}

impl MemoryStream {
    /// What `from` wrote becomes all of `to`'s input, without a copy.
    fn deliver(from: &mut WebSocket<MemoryStream>, to: &mut WebSocket<MemoryStream>) {
        let input = to.get_mut();
        input.read.clear();
        input.read_at = 0;
        std::mem::swap(&mut from.get_mut().write, &mut input.read);
    }
}

impl Write for MemoryStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One iteration with rfc6455: `sender` sends `payload` `count` times, `receiver` receives them;
/// `on_message` sees each payload. Returns the number of messages received. Not inlined, so that
/// profilers can single it out.
#[inline(never)]
fn rfc6455_round(
    now: Instant,
    sender: &mut Connection,
    receiver: &mut Connection,
    wire: &mut Vec<u8>,
    message: &Message,
    count: usize,
    mut on_message: impl FnMut(&[u8]),
) -> usize {
    wire.clear();
    for _ in 0..count {
        sender.send_message(message).expect("the connection is open");
        // Written out once over the threshold, as tungstenite's `write` does.
        if sender.unsent_len() > WRITE_BUFFER_SIZE {
            write_out(sender, wire);
        }
    }
    write_out(sender, wire);

    let mut received = 0;
    for piece in wire.chunks(READ_SIZE) {
        receiver.receive(now, piece);
        while let Some(event) = receiver.poll_event() {
            match event {
                Event::Message(message) => {
                    on_message(message.payload());
                    received += 1;
                }
                other => panic!("unexpected event {other:?}"),
            }
        }
    }
    received
}

/// The socket write, vectored: everything `sender` has to send is appended to `wire`.
fn write_out(sender: &mut Connection, wire: &mut Vec<u8>) {
    while sender.unsent_len() > 0 {
        let mut slices = [IoSlice::new(&[]); 64];
        let count = sender.bytes_to_send_vectored(&mut slices);
        let mut written = 0;
        for slice in &slices[..count] {
            wire.extend_from_slice(slice);
            written += slice.len();
        }
        sender.mark_sent(written);
    }
}

/// One iteration with tungstenite, as [`rfc6455_round`].
#[inline(never)]
fn tungstenite_round(
    sender: &mut WebSocket<MemoryStream>,
    receiver: &mut WebSocket<MemoryStream>,
    message: &tungstenite::Message,
    count: usize,
    mut on_message: impl FnMut(&[u8]),
) -> usize {
    for _ in 0..count {
        sender.write(message.clone()).expect("the connection is open");
    }
    sender.flush().expect("writes to memory succeed");

    // The wire: what the sender wrote becomes the receiver's input, without a copy.
    let input = receiver.get_mut();
    debug_assert_eq!(input.read_at, input.read.len(), "the previous round was read whole");
    input.read.clear();
    input.read_at = 0;
    std::mem::swap(&mut sender.get_mut().write, &mut input.read);

    let mut received = 0;
    loop {
        match receiver.read() {
            Ok(tungstenite::Message::Binary(bytes)) => on_message(&bytes),
            Ok(tungstenite::Message::Text(text)) => on_message(text.as_bytes()),
            Ok(other) => panic!("unexpected message {other:?}"),
            Err(tungstenite::Error::Io(error)) if error.kind() == io::ErrorKind::WouldBlock => break,
            Err(error) => panic!("tungstenite failed: {error}"),
        }
        received += 1;
    }
    received
}

/// `count` echoes with rfc6455, one message on the wire at a time: the client sends `message`,
/// the server receives it and sends it back, the client receives it. Returns the echoes received.
#[inline(never)]
fn rfc6455_echo_round(
    now: Instant,
    client: &mut Connection,
    server: &mut Connection,
    wire: &mut Vec<u8>,
    message: &Message,
    count: usize,
    mut on_echo: impl FnMut(&[u8]),
) -> usize {
    let mut echoed = 0;
    for _ in 0..count {
        client.send_message(message).expect("the connection is open");
        wire.clear();
        write_out(client, wire);
        server.receive(now, wire);
        while let Some(event) = server.poll_event() {
            match event {
                Event::Message(message) => server.send_message(&message).expect("the connection is open"),
                other => panic!("unexpected event {other:?}"),
            }
        }
        wire.clear();
        write_out(server, wire);
        client.receive(now, wire);
        while let Some(event) = client.poll_event() {
            match event {
                Event::Message(message) => {
                    on_echo(message.payload());
                    echoed += 1;
                }
                other => panic!("unexpected event {other:?}"),
            }
        }
    }
    echoed
}

/// [`rfc6455_echo_round`] with tungstenite: `send` (write and flush) each message, the written
/// bytes moved to the peer's input without a copy, `read` once on each side.
#[inline(never)]
fn tungstenite_echo_round(
    client: &mut WebSocket<MemoryStream>,
    server: &mut WebSocket<MemoryStream>,
    message: &tungstenite::Message,
    count: usize,
    mut on_echo: impl FnMut(&[u8]),
) -> usize {
    let mut echoed = 0;
    for _ in 0..count {
        client.send(message.clone()).expect("the connection is open");
        MemoryStream::deliver(client, server);
        let received = server.read().expect("the message arrived");
        server.send(received).expect("the connection is open");
        MemoryStream::deliver(server, client);
        match client.read().expect("the echo arrived") {
            tungstenite::Message::Binary(bytes) => on_echo(&bytes),
            other => panic!("unexpected message {other:?}"),
        }
        echoed += 1;
    }
    echoed
}

fn tungstenite_role(role: Role) -> TungsteniteRole {
    match role {
        Role::Client => TungsteniteRole::Client,
        Role::Server => TungsteniteRole::Server,
    }
}

fn bench_group(
    c: &mut Criterion,
    now: Instant,
    name: &str,
    sender_role: Role,
    payload: Payload<'_>,
    count: usize,
) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes((payload.bytes().len() * count) as u64));

    let mut sender = Connection::new(sender_role, Config::default(), now);
    let mut receiver = Connection::new(sender_role.peer(), Config::default(), now);
    let mut wire = Vec::new();
    let check = |bytes: &[u8]| assert_eq!(bytes, payload.bytes());
    let message = payload.rfc6455();
    let received = rfc6455_round(now, &mut sender, &mut receiver, &mut wire, &message, count, check);
    assert_eq!(received, count);
    group.bench_function(BenchmarkId::from_parameter("rfc6455"), |b| {
        b.iter(|| {
            let received =
                rfc6455_round(now, &mut sender, &mut receiver, &mut wire, &message, count, |bytes| {
                    black_box(bytes);
                });
            assert_eq!(received, count);
        })
    });

    let message = payload.tungstenite();
    let mut sender = WebSocket::from_raw_socket(MemoryStream::default(), tungstenite_role(sender_role), None);
    let mut receiver =
        WebSocket::from_raw_socket(MemoryStream::default(), tungstenite_role(sender_role.peer()), None);
    let received = tungstenite_round(&mut sender, &mut receiver, &message, count, check);
    assert_eq!(received, count);
    group.bench_function(BenchmarkId::from_parameter("tungstenite"), |b| {
        b.iter(|| {
            let received = tungstenite_round(&mut sender, &mut receiver, &message, count, |bytes| {
                black_box(bytes);
            });
            assert_eq!(received, count);
        })
    });
    group.finish();
}

fn connection(c: &mut Criterion) {
    let now = Instant::now();
    for (direction, sender_role) in [("client_to_server", Role::Client), ("server_to_client", Role::Server)] {
        for &(size, count, name) in CASES {
            let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
            let group = format!("connection/{direction}/{name}");
            bench_group(c, now, &group, sender_role, Payload::Binary(&payload), count);
        }
    }
    assert_eq!(TEXT_16B.len(), 16);
    let group = "connection/client_to_server_text/16B";
    bench_group(c, now, group, Role::Client, Payload::Text(TEXT_16B), 1000);
}

/// The group `connection/echo_one_at_a_time/16B`.
fn echo_one_at_a_time(c: &mut Criterion) {
    const COUNT: usize = 1000;
    let now = Instant::now();
    let payload: Vec<u8> = (0..16u8).collect();
    let payload = Payload::Binary(&payload);
    let mut group = c.benchmark_group("connection/echo_one_at_a_time/16B");
    group.throughput(Throughput::Bytes((payload.bytes().len() * COUNT) as u64));

    let mut client = Connection::new(Role::Client, Config::default(), now);
    let mut server = Connection::new(Role::Server, Config::default(), now);
    let mut wire = Vec::new();
    let check = |bytes: &[u8]| assert_eq!(bytes, payload.bytes());
    let message = payload.rfc6455();
    assert_eq!(rfc6455_echo_round(now, &mut client, &mut server, &mut wire, &message, COUNT, check), COUNT);
    group.bench_function(BenchmarkId::from_parameter("rfc6455"), |b| {
        b.iter(|| {
            let echoed =
                rfc6455_echo_round(now, &mut client, &mut server, &mut wire, &message, COUNT, |bytes| {
                    black_box(bytes);
                });
            assert_eq!(echoed, COUNT);
        })
    });

    let message = payload.tungstenite();
    let mut client = WebSocket::from_raw_socket(MemoryStream::default(), TungsteniteRole::Client, None);
    let mut server = WebSocket::from_raw_socket(MemoryStream::default(), TungsteniteRole::Server, None);
    assert_eq!(tungstenite_echo_round(&mut client, &mut server, &message, COUNT, check), COUNT);
    group.bench_function(BenchmarkId::from_parameter("tungstenite"), |b| {
        b.iter(|| {
            let echoed = tungstenite_echo_round(&mut client, &mut server, &message, COUNT, |bytes| {
                black_box(bytes);
            });
            assert_eq!(echoed, COUNT);
        })
    });
    group.finish();
}

criterion_group!(benches, connection, echo_one_at_a_time);
criterion_main!(benches);
