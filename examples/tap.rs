//! A man in the middle for watching the WebSocket protocol (RFC 6455) without Wireshark: it sits
//! between a browser and a server, passes every byte on unchanged, and explains what it saw.
//!
//! ```text
//! browser  --ws://localhost:1338-->  tap  --localhost:1337-->  echo_server
//! ```
//!
//! ```text
//! cargo run --release --example echo_server     # in one terminal
//! cargo run --release --example tap             # in another; then point the browser at
//!                                               # ws://localhost:1338 instead of :1337
//! ```
//!
//! Arguments or environment: `tap [LISTEN [UPSTREAM]]`, else `$LISTEN` and `$UPSTREAM`, else
//! `[::]:1338` (IPv6 and, on Linux, IPv4) and `localhost:1337`.
//!
//! Each line starts with the connection's number and a direction: `C->S` is what the client sent,
//! `S->C` what the server sent. It prints the opening handshake's request and response heads line
//! by line, checking `Sec-WebSocket-Accept` against `Sec-WebSocket-Key` (§4.2.2), then every
//! frame field by field as `explain_frame` does (the module `examples/explain/mod.rs` is shared):
//! FIN, RSV1-3, the opcode, MASK, the payload length and which of its three encodings, the masking
//! key, the payload unmasked (as text when it is UTF-8), Close bodies, and any rule a peer broke
//! with its RFC section and the close code a receiver answers with. A plain HTTP request is passed
//! through too, with its head and the response's head shown. When the server's 101 accepts
//! permessage-deflate (RFC 7692), RSV1 shows whether a message is compressed, and compressed
//! messages are shown inflated (below).
//!
//! The tap never waits for a frame to be complete: bytes are forwarded as soon as they are read,
//! and only then explained. Frames with a payload over 64 KiB are shown by their header and their
//! first bytes; their payload passes through without being kept.
//!
//! Sample output: the course's echo page in a browser, sending "WebSocket Rocks!" then closing
//! (some header fields and bit fields left out):
//!
//! ```text
//! tap: listening on [::]:1338, forwarding to localhost:1337
//! #1 connection from [::1]:45866, forwarded to localhost:1337 (127.0.0.1:1337)
//! #1 C->S
//! #1 C->S HTTP request head, 478 bytes (bytes 0-477 of the stream):
//! #1 C->S   GET / HTTP/1.1
//! #1 C->S   Host: localhost:1338
//! #1 C->S   Connection: Upgrade
//! #1 C->S   ...
//! #1 C->S   Upgrade: websocket
//! #1 C->S   ...
//! #1 C->S   Sec-WebSocket-Version: 13
//! #1 C->S     ^ the protocol version: 13 is RFC 6455 (§4.1 item 9)
//! #1 C->S   ...
//! #1 C->S   Sec-WebSocket-Key: 4R8CzcsxbTslFlx39JCf0A==
//! #1 C->S     ^ 16 random bytes in base64, new for each connection (§4.1): valid
//! #1 C->S   Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits
//! #1 C->S     ^ extensions the client offers, such as permessage-deflate (§9.1)
//! #1 C->S   => a valid opening handshake (§4.2.1): the client asks for a WebSocket on /
//! #1 S->C
//! #1 S->C HTTP response head, 129 bytes (bytes 0-128 of the stream):
//! #1 S->C   HTTP/1.1 101 Switching Protocols
//! #1 S->C   Upgrade: websocket
//! #1 S->C   Connection: Upgrade
//! #1 S->C   Sec-WebSocket-Accept: fmads1hHRcBoDe2SfQOJvVVGcFE=
//! #1 S->C     ^ base64(SHA-1(Sec-WebSocket-Key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) (§4.2.2)
//! #1 S->C     accept_key("4R8CzcsxbTslFlx39JCf0A==") = fmads1hHRcBoDe2SfQOJvVVGcFE=: OK
//! #1 S->C   => 101, checked as a client checks it (§4.1): the connection is a WebSocket now
//! #1 C->S
//! #1 C->S Frame 1: 22 bytes, from byte 478 of the stream
//! #1 C->S   byte 0        0x81 = 1000 0001
//! #1 C->S     bit 7       FIN = 1  final fragment
//! #1 C->S     bits 6-4    RSV1 = 0, RSV2 = 0, RSV3 = 0  (for extensions)
//! #1 C->S     bits 3-0    opcode = 0001 = text (0x1), a data frame
//! #1 C->S   byte 1        0x90 = 1001 0000
//! #1 C->S     bit 7       MASK = 1  masked: a 4-byte masking key follows
//! #1 C->S     bits 6-0    payload len = 16  the payload length itself
//! #1 C->S   length        7-bit: payload len is the length (0-125), no extended length
//! #1 C->S   bytes 2-5     masking key 26 8a 2c 42
//! #1 C->S   bytes 6-21    payload, 16 bytes
//! #1 C->S     masked      71 ef 4e 11 49 e9 47 27 52 aa 7e 2d 45 e1 5f 63
//! #1 C->S     XOR key     26 8a 2c 42 26 8a 2c 42 26 8a 2c 42 26 8a 2c 42
//! #1 C->S     data        57 65 62 53 6f 63 6b 65 74 20 52 6f 63 6b 73 21
//! #1 C->S     as text     "WebSocket Rocks!"
//! #1 C->S   => a whole text message in one frame
//! #1 S->C
//! #1 S->C Frame 1: 18 bytes, from byte 129 of the stream
//! #1 S->C   ...
//! #1 S->C     bit 7       MASK = 0  not masked
//! #1 S->C   ...
//! #1 S->C   bytes 2-17    payload, 16 bytes
//! #1 S->C     data        57 65 62 53 6f 63 6b 65 74 20 52 6f 63 6b 73 21
//! #1 S->C     as text     "WebSocket Rocks!"
//! #1 S->C   => a whole text message in one frame
//! #1 C->S
//! #1 C->S Frame 2: 12 bytes, from byte 500 of the stream
//! #1 C->S   ...
//! #1 C->S     bit 7       MASK = 1  masked: a 4-byte masking key follows
//! #1 C->S   ...
//! #1 C->S   bytes 2-5     masking key 56 1f 0f aa
//! #1 C->S   bytes 6-11    payload, 6 bytes
//! #1 C->S     masked      55 f7 6b c5 38 7a
//! #1 C->S     XOR key     56 1f 0f aa 56 1f
//! #1 C->S     data        03 e8 64 6f 6e 65
//! #1 C->S     status code 1000 (Normal Closure)
//! #1 C->S     reason      "done"
//! #1 C->S   => Close: the client starts the closing handshake; the server answers with a Close (§5.5.1)
//! #1 S->C
//! #1 S->C Frame 2: 4 bytes, from byte 147 of the stream
//! #1 S->C   ...
//! #1 S->C     bit 7       MASK = 0  not masked
//! #1 S->C   ...
//! #1 S->C   bytes 2-3     payload, 2 bytes
//! #1 S->C     data        03 e8
//! #1 S->C     status code 1000 (Normal Closure)
//! #1 S->C     reason      ""
//! #1 S->C   => Close: the answer to the client's Close: the closing handshake is complete (§7.1.2)
//! #1 S->C end of stream: the server closed its side of the TCP connection, after 151 bytes
//! #1 C->S end of stream: the client closed its side of the TCP connection, after 512 bytes
//! #1 closed: 512 bytes C->S, 151 bytes S->C
//! ```
//!
//! **permessage-deflate.** When the server's 101 names permessage-deflate in
//! `Sec-WebSocket-Extensions` (run the echo server with `PERMESSAGE_DEFLATE=1`; browsers offer it),
//! the tap checks its parameters (RFC 7692 §7.1) and inflates each compressed message (RSV1 on its
//! first frame, §6) with the codec of the endpoint that receives it: one context per direction,
//! kept between messages unless the response says that sender resets it (context takeover,
//! §7.1.1), and across the message's fragments. Control frames are never compressed. A message
//! that does not inflate is reported (§7.2.2: a receiver closes with 1007), and that direction is
//! no longer inflated. Python `websockets` (which compresses every message) sending a 3,660-byte
//! text twice through the tap to `PERMESSAGE_DEFLATE=1 echo_server`: the second time, the client
//! compresses it to 41 bytes, referring back to the first message; the server resets its context
//! after each message, so its echoes stay at 210 bytes:
//!
//! ```text
//! #1 S->C   Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover
//! #1 S->C     ^ the extensions the server accepted, with their parameters (§9.1)
//! #1 S->C   => 101, checked as a client checks it (§4.1): the connection is a WebSocket now
//! #1 S->C      extension permessage-deflate; server_no_context_takeover
//! #1 S->C        RSV1 = 1 on a message's first frame now marks it compressed (RFC 7692 §6);
//! #1 S->C        the tap inflates those messages (§7.2.2), each direction with its own context:
//! #1 S->C        client to server: window up to 2^15 bytes, context kept between messages
//! #1 S->C        server to client: window up to 2^15 bytes, context reset after each message (§7.1.1)
//! #1 C->S
//! #1 C->S Frame 1: 219 bytes, from byte 265 of the stream
//! #1 C->S   byte 0        0xc1 = 1100 0001
//! #1 C->S     bit 7       FIN = 1  final fragment
//! #1 C->S     bits 6-4    RSV1 = 1, RSV2 = 0, RSV3 = 0  compressed (permessage-deflate)
//! #1 C->S     bits 3-0    opcode = 0001 = text (0x1), a data frame
//! #1 C->S   ...
//! #1 C->S   bytes 8-218   payload, 211 bytes
//! #1 C->S   ...
//! #1 C->S     data        a4 d2 49 0a c2 40 14 45 d1 b9 ab a8 0d 08 f9 9d dd 6e 0a f3 35 81 24 06 53 e0 f6 95 2c c1 3b 7d ... (179 more)
//! #1 C->S     compressed  DEFLATE data (RFC 7692 §7.2.1), not the message itself
//! #1 C->S   => a whole text message in one frame, compressed
//! #1 C->S   inflated: 3660 bytes from 211 bytes compressed (RFC 7692 §7.2.2)
//! #1 C->S     data        6c 69 6e 65 20 30 30 3a 20 74 68 65 20 74 61 70 20 69 6e 66 6c 61 74 65 73 20 77 68 61 74 20 70 ... (first 32 of 3660)
//! #1 C->S     as text     "line 00: the tap inflates what permessage-deflate compressed\nline 01: the tap inflates what permessa"... (3660 bytes in all)
//! #1 S->C
//! #1 S->C Frame 1: 214 bytes, from byte 203 of the stream
//! #1 S->C   ...
//! #1 S->C     bits 6-4    RSV1 = 1, RSV2 = 0, RSV3 = 0  compressed (permessage-deflate)
//! #1 S->C   ...
//! #1 S->C   => a whole text message in one frame, compressed
//! #1 S->C   inflated: 3660 bytes from 210 bytes compressed (RFC 7692 §7.2.2)
//! #1 S->C   ...
//! #1 C->S
//! #1 C->S Frame 2: 47 bytes, from byte 484 of the stream
//! #1 C->S   ...
//! #1 C->S   bytes 6-46    payload, 41 bytes
//! #1 C->S   ...
//! #1 C->S   => a whole text message in one frame, compressed
//! #1 C->S   inflated: 3660 bytes from 41 bytes compressed (RFC 7692 §7.2.2)
//! #1 C->S   ...
//! ```
//!
//! The continuation frames of a compressed message show `RSV1 = 0  (the message's first frame says
//! if it is compressed)`, and the message is shown inflated at its last frame. A message the server
//! leaves uncompressed (the echo server compresses those of 1 KiB or more) shows `RSV1 = 0  not
//! compressed (RSV1 = 0)` and its text as usual.
//!
//! `scripts/tap-check.sh` runs this between a raw-socket client and `echo_server`, then between
//! Python `websockets` and the echo server with permessage-deflate.

#[macro_use]
#[path = "explain/mod.rs"]
mod explain;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::mpsc::{self, SyncSender};
use std::thread;

use explain::{
    cut_text, explain_first_two_bytes, explain_length_and_key, explain_payload, hex, plural,
    report_protocol_error, text_start, Messages, Out,
};
use rfc6455::deflate::{DeflateCodec, DeflateConfig, DeflateParams, PERMESSAGE_DEFLATE};
use rfc6455::frame::RSV1_BIT;
use rfc6455::handshake::client::{ClientRequest, Response};
use rfc6455::handshake::extension::Extension;
use rfc6455::handshake::server::{Request, UpgradeRequest};
use rfc6455::handshake::{is_valid_key, HeadLimits, GUID};
use rfc6455::{
    accept_key, apply_mask, DecodeRules, Decoded, Frame, FrameHeader, HandshakeError, Opcode, Role,
};

const HELP: &str = "\
tap: watch WebSocket connections (RFC 6455) frame by frame, as a man in the middle

usage: cargo run --release --example tap -- [LISTEN [UPSTREAM]]

  LISTEN    address to accept connections on   default: $LISTEN, else [::]:1338
  UPSTREAM  server to pass them on to          default: $UPSTREAM, else localhost:1337

Every byte is passed on unchanged as soon as it arrives; what the tap saw is printed on
standard output, each line after the connection number and C->S (client to server) or
S->C (server to client). Point the browser at the tap: ws://localhost:1338.
When the server accepts permessage-deflate (RFC 7692), compressed messages are shown
inflated too.
";

/// Largest payload the tap keeps to explain whole. A larger frame is shown by its header and its
/// first bytes, and its payload passes through without being kept.
const MAX_KEPT_PAYLOAD: u64 = 64 * 1024;

/// Bytes of a large payload shown.
const LARGE_PAYLOAD_SHOWN: usize = 32;

/// Reads handed to a connection's explaining thread and not explained yet, at most: at 16 KiB a
/// read, 1 MiB. When the explainer falls this far behind, the rest is passed on unexplained.
const ARRIVALS_KEPT: usize = 64;

/// Most bytes the client may send after its request before the server answers, kept until the
/// answer says whether they are frames. More pass through unexplained.
const MAX_HELD: usize = 64 * 1024;

fn main() -> ExitCode {
    let mut positional = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                return ExitCode::SUCCESS;
            }
            option if option.starts_with('-') => return usage_error(&format!("unknown option {option}")),
            _ => positional.push(arg),
        }
    }
    if positional.len() > 2 {
        return usage_error("at most two arguments: LISTEN and UPSTREAM");
    }
    let mut positional = positional.into_iter();
    let setting = |value: Option<String>, name: &str, default: &str| {
        value.or_else(|| std::env::var(name).ok()).unwrap_or_else(|| default.to_owned())
    };
    let listen = setting(positional.next(), "LISTEN", "[::]:1338");
    let upstream = setting(positional.next(), "UPSTREAM", "localhost:1337");
    let Ok(listen_address) = listen.parse::<SocketAddr>() else {
        return usage_error(&format!("LISTEN is not an address such as [::]:1338: {listen:?}"));
    };

    let listener = match TcpListener::bind(listen_address) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("tap: cannot listen on {listen_address}: {error}");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(address) => eprintln!("tap: listening on {address}, forwarding to {upstream}"),
        Err(error) => eprintln!("tap: listening ({error}), forwarding to {upstream}"),
    }
    for (index, accepted) in listener.incoming().enumerate() {
        match accepted {
            Ok(client) => {
                let upstream = upstream.clone();
                thread::spawn(move || tap_connection(index + 1, client, &upstream));
            }
            Err(error) => eprintln!("tap: accept failed: {error}"),
        }
    }
    ExitCode::SUCCESS
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("tap: {message}\n(run with --help for usage)");
    ExitCode::from(2)
}

/// One connection: connects to the upstream server, forwards both ways (a thread each) and
/// explains what they forwarded (this thread).
fn tap_connection(number: usize, client: TcpStream, upstream: &str) {
    let label = format!("#{number} ");
    let peer = client.peer_addr().map_or_else(|error| error.to_string(), |address| address.to_string());
    let server = match TcpStream::connect(upstream) {
        Ok(server) => server,
        Err(error) => {
            return say!(Out::new(&label), "connection from {peer}: cannot reach {upstream}: {error}")
        }
    };
    let server_address = server.peer_addr().map_or_else(|_| "?".to_owned(), |address| address.to_string());
    say!(Out::new(&label), "connection from {peer}, forwarded to {upstream} ({server_address})");
    // Nagle's algorithm would hold small writes back, waiting for more: the tap adds no delay.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (Ok(client_reader), Ok(server_writer)) = (client.try_clone(), server.try_clone()) else {
        return say!(Out::new(&label), "cannot share the sockets between two threads: closed");
    };

    let (arrivals, explained) = mpsc::sync_channel(ARRIVALS_KEPT);
    let upload = arrivals.clone();
    thread::spawn(move || forward(client_reader, server_writer, Direction::ClientToServer, &upload));
    thread::spawn(move || forward(server, client, Direction::ServerToClient, &arrivals));
    // Until both threads are done, in the order they read.
    let mut tap = Tap::new(number);
    for (direction, arrival) in explained {
        tap.explain(direction, arrival);
    }
    tap.finish();
}

/// Copies what `from` sends to `to` as it arrives, and hands a copy to the explaining thread. The
/// peer never waits for the explanation: if the explainer falls behind (a slow terminal), the
/// rest of this direction goes on unexplained.
fn forward(
    mut from: TcpStream,
    mut to: TcpStream,
    direction: Direction,
    arrivals: &SyncSender<(Direction, Arrival)>,
) {
    let mut buffer = vec![0; 16 * 1024];
    let (mut total, mut behind, mut said_behind) = (0, false, false);
    let error = loop {
        let read = match from.read(&mut buffer) {
            Ok(0) => {
                // A half close: the other direction goes on until its sender closes too.
                let _ = to.shutdown(Shutdown::Write);
                break None;
            }
            Ok(read) => read,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => break Some(format!("reading failed: {error}")),
        };
        total += read as u64;
        // Handed over before it is passed on, so that whatever the peer sends in answer comes
        // after it.
        if !behind {
            behind = arrivals.try_send((direction, Arrival::Bytes(buffer[..read].to_vec()))).is_err();
        }
        if behind && !said_behind {
            said_behind = arrivals.try_send((direction, Arrival::Behind)).is_ok();
        }
        if let Err(error) = to.write_all(&buffer[..read]) {
            break Some(format!("passing {} on failed: {error}", plural(read, "byte")));
        }
    };
    if error.is_some() {
        // Either direction failing ends the connection: stop the other thread too.
        let _ = from.shutdown(Shutdown::Both);
        let _ = to.shutdown(Shutdown::Both);
    }
    // Forwarding is over: waiting for the explainer delays nothing now.
    if behind && !said_behind {
        let _ = arrivals.send((direction, Arrival::Behind));
    }
    let _ = arrivals.send((direction, Arrival::End { total, error }));
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    ClientToServer,
    ServerToClient,
}

/// What the forwarding thread of one direction hands to the explainer.
enum Arrival {
    /// Bytes just read, being passed on.
    Bytes(Vec<u8>),
    /// The explainer fell behind: bytes were passed on without being handed over.
    Behind,
    /// The stream is over: `total` bytes were passed on; `error` if forwarding failed, else the
    /// sender closed its side of the TCP connection.
    End { total: u64, error: Option<String> },
}

/// What the tap does with the bytes of one direction.
enum Reading {
    /// The HTTP head: the client's request or the server's response.
    Head,
    /// The client's bytes after its request, kept until the server's answer says whether they
    /// are frames.
    AwaitingResponse,
    /// WebSocket frames (boxed: what they hold is much larger than the other variants).
    Frames(Box<FrameStream>),
    /// Bytes the tap does not explain: after a plain HTTP head, or after a rule was broken.
    Unexplained,
}

/// The frames of one direction.
struct FrameStream {
    /// The rules of the endpoint that receives them.
    rules: DecodeRules,
    /// The number of the next frame, from 1.
    number: usize,
    messages: Messages,
    /// The payload too large to keep that is passing through, if any.
    large: Option<LargePayload>,
}

/// What the start of a frame stream holds.
enum Next {
    /// A whole frame, and its length.
    Whole(Frame, usize),
    /// The header of a frame whose payload is too large to keep, and the header's length.
    Large(FrameHeader, usize),
}

/// A payload over [`MAX_KEPT_PAYLOAD`] passing through: only its first bytes are kept.
struct LargePayload {
    header: FrameHeader,
    number: usize,
    /// Payload bytes passed so far: the masking key's position (§5.3, `j MOD 4`).
    passed: usize,
    remaining: u64,
    start: Vec<u8>,
}

/// What one endpoint sent.
struct Side {
    /// `#1 C->S `: the prefix of each line about this direction.
    label: String,
    /// `client` or `server`.
    sender: &'static str,
    reading: Reading,
    /// Bytes received and not explained yet, at most a frame of [`MAX_KEPT_PAYLOAD`] and a read.
    buffer: Vec<u8>,
    /// Stream offset of `buffer[0]`.
    offset: u64,
    /// Bytes passed on in all, once the stream is over.
    total: u64,
    /// Whether this endpoint sent a Close frame.
    sent_close: bool,
    /// The last Ping this endpoint sent: its frame number and payload.
    last_ping: Option<(usize, Vec<u8>)>,
}

impl Side {
    fn new(number: usize, direction: Direction) -> Side {
        let (arrow, sender) = match direction {
            Direction::ClientToServer => ("C->S", "client"),
            Direction::ServerToClient => ("S->C", "server"),
        };
        Side {
            label: format!("#{number} {arrow} "),
            sender,
            reading: Reading::Head,
            buffer: Vec::new(),
            offset: 0,
            total: 0,
            sent_close: false,
            last_ping: None,
        }
    }

    fn out(&self) -> Out {
        Out::new(&self.label)
    }

    /// Drops the first `len` buffered bytes, explained.
    fn consume(&mut self, len: usize) {
        self.buffer.drain(..len);
        self.offset += len as u64;
    }

    /// From now on, bytes in this direction are passed on unexplained.
    fn stop_explaining(&mut self) {
        self.reading = Reading::Unexplained;
        self.buffer = Vec::new();
    }

    /// After a broken rule, which the receiver fails the connection for: the tap cannot tell
    /// what the rest means.
    fn give_up(&mut self, out: &mut Out) {
        say!(out, "  The tap passes what follows in this direction on unexplained.");
        self.stop_explaining();
    }

    /// Bytes in this direction are frames, received by an endpoint following `rules`, and
    /// gathered into `messages`.
    fn start_frames(&mut self, rules: DecodeRules, messages: Messages) {
        let stream = FrameStream { rules, number: 1, messages, large: None };
        self.reading = Reading::Frames(Box::new(stream));
    }
}

/// The tap of one connection: both directions, and what the handshake decided.
struct Tap {
    number: usize,
    client: Side,
    server: Side,
    /// The client's `Sec-WebSocket-Key`, to check the server's `Sec-WebSocket-Accept` with.
    key: Option<String>,
    /// The client's opening handshake, if it was a valid one, to check the response against.
    upgrade: Option<UpgradeRequest>,
    /// Whether the server answered 101: the connection became a WebSocket.
    websocket: bool,
}

impl Tap {
    fn new(number: usize) -> Tap {
        Tap {
            number,
            client: Side::new(number, Direction::ClientToServer),
            server: Side::new(number, Direction::ServerToClient),
            key: None,
            upgrade: None,
            websocket: false,
        }
    }

    /// Explains what the forwarding thread of `direction` handed over.
    fn explain(&mut self, direction: Direction, arrival: Arrival) {
        match arrival {
            Arrival::Bytes(bytes) => self.receive(direction, &bytes),
            Arrival::Behind => {
                let (side, _) = self.sides(direction);
                say!(
                    side.out(),
                    "the tap's output fell behind: the rest of this direction is passed on unexplained"
                );
                side.stop_explaining();
            }
            Arrival::End { total, error } => self.end_of_stream(direction, total, error),
        }
    }

    /// (the side that sent in `direction`, the other one)
    fn sides(&mut self, direction: Direction) -> (&mut Side, &mut Side) {
        match direction {
            Direction::ClientToServer => (&mut self.client, &mut self.server),
            Direction::ServerToClient => (&mut self.server, &mut self.client),
        }
    }

    /// Bytes that were just passed on in `direction`: explains all it can.
    fn receive(&mut self, direction: Direction, bytes: &[u8]) {
        let (side, _) = self.sides(direction);
        if matches!(side.reading, Reading::Unexplained) {
            return;
        }
        side.buffer.extend_from_slice(bytes);
        if matches!(side.reading, Reading::AwaitingResponse) && side.buffer.len() > MAX_HELD {
            let held = plural(side.buffer.len(), "byte");
            say!(
                side.out(),
                "{held} sent before the server's answer: more than the tap keeps, passed on unexplained"
            );
            side.stop_explaining();
        }
        // Explaining the server's response may turn the bytes the client sent before it into
        // frames: go on while either direction moves, the client's first (they are older than
        // anything after the response).
        while self.step(Direction::ClientToServer) || self.step(Direction::ServerToClient) {}
    }

    /// Explains the next item of `direction` if it is all there. `true` if anything changed.
    fn step(&mut self, direction: Direction) -> bool {
        let (side, _) = self.sides(direction);
        match (&side.reading, direction) {
            (Reading::Head, Direction::ClientToServer) => self.read_request(),
            (Reading::Head, Direction::ServerToClient) => self.read_response(),
            (Reading::Frames(_), _) => self.read_frame(direction),
            (Reading::AwaitingResponse | Reading::Unexplained, _) => false,
        }
    }

    /// The client's HTTP request head (§4.1), if it is all there.
    fn read_request(&mut self) -> bool {
        let side = &mut self.client;
        let (request, consumed) = match Request::decode(&side.buffer, &HeadLimits::default()) {
            Ok(Decoded::Complete { value, consumed }) => (value, consumed),
            Ok(Decoded::Incomplete { .. }) => return false,
            Err(error) => {
                say!(side.out(), "not an HTTP request ({error}): passed on unexplained");
                side.stop_explaining();
                return true;
            }
        };
        let mut out = side.out();
        say!(out, "\nHTTP request head, {}:", head_size(consumed));
        say!(out, "  {} {} HTTP/1.{}", request.method, request.target, request.minor_version);
        for field in request.headers.fields() {
            let value = String::from_utf8_lossy(&field.value);
            say!(out, "  {}: {value}", field.name);
            let note = match field.name.to_ascii_lowercase().as_str() {
                "sec-websocket-key" if is_valid_key(&value) => {
                    "16 random bytes in base64, new for each connection (§4.1): valid"
                }
                "sec-websocket-key" => {
                    "16 random bytes in base64, new for each connection (§4.1): NOT the base64 of 16 bytes"
                }
                "sec-websocket-version" => "the protocol version: 13 is RFC 6455 (§4.1 item 9)",
                "sec-websocket-protocol" => "subprotocols the client offers, preferred first (§4.1 item 10)",
                "sec-websocket-extensions" => {
                    "extensions the client offers, such as permessage-deflate (§9.1)"
                }
                _ => continue,
            };
            say!(out, "    ^ {note}");
        }
        side.consume(consumed);
        self.key = request.headers.get("Sec-WebSocket-Key").map(|key| key.trim().to_owned());
        if !request.is_websocket_upgrade() {
            say!(
                out,
                "  => a plain HTTP request, not a WebSocket upgrade: what follows is passed on unexplained"
            );
            side.stop_explaining();
            return true;
        }
        match UpgradeRequest::validate(request) {
            Ok(upgrade) => {
                say!(
                    out,
                    "  => a valid opening handshake (§4.2.1): the client asks for a WebSocket on {}",
                    upgrade.path()
                );
                self.upgrade = Some(upgrade);
            }
            Err(error) => {
                let status = error.status().unwrap_or(400);
                say!(out, "  => PROBLEM: {error} (RFC 6455 §4.2.1): a server answers {status}");
            }
        }
        side.reading = Reading::AwaitingResponse;
        true
    }

    /// The server's HTTP response head (§4.2.2), if it is all there: it decides what both
    /// directions carry next.
    fn read_response(&mut self) -> bool {
        let side = &mut self.server;
        // Decoded only: checking it as a client does comes after it is shown.
        let (response, consumed) = match Response::decode(&side.buffer, &HeadLimits::default()) {
            Ok(Decoded::Complete { value, consumed }) => (value, consumed),
            Ok(Decoded::Incomplete { .. }) => return false,
            Err(HandshakeError::HeadTooLarge(_)) => {
                say!(
                    side.out(),
                    "no end of an HTTP head in {}: passed on unexplained",
                    plural(side.buffer.len(), "byte")
                );
                side.stop_explaining();
                return true;
            }
            Err(error) => {
                say!(side.out(), "not an HTTP response ({error}): passed on unexplained");
                side.stop_explaining();
                return true;
            }
        };
        let status = response.status;
        let mut out = side.out();
        say!(out, "\nHTTP response head, {}:", head_size(consumed));
        say!(out, "  HTTP/1.{} {status} {}", response.minor_version, response.reason);
        for field in response.headers.fields() {
            let value = String::from_utf8_lossy(&field.value);
            say!(out, "  {}: {value}", field.name);
            if field.name.eq_ignore_ascii_case("Sec-WebSocket-Extensions") {
                say!(out, "    ^ the extensions the server accepted, with their parameters (§9.1)");
            }
            if field.name.eq_ignore_ascii_case("Sec-WebSocket-Accept") {
                say!(out, "    ^ base64(SHA-1(Sec-WebSocket-Key + \"{GUID}\")) (§4.2.2)");
                match &self.key {
                    Some(key) => {
                        let expected = accept_key(key);
                        let verdict = if value.trim() == expected {
                            "OK"
                        } else {
                            "WRONG: the client must fail the connection (§4.1)"
                        };
                        say!(out, "    accept_key({key:?}) = {expected}: {verdict}");
                    }
                    None => say!(out, "    cannot be checked: the request had no Sec-WebSocket-Key"),
                }
            }
        }
        side.consume(consumed);

        if status != 101 {
            say!(out, "  => status {status}, not 101 Switching Protocols: no WebSocket; what follows is passed on unexplained");
            self.server.stop_explaining();
            if matches!(self.client.reading, Reading::AwaitingResponse) {
                self.client.stop_explaining();
            }
            return true;
        }
        self.websocket = true;
        let (mut rsv_allowed, mut deflate) = (0, None);
        match &self.upgrade {
            Some(upgrade) => match client_request(upgrade).validate_response(response) {
                Ok(accepted) => {
                    say!(
                        out,
                        "  => 101, checked as a client checks it (§4.1): the connection is a WebSocket now"
                    );
                    if let Some(protocol) = accepted.protocol() {
                        say!(out, "     subprotocol {protocol:?}");
                    }
                    for extension in accepted.extensions() {
                        say!(out, "     extension {extension}");
                        // RFC 7692 §6: permessage-deflate marks compressed messages with RSV1.
                        if extension.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE) {
                            rsv_allowed |= RSV1_BIT;
                            deflate = explain_deflate(&mut out, extension);
                        }
                    }
                }
                Err(error) => say!(
                    out,
                    "  => PROBLEM: {error} (RFC 6455 §4.1): the client must fail the WebSocket connection"
                ),
            },
            None => say!(out, "  => 101, but to a request that was not a valid opening handshake"),
        }
        drop(out);
        // Neither endpoint has a size limit the tap knows: it decodes any length.
        let rules = |rules: DecodeRules| rules.with_rsv_allowed(rsv_allowed).with_max_frame_size(u64::MAX);
        // Each direction's messages inflated with the codec of the endpoint receiving them: the
        // client's inflates what the server sent.
        let messages = |receiver: Role| match deflate {
            Some(params) => Messages::inflated_by(DeflateCodec::new(receiver, params)),
            None => Messages::default(),
        };
        self.server.start_frames(rules(DecodeRules::client()), messages(Role::Client));
        if matches!(self.client.reading, Reading::AwaitingResponse) {
            self.client.start_frames(rules(DecodeRules::server()), messages(Role::Server));
        }
        true
    }

    /// The next frame of `direction`, or its next payload bytes if it is too large to keep.
    fn read_frame(&mut self, direction: Direction) -> bool {
        let (side, other) = self.sides(direction);
        let Reading::Frames(stream) = &mut side.reading else { return false };
        if stream.large.is_some() {
            return side.pass_large_payload();
        }
        let (rules, number) = (stream.rules, stream.number);
        let deflate = rules.rsv_allowed & RSV1_BIT != 0;
        let next = match Frame::decode(&side.buffer, &rules) {
            Ok(Decoded::Complete { value, consumed }) => Next::Whole(value, consumed),
            Ok(Decoded::Incomplete { .. }) => match FrameHeader::decode(&side.buffer, &rules) {
                Ok(Decoded::Complete { value, consumed }) if value.payload_len > MAX_KEPT_PAYLOAD => {
                    Next::Large(value, consumed)
                }
                _ => return false, // wait for the rest of the frame
            },
            Err(error) => {
                let mut out = side.out();
                say!(out, "\nFrame {number}, from byte {} of the stream", side.offset);
                explain_first_two_bytes(&mut out, &side.buffer, deflate);
                report_protocol_error(&mut out, &error, "");
                side.give_up(&mut out);
                return true;
            }
        };
        stream.number += 1;
        let mut out = Out::new(&side.label);
        let frame_len = match &next {
            Next::Whole(_, consumed) => *consumed as u64,
            Next::Large(header, header_len) => *header_len as u64 + header.payload_len,
        };
        say!(out, "\nFrame {number}: {}, from byte {} of the stream", plural(frame_len, "byte"), side.offset);
        explain_first_two_bytes(&mut out, &side.buffer, deflate);
        let valid = match next {
            Next::Whole(frame, consumed) => {
                explain_length_and_key(&mut out, &side.buffer, &frame.header);
                let as_sent = &side.buffer[frame.header.encoded_len()..consumed];
                let compressed = stream.messages.is_compressed(&frame.header);
                let valid = explain_payload(&mut out, as_sent, &frame, true, compressed)
                    && stream.messages.follow(&mut out, &frame, number);
                explain_control(&mut out, side, other, &frame, number);
                side.consume(consumed);
                valid
            }
            Next::Large(header, header_len) => {
                explain_length_and_key(&mut out, &side.buffer, &header);
                let payload = plural(header.payload_len, "byte");
                say!(out, "  payload       {payload}: more than the tap keeps ({MAX_KEPT_PAYLOAD}), passed on as it comes");
                let valid = stream.messages.begin(&mut out, &header, number);
                let start = Vec::with_capacity(LARGE_PAYLOAD_SHOWN);
                stream.large =
                    Some(LargePayload { header, number, passed: 0, remaining: header.payload_len, start });
                side.consume(header_len);
                valid
            }
        };
        if !valid {
            side.give_up(&mut out);
        }
        true
    }

    /// `direction`'s stream is over, after `total` bytes: its sender closed its side of the TCP
    /// connection, or forwarding failed with `error`.
    fn end_of_stream(&mut self, direction: Direction, total: u64, error: Option<String>) {
        let (side, _) = self.sides(direction);
        side.total = total;
        let mut out = side.out();
        side.explain_unfinished(&mut out);
        let (sender, total) = (side.sender, plural(total, "byte"));
        match error {
            None => {
                say!(out, "end of stream: the {sender} closed its side of the TCP connection, after {total}")
            }
            Some(error) => say!(out, "{error}, after {total}: the tap closes the connection"),
        }
    }

    /// Both directions are over.
    fn finish(&mut self) {
        let mut out = Out::new(&format!("#{} ", self.number));
        let (sent, received) = (plural(self.client.total, "byte"), plural(self.server.total, "byte"));
        say!(out, "closed: {sent} C->S, {received} S->C");
        if self.websocket && !(self.client.sent_close && self.server.sent_close) {
            say!(
                out,
                "  no complete closing handshake seen: the endpoints report 1006 (Abnormal Closure, §7.1.5)"
            );
        }
    }
}

impl Side {
    /// Says what the stream ends inside of, if anything: the connection ends here.
    fn explain_unfinished(&self, out: &mut Out) {
        match (&self.reading, self.buffer.len()) {
            (Reading::Frames(stream), len) => match (&stream.large, len) {
                (Some(large), _) => {
                    let missing = plural(large.remaining, "byte");
                    say!(
                        out,
                        "the stream ends inside frame {}: {missing} of its payload never came",
                        large.number
                    );
                }
                (None, 1..) => {
                    let came = plural(len, "byte");
                    say!(out, "the stream ends inside frame {}: only {came} of it came", stream.number);
                }
                (None, 0) => {}
            },
            (Reading::Head, 1..) => say!(out, "the stream ends inside the HTTP head"),
            _ => {}
        }
    }

    /// Passes the buffered bytes of a payload too large to keep, showing its first bytes when it
    /// ends. `true` if anything was passed.
    fn pass_large_payload(&mut self) -> bool {
        let Reading::Frames(stream) = &mut self.reading else { return false };
        let Some(large) = &mut stream.large else { return false };
        let len = self.buffer.len().min(usize::try_from(large.remaining).unwrap_or(usize::MAX));
        if len == 0 {
            return false; // (`remaining` is never 0 here: the payload is over once it is)
        }
        let mut piece = self.buffer[..len].to_vec();
        if let Some(key) = large.header.masking_key {
            apply_mask(key, &mut piece, large.passed);
        }
        stream.messages.data(&piece);
        let room = LARGE_PAYLOAD_SHOWN - large.start.len();
        large.start.extend_from_slice(&piece[..len.min(room)]);
        large.passed += len;
        large.remaining -= len as u64;
        if large.remaining == 0 {
            let mut out = Out::new(&self.label);
            let (number, total) = (large.number, large.passed);
            say!(out, "\nFrame {number}: its {} of payload have passed", plural(total, "byte"));
            say!(out, "    data        {} ... (first {} of {total})", hex(&large.start), large.start.len());
            let header = large.header;
            if stream.messages.is_compressed(&header) {
                say!(out, "    compressed  DEFLATE data (RFC 7692 §7.2.1), not the message itself");
            } else if let Some(text) = text_start(&large.start) {
                say!(out, "    as text     {}", cut_text(text, total));
            }
            stream.large = None;
            if !stream.messages.end(&mut out, &header, number) {
                self.give_up(&mut out);
                return true;
            }
        }
        self.consume(len);
        true
    }
}

/// What a Ping, Pong or Close that `side` sent means for keepalive and the closing handshake
/// (§5.5), and a frame sent after a Close.
fn explain_control(out: &mut Out, side: &mut Side, other: &Side, frame: &Frame, number: usize) {
    let (sender, receiver) = (side.sender, other.sender);
    if side.sent_close {
        say!(
            out,
            "  => sent after this endpoint's Close: §5.5.1 allows nothing more, the {receiver} discards it"
        );
        return;
    }
    match frame.header.opcode {
        Opcode::Ping => {
            say!(out, "  => Ping: the {receiver} must answer with a Pong carrying the same data (§5.5.2)");
            side.last_ping = Some((number, frame.payload.to_vec()));
        }
        Opcode::Pong => match &other.last_ping {
            Some((ping, data)) if data[..] == frame.payload[..] => {
                say!(
                    out,
                    "  => Pong: the answer to the {receiver}'s Ping (its frame {ping}), same data (§5.5.3)"
                );
            }
            _ => say!(out, "  => Pong without a matching Ping: a heartbeat, allowed and ignored (§5.5.3)"),
        },
        Opcode::Close => {
            side.sent_close = true;
            if other.sent_close {
                say!(out, "  => Close: the answer to the {receiver}'s Close: the closing handshake is complete (§7.1.2)");
            } else {
                say!(out, "  => Close: the {sender} starts the closing handshake; the {receiver} answers with a Close (§5.5.1)");
            }
        }
        _ => {}
    }
}

/// The parameters of the permessage-deflate that the server accepted, checked by RFC 7692 §7.1's
/// rules and explained, for the tap to inflate compressed messages with; `None` after saying why
/// they are not acceptable.
fn explain_deflate(out: &mut Out, extension: &Extension) -> Option<DeflateParams> {
    // Checked as a client that offered the RFC's defaults would: the response's own rules (known
    // parameters, each once, windows from 8 to 15), not what this client asked for.
    let offered = DeflateConfig {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };
    let params = match offered.check_response(extension) {
        Ok(params) => params,
        Err(error) => {
            say!(out, "  => PROBLEM: {error} (RFC 7692 §7): the client must fail the WebSocket connection");
            say!(out, "     The tap does not inflate compressed messages.");
            return None;
        }
    };
    say!(out, "       RSV1 = 1 on a message's first frame now marks it compressed (RFC 7692 §6);");
    say!(out, "       the tap inflates those messages (§7.2.2), each direction with its own context:");
    let directions = [
        ("client to server", params.client_max_window_bits, params.client_no_context_takeover),
        ("server to client", params.server_max_window_bits, params.server_no_context_takeover),
    ];
    for (direction, bits, no_context_takeover) in directions {
        let context =
            if no_context_takeover { "reset after each message (§7.1.1)" } else { "kept between messages" };
        say!(out, "       {direction}: window up to 2^{bits} bytes, context {context}");
    }
    Some(params)
}

/// The request a client made, rebuilt to check the server's answer with: the key, subprotocols
/// and extensions offered. (Host and target do not matter to the check; no key is drawn.)
fn client_request(upgrade: &UpgradeRequest) -> ClientRequest {
    let mut no_random = |_: &mut [u8]| {};
    let mut request = ClientRequest::new("", upgrade.request().target.clone(), &mut no_random)
        .with_key(upgrade.key())
        .with_protocols(upgrade.protocols().iter().cloned());
    for extension in upgrade.extensions() {
        request = request.with_extension(extension.clone());
    }
    request
}

/// `157 bytes (bytes 0-156 of the stream)`: an HTTP head starts its stream.
fn head_size(len: usize) -> String {
    format!("{} (bytes 0-{} of the stream)", plural(len, "byte"), len.saturating_sub(1))
}
