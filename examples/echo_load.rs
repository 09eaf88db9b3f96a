//! A load generator for the course's echo server (`examples/echo_server.rs`), on
//! `rfc6455::tokio`: many connections, each keeping a number of messages outstanding, every echo
//! checked and timed.
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
//!
//! Each connection has a writer task that sends whenever fewer than `--in-flight` messages are
//! outstanding, and a reader (the connection's [`rfc6455::tokio::WebSocket::split`] halves) that
//! checks each echo's kind and length and times it from the moment its message was handed to
//! `send`. With `--in-flight 1` that is the round trip itself; above it, the time also counts
//! the wait behind the messages ahead.
//!
//! It prints one line:
//!
//! ```text
//! connections=16 size=16 in_flight=1 msgs/s=41234 MB/s=0.66 rtt_p50_us=370 rtt_p99_us=820 server_cpu_us_per_msg=21.30
//! ```
//!
//! `msgs/s` counts echoes received in the measured window, `MB/s` their payload (one way,
//! 10^6 bytes), the RTT percentiles are over every echo of the window, and
//! `server_cpu_us_per_msg` (with `--server-pid`) is the server's user and system time over the
//! window per echo. `scripts/echo-compare.sh` runs it against two builds of the echo server.
//! Exit status: 0 after a run with no failure, 1 if a connection failed, 2 for bad arguments.

use std::process::ExitCode;
use std::time::Duration;

use rfc6455::handshake::client::ClientRequest;
use rfc6455::handshake::WsUrl;
use rfc6455::tokio::{ReadHalf, WebSocket, WriteHalf};
use rfc6455::{CloseCode, Config, Message, MessageLimits, OsSeededRng};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::{sleep_until, timeout, Instant};

const USAGE: &str = "usage: echo_load [--url ws://host:port/] [--connections N] [--size BYTES] \
                     [--in-flight N] [--duration SECONDS] [--binary] [--server-pid PID]";

/// Time before the measured window: connections settle, the server's allocations warm up.
const WARM_UP: Duration = Duration::from_secs(1);

/// How long each connection's closing handshake may take once the window is over.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Clock ticks per second of `utime` and `stime` in `/proc/PID/stat` (`getconf CLK_TCK`): the
/// kernel's USER_HZ, 100 on every Linux architecture in use. Fixed here rather than asked of
/// `sysconf`, which would take a `libc` dependency for one number.
const CLOCK_TICKS_PER_SECOND: u64 = 100;

/// The command line.
struct Arguments {
    url: String,
    connections: usize,
    size: usize,
    in_flight: usize,
    duration: Duration,
    binary: bool,
    server_pid: Option<u32>,
}

impl Arguments {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Arguments, String> {
        let mut arguments = Arguments {
            url: "ws://127.0.0.1:1337/".to_owned(),
            connections: 16,
            size: 16,
            in_flight: 1,
            duration: Duration::from_secs(5),
            binary: false,
            server_pid: None,
        };
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--url" => arguments.url = value()?,
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
                "-h" | "--help" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        if arguments.connections == 0 || arguments.in_flight == 0 {
            return Err("--connections and --in-flight must be at least 1".to_owned());
        }
        Ok(arguments)
    }

    /// The message every connection sends: Text (ASCII, so valid UTF-8) or Binary.
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

fn number<T: std::str::FromStr>(option: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("{option} {value:?}: not a number"))
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
    let url = match WsUrl::parse(&arguments.url) {
        Ok(url) => url,
        Err(error) => {
            eprintln!("echo_load: {error}");
            return ExitCode::from(2);
        }
    };
    match run(&arguments, &url).await {
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

/// Opens every connection, runs them through the warm-up and the window, and says what they
/// measured.
async fn run(arguments: &Arguments, url: &WsUrl) -> Result<String, String> {
    let options = arguments.options();
    let mut connecting = JoinSet::new();
    for _ in 0..arguments.connections {
        let (url, options) = (url.clone(), options.clone());
        connecting.spawn(async move {
            let request = ClientRequest::from_url(&url, &mut OsSeededRng::new());
            rfc6455::tokio::connect_with(&url, request, &options).await
        });
    }
    let mut sockets = Vec::with_capacity(arguments.connections);
    while let Some(connected) = connecting.join_next().await {
        match connected.map_err(|error| error.to_string())? {
            Ok((ws, _)) => sockets.push(ws),
            Err(error) => return Err(format!("cannot connect to {url}: {error}")),
        }
    }

    let start = Instant::now() + WARM_UP;
    let window = Window { start, end: start + arguments.duration };
    let message = arguments.message();
    let mut running = JoinSet::new();
    for ws in sockets {
        running.spawn(echo(ws, message.clone(), arguments.in_flight, window));
    }

    let mut server_ticks = None;
    if let Some(pid) = arguments.server_pid {
        sleep_until(window.start).await;
        let before = cpu_ticks(pid)?;
        sleep_until(window.end).await;
        server_ticks = Some(cpu_ticks(pid)?.saturating_sub(before));
    }

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
    if let Some(ticks) = server_ticks {
        let cpu_us = ticks as f64 * 1e6 / CLOCK_TICKS_PER_SECOND as f64;
        line.push_str(&format!(" server_cpu_us_per_msg={:.2}", cpu_us / echoes as f64));
    }
    Ok(line)
}

/// One connection: a writer task keeps `in_flight` messages outstanding, this task reads the
/// echoes, until the window ends; then the connection is closed.
async fn echo(
    ws: WebSocket<TcpStream>,
    message: Message,
    in_flight: usize,
    window: Window,
) -> Result<Tally, String> {
    let (write_half, read_half) = ws.split();
    // One slot per outstanding message, holding the moment it was sent: the reader frees the
    // oldest with each echo (a connection echoes in order).
    let (slots, sent_at) = mpsc::channel(in_flight);
    let writer = tokio::spawn(write(write_half, message.clone(), slots, window.end));
    let tally = read(read_half, &message, sent_at, window).await;
    // The writer stops at the window's end too, or once the reader has stopped.
    let mut write_half = writer.await.map_err(|error| error.to_string())??;
    // Echoes still outstanding arrive while closing and are dropped with the connection.
    match timeout(CLOSE_TIMEOUT, write_half.close(CloseCode::NORMAL_CLOSURE, "")).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) if tally.is_ok() => return Err(format!("closing: {error}")),
        Ok(Err(_)) => {}
        Err(_) if tally.is_ok() => return Err(format!("closing took over {CLOSE_TIMEOUT:?}")),
        Err(_) => {}
    }
    tally
}

/// Sends `message` whenever a slot is free, until `end`. Both waits are cancel-safe: a `send`
/// dropped at the end has queued its message whole or not at all.
async fn write(
    mut write_half: WriteHalf<TcpStream>,
    message: Message,
    slots: mpsc::Sender<Instant>,
    end: Instant,
) -> Result<WriteHalf<TcpStream>, String> {
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
            sent = write_half.send(message.clone()) => sent.map_err(|error| format!("sending: {error}"))?,
        }
    }
}

/// Takes the echoes until `window.end`: checks each against `message`, frees its slot, and
/// counts it if it arrived in the window.
async fn read(
    mut read_half: ReadHalf<TcpStream>,
    message: &Message,
    mut sent_at: mpsc::Receiver<Instant>,
    window: Window,
) -> Result<Tally, String> {
    let mut tally = Tally::default();
    loop {
        let received = tokio::select! {
            () = sleep_until(window.end) => return Ok(tally),
            received = read_half.recv() => received,
        };
        let arrived = Instant::now();
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

/// The `fraction` percentile of sorted values (nearest rank).
fn percentile(sorted: &[u32], fraction: f64) -> u32 {
    let rank = (fraction * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The process's CPU time so far, user and system, all threads, in clock ticks: fields 14
/// (`utime`) and 15 (`stime`) of `/proc/PID/stat` (proc(5)).
fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|error| format!("{path}: {error}"))?;
    // Field 2, the command name in parentheses, may hold spaces: count from the last ')'.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let mut fields = after_name.split_whitespace().skip(11);
    let mut field = || fields.next().and_then(|field| field.parse::<u64>().ok());
    match (field(), field()) {
        (Some(utime), Some(stime)) => Ok(utime + stime),
        _ => Err(format!("{path}: no utime and stime fields")),
    }
}
