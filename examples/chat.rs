//! The course's chat, on `rfc6455` and tokio: a replacement for the Flask-SocketIO chat of the
//! lab. One port serves the page and its WebSocket; pick a name, then send each message either
//! back to yourself ("echo to me") or to everyone, and watch who is connected.
//!
//! ```text
//! cargo run --release --example chat
//! ```
//!
//! then open <http://localhost:5000/> in two browser windows. `scripts/chat-check.sh` does that
//! in headless Chromium and checks what both pages show.
//!
//! # What is served
//!
//! | path          | what                                                                   |
//! |---------------|------------------------------------------------------------------------|
//! | `/`           | the page (`examples/chat/index.html`), with `/chat.css` and `/chat.js` |
//! | `/ws`         | the WebSocket, subprotocol `chat`; a plain HTTP request gets 426       |
//! | anything else | 404; a method other than GET or HEAD gets 405                          |
//!
//! The files are compiled in (`include_bytes!`), so a request can name only one of them: there
//! is no file system path to traverse.
//!
//! # Subprotocol
//!
//! The page offers `chat` (`new WebSocket(url, ["chat"])`) and the server selects it. A client
//! that offers no subprotocol is served the same way (handy with `websocat`). A client that
//! offers only other subprotocols gets a 101 *without* `Sec-WebSocket-Protocol`: §4.2.2 lets a
//! server select one of the offered subprotocols or none, and it is then the client's call; a
//! browser fails the connection itself (close code 1006 on its side), as the WebSocket API
//! requires. This is what Node's `ws` and Python `websockets` (legacy server) do by default; a
//! 400 would tell the browser less ("unexpected response code"). The server log says which
//! subprotocols were declined.
//!
//! A WebSocket whose `Origin` is not this server (another site's page) is refused with 403, as
//! Flask-SocketIO refuses cross-origin clients by default (`OriginPolicy::SameOrigin`); clients
//! that send no `Origin` (non-browser tools) are accepted.
//!
//! # Messages
//!
//! JSON text messages both ways. From the client:
//!
//! ```text
//! {"type":"join","name":"Ada"}
//! {"type":"message","text":"hello","to":"all"}      "to": "me" (echo to me) or "all"
//! ```
//!
//! From the server, queued on each client's connection in the order the server made them (so a
//! client never sees an old user list after a newer one):
//!
//! ```text
//! {"type":"users","users":["Ada","Grace"]}          on connecting and whenever the list changes
//! {"type":"welcome","name":"Ada"}                   to the client that joined
//! {"type":"joined","name":"Ada"}                    to everyone else
//! {"type":"left","name":"Ada"}                      to everyone
//! {"type":"message","from":"Ada","text":"hello","to":"all"}
//! {"type":"error","text":"the name Ada is taken"}   a refused request; the connection stays open
//! ```
//!
//! Incoming messages are checked strictly: exactly the fields above, each of the right type.
//! Anything else closes that client:
//!
//! | received                                          | close code                      |
//! |---------------------------------------------------|---------------------------------|
//! | text that is not JSON, or JSON of the wrong shape | 1008 Policy Violation           |
//! | a binary message                                  | 1003 Unsupported Data           |
//! | a message over 16 KiB                             | 1009 Message Too Big (the core) |
//! | text that is not UTF-8                            | 1007 Invalid Payload (the core) |
//!
//! The reason says what was wrong, such as `invalid JSON: expected value at line 1 column 1`,
//! `field "text" must be a string`, `unexpected field "admin" in "join"` (and the server logs it).
//!
//! 1008 rather than 1007: §7.4.1 keeps 1007 for data "not consistent with the type of the
//! message" (text that is not UTF-8, which the core already fails); valid text that breaks the
//! chat's rules is a policy violation, "a generic status code ... when there is no other more
//! suitable status code".
//!
//! Requests that are well formed but cannot be granted get an `error` message and the connection
//! stays open: an empty name, a name over 32 characters or with control characters, a name taken
//! (ignoring case), joining twice, sending before joining, an empty message or one over 2000
//! characters.
//!
//! # Slow clients
//!
//! Messages are queued on each client's connection without waiting, through its
//! `rfc6455::tokio::Sender`. The bound is in bytes, not messages: while more than 64 KiB (the
//! high-water mark) wait to be written to a client, `Sender::try_send` says `Full`, and a message
//! for that client is dropped for it and logged (as Python `websockets`' `broadcast()` skips a
//! connection whose buffer is full); reading from that client pauses meanwhile. One slow reader
//! never holds up the others. A client that stops reading altogether also stops answering pings,
//! and is closed with 1011 at the next one (every 30 seconds).
//!
//! The disconnect button closes with 1000; the others see the user leave. One line per request,
//! connection, join, refusal and close on stderr. Ctrl-C closes every connection with 1001 (Going
//! Away) and exits once they are closed, or after 3 seconds.
//!
//! # Environment
//!
//! | variable          | default | meaning                                                |
//! |-------------------|---------|--------------------------------------------------------|
//! | `BIND_ADDRESS`    | `::`    | address to listen on (`::` also accepts IPv4 on Linux) |
//! | `BIND_PORT`       | `5000`  | port (Flask's default)                                 |
//! | `MAX_CONNECTIONS` | `1024`  | most connections served at once (more wait in the listen queue) |
//! | `REDIS_URL`       | unset   | share the chat with the other processes on this Redis (below), e.g. `redis://127.0.0.1:6379` |
//!
//! # Several processes: `REDIS_URL`
//!
//! Without `REDIS_URL`, everything lives in this process's memory. With it, any number of chat
//! processes, on one machine or many, behind a load balancer or on ports of their own, are one
//! chat (Flask-SocketIO's `message_queue='redis://'`), through the module in
//! `examples/adapter/pubsub.rs`:
//!
//! - every broadcast (a message to everyone, `joined`, `left`) is published once on the Redis
//!   channel `rfc6455:chat:events`, and every process hands it to its own clients, in the order
//!   Redis published it, through their senders (with the same bound and drops as above);
//!   "echo to me", `welcome` and `error` stay in the process;
//! - a name is claimed in Redis (`SET rfc6455:chat:member:NAME ... NX`, the name in lower case),
//!   so two processes cannot give it to two users, even at the same instant;
//! - the user list is every process's users, read from those keys whenever someone joins or
//!   leaves and every 2 s, in the order they joined; the keys expire 15 s after their process
//!   last refreshed them, so the users of a process that died, even by `kill -9`, leave every
//!   list within 17 s;
//! - Redis unreachable at start: the chat says so and exits with status 2. Redis lost later:
//!   one log line, and the process carries on alone (its own users, its own list) until Redis
//!   is back, then claims its users' names again and rejoins the others.

#[path = "adapter/tokio.rs"]
mod adapter;
#[path = "adapter/env.rs"]
mod env;
#[path = "adapter/pubsub.rs"]
mod pubsub;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use adapter::http::Asset;
use adapter::Site;
use env::variable;
use pubsub::{message_type, Claim, Local, Received, Relay};
use rfc6455::deflate::DeflateConfig;
use rfc6455::handshake::server::{AcceptResponse, UpgradeRequest};
use rfc6455::handshake::OriginPolicy;
use rfc6455::tokio::{Options, Sender, TrySendError, WebSocket};
use rfc6455::{CloseCode, CloseFrame, Config, Event, Message, MessageLimits};
use serde_json::{json, Map, Value};
use tokio::net::TcpStream;

/// The page and its assets, compiled in.
const ASSETS: &[Asset] = &[
    Asset { path: "/", content_type: "text/html; charset=utf-8", body: include_bytes!("chat/index.html") },
    Asset {
        path: "/chat.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("chat/chat.css"),
    },
    Asset {
        path: "/chat.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("chat/chat.js"),
    },
];

/// Where the WebSocket is.
const WEBSOCKET_PATH: &str = "/ws";
/// The subprotocol the page offers and the server selects.
const PROTOCOL: &str = "chat";
/// Longest name, in characters.
const MAX_NAME_CHARS: usize = 32;
/// Longest chat message, in characters.
const MAX_TEXT_CHARS: usize = 2000;
/// Largest WebSocket message; a larger one closes the connection with 1009.
const MAX_MESSAGE_SIZE: u64 = 16 * 1024;
/// Messages for a client are dropped, and reading from it pauses, while more than this many bytes
/// wait to be written to it.
const HIGH_WATER_MARK: usize = 64 * 1024;
/// Time between pings; a client that did not answer the previous one is closed with 1011.
const HEARTBEAT: Duration = Duration::from_secs(30);

/// The server's settings, from the environment.
#[derive(Debug, Clone)]
struct Settings {
    address: IpAddr,
    port: u16,
    max_connections: usize,
}

impl Settings {
    fn from_env() -> Result<Settings, String> {
        Ok(Settings {
            address: variable("BIND_ADDRESS", IpAddr::from([0u16; 8]))?,
            port: variable("BIND_PORT", 5000)?,
            max_connections: variable("MAX_CONNECTIONS", 1024)?,
        })
    }
}

fn options() -> Options {
    let config = Config {
        limits: MessageLimits {
            max_frame_size: MAX_MESSAGE_SIZE,
            max_message_size: MAX_MESSAGE_SIZE,
            ..MessageLimits::default()
        },
        keepalive_interval: Some(HEARTBEAT),
        ..Config::default()
    };
    // The pages run in browsers, which offer permessage-deflate on every connection.
    Options {
        config,
        high_water_mark: HIGH_WATER_MARK,
        deflate: Some(DeflateConfig::default()),
        ..Options::default()
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("chat: {message}");
            return ExitCode::from(2);
        }
    };
    let hub = Arc::new(Mutex::new(Hub::default()));
    let started = pubsub::start_from_env("chat", "rfc6455:chat", |relay| {
        lock(&hub).relay = Some(relay);
        Arc::new(SharedHub(Arc::clone(&hub)))
    });
    if let Err(message) = started.await {
        eprintln!("chat: {message}");
        return ExitCode::from(2);
    }
    let Some(listener) = adapter::listen("chat", settings.address, settings.port, |local| {
        format!("http://{local}/ (open http://localhost:{}/)", local.port())
    })
    .await
    else {
        return ExitCode::FAILURE;
    };

    adapter::serve_until_ctrl_c("chat", listener, settings.max_connections, |stream, peer, shutdown| {
        serve(stream, peer, Arc::clone(&hub), shutdown)
    })
    .await;
    ExitCode::SUCCESS
}

/// One client, from its HTTP request to the end of its WebSocket connection.
async fn serve(stream: TcpStream, peer: SocketAddr, hub: Arc<Mutex<Hub>>, mut shutdown: adapter::Shutdown) {
    // Flask-SocketIO's default: only pages served here may open the WebSocket.
    let site = Site { path: Some(WEBSOCKET_PATH), origins: OriginPolicy::SameOrigin, assets: ASSETS };
    let upgraded = adapter::upgrade(stream, peer, &site, options(), |request| {
        let response = negotiate(request, peer);
        let (origin, protocol) = (request.origin().unwrap_or("-"), response.protocol().unwrap_or("none"));
        eprintln!("{peer}: connected to {WEBSOCKET_PATH} (origin {origin}, subprotocol {protocol})");
        response
    })
    .await;
    let Some(mut ws) = upgraded else { return };

    let id = lock(&hub).connect(peer, ws.sender());
    while let Some(event) = adapter::next_event(&mut ws, &mut shutdown).await {
        match event {
            Event::Message(Message::Text(text)) => match Request::decode(text.as_str()) {
                Ok(Request::Join { name }) => join(&hub, id, &name).await,
                Ok(Request::Message { text, to }) => lock(&hub).message(id, text, to),
                Err(reason) => fail(&ws, peer, CloseCode::POLICY_VIOLATION, &reason),
            },
            // §7.4.1: "1003 indicates that an endpoint is terminating the connection because it
            // has received a type of data it cannot accept (e.g., an endpoint that understands
            // only text data MAY send this if it receives a binary message)."
            Event::Message(Message::Binary(_)) => fail(
                &ws,
                peer,
                CloseCode::UNSUPPORTED_DATA,
                "binary messages are not part of the chat protocol",
            ),
            Event::Closed(outcome) => eprintln!("{peer}: {outcome}"),
            _ => {}
        }
    }
    lock(&hub).disconnect(id);
}

/// The 101 response: `chat` if offered; no subprotocol otherwise (§4.2.2 item 5.4).
fn negotiate(request: &UpgradeRequest, peer: SocketAddr) -> AcceptResponse {
    let response = request.accept();
    match request.select_protocol(&[PROTOCOL]) {
        Some(protocol) => response.with_protocol(protocol),
        None => {
            if !request.protocols().is_empty() {
                // §4.2.2: "The value chosen MUST be derived from the client's handshake ... If
                // the server does not wish to agree to one of the suggested subprotocols, it
                // MUST NOT send back a |Sec-WebSocket-Protocol| header field in its response."
                eprintln!("{peer}: offered only {:?}, answering without a subprotocol", request.protocols());
            }
            response
        }
    }
}

/// Closes a client that broke the chat protocol, and says so in the log.
fn fail(ws: &WebSocket<TcpStream>, peer: SocketAddr, code: CloseCode, reason: &str) {
    eprintln!("{peer}: closing with {code}: {reason}");
    // The reason cut to what a Close frame carries. Err only for a code that may not be sent
    // (not these) or once the connection is closing (it is closing anyway).
    let close = CloseFrame::truncating(code, reason);
    let _ = close.and_then(|close| {
        ws.with_connection(|connection| connection.close(Instant::now(), close.code, &close.reason))
    });
}

/// Gives client `id` the name it asked for, trimmed, if it is free: here and, with Redis, in
/// every process (claimed there first; the client's other messages wait meanwhile).
async fn join(hub: &Mutex<Hub>, id: u64, name: &str) {
    let (name, relay) = {
        let hub = lock(hub);
        match hub.check_name(id, name) {
            Ok(name) => (name, hub.relay.clone()),
            Err(refusal) => return hub.refuse(id, &refusal),
        }
    };
    let claim = match relay {
        Some(relay) => {
            let since = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
            let presence =
                json!({ "name": name, "since": since.as_millis() as u64, "process": relay.process() });
            Some(relay.claim(name.to_lowercase(), presence.to_string()).await)
        }
        None => None,
    };
    lock(hub).welcome(id, &name, claim);
}

fn lock(hub: &Mutex<Hub>) -> MutexGuard<'_, Hub> {
    // A panic elsewhere leaves the hub consistent: every change is one map operation.
    hub.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A message from a client, checked against the chat protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Request {
    /// `{"type":"join","name":..}`
    Join { name: String },
    /// `{"type":"message","text":..,"to":"me"|"all"}`
    Message { text: String, to: Audience },
}

/// Who a chat message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Audience {
    /// Echoed to its sender only.
    Me,
    /// Everyone connected, sender included.
    All,
}

impl Audience {
    fn as_str(self) -> &'static str {
        match self {
            Audience::Me => "me",
            Audience::All => "all",
        }
    }
}

impl Request {
    /// Decodes a client's text message.
    ///
    /// # Errors
    ///
    /// What is wrong with it, as the close reason: not JSON, not an object, an unknown `type`,
    /// a missing, mistyped or unexpected field.
    fn decode(text: &str) -> Result<Request, String> {
        let value: Value = serde_json::from_str(text).map_err(|error| format!("invalid JSON: {error}"))?;
        let Value::Object(mut fields) = value else {
            return Err("expected a JSON object".to_owned());
        };
        let kind = match fields.remove("type") {
            Some(Value::String(kind)) => kind,
            _ => return Err("expected a string field \"type\"".to_owned()),
        };
        let request = match kind.as_str() {
            "join" => Request::Join { name: take_string(&mut fields, "name")? },
            "message" => {
                let text = take_string(&mut fields, "text")?;
                let to = match take_string(&mut fields, "to")?.as_str() {
                    "me" => Audience::Me,
                    "all" => Audience::All,
                    _ => return Err("field \"to\" must be \"me\" or \"all\"".to_owned()),
                };
                Request::Message { text, to }
            }
            other => return Err(format!("unknown type {other:?}")),
        };
        match fields.keys().next() {
            Some(extra) => Err(format!("unexpected field {extra:?} in {kind:?}")),
            None => Ok(request),
        }
    }
}

/// Removes the string field `name` from `fields`.
fn take_string(fields: &mut Map<String, Value>, name: &str) -> Result<String, String> {
    match fields.remove(name) {
        Some(Value::String(value)) => Ok(value),
        Some(_) => Err(format!("field {name:?} must be a string")),
        None => Err(format!("missing field {name:?}")),
    }
}

/// Everyone connected: the shared state of the chat.
#[derive(Default)]
struct Hub {
    next_id: u64,
    /// By connection order, which is the order of the user list.
    clients: BTreeMap<u64, Client>,
    /// The way to the other processes, with `REDIS_URL`.
    relay: Option<Relay>,
    /// Every process's users in the order they joined, as last read from Redis; `None` without
    /// Redis, or while it is away (the list is then this process's users).
    roster: Option<Vec<String>>,
}

#[derive(Debug)]
struct Client {
    peer: SocketAddr,
    /// `None` until the client joined.
    name: Option<String>,
    sender: Sender,
}

impl Hub {
    /// Adds a connected client, sends it the user list and returns its id.
    fn connect(&mut self, peer: SocketAddr, sender: Sender) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.clients.insert(id, Client { peer, name: None, sender });
        self.send(id, &self.users());
        id
    }

    /// Removes a client; if it had joined, tells the others it left.
    fn disconnect(&mut self, id: u64) {
        let Some(Client { peer, name: Some(name), .. }) = self.clients.remove(&id) else { return };
        eprintln!("{peer}: {name:?} left");
        if let Some(relay) = &self.relay {
            relay.absent(name.to_lowercase());
        }
        self.broadcast(&json!({ "type": "left", "name": name }), None);
        self.users_changed();
    }

    /// Sends client `id`'s chat message to itself (`to` me) or to everyone.
    fn message(&mut self, id: u64, text: String, to: Audience) {
        let Some(from) = self.clients.get(&id).and_then(|client| client.name.clone()) else {
            return self.refuse(id, "join before sending messages");
        };
        if text.trim().is_empty() {
            return self.refuse(id, "empty message");
        }
        if text.chars().count() > MAX_TEXT_CHARS {
            return self.refuse(id, &format!("messages are at most {MAX_TEXT_CHARS} characters"));
        }
        let message = json!({ "type": "message", "from": from, "text": text, "to": to.as_str() });
        match to {
            Audience::Me => self.send(id, &message),
            Audience::All => self.broadcast(&message, None),
        }
    }

    /// Checks the name client `id` asked for against the chat's rules and this process's users;
    /// returns it trimmed.
    ///
    /// # Errors
    ///
    /// Why not, for the client.
    fn check_name(&self, id: u64, name: &str) -> Result<String, String> {
        let name = name.trim();
        if let Some(current) = self.clients.get(&id).and_then(|client| client.name.as_ref()) {
            return Err(format!("you already joined as {current}"));
        }
        if name.is_empty() {
            return Err("choose a name".to_owned());
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(format!("names are at most {MAX_NAME_CHARS} characters"));
        }
        if name.chars().any(char::is_control) {
            return Err("names cannot contain control characters".to_owned());
        }
        let taken = self.names().any(|other| other.to_lowercase() == name.to_lowercase());
        if taken {
            return Err(format!("the name {name} is taken"));
        }
        Ok(name.to_owned())
    }

    /// Gives client `id` the name `name` (checked by [`Hub::check_name`]) and tells everyone,
    /// unless Redis said it is `Taken`; checked here again, as another client may have taken it
    /// meanwhile.
    fn welcome(&mut self, id: u64, name: &str, claim: Option<Claim>) {
        let refusal = match claim {
            Some(Claim::Taken) => Err(format!("the name {name} is taken")),
            _ => self.check_name(id, name).map(drop),
        };
        let client = self.clients.get_mut(&id);
        let (Ok(()), Some(client)) = (&refusal, client) else {
            // Gone, or refused: a name this process claimed in Redis is released.
            if let (Some(relay), Some(Claim::Granted | Claim::Unavailable)) = (&self.relay, claim) {
                relay.absent(name.to_lowercase());
            }
            return refusal.unwrap_or_else(|refusal| self.refuse(id, &refusal));
        };
        client.name = Some(name.to_owned());
        eprintln!("{}: joined as {name:?}", client.peer);
        self.send(id, &json!({ "type": "welcome", "name": name }));
        self.broadcast(&json!({ "type": "joined", "name": name }), Some(id));
        self.users_changed();
    }

    fn refuse(&self, id: u64, refusal: &str) {
        if let Some(client) = self.clients.get(&id) {
            eprintln!("{}: refused: {refusal}", client.peer);
        }
        self.send(id, &json!({ "type": "error", "text": refusal }));
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        self.clients.values().filter_map(|client| client.name.as_deref())
    }

    fn users(&self) -> Value {
        match &self.roster {
            Some(roster) => json!({ "type": "users", "users": roster }),
            None => json!({ "type": "users", "users": self.names().collect::<Vec<_>>() }),
        }
    }

    /// Sends everyone the user list after a join or a leave; with Redis, the list follows from
    /// the `joined` or `left` ([`Hub::receive`], [`Hub::read_roster`]).
    fn users_changed(&self) {
        if self.relay.is_none() {
            self.broadcast_here(&self.users(), None);
        }
    }

    fn send(&self, id: u64, message: &Value) {
        if let Some(client) = self.clients.get(&id) {
            client.post(&Message::text(message.to_string()));
        }
    }

    /// Sends `message` to every client, except `except`: with Redis, to those of every process.
    fn broadcast(&self, message: &Value, except: Option<u64>) {
        match &self.relay {
            Some(relay) => relay.publish(except, message.clone()),
            None => self.broadcast_here(message, except),
        }
    }

    /// A broadcast from Redis (or, while it is away, from this process): to every client here
    /// but `except`. Whether it says that someone joined or left.
    fn receive(&self, received: Received) -> bool {
        self.broadcast_here(&received.message, received.except);
        let changed = matches!(message_type(&received.message), "joined" | "left");
        if changed && self.roster.is_none() {
            self.broadcast_here(&self.users(), None);
        }
        changed
    }

    /// Takes the user list from the presence values read from Redis (`{"name":..,"since":..}`),
    /// and sends it to every client here if it changed.
    fn read_roster(&mut self, members: &[String]) {
        let mut users: Vec<(u64, String)> = members
            .iter()
            .filter_map(|value| {
                let fields = pubsub::decode_member(value)?;
                Some((fields.get("since")?.as_u64()?, fields.get("name")?.as_str()?.to_owned()))
            })
            .collect();
        users.sort_unstable();
        let roster: Vec<String> = users.into_iter().map(|(_, name)| name).collect();
        if self.roster.as_ref() != Some(&roster) {
            self.roster = Some(roster);
            self.broadcast_here(&self.users(), None);
        }
    }

    /// Redis is away: the user list is this process's users until it is back.
    fn lose_roster(&mut self) {
        if self.roster.take().is_some() {
            self.broadcast_here(&self.users(), None);
        }
    }

    /// The name `key` (in lower case) of a user here was claimed by another process while Redis
    /// was away: the user keeps it here, and is told.
    fn conflict(&self, key: &str) {
        let Some((id, client)) = self
            .clients
            .iter()
            .find(|(_, client)| client.name.as_ref().is_some_and(|name| name.to_lowercase() == key))
        else {
            return;
        };
        eprintln!("{}: the name {key:?} was claimed in another process while Redis was away", client.peer);
        let text = "another server gave your name to someone else while the two were cut off";
        self.send(*id, &json!({ "type": "error", "text": text }));
    }

    /// Sends `message` to every client of this process, except `except`.
    fn broadcast_here(&self, message: &Value, except: Option<u64>) {
        let message = Message::text(message.to_string());
        for (_, client) in self.clients.iter().filter(|(id, _)| Some(**id) != except) {
            client.post(&message);
        }
    }
}

impl Client {
    /// Queues `message` on this client's connection; drops it if more than the high-water mark
    /// already waits to be written to the client.
    fn post(&self, message: &Message) {
        match self.sender.try_send(message) {
            Ok(()) => {}
            Err(TrySendError::Full) => {
                eprintln!("{}: mailbox full, message dropped (slow reader)", self.peer)
            }
            // Closed: the client's connection is closing; it is about to leave the hub. Nothing
            // here sends in parts, so the core refuses nothing else.
            Err(_) => {}
        }
    }
}

/// The hub, as the link to Redis reaches it.
struct SharedHub(Arc<Mutex<Hub>>);

impl Local for SharedHub {
    fn receive(&self, received: Received) -> bool {
        lock(&self.0).receive(received)
    }

    fn members(&self, members: Vec<String>) {
        lock(&self.0).read_roster(&members);
    }

    fn link_changed(&self, up: bool) {
        if !up {
            lock(&self.0).lose_roster();
        }
    }

    fn conflict(&self, key: &str) {
        lock(&self.0).conflict(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roster_is_every_process_users_in_join_order() {
        let mut hub = Hub::default();
        let members = [
            r#"{"name":"Grace","since":20,"process":"b"}"#,
            r#"{"name":"Ada","since":10,"process":"a"}"#,
            "not JSON: ignored",
            r#"{"name":"no since: ignored","process":"a"}"#,
        ];
        hub.read_roster(&members.map(str::to_owned));
        assert_eq!(hub.users(), json!({ "type": "users", "users": ["Ada", "Grace"] }));
        // Redis lost: this process's users only (none here).
        hub.lose_roster();
        assert_eq!(hub.users(), json!({ "type": "users", "users": [] }));
    }
}
