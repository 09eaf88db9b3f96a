//! A load generator for the course's echo server (`examples/echo_server.rs`) and the peers of
//! `scripts/echo-bench.sh` (`examples/bench/`), on `rfc6455::tokio`: many connections, each
//! keeping a number of messages outstanding, every echo checked and timed.
//!
//! ```text
//! cargo run --release --example echo_server &
//! cargo run --release --example echo_load -- --url ws://127.0.0.1:1337/ --connections 128 --size 1024
//! ```
//!
//! | option            | default                 | meaning                                            |
//! |-------------------|-------------------------|----------------------------------------------------|
//! | `--url URL`       | `ws://127.0.0.1:1337/`  | the echo server                                    |
//! | `--connections N` | `16`                    | connections, all opened before the clock starts    |
//! | `--size BYTES`    | `16`                    | payload of every message                           |
//! | `--in-flight N`   | `1`                     | messages outstanding per connection                |
//! | `--duration S`    | `5`                     | seconds measured, after a 1 s warm-up not counted  |
//! | `--binary`        |                         | send Binary messages instead of Text               |
//! | `--server-pid PID`|                         | also measure the server's CPU time (Linux `/proc`) |
//! | `--raw`           |                         | plain TCP, no WebSocket (`examples/bench/echo_raw.rs`); `--url tcp://HOST:PORT` |
//! | `--frames`        |                         | WebSocket, written and read as bytes (below)       |
//! | `--idle`          |                         | hold the connections idle instead (below)          |
//!
//! Each connection has a writer task that sends whenever fewer than `--in-flight` messages are
//! outstanding, and a reader (the connection's [`rfc6455::tokio::WebSocket::split`] halves) that
//! checks each echo's kind and length and times it from the moment its message was handed to
//! `send`. With `--in-flight 1` that is the round trip itself; above it, the time also counts
//! the wait behind the messages ahead. With `--raw` a message is `--size` bytes written to the
//! socket, and its echo the next `--size` bytes read from it; the rest is the same.
//!
//! With `--frames` a connection speaks WebSocket without a WebSocket library on top of the
//! socket, so that the load costs about what `--raw`'s does and the two servers' figures can be
//! compared as they are. The opening handshake is the library's ([`ClientRequest`], its response
//! checked as `rfc6455::tokio` checks it); then each message is written as one frame, masked
//! with a fresh key from the same generator the library uses, and its echo must be, byte for
//! byte, the one unmasked frame a server sends back for it (§5.2: minimal length, FIN set, no
//! RSV bit). Anything else, a Ping included, fails the connection: it is a load generator, not
//! a client.
//!
//! It prints one line:
//!
//! ```text
//! connections=16 size=16 in_flight=1 msgs/s=41234 MB/s=0.66 rtt_p50_us=370 rtt_p99_us=820 server_cpu_us_per_msg=21.30 server_user_us_per_msg=4.10 load_cpu_us_per_msg=18.02
//! ```
//!
//! `msgs/s` counts echoes received in the measured window, `MB/s` their payload (one way,
//! 10^6 bytes), the RTT percentiles are over every echo of the window, and
//! `server_cpu_us_per_msg` (with `--server-pid`) is the server's user and system time over the
//! window per echo, `server_user_us_per_msg` the user part alone (the server's own code and its
//! libraries'; the rest is the kernel's, mostly the sockets'), `load_cpu_us_per_msg` this load
//! generator's own. The kernel counts them in ticks of 10 ms: over a 3-second window the total
//! is good to about 1%, the user part (a sixth of it or less) to a few percent. `scripts/echo-compare.sh`
//! runs it against two builds of the echo server, `scripts/echo-bench.sh` against the echo
//! server and its peers.
//!
//! With `--idle`, each connection (WebSocket or `--raw`) has one message echoed, then all are
//! held open and idle for `--duration` seconds, then closed: the server's memory per idle
//! connection can be read meanwhile. Once every echo is back it prints
//!
//! ```text
//! idle_connections=10000 connect_s=2.10
//! ```
//!
//! At most 256 connections are being opened at any moment, so that thousands of them do not
//! overflow the server's listen queue. Exit status: 0 after a run with no failure, 1 if a
//! connection failed, 2 for bad arguments.

#[path = "bench/measure.rs"]
mod measure;

use std::io::Cursor;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use measure::{cpu_ticks, cpu_times, number, percentile, CLOCK_TICKS_PER_SECOND};
use rfc6455::handshake::client::ClientRequest;
use rfc6455::handshake::{HeadLimits, WsUrl};
use rfc6455::tokio::{ReadHalf, WebSocket, WriteHalf};
use rfc6455::{
    extend_masked, CloseCode, Config, Decoded, Frame, FrameHeader, Message, MessageLimits, Opcode,
    OsSeededRng, RandomSource,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, Chain};
use tokio::net::{tcp, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{sleep, sleep_until, timeout, Instant};

const USAGE: &str = "usage: echo_load [--url ws://host:port/ | --raw --url tcp://host:port] \
                     [--connections N] [--size BYTES] [--in-flight N] [--duration SECONDS] [--binary] \
                     [--server-pid PID] [--idle]\n       echo_load --frames [--url ws://host:port/] [...]";

/// Time before the measured window: connections settle, the server's allocations warm up.
const WARM_UP: Duration = Duration::from_secs(1);

/// How long each connection's closing handshake may take once the window is over.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Connections being opened at once, at most: a server's listen queue holds a few hundred to
/// a few thousand (`somaxconn`), and a connection beyond it waits a second for its SYN to be
/// sent again.
const CONNECTING_AT_ONCE: usize = 256;

/// How long a `--frames` connection's opening handshake may take.
const FRAMES_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the one echo of an `--idle` connection may take.
const IDLE_ECHO_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes a `--raw` connection reads from its socket at a time, as `rfc6455::tokio` does.
const RAW_READ_BUFFER: usize = 16 * 1024;

/// The command line.
struct Arguments {
    url: Option<String>,
    connections: usize,
    size: usize,
    in_flight: usize,
    duration: Duration,
    binary: bool,
    server_pid: Option<u32>,
    raw: bool,
    frames: bool,
    idle: bool,
}

impl Arguments {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Arguments, String> {
        let mut arguments = Arguments {
            url: None,
            connections: 16,
            size: 16,
            in_flight: 1,
            duration: Duration::from_secs(5),
            binary: false,
            server_pid: None,
            raw: false,
            frames: false,
            idle: false,
        };
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--url" => arguments.url = Some(value()?),
                "--connections" => arguments.connections = number(&arg, &value()?)?,
                "--size" => arguments.size = number(&arg, &value()?)?,
                "--in-flight" => arguments.in_flight = number(&arg, &value()?)?,
                "--duration" => {
                    let seconds: f64 = number(&arg, &value()?)?;
                    arguments.duration = Duration::try_from_secs_f64(seconds)
                        .ok()
                        .filter(|duration| !duration.is_zero())
                        .ok_or_else(|| format!("--duration {seconds}: not a positive number of seconds"))?;
                }
                "--binary" => arguments.binary = true,
                "--server-pid" => arguments.server_pid = Some(number(&arg, &value()?)?),
                "--raw" => arguments.raw = true,
                "--frames" => arguments.frames = true,
                "--idle" => arguments.idle = true,
                "-h" | "--help" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        if arguments.connections == 0 || arguments.in_flight == 0 {
            return Err("--connections and --in-flight must be at least 1".to_owned());
        }
        if arguments.raw && arguments.frames {
            return Err("--raw and --frames: choose one".to_owned());
        }
        Ok(arguments)
    }

    /// Where to connect, from `--url` or its default for the mode.
    fn target(&self) -> Result<Target, String> {
        if self.raw {
            let url = self.url.as_deref().unwrap_or("tcp://127.0.0.1:1337");
            match url.strip_prefix("tcp://").map(|address| address.trim_end_matches('/')) {
                Some(address) if !address.is_empty() && !address.contains('/') => {
                    Ok(Target::Raw(address.to_owned()))
                }
                _ => Err(format!("--raw --url {url:?}: not tcp://HOST:PORT")),
            }
        } else {
            let url = self.url.as_deref().unwrap_or("ws://127.0.0.1:1337/");
            let url = WsUrl::parse(url).map_err(|error| error.to_string())?;
            if self.frames {
                if url.is_secure() {
                    return Err(format!("--frames --url {url}: plain ws:// only"));
                }
                Ok(Target::Frames(url))
            } else {
                Ok(Target::WebSocket(url))
            }
        }
    }

    /// The message every connection sends: Text (ASCII, so valid UTF-8) or Binary; with `--raw`,
    /// its payload.
    fn message(&self) -> Message {
        if self.binary {
            Message::binary(vec![0x5a; self.size])
        } else {
            Message::text("x".repeat(self.size))
        }
    }

    /// The connections' settings: messages up to `--size` are accepted whatever it is.
    fn options(&self) -> rfc6455::tokio::Options {
        let defaults = MessageLimits::default();
        let size = self.size as u64;
        let limits = MessageLimits {
            max_frame_size: defaults.max_frame_size.max(size),
            max_message_size: defaults.max_message_size.max(size),
            ..defaults
        };
        let config = Config { limits, ..Config::default() };
        rfc6455::tokio::Options { config, ..rfc6455::tokio::Options::default() }
    }
}

/// The server: a WebSocket URL (spoken to through `rfc6455::tokio`, or with `--frames` as
/// bytes), or with `--raw` the address of a TCP echo.
#[derive(Debug, Clone)]
enum Target {
    WebSocket(WsUrl),
    Frames(WsUrl),
    Raw(String),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::WebSocket(url) | Target::Frames(url) => write!(f, "{url}"),
            Target::Raw(address) => write!(f, "tcp://{address}"),
        }
    }
}

/// One open connection to the server.
enum Connection {
    WebSocket(WebSocket<TcpStream>),
    Frames(FrameWriter, FrameReader),
    Raw(TcpStream),
}

impl Connection {
    /// Connects to `target`: the opening handshake done, or for `--raw` the TCP connection made
    /// (with `TCP_NODELAY`, as `rfc6455::tokio` sets it).
    async fn open(target: &Target, options: &rfc6455::tokio::Options) -> Result<Connection, String> {
        let failed = |error: &dyn std::fmt::Display| format!("cannot connect to {target}: {error}");
        match target {
            Target::WebSocket(url) => {
                let request = ClientRequest::from_url(url, &mut OsSeededRng::new());
                match rfc6455::tokio::connect_with(url, request, options).await {
                    Ok((ws, _)) => Ok(Connection::WebSocket(ws)),
                    Err(error) => Err(failed(&error)),
                }
            }
            Target::Frames(url) => match timeout(FRAMES_HANDSHAKE_TIMEOUT, FrameWriter::open(url)).await {
                Ok(Ok((writer, reader))) => Ok(Connection::Frames(writer, reader)),
                Ok(Err(error)) => Err(failed(&error)),
                Err(_) => Err(failed(&format!("the handshake took over {FRAMES_HANDSHAKE_TIMEOUT:?}"))),
            },
            Target::Raw(address) => {
                let stream = TcpStream::connect(address.as_str()).await.map_err(|error| failed(&error))?;
                stream.set_nodelay(true).map_err(|error| failed(&error))?;
                Ok(Connection::Raw(stream))
            }
        }
    }

    /// The connection's two halves.
    fn split(self) -> (Writer, Reader) {
        match self {
            Connection::WebSocket(ws) => {
                let (write_half, read_half) = ws.split();
                (Writer::WebSocket(write_half), Reader::WebSocket(read_half))
            }
            Connection::Frames(writer, reader) => (Writer::Frames(writer), Reader::Frames(reader)),
            Connection::Raw(stream) => {
                let (read_half, write_half) = stream.into_split();
                let reader = BufReader::with_capacity(RAW_READ_BUFFER, read_half);
                (Writer::Raw(write_half), Reader::Raw(reader, Vec::new()))
            }
        }
    }

    /// Sends `message` and waits for its echo (`--idle`).
    async fn echo_once(&mut self, message: &Message) -> Result<(), String> {
        match self {
            Connection::WebSocket(ws) => {
                ws.send(message.clone()).await.map_err(|error| format!("sending: {error}"))?;
                check_echo(ws.recv().await, message)
            }
            Connection::Frames(writer, reader) => {
                writer.send(message).await.map_err(|error| format!("sending: {error}"))?;
                reader.receive(message).await
            }
            Connection::Raw(stream) => {
                stream.write_all(message.payload()).await.map_err(|error| format!("sending: {error}"))?;
                let mut echo = vec![0; message.len()];
                stream.read_exact(&mut echo).await.map_err(raw_read_error)?;
                Ok(())
            }
        }
    }
}

/// The sending half of a connection.
enum Writer {
    WebSocket(WriteHalf<TcpStream>),
    Frames(FrameWriter),
    Raw(tcp::OwnedWriteHalf),
}

impl Writer {
    /// Sends `message`. Cancel-safe for a WebSocket (the message is queued whole or not at all);
    /// with `--raw` a cancelled send may have written part of it, which does not matter once
    /// nothing more is read.
    async fn send(&mut self, message: &Message) -> Result<(), String> {
        let sent = match self {
            Writer::WebSocket(write_half) => {
                write_half.send(message.clone()).await.map_err(|error| error.to_string())
            }
            Writer::Frames(writer) => writer.send(message).await.map_err(|error| error.to_string()),
            Writer::Raw(write_half) => {
                write_half.write_all(message.payload()).await.map_err(|error| error.to_string())
            }
        };
        sent.map_err(|error| format!("sending: {error}"))
    }

    /// Closes the connection: the closing handshake, or with `--raw` the end of our side.
    async fn close(&mut self) -> Result<(), String> {
        match self {
            Writer::WebSocket(write_half) => {
                write_half.close(CloseCode::NORMAL_CLOSURE, "").await.map_err(|error| error.to_string())
            }
            Writer::Frames(writer) => writer.close().await.map_err(|error| error.to_string()),
            Writer::Raw(write_half) => write_half.shutdown().await.map_err(|error| error.to_string()),
        }
    }
}

/// The receiving half of a connection; with `--raw`, a buffer for the echo as well.
enum Reader {
    WebSocket(ReadHalf<TcpStream>),
    Frames(FrameReader),
    Raw(BufReader<tcp::OwnedReadHalf>, Vec<u8>),
}

impl Reader {
    /// Takes the next echo and checks it against `message`: kind and length, or with `--raw` the
    /// next `message.len()` bytes.
    async fn receive(&mut self, message: &Message) -> Result<(), String> {
        match self {
            Reader::WebSocket(read_half) => check_echo(read_half.recv().await, message),
            Reader::Frames(reader) => reader.receive(message).await,
            Reader::Raw(read_half, echo) => {
                echo.resize(message.len(), 0);
                read_half.read_exact(echo).await.map_err(raw_read_error)?;
                Ok(())
            }
        }
    }
}

/// The sending half of a `--frames` connection: each message is encoded as one masked frame
/// and written.
struct FrameWriter {
    write_half: tcp::OwnedWriteHalf,
    /// Masking keys, from the generator `rfc6455::tokio` uses (§5.3: a fresh key per frame);
    /// boxed, as it is large.
    random: Box<OsSeededRng>,
    /// The frame being written: what a cancelled write left of it stays here.
    frame: BytesMut,
}

impl FrameWriter {
    /// Connects to `url` and makes the opening handshake: the library's request, its response
    /// checked by [`ClientRequest::decode_response`] (§4.1). Returns the connection's halves;
    /// any bytes read past the response go to the reader.
    async fn open(url: &WsUrl) -> Result<(FrameWriter, FrameReader), String> {
        let mut stream = TcpStream::connect(url.authority()).await.map_err(|error| error.to_string())?;
        stream.set_nodelay(true).map_err(|error| error.to_string())?;
        let mut random = OsSeededRng::new();
        let request = ClientRequest::from_url(url, &mut random);
        let mut head = Vec::new();
        request.encode(&mut head);
        stream.write_all(&head).await.map_err(|error| error.to_string())?;
        // The response head; the limits bound it, so the buffer cannot grow without end.
        let limits = HeadLimits::default();
        let mut read = Vec::new();
        let mut chunk = [0; 1024];
        let after_head = loop {
            match request.decode_response(&read, &limits).map_err(|error| error.to_string())? {
                Decoded::Complete { consumed, .. } => break read.split_off(consumed),
                Decoded::Incomplete { .. } => {}
            }
            match stream.read(&mut chunk).await.map_err(|error| error.to_string())? {
                0 => return Err("the server closed the connection during the handshake".to_owned()),
                count => read.extend_from_slice(&chunk[..count]),
            }
        };
        let (read_half, write_half) = stream.into_split();
        let read_half = BufReader::with_capacity(RAW_READ_BUFFER, Cursor::new(after_head).chain(read_half));
        let writer = FrameWriter { write_half, random: Box::new(random), frame: BytesMut::new() };
        let reader = FrameReader { read_half, expected: Vec::new(), echo: Vec::new() };
        Ok((writer, reader))
    }

    /// Writes `message` as one frame, masked with a new key. Cancel-safe: the part of a frame
    /// not yet written stays in `frame`, and goes out before the next one (a Close after a send
    /// cut short at the end of the window still follows a whole frame).
    async fn send(&mut self, message: &Message) -> std::io::Result<()> {
        self.write_frame(message.kind().opcode(), message.payload()).await
    }

    /// Sends a Close (1000) and ends our side of the connection; the server's Close, and any
    /// echo still on its way, are not read.
    async fn close(&mut self) -> std::io::Result<()> {
        // §5.5.1: the status code, in network byte order, and no reason.
        self.write_frame(Opcode::Close, &u16::from(CloseCode::NORMAL_CLOSURE).to_be_bytes()).await?;
        self.write_half.shutdown().await
    }

    /// Writes one final frame of `opcode` carrying `payload`, masked with a new key as it is
    /// copied: the payload is borrowed, not shared (a `Bytes` clone of the one message every
    /// connection sends would be an atomic count two cores update for every message).
    async fn write_frame(&mut self, opcode: Opcode, payload: &[u8]) -> std::io::Result<()> {
        // What a cancelled write left, first.
        self.write_half.write_all_buf(&mut self.frame).await?;
        let key = self.random.masking_key();
        let header =
            FrameHeader { masking_key: Some(key), ..FrameHeader::new(true, opcode, payload.len() as u64) };
        header.encode(&mut self.frame);
        extend_masked(&mut self.frame, key, payload, 0);
        self.write_half.write_all_buf(&mut self.frame).await
    }
}

/// The receiving half of a `--frames` connection.
struct FrameReader {
    read_half: BufReader<Chain<Cursor<Vec<u8>>, tcp::OwnedReadHalf>>,
    /// The frame the server sends back for the message: made at the first echo.
    expected: Vec<u8>,
    /// The bytes read for an echo.
    echo: Vec<u8>,
}

impl FrameReader {
    /// Reads the next echo and checks it is, byte for byte, the server's frame for `message`.
    async fn receive(&mut self, message: &Message) -> Result<(), String> {
        if self.expected.is_empty() {
            Frame::new(true, message.kind().opcode(), message.payload().clone()).encode(&mut self.expected);
            self.echo.resize(self.expected.len(), 0);
        }
        self.read_half.read_exact(&mut self.echo).await.map_err(raw_read_error)?;
        if self.echo != self.expected {
            let shown = self.echo.len().min(16);
            return Err(format!(
                "the echo is not the one frame expected: it starts {:02x?}, not {:02x?}",
                &self.echo[..shown],
                &self.expected[..shown]
            ));
        }
        Ok(())
    }
}

/// Whether a WebSocket's next message is the echo of `message`: same kind, same length.
fn check_echo(
    received: Option<Result<Message, rfc6455::tokio::Error>>,
    message: &Message,
) -> Result<(), String> {
    let echo = match received {
        Some(Ok(echo)) => echo,
        Some(Err(error)) => return Err(error.to_string()),
        None => return Err("the server closed the connection".to_owned()),
    };
    if echo.kind() != message.kind() || echo.len() != message.len() {
        return Err(format!(
            "sent a {:?} message of {} bytes, got back a {:?} message of {} bytes",
            message.kind(),
            message.len(),
            echo.kind(),
            echo.len()
        ));
    }
    Ok(())
}

/// What a failed `--raw` read of an echo means.
fn raw_read_error(error: std::io::Error) -> String {
    if error.kind() == std::io::ErrorKind::UnexpectedEof {
        "the server closed the connection".to_owned()
    } else {
        error.to_string()
    }
}

/// The measured window: echoes received in `start..end` are counted.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

/// What one connection measured in the window.
#[derive(Debug, Default)]
struct Tally {
    echoes: u64,
    /// Round-trip times in microseconds, one per echo.
    rtts_us: Vec<u32>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let arguments = match Arguments::parse(std::env::args().skip(1)) {
        Ok(arguments) => arguments,
        Err(message) => {
            eprintln!("echo_load: {message}");
            return ExitCode::from(2);
        }
    };
    let target = match arguments.target() {
        Ok(target) => target,
        Err(message) => {
            eprintln!("echo_load: {message}");
            return ExitCode::from(2);
        }
    };
    let result =
        if arguments.idle { idle(&arguments, &target).await } else { run(&arguments, &target).await };
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("echo_load: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Opens `--connections` connections, at most [`CONNECTING_AT_ONCE`] at a time; with `--idle`,
/// each has one message echoed before it counts as open.
async fn open_all(arguments: &Arguments, target: &Target) -> Result<Vec<Connection>, String> {
    let options = arguments.options();
    let message = arguments.message();
    let slots = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let mut connecting = JoinSet::new();
    for _ in 0..arguments.connections {
        let (target, options, message, slots) =
            (target.clone(), options.clone(), message.clone(), slots.clone());
        let idle = arguments.idle;
        connecting.spawn(async move {
            let _slot = slots.acquire_owned().await.map_err(|error| error.to_string())?;
            let mut connection = Connection::open(&target, &options).await?;
            if idle {
                match timeout(IDLE_ECHO_TIMEOUT, connection.echo_once(&message)).await {
                    Ok(echoed) => echoed?,
                    Err(_) => return Err(format!("no echo from {target} within {IDLE_ECHO_TIMEOUT:?}")),
                }
            }
            Ok(connection)
        });
    }
    let mut connections = Vec::with_capacity(arguments.connections);
    while let Some(connected) = connecting.join_next().await {
        connections.push(connected.map_err(|error| error.to_string())??);
    }
    Ok(connections)
}

/// `--idle`: opens every connection with one echo on each, says so, holds them for
/// `--duration`, then closes them.
async fn idle(arguments: &Arguments, target: &Target) -> Result<String, String> {
    let started = Instant::now();
    let connections = open_all(arguments, target).await?;
    println!("idle_connections={} connect_s={:.2}", connections.len(), started.elapsed().as_secs_f64());
    sleep(arguments.duration).await;
    let mut closing = JoinSet::new();
    for connection in connections {
        closing.spawn(async move {
            let (mut writer, _reader) = connection.split();
            timeout(CLOSE_TIMEOUT, writer.close()).await
        });
    }
    while closing.join_next().await.is_some() {}
    Ok(format!("idle_connections={} closed", arguments.connections))
}

/// Opens every connection, runs them through the warm-up and the window, and says what they
/// measured.
async fn run(arguments: &Arguments, target: &Target) -> Result<String, String> {
    let sockets = open_all(arguments, target).await?;

    let start = Instant::now() + WARM_UP;
    let window = Window { start, end: start + arguments.duration };
    let message = arguments.message();
    let mut running = JoinSet::new();
    for ws in sockets {
        running.spawn(echo(ws, message.clone(), arguments.in_flight, window));
    }

    // The CPU time over the window: the server's (if told its pid) and this process's own.
    let own_pid = std::process::id();
    sleep_until(window.start).await;
    let server_before = arguments.server_pid.map(cpu_times).transpose()?;
    let own_before = cpu_ticks(own_pid)?;
    sleep_until(window.end).await;
    let server_after = arguments.server_pid.map(cpu_times).transpose()?;
    let own_ticks = cpu_ticks(own_pid)?.saturating_sub(own_before);

    let mut echoes = 0;
    let mut rtts_us = Vec::new();
    while let Some(finished) = running.join_next().await {
        let tally = finished.map_err(|error| error.to_string())??;
        echoes += tally.echoes;
        rtts_us.extend(tally.rtts_us);
    }
    if echoes == 0 {
        return Err("no echo came back in the measured window".to_owned());
    }
    rtts_us.sort_unstable();

    let seconds = arguments.duration.as_secs_f64();
    let rate = echoes as f64 / seconds;
    let mut line = format!(
        "connections={} size={} in_flight={} msgs/s={rate:.0} MB/s={:.2} rtt_p50_us={} rtt_p99_us={}",
        arguments.connections,
        arguments.size,
        arguments.in_flight,
        rate * arguments.size as f64 / 1e6,
        percentile(&rtts_us, 0.50),
        percentile(&rtts_us, 0.99),
    );
    let us_per_echo = |ticks: u64| ticks as f64 * 1e6 / CLOCK_TICKS_PER_SECOND as f64 / echoes as f64;
    if let (Some(before), Some(after)) = (server_before, server_after) {
        let server = after.since(before);
        line.push_str(&format!(
            " server_cpu_us_per_msg={:.2} server_user_us_per_msg={:.2}",
            us_per_echo(server.user + server.system),
            us_per_echo(server.user)
        ));
    }
    line.push_str(&format!(" load_cpu_us_per_msg={:.2}", us_per_echo(own_ticks)));
    Ok(line)
}

/// One connection: a writer task keeps `in_flight` messages outstanding, this task reads the
/// echoes, until the window ends; then the connection is closed.
async fn echo(
    connection: Connection,
    message: Message,
    in_flight: usize,
    window: Window,
) -> Result<Tally, String> {
    let (write_half, read_half) = connection.split();
    // One slot per outstanding message, holding the moment it was sent: the reader frees the
    // oldest with each echo (a connection echoes in order).
    let (slots, sent_at) = mpsc::channel(in_flight);
    let writer = tokio::spawn(write(write_half, message.clone(), slots, window.end));
    let tally = read(read_half, &message, sent_at, window).await;
    // The writer stops at the window's end too, or once the reader has stopped.
    let mut write_half = writer.await.map_err(|error| error.to_string())??;
    // Echoes still outstanding arrive while closing and are dropped with the connection.
    match timeout(CLOSE_TIMEOUT, write_half.close()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) if tally.is_ok() => return Err(format!("closing: {error}")),
        Ok(Err(_)) => {}
        Err(_) if tally.is_ok() => return Err(format!("closing took over {CLOSE_TIMEOUT:?}")),
        Err(_) => {}
    }
    tally
}

/// Sends `message` whenever a slot is free, until `end` (see [`Writer::send`] for what a send
/// cut short at the end leaves).
async fn write(
    mut write_half: Writer,
    message: Message,
    slots: mpsc::Sender<Instant>,
    end: Instant,
) -> Result<Writer, String> {
    loop {
        let slot = tokio::select! {
            () = sleep_until(end) => return Ok(write_half),
            slot = slots.reserve() => match slot {
                Ok(slot) => slot,
                // The reader stopped; it says why.
                Err(_) => return Ok(write_half),
            },
        };
        slot.send(Instant::now());
        tokio::select! {
            () = sleep_until(end) => return Ok(write_half),
            sent = write_half.send(&message) => sent?,
        }
    }
}

/// Takes the echoes until `window.end`: checks each against `message`, frees its slot, and
/// counts it if it arrived in the window.
async fn read(
    mut read_half: Reader,
    message: &Message,
    mut sent_at: mpsc::Receiver<Instant>,
    window: Window,
) -> Result<Tally, String> {
    let mut tally = Tally::default();
    loop {
        tokio::select! {
            () = sleep_until(window.end) => return Ok(tally),
            received = read_half.receive(message) => received?,
        };
        let arrived = Instant::now();
        let Ok(sent) = sent_at.try_recv() else {
            return Err("an echo arrived with no message outstanding".to_owned());
        };
        if arrived >= window.start {
            tally.echoes += 1;
            let rtt_us = arrived.duration_since(sent).as_micros();
            tally.rtts_us.push(u32::try_from(rtt_us).unwrap_or(u32::MAX));
        }
    }
}
