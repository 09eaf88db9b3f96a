//! A fan-out load generator for the course's chat (`examples/chat.rs`), on `rfc6455::tokio`:
//! many clients spread over one or more chat processes, a few of them joined and sending to
//! everyone at a fixed total rate, every delivery counted and timed. `scripts/fanout-bench.sh`
//! runs it against one process, then against processes sharing a Redis (`REDIS_URL`).
//!
//! ```text
//! cargo run --release --example chat &
//! cargo run --release --example fanout -- --url ws://127.0.0.1:5000/ws --clients 200 --rate 100
//! ```
//!
//! | option                | default | meaning                                                        |
//! |-----------------------|---------|----------------------------------------------------------------|
//! | `--url URL`           | (needed) | a chat's WebSocket; repeated, the clients take them in turn   |
//! | `--clients N`         | `200`   | connections, all open (and the senders joined) before the clock starts |
//! | `--senders N`         | `10`    | of those, how many join and send (taking the URLs in turn too) |
//! | `--rate N`            | `100`   | messages to everyone per second, all senders together          |
//! | `--duration S`        | `10`    | seconds measured, after a 2 s warm-up not counted              |
//! | `--pid NAME=PID`      |         | also measure that process's CPU (Linux `/proc`); repeatable    |
//!
//! Each sender sends `{"type":"message","text":"T","to":"all"}` at `rate / senders` a second,
//! evenly spread, where `T` is the time it was sent in microseconds since the generator
//! started; every client (the senders too) times each chat message it gets from then. A message
//! counts if it was sent inside the measured window, whenever it arrives (up to 2 s after the
//! window). It prints one line:
//!
//! ```text
//! clients=200 urls=2 rate=100 expected/s=20000 delivered/s=19990 p50_us=900 p99_us=4100 cpu=chat-a:21.0%,chat-b:20.5%,redis:9.0% generator_cpu=35.0%
//! ```
//!
//! `delivered/s` counts deliveries of the window's messages (all of them: `rate` times
//! `clients`, when none is lost), the percentiles are over each delivery's latency, and each
//! process's CPU is its user and system time over the window as a share of one core. Exit
//! status: 0 after a run, 1 if a connection failed, 2 for bad arguments.

#[path = "measure.rs"]
mod measure;

use std::process::ExitCode;
use std::time::Duration;

use measure::{cpu_ticks, number, percentile, CLOCK_TICKS_PER_SECOND};
use rfc6455::handshake::client::ClientRequest;
use rfc6455::handshake::WsUrl;
use rfc6455::tokio::{Options, ReadHalf, WebSocket, WriteHalf};
use rfc6455::{CloseCode, Message, OsSeededRng};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::{interval_at, sleep_until, timeout, Instant, MissedTickBehavior};

const USAGE: &str = "usage: fanout --url ws://host:port/ws [--url ...] [--clients N] [--senders N] \
                     [--rate N] [--duration SECONDS] [--pid NAME=PID ...]";

/// Time before the measured window: connections settle, queues warm up.
const WARM_UP: Duration = Duration::from_secs(2);
/// How long after the window a message sent inside it may still arrive and count.
const DRAIN: Duration = Duration::from_secs(2);
/// Deadline of each connection's opening, of each sender's join, and of each closing handshake.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// The command line.
struct Arguments {
    urls: Vec<WsUrl>,
    clients: usize,
    senders: usize,
    rate: u32,
    duration: Duration,
    pids: Vec<(String, u32)>,
}

impl Arguments {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Arguments, String> {
        let mut arguments = Arguments {
            urls: Vec::new(),
            clients: 200,
            senders: 10,
            rate: 100,
            duration: Duration::from_secs(10),
            pids: Vec::new(),
        };
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--url" => arguments.urls.push(WsUrl::parse(&value()?).map_err(|error| error.to_string())?),
                "--clients" => arguments.clients = number(&arg, &value()?)?,
                "--senders" => arguments.senders = number(&arg, &value()?)?,
                "--rate" => arguments.rate = number(&arg, &value()?)?,
                "--duration" => arguments.duration = Duration::from_secs(number(&arg, &value()?)?),
                "--pid" => {
                    let value = value()?;
                    let (name, pid) =
                        value.split_once('=').ok_or(format!("--pid {value:?}: not NAME=PID"))?;
                    arguments.pids.push((name.to_owned(), number(&arg, pid)?));
                }
                "-h" | "--help" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        if arguments.urls.is_empty() {
            return Err(format!("at least one --url is needed\n{USAGE}"));
        }
        let Arguments { clients, senders, rate, duration, .. } = arguments;
        if senders == 0 || senders > clients || rate == 0 || duration.is_zero() {
            return Err("need 1 <= senders <= clients, and a rate and a duration above 0".to_owned());
        }
        Ok(arguments)
    }
}

/// The measured window, in microseconds since the generator started.
#[derive(Clone, Copy)]
struct Window {
    start_us: u64,
    end_us: u64,
}

/// What one client saw: the latency of each delivery of a message sent inside the window.
struct Tally {
    latencies_us: Vec<u32>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let arguments = match Arguments::parse(std::env::args().skip(1)) {
        Ok(arguments) => arguments,
        Err(message) => {
            eprintln!("fanout: {message}");
            return ExitCode::from(2);
        }
    };
    match run(&arguments).await {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("fanout: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(arguments: &Arguments) -> Result<String, String> {
    let origin = Instant::now();
    let options = Options::default();
    let mut connections = Vec::with_capacity(arguments.clients);
    for index in 0..arguments.clients {
        let url = &arguments.urls[index % arguments.urls.len()];
        let request = ClientRequest::from_url(url, &mut OsSeededRng::new());
        let connecting = rfc6455::tokio::connect_with(url, request, &options);
        let (ws, _) = timeout(STEP_TIMEOUT, connecting)
            .await
            .map_err(|_| format!("connecting to {url} took over {STEP_TIMEOUT:?}"))?
            .map_err(|error| format!("connecting to {url}: {error}"))?;
        connections.push(ws);
    }
    // The senders join first (a chat sends only a joined client's messages); the window is set
    // from when they all have.
    let mut senders = Vec::with_capacity(arguments.senders);
    for (index, ws) in connections.iter_mut().take(arguments.senders).enumerate() {
        timeout(STEP_TIMEOUT, join(ws, &format!("fanout-{index}")))
            .await
            .map_err(|_| format!("sender {index} was not welcomed within {STEP_TIMEOUT:?}"))??;
    }
    let since = |instant: Instant| instant.duration_since(origin).as_micros() as u64;
    let window_start = Instant::now() + WARM_UP;
    let window_end = window_start + arguments.duration;
    let window = Window { start_us: since(window_start), end_us: since(window_end) };

    let mut readers = JoinSet::new();
    for (index, ws) in connections.into_iter().enumerate() {
        let (write_half, read_half) = ws.split();
        readers.spawn(read(read_half, origin, window, window_end + DRAIN));
        if index < arguments.senders {
            let period = Duration::from_secs_f64(arguments.senders as f64 / f64::from(arguments.rate));
            let first = Instant::now() + period.mul_f64(index as f64 / arguments.senders as f64);
            senders.push(tokio::spawn(send(write_half, origin, first, period, window_end)));
        } else {
            readers.spawn(hold(write_half, window_end + DRAIN));
        }
    }

    sleep_until(window_start).await;
    let before: Vec<u64> = arguments.pids.iter().map(|(_, pid)| cpu_ticks(*pid)).collect::<Result<_, _>>()?;
    let generator_before = cpu_ticks(std::process::id())?;
    sleep_until(window_end).await;
    let after: Vec<u64> = arguments.pids.iter().map(|(_, pid)| cpu_ticks(*pid)).collect::<Result<_, _>>()?;
    let generator_after = cpu_ticks(std::process::id())?;

    for sender in senders {
        let write_half = sender.await.map_err(|error| error.to_string())??;
        readers.spawn(hold(write_half, window_end + DRAIN));
    }
    let mut latencies_us = Vec::new();
    while let Some(tally) = readers.join_next().await {
        if let Some(tally) = tally.map_err(|error| error.to_string())?? {
            latencies_us.extend(tally.latencies_us);
        }
    }
    latencies_us.sort_unstable();

    let seconds = arguments.duration.as_secs_f64();
    let share =
        |ticks: u64| format!("{:.1}%", ticks as f64 / CLOCK_TICKS_PER_SECOND as f64 / seconds * 100.0);
    let cpu: Vec<String> = arguments
        .pids
        .iter()
        .zip(before.iter().zip(&after))
        .map(|((name, _), (before, after))| format!("{name}:{}", share(after.saturating_sub(*before))))
        .collect();
    let (p50, p99) = match latencies_us.is_empty() {
        true => (0, 0),
        false => (percentile(&latencies_us, 0.50), percentile(&latencies_us, 0.99)),
    };
    Ok(format!(
        "clients={} urls={} rate={} expected/s={} delivered/s={:.0} p50_us={p50} p99_us={p99} cpu={} generator_cpu={}",
        arguments.clients,
        arguments.urls.len(),
        arguments.rate,
        u64::from(arguments.rate) * arguments.clients as u64,
        latencies_us.len() as f64 / seconds,
        if cpu.is_empty() { "-".to_owned() } else { cpu.join(",") },
        share(generator_after.saturating_sub(generator_before)),
    ))
}

/// Joins as `name` and waits for the `welcome`.
async fn join(ws: &mut WebSocket<TcpStream>, name: &str) -> Result<(), String> {
    let request = Message::text(json!({ "type": "join", "name": name }).to_string());
    ws.send(request).await.map_err(|error| format!("{name}: joining: {error}"))?;
    while let Some(message) = ws.recv().await {
        let message = message.map_err(|error| format!("{name}: {error}"))?;
        let value = text_json(&message);
        match value.get("type").and_then(Value::as_str) {
            Some("welcome") => return Ok(()),
            Some("error") => return Err(format!("{name}: refused: {value}")),
            _ => {}
        }
    }
    Err(format!("{name}: closed before the welcome"))
}

/// A sender: a message to everyone every `period` from `first`, until `end`; gives back the
/// connection's half to close.
async fn send(
    mut write_half: WriteHalf<TcpStream>,
    origin: Instant,
    first: Instant,
    period: Duration,
    end: Instant,
) -> Result<WriteHalf<TcpStream>, String> {
    let mut ticks = interval_at(first, period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    loop {
        tokio::select! {
            () = sleep_until(end) => return Ok(write_half),
            _ = ticks.tick() => {
                let sent_us = Instant::now().duration_since(origin).as_micros() as u64;
                let message = json!({ "type": "message", "text": sent_us.to_string(), "to": "all" });
                write_half.send(Message::text(message.to_string())).await.map_err(|error| error.to_string())?;
            }
        }
    }
}

/// A client's reading half: times each chat message sent inside `window`, until `end`.
async fn read(
    mut read_half: ReadHalf<TcpStream>,
    origin: Instant,
    window: Window,
    end: Instant,
) -> Result<Option<Tally>, String> {
    let mut tally = Tally { latencies_us: Vec::new() };
    loop {
        let message = tokio::select! {
            () = sleep_until(end) => return Ok(Some(tally)),
            message = read_half.recv() => match message {
                Some(message) => message.map_err(|error| format!("reading: {error}"))?,
                None => return Err("a chat closed a client's connection".to_owned()),
            },
        };
        let arrived_us = Instant::now().duration_since(origin).as_micros() as u64;
        let value = text_json(&message);
        if value.get("type").and_then(Value::as_str) != Some("message") {
            continue;
        }
        let Some(sent_us) =
            value.get("text").and_then(Value::as_str).and_then(|text| text.parse::<u64>().ok())
        else {
            continue;
        };
        if (window.start_us..window.end_us).contains(&sent_us) {
            let latency = arrived_us.saturating_sub(sent_us);
            tally.latencies_us.push(u32::try_from(latency).unwrap_or(u32::MAX));
        }
    }
}

/// Keeps a connection's writing half until `end` and a little more (its reader is done by
/// then), then closes it (1000), briefly.
async fn hold(mut write_half: WriteHalf<TcpStream>, end: Instant) -> Result<Option<Tally>, String> {
    sleep_until(end + Duration::from_millis(500)).await;
    let _ = timeout(STEP_TIMEOUT, write_half.close(CloseCode::NORMAL_CLOSURE, "done")).await;
    Ok(None)
}

/// A text message as JSON; `Null` for anything else.
fn text_json(message: &Message) -> Value {
    match message {
        Message::Text(text) => serde_json::from_str(text.as_str()).unwrap_or(Value::Null),
        Message::Binary(_) => Value::Null,
    }
}
