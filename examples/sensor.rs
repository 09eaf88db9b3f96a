//! A simulated ESP32 board of the course's IoT lab, on `rfc6455` and tokio: it sends a DHT11
//! reading every 2 seconds to the telemetry server (`examples/telemetry_server.rs`), switches
//! its "LED" when the server says so, and exits when the server closes the connection. It
//! replaces the lab's ESP32 sketch, so the server can be tried without boards.
//!
//! ```text
//! cargo run --release --example sensor
//! cargo run --release --example sensor -- ws://192.168.1.10:8765/ --id 002 --interval 500 --count 10
//! cargo run --release --example sensor -- --send-raw '{"IDDEVICE": "003", "TEMP": "hot"}'
//! ```
//!
//! | option            | default                | meaning                                            |
//! |-------------------|------------------------|----------------------------------------------------|
//! | `ws://...`        | `ws://localhost:8765/` | the server (or `SENSOR_URL` in the environment)    |
//! | `--id ID`         | `001`                  | the board's `IDDEVICE`                             |
//! | `--interval MS`   | `2000`                 | time between two readings, in milliseconds         |
//! | `--count N`       | none                   | close with 1000 after N readings (none: when the server closes) |
//! | `--send-raw TEXT` |                        | send TEXT once, as is, and wait for the server's close (tests its error handling) |
//! | `--binary`        |                        | with `--send-raw`: send it as a Binary message     |
//!
//! Readings look like `{"IDDEVICE": "001", "TEMP": 23.5, "HUM": 41}`: temperature and humidity
//! drift a little from one reading to the next (a linear congruential generator seeded from the
//! clock and the id: no `rand` needed). A Text message `{"LED":"on"}` or `{"LED":"off"}` from
//! the server prints `LED on` or `LED off`; anything else the server sends is printed as is.
//!
//! The timer is this example's, the protocol the core's: a task sends a reading through the
//! connection's [`rfc6455::tokio::Sender`] at every tick, while the main task keeps reading with
//! `next_event`, so commands arrive between readings. On the server's Close it prints
//! `closed by the server: CODE "REASON"` and exits: status 0 for a clean close with 1000, 1
//! otherwise (another code, the connection lost), 2 for bad arguments. Ctrl-C closes with 1001.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rfc6455::handshake::client::ClientRequest;
use rfc6455::handshake::WsUrl;
use rfc6455::tokio::{Error, Sender, TrySendError};
use rfc6455::{CloseCode, CloseInitiator, CloseOutcome, Event, Message, OsSeededRng};

const USAGE: &str = "usage: sensor [ws://host[:port][/path]] [--id ID] [--interval MS] [--count N] \
                     [--send-raw TEXT [--binary]]";

/// Stop reading from the server while more than this many bytes wait to be sent to it.
const HIGH_WATER_MARK: usize = 16 * 1024;

/// The command line.
struct Options {
    url: String,
    id: String,
    interval: Duration,
    count: Option<u64>,
    raw: Option<String>,
    binary: bool,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut options = Options {
            url: std::env::var("SENSOR_URL").unwrap_or_else(|_| "ws://localhost:8765/".to_owned()),
            id: "001".to_owned(),
            interval: Duration::from_millis(2000),
            count: None,
            raw: None,
            binary: false,
        };
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--id" => options.id = value()?,
                "--interval" => options.interval = Duration::from_millis(number(&arg, &value()?)?),
                "--count" => options.count = Some(number(&arg, &value()?)?),
                "--send-raw" => options.raw = Some(value()?),
                "--binary" => options.binary = true,
                "-h" | "--help" => return Err(USAGE.to_owned()),
                url if url.starts_with("ws") => options.url = url.to_owned(),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        if options.interval.is_zero() {
            return Err("--interval must be at least 1 ms".to_owned());
        }
        if options.binary && options.raw.is_none() {
            return Err(format!("--binary goes with --send-raw\n{USAGE}"));
        }
        Ok(options)
    }
}

fn number<T: std::str::FromStr>(option: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("{option} {value:?}: not a number"))
}

/// A DHT11 on a desk: temperature and humidity drifting slowly.
struct Dht11 {
    /// A linear congruential generator's state (Knuth's MMIX constants).
    state: u64,
    temperature: f64,
    humidity: f64,
}

impl Dht11 {
    fn new(id: &str) -> Dht11 {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |time| time.as_nanos() as u64);
        let seed = id.bytes().fold(nanos, |seed, byte| seed.rotate_left(8) ^ u64::from(byte));
        let mut sensor = Dht11 { state: seed, temperature: 0.0, humidity: 0.0 };
        sensor.temperature = 20.0 + 6.0 * sensor.next_unit();
        sensor.humidity = 35.0 + 20.0 * sensor.next_unit();
        sensor
    }

    /// A number in [0, 1).
    fn next_unit(&mut self) -> f64 {
        self.state =
            self.state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.state >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The next reading: temperature to 0.1 °C in 0-50, humidity to 1 % in 20-90 (the DHT11's
    /// ranges and resolutions).
    fn read(&mut self, id: &str) -> String {
        self.temperature = (self.temperature + 0.6 * (self.next_unit() - 0.5)).clamp(0.0, 50.0);
        self.humidity = (self.humidity + 2.0 * (self.next_unit() - 0.5)).clamp(20.0, 90.0);
        let id = serde_json::Value::from(id); // quoted and escaped
        format!(r#"{{"IDDEVICE": {id}, "TEMP": {:.1}, "HUM": {:.0}}}"#, self.temperature, self.humidity)
    }
}

/// Sends a reading at every tick until `count` readings, or until the connection has ended.
async fn send_readings(sender: Sender, id: String, interval: Duration, count: Option<u64>) {
    let mut sensor = Dht11::new(&id);
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sent = 0u64;
    while count.is_none_or(|count| sent < count) {
        ticks.tick().await; // the first tick is immediate
        let reading = sensor.read(&id);
        match sender.try_send(&Message::text(reading.as_str())) {
            Ok(()) => println!("sensor {id}: sent {reading}"),
            // An ESP32 drops a reading it cannot send rather than queue it for ever.
            Err(TrySendError::Full) => eprintln!("sensor {id}: the server is not reading; reading dropped"),
            Err(_) => return,
        }
        sent += 1;
    }
    // Err only if the connection is already closing.
    let _ = sender.close(CloseCode::NORMAL_CLOSURE, &format!("{sent} readings sent"));
}

/// What the server sent: an LED command, or anything else, printed.
fn on_event(id: &str, event: Event, outcome: &mut Option<CloseOutcome>) {
    match event {
        Event::Message(Message::Text(text)) => {
            let led = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|value| value.get("LED").and_then(|state| state.as_str().map(str::to_owned)));
            match led.as_deref() {
                Some(state @ ("on" | "off")) => println!("sensor {id}: LED {state}"),
                _ => println!("sensor {id}: received {text:?}"),
            }
        }
        Event::Message(Message::Binary(data)) => {
            println!("sensor {id}: received {} binary bytes", data.len())
        }
        Event::Closed(closed) => {
            match (&closed.received, closed.initiator) {
                (Some(status), CloseInitiator::Remote) => {
                    println!("sensor {id}: closed by the server: {} {:?}", status.code.0, status.reason)
                }
                (Some(status), CloseInitiator::Local) => {
                    println!("sensor {id}: closed, the server answered {} {:?}", status.code.0, status.reason)
                }
                (None, _) => println!("sensor {id}: connection lost ({closed})"),
            }
            *outcome = Some(closed);
        }
        _ => {}
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) if message == USAGE => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("sensor: {message}");
            return ExitCode::from(2);
        }
    };
    let url = match WsUrl::parse(&options.url) {
        Ok(url) => url,
        Err(message) => {
            eprintln!("sensor: {message}");
            return ExitCode::from(2);
        }
    };
    let id = options.id.clone();
    let request = ClientRequest::from_url(&url, &mut OsSeededRng::new());
    let connection_options =
        rfc6455::tokio::Options { high_water_mark: HIGH_WATER_MARK, ..Default::default() };
    let mut ws = match rfc6455::tokio::connect_with(&url, request, &connection_options).await {
        Ok((ws, _accepted)) => ws,
        Err(error @ (Error::Rejected(_) | Error::Handshake(_))) => {
            eprintln!("sensor {id}: handshake with {} rejected: {error}", options.url);
            return ExitCode::FAILURE;
        }
        Err(error) => {
            eprintln!("sensor {id}: cannot connect to {}: {error}", options.url);
            return ExitCode::FAILURE;
        }
    };
    println!("sensor {id}: connected to {}", options.url);

    let sender = ws.sender();
    match options.raw {
        Some(raw) => {
            let message = if options.binary { Message::binary(raw.into_bytes()) } else { Message::text(raw) };
            // Err only if the server closed at once: its Close is the next event.
            let _ = ws.send(message).await;
        }
        None => {
            tokio::spawn(send_readings(sender.clone(), id.clone(), options.interval, options.count));
        }
    }
    // Ctrl-C: close with 1001, as a board being switched off would if it could.
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = sender.close(CloseCode::GOING_AWAY, "sensor stopping");
        }
    });

    let mut outcome = None;
    while let Some(event) = ws.next_event().await {
        on_event(&id, event, &mut outcome);
    }
    if let Some(error) = ws.io_error() {
        eprintln!("sensor {id}: connection lost: {error}");
        return ExitCode::FAILURE;
    }
    match outcome {
        Some(outcome) if outcome.clean && outcome.code() == CloseCode::NORMAL_CLOSURE => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}
