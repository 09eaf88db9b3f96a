//! The course's squares demo, on `rfc6455` and tokio: a replacement for the lab's Tornado app,
//! where every browser drags its own coloured square and sees everyone else's move.
//!
//! ```text
//! cargo run --release --example squares
//! ```
//!
//! then open <http://localhost:8888/> in two browser windows (or on a phone on the same network)
//! and drag the square with the dark outline, with the mouse or a finger.
//!
//! One port serves the page at `/`, its assets (`/squares.js`, `/squares.css`, compiled in from
//! `examples/squares/`, so no file system path can be named) and the WebSocket at `/ws`. Any
//! other path gets 404, an upgrade request included: the server accepts WebSocket connections
//! only at `/ws`, and a plain request for `/ws` gets 426 (Upgrade Required). A method other than
//! GET or HEAD gets 405. A WebSocket whose `Origin` is not this server (another site's page) is
//! refused with 403, as Tornado's `check_origin` refuses it by default; clients that send no
//! `Origin` (non-browser tools) are accepted.
//!
//! The messages are JSON text, one object each:
//!
//! | direction       | message                                                              |
//! |-----------------|----------------------------------------------------------------------|
//! | server → client | `{"type":"welcome","id":1,"colour":"#d9534f","board":{"width":800,"height":500,"square":60},"squares":[{"id":1,"colour":"#d9534f","x":40,"y":40},...]}` |
//! | server → client | `{"type":"join","id":2,"colour":"#3fbf7f","x":170,"y":130}`           |
//! | server → client | `{"type":"moves","squares":[{"id":2,"x":300,"y":200},...]}`             |
//! | server → client | `{"type":"leave","id":2}`                                              |
//! | client → server | `{"type":"move","x":300,"y":200}`                                     |
//!
//! A client gets a `welcome` with its id, its colour and every square (its own included); the
//! others get a `join`, and a `leave` when it goes. Moves are collected and sent every 20 ms: one
//! `moves` message per client with the latest position of every square that moved, but its own.
//! So however fast a client sends moves (the page sends at most one per animation frame), each
//! client gets at most 50 `moves` a second, and one client cannot flood the others' connections.
//! Positions are the top left corner of the square in board units, integers in
//! `0..=width-square` and `0..=height-square`.
//!
//! A client's messages are checked strictly, and a bad one closes that client (logged):
//!
//! | what the client sent                                   | close code                   |
//! |--------------------------------------------------------|------------------------------|
//! | text that is not JSON                                  | 1007 (Invalid Frame Payload Data: the data does not match the message type, JSON) |
//! | JSON of the wrong shape: not exactly `type` `"move"`, `x`, `y`; a position that is not an integer or is off the board | 1008 (Policy Violation) |
//! | a binary message                                       | 1003 (Unsupported Data)      |
//! | more than 1024 bytes                                   | 1009 (Message Too Big), by the core |
//!
//! Messages are queued on each client's connection without waiting, through its
//! `rfc6455::tokio::Sender`. The bound is in bytes, not messages: the high-water mark of bytes
//! waiting to be written to the client (`HIGH_WATER_MARK`), above which `Sender::try_send` says
//! `Full` (and reading from that client pauses). A client that far behind has stopped reading:
//! dropping a message would leave its picture of the board wrong for good, so it is closed with
//! 1008 ("too slow") instead, and the others see it leave; one slow client never slows the
//! others. The default 64 KiB is over four seconds of `moves` even with ten squares moving at
//! once (a `moves` message is about 30 bytes plus 25 per square), so a client that is merely busy
//! is not affected.
//!
//! Ctrl-C closes every connection with 1001 (Going Away) and exits once they are closed, or
//! after 3 seconds. One line per connection, HTTP request, join, leave and close on stderr.
//!
//! `scripts/squares-check.sh` checks all of this with two headless Chromium pages.
//!
//! Environment:
//!
//! | variable             | default | meaning                                                  |
//! |----------------------|---------|----------------------------------------------------------|
//! | `BIND_ADDRESS`       | `::`    | address to listen on (`::` also accepts IPv4 on Linux)   |
//! | `BIND_PORT`          | `8888`  | port (Tornado's default; 0 picks a free one, printed at start) |
//! | `HEARTBEAT_INTERVAL` | `30000` | ms between pings; a client that did not answer the previous ping is dropped (0: off) |
//! | `HIGH_WATER_MARK`    | `65536` | bytes that may wait to be sent to a client before it counts as too slow (reading from it pauses meanwhile) |
//! | `MAX_CONNECTIONS`    | `1024`  | most connections served at once (more wait in the listen queue) |
//! | `REDIS_URL`          | unset   | share the board with the other processes on this Redis (below), e.g. `redis://127.0.0.1:6379` |
//!
//! With `REDIS_URL`, any number of squares processes share one board, through the module in
//! `examples/adapter/pubsub.rs` (Redis pub/sub on the channel `rfc6455:squares:events`; what
//! squares does with it is in `examples/squares/scaleout.rs`):
//!
//! - each process publishes its own squares' `join`, `leave` and, once per tick, one `moves`
//!   with those of its squares that moved; every process hands what it receives to its clients
//!   (each client's own square left out of a `moves`), so a client gets at most one `moves` per
//!   tick from each process;
//! - square ids are unique across processes: a process claims the smallest free number in
//!   Redis at start (`SET ... NX`), and its squares are that number times 10,000 plus a counter
//!   (process 1's 10001, 10002..., process 2's 20001...), so one process serves at most 9999
//!   squares at once;
//! - each square is a key in Redis (`rfc6455:squares:member:ID`: colour and latest position,
//!   refreshed every 5 s, expiring 15 s after its process stopped refreshing it), from which a
//!   process learns the squares already on the board, and sees those of a process that died
//!   leave within 17 s;
//! - Redis unreachable at start: the server says so and exits with status 2. Redis lost later:
//!   one log line, the other processes' squares leave this board and its own go on alone, until
//!   Redis is back and the boards are one again.

#[path = "adapter/tokio.rs"]
mod adapter;
#[path = "adapter/env.rs"]
mod env;
#[path = "adapter/pubsub.rs"]
mod pubsub;
#[path = "squares/scaleout.rs"]
mod scaleout;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use adapter::http::Asset;
use adapter::Site;
use env::variable;
use pubsub::Relay;
use rfc6455::deflate::DeflateConfig;
use rfc6455::handshake::OriginPolicy;
use rfc6455::tokio::{Options, Sender, TrySendError};
use rfc6455::{CloseCode, CloseFrame, Config, Event, Message, MessageLimits};
use scaleout::{claim_number, Board, RemoteSquare};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::time::MissedTickBehavior;

/// The board's size and the squares' side, in board units (CSS pixels at full size).
const BOARD_WIDTH: u64 = 800;
const BOARD_HEIGHT: u64 = 500;
const SQUARE_SIZE: u64 = 60;
/// How often moves are sent: each client gets at most one `moves` message per tick.
const TICK: Duration = Duration::from_millis(20);
/// The largest message a client may send: a move is about 30 bytes.
const MAX_MESSAGE_SIZE: u64 = 1024;
/// With Redis, a process's square ids are its number times this, plus one of its own below
/// this: process 1's squares are 10001, 10002..., process 2's 20001...
const IDS_PER_PROCESS: u64 = 10_000;
/// With Redis, a process claims the smallest free number in `1..=MAX_PROCESS_NUMBER`.
const MAX_PROCESS_NUMBER: u64 = 9999;

/// The page and its assets, compiled in.
const ASSETS: &[Asset] = &[
    Asset { path: "/", content_type: "text/html; charset=utf-8", body: include_bytes!("squares/index.html") },
    Asset {
        path: "/squares.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("squares/squares.js"),
    },
    Asset {
        path: "/squares.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("squares/squares.css"),
    },
];

/// The server's settings, from the environment.
#[derive(Debug, Clone)]
struct Settings {
    address: IpAddr,
    port: u16,
    heartbeat: Option<Duration>,
    high_water_mark: usize,
    max_connections: usize,
}

impl Settings {
    fn from_env() -> Result<Settings, String> {
        let heartbeat_ms: u64 = variable("HEARTBEAT_INTERVAL", 30_000)?;
        Ok(Settings {
            address: variable("BIND_ADDRESS", IpAddr::from([0u16; 8]))?,
            port: variable("BIND_PORT", 8888)?,
            heartbeat: (heartbeat_ms > 0).then(|| Duration::from_millis(heartbeat_ms)),
            high_water_mark: variable("HIGH_WATER_MARK", 65_536)?,
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
        // The pages run in browsers, which offer permessage-deflate on every connection.
        Options {
            config,
            high_water_mark: self.high_water_mark,
            deflate: Some(DeflateConfig::default()),
            ..Options::default()
        }
    }
}

/// One client's square, and the way to reach its connection.
struct Square {
    peer: SocketAddr,
    hue: f64,
    colour: String,
    x: u64,
    y: u64,
    sender: Sender,
}

impl Square {
    fn to_json(&self, id: u64) -> Value {
        json!({ "id": id, "colour": self.colour, "x": self.x, "y": self.y })
    }
}

/// Every connected square. Messages are sent while the lock is held, so each client sees them
/// in the order the board changed (its `welcome` before anything after it).
#[derive(Default)]
struct Hub {
    next_id: u64,
    squares: BTreeMap<u64, Square>,
    /// Squares moved since the last [`Hub::send_moves`].
    moved: BTreeSet<u64>,
    /// The way to the other processes, with `REDIS_URL`.
    relay: Option<Relay>,
    /// This process's number with Redis (its squares' ids start there), 0 without.
    number: u64,
    /// The other processes' squares, while Redis is there.
    remote: BTreeMap<u64, RemoteSquare>,
}

type SharedHub = Arc<Mutex<Hub>>;

/// Locks the hub. Nothing panics while holding it, but a poisoned lock still holds a valid board.
fn lock(hub: &SharedHub) -> MutexGuard<'_, Hub> {
    hub.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Hub {
    /// Adds a square for a new client, sends it its `welcome` and the others a `join`; returns its
    /// id.
    fn join(&mut self, peer: SocketAddr, sender: Sender) -> u64 {
        self.next_id += 1;
        let id = self.free_id();
        let hue = self.free_hue();
        let square = Square {
            peer,
            hue,
            colour: colour(hue),
            x: 40 + (id - 1) * 130 % (BOARD_WIDTH - SQUARE_SIZE - 80),
            y: 40 + (id - 1) * 90 % (BOARD_HEIGHT - SQUARE_SIZE - 80),
            sender,
        };
        eprintln!("{peer}: square {id} joined ({}) at {},{}", square.colour, square.x, square.y);
        let mut join = square.to_json(id);
        join["type"] = "join".into();
        let welcome = json!({
            "type": "welcome",
            "id": id,
            "colour": square.colour,
            "board": { "width": BOARD_WIDTH, "height": BOARD_HEIGHT, "square": SQUARE_SIZE },
            "squares": self.squares.iter().chain([(&id, &square)]).map(|(id, square)| square.to_json(*id))
                .chain(self.remote.iter().map(|(id, square)| square.to_json(*id)))
                .collect::<Vec<_>>(),
        });
        let presence = square.to_json(id).to_string();
        self.squares.insert(id, square);
        let welcome = Message::text(welcome.to_string());
        match self.relay.clone() {
            None => {
                let join = Message::text(join.to_string());
                self.send_each(|to| Some(if to == id { welcome.clone() } else { join.clone() }));
            }
            // The others get the `join` from Redis, as every process's clients do.
            Some(relay) => {
                self.send_each(|to| (to == id).then(|| welcome.clone()));
                relay.present(id.to_string(), presence);
                relay.publish(Some(id), join);
            }
        }
        id
    }

    /// Moves a square; the others are told at the next [`Hub::send_moves`]. A square already
    /// gone is ignored.
    fn update(&mut self, id: u64, x: u64, y: u64) {
        if let Some(square) = self.squares.get_mut(&id) {
            (square.x, square.y) = (x, y);
            self.moved.insert(id);
        }
    }

    /// Sends every client one `moves` message with the squares moved since the last call, but
    /// its own. However fast clients send moves, each client gets one message per tick.
    fn send_moves(&mut self) {
        let moved = std::mem::take(&mut self.moved);
        let positions: Vec<(u64, Value)> = moved
            .iter()
            .filter_map(|&id| {
                self.squares.get(&id).map(|square| (id, json!({ "id": id, "x": square.x, "y": square.y })))
            })
            .collect();
        match &self.relay {
            None => self.deliver_moves(&positions),
            // One `moves` a tick from this process, to every process; each square's latest
            // position in Redis first, for the processes that start meanwhile.
            Some(relay) if !positions.is_empty() => {
                for (id, _) in &positions {
                    if let Some(square) = self.squares.get(id) {
                        relay.present(id.to_string(), square.to_json(*id).to_string());
                    }
                }
                let squares: Vec<&Value> = positions.iter().map(|(_, position)| position).collect();
                relay.publish(None, json!({ "type": "moves", "squares": squares }));
            }
            Some(_) => {}
        }
    }

    /// Sends each client one `moves` message with `positions` (`{"id":..,"x":..,"y":..}` by id),
    /// but its own square's.
    fn deliver_moves(&mut self, positions: &[(u64, Value)]) {
        let message_except = |except: Option<u64>| {
            let squares: Vec<&Value> = positions
                .iter()
                .filter(|(id, _)| Some(*id) != except)
                .map(|(_, position)| position)
                .collect();
            (!squares.is_empty())
                .then(|| Message::text(json!({ "type": "moves", "squares": squares }).to_string()))
        };
        let everyone = message_except(None);
        let moved = |to: u64| positions.iter().any(|(id, _)| *id == to);
        self.send_each(|to| if moved(to) { message_except(Some(to)) } else { everyone.clone() });
    }

    /// Removes a square and tells the others; does nothing if it is already gone.
    fn leave(&mut self, id: u64) {
        if let Some(square) = self.squares.remove(&id) {
            eprintln!("{}: square {id} left", square.peer);
            self.moved.remove(&id);
            let slow = self.announce_leave(id);
            self.close_slow(slow);
        }
    }

    /// Tells every client that square `id` left: without Redis, those here, at once (returns
    /// those too far behind); with Redis, every process's, through it.
    fn announce_leave(&self, id: u64) -> Vec<u64> {
        let leave = json!({ "type": "leave", "id": id });
        match &self.relay {
            None => self.try_send_each(|_| Some(Message::text(leave.to_string()))),
            Some(relay) => {
                relay.absent(id.to_string());
                relay.publish(None, leave);
                Vec::new()
            }
        }
    }

    /// Sends each client the message `message_for` its square's id gives, if any. A client too
    /// far behind is closed with 1008 and leaves, which the others are told in turn.
    fn send_each(&mut self, message_for: impl Fn(u64) -> Option<Message>) {
        let slow = self.try_send_each(message_for);
        self.close_slow(slow);
    }

    /// Closes the clients `slow` with 1008, and tells the others that they left.
    fn close_slow(&mut self, mut slow: Vec<u64>) {
        while let Some(id) = slow.pop() {
            let Some(square) = self.squares.remove(&id) else { continue };
            eprintln!("{}: square {id} is too slow (mailbox full), closing with 1008", square.peer);
            self.moved.remove(&id);
            // The Close goes out behind the messages already queued, for as long as the peer
            // takes to read them; the core's closing deadlines end a peer that never does. Err if
            // the connection is closing or gone already: nothing left to close.
            let _ = square.sender.close(CloseCode::POLICY_VIOLATION, "too slow");
            slow.extend(self.announce_leave(id));
        }
    }

    /// Queues each client's message without waiting; returns the clients with more than the
    /// high-water mark waiting to be written to them.
    fn try_send_each(&self, message_for: impl Fn(u64) -> Option<Message>) -> Vec<u64> {
        let mut slow = Vec::new();
        for (&id, square) in &self.squares {
            let Some(message) = message_for(id) else { continue };
            // Closed: its task is ending and will leave by itself. Nothing here sends in parts, so
            // the core refuses nothing else.
            if let Err(TrySendError::Full) = square.sender.try_send(&message) {
                slow.push(id);
            }
        }
        slow
    }

    /// The id of the next square: [`Hub::next_id`] without Redis; with Redis, this process's
    /// number times [`IDS_PER_PROCESS`] plus the counter, which wraps, skipping the squares here.
    fn free_id(&self) -> u64 {
        if self.number == 0 {
            return self.next_id;
        }
        let base = self.number * IDS_PER_PROCESS;
        let mut id = base;
        for step in 0..IDS_PER_PROCESS - 1 {
            id = base + 1 + (self.next_id - 1 + step) % (IDS_PER_PROCESS - 1);
            if !self.squares.contains_key(&id) {
                break;
            }
        }
        id
    }

    /// A hue far from those in use: the best of a few steps along the golden angle.
    fn free_hue(&self) -> f64 {
        let distance = |hue: f64| {
            let nearest = |other: &Square| {
                let apart = (hue - other.hue).rem_euclid(360.0);
                apart.min(360.0 - apart)
            };
            self.squares.values().map(nearest).fold(360.0, f64::min)
        };
        (0..16)
            .map(|step| ((self.next_id + step) as f64 * 137.507_764).rem_euclid(360.0))
            .fold((0.0, -1.0), |best, hue| if distance(hue) > best.1 { (hue, distance(hue)) } else { best })
            .0
    }
}

/// `hue` (degrees) at 65% saturation and 50% lightness, as `#rrggbb`.
fn colour(hue: f64) -> String {
    let (saturation, lightness) = (0.65, 0.5);
    let chroma = (1.0 - f64::abs(2.0 * lightness - 1.0)) * saturation;
    let channel = |n: f64| {
        let k = (n + hue / 30.0).rem_euclid(12.0);
        let value = lightness - chroma / 2.0 * (k - 3.0).min(9.0 - k).clamp(-1.0, 1.0);
        (value * 255.0).round() as u8
    };
    format!("#{:02x}{:02x}{:02x}", channel(0.0), channel(8.0), channel(4.0))
}

/// Why a client's message was refused: the close code and reason it is closed with.
#[derive(Debug)]
struct Violation {
    code: CloseCode,
    reason: String,
}

impl Violation {
    fn new(code: CloseCode, reason: impl Into<String>) -> Violation {
        Violation { code, reason: reason.into() }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, closing with {}", self.reason, self.code)
    }
}

/// Decodes a client's `{"type":"move","x":..,"y":..}`: exactly these fields, the position on the
/// board.
fn decode_move(message: &Message) -> Result<(u64, u64), Violation> {
    let Message::Text(text) = message else {
        return Err(Violation::new(CloseCode::UNSUPPORTED_DATA, "binary messages are not accepted"));
    };
    let value: Value = serde_json::from_str(text.as_str()).map_err(|error| {
        Violation::new(CloseCode::INVALID_FRAME_PAYLOAD_DATA, format!("invalid JSON: {error}"))
    })?;
    let shape = |reason: String| Violation::new(CloseCode::POLICY_VIOLATION, reason);
    let Value::Object(fields) = value else {
        return Err(shape("expected a JSON object".into()));
    };
    if let Some(unknown) = fields.keys().find(|key| !["type", "x", "y"].contains(&key.as_str())) {
        return Err(shape(format!("unexpected field {unknown:?}")));
    }
    match fields.get("type") {
        Some(Value::String(kind)) if kind == "move" => {}
        Some(Value::String(kind)) => return Err(shape(format!("unknown type {kind:?}"))),
        Some(_) => return Err(shape("\"type\" must be a string".into())),
        None => return Err(shape("missing field \"type\"".into())),
    }
    let coordinate = |name: &str, max: u64| match fields.get(name) {
        Some(number) => number
            .as_u64()
            .filter(|value| *value <= max)
            .ok_or_else(|| shape(format!("\"{name}\" must be an integer in 0..={max}"))),
        None => Err(shape(format!("missing field \"{name}\""))),
    };
    Ok((coordinate("x", BOARD_WIDTH - SQUARE_SIZE)?, coordinate("y", BOARD_HEIGHT - SQUARE_SIZE)?))
}

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("squares: {message}");
            return ExitCode::from(2);
        }
    };
    let hub = SharedHub::default();
    let started = pubsub::start_from_env("squares", "rfc6455:squares", |relay| {
        lock(&hub).relay = Some(relay);
        Arc::new(Board(hub.clone()))
    });
    if let Err(message) = started.await {
        eprintln!("squares: {message}");
        return ExitCode::from(2);
    }
    let relay = lock(&hub).relay.clone();
    if let Some(relay) = relay {
        let number = claim_number(&relay).await;
        lock(&hub).number = number;
    }
    let Some(listener) = adapter::listen("squares", settings.address, settings.port, |local| {
        format!("http://{local}/ (WebSocket at /ws)")
    })
    .await
    else {
        return ExitCode::FAILURE;
    };
    tokio::spawn(send_moves(hub.clone()));
    adapter::serve_until_ctrl_c("squares", listener, settings.max_connections, |stream, peer, shutdown| {
        serve(stream, peer, settings.clone(), hub.clone(), shutdown)
    })
    .await;
    ExitCode::SUCCESS
}

/// Sends the moves every [`TICK`].
async fn send_moves(hub: SharedHub) {
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        lock(&hub).send_moves();
    }
}

/// One client, from its HTTP request to the end of its WebSocket connection.
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    settings: Settings,
    hub: SharedHub,
    mut shutdown: adapter::Shutdown,
) {
    // Tornado's `check_origin`: only pages served here may open the WebSocket.
    let site = Site { path: Some("/ws"), origins: OriginPolicy::SameOrigin, assets: ASSETS };
    let upgraded = adapter::upgrade(stream, peer, &site, settings.options(), |request| {
        eprintln!("{peer}: connected to /ws (origin {})", request.origin().unwrap_or("-"));
        request.accept()
    })
    .await;
    let Some(mut ws) = upgraded else { return };
    let sender = ws.sender();
    let id = lock(&hub).join(peer, sender.clone());
    while let Some(event) = adapter::next_event(&mut ws, &mut shutdown).await {
        match event {
            // Once this server has closed the connection, what the client still sends is moot.
            Event::Message(_) if sender.is_closed() => {}
            Event::Message(message) => match decode_move(&message) {
                Ok((x, y)) => lock(&hub).update(id, x, y),
                Err(violation) => {
                    eprintln!("{peer}: square {id}: {violation}");
                    lock(&hub).leave(id);
                    // The reason cut to what a Close frame carries: Err only for a code that may
                    // not be sent (not these). Closing fails only once the connection is closing
                    // (it is going).
                    if let Ok(close) = CloseFrame::truncating(violation.code, &violation.reason) {
                        let _ = sender.close(close.code, &close.reason);
                    }
                }
            },
            Event::Closed(outcome) => {
                eprintln!("{peer}: square {id} {outcome}");
                lock(&hub).leave(id);
            }
            _ => {}
        }
    }
    lock(&hub).leave(id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_a_counter_without_redis_and_numbered_per_process_with_it() {
        let mut hub = Hub { next_id: 7, ..Hub::default() };
        assert_eq!(hub.free_id(), 7);
        hub.number = 2;
        assert_eq!(hub.free_id(), 20007);
        // The counter wraps within the process's ids.
        hub.next_id = IDS_PER_PROCESS;
        assert_eq!(hub.free_id(), 20001);
    }
}
