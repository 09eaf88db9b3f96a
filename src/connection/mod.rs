//! RFC 6455 §5.5 (control frames) and §7 (closing the connection): layer 2, the state machine.
//!
//! A [`Connection`] starts after the opening handshake (see [`crate::handshake`], whose
//! handshake objects produce it). It takes bytes, time and the application's commands, and gives
//! bytes to send, [`Event`]s, a deadline and an instruction about the transport. It does every
//! MUST of the RFC itself: answers Pings, echoes the peer's Close, discards data after a Close,
//! and fails the connection with the right close code when the peer breaks the protocol.
//!
//! ```text
//!              close()                      peer's Close
//!   Open ─────────────────▶ CloseSent ─────────────────────┐ (clean)
//!    │ │                        │ close timeout, EOF,      │
//!    │ │ peer's Close (echoed)  │ violation                ▼
//!    │ └────────────────────────┼───────────────────▶  Closed { outcome, teardown }
//!    │  violation, keepalive    │                          │
//!    └──── timeout, EOF ────────┴─────────────────────▶    │ teardown (crate::transport):
//!                                                          ▼
//!        Flushing ─▶ Lingering (server; client after a failure) ─▶ Done
//!              └───▶ AwaitingEof (client after a clean close: the server closes TCP first)
//! ```
//!
//! Three things say that a connection is over, each for one reader:
//!
//! - [`Event::Closed`], reported once and last: for the application, how the WebSocket
//!   connection ended (§7.1.5, §7.1.6), clean or not, and why;
//! - [`Connection::is_closed`]: the same moment as a predicate, "_The WebSocket Connection is
//!   Closed_" (§7.1.4); nothing more can be sent or received;
//! - [`Connection::poll_transport`]: for the adapter, what to do with the socket. It stays
//!   [`Transport::Open`] after closing while the last bytes are written (up to
//!   [`Config::close_timeout`]), then says [`Transport::ShutdownWrite`] while it lingers (reading
//!   and discarding until the peer's EOF, up to [`Config::linger`]), then [`Transport::Close`].
//!
//! §7.1.1: after the closing handshake "the server SHOULD close the underlying TCP connection
//! first"; a client waits for that, up to [`Config::close_timeout`], then closes itself.
//! A connection that fails (§7.1.7) sends its Close and is closed at once: nothing after the
//! violation is processed.

use std::fmt;
use std::io::IoSlice;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::close::{CloseCode, CloseFrame};
use crate::config::Config;
use crate::error::{ConnectionError, SendError};
use crate::event::{CloseInitiator, CloseOutcome, Event};
use crate::extension::ExtensionCodec;
use crate::frame::{
    encode_frame_to_buffer, Opcode, FIN_BIT, MAX_CONTROL_PAYLOAD_LEN, RSV1_BIT, RSV2_BIT, RSV3_BIT,
};
use crate::mask::{OsSeededRng, RandomSource};
use crate::message::{Incoming, Message, MessageKind, Reassembler, Utf8Validator, WholeRun};
use crate::output::{Output, SHARED_PAYLOAD_MIN};
use crate::transport::{AfterFlush, Teardown, Transport};
use crate::Role;

mod queue;
mod send;

use queue::EventQueue;

/// Shortest keepalive interval and timeout: shorter settings are raised to it.
const MIN_KEEPALIVE: Duration = Duration::from_millis(1);

/// Where the connection is in its life (§7).
#[derive(Debug)]
enum State {
    /// Data flows both ways (§4.1: "_The WebSocket Connection is Established_").
    Open,
    /// This endpoint started the closing handshake (§7.1.2): it sent `sent` and waits for the
    /// peer's Close until `deadline`.
    CloseSent { sent: CloseFrame, deadline: Instant },
    /// "_The WebSocket Connection is Closed_" (§7.1.4): reported as `outcome`; what is left is
    /// the transport's `teardown`.
    Closed(Box<Closed>),
}

/// A closed connection: how it ended, and where its transport is.
#[derive(Debug)]
struct Closed {
    outcome: CloseOutcome,
    teardown: Teardown,
}

/// What ends the processing of input: the peer's Close, or a violation.
#[derive(Debug)]
enum Ending {
    Close(Bytes),
    Fail(ConnectionError),
}

/// An event waiting to be polled.
#[derive(Debug)]
enum Queued {
    /// Whole messages split off the input together, handed out one [`Event::Message`] at a time.
    Messages(WholeRun),
    /// Any other event.
    Event(Event),
}

/// Above this many unsent bytes, Pongs are coalesced (§5.5.3); below, every Ping gets its own.
const COALESCE_PONGS_ABOVE: usize = 16 * 1024;

/// A message being sent in parts.
#[derive(Debug)]
struct Sending {
    kind: MessageKind,
    utf8: Utf8Validator,
    /// Whether a frame of it has gone out (the next one is a continuation).
    started: bool,
    /// Whether the extension transforms it.
    transformed: bool,
}

impl Sending {
    fn new(kind: MessageKind) -> Sending {
        Sending { kind, utf8: Utf8Validator::new(), started: false, transformed: false }
    }
}

/// Keepalive Pings (§5.5.2: "A Ping frame MAY serve either as a keepalive").
#[derive(Debug)]
struct Keepalive {
    next_ping: Instant,
    /// The payload of the unanswered Ping and when it times out.
    awaiting: Option<(u64, Instant)>,
    count: u64,
}

/// Layer 2: a WebSocket connection after the opening handshake, for either role.
///
/// # The drive rule
///
/// After any input (`receive`, `receive_eof`, `receive_reset`, `handle_timeout`) or command
/// (`send_*`, `close`), follow the crate's drive rule (see the [crate docs](crate)): drain
/// [`Connection::poll_event`], write [`Connection::bytes_to_send`] and report it with
/// [`Connection::mark_sent`], act on [`Connection::poll_transport`], re-arm the timer from
/// [`Connection::poll_timeout`], wait.
///
/// # Examples
///
/// A client and a server in memory, with a fake clock:
///
/// ```
/// use std::time::{Duration, Instant};
/// use rfc6455::{CloseCode, Config, Connection, Event, Message, Role};
///
/// let now = Instant::now(); // the only clock: the core never reads one
/// let mut client = Connection::new(Role::Client, Config::default(), now);
/// let mut server = Connection::new(Role::Server, Config::default(), now);
///
/// client.send_text("Hello")?;
/// let bytes = client.bytes_to_send().to_vec();
/// client.mark_sent(bytes.len());
/// server.receive(now, &bytes);
/// assert_eq!(server.poll_event(), Some(Event::Message(Message::Text("Hello".into()))));
///
/// server.close(now, CloseCode::NORMAL_CLOSURE, "bye")?;
/// let bytes = server.bytes_to_send().to_vec();
/// server.mark_sent(bytes.len());
/// client.receive(now, &bytes); // the client echoes the Close...
/// let Some(Event::Closed(outcome)) = client.poll_event() else { panic!() };
/// assert!(outcome.clean);
/// assert_eq!(outcome.code(), CloseCode::NORMAL_CLOSURE);
/// # Ok::<(), rfc6455::SendError>(())
/// ```
pub struct Connection {
    role: Role,
    config: Config,
    reassembler: Reassembler,
    /// The negotiated extension's codec, both directions: lent to the reassembler for what
    /// arrives, used by the send path for what goes out.
    extension: Option<Box<dyn ExtensionCodec>>,
    out: Output,
    pending_pong: Option<Bytes>,
    events: EventQueue,
    state: State,
    sending: Option<Sending>,
    random: Option<Box<dyn RandomSource + Send>>,
    keepalive: Option<Keepalive>,
    /// The peer's Close or a failure met while events before it are still unpolled.
    /// (Boxed: rare, and kept small in every connection's struct.)
    deferred: Option<Box<(Instant, Ending)>>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state)
            .field("unsent", &self.unsent_len())
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A connection for `role`, open at `now` (right after the opening handshake).
    ///
    /// A client draws its masking keys from an [`OsSeededRng`] (seeded from the operating
    /// system once, here); see [`Connection::with_random`] to inject another source.
    pub fn new(role: Role, config: Config, now: Instant) -> Connection {
        let mut reassembler = Reassembler::with_limits(role, config.limits);
        reassembler.set_streaming(config.streaming);
        let random: Option<Box<dyn RandomSource + Send>> = match role {
            Role::Client => Some(Box::new(OsSeededRng::new())),
            Role::Server => None,
        };
        let mut config = config;
        // Zero durations would make deadlines that are due again as soon as they are handled.
        config.keepalive_interval = config.keepalive_interval.map(|interval| interval.max(MIN_KEEPALIVE));
        config.keepalive_timeout = config.keepalive_timeout.map(|timeout| timeout.max(MIN_KEEPALIVE));
        let keepalive = config.keepalive_interval.map(|interval| Keepalive {
            next_ping: now + interval,
            awaiting: None,
            count: 0,
        });
        Connection {
            role,
            config,
            reassembler,
            extension: None,
            out: Output::default(),
            pending_pong: None,
            events: EventQueue::default(),
            state: State::Open,
            sending: None,
            random,
            keepalive,
            deferred: None,
        }
    }

    /// Uses `random` for masking keys (clients only mask): for tests with fixed keys, or another
    /// generator.
    pub fn with_random(mut self, random: Box<dyn RandomSource + Send>) -> Connection {
        self.random = Some(random);
        self
    }

    /// Installs a negotiated extension's codec (§9): its RSV bits become legal, and messages
    /// that carry them pass through it both ways. The handshake objects
    /// ([`crate::handshake::ServerHandshake::accept`],
    /// [`crate::handshake::ClientHandshake::into_connection`]) install the codecs they
    /// negotiated; this is for a connection built by hand.
    pub fn with_extension(mut self, codec: Box<dyn ExtensionCodec>) -> Connection {
        self.reassembler.allow_rsv_bits(codec.rsv_bits());
        self.extension = Some(codec);
        self
    }

    /// Queues bytes that go out before any frame: the handshake's 101 response, or the rest of
    /// a client's request.
    pub(crate) fn queue_raw(&mut self, bytes: &[u8]) {
        self.out.tail().extend_from_slice(bytes);
    }

    /// This endpoint's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    // ----------------------------------------------------------------------------------------
    // Inputs.

    /// Bytes received from the peer at `now`. Every complete item is processed at once:
    /// messages become events, Pings are answered, a Close is echoed, a violation fails the
    /// connection (a Close with its code is queued and [`Event::Closed`] reports the error).
    ///
    /// Bytes that arrive after the peer's Close, or after the connection failed or closed, are
    /// discarded (§5.5.1, §7.1.7). When messages precede the peer's Close or a violation in the
    /// input, the Close is echoed (or sent) once the application has polled past them, so its
    /// answers to those messages go out first.
    pub fn receive(&mut self, now: Instant, bytes: &[u8]) {
        if let State::Closed(closed) = &mut self.state {
            // Lingering: read and discarded, counted against Config::linger.
            closed.teardown.receive(bytes.len());
            return;
        }
        if self.deferred.is_some() {
            return;
        }
        // The common case of a peer that sends one message at a time: one read, one message.
        if let Some(message) = self.reassembler.take_single(bytes) {
            self.queue(Queued::Event(Event::Message(message)));
            return;
        }
        self.reassembler.receive(bytes);
        while !self.is_closed() {
            // The common case first: a run of whole single-frame messages.
            let ending = match self.reassembler.take_whole_run(usize::MAX) {
                Some((run, checked)) => {
                    if !run.is_empty() {
                        self.queue(Queued::Messages(run));
                    }
                    match checked {
                        // Nothing left to decode (one read of whole messages): done.
                        Ok(()) if self.reassembler.is_drained() => break,
                        Ok(()) => continue,
                        Err(error) => Ending::Fail(error.into()),
                    }
                }
                // (The whole messages were just taken: straight to the general path.)
                None => match self.reassembler.poll_general(self.extension.as_deref_mut()) {
                    Ok(None) => break,
                    Ok(Some(item)) => match self.take_item(item) {
                        Some(ending) => ending,
                        None => continue,
                    },
                    Err(error) => Ending::Fail(error.into()),
                },
            };
            if self.events.is_empty() {
                self.end(now, ending);
            } else {
                // The application has yet to see (and perhaps answer) what came before: the
                // Close goes out after that, when the last of those events is polled.
                self.deferred = Some(Box::new((now, ending)));
                break;
            }
        }
    }

    /// Acts on an item of input: a message or fragment becomes an event, a Ping or Pong is
    /// handled; the peer's Close is returned, to end the input.
    fn take_item(&mut self, item: Incoming) -> Option<Ending> {
        match item {
            Incoming::Message(message) => self.queue(Queued::Event(Event::Message(message))),
            Incoming::Fragment(fragment) => self.queue(Queued::Event(Event::Fragment(fragment))),
            Incoming::Control(frame) => match frame.header.opcode {
                Opcode::Ping => self.handle_ping(frame.payload),
                Opcode::Pong => self.handle_pong(frame.payload),
                _ => return Some(Ending::Close(frame.payload)),
            },
        }
        None
    }

    /// The transport reached end-of-file: the peer closed TCP (or shut down its writing side).
    ///
    /// Before the closing handshake completed, the connection closes abnormally (1006, §7.1.5).
    /// What is still unsent is written (a peer that shut down writing may still read), then
    /// [`Connection::poll_transport`] says [`Transport::Close`].
    pub fn receive_eof(&mut self, now: Instant) {
        if let Some((at, ending)) = self.deferred.take().map(|deferred| *deferred) {
            self.end(at.max(now), ending);
        }
        match &mut self.state {
            State::Closed(closed) => closed.teardown.receive_eof(),
            State::Open | State::CloseSent { .. } => {
                self.pending_pong = None;
                let teardown = Teardown::new(now, self.config.close_timeout, AfterFlush::Close);
                let initiator = if self.is_open() { CloseInitiator::Remote } else { CloseInitiator::Local };
                let outcome = self.outcome(initiator, None, None, false);
                self.close_with(outcome, teardown);
            }
        }
    }

    /// The transport failed: a read or write error (a reset, a broken pipe), or a write that
    /// took 0 bytes. Nothing more can be sent or received; [`Connection::poll_transport`] says
    /// [`Transport::Close`]. Before the closing handshake completed, the connection closes
    /// abnormally (1006, §7.1.5).
    pub fn receive_reset(&mut self, now: Instant) {
        self.receive_eof(now);
        if let State::Closed(closed) = &mut self.state {
            closed.teardown.receive_reset();
        }
        self.discard_output_once_done();
    }

    /// Time passed: acts on every deadline up to `now` (keepalive, close timeout, flushing,
    /// lingering). Calling it again with the same `now`, or early, does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        let unsent = self.unsent_len();
        match &mut self.state {
            State::Open => self.handle_keepalive(now),
            State::CloseSent { deadline, .. } if now >= *deadline => {
                // The peer did not answer our Close (§7.1.1 lets us close TCP then). If our Close
                // is written, linger; if the peer has not even taken it, close at once.
                let teardown =
                    if unsent > 0 { Teardown::Done } else { Teardown::lingering(now, self.config.linger) };
                let outcome = self.outcome(CloseInitiator::Local, None, None, false);
                self.close_with(
                    CloseOutcome { error: Some(ConnectionError::CloseTimeout), ..outcome },
                    teardown,
                );
            }
            State::CloseSent { .. } => {}
            State::Closed(closed) => closed.teardown.handle_timeout(now, unsent),
        }
        self.discard_output_once_done();
    }

    /// Once the transport is to be closed, what is unsent never will be: it goes, so nothing
    /// is left for an adapter to write.
    fn discard_output_once_done(&mut self) {
        if let State::Closed(closed) = &self.state {
            if closed.teardown.is_done() && self.unsent_len() > 0 {
                self.out = Output::default();
                self.pending_pong = None;
            }
        }
    }

    /// Whether [`Connection::poll_event`] has an event to give: an adapter that takes events
    /// only when its application asks (a `Stream`) reads no more input until they are taken.
    ///
    /// Taking events early, to queue them elsewhere, would tell the connection the application
    /// has seen them: a Close that waits for the application's answers would go out first.
    #[inline]
    pub fn has_events(&self) -> bool {
        !self.events.is_empty() || self.deferred.is_some()
    }

    /// The next event, if any.
    #[inline]
    pub fn poll_event(&mut self) -> Option<Event> {
        // (Looked at where it is called: a task that looks before it reads, and after, finds
        // nothing about half the time.)
        if !self.has_events() {
            return None;
        }
        self.next_event()
    }

    /// [`Connection::poll_event`] once something is queued, or an ending waits for the queue to
    /// empty.
    fn next_event(&mut self) -> Option<Event> {
        // The common case first: the next of a run of messages. (The message is the last thing
        // made, so that it is made where it is returned.)
        let Some(front) = self.events.front_mut() else {
            // Nothing queued: an ending waits for the queue to empty.
            return self.poll_other_event();
        };
        match front {
            Queued::Messages(messages) => {
                if messages.remaining() > 1 {
                    return messages.next_message().map(Event::Message);
                }
                // The last one: the run leaves the queue with it.
                if let Some(Queued::Messages(mut last)) = self.pop_queued() {
                    if let Some(message) = last.next_message() {
                        return Some(Event::Message(message));
                    }
                }
            }
            // A message on its own (one read, one message): nothing waits for the queue to
            // empty while it is not.
            Queued::Event(Event::Message(_)) => {
                if let Some(Queued::Event(event)) = self.pop_queued() {
                    return Some(event);
                }
            }
            Queued::Event(_) => {}
        }
        self.poll_other_event()
    }

    /// [`Connection::poll_event`] for anything but a message of a run (kept out of line, so the
    /// common case stays small).
    #[inline(never)]
    fn poll_other_event(&mut self) -> Option<Event> {
        if self.events.is_empty() {
            // Everything before the peer's Close (or the violation) has been seen, and answered:
            // act on it now.
            if let Some((now, ending)) = self.deferred.take().map(|deferred| *deferred) {
                self.end(now, ending);
            }
        }
        match self.pop_queued()? {
            Queued::Event(event) => Some(event),
            Queued::Messages(mut messages) => {
                // Not reached (a run leaves the queue with its last message), but harmless.
                let message = messages.next_message();
                if !messages.is_empty() {
                    self.events.push_front(Queued::Messages(messages));
                }
                message.map(Event::Message)
            }
        }
    }

    /// Appends to the event queue.
    #[inline]
    fn queue(&mut self, queued: Queued) {
        self.events.push_back(queued);
    }

    /// Removes the front of the event queue.
    #[inline]
    fn pop_queued(&mut self) -> Option<Queued> {
        self.events.pop_front()
    }

    /// The next deadline: call [`Connection::handle_timeout`] then. `None`: no timer needed.
    #[inline]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Open => self.keepalive.as_ref().map(|keepalive| match keepalive.awaiting {
                Some((_, deadline)) => deadline.min(keepalive.next_ping),
                None => keepalive.next_ping,
            }),
            State::CloseSent { deadline, .. } => Some(*deadline),
            State::Closed(closed) => closed.teardown.deadline(),
        }
    }

    /// What to do with the transport at `now`: keep it [`Transport::Open`], shut down its
    /// writing side and linger ([`Transport::ShutdownWrite`]), or [`Transport::Close`] it. Ask
    /// after writing, as the drive rule in the crate docs says: the answer moves on once the
    /// last bytes are written.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use rfc6455::{CloseCode, Config, Connection, Role, Transport};
    ///
    /// let now = Instant::now();
    /// let mut server = Connection::new(Role::Server, Config::default(), now);
    /// server.close(now, CloseCode::GOING_AWAY, "restart")?;
    /// // The client answers with its Close (masked, empty body).
    /// server.receive(now, &[0x88, 0x80, 1, 2, 3, 4]);
    /// assert!(server.is_closed());
    /// assert_eq!(server.poll_transport(now), Transport::Open); // our Close is not written yet
    /// let written = server.bytes_to_send().len();
    /// server.mark_sent(written);
    /// assert_eq!(server.poll_transport(now), Transport::ShutdownWrite); // FIN, then drain
    /// server.receive_eof(now); // the client closed too
    /// assert_eq!(server.poll_transport(now), Transport::Close);
    /// # Ok::<(), rfc6455::SendError>(())
    /// ```
    #[inline]
    pub fn poll_transport(&mut self, now: Instant) -> Transport {
        let unsent = self.unsent_len();
        match &mut self.state {
            State::Open | State::CloseSent { .. } => Transport::Open,
            State::Closed(closed) => closed.teardown.poll(now, unsent),
        }
    }

    /// Whether the connection is open: data may be sent.
    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open)
    }

    /// Whether the WebSocket connection is closed (§7.1.4): [`Event::Closed`] is queued or was
    /// reported, and nothing more is sent or received. The transport may still be needed: see
    /// [`Connection::poll_transport`].
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed(_))
    }

    /// How the connection closed, once it has ([`Event::Closed`] reports the same).
    pub fn close_outcome(&self) -> Option<&CloseOutcome> {
        match &self.state {
            State::Closed(closed) => Some(&closed.outcome),
            _ => None,
        }
    }

    /// Spare capacity of the connection's buffers as `BytesMut::capacity` reports it (a lower
    /// bound of the heap they hold; not counting events not yet polled).
    pub fn buffered_capacity(&self) -> usize {
        self.out.capacity() + self.reassembler.capacity()
    }

    // ----------------------------------------------------------------------------------------
    // The state machine.

    fn handle_ping(&mut self, payload: Bytes) {
        // §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in response,
        // unless it already received a Close frame" (which ends processing: we never get here).
        if self.config.auto_pong {
            if self.out.len() > COALESCE_PONGS_ABOVE {
                // §5.5.3: while earlier Pongs are unsent, a Pong for only the most recent Ping
                // is allowed: under backpressure, keep just that one.
                self.pending_pong = Some(payload.clone());
            } else {
                self.pending_pong = None;
                self.write_frame(true, Opcode::Pong, 0, &payload);
            }
        }
        // Without auto_pong the application answers: it must see every Ping.
        if self.config.deliver_control_frames || !self.config.auto_pong {
            self.queue(Queued::Event(Event::Ping(payload)));
        }
    }

    fn handle_pong(&mut self, payload: Bytes) {
        if let Some(keepalive) = &mut self.keepalive {
            if matches!(keepalive.awaiting, Some((count, _)) if payload[..] == count.to_be_bytes()) {
                keepalive.awaiting = None;
            }
        }
        if self.config.deliver_control_frames {
            self.queue(Queued::Event(Event::Pong(payload)));
        }
    }

    fn handle_close(&mut self, now: Instant, payload: &[u8]) {
        let close = match CloseFrame::decode(payload) {
            Ok(close) => close,
            Err(error) => return self.fail(now, error.into()),
        };
        let received = Some(CloseFrame::status_of(close.as_ref()));
        let (initiator, sent) = match self.state {
            State::Open => {
                // §5.5.1: "If an endpoint receives a Close frame and did not previously send a
                // Close frame, the endpoint MUST send a Close frame in response. (When sending a
                // Close frame in response, the endpoint typically echos the status code it
                // received.)" The reason is echoed too, as Node `ws` and Python `websockets` do;
                // an empty Close is answered empty.
                (CloseInitiator::Remote, Some(self.write_close(close.as_ref())))
            }
            _ => (CloseInitiator::Local, None),
        };
        let then = match self.role {
            // §7.1.1: "the server SHOULD close the underlying TCP connection first".
            Role::Server => AfterFlush::Linger(self.config.linger),
            Role::Client => {
                AfterFlush::AwaitEof { wait: self.config.close_timeout, linger: self.config.linger }
            }
        };
        let teardown = Teardown::new(now, self.config.close_timeout, then);
        let outcome = self.outcome(initiator, sent, received, true);
        self.close_with(outcome, teardown);
    }

    /// Acts on the peer's Close, or fails the connection.
    fn end(&mut self, now: Instant, ending: Ending) {
        match ending {
            Ending::Close(payload) => self.handle_close(now, &payload),
            Ending::Fail(error) => self.fail(now, error),
        }
    }

    fn handle_keepalive(&mut self, now: Instant) {
        let Some(keepalive) = &mut self.keepalive else { return };
        if matches!(keepalive.awaiting, Some((_, deadline)) if now >= deadline) {
            return self.fail(now, ConnectionError::KeepaliveTimeout);
        }
        if now < keepalive.next_ping {
            return;
        }
        let interval = self.config.keepalive_interval.unwrap_or_default();
        keepalive.next_ping = now + interval;
        if keepalive.awaiting.is_none() {
            keepalive.count += 1;
            let timeout = self.config.keepalive_timeout.unwrap_or(interval);
            keepalive.awaiting = Some((keepalive.count, now + timeout));
            let payload = keepalive.count.to_be_bytes();
            self.write_frame(true, Opcode::Ping, 0, &payload);
        }
    }

    /// §7.1.7 "Fail the WebSocket Connection": send a Close with the error's code (unless one
    /// was sent already), process nothing more, close; the Close must still arrive, so the
    /// transport is flushed and lingers.
    fn fail(&mut self, now: Instant, error: ConnectionError) {
        let mut sent = None;
        if self.is_open() {
            self.pending_pong = None;
            let reason = match &error {
                ConnectionError::Protocol(error) => error.to_string(),
                other => other.to_string(),
            };
            // Every failure has a sendable code (a close timeout never fails an open connection).
            let close = CloseFrame::truncating(error.close_code(), &reason).ok();
            sent = Some(self.write_close(close.as_ref()));
        }
        let teardown = Teardown::new(now, self.config.close_timeout, AfterFlush::Linger(self.config.linger));
        let outcome = self.outcome(CloseInitiator::Local, sent, None, false);
        self.close_with(CloseOutcome { error: Some(error), ..outcome }, teardown);
    }

    /// How the connection ends now: `sent` is the Close just written, if any (else the one sent
    /// when the closing handshake started).
    fn outcome(
        &self,
        initiator: CloseInitiator,
        sent: Option<CloseFrame>,
        received: Option<CloseFrame>,
        clean: bool,
    ) -> CloseOutcome {
        let sent = match &self.state {
            State::CloseSent { sent, .. } => Some(sent.clone()),
            _ => sent,
        };
        CloseOutcome { initiator, sent, received, clean, error: None }
    }

    /// Closes the WebSocket connection: reports `outcome` as [`Event::Closed`] (once, last) and
    /// hands the transport to `teardown`.
    fn close_with(&mut self, outcome: CloseOutcome, teardown: Teardown) {
        if self.is_closed() {
            return;
        }
        self.queue(Queued::Event(Event::Closed(outcome.clone())));
        self.state = State::Closed(Box::new(Closed { outcome, teardown }));
    }
}
