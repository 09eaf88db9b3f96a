//! [`WebSocket`]: a [`Connection`] driven over a tokio transport, as a `Stream` of messages and a
//! `Sink` of them, and its halves; the state they share with [`Sender`]s.
//!
//! Everything lives in one shared struct behind a mutex that no `.await` ever holds: the
//! transport, the connection, the events not yet taken, the timer. Whoever polls (the reader,
//! the writer, a sender) runs the same drive rule on it, so the connection makes progress as long
//! as any of them is waiting, and the others are woken when it did something for them.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use ::tokio::io::{AsyncRead, AsyncWrite};
use futures_core::Stream;
use futures_sink::Sink;

use super::driver::{Driver, Pass, Woken};
use super::sender::{Commands, Sender};
use super::wakers::{Role, Wakers};
use super::{Error, Options};
use crate::close::CloseCode;
use crate::connection::Connection;
use crate::error::SendError;
use crate::event::{CloseOutcome, Event};
use crate::message::Message;

mod sending;

use sending::send;

/// Passes of the drive rule per poll before yielding to other tasks (tokio's budget, in spirit):
/// a peer that sends without pause cannot hold a worker thread.
const PASSES_PER_POLL: usize = 32;

/// Drives per poll, each followed by a look at what the caller waits for.
const DRIVES_PER_POLL: usize = 4;

/// A WebSocket connection over any tokio transport: a [`Stream`] of the messages received and a
/// [`Sink`] of messages to send, built on the sans-IO [`Connection`].
///
/// Make one with [`super::accept`], [`super::connect`] (or their `_with` variants), or
/// [`WebSocket::from_connection`] for a transport upgraded elsewhere (hyper, axum).
///
/// - [`WebSocket::recv`] (or `StreamExt::next`) gives the next data message; `None` after a
///   normal close, or `Some(Err(..))` once, then `None`, when it was not normal (§7.1.5). Pings
///   are answered by the core. [`WebSocket::next_event`] gives every event instead (pieces of a
///   message in streaming mode, Pings and Pongs if asked for, how it closed).
/// - [`WebSocket::send`] (or `SinkExt::send`) queues a message and writes it out.
/// - [`WebSocket::close`] closes with a code and waits for the connection to end: the closing
///   handshake, then the lingering close, so the peer reads the Close instead of a reset.
/// - [`WebSocket::split`] gives halves two tasks can use at once; [`WebSocket::sender`] a
///   cloneable handle for any number of other tasks.
///
/// Every method is cancel-safe: the state lives in this struct, never in a future, so a
/// `recv()` or `send()` dropped inside `tokio::select!` loses, repeats and corrupts nothing. A
/// message is queued whole or not at all; `send` only waits before queueing (for room under the
/// high-water mark) and after (for the bytes to be written, which the next call carries on).
///
/// Backpressure: sending waits while more than [`Options::high_water_mark`] bytes wait to be
/// written, and reading waits until the application has taken what was read (a read's worth of
/// messages at a time). An application that answers each message before it takes the next
/// (an echo) thus stops reading from a peer that does not read its answers: memory stays near
/// the high-water mark. One that reads from its own task ([`WebSocket::split`]) keeps reading.
///
/// Dropping a `WebSocket` drops the transport at once, like dropping a `TcpStream`: call
/// [`WebSocket::close`] first (or read until `None`) for a Close that arrives.
pub struct WebSocket<IO> {
    shared: Arc<Shared<IO>>,
}

/// The reading half of a [`WebSocket`], from [`WebSocket::split`]: a [`Stream`] of messages.
pub struct ReadHalf<IO> {
    shared: Arc<Shared<IO>>,
}

/// The writing half of a [`WebSocket`], from [`WebSocket::split`]: a [`Sink`] of messages.
pub struct WriteHalf<IO> {
    shared: Arc<Shared<IO>>,
}

/// The state every handle shares.
pub(super) struct Shared<IO> {
    inner: Mutex<Inner<IO>>,
    /// The waker given to the transport and the timer: it wakes every task waiting.
    wakers: Arc<Wakers>,
    waker: Waker,
}

pub(super) struct Inner<IO> {
    driver: Driver<IO, Connection>,
    /// Events taken from the connection ahead of the application: while it waits in `close`,
    /// and the `Closed` event held until the transport is closed.
    events: VecDeque<Event>,
    high_water_mark: usize,
    max_queue: usize,
    /// The application closed and waits for the end: reading goes on whatever waits to be
    /// taken, and what arrives beyond [`Options::max_queue`] events is dropped.
    closing: bool,
    /// The stream's end was reported.
    ended: bool,
    /// The last drive ended with nothing more to do now (every source that can wake the task
    /// was polled and answered `Pending`), and nothing touched the connection since: until the
    /// shared waker is woken, another drive would find the same ([`Shared::drive`] skips it).
    /// Whatever changes the connection goes through [`Inner::connection`], which clears it.
    settled: bool,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Shared<IO> {
    fn new(driver: Driver<IO, Connection>, options: &Options) -> Shared<IO> {
        let wakers = Arc::new(Wakers::default());
        Shared {
            inner: Mutex::new(Inner {
                driver,
                events: VecDeque::new(),
                high_water_mark: options.high_water_mark,
                max_queue: options.max_queue.max(1),
                closing: false,
                ended: false,
                settled: false,
            }),
            waker: Waker::from(Arc::clone(&wakers)),
            wakers,
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Inner<IO>> {
        // A panic inside the lock can only come from the application's closure
        // (`with_connection`); the state is still consistent, the core never panics half-way.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Polls `until` on the state, driving the connection between tries, as `role`.
    pub(super) fn poll_until<T>(
        &self,
        cx: &mut Context<'_>,
        role: Role,
        mut until: impl FnMut(&mut Inner<IO>) -> Poll<T>,
    ) -> Poll<T> {
        self.wakers.register(role, cx.waker());
        let mut inner = self.lock();
        let mut drives = 0;
        // Drive until `until` is met or a drive changes nothing: then the last drive ran with
        // the state as `until` left it (an event taken lets reading resume), so every source
        // that can wake us is registered.
        let result = loop {
            if let Poll::Ready(value) = until(&mut inner) {
                break Poll::Ready(value);
            }
            if drives == DRIVES_PER_POLL {
                // The budget ran out while input kept coming: let other tasks run, then go on.
                cx.waker().wake_by_ref();
                break Poll::Pending;
            }
            if !self.drive(&mut inner) {
                break Poll::Pending;
            }
            drives += 1;
        };
        drop(inner);
        if drives > 0 {
            self.wakers.wake_others(cx.waker(), Some(role));
        }
        result
    }

    /// Drives the connection ([`Inner::drive`]) with the shared waker, saying whether it was
    /// woken since the last drive: the one pairing that lets a drive skip a read or timer still
    /// waiting to wake it. If the last drive [settled](Inner::settled) and nothing woke the
    /// waker since, there is nothing to do: an echo's `recv` right after its `send` costs no
    /// pass.
    fn drive(&self, inner: &mut Inner<IO>) -> bool {
        let woken = self.wakers.take_woken();
        if woken == Woken::No && inner.settled {
            return false;
        }
        inner.drive(&mut Context::from_waker(&self.waker), woken)
    }

    /// Runs `command` on the connection, then writes what the transport takes at once (what
    /// it does not take, the transport's wake-up hands to a waiting task).
    pub(super) fn run_command<T>(&self, command: impl FnOnce(&mut Connection) -> T) -> T {
        let mut inner = self.lock();
        let result = command(inner.connection());
        // The command may have read the clock itself (a Close from a `Sender`).
        inner.driver.forget_clock();
        let progress = self.drive(&mut inner);
        drop(inner);
        if progress {
            self.wakers.wake_others(&self.waker, None);
        }
        result
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Inner<IO> {
    /// The drive rule until nothing more can be done now, in passes. Events stay in the
    /// connection until the application takes them ([`Inner::take_event`]): taking one tells
    /// the core it was seen, and a Close held back for the application's answers would go out
    /// before them. So reading waits until they are taken, except while the application waits
    /// in `close`.
    ///
    /// Reading does not wait for the high-water mark itself: an application that answers
    /// before it reads on waits in `send` above the mark and takes nothing, so reading stops
    /// for it; one that reads from another task (split) keeps reading, so two such endpoints
    /// sending to each other cannot both wait for the other to read.
    ///
    /// `true` if anything changed that another task may wait for (input, room under the
    /// high-water mark, the end).
    ///
    /// `cx` is always the shared waker's, and `woken` says whether it was woken since the last
    /// drive ([`Shared::drive`] pairs them): if not, a read or timer that answered `Pending` is
    /// not polled again.
    fn drive(&mut self, cx: &mut Context<'_>, woken: Woken) -> bool {
        let before = (self.driver.endpoint.unsent_len(), self.driver.is_closed());
        let mut read = false;
        self.settled = false;
        for _ in 0..PASSES_PER_POLL {
            let may_read = self.closing || !self.has_pending();
            let pass = self.driver.poll_pass(cx, may_read, woken);
            if self.closing {
                self.take_ahead();
            }
            if pass != Pass::Read {
                // Idle: everything that can wake the task was polled and is waiting to.
                self.settled = pass == Pass::Idle;
                let after = (self.driver.endpoint.unsent_len(), self.driver.is_closed());
                return read || after != before;
            }
            read = true;
            if !self.closing && self.has_pending() && self.driver.endpoint.unsent_len() == 0 {
                // Events to take and nothing to write: they are the caller's first (reading
                // waits for them anyway); its next drive arms the timer.
                return true;
            }
        }
        cx.waker().wake_by_ref();
        true
    }

    /// The connection, to change it: the next drive then runs ([`Inner::settled`]).
    pub(super) fn connection(&mut self) -> &mut Connection {
        self.settled = false;
        &mut self.driver.endpoint
    }

    /// Whether events wait to be taken (a held [`Event::Closed`] does not count: it waits for
    /// the transport, which reading ends).
    fn has_pending(&self) -> bool {
        self.driver.endpoint.has_events()
            || (!self.events.is_empty() && self.events.iter().any(|event| !matches!(event, Event::Closed(_))))
    }

    /// While the application waits in `close`, its Close is out and there is nothing left to
    /// answer: events are taken from the connection as they come, kept up to
    /// [`Options::max_queue`], and the rest dropped ([`Event::Closed`] is always kept).
    fn take_ahead(&mut self) {
        while let Some(event) = self.driver.endpoint.poll_event() {
            if self.events.len() < self.max_queue || matches!(event, Event::Closed(_)) {
                self.events.push_back(event);
            }
        }
    }

    /// The next event, once it may be taken: `Closed` only once the transport is closed too
    /// (after the lingering close), so a caller that stops at it drops nothing early.
    fn take_event(&mut self) -> Poll<Option<Event>> {
        let event = match self.events.pop_front() {
            Some(event) => Some(event),
            None => self.driver.endpoint.poll_event(),
        };
        // Taking an event lets reading resume (and may send a Close that waited for it).
        self.settled &= event.is_none();
        match event {
            Some(Event::Closed(outcome)) if !self.driver.is_closed() => {
                self.events.push_front(Event::Closed(outcome));
                Poll::Pending
            }
            Some(event) => Poll::Ready(Some(event)),
            None if self.driver.is_closed() => Poll::Ready(None),
            None => Poll::Pending,
        }
    }

    /// The next data message, or how the stream ends.
    fn take_message(&mut self) -> Poll<Option<Result<Message, Error>>> {
        loop {
            if self.ended {
                return Poll::Ready(None);
            }
            let event = match self.take_event() {
                Poll::Ready(Some(event)) => event,
                Poll::Ready(None) => {
                    self.ended = true;
                    return Poll::Ready(self.driver.error.take().map(|error| Err(Error::Io(error))));
                }
                Poll::Pending => return Poll::Pending,
            };
            match event {
                Event::Message(message) => return Poll::Ready(Some(Ok(message))),
                Event::Ping(_) | Event::Pong(_) => {}
                Event::Closed(outcome) => {
                    self.ended = true;
                    return Poll::Ready(match self.driver.error.take() {
                        // After a closing handshake, the transport's end is only noise (a
                        // TLS peer that leaves without close_notify).
                        Some(error) if !outcome.clean => Some(Err(Error::Io(error))),
                        _ if is_normal(&outcome) => None,
                        _ => Some(Err(Error::Closed(Box::new(outcome)))),
                    });
                }
                other => {
                    return Poll::Ready(Some(Err(Error::Unexpected(Box::new(other)))));
                }
            }
        }
    }

    pub(super) fn is_open(&self) -> bool {
        self.driver.endpoint.is_open()
    }

    pub(super) fn has_room(&self) -> bool {
        self.driver.endpoint.unsent_len() <= self.high_water_mark || self.driver.is_closed()
    }

    /// Ends the connection's life: `Ok` once the transport is closed, the I/O error if it failed.
    fn closed(&mut self) -> Poll<Result<(), Error>> {
        if !self.driver.is_closed() {
            return Poll::Pending;
        }
        Poll::Ready(self.io_result())
    }

    /// The transport's error, if it failed before a clean close (a copy: the reading side
    /// reports the original). After the closing handshake, how the transport ended does not
    /// matter (a TLS peer that leaves without close_notify).
    #[inline]
    fn io_result(&self) -> Result<(), Error> {
        match &self.driver.error {
            None => Ok(()),
            Some(error) => self.io_error_result(error),
        }
    }

    /// [`Inner::io_result`] once the transport failed.
    #[inline(never)]
    fn io_error_result(&self, error: &std::io::Error) -> Result<(), Error> {
        match self.driver.endpoint.close_outcome() {
            Some(outcome) if outcome.clean => Ok(()),
            _ => Err(Error::Io(std::io::Error::new(error.kind(), error.to_string()))),
        }
    }

    fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        let now = self.driver.now();
        match self.connection().close(now, code, reason) {
            // Already closing: waiting for the end is all that is left.
            Ok(()) | Err(SendError::Closing) => Ok(()),
            Err(error) => Err(Error::Send(error)),
        }
    }
}

/// A normal end (Python `websockets`' `ConnectionClosedOK`): no failure, and both Close frames
/// had 1000 (Normal Closure), 1001 (Going Away) or no code.
fn is_normal(outcome: &CloseOutcome) -> bool {
    let normal = |status: &Option<crate::CloseFrame>| {
        status.as_ref().is_some_and(|status| {
            matches!(
                status.code,
                CloseCode::NORMAL_CLOSURE | CloseCode::GOING_AWAY | CloseCode::NO_STATUS_RCVD
            )
        })
    };
    outcome.error.is_none() && normal(&outcome.received) && normal(&outcome.sent)
}

/// The reading side's polls, shared by [`WebSocket`] and [`ReadHalf`].
fn poll_recv<IO: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared<IO>,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Message, Error>>> {
    shared.poll_until(cx, Role::Reader, Inner::take_message)
}

fn poll_next_event<IO: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared<IO>,
    cx: &mut Context<'_>,
) -> Poll<Option<Event>> {
    shared.poll_until(cx, Role::Reader, Inner::take_event)
}

/// The futures of `recv` and `next_event`, shared by [`WebSocket`] and [`ReadHalf`]: plain
/// futures, not `async fn`s around them (a state machine less to step through per message).
fn recv<IO: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared<IO>,
) -> impl Future<Output = Option<Result<Message, Error>>> + '_ {
    std::future::poll_fn(move |cx| poll_recv(shared, cx))
}

fn next_event<IO: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared<IO>,
) -> impl Future<Output = Option<Event>> + '_ {
    std::future::poll_fn(move |cx| poll_next_event(shared, cx))
}

/// The writing side's polls, shared by [`WebSocket`] and [`WriteHalf`].
fn poll_ready<IO: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared<IO>,
    cx: &mut Context<'_>,
) -> Poll<Result<(), Error>> {
    shared.poll_until(
        cx,
        Role::Writer,
        |inner| if inner.has_room() { Poll::Ready(Ok(())) } else { Poll::Pending },
    )
}

fn start_send<IO: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared<IO>,
    message: &Message,
) -> Result<(), Error> {
    shared.lock().connection().send_message(message).map_err(Error::Send)
}

fn poll_flush<IO: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared<IO>,
    cx: &mut Context<'_>,
) -> Poll<Result<(), Error>> {
    shared.poll_until(cx, Role::Writer, |inner| {
        if inner.driver.is_flushed() {
            Poll::Ready(inner.io_result())
        } else {
            Poll::Pending
        }
    })
}

fn poll_close<IO: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared<IO>,
    cx: &mut Context<'_>,
    code: CloseCode,
    reason: &str,
) -> Poll<Result<(), Error>> {
    {
        let mut inner = shared.lock();
        if inner.driver.endpoint.is_open() {
            inner.start_close(code, reason)?;
        }
        inner.closing = true;
        inner.settled = false;
    }
    shared.poll_until(cx, Role::Writer, Inner::closed)
}

impl<IO: AsyncRead + AsyncWrite + Unpin> WebSocket<IO> {
    /// A `WebSocket` over `io`, whose opening handshake is done, carried on by `connection`
    /// (from [`crate::handshake::ServerHandshake::accept`], hyper's upgrade with the `http`
    /// feature's `AcceptResponse::into_connection`, or a test). Anything the connection has
    /// queued (a 101 response, say) is written first.
    ///
    /// Uses [`Options::high_water_mark`] and [`Options::max_queue`]; the connection already has
    /// its [`crate::Config`].
    pub fn from_connection(io: IO, connection: Connection, options: &Options) -> WebSocket<IO> {
        WebSocket::from_driver(Driver::new(io, connection), options)
    }

    pub(crate) fn from_driver(driver: Driver<IO, Connection>, options: &Options) -> WebSocket<IO> {
        WebSocket { shared: Arc::new(Shared::new(driver, options)) }
    }

    /// Writes what the connection has queued (the handshake's 101, a Ping), as `send` does
    /// after queueing a message.
    pub(super) async fn flush_queued(&self) -> Result<(), Error> {
        std::future::poll_fn(|cx| poll_flush(&self.shared, cx)).await
    }

    /// The next data message: `None` once the connection closed normally (both Close frames
    /// 1000, 1001 or without a code), after the transport is closed.
    ///
    /// Cancel-safe: a dropped `recv()` leaves the next message for the next call.
    ///
    /// # Errors
    ///
    /// Once, at the end, then `None`: [`Error::Closed`] for any other end (a failure, a code
    /// such as 1008, the transport ending without a Close: §7.1.5), [`Error::Io`] if the
    /// transport failed. [`Error::Unexpected`] for a piece of a message in streaming mode
    /// ([`crate::Config::streaming`]): use [`WebSocket::next_event`] then.
    pub fn recv(&mut self) -> impl Future<Output = Option<Result<Message, Error>>> + '_ {
        recv(&self.shared)
    }

    /// The next of the connection's events: messages (or their pieces in streaming mode),
    /// Pings and Pongs if [`crate::Config::deliver_control_frames`] asks for them, and
    /// [`Event::Closed`] last, once the transport is closed too; then `None`.
    ///
    /// Cancel-safe, as [`WebSocket::recv`].
    pub fn next_event(&mut self) -> impl Future<Output = Option<Event>> + '_ {
        next_event(&self.shared)
    }

    /// Sends a message: waits while more than the high-water mark waits to be written, queues
    /// the message, then writes until everything queued is out.
    ///
    /// While messages already read wait to be taken, it returns once the message is queued:
    /// the answers to a batch of messages go out together when the last of them is answered
    /// (or the next call drives the connection), one write for the batch.
    ///
    /// Cancel-safe: dropped while waiting for room, nothing was queued; dropped while writing,
    /// the message is queued whole and goes out with the next call that polls the connection.
    ///
    /// # Errors
    ///
    /// [`Error::Send`] with [`SendError::Closing`] once the closing handshake started;
    /// [`Error::Io`] if the transport failed.
    pub fn send(&mut self, message: Message) -> impl Future<Output = Result<(), Error>> + '_ {
        send(&self.shared, message, true)
    }

    /// Sends a Ping (§5.5.2) with `payload` (at most 125 bytes), and writes it out.
    ///
    /// # Errors
    ///
    /// As [`WebSocket::send`], and [`SendError::ControlPayloadTooLong`].
    pub async fn send_ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.shared.lock().connection().send_ping(payload)?;
        self.flush_queued().await
    }

    /// Closes the connection with `code` and `reason` (§7.1.2) and waits until it has ended:
    /// the peer's Close (or [`crate::Config::close_timeout`]), then the lingering close.
    ///
    /// Reading goes on until the peer's Close, whatever the application takes, so a peer still
    /// sending cannot stall the closing handshake. Messages that arrive meanwhile stay queued
    /// for [`WebSocket::recv`] up to [`Options::max_queue`] events; beyond that, they are
    /// dropped: the application said it was done (read from a [`ReadHalf`] meanwhile to get
    /// them all).
    ///
    /// Already closing: waits for the end. The outcome is then in
    /// [`WebSocket::close_outcome`].
    ///
    /// # Errors
    ///
    /// [`Error::Send`] for a code or reason that may not be sent (§7.4, over 123 bytes);
    /// [`Error::Io`] if the transport failed.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        std::future::poll_fn(|cx| poll_close(&self.shared, cx, code, reason)).await
    }

    /// How the connection closed, once it has (§7.1.5, §7.1.6).
    pub fn close_outcome(&self) -> Option<CloseOutcome> {
        self.shared.lock().driver.endpoint.close_outcome().cloned()
    }

    /// Whether the connection is open: no Close sent or received yet.
    pub fn is_open(&self) -> bool {
        self.shared.lock().driver.endpoint.is_open()
    }

    /// The transport's error, if reading or writing failed: what [`WebSocket::recv`] ends with,
    /// for code that reads with [`WebSocket::next_event`] (whose [`Event::Closed`] then says
    /// 1006, not clean).
    pub fn io_error(&self) -> Option<std::io::Error> {
        self.shared.lock().io_result().err().map(std::io::Error::from)
    }

    /// Runs `command` on the sans-IO connection (any of its commands: a message in fragments, a
    /// Pong, a close), then writes what the transport takes at once; the rest goes out with the
    /// next call that polls the connection.
    ///
    /// ```no_run
    /// # async fn example(ws: &mut rfc6455::tokio::WebSocket<tokio::net::TcpStream>) -> Result<(), rfc6455::SendError> {
    /// use rfc6455::MessageKind;
    ///
    /// ws.with_connection(|connection| {
    ///     connection.begin_message(MessageKind::Text)?;
    ///     connection.send_fragment(b"Hello, ", false)?;
    ///     connection.send_fragment(b"world", true)
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn with_connection<T>(&self, command: impl FnOnce(&mut Connection) -> T) -> T {
        self.shared.run_command(command)
    }

    /// Splits the socket into a writing and a reading half that two tasks can use at once (the
    /// order of tokio-tungstenite's `split`).
    pub fn split(self) -> (WriteHalf<IO>, ReadHalf<IO>) {
        self.shared.wakers.split();
        (WriteHalf { shared: Arc::clone(&self.shared) }, ReadHalf { shared: self.shared })
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin + Send + 'static> WebSocket<IO> {
    /// A handle other tasks send through (see [`Sender`]).
    pub fn sender(&self) -> Sender {
        let shared: Arc<dyn Commands> = Arc::clone(&self.shared) as Arc<dyn Commands>;
        Sender::new(Arc::downgrade(&shared))
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> ReadHalf<IO> {
    /// As [`WebSocket::recv`].
    ///
    /// # Errors
    ///
    /// As [`WebSocket::recv`].
    pub fn recv(&mut self) -> impl Future<Output = Option<Result<Message, Error>>> + '_ {
        recv(&self.shared)
    }

    /// As [`WebSocket::next_event`].
    pub fn next_event(&mut self) -> impl Future<Output = Option<Event>> + '_ {
        next_event(&self.shared)
    }

    /// As [`WebSocket::io_error`].
    pub fn io_error(&self) -> Option<std::io::Error> {
        self.shared.lock().io_result().err().map(std::io::Error::from)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> WriteHalf<IO> {
    /// As [`WebSocket::send`], without batching: it always writes until everything queued is
    /// out (the reading half, another task, may take a while to take what it read).
    ///
    /// # Errors
    ///
    /// As [`WebSocket::send`].
    pub fn send(&mut self, message: Message) -> impl Future<Output = Result<(), Error>> + '_ {
        send(&self.shared, message, false)
    }

    /// As [`WebSocket::close`]: the reading half then sees the end.
    ///
    /// # Errors
    ///
    /// As [`WebSocket::close`].
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        std::future::poll_fn(|cx| poll_close(&self.shared, cx, code, reason)).await
    }

    /// As [`WebSocket::with_connection`].
    pub fn with_connection<T>(&self, command: impl FnOnce(&mut Connection) -> T) -> T {
        self.shared.run_command(command)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin + Send + 'static> WriteHalf<IO> {
    /// As [`WebSocket::sender`].
    pub fn sender(&self) -> Sender {
        let shared: Arc<dyn Commands> = Arc::clone(&self.shared) as Arc<dyn Commands>;
        Sender::new(Arc::downgrade(&shared))
    }
}

/// The `Stream` and `Sink` of a [`WebSocket`] and of its halves: the same polls on the same
/// shared state.
macro_rules! stream_and_sink {
    (Stream for $type:ident) => {
        impl<IO: AsyncRead + AsyncWrite + Unpin> Stream for $type<IO> {
            type Item = Result<Message, Error>;

            fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
                poll_recv(&self.shared, cx)
            }
        }
    };
    (Sink for $type:ident) => {
        /// `poll_close` closes with 1000 (Normal Closure) and waits for the end, as
        /// [`WebSocket::close`].
        impl<IO: AsyncRead + AsyncWrite + Unpin> Sink<Message> for $type<IO> {
            type Error = Error;

            fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                poll_ready(&self.shared, cx)
            }

            fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
                start_send(&self.shared, &message)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                poll_flush(&self.shared, cx)
            }

            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                poll_close(&self.shared, cx, CloseCode::NORMAL_CLOSURE, "")
            }
        }
    };
}

stream_and_sink!(Stream for WebSocket);
stream_and_sink!(Stream for ReadHalf);
stream_and_sink!(Sink for WebSocket);
stream_and_sink!(Sink for WriteHalf);

impl<IO> fmt::Debug for WebSocket<IO> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket").finish_non_exhaustive()
    }
}

impl<IO> fmt::Debug for ReadHalf<IO> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<IO> fmt::Debug for WriteHalf<IO> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}
