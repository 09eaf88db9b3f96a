//! Interop with tungstenite 0.30 over real loopback sockets, in both directions: our client
//! against a tungstenite server, and tungstenite clients against our server.
//!
//! Our side runs on the blocking example adapter (`examples/adapter/blocking.rs`); everything
//! else is the public API of `rfc6455`. Each test runs the other side in a thread and joins it.
//! Nothing can hang CI: tungstenite's sockets have read and write timeouts, every loop is
//! bounded, and a watchdog shuts our socket down if our side outlives its time limit (the
//! adapter's reads block without a timeout while the connection has no deadline).

#[path = "../examples/adapter/blocking.rs"]
mod adapter;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use std::ops::ControlFlow;

use bytes::Bytes;
use rfc6455::handshake::client::ClientRequest;
use rfc6455::handshake::{HandshakeConfig, ServerEvent, WsUrl};
use rfc6455::{
    CloseCode, CloseFrame, CloseInitiator, CloseOutcome, Config, Connection, DecodeRules, Decoded, Event,
    Frame, Message, MessageKind, MessageLimits, Opcode, OsSeededRng, Utf8Bytes,
};
use tungstenite::protocol::frame::coding::{CloseCode as TCloseCode, Data, OpCode};
use tungstenite::protocol::frame::Frame as TFrame;
use tungstenite::protocol::CloseFrame as TCloseFrame;
use tungstenite::{Message as TMessage, WebSocket};

/// Read and write timeout of tungstenite's sockets, and how long to wait for a connection.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long our side may run before the watchdog shuts its socket down.
const WATCHDOG: Duration = Duration::from_secs(15);
/// Bound on the reads of any tungstenite loop.
const MAX_READS: usize = 1000;
/// The message sizes: around the 7-bit, 16-bit and 64-bit length encodings (§5.2), and 1 MiB.
const SIZES: [usize; 7] = [0, 1, 125, 126, 65535, 65536, 1 << 20];
/// Ping payloads: empty, short, and the largest a control frame carries (§5.5).
const PING_PAYLOADS: [&[u8]; 3] = [b"", b"hello", &[0xa5; 125]];

// ------------------------------------------------------------------------------------------------
// Payloads.

/// A data message to send and to find again, byte for byte.
#[derive(Debug, Clone)]
struct Sample {
    text: bool,
    data: Bytes,
}

impl Sample {
    /// Valid UTF-8 of exactly `len` bytes, with 1- to 4-byte code points.
    fn text(len: usize) -> Sample {
        const CHARS: [char; 4] = ['a', 'é', '€', '😀'];
        let mut text = String::with_capacity(len);
        for (index, char) in CHARS.iter().cycle().enumerate().take(len) {
            if text.len() == len {
                break;
            }
            text.push(if text.len() + char.len_utf8() <= len {
                *char
            } else {
                char::from(b'0' + (index % 10) as u8)
            });
        }
        assert_eq!(text.len(), len);
        Sample { text: true, data: Bytes::from(text) }
    }

    /// `len` bytes taking every value.
    fn binary(len: usize) -> Sample {
        let data: Vec<u8> =
            (0..len as u32).map(|index| (index.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        Sample { text: false, data: Bytes::from(data) }
    }

    /// Text and binary messages of every size in [`SIZES`].
    fn every_size() -> Vec<Sample> {
        SIZES.iter().flat_map(|&len| [Sample::text(len), Sample::binary(len)]).collect()
    }

    fn label(&self) -> String {
        format!("{} message of {} bytes", if self.text { "text" } else { "binary" }, self.data.len())
    }

    fn ours(&self) -> Message {
        if self.text {
            Message::Text(Utf8Bytes::try_from(self.data.clone()).expect("valid UTF-8"))
        } else {
            Message::Binary(self.data.clone())
        }
    }

    fn theirs(&self) -> TMessage {
        if self.text {
            TMessage::Text(tungstenite::Utf8Bytes::try_from(self.data.clone()).expect("valid UTF-8"))
        } else {
            TMessage::Binary(self.data.clone())
        }
    }

    /// Asserts that one of our messages is this one.
    fn check_ours(&self, message: &Message) {
        let kind = if self.text { MessageKind::Text } else { MessageKind::Binary };
        assert_eq!(message.kind(), kind, "{}: wrong kind", self.label());
        assert_same_bytes(&self.label(), message.payload(), &self.data);
    }

    /// Asserts that one of tungstenite's messages is this one.
    fn check_theirs(&self, message: &TMessage) {
        match message {
            TMessage::Text(text) if self.text => {
                assert_same_bytes(&self.label(), text.as_bytes(), &self.data)
            }
            TMessage::Binary(data) if !self.text => assert_same_bytes(&self.label(), data, &self.data),
            other => panic!("{}: got a {}-byte {}", self.label(), other.len(), kind_of(other)),
        }
    }
}

/// Compares payloads without printing megabytes on failure.
fn assert_same_bytes(label: &str, got: &[u8], expected: &[u8]) {
    if got == expected {
        return;
    }
    let first_difference = got.iter().zip(expected).position(|(a, b)| a != b);
    panic!(
        "{label}: got {} bytes, expected {}; first difference at {first_difference:?}",
        got.len(),
        expected.len()
    );
}

fn kind_of(message: &TMessage) -> &'static str {
    match message {
        TMessage::Text(_) => "text message",
        TMessage::Binary(_) => "binary message",
        TMessage::Ping(_) => "ping",
        TMessage::Pong(_) => "pong",
        TMessage::Close(_) => "close",
        TMessage::Frame(_) => "raw frame",
    }
}

/// Asserts that `messages` are `samples`, in order.
fn check_all_ours(samples: &[Sample], messages: &[&Message]) {
    assert_eq!(messages.len(), samples.len(), "number of messages");
    for (sample, message) in samples.iter().zip(messages) {
        sample.check_ours(message);
    }
}

/// Asserts that `messages` are `samples`, in order.
fn check_all_theirs(samples: &[Sample], messages: &[&TMessage]) {
    assert_eq!(messages.len(), samples.len(), "number of messages");
    for (sample, message) in samples.iter().zip(messages) {
        sample.check_theirs(message);
    }
}

/// The data messages of a tungstenite log.
fn data_of(messages: &[TMessage]) -> Vec<&TMessage> {
    messages.iter().filter(|message| message.is_text() || message.is_binary()).collect()
}

/// A text message split inside a 4-byte code point, with an empty fragment, as it is sent in
/// parts (and what it reassembles to).
const SPLIT_TEXT_PARTS: [&[u8]; 4] = [b"ab\xf0\x9f", b"\x98\x80cd", b"", "é".as_bytes()];
const SPLIT_TEXT: &str = "ab😀cdé";

// ------------------------------------------------------------------------------------------------
// Sockets.

/// Accepts one connection, waiting at most `limit`.
fn accept_within(listener: &TcpListener, limit: Duration) -> TcpStream {
    listener.set_nonblocking(true).expect("non-blocking listener");
    let deadline = Instant::now() + limit;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).expect("blocking stream");
                let _ = stream.set_nodelay(true);
                return stream;
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "no connection within {limit:?}");
                thread::sleep(Duration::from_millis(1));
            }
            Err(error) => panic!("accept failed: {error}"),
        }
    }
}

fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port on loopback");
    let address = listener.local_addr().expect("local address");
    (listener, address)
}

/// Joins a thread, passing its panic on.
fn join<T>(handle: JoinHandle<T>) -> T {
    handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Shuts a socket down once `limit` has passed, unless dropped first.
struct Watchdog {
    _cancel: mpsc::Sender<()>,
    fired: Arc<AtomicBool>,
}

impl Watchdog {
    fn arm(stream: &TcpStream, limit: Duration) -> Watchdog {
        let (cancel, cancelled) = mpsc::channel::<()>();
        let fired = Arc::new(AtomicBool::new(false));
        let stream = stream.try_clone().expect("clone the socket for the watchdog");
        let flag = Arc::clone(&fired);
        thread::spawn(move || {
            // Dropping the sender disconnects the channel: the watchdog stands down at once.
            if let Err(mpsc::RecvTimeoutError::Timeout) = cancelled.recv_timeout(limit) {
                flag.store(true, Ordering::SeqCst);
                let _ = stream.shutdown(Shutdown::Both);
            }
        });
        Watchdog { _cancel: cancel, fired }
    }

    fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

/// A transport that keeps a copy of every byte read from it, to check the frames on the wire.
#[derive(Debug)]
struct Recorder {
    stream: TcpStream,
    received: Vec<u8>,
}

impl Recorder {
    fn new(stream: TcpStream) -> Recorder {
        stream.set_read_timeout(Some(IO_TIMEOUT)).expect("read timeout");
        stream.set_write_timeout(Some(IO_TIMEOUT)).expect("write timeout");
        Recorder { stream, received: Vec::new() }
    }
}

impl Read for Recorder {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.stream.read(buf)?;
        self.received.extend_from_slice(&buf[..read]);
        Ok(read)
    }
}

impl Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// A frame as seen on the wire: opcode, FIN and payload length.
type WireFrame = (Opcode, bool, usize);

/// The frames that followed the HTTP head in `received`, decoded with `rules`.
fn frames_after_head(received: &[u8], rules: &DecodeRules) -> Vec<WireFrame> {
    let head_end = received.windows(4).position(|window| window == b"\r\n\r\n").expect("an HTTP head") + 4;
    let mut rest = &received[head_end..];
    let mut frames = Vec::new();
    while !rest.is_empty() {
        match Frame::decode(rest, rules).expect("valid frames on the wire") {
            Decoded::Complete { value, consumed } => {
                frames.push((value.header.opcode, value.header.fin, value.payload.len()));
                rest = &rest[consumed..];
            }
            Decoded::Incomplete { .. } => break,
        }
    }
    frames
}

/// The data frames (text, binary, continuation) of `frames`.
fn data_frames(frames: &[WireFrame]) -> Vec<WireFrame> {
    frames
        .iter()
        .copied()
        .filter(|(opcode, _, _)| matches!(opcode, Opcode::Text | Opcode::Binary | Opcode::Continuation))
        .collect()
}

/// The frames of a message of `len` bytes sent in frames of at most `max` bytes.
fn expected_fragments(opcode: Opcode, len: usize, max: usize) -> Vec<WireFrame> {
    let count = len.div_ceil(max).max(1);
    (0..count)
        .map(|index| {
            let opcode = if index == 0 { opcode } else { Opcode::Continuation };
            (opcode, index + 1 == count, max.min(len - index * max))
        })
        .collect()
}

// ------------------------------------------------------------------------------------------------
// Our side: the blocking adapter.

/// Our connection settings: a short close timeout, so a missing Close costs little.
fn config() -> Config {
    Config { close_timeout: Duration::from_secs(2), ..Config::default() }
}

/// What our side saw.
struct Run {
    events: Vec<Event>,
    result: io::Result<()>,
    timed_out: bool,
}

impl Run {
    /// Asserts that the connection ran to its end by itself, and returns its close outcome.
    fn outcome(&self) -> &CloseOutcome {
        assert!(!self.timed_out, "our side hung: the watchdog shut its socket down");
        if let Err(error) = &self.result {
            panic!("our side failed: {error}");
        }
        match self.events.last() {
            Some(Event::Closed(outcome)) => outcome,
            Some(other) => panic!("the last event is not Closed: {}", describe(other)),
            None => panic!("no event at all"),
        }
    }

    fn messages(&self) -> Vec<&Message> {
        self.events
            .iter()
            .filter_map(|event| match event {
                Event::Message(message) => Some(message),
                _ => None,
            })
            .collect()
    }

    /// Pings and pongs, in order: `(true, payload)` for a Ping.
    fn controls(&self) -> Vec<(bool, Bytes)> {
        self.events
            .iter()
            .filter_map(|event| match event {
                Event::Ping(payload) => Some((true, payload.clone())),
                Event::Pong(payload) => Some((false, payload.clone())),
                _ => None,
            })
            .collect()
    }
}

/// An event, without megabytes of payload.
fn describe(event: &Event) -> String {
    match event {
        Event::Message(message) => format!("{:?} message of {} bytes", message.kind(), message.len()),
        other => format!("{other:?}"),
    }
}

/// Drives `connection` with the adapter until it closes the transport, recording every event.
fn drive_ours(
    stream: &mut TcpStream,
    connection: &mut Connection,
    mut on_event: impl FnMut(&mut Connection, &Event),
) -> Run {
    let watchdog = Watchdog::arm(stream, WATCHDOG);
    let mut events = Vec::new();
    let result = adapter::drive(stream, connection, |connection, event| {
        on_event(connection, &event);
        events.push(event);
        ControlFlow::Continue(())
    })
    .map(|_taken_over| ());
    Run { events, result, timed_out: watchdog.fired() }
}

/// Echoes every message.
fn echo(connection: &mut Connection, event: &Event) {
    if let Event::Message(message) = event {
        // Err only once closing: the message is then dropped, as the RFC asks.
        let _ = connection.send_message(message);
    }
}

/// Serves one accepted connection: the handshake, `on_open`, then the driving loop.
fn serve(
    mut stream: TcpStream,
    config: Config,
    on_open: impl FnOnce(&mut Connection),
    on_event: impl FnMut(&mut Connection, &Event),
) -> Run {
    // The handshake has its own deadline (HandshakeConfig::timeout): nothing here can hang.
    let accepted = adapter::accept(&mut stream, HandshakeConfig::default(), |handshake, event| match event {
        ServerEvent::Upgrade(request) => {
            Some(handshake.accept(Instant::now(), request.accept(), config.clone()).expect("accept"))
        }
        ServerEvent::Failed(error) => panic!("our server rejected tungstenite's request: {error}"),
        other => panic!("not an upgrade request: {other:?}"),
    });
    let mut connection = match accepted {
        Ok(Some(connection)) => connection,
        Ok(None) => panic!("tungstenite closed during the handshake"),
        Err(error) => panic!("error during the handshake: {error}"),
    };
    on_open(&mut connection);
    drive_ours(&mut stream, &mut connection, on_event)
}

/// Our server, in a thread, for one connection.
fn spawn_our_server(
    config: Config,
    on_open: impl FnOnce(&mut Connection) + Send + 'static,
    on_event: impl FnMut(&mut Connection, &Event) + Send + 'static,
) -> (SocketAddr, JoinHandle<Run>) {
    let (listener, address) = listen();
    let server =
        thread::spawn(move || serve(accept_within(&listener, IO_TIMEOUT), config, on_open, on_event));
    (address, server)
}

/// Our client, connected to `address`.
fn connect_ours(address: SocketAddr, config: Config) -> (TcpStream, Connection) {
    let url = WsUrl::parse(&format!("ws://{address}/interop")).expect("a ws:// URL");
    let request = ClientRequest::from_url(&url, &mut OsSeededRng::new());
    let (stream, connection, _accepted) =
        adapter::connect(&url, request, config).expect("handshake with tungstenite");
    (stream, connection)
}

// ------------------------------------------------------------------------------------------------
// Tungstenite's side.

/// What the tungstenite side saw: the value its code returned and the raw bytes it read.
struct Peer<T> {
    value: T,
    received: Vec<u8>,
}

/// A tungstenite server, in a thread, for one connection.
fn spawn_tungstenite_server<T: Send + 'static>(
    behaviour: impl FnOnce(&mut WebSocket<Recorder>) -> T + Send + 'static,
) -> (SocketAddr, JoinHandle<Peer<T>>) {
    let (listener, address) = listen();
    let server = thread::spawn(move || {
        let stream = accept_within(&listener, IO_TIMEOUT);
        let mut websocket =
            tungstenite::accept(Recorder::new(stream)).expect("tungstenite accepts our handshake");
        let value = behaviour(&mut websocket);
        let received = std::mem::take(&mut websocket.get_mut().received);
        Peer { value, received }
    });
    (address, server)
}

/// A tungstenite client connected to `address`, running `behaviour`; the socket is closed when
/// this returns.
fn with_tungstenite_client<T>(
    address: SocketAddr,
    behaviour: impl FnOnce(&mut WebSocket<Recorder>) -> tungstenite::Result<T>,
) -> Peer<tungstenite::Result<T>> {
    let stream = match TcpStream::connect(address) {
        Ok(stream) => stream,
        Err(error) => return Peer { value: Err(error.into()), received: Vec::new() },
    };
    let _ = stream.set_nodelay(true);
    let mut websocket = match tungstenite::client(format!("ws://{address}/interop"), Recorder::new(stream)) {
        Ok((websocket, _response)) => websocket,
        Err(error) => panic!("tungstenite's handshake with our server failed: {error}"),
    };
    let value = behaviour(&mut websocket);
    let received = std::mem::take(&mut websocket.get_mut().received);
    Peer { value, received }
}

/// Everything tungstenite read, and the error that ended its reading.
#[derive(Debug)]
struct Log {
    messages: Vec<TMessage>,
    end: tungstenite::Error,
}

impl Log {
    /// Asserts that the closing handshake completed (tungstenite's `ConnectionClosed`).
    fn assert_closed_cleanly(&self) {
        assert!(
            matches!(self.end, tungstenite::Error::ConnectionClosed),
            "tungstenite ended with {:?}",
            self.end
        );
    }

    fn close_frames(&self) -> Vec<Option<&TCloseFrame>> {
        self.messages
            .iter()
            .filter_map(|message| match message {
                TMessage::Close(frame) => Some(frame.as_ref()),
                _ => None,
            })
            .collect()
    }

    /// Pings and pongs, in order: `(true, payload)` for a Ping.
    fn controls(&self) -> Vec<(bool, Bytes)> {
        self.messages
            .iter()
            .filter_map(|message| match message {
                TMessage::Ping(payload) => Some((true, payload.clone())),
                TMessage::Pong(payload) => Some((false, payload.clone())),
                _ => None,
            })
            .collect()
    }
}

/// Reads until an error (`ConnectionClosed` after a clean close), echoing data messages if
/// `echo`.
fn read_to_end(websocket: &mut WebSocket<Recorder>, echo: bool, mut messages: Vec<TMessage>) -> Log {
    for _ in 0..MAX_READS {
        match websocket.read() {
            Ok(message) => {
                if echo && (message.is_text() || message.is_binary()) {
                    if let Err(end) = websocket.send(message.clone()) {
                        messages.push(message);
                        return Log { messages, end };
                    }
                }
                messages.push(message);
            }
            Err(end) => return Log { messages, end },
        }
    }
    panic!("tungstenite read {MAX_READS} messages without an end");
}

/// The tungstenite echo server's behaviour.
fn tungstenite_echo(websocket: &mut WebSocket<Recorder>) -> Log {
    read_to_end(websocket, true, Vec::new())
}

/// Reads up to the next data message, keeping the control messages read on the way in `log`.
fn read_data(websocket: &mut WebSocket<Recorder>, log: &mut Vec<TMessage>) -> tungstenite::Result<TMessage> {
    for _ in 0..MAX_READS {
        let message = websocket.read()?;
        if message.is_text() || message.is_binary() {
            return Ok(message);
        }
        let close = message.is_close();
        log.push(message);
        if close {
            return Err(tungstenite::Error::ConnectionClosed);
        }
    }
    panic!("tungstenite read {MAX_READS} control messages without a data message");
}

/// Sends raw frames (tungstenite masks them as a client).
fn send_frames(websocket: &mut WebSocket<Recorder>, frames: Vec<TFrame>) -> tungstenite::Result<()> {
    for frame in frames {
        websocket.send(TMessage::Frame(frame))?;
    }
    Ok(())
}

/// [`SPLIT_TEXT_PARTS`] as tungstenite frames with a Ping after the first, then a binary message
/// of 90,000 bytes in three fragments.
fn tungstenite_fragments() -> (Vec<TFrame>, [Sample; 2]) {
    let mut frames = Vec::new();
    for (index, part) in SPLIT_TEXT_PARTS.iter().enumerate() {
        let opcode = OpCode::Data(if index == 0 { Data::Text } else { Data::Continue });
        frames.push(TFrame::message(Bytes::from_static(part), opcode, index + 1 == SPLIT_TEXT_PARTS.len()));
        if index == 0 {
            frames.push(TFrame::ping(Bytes::from_static(b"mid")));
        }
    }
    let binary = Sample::binary(90_000);
    for (index, part) in binary.data.chunks(30_000).enumerate() {
        let opcode = OpCode::Data(if index == 0 { Data::Binary } else { Data::Continue });
        frames.push(TFrame::message(Bytes::copy_from_slice(part), opcode, index == 2));
    }
    let text = Sample { text: true, data: Bytes::from_static(SPLIT_TEXT.as_bytes()) };
    (frames, [text, binary])
}

/// Sends [`SPLIT_TEXT_PARTS`] as one text message in parts, with a Ping after the first part.
fn send_split_text(connection: &mut Connection) {
    connection.begin_message(MessageKind::Text).expect("begin a message");
    for (index, part) in SPLIT_TEXT_PARTS.iter().enumerate() {
        connection.send_fragment(part, index + 1 == SPLIT_TEXT_PARTS.len()).expect("send a part");
        if index == 0 {
            connection.send_ping(b"mid").expect("ping between parts");
        }
    }
}

/// The frames [`send_split_text`] puts on the wire.
fn split_text_frames() -> Vec<WireFrame> {
    vec![
        (Opcode::Text, false, 4),
        (Opcode::Ping, true, 3),
        (Opcode::Continuation, false, 4),
        (Opcode::Continuation, false, 0),
        (Opcode::Continuation, true, 2),
    ]
}

fn close_frame(code: u16, reason: &'static str) -> TCloseFrame {
    TCloseFrame { code: TCloseCode::from(code), reason: reason.into() }
}

fn assert_close_frame(frame: Option<&TCloseFrame>, code: u16, reason: &str) {
    let frame = frame.expect("a Close frame with a body");
    assert_eq!(u16::from(frame.code), code, "close code");
    assert_eq!(frame.reason.as_str(), reason, "close reason");
}

fn status(code: u16, reason: &str) -> Option<CloseFrame> {
    Some(CloseFrame { code: CloseCode(code), reason: reason.to_owned() })
}

// ------------------------------------------------------------------------------------------------
// Messages of every size.

#[test]
fn client_interoperates_with_tungstenite_server_for_every_size() {
    let samples = Sample::every_size();
    let (address, server) = spawn_tungstenite_server(tungstenite_echo);
    let (mut stream, mut connection) = connect_ours(address, config());

    // One message at a time: each is sent once the previous one came back.
    connection.send_message(&samples[0].ours()).expect("send");
    let mut next = 1;
    let run = drive_ours(&mut stream, &mut connection, |connection, event| {
        if let Event::Message(_) = event {
            match samples.get(next) {
                Some(sample) => connection.send_message(&sample.ours()).expect("send"),
                None if connection.is_open() => {
                    connection.close(Instant::now(), CloseCode::NORMAL_CLOSURE, "done").expect("close")
                }
                None => {}
            }
            next += 1;
        }
    });
    let server = join(server).value;

    check_all_theirs(&samples, &data_of(&server.messages));
    check_all_ours(&samples, &run.messages());
    server.assert_closed_cleanly();
    assert_close_frame(server.close_frames()[0], 1000, "done");
    let outcome = run.outcome();
    assert!(outcome.clean, "{outcome}");
    assert_eq!(outcome.code(), CloseCode::NORMAL_CLOSURE);
}

#[test]
fn server_interoperates_with_tungstenite_client_for_every_size() {
    let samples = Sample::every_size();
    let (address, server) = spawn_our_server(config(), |_| {}, echo);

    let client = with_tungstenite_client(address, |websocket| {
        let mut controls = Vec::new();
        let mut echoes = Vec::new();
        for sample in &samples {
            websocket.send(sample.theirs())?;
            echoes.push(read_data(websocket, &mut controls)?);
        }
        websocket.close(Some(close_frame(1000, "done")))?;
        Ok((echoes, read_to_end(websocket, false, controls)))
    });
    let run = join(server);
    let (echoes, log) = client.value.expect("tungstenite client");

    check_all_theirs(&samples, &echoes.iter().collect::<Vec<_>>());
    check_all_ours(&samples, &run.messages());
    log.assert_closed_cleanly();
    let outcome = run.outcome();
    assert!(outcome.clean, "{outcome}");
    assert_eq!(outcome.initiator, CloseInitiator::Remote);
    assert_eq!((outcome.code(), outcome.reason()), (CloseCode::NORMAL_CLOSURE, "done"));
}

// ------------------------------------------------------------------------------------------------
// Fragmentation.

#[test]
fn client_fragmented_messages_are_reassembled_by_tungstenite_server() {
    let long = Sample::text(10_000);
    let split = Sample { text: true, data: Bytes::from_static(SPLIT_TEXT.as_bytes()) };
    let (address, server) = spawn_tungstenite_server(tungstenite_echo);
    let config = Config { max_send_frame_size: Some(1000), ..config() };
    let (mut stream, mut connection) = connect_ours(address, config);

    // 10,000 bytes in frames of 1,000 (splitting code points), then a message sent in parts.
    connection.send_message(&long.ours()).expect("send");
    let mut echoes = 0;
    let run = drive_ours(&mut stream, &mut connection, |connection, event| {
        if let Event::Message(_) = event {
            echoes += 1;
            match echoes {
                1 => send_split_text(connection),
                2 => connection.close(Instant::now(), CloseCode::NORMAL_CLOSURE, "").expect("close"),
                _ => {}
            }
        }
    });
    let server = join(server);

    let samples = [long, split];
    check_all_theirs(&samples, &data_of(&server.value.messages));
    check_all_ours(&samples, &run.messages());
    let frames = frames_after_head(&server.received, &DecodeRules::server());
    let mut expected = expected_fragments(Opcode::Text, 10_000, 1000);
    expected.extend(split_text_frames());
    expected.push((Opcode::Close, true, 2));
    assert_eq!(frames, expected, "the frames tungstenite read");
    assert_eq!(server.value.controls(), [(true, Bytes::from_static(b"mid"))]);
    server.value.assert_closed_cleanly();
    assert!(run.outcome().clean);
}

#[test]
fn server_fragmented_messages_are_reassembled_by_tungstenite_client() {
    let long = Sample::binary(10_000);
    let split = Sample { text: true, data: Bytes::from_static(SPLIT_TEXT.as_bytes()) };
    let config = Config { max_send_frame_size: Some(1000), ..config() };
    // The server speaks first: a message in parts, then echoes in frames of 1,000 bytes.
    let (address, server) = spawn_our_server(config, send_split_text, echo);

    let client = with_tungstenite_client(address, |websocket| {
        let mut controls = Vec::new();
        let first = read_data(websocket, &mut controls)?;
        websocket.send(long.theirs())?;
        let echo = read_data(websocket, &mut controls)?;
        websocket.close(None)?;
        Ok(([first, echo], read_to_end(websocket, false, controls)))
    });
    let run = join(server);
    let (received, log) = client.value.expect("tungstenite client");

    check_all_theirs(&[split, long.clone()], &received.iter().collect::<Vec<_>>());
    check_all_ours(&[long], &run.messages());
    let frames = frames_after_head(&client.received, &DecodeRules::client());
    let mut expected = split_text_frames();
    expected.extend(expected_fragments(Opcode::Binary, 10_000, 1000));
    // Tungstenite's empty Close is echoed as an empty Close.
    expected.push((Opcode::Close, true, 0));
    assert_eq!(frames, expected, "the frames tungstenite read");
    assert_eq!(log.controls(), [(true, Bytes::from_static(b"mid"))]);
    log.assert_closed_cleanly();
    assert!(run.outcome().clean);
}

#[test]
fn server_reassembles_fragmented_messages_from_tungstenite_client() {
    let (frames, samples) = tungstenite_fragments();
    let config = Config { deliver_control_frames: true, ..config() };
    let (address, server) = spawn_our_server(config, |_| {}, echo);

    let client = with_tungstenite_client(address, |websocket| {
        send_frames(websocket, frames)?;
        let mut controls = Vec::new();
        let echoes = [read_data(websocket, &mut controls)?, read_data(websocket, &mut controls)?];
        websocket.close(None)?;
        Ok((echoes, read_to_end(websocket, false, controls)))
    });
    let run = join(server);
    let (echoes, log) = client.value.expect("tungstenite client");

    check_all_ours(&samples, &run.messages());
    check_all_theirs(&samples, &echoes.iter().collect::<Vec<_>>());
    // The Ping between fragments is reported (and answered) before the message it interrupted.
    assert!(matches!(&run.events[..2], [Event::Ping(ping), Event::Message(_)] if ping[..] == b"mid"[..]));
    assert_eq!(log.controls(), [(false, Bytes::from_static(b"mid"))]);
    // Each message was echoed in one frame.
    let wire = data_frames(&frames_after_head(&client.received, &DecodeRules::client()));
    assert_eq!(wire, [(Opcode::Text, true, SPLIT_TEXT.len()), (Opcode::Binary, true, 90_000)]);
    log.assert_closed_cleanly();
    assert!(run.outcome().clean);
}

#[test]
fn client_reassembles_fragmented_messages_from_tungstenite_server() {
    let (frames, samples) = tungstenite_fragments();
    let (address, server) = spawn_tungstenite_server(move |websocket| {
        let sent = send_frames(websocket, frames);
        (sent, read_to_end(websocket, false, Vec::new()))
    });
    let config = Config { deliver_control_frames: true, ..config() };
    let (mut stream, mut connection) = connect_ours(address, config);

    let mut received = 0;
    let run = drive_ours(&mut stream, &mut connection, |connection, event| {
        if let Event::Message(_) = event {
            received += 1;
            if received == 2 {
                connection.close(Instant::now(), CloseCode::NORMAL_CLOSURE, "").expect("close");
            }
        }
    });
    let server = join(server);
    let (sent, log) = server.value;
    sent.expect("tungstenite sends the fragments");

    check_all_ours(&samples, &run.messages());
    assert!(matches!(&run.events[..2], [Event::Ping(ping), Event::Message(_)] if ping[..] == b"mid"[..]));
    assert_eq!(log.controls(), [(false, Bytes::from_static(b"mid"))]);
    log.assert_closed_cleanly();
    assert!(run.outcome().clean);
}

// ------------------------------------------------------------------------------------------------
// Ping and Pong.

#[test]
fn client_exchanges_pings_and_pongs_with_tungstenite_server() {
    let (address, server) = spawn_tungstenite_server(|websocket| {
        for payload in PING_PAYLOADS {
            if let Err(end) = websocket.send(TMessage::Ping(Bytes::from_static(payload))) {
                return Log { messages: Vec::new(), end };
            }
        }
        read_to_end(websocket, false, Vec::new())
    });
    let config = Config { deliver_control_frames: true, ..config() };
    let (mut stream, mut connection) = connect_ours(address, config);

    for payload in PING_PAYLOADS {
        connection.send_ping(payload).expect("ping");
    }
    let mut controls = 0;
    let run = drive_ours(&mut stream, &mut connection, |connection, event| {
        if let Event::Ping(_) | Event::Pong(_) = event {
            controls += 1;
            if controls == 2 * PING_PAYLOADS.len() {
                connection.close(Instant::now(), CloseCode::NORMAL_CLOSURE, "").expect("close");
            }
        }
    });
    let server = join(server).value;

    assert_every_ping_answered_in_order(&run.controls(), &server.controls());
    server.assert_closed_cleanly();
    assert!(run.outcome().clean);
}

/// Each side received every Ping of [`PING_PAYLOADS`] and a Pong for each of its own, in
/// order: our Pongs answer tungstenite's Pings, tungstenite's answer ours. `ours` and `theirs`
/// are (is a Ping, payload) in the order received.
fn assert_every_ping_answered_in_order(ours: &[(bool, Bytes)], theirs: &[(bool, Bytes)]) {
    let payloads = || PING_PAYLOADS.iter().map(|payload| Bytes::from_static(payload));
    let pings: Vec<_> = payloads().map(|payload| (true, payload)).collect();
    let pongs: Vec<_> = payloads().map(|payload| (false, payload)).collect();
    for received in [ours, theirs] {
        assert_eq!(received.iter().filter(|(ping, _)| *ping).cloned().collect::<Vec<_>>(), pings);
        assert_eq!(received.iter().filter(|(ping, _)| !*ping).cloned().collect::<Vec<_>>(), pongs);
    }
}

#[test]
fn server_exchanges_pings_and_pongs_with_tungstenite_client() {
    let config = Config { deliver_control_frames: true, ..config() };
    let on_open = |connection: &mut Connection| {
        for payload in PING_PAYLOADS {
            connection.send_ping(payload).expect("ping");
        }
    };
    let (address, server) = spawn_our_server(config, on_open, echo);

    let client = with_tungstenite_client(address, |websocket| {
        for payload in PING_PAYLOADS {
            websocket.send(TMessage::Ping(Bytes::from_static(payload)))?;
        }
        let mut messages = Vec::new();
        // Read until our three Pings and the three Pongs are in (each read also flushes
        // tungstenite's Pong to the Ping read before).
        while messages.len() < 2 * PING_PAYLOADS.len() {
            assert!(messages.len() < MAX_READS, "no end of control messages");
            messages.push(websocket.read()?);
        }
        websocket.close(None)?;
        Ok(read_to_end(websocket, false, messages))
    });
    let run = join(server);
    let log = client.value.expect("tungstenite client");

    assert_every_ping_answered_in_order(&run.controls(), &log.controls());
    log.assert_closed_cleanly();
    assert!(run.outcome().clean);
}

// ------------------------------------------------------------------------------------------------
// Close codes and reasons.

#[test]
fn client_close_code_and_reason_reach_tungstenite_server() {
    let (address, server) = spawn_tungstenite_server(tungstenite_echo);
    let (mut stream, mut connection) = connect_ours(address, config());

    connection.close(Instant::now(), CloseCode(4000), "bye").expect("close");
    let run = drive_ours(&mut stream, &mut connection, |_, _| {});
    let server = join(server).value;

    assert_eq!(server.close_frames().len(), 1);
    assert_close_frame(server.close_frames()[0], 4000, "bye");
    server.assert_closed_cleanly();
    let outcome = run.outcome();
    assert!(outcome.clean, "{outcome}");
    assert_eq!(outcome.initiator, CloseInitiator::Local);
    assert_eq!(outcome.sent, status(4000, "bye"));
    // Tungstenite echoes the code and the reason.
    assert_eq!(outcome.received, status(4000, "bye"));
}

#[test]
fn server_close_code_and_reason_reach_tungstenite_client() {
    let on_open = |connection: &mut Connection| {
        connection.close(Instant::now(), CloseCode(4000), "bye").expect("close");
    };
    let (address, server) = spawn_our_server(config(), on_open, echo);

    let client = with_tungstenite_client(address, |websocket| Ok(read_to_end(websocket, false, Vec::new())));
    let run = join(server);
    let log = client.value.expect("tungstenite client");

    assert_eq!(log.close_frames().len(), 1);
    assert_close_frame(log.close_frames()[0], 4000, "bye");
    log.assert_closed_cleanly();
    let outcome = run.outcome();
    assert!(outcome.clean, "{outcome}");
    assert_eq!(outcome.initiator, CloseInitiator::Local);
    assert_eq!(outcome.sent, status(4000, "bye"));
    assert_eq!(outcome.received, status(4000, "bye"));
}

#[test]
fn server_reports_close_code_and_reason_of_tungstenite_client() {
    let (address, server) = spawn_our_server(config(), |_| {}, echo);

    let client = with_tungstenite_client(address, |websocket| {
        websocket.close(Some(close_frame(1001, "going")))?;
        Ok(read_to_end(websocket, false, Vec::new()))
    });
    let run = join(server);
    let log = client.value.expect("tungstenite client");

    let outcome = run.outcome();
    assert!(outcome.clean, "{outcome}");
    assert_eq!(outcome.initiator, CloseInitiator::Remote);
    assert_eq!((outcome.code(), outcome.reason()), (CloseCode::GOING_AWAY, "going"));
    assert_eq!(outcome.error, None);
    // §5.5.1: we echo the code, and the reason with it.
    assert_close_frame(log.close_frames()[0], 1001, "going");
    log.assert_closed_cleanly();
}

#[test]
fn client_reports_close_code_and_reason_of_tungstenite_server() {
    let (address, server) =
        spawn_tungstenite_server(|websocket| match websocket.close(Some(close_frame(1001, "going"))) {
            Ok(()) => read_to_end(websocket, false, Vec::new()),
            Err(end) => Log { messages: Vec::new(), end },
        });
    let (mut stream, mut connection) = connect_ours(address, config());

    let run = drive_ours(&mut stream, &mut connection, |_, _| {});
    let server = join(server).value;

    let outcome = run.outcome();
    assert!(outcome.clean, "{outcome}");
    assert_eq!(outcome.initiator, CloseInitiator::Remote);
    assert_eq!((outcome.code(), outcome.reason()), (CloseCode::GOING_AWAY, "going"));
    assert_eq!(outcome.error, None);
    // §5.5.1: we echo the code, and the reason with it.
    assert_close_frame(server.close_frames()[0], 1001, "going");
    server.assert_closed_cleanly();
}

// ------------------------------------------------------------------------------------------------
// Message size limit.

/// Our settings with messages of at most 1000 bytes.
fn small_messages() -> Config {
    Config { limits: MessageLimits { max_message_size: 1000, ..MessageLimits::default() }, ..config() }
}

#[test]
fn server_closes_with_1009_when_tungstenite_client_exceeds_max_message_size() {
    let (address, server) = spawn_our_server(small_messages(), |_| {}, echo);

    let client = with_tungstenite_client(address, |websocket| {
        let mut log = Vec::new();
        // 1000 bytes pass (and are echoed); 1001 do not.
        websocket.send(Sample::binary(1000).theirs())?;
        let echo = read_data(websocket, &mut log)?;
        websocket.send(Sample::binary(1001).theirs())?;
        Ok((echo, read_to_end(websocket, false, log)))
    });
    let run = join(server);
    let (echo, log) = client.value.expect("tungstenite client");

    Sample::binary(1000).check_theirs(&echo);
    assert_eq!(run.messages().len(), 1);
    assert_eq!(log.close_frames().len(), 1, "tungstenite read {:?}", log.messages);
    assert_eq!(u16::from(log.close_frames()[0].expect("a close code").code), 1009);
    let outcome = run.outcome();
    assert!(!outcome.clean, "{outcome}");
    assert_eq!(outcome.initiator, CloseInitiator::Local);
    assert_eq!(outcome.sent.as_ref().map(|sent| sent.code), Some(CloseCode::MESSAGE_TOO_BIG));
    assert_eq!(outcome.error.as_ref().map(|error| error.close_code()), Some(CloseCode::MESSAGE_TOO_BIG));
}

#[test]
fn client_closes_with_1009_when_tungstenite_server_exceeds_max_message_size() {
    let (address, server) = spawn_tungstenite_server(|websocket| {
        // 1000 bytes pass; 1001 in two fragments (each under the limit) do not.
        let text = Sample::text(1001);
        let frames = vec![
            TFrame::message(text.data.slice(..1000), OpCode::Data(Data::Text), true),
            TFrame::message(text.data.slice(..600), OpCode::Data(Data::Text), false),
            TFrame::message(text.data.slice(600..), OpCode::Data(Data::Continue), true),
        ];
        match send_frames(websocket, frames) {
            Ok(()) => read_to_end(websocket, false, Vec::new()),
            Err(end) => Log { messages: Vec::new(), end },
        }
    });
    let (mut stream, mut connection) = connect_ours(address, small_messages());

    let run = drive_ours(&mut stream, &mut connection, |_, _| {});
    let server = join(server).value;

    assert_eq!(run.messages().len(), 1);
    assert_eq!(run.messages()[0].len(), 1000);
    assert_eq!(server.close_frames().len(), 1, "tungstenite read {:?}", server.messages);
    assert_eq!(u16::from(server.close_frames()[0].expect("a close code").code), 1009);
    let outcome = run.outcome();
    assert!(!outcome.clean, "{outcome}");
    assert_eq!(outcome.sent.as_ref().map(|sent| sent.code), Some(CloseCode::MESSAGE_TOO_BIG));
    assert_eq!(outcome.error.as_ref().map(|error| error.close_code()), Some(CloseCode::MESSAGE_TOO_BIG));
}

// ------------------------------------------------------------------------------------------------
// Many clients.

#[test]
fn server_echoes_100_concurrent_tungstenite_clients() {
    const CLIENTS: usize = 100;
    const MESSAGES: usize = 4;
    let (listener, address) = listen();
    let server = thread::spawn(move || {
        let connections: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let stream = accept_within(&listener, IO_TIMEOUT);
                thread::spawn(move || serve(stream, config(), |_| {}, echo))
            })
            .collect();
        connections.into_iter().map(join).collect::<Vec<Run>>()
    });

    // Every client waits until all are connected, so that all 100 connections are open at once.
    let connected = Arc::new(AtomicUsize::new(0));
    let samples = |client: usize| -> Vec<Sample> {
        (0..MESSAGES)
            .map(|index| match index % 2 {
                0 => Sample {
                    text: true,
                    data: Bytes::from(format!("client {client}, message {index}: 😀")),
                },
                _ => Sample::binary(client * 37 + index * 1000),
            })
            .collect()
    };
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let connected = Arc::clone(&connected);
            thread::spawn(move || {
                with_tungstenite_client(address, |websocket| {
                    connected.fetch_add(1, Ordering::SeqCst);
                    let deadline = Instant::now() + IO_TIMEOUT;
                    while connected.load(Ordering::SeqCst) < CLIENTS {
                        assert!(Instant::now() < deadline, "not all clients connected");
                        thread::sleep(Duration::from_millis(1));
                    }
                    let mut controls = Vec::new();
                    let mut echoes = Vec::new();
                    for sample in samples(client) {
                        websocket.send(sample.theirs())?;
                        echoes.push(read_data(websocket, &mut controls)?);
                    }
                    websocket.close(None)?;
                    Ok((echoes, read_to_end(websocket, false, controls)))
                })
                .value
            })
        })
        .collect();
    let results: Vec<_> = clients.into_iter().map(join).collect();
    let runs = join(server);

    for (client, result) in results.into_iter().enumerate() {
        let (echoes, log) = result.unwrap_or_else(|error| panic!("client {client}: {error}"));
        check_all_theirs(&samples(client), &echoes.iter().collect::<Vec<_>>());
        log.assert_closed_cleanly();
    }
    assert_eq!(runs.len(), CLIENTS);
    for run in &runs {
        assert_eq!(run.messages().len(), MESSAGES);
        let outcome = run.outcome();
        assert!(outcome.clean, "{outcome}");
        assert_eq!(outcome.code(), CloseCode::NO_STATUS_RCVD);
    }
}
