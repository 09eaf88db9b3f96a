//! The course's IoT lab server, on `rfc6455` and tokio: ESP32 boards with a DHT11 send a reading
//! every 2 seconds; the server prints it, appends it to a CSV file, closes a board's connection
//! once it has sent `READINGS` readings, and switches a board's LED from the keyboard. It
//! replaces the lab's Python `websockets` server.
//!
//! ```text
//! cargo run --release --example telemetry_server
//! cargo run --release --example sensor -- ws://localhost:8765/ --id 001     # in another terminal
//! ```
//!
//! A board sends one Text message per reading:
//!
//! ```text
//! {"IDDEVICE": "001", "TEMP": 23.5, "HUM": 41}
//! ```
//!
//! and each becomes a row of the CSV file (header `IDdato,IDdevice,TIMEFLAG,TEMP,HUM`): `IDdato`
//! numbers rows across all boards, continuing from the file's last row if it exists; `TIMEFLAG`
//! is the local time of reception as `YYYYMMDDHHMM`. Each row is written and flushed before the
//! next reading is handled, so a crash of the server loses no recorded reading. The file has one
//! writer, behind a mutex, so rows from several boards never interleave.
//!
//! After `READINGS` readings from one connection the server closes it with 1000 (Normal Closure)
//! and the reason `"N readings recorded"`. Messages that are not readings close that board's
//! connection, and only that one (every other board goes on being recorded):
//!
//! | message                                                        | close code                      |
//! |----------------------------------------------------------------|---------------------------------|
//! | not JSON, not an object, a field missing or of the wrong type  | 1007 Invalid Frame Payload Data |
//! | `HUM` outside 0-100, `IDDEVICE` not 1-32 of `A-Za-z0-9` `-_.`  | 1007 Invalid Frame Payload Data |
//! | a second `IDDEVICE` on one connection                          | 1008 Policy Violation           |
//! | a Binary message                                               | 1003 Unsupported Data           |
//! | larger than 4096 bytes                                         | 1009 Message Too Big (the core) |
//!
//! 1007 because RFC 6455 §7.4.1 gives it for "data within a message that was not consistent with
//! the type of the message": a Text message of this protocol is a reading, and this one is not.
//! The reason says what was wrong (`"invalid JSON: expected value at line 1 column 1"`,
//! `"TEMP must be a number"`), and the message is logged on stderr.
//!
//! Commands typed on stdin (answers on stdout):
//!
//! | command              | what it does                                                    |
//! |----------------------|-----------------------------------------------------------------|
//! | `led 001 on`         | sends `{"LED":"on"}` to board 001 (`off` sends `{"LED":"off"}`) |
//! | `devices`            | lists the connected boards                                      |
//! | `help`               | lists the commands                                              |
//!
//! A board is known by the `IDDEVICE` of its first reading; if a board reconnects, commands go
//! to its newest connection. Readings go to stdout, connections and errors to stderr. Ctrl-C
//! closes every connection with 1001 (Going Away) and exits once they are closed, or after 3 s.
//!
//! Environment:
//!
//! | variable             | default          | meaning                                                  |
//! |----------------------|------------------|----------------------------------------------------------|
//! | `BIND_ADDRESS`       | `::`             | address to listen on (`::` also accepts IPv4 on Linux)   |
//! | `BIND_PORT`          | `8765`           | port (Python `websockets`' usual one; the echo server keeps 1337, so both can run) |
//! | `CSV_PATH`           | `telemetry.csv`  | file the readings are appended to (created with its header) |
//! | `READINGS`           | `50`             | readings per connection before closing it with 1000 (0: never) |
//! | `HEARTBEAT_INTERVAL` | `30000`          | ms between pings; a board that did not answer the previous ping is dropped (0: off) |
//! | `MAX_CONNECTIONS`    | `1024`           | most connections served at once (more wait in the listen queue) |

#[path = "adapter/tokio.rs"]
mod adapter;
#[path = "adapter/env.rs"]
mod env;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use adapter::Site;
use env::variable;
use rfc6455::tokio::{Options, Sender, TrySendError};
use rfc6455::{CloseCode, CloseFrame, Config, Event, Message, MessageLimits};
use tokio::net::TcpStream;

/// The CSV file's first line.
const CSV_HEADER: &str = "IDdato,IDdevice,TIMEFLAG,TEMP,HUM";
/// A reading is about 50 bytes: anything much larger is not one (the core closes with 1009).
const MAX_MESSAGE_SIZE: u64 = 4096;
/// Stop reading from a board, and refuse commands for it, while more than this many bytes wait
/// to be sent to it.
const HIGH_WATER_MARK: usize = 16 * 1024;

/// The server's settings, from the environment.
#[derive(Debug, Clone)]
struct Settings {
    address: IpAddr,
    port: u16,
    csv_path: PathBuf,
    readings: u32,
    heartbeat: Option<Duration>,
    max_connections: usize,
}

impl Settings {
    fn from_env() -> Result<Settings, String> {
        let heartbeat_ms: u64 = variable("HEARTBEAT_INTERVAL", 30_000)?;
        Ok(Settings {
            address: variable("BIND_ADDRESS", IpAddr::from([0u16; 8]))?,
            port: variable("BIND_PORT", 8765)?,
            csv_path: variable("CSV_PATH", PathBuf::from("telemetry.csv"))?,
            readings: variable("READINGS", 50)?,
            heartbeat: (heartbeat_ms > 0).then(|| Duration::from_millis(heartbeat_ms)),
            max_connections: variable("MAX_CONNECTIONS", 1024)?,
        })
    }

    fn options(&self) -> Options {
        let config = Config {
            limits: MessageLimits {
                max_frame_size: MAX_MESSAGE_SIZE,
                max_message_size: MAX_MESSAGE_SIZE,
                ..MessageLimits::default()
            },
            keepalive_interval: self.heartbeat,
            ..Config::default()
        };
        Options { config, high_water_mark: HIGH_WATER_MARK, ..Options::default() }
    }
}

/// One DHT11 reading, as a board sends it. The numbers keep the board's spelling (`41`, `23.5`),
/// which is what goes into the CSV file.
#[derive(Debug, Clone, PartialEq)]
struct Reading {
    device: String,
    temperature: serde_json::Number,
    humidity: serde_json::Number,
}

impl Reading {
    /// Decodes `{"IDDEVICE": "001", "TEMP": 23.5, "HUM": 41}` (other fields are ignored).
    ///
    /// # Errors
    ///
    /// What is wrong with the message, short enough for a close reason.
    fn decode(text: &str) -> Result<Reading, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|error| format!("invalid JSON: {error}"))?;
        let Some(fields) = value.as_object() else {
            return Err(r#"expected an object like {"IDDEVICE": "001", "TEMP": 23.5, "HUM": 41}"#.to_owned());
        };
        let device = match fields.get("IDDEVICE") {
            None => return Err("missing IDDEVICE".to_owned()),
            Some(serde_json::Value::String(device)) => device,
            Some(_) => return Err("IDDEVICE must be a string".to_owned()),
        };
        let valid_id = |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.');
        if device.is_empty() || device.len() > 32 || !device.bytes().all(valid_id) {
            return Err("IDDEVICE must be 1-32 letters, digits, '-', '_' or '.'".to_owned());
        }
        let number = |name: &str| match fields.get(name) {
            None => Err(format!("missing {name}")),
            // serde_json rejects NaN, Infinity and out-of-range numbers as invalid JSON already.
            Some(serde_json::Value::Number(number)) if number.as_f64().is_some_and(f64::is_finite) => {
                Ok(number.clone())
            }
            Some(_) => Err(format!("{name} must be a number")),
        };
        let temperature = number("TEMP")?;
        let humidity = number("HUM")?;
        if !humidity.as_f64().is_some_and(|humidity| (0.0..=100.0).contains(&humidity)) {
            return Err(format!("HUM must be 0-100 (% relative humidity), not {humidity}"));
        }
        Ok(Reading { device: device.clone(), temperature, humidity })
    }
}

/// The CSV file: its one writer, and the last `IDdato` written.
struct Recorder {
    writer: BufWriter<File>,
    last_id: u64,
}

impl Recorder {
    /// Opens `path` for appending: a new or empty file gets the header; an existing one must
    /// start with it, and numbering continues from its last row.
    fn open(path: &Path) -> Result<Recorder, String> {
        let shown = path.display();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|error| format!("cannot open {shown}: {error}"))?;
        let mut contents = String::new();
        file.read_to_string(&mut contents).map_err(|error| format!("cannot read {shown}: {error}"))?;
        let mut prefix = String::new();
        let last_id = if contents.trim().is_empty() {
            prefix = format!("{CSV_HEADER}\n");
            0
        } else {
            if contents.lines().next().map(str::trim) != Some(CSV_HEADER) {
                return Err(format!("{shown} is not a telemetry file: its first line is not {CSV_HEADER}"));
            }
            if !contents.ends_with('\n') {
                prefix.push('\n'); // a row cut short by a crash keeps its own line
            }
            let last = contents.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or(CSV_HEADER);
            match last.trim() {
                CSV_HEADER => 0,
                row => row.split(',').next().and_then(|id| id.trim().parse().ok()).ok_or_else(|| {
                    format!("cannot continue numbering {shown}: its last row {row:?} has no IDdato")
                })?,
            }
        };
        file.seek(SeekFrom::End(0)).map_err(|error| format!("cannot seek {shown}: {error}"))?;
        let mut recorder = Recorder { writer: BufWriter::new(file), last_id };
        if !prefix.is_empty() {
            recorder.write_line(&prefix).map_err(|error| format!("cannot write {shown}: {error}"))?;
        }
        Ok(recorder)
    }

    /// Appends `reading` as the next row and flushes it; returns its `IDdato`.
    fn record(&mut self, reading: &Reading, timeflag: &str) -> io::Result<u64> {
        let id = self.last_id + 1;
        let Reading { device, temperature, humidity } = reading;
        self.write_line(&format!("{id},{device},{timeflag},{temperature},{humidity}\n"))?;
        self.last_id = id;
        Ok(id)
    }

    /// One write and one flush: the row is in the operating system's hands when this returns.
    fn write_line(&mut self, line: &str) -> io::Result<()> {
        self.writer.write_all(line.as_bytes())?;
        self.writer.flush()
    }
}

/// A connected board, for the commands typed on stdin.
#[derive(Debug, Clone)]
struct Device {
    /// Which connection: a board that reconnects replaces its entry.
    serial: u64,
    peer: SocketAddr,
    sender: Sender,
}

/// The connected boards, by `IDDEVICE`.
type Registry = Arc<Mutex<HashMap<String, Device>>>;

/// Locks `mutex`; a holder that panicked left nothing half-done here, so its value is used.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What every connection shares.
#[derive(Clone)]
struct Shared {
    settings: Settings,
    recorder: Arc<Mutex<Recorder>>,
    registry: Registry,
}

/// One board's connection: what it said so far, and the handle that sends to it.
struct Session {
    peer: SocketAddr,
    serial: u64,
    sender: Sender,
    device: Option<String>,
    recorded: u32,
    /// Our Close is out: what the board sends after it is not recorded.
    closing: bool,
    shared: Shared,
}

impl Session {
    /// `[::1]:40000` before the first reading, `[::1]:40000 (001)` after.
    fn name(&self) -> String {
        match &self.device {
            Some(device) => format!("{} ({device})", self.peer),
            None => self.peer.to_string(),
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Message(Message::Text(text)) => self.on_text(&text),
            Event::Message(Message::Binary(data)) => {
                let reason = "binary messages are not readings: send JSON text";
                let message = format!("(Binary, {} bytes)", data.len());
                self.reject(CloseCode::UNSUPPORTED_DATA, reason, &message);
            }
            Event::Closed(outcome) => eprintln!("{}: {outcome}", self.name()),
            _ => {}
        }
    }

    fn on_text(&mut self, text: &str) {
        if self.closing {
            // Our Close is out (N readings, or a bad message): what the board sent meanwhile
            // is not recorded. (A reading that came just before the board's own Close is.)
            return eprintln!("{}: ignored, arrived after our Close: {}", self.name(), excerpt(text));
        }
        let reading = match Reading::decode(text) {
            Ok(reading) => reading,
            Err(why) => {
                return self.reject(CloseCode::INVALID_FRAME_PAYLOAD_DATA, &why, &excerpt(text));
            }
        };
        match &self.device {
            None => self.register(&reading.device),
            Some(device) if *device != reading.device => {
                let why = format!("IDDEVICE changed from {device} to {}", reading.device);
                return self.reject(CloseCode::POLICY_VIOLATION, &why, &excerpt(text));
            }
            Some(_) => {}
        }
        let timeflag = chrono::Local::now().format("%Y%m%d%H%M").to_string();
        let recorded = lock(&self.shared.recorder).record(&reading, &timeflag);
        let id = match recorded {
            Ok(id) => id,
            Err(error) => {
                eprintln!(
                    "{}: cannot write {}: {error}",
                    self.name(),
                    self.shared.settings.csv_path.display()
                );
                return self.close(CloseCode::INTERNAL_ERROR, "cannot store readings");
            }
        };
        self.recorded += 1;
        let limit = self.shared.settings.readings;
        let of = if limit > 0 { format!(" of {limit}") } else { String::new() };
        println!(
            "reading #{id} from {}: TEMP {} °C, HUM {} %, TIMEFLAG {timeflag} ({}{of} on this connection)",
            reading.device, reading.temperature, reading.humidity, self.recorded
        );
        if limit > 0 && self.recorded >= limit {
            let reason = format!("{} readings recorded", self.recorded);
            eprintln!("{}: {reason}, closing with 1000", self.name());
            self.close(CloseCode::NORMAL_CLOSURE, &reason);
        }
    }

    /// Closes the connection for a `message` (as shown in the log) that is not a reading, and
    /// says so on stderr.
    fn reject(&mut self, code: CloseCode, why: &str, message: &str) {
        eprintln!("{}: malformed message {message}: {why}; closing with {}", self.name(), code.0);
        // The reason cut to what a Close frame carries. Err only for a code that may not be sent
        // (not these).
        if let Ok(close) = CloseFrame::truncating(code, why) {
            self.close(close.code, &close.reason);
        }
    }

    /// Starts the closing handshake (§7.1.2); the board's answer ends the connection.
    fn close(&mut self, code: CloseCode, reason: &str) {
        self.closing = true;
        // Err only once the connection is closing (the board closed first): nothing to do then.
        let _ = self.sender.close(code, reason);
    }

    /// Makes this connection the one `device`'s commands go to.
    fn register(&mut self, device: &str) {
        let entry = Device { serial: self.serial, peer: self.peer, sender: self.sender.clone() };
        let previous = lock(&self.shared.registry).insert(device.to_owned(), entry);
        self.device = Some(device.to_owned());
        match previous {
            Some(previous) => eprintln!(
                "{}: device {device} reconnected (was {}): commands now go here",
                self.name(),
                previous.peer
            ),
            None => eprintln!("{}: device {device} connected", self.name()),
        }
    }

    /// Forgets this connection, unless the board has reconnected since.
    fn unregister(&self) {
        if let Some(device) = &self.device {
            let mut registry = lock(&self.shared.registry);
            if registry.get(device).is_some_and(|entry| entry.serial == self.serial) {
                registry.remove(device);
            }
        }
    }
}

/// `text` quoted, cut to 80 bytes.
fn excerpt(text: &str) -> String {
    let cut = truncated(text, 80);
    if cut.len() < text.len() {
        format!("{cut:?}... ({} bytes)", text.len())
    } else {
        format!("{cut:?}")
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn truncated(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Reads commands from stdin until it ends. A thread, not a task: a read of stdin cannot be
/// cancelled, and tokio's runtime would wait for it on exit.
fn operator(registry: Registry) {
    const HELP: &str = "commands: `led DEVICE on`, `led DEVICE off`, `devices`, `help`";
    for line in io::stdin().lines() {
        let Ok(line) = line else { return };
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            ["help"] => println!("{HELP}"),
            ["devices"] => {
                let registry = lock(&registry);
                let mut devices: Vec<_> = registry.iter().collect();
                devices.sort_by(|a, b| a.0.cmp(b.0));
                if devices.is_empty() {
                    println!("devices: none connected");
                }
                for (device, entry) in devices {
                    println!("devices: {device} at {}", entry.peer);
                }
            }
            ["led", device, state] if matches!(state.to_ascii_lowercase().as_str(), "on" | "off") => {
                switch_led(&registry, device, &state.to_ascii_lowercase());
            }
            ["led", ..] => println!("led: expected `led DEVICE on` or `led DEVICE off`, got {line:?}"),
            _ => println!("unknown command {line:?}; {HELP}"),
        }
    }
}

/// Sends `{"LED":"on"}` or `{"LED":"off"}` to `device` through its connection's sender.
fn switch_led(registry: &Registry, device: &str, state: &str) {
    let registry = lock(registry);
    let Some(entry) = registry.get(device) else {
        let mut known: Vec<&str> = registry.keys().map(String::as_str).collect();
        known.sort_unstable();
        let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
        return println!("led: unknown device {device:?} (connected: {known})");
    };
    let command = format!(r#"{{"LED":"{state}"}}"#);
    match entry.sender.try_send(&Message::text(command.as_str())) {
        Ok(()) => println!("led: sent {command} to device {device}"),
        Err(TrySendError::Full) => println!("led: device {device} is not reading its commands; not sent"),
        Err(_) => println!("led: device {device} has just disconnected; not sent"),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("telemetry_server: {message}");
            return ExitCode::from(2);
        }
    };
    let recorder = match Recorder::open(&settings.csv_path) {
        Ok(recorder) => recorder,
        Err(message) => {
            eprintln!("telemetry_server: {message}");
            return ExitCode::FAILURE;
        }
    };
    let next_id = recorder.last_id + 1;
    let Some(listener) =
        adapter::listen("telemetry_server", settings.address, settings.port, |local| format!("ws://{local}"))
            .await
    else {
        return ExitCode::FAILURE;
    };
    eprintln!("telemetry_server: recording to {} from IDdato {next_id}", settings.csv_path.display());

    let registry = Registry::default();
    let operator_registry = registry.clone();
    std::thread::spawn(move || operator(operator_registry));
    let shared = Shared { settings, recorder: Arc::new(Mutex::new(recorder)), registry };

    let mut serial = 0u64;
    let max_connections = shared.settings.max_connections;
    adapter::serve_until_ctrl_c("telemetry_server", listener, max_connections, |stream, peer, shutdown| {
        serial += 1;
        serve(stream, peer, serial, shared.clone(), shutdown)
    })
    .await;
    ExitCode::SUCCESS
}

/// One board, from its HTTP request to the end of its WebSocket connection.
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    serial: u64,
    shared: Shared,
    mut shutdown: adapter::Shutdown,
) {
    let options = shared.settings.options();
    let upgraded = adapter::upgrade(stream, peer, &Site::websocket_only(), options, |request| {
        eprintln!("{peer}: connected to {}", request.path());
        request.accept()
    })
    .await;
    let Some(mut ws) = upgraded else { return };
    let sender = ws.sender();
    let mut session = Session { peer, serial, sender, device: None, recorded: 0, closing: false, shared };
    while let Some(event) = adapter::next_event(&mut ws, &mut shutdown).await {
        session.on_event(event);
    }
    session.unregister();
    if let Some(error) = ws.io_error() {
        eprintln!("{}: error: {error}", session.name());
    }
}
