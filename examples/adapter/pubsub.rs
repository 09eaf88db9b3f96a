//! Several processes of one course server as one, through Redis (`REDIS_URL`): what `chat` and
//! `squares` share to broadcast across processes, as Flask-SocketIO's `message_queue`,
//! socket.io's Redis adapter and Django Channels' Redis layer do.
//!
//! Nothing here speaks WebSocket: a server's clients are reached through their
//! `rfc6455::tokio::Sender`s, by the server's own [`Local`].
//!
//! # Broadcasts
//!
//! Every broadcast is published once by the process it starts in, however many clients that
//! process has, on the server's channel (`PREFIX:events`, `rfc6455:chat:events` for the chat),
//! as one JSON envelope ([`Publication`]):
//!
//! ```text
//! {"origin":"4242-9f0c1a2b","except":3,"message":{"type":"joined","name":"Ada"}}
//! ```
//!
//! `origin` names the publishing process, `except` one of its clients that is not to get it
//! (the client that joined gets a `welcome` instead) and `message` is what the clients get.
//! Every process subscribed to the channel, the publisher included, receives it once and hands
//! it to its own clients ([`Local::receive`]) through their senders, without waiting: a slow
//! client never slows the others, nor the link to Redis. Redis forwards the messages of a
//! channel in the order it received them, so every client, on whichever process, sees the
//! broadcasts in one order.
//!
//! # Presence
//!
//! Who is connected is kept in Redis, one key per member, `PREFIX:member:ID` (the value is the
//! server's JSON), set by the process that serves the member ([`Relay::present`]; claimed with
//! `SET ... NX` when the ID must be unique across processes, [`Relay::claim`]), with a 15 s
//! expiry that the process refreshes every 5 s and deleted when the member leaves
//! ([`Relay::absent`]). Every 2 s, and whenever a message says that someone came or went, each
//! process reads every member (`SCAN` and `MGET`) and gives them to [`Local::members`]. A process
//! that dies, even by `kill -9`, stops refreshing its keys: they expire within 15 s, and every
//! other process sees its members gone at its next read, within 17 s.
//!
//! # When Redis goes away
//!
//! Unreachable at start: [`Link::connect`] says why, and the server exits with status 2. Lost
//! while running: the process says so in one log line ([`Local::link_changed`] is told) and
//! keeps serving its own clients: what it would publish is handed to its own [`Local::receive`]
//! at once, as if it had come back from Redis, and [`Relay::claim`] answers
//! [`Claim::Unavailable`] (the server decides alone). Meanwhile it tries again after 0.25 s, then
//! after twice as long each time, up to 8 s; once connected it subscribes again, sets every
//! presence key of its own members again (one that another process took meanwhile is a
//! conflict, [`Local::conflict`]), reads the members and says so in one more log line. Every
//! command to Redis has a 3 s deadline, so a Redis that hangs counts as lost too.
//!
//! Needs Redis 7 or later (Debian 12's `redis-server` is 7.0): the refresh sets a key only if it
//! is absent and says what was there in one command (`SET ... NX GET`).

#![allow(dead_code)] // each example uses part of this module

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{MultiplexedConnection, PubSubSink, PubSubStream};
use redis::{AsyncConnectionConfig, Client, Pipeline, RedisResult};
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{interval_at, sleep, timeout, Instant, MissedTickBehavior};

/// How long a presence key lives unless refreshed: a dead process's members are gone this long
/// after its last refresh, plus at most one [`READ_MEMBERS_EVERY`].
pub const PRESENCE_TTL: Duration = Duration::from_secs(15);
/// How often a process refreshes its presence keys: three chances before they expire.
const REFRESH_EVERY: Duration = Duration::from_secs(5);
/// How often a process reads every member, to see those of processes that died.
const READ_MEMBERS_EVERY: Duration = Duration::from_secs(2);
/// Deadline of a connection to Redis, and of every command.
const REDIS_TIMEOUT: Duration = Duration::from_secs(3);
/// The first wait before connecting again; it doubles after each failure, up to
/// [`BACKOFF_MAX`].
const BACKOFF_FIRST: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(8);
/// A connection that lasted less than this does not reset the backoff: a Redis that accepts and
/// then fails every time is not tried in a tight loop.
const STABLE_SESSION: Duration = Duration::from_secs(10);
/// Commands waiting for the link to Redis; a broadcast beyond them is dropped, and logged.
const QUEUE: usize = 4096;
/// Commands sent to Redis in one round trip, at most.
const BATCH: usize = 256;
/// Keys asked for per `SCAN` step, and steps at most per read of the members.
const SCAN_COUNT: usize = 1000;
const SCAN_STEPS: usize = 1000;

/// What a server does with what comes from Redis. Called from the link's task, never while the
/// server holds its own lock in a call to [`Relay`] (whose calls never wait).
pub trait Local: Send + Sync + 'static {
    /// A broadcast arrived (or, while Redis is away, was published by this process): hand it to
    /// this process's clients. Returns whether it says that members came or went, so that they
    /// are read again at once.
    fn receive(&self, received: Received) -> bool;
    /// Every member's value, in no particular order, read from Redis.
    fn members(&self, members: Vec<String>);
    /// Redis was lost (`false`) or is back (`true`).
    fn link_changed(&self, up: bool);
    /// The presence key `key` of one of this process's members was set by another process
    /// while Redis was away: it is no longer refreshed nor deleted by this one.
    fn conflict(&self, key: &str);
}

/// A broadcast as a process receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// Whether this process published it.
    pub mine: bool,
    /// The client of this process that is not to get it (only when `mine`).
    pub except: Option<u64>,
    /// What the clients get.
    pub message: Value,
}

/// What [`Relay::claim`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The key was free and is now this process's.
    Granted,
    /// Another member holds the key.
    Taken,
    /// Redis is away: nothing could be checked (the key is set once Redis is back).
    Unavailable,
}

/// The envelope of a broadcast on the channel: `{"origin":..,"except":..,"message":{..}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Publication {
    /// The publishing process ([`Relay::process`]).
    pub origin: String,
    /// A client of the publishing process that is not to get it.
    pub except: Option<u64>,
    /// What the clients get: a JSON object with a string `type`.
    pub message: Value,
}

impl Publication {
    /// The envelope as published.
    pub fn encode(&self) -> String {
        json!({ "origin": self.origin, "except": self.except, "message": self.message }).to_string()
    }

    /// Decodes a message of the channel.
    ///
    /// # Errors
    ///
    /// What is wrong with it: not JSON, a missing or mistyped field, an unexpected one.
    pub fn decode(bytes: &[u8]) -> Result<Publication, String> {
        let value: Value = serde_json::from_slice(bytes).map_err(|error| format!("invalid JSON: {error}"))?;
        let Value::Object(mut fields) = value else { return Err("expected a JSON object".to_owned()) };
        let origin = match fields.remove("origin") {
            Some(Value::String(origin)) => origin,
            _ => return Err("expected a string field \"origin\"".to_owned()),
        };
        let except = match fields.remove("except") {
            None | Some(Value::Null) => None,
            Some(Value::Number(number)) => {
                Some(number.as_u64().ok_or("field \"except\" must be a client id".to_owned())?)
            }
            Some(_) => return Err("field \"except\" must be a client id or null".to_owned()),
        };
        let message = match fields.remove("message") {
            Some(Value::Object(message)) if matches!(message.get("type"), Some(Value::String(_))) => {
                Value::Object(message)
            }
            _ => return Err("expected an object field \"message\" with a string \"type\"".to_owned()),
        };
        match fields.keys().next() {
            Some(extra) => Err(format!("unexpected field {extra:?}")),
            None => Ok(Publication { origin, except, message }),
        }
    }
}

/// The `type` of a client message, `""` if it has none.
pub fn message_type(message: &Value) -> &str {
    message.get("type").and_then(Value::as_str).unwrap_or("")
}

/// A server's way to Redis, held by its hub: every call queues a command for the [`Link`]'s
/// task and returns at once (but [`Relay::claim`], which waits for the answer).
#[derive(Clone)]
pub struct Relay {
    commands: mpsc::Sender<Command>,
    process: Arc<str>,
    name: Arc<str>,
}

enum Command {
    Publish { except: Option<u64>, message: Value },
    Present { key: String, value: String },
    Absent { key: String },
    Claim { key: String, value: String, answer: oneshot::Sender<Claim> },
}

impl Relay {
    /// This process's name on the channel: its pid and a random tag.
    pub fn process(&self) -> &str {
        &self.process
    }

    /// Broadcasts `message` to every client of every process, but `except` (a client of this
    /// one). Dropped, and logged, if thousands of commands already wait for Redis.
    pub fn publish(&self, except: Option<u64>, message: Value) {
        self.queue(Command::Publish { except, message });
    }

    /// Sets the presence key `PREFIX:member:ID` (`key` is ID) to `value`, refreshed from now on.
    pub fn present(&self, key: String, value: String) {
        self.queue(Command::Present { key, value });
    }

    /// Deletes the presence key `key` (if this process holds it).
    pub fn absent(&self, key: String) {
        self.queue(Command::Absent { key });
    }

    /// Sets the presence key `key` to `value` if no one holds it (`SET ... NX`, so two processes
    /// cannot both get it); refreshed from then on.
    pub async fn claim(&self, key: String, value: String) -> Claim {
        let (answer, answered) = oneshot::channel();
        if self.commands.try_send(Command::Claim { key, value, answer }).is_err() {
            return Claim::Unavailable;
        }
        answered.await.unwrap_or(Claim::Unavailable)
    }

    fn queue(&self, command: Command) {
        if self.commands.try_send(command).is_err() {
            eprintln!("{}: redis: {QUEUE} commands already wait for Redis, one dropped", self.name);
        }
    }
}

/// The link to Redis: one connection for commands, one subscribed to the channel, and the task
/// ([`Link::run`]) that keeps them up.
pub struct Link {
    name: Arc<str>,
    client: Client,
    address: String,
    channel: String,
    member_prefix: String,
    process: Arc<str>,
    commands: mpsc::Receiver<Command>,
    /// This process's presence keys (full names) and values: what it refreshes.
    presence: HashMap<String, String>,
    session: Option<Session>,
}

/// One connection's worth of link: commands, and the subscription.
struct Session {
    connection: MultiplexedConnection,
    /// Kept so that the subscription stays open.
    _sink: PubSubSink,
    messages: PubSubStream,
}

impl Session {
    async fn open(client: &Client, channel: &str) -> RedisResult<Session> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT));
        let connection = client.get_multiplexed_async_connection_with_config(&config).await?;
        let subscribe = async {
            let (mut sink, messages) = client.get_async_pubsub().await?.split();
            sink.subscribe(channel).await?;
            Ok(Session { connection, _sink: sink, messages })
        };
        timeout(REDIS_TIMEOUT, subscribe).await.unwrap_or_else(|_| Err(timed_out()))
    }
}

fn timed_out() -> redis::RedisError {
    std::io::Error::new(std::io::ErrorKind::TimedOut, format!("no answer within {REDIS_TIMEOUT:?}")).into()
}

impl Link {
    /// Connects to the Redis at `url` for the server `name` (which starts its log lines), whose
    /// keys and channel start with `prefix` (`rfc6455:chat`); returns the link, to [`Link::run`]
    /// in a task of its own, and the relay for the server's hub.
    ///
    /// # Errors
    ///
    /// What went wrong, for the server to print before it exits with status 2: a URL that is
    /// not a Redis URL, a Redis that cannot be reached or does not answer within 3 s.
    pub async fn connect(name: &str, url: &str, prefix: &str) -> Result<(Link, Relay), String> {
        let client = Client::open(url).map_err(|error| format!("REDIS_URL is not a Redis URL: {error}"))?;
        let address = client.get_connection_info().addr().to_string();
        let channel = format!("{prefix}:events");
        let session = Session::open(&client, &channel)
            .await
            .map_err(|error| format!("cannot reach Redis at {address} (REDIS_URL): {error}"))?;
        let process: Arc<str> =
            format!("{}-{:08x}", std::process::id(), RandomState::new().hash_one(0u8) as u32).into();
        let name: Arc<str> = name.into();
        let (sender, commands) = mpsc::channel(QUEUE);
        let relay = Relay { commands: sender, process: Arc::clone(&process), name: Arc::clone(&name) };
        eprintln!("{name}: redis: connected to {address}, channel {channel}, as process {process}");
        let link = Link {
            name,
            client,
            address,
            channel,
            member_prefix: format!("{prefix}:member:"),
            process,
            commands,
            presence: HashMap::new(),
            session: Some(session),
        };
        Ok((link, relay))
    }

    /// Keeps the link up for as long as a [`Relay`] exists, telling `local` what arrives.
    pub async fn run(mut self, local: Arc<dyn Local>) {
        let mut session = self.session.take();
        let mut delay = BACKOFF_FIRST;
        loop {
            let Some(mut current) = session.take() else { return };
            let since = Instant::now();
            let error = self.serve(&mut current, &*local).await;
            let Some(error) = error else { return };
            eprintln!(
                "{}: redis: lost {} ({error}); serving this process's clients only, reconnecting",
                self.name, self.address
            );
            local.link_changed(false);
            if since.elapsed() >= STABLE_SESSION {
                delay = BACKOFF_FIRST;
            }
            session = self.reconnect(&mut delay, &*local).await;
            if session.is_some() {
                eprintln!(
                    "{}: redis: connected again to {}; setting {} presence key(s) again",
                    self.name,
                    self.address,
                    self.presence.len()
                );
                local.link_changed(true);
            }
        }
    }

    /// Serves one session until it fails (the error) or no relay is left (`None`).
    async fn serve(&mut self, session: &mut Session, local: &dyn Local) -> Option<String> {
        if let Err(error) = self.refresh(session, local).await {
            return Some(error);
        }
        if let Err(error) = self.read_members(session, local).await {
            return Some(error);
        }
        let mut read_members = interval_at(Instant::now() + READ_MEMBERS_EVERY, READ_MEMBERS_EVERY);
        let mut refresh = interval_at(Instant::now() + REFRESH_EVERY, REFRESH_EVERY);
        read_members.set_missed_tick_behavior(MissedTickBehavior::Delay);
        refresh.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let result = tokio::select! {
                message = session.messages.next() => match message {
                    None => Err("the subscription ended".to_owned()),
                    Some(message) => match self.deliver(message.get_payload_bytes(), local) {
                        true => self.read_members(session, local).await,
                        false => Ok(()),
                    },
                },
                command = self.commands.recv() => match command {
                    None => return None,
                    Some(command) => self.execute(command, session, local).await,
                },
                _ = read_members.tick() => self.read_members(session, local).await,
                _ = refresh.tick() => self.refresh(session, local).await,
            };
            if let Err(error) = result {
                return Some(error);
            }
        }
    }

    /// Hands a message of the channel to `local`; whether members should be read again.
    fn deliver(&self, payload: &[u8], local: &dyn Local) -> bool {
        match Publication::decode(payload) {
            Ok(publication) => local.receive(self.received(publication)),
            Err(error) => {
                eprintln!("{}: redis: ignored a message on {}: {error}", self.name, self.channel);
                false
            }
        }
    }

    fn received(&self, publication: Publication) -> Received {
        let mine = *publication.origin == *self.process;
        Received { mine, except: publication.except.filter(|_| mine), message: publication.message }
    }

    /// Sends `first` and the commands queued behind it (up to [`BATCH`]) in one round trip.
    async fn execute(
        &mut self,
        first: Command,
        session: &mut Session,
        local: &dyn Local,
    ) -> Result<(), String> {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match self.commands.try_recv() {
                Ok(command) => batch.push(command),
                Err(_) => break,
            }
        }
        let mut pipeline = redis::pipe();
        for command in &batch {
            self.add_to(&mut pipeline, command);
        }
        let answers: RedisResult<Vec<redis::Value>> = pipeline.query_async(&mut session.connection).await;
        let Ok(answers) = answers else {
            let error = answers.err().map(|error| error.to_string()).unwrap_or_default();
            batch.into_iter().for_each(|command| self.execute_offline(command, local));
            return Err(error);
        };
        for (command, answer) in batch.into_iter().zip(answers) {
            if let Command::Claim { key, value, answer: reply } = command {
                let granted = !matches!(answer, redis::Value::Nil);
                if granted {
                    self.presence.insert(self.member_key(&key), value);
                }
                let _ = reply.send(if granted { Claim::Granted } else { Claim::Taken });
            }
        }
        Ok(())
    }

    /// Adds what `command` takes to `pipeline`, one answer per command, and notes the presence
    /// keys it sets or deletes.
    fn add_to(&mut self, pipeline: &mut Pipeline, command: &Command) {
        let ttl = PRESENCE_TTL.as_secs();
        match command {
            Command::Publish { except, message } => {
                let publication = Publication {
                    origin: self.process.to_string(),
                    except: *except,
                    message: message.clone(),
                };
                pipeline.cmd("PUBLISH").arg(&self.channel).arg(publication.encode());
            }
            Command::Present { key, value } => {
                let key = self.member_key(key);
                pipeline.cmd("SET").arg(&key).arg(value).arg("EX").arg(ttl);
                self.presence.insert(key, value.clone());
            }
            Command::Absent { key } => {
                let key = self.member_key(key);
                // Only a key of this process's: one that a conflict gave away stays.
                match self.presence.remove(&key) {
                    Some(_) => pipeline.cmd("DEL").arg(key),
                    None => pipeline.cmd("EXISTS").arg(key),
                };
            }
            // §SET: "NX -- Only set the key if it does not already exist." Nil when it did.
            Command::Claim { key, value, .. } => {
                pipeline.cmd("SET").arg(self.member_key(key)).arg(value).arg("NX").arg("EX").arg(ttl);
            }
        }
    }

    /// What `command` does while Redis is away: a broadcast reaches this process's clients, a
    /// claim is [`Claim::Unavailable`] (and the key is set once Redis is back).
    fn execute_offline(&mut self, command: Command, local: &dyn Local) {
        match command {
            Command::Publish { except, message } => {
                local.receive(Received { mine: true, except, message });
            }
            Command::Present { key, value } => {
                self.presence.insert(self.member_key(&key), value);
            }
            Command::Claim { key, value, answer } => {
                self.presence.insert(self.member_key(&key), value);
                let _ = answer.send(Claim::Unavailable);
            }
            Command::Absent { key } => {
                self.presence.remove(&self.member_key(&key));
            }
        }
    }

    fn member_key(&self, key: &str) -> String {
        format!("{}{key}", self.member_prefix)
    }

    /// Sets every presence key of this process again, with a fresh expiry, unless another
    /// process set it meanwhile (a conflict: the key is given up).
    async fn refresh(&mut self, session: &mut Session, local: &dyn Local) -> Result<(), String> {
        if self.presence.is_empty() {
            return Ok(());
        }
        let ttl = PRESENCE_TTL.as_secs();
        let keys: Vec<(String, String)> = self.presence.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let mut pipeline = redis::pipe();
        for (key, value) in &keys {
            // Set if absent, and say what was there (Redis 7: NX with GET); a fresh expiry
            // either way.
            pipeline.cmd("SET").arg(key).arg(value).arg("NX").arg("GET").arg("EX").arg(ttl);
            pipeline.cmd("EXPIRE").arg(key).arg(ttl).ignore();
        }
        let previous: Vec<Option<String>> =
            pipeline.query_async(&mut session.connection).await.map_err(|error| error.to_string())?;
        for ((key, value), previous) in keys.into_iter().zip(previous) {
            if previous.is_some_and(|previous| previous != value) {
                self.presence.remove(&key);
                let id = key.strip_prefix(&self.member_prefix).unwrap_or(&key);
                local.conflict(id);
            }
        }
        Ok(())
    }

    /// Reads every member (`SCAN`, then `MGET`) and gives them to `local`.
    async fn read_members(&mut self, session: &mut Session, local: &dyn Local) -> Result<(), String> {
        let pattern = format!("{}*", self.member_prefix);
        let mut keys: Vec<String> = Vec::new();
        let mut cursor = 0u64;
        for _ in 0..SCAN_STEPS {
            let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT)
                .query_async(&mut session.connection)
                .await
                .map_err(|error| error.to_string())?;
            keys.extend(found);
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        keys.sort_unstable();
        keys.dedup(); // SCAN may return a key twice
        let mut members = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(SCAN_COUNT) {
            let values: Vec<Option<String>> = redis::cmd("MGET")
                .arg(chunk)
                .query_async(&mut session.connection)
                .await
                .map_err(|error| error.to_string())?;
            // A key that expired between SCAN and MGET is None.
            members.extend(values.into_iter().flatten());
        }
        local.members(members);
        Ok(())
    }

    /// Waits, connects again, and again, with a growing delay; serves the commands meanwhile as
    /// [`Link::execute_offline`] does. `None` once no relay is left.
    async fn reconnect(&mut self, delay: &mut Duration, local: &dyn Local) -> Option<Session> {
        loop {
            let wait = sleep(*delay);
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    _ = &mut wait => break,
                    command = self.commands.recv() => self.execute_offline(command?, local),
                }
            }
            *delay = (*delay * 2).min(BACKOFF_MAX);
            if let Ok(session) = Session::open(&self.client, &self.channel).await {
                return Some(session);
            }
        }
    }
}

/// With `REDIS_URL` set (and not empty), connects to that Redis for the server `name`, whose keys
/// and channel start with `prefix`; hands the relay to `attach`, which returns what the link is
/// to tell, and runs the link in a task of its own. Without `REDIS_URL`, does nothing: the
/// server keeps everything in its memory.
///
/// # Errors
///
/// As [`Link::connect`]: the server is to print it and exit with status 2.
pub async fn start_from_env(
    name: &str,
    prefix: &str,
    attach: impl FnOnce(Relay) -> Arc<dyn Local>,
) -> Result<(), String> {
    let Some(url) = std::env::var("REDIS_URL").ok().filter(|url| !url.trim().is_empty()) else {
        return Ok(());
    };
    let (link, relay) = Link::connect(name, url.trim(), prefix).await?;
    tokio::spawn(link.run(attach(relay)));
    Ok(())
}

/// Decodes a presence value: a JSON object, `None` (ignored) otherwise.
pub fn decode_member(value: &str) -> Option<Map<String, Value>> {
    match serde_json::from_str(value) {
        Ok(Value::Object(fields)) => Some(fields),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publication_round_trips() {
        let publication = Publication {
            origin: "4242-9f0c1a2b".to_owned(),
            except: Some(3),
            message: json!({ "type": "joined", "name": "Ada" }),
        };
        assert_eq!(Publication::decode(publication.encode().as_bytes()), Ok(publication.clone()));
        let everyone = Publication { except: None, ..publication };
        assert_eq!(Publication::decode(everyone.encode().as_bytes()), Ok(everyone));
    }

    #[test]
    fn publication_without_except_decodes() {
        let decoded = Publication::decode(br#"{"origin":"p","message":{"type":"left","name":"Ada"}}"#);
        assert_eq!(decoded.map(|publication| publication.except), Ok(None));
    }

    #[test]
    fn malformed_publications_say_what_is_wrong() {
        for (bytes, error) in [
            (&b"{"[..], "invalid JSON"),
            (b"[]", "expected a JSON object"),
            (br#"{"message":{"type":"x"}}"#, "\"origin\""),
            (br#"{"origin":"p","except":-1,"message":{"type":"x"}}"#, "client id"),
            (br#"{"origin":"p","except":"3","message":{"type":"x"}}"#, "client id or null"),
            (br#"{"origin":"p","message":{"text":"x"}}"#, "string \"type\""),
            (br#"{"origin":"p","message":"x"}"#, "\"message\""),
            (br#"{"origin":"p","message":{"type":"x"},"admin":true}"#, "unexpected field \"admin\""),
        ] {
            match Publication::decode(bytes) {
                Ok(publication) => panic!("{:?} decoded to {publication:?}", String::from_utf8_lossy(bytes)),
                Err(message) => assert!(message.contains(error), "{message:?} lacks {error:?}"),
            }
        }
    }

    #[test]
    fn member_values_are_json_objects() {
        assert_eq!(
            decode_member(r#"{"name":"Ada"}"#).and_then(|fields| fields.get("name").cloned()),
            Some(json!("Ada"))
        );
        assert_eq!(decode_member("Ada"), None);
        assert_eq!(decode_member("[1]"), None);
    }
}
