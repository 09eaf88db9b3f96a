//! The ESP-IDF `esp_websocket_client` example of the course, on `rfc6455`: connects, sends a few
//! messages at an interval, prints every event the way the ESP32 does, and closes with 1000 once
//! every message has had a reply, or when no data came for `--timeout` seconds.
//!
//! ```text
//! cargo run --example client -- ws://localhost:1337
//! cargo run --example client -- ws://[::1]:1337/path --count 3 --interval 200 --binary
//! cargo run --example client -- ws://192.168.4.1 --json --protocol chat --header "Origin: http://esp32"
//! ```
//!
//! | option              | default   | meaning                                                    |
//! |---------------------|-----------|------------------------------------------------------------|
//! | `--message TEXT`    | `hello %d`| what to send; `%d` becomes the message's number            |
//! | `--count N`         | `5`       | how many messages to send (0: only listen)                 |
//! | `--interval MS`     | `1000`    | pause between two messages                                 |
//! | `--binary`          |           | send Binary messages instead of Text                       |
//! | `--json`            |           | send `{"id":"001","count":N,"value":21.5}` readings        |
//! | `--timeout SECONDS` | `5`       | once all are sent, close after this long without data      |
//! | `--protocol NAME`   |           | offer a subprotocol (repeatable)                           |
//! | `--header "N: V"`   |           | add a header to the opening handshake (repeatable)         |
//! | `--deflate`         |           | offer permessage-deflate (RFC 7692)                        |
//!
//! Data is shown as it arrives (`Config::streaming`): a long message comes in several pieces,
//! each with its frame's length and the piece's offset, as in the ESP32's `WEBSOCKET_EVENT_DATA`.
//! Exit status: 0 after a clean close, 1 on any failure, 2 for bad arguments.

use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Duration;

use rfc6455::deflate::DeflateConfig;
use rfc6455::handshake::client::ClientRequest;
use rfc6455::handshake::WsUrl;
use rfc6455::tokio::{Error, WebSocket};
use rfc6455::{CloseCode, CloseOutcome, Config, Event, HandshakeError, MessageKind, OsSeededRng};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, Instant};

const USAGE: &str = "usage: client [ws://host[:port][/path]] [--message TEXT] [--count N] [--interval MS] \
                     [--binary] [--json] [--timeout SECONDS] [--protocol NAME]... [--header \"Name: value\"]... [--deflate]";

/// Log lines in the ESP-IDF style: level, milliseconds since start, tag.
macro_rules! info {
    ($($arg:tt)*) => { println!("I ({}) client: {}", elapsed_ms(), format_args!($($arg)*)) };
}
macro_rules! error {
    ($($arg:tt)*) => { eprintln!("E ({}) client: {}", elapsed_ms(), format_args!($($arg)*)) };
}

fn elapsed_ms() -> u128 {
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_millis()
}

/// The command line.
struct Options {
    url: String,
    message: String,
    count: u32,
    interval: Duration,
    binary: bool,
    json: bool,
    timeout: Duration,
    protocols: Vec<String>,
    headers: Vec<(String, String)>,
    deflate: bool,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut options = Options {
            url: "ws://localhost:1337".to_owned(),
            message: "hello %d".to_owned(),
            count: 5,
            interval: Duration::from_millis(1000),
            binary: false,
            json: false,
            timeout: Duration::from_secs(5),
            protocols: Vec::new(),
            headers: Vec::new(),
            deflate: false,
        };
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--message" => options.message = value()?,
                "--count" => options.count = number(&arg, &value()?)?,
                "--interval" => options.interval = Duration::from_millis(number(&arg, &value()?)?),
                "--timeout" => options.timeout = Duration::from_secs(number(&arg, &value()?)?),
                "--binary" => options.binary = true,
                "--json" => options.json = true,
                "--deflate" => options.deflate = true,
                "--protocol" => options.protocols.push(value()?),
                "--header" => {
                    let header = value()?;
                    let (name, field_value) = header
                        .split_once(':')
                        .ok_or_else(|| format!("--header {header:?}: expected \"Name: value\""))?;
                    options.headers.push((name.trim().to_owned(), field_value.trim().to_owned()));
                }
                "-h" | "--help" => return Err(USAGE.to_owned()),
                url if url.starts_with("ws") => options.url = url.to_owned(),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        Ok(options)
    }
}

fn number<T: std::str::FromStr>(option: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("{option} {value:?}: not a number"))
}

/// The application: what to send and when, what was received, when to stop; and its connection.
struct Client {
    ws: WebSocket<TcpStream>,
    options: Options,
    sent: u32,
    received: u32,
    next_send: Instant,
    /// The ESP32 example's shutdown timer: pushed back by every message sent or data received.
    quiet_until: Instant,
    outcome: Option<CloseOutcome>,
}

impl Client {
    /// Runs until the connection has ended: the application's timer (the next message, the
    /// quiet timeout) races the connection's next event.
    async fn run(&mut self) {
        loop {
            let wakeup = self.next_wakeup();
            tokio::select! {
                // Cancel-safe: an event not taken when the timer fires stays for the next pass.
                event = self.ws.next_event() => match event {
                    Some(event) => self.on_event(event, Instant::now()),
                    None => return, // after Event::Closed
                },
                () = sleep_until(wakeup.unwrap_or_else(Instant::now)), if wakeup.is_some() => {
                    self.on_tick(Instant::now());
                }
            }
        }
    }

    fn is_open(&self) -> bool {
        self.ws.with_connection(|connection| connection.is_open())
    }

    /// Sends the next message when it is due; once all are sent, closes when each has had a reply
    /// or after `--timeout` of silence.
    fn on_tick(&mut self, now: Instant) {
        if !self.is_open() {
            return;
        }
        if self.sent < self.options.count && now >= self.next_send {
            let payload = if self.options.json {
                let value = 21.5 + f64::from(self.sent % 10) * 0.5; // a made-up temperature
                format!(r#"{{"id":"001","count":{},"value":{value:.1}}}"#, self.sent)
            } else {
                self.options.message.replace("%d", &self.sent.to_string())
            };
            let kind = if self.options.binary { "binary " } else { "" };
            info!("Sending {kind}{}", shown(MessageKind::Text, payload.as_bytes()));
            // Queued at once (a few small messages: no need to wait for room), written by the
            // task that polls the connection: this one, in `run`.
            let result = self.ws.with_connection(|connection| match self.options.binary {
                true => connection.send_binary(payload.as_bytes()),
                false => connection.send_text(&payload),
            });
            if let Err(error) = result {
                error!("cannot send: {error}");
            }
            self.sent += 1;
            self.next_send = now + self.options.interval;
            self.quiet_until = now + self.options.timeout;
        }
        let all_answered = self.options.count > 0 && self.received >= self.options.count;
        if self.sent == self.options.count && (all_answered || now >= self.quiet_until) {
            if !all_answered {
                info!("No data received for {} seconds, closing", self.options.timeout.as_secs());
            }
            // Cannot fail: the connection is open and 1000 may be sent. Closing starts here;
            // `run` carries it to the end (the server's Close, the lingering close).
            let _ = self.ws.with_connection(|connection| {
                connection.close(now.into_std(), CloseCode::NORMAL_CLOSURE, "")
            });
        }
    }

    /// When `on_tick` has something to do next, if anything.
    fn next_wakeup(&self) -> Option<Instant> {
        let next = if self.sent < self.options.count { self.next_send } else { self.quiet_until };
        self.is_open().then_some(next)
    }

    fn on_event(&mut self, event: Event, now: Instant) {
        match event {
            Event::Fragment(chunk) => {
                info!("WEBSOCKET_EVENT_DATA");
                info!("Received opcode={}", chunk.kind.opcode().encode());
                match chunk.kind {
                    MessageKind::Text => info!("Received={}", shown(chunk.kind, &chunk.data)),
                    MessageKind::Binary => info!("Received binary data: {}", shown(chunk.kind, &chunk.data)),
                }
                info!(
                    "Total payload length={}, data_len={}, current payload offset={}",
                    chunk.frame_len,
                    chunk.data.len(),
                    chunk.frame_offset
                );
                if chunk.message_offset != chunk.frame_offset {
                    info!("(offset in the whole message={})", chunk.message_offset);
                }
                if chunk.ends_message {
                    self.received += 1;
                }
                self.quiet_until = now + self.options.timeout;
            }
            Event::Ping(ref payload) | Event::Pong(ref payload) => {
                let opcode = if matches!(event, Event::Ping(_)) { 0x9 } else { 0xA };
                info!("WEBSOCKET_EVENT_DATA");
                info!("Received opcode={opcode}, {} byte(s), already answered by the library", payload.len());
                self.quiet_until = now + self.options.timeout;
            }
            Event::Closed(outcome) => {
                if let Some(error) = &outcome.error {
                    error!("WEBSOCKET_EVENT_ERROR");
                    error!("{error}");
                }
                info!("WEBSOCKET_EVENT_CLOSED");
                match &outcome.received {
                    Some(close) => {
                        info!("Received closed message with code={} reason={:?}", close.code.0, close.reason)
                    }
                    None => info!("No close message received: code={}", outcome.code().0),
                }
                self.outcome = Some(outcome);
            }
            _ => {} // whole messages never come in streaming mode
        }
        // The last reply closes at once, not at the next timer.
        self.on_tick(now);
    }
}

/// Text as is (a piece may end inside a character: shown as �), binary in hex; long data cut.
fn shown(kind: MessageKind, data: &[u8]) -> String {
    const SHOWN: usize = 60;
    let start = &data[..data.len().min(SHOWN)];
    let mut text = match kind {
        MessageKind::Text => String::from_utf8_lossy(start).into_owned(),
        MessageKind::Binary => start.iter().map(|byte| format!("{byte:02x}")).collect::<Vec<_>>().join(" "),
    };
    if data.len() > SHOWN {
        text += &format!("... ({} more bytes)", data.len() - SHOWN);
    }
    text
}

#[tokio::main]
async fn main() -> ExitCode {
    elapsed_ms(); // start the log clock
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) if message == USAGE => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("client: {message}");
            return ExitCode::from(2);
        }
    };
    let url = match WsUrl::parse(&options.url) {
        Ok(url) => url,
        Err(message) => {
            eprintln!("client: {message}");
            return ExitCode::from(2);
        }
    };

    let mut request = ClientRequest::from_url(&url, &mut OsSeededRng::new())
        .with_protocols(options.protocols.iter().cloned());
    for (name, value) in &options.headers {
        request = request.with_header(name.as_str(), value.as_str());
    }
    let config = Config { streaming: true, deliver_control_frames: true, ..Config::default() };
    let ws_options = rfc6455::tokio::Options {
        config,
        deflate: options.deflate.then(DeflateConfig::default),
        ..rfc6455::tokio::Options::default()
    };
    info!("Connecting to {}...", options.url);
    let (ws, accepted) = match rfc6455::tokio::connect_with(&url, request, &ws_options).await {
        Ok(connected) => connected,
        Err(error) => {
            error!("WEBSOCKET_EVENT_ERROR");
            match error {
                Error::Handshake(rejected) => error!("handshake with {} rejected: {rejected}", options.url),
                Error::Rejected(response) => {
                    let rejected =
                        HandshakeError::UnexpectedStatus { status: response.status, location: None };
                    error!("handshake with {} rejected: {rejected}", options.url);
                }
                Error::Io(error) => {
                    error!("cannot connect to {} ({}): {error}", options.url, url.authority())
                }
                other => error!("cannot connect to {} ({}): {other}", options.url, url.authority()),
            }
            return ExitCode::FAILURE;
        }
    };
    info!("WEBSOCKET_EVENT_CONNECTED");
    if !options.protocols.is_empty() {
        info!("Subprotocol chosen by the server: {}", accepted.protocol().unwrap_or("none"));
    }
    if options.deflate {
        let extensions: Vec<String> = accepted.extensions().iter().map(ToString::to_string).collect();
        info!(
            "Extensions accepted by the server: {}",
            if extensions.is_empty() { "none".to_owned() } else { extensions.join(", ") }
        );
    }

    let now = Instant::now();
    let quiet_until = now + options.timeout;
    let mut client = Client { ws, options, sent: 0, received: 0, next_send: now, quiet_until, outcome: None };
    client.run().await;
    // After the last event, `recv` reports a transport that failed (once), if it did.
    if let Some(Err(error)) = client.ws.recv().await {
        error!("WEBSOCKET_EVENT_ERROR");
        match error {
            Error::Io(error) => error!("connection lost: {error}"),
            other => error!("connection lost: {other}"),
        }
        return ExitCode::FAILURE;
    }
    match client.outcome {
        Some(outcome) if outcome.clean && outcome.code() == CloseCode::NORMAL_CLOSURE => {
            info!("Websocket Stopped: {outcome}");
            ExitCode::SUCCESS
        }
        Some(outcome) => {
            error!("the connection did not end normally: {outcome}");
            ExitCode::FAILURE
        }
        None => ExitCode::FAILURE, // not reached: the library always reports Closed last
    }
}
