//! A tokio adapter for `rfc6455`: one task per connection.
//!
//! It holds no WebSocket logic: [`run`] follows the crate's drive rule for any of the core's
//! endpoints (the server handshake, the client handshake, the connection): drain events, write,
//! act on the transport instruction, sleep until the endpoint's deadline. Reading pauses while
//! more than a high-water mark of bytes waits to be written.
//!
//! A server serves its pages and its WebSocket on one port: [`route`] answers every request it
//! does not accept (pages from [`http`], 404, 405, 426, the [`Site`]'s origin policy's 403) with
//! the core's one HTTP encoder, and [`upgrade`] has the core accept the rest.
//!
//! Memory per idle connection stays small: the read chunk lives on the stack only while a read
//! is being handled, never across an `.await`.
//!
//! Other tasks send into a connection through an [`Outbox`] (the ESP-IDF server's
//! `httpd_ws_send_frame_async`): each [`Command`] is one call of the core's send API, made by the
//! task that owns the connection.

#![allow(dead_code)] // each example uses part of this module

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rfc6455::handshake::client::{Accepted, ClientRequest};
use rfc6455::handshake::server::{AcceptResponse, Request, UpgradeRequest};
use rfc6455::handshake::{
    ClientEvent, ClientHandshake, HandshakeConfig, HttpResponse, OriginPolicy, ServerEvent, ServerHandshake,
    WsUrl,
};
use rfc6455::{
    CloseCode, Config, Connection, Endpoint, Event, HandshakeError, MessageKind, SendError, Transport,
};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;

/// The pages a server serves beside its WebSocket ([`http::answer`]), for [`route`].
#[path = "http.rs"]
pub mod http;

/// Bytes handed to the endpoint per read.
const READ_CHUNK: usize = 16 * 1024;

/// Pieces of output per vectored write.
const WRITE_SLICES: usize = 64;

/// How long to back off after a failed accept (out of descriptors, say).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What a server's handshake read, from [`read_head`].
pub enum Head {
    /// A plain HTTP request: answer it with [`respond`].
    Request(ServerHandshake, Request),
    /// A valid opening handshake: `handshake.accept(..)` it into a connection for [`drive`], or
    /// [`respond`] with a rejection.
    Upgrade(ServerHandshake, UpgradeRequest),
    /// The handshake failed (a bad request, answered by the core; the deadline; the peer gone)
    /// and its transport was ended.
    Failed(HandshakeError),
}

/// Runs the core's server handshake on `stream` until the request head is read.
pub async fn read_head(stream: &mut TcpStream, config: HandshakeConfig) -> io::Result<Head> {
    let mut handshake = ServerHandshake::new(config, Instant::now());
    let mut head = None;
    run(stream, &mut handshake, &mut Control::default(), |_, event| {
        head = Some(event);
        ControlFlow::Break(())
    })
    .await?;
    Ok(match head {
        Some(ServerEvent::Request(request)) => Head::Request(handshake, request),
        Some(ServerEvent::Upgrade(request)) => Head::Upgrade(handshake, request),
        Some(ServerEvent::Failed(error)) => {
            finish(stream, &mut handshake).await?;
            Head::Failed(error)
        }
        Some(_) | None => Head::Failed(HandshakeError::ConnectionClosed),
    })
}

/// Answers the request `handshake` read with `response`, then ends the transport as the core
/// says (written, shut down, drained, closed).
pub async fn respond(
    stream: &mut TcpStream,
    mut handshake: ServerHandshake,
    response: &HttpResponse,
) -> io::Result<()> {
    handshake.respond(Instant::now(), response).map_err(io::Error::other)?;
    finish(stream, &mut handshake).await
}

/// Where a server's WebSocket is, and what else it serves on the same port: what [`route`] needs
/// to answer every request it does not accept.
pub struct Site<'a> {
    /// The WebSocket's path; `None`: every path (a server that speaks only WebSocket).
    pub path: Option<&'a str>,
    /// Which origins may open the WebSocket (§10.2); a forbidden one gets the policy's 403.
    pub origins: OriginPolicy,
    /// What plain HTTP requests at other paths get ([`http::answer`]: 404 for the rest).
    pub assets: &'a [http::Asset],
}

impl Site<'static> {
    /// A server that speaks only WebSocket, at every path, to every origin (the Node echo
    /// server, Python `websockets`): a plain HTTP request gets 426.
    pub fn websocket_only() -> Site<'static> {
        Site { path: None, origins: OriginPolicy::Any, assets: &[] }
    }
}

/// What [`route`] made of a request.
// Made once per connection and matched at once: boxing the upgrade would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Route {
    /// An upgrade at the site's WebSocket path from an allowed origin: `handshake.accept(..)` it
    /// into a connection for [`drive`].
    Upgrade(ServerHandshake, UpgradeRequest),
    /// The request was answered (a page, 404, 405, 426, 403) or the handshake failed, and the
    /// transport was ended: a line for the log, if it is worth one.
    Done(Option<String>),
}

/// Reads a request head on `stream` and answers everything `site` does not accept: a page, 404
/// or 405 for a plain request ([`http::answer`]), 426 for a plain request at the WebSocket's path
/// (§4.4), 404 for an upgrade at another path, the origin policy's 403 (a bad request was
/// answered by the core already).
pub async fn route(stream: &mut TcpStream, config: HandshakeConfig, site: &Site<'_>) -> io::Result<Route> {
    let at_websocket = |path: &str| site.path.is_none_or(|websocket| websocket == path);
    let (handshake, response, note) = match read_head(stream, config).await? {
        Head::Upgrade(handshake, request) if at_websocket(request.path()) => {
            match site.origins.check(&request) {
                Ok(()) => return Ok(Route::Upgrade(handshake, request)),
                Err(forbidden) => {
                    let origin = request.origin().unwrap_or("-");
                    (handshake, forbidden, format!("answered 403: cross-origin WebSocket from {origin}"))
                }
            }
        }
        Head::Upgrade(handshake, request) => {
            // A WebSocket anywhere else is a resource that does not exist: 404, like a page (an
            // upgrade is always a GET: the core checked).
            let response = http::answer(request.request(), &[]);
            let note = format!("upgrade at {} refused with {}", request.request().target, response.status());
            (handshake, response, note)
        }
        Head::Request(handshake, request) => {
            let response = if at_websocket(request.path()) {
                // A plain request for the WebSocket: 426 Upgrade Required, as §4.4 suggests.
                HttpResponse::from_error(&HandshakeError::NotWebSocketUpgrade)
            } else {
                http::answer(&request, site.assets)
            };
            let note = format!("{} {} {}", request.method, request.target, response.status());
            (handshake, response, note)
        }
        Head::Failed(HandshakeError::ConnectionClosed) => return Ok(Route::Done(None)),
        Head::Failed(error) => {
            let note = match error.status() {
                Some(status) => format!("answered {status}: {error}"),
                None => format!("handshake failed: {error}"),
            };
            return Ok(Route::Done(Some(note)));
        }
    };
    respond(stream, handshake, &response).await?;
    Ok(Route::Done(Some(note)))
}

/// A server's opening handshake on `stream`, the way the examples log it: [`route`]s the request
/// (with the default [`HandshakeConfig`]), then has the core accept the upgrade with the 101 and
/// the connection's config that `decide` makes of it. What was answered instead, and any failure,
/// is said on stderr after `peer`; `None` then.
pub async fn upgrade(
    stream: &mut TcpStream,
    peer: SocketAddr,
    site: &Site<'_>,
    decide: impl FnOnce(&UpgradeRequest) -> (AcceptResponse, Config),
) -> Option<Connection> {
    let _ = stream.set_nodelay(true);
    let (mut handshake, request) = match route(stream, HandshakeConfig::default(), site).await {
        Ok(Route::Upgrade(handshake, request)) => (handshake, request),
        Ok(Route::Done(note)) => {
            note.inspect(|note| eprintln!("{peer}: {note}"));
            return None;
        }
        Err(error) => {
            eprintln!("{peer}: error during the handshake: {error}");
            return None;
        }
    };
    let (response, config) = decide(&request);
    handshake
        .accept(Instant::now(), response, config)
        .inspect_err(|error| eprintln!("{peer}: error: {error}"))
        .ok()
}

/// Drives `endpoint` until the core says to close the transport, ignoring its events.
async fn finish<E: Steer>(stream: &mut TcpStream, endpoint: &mut E) -> io::Result<()> {
    run(stream, endpoint, &mut Control::default(), |_, _| ControlFlow::Continue(())).await.map(drop)
}

/// Something another task asks a connection to send: one call of the core's send API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// [`Connection::send_text`].
    Text(String),
    /// [`Connection::send_binary`].
    Binary(Vec<u8>),
    /// One message sent as several frames ([`Connection::begin_message`], then
    /// [`Connection::send_part`] per part, the last with FIN).
    Fragments(MessageKind, Vec<Vec<u8>>),
    /// [`Connection::send_ping`].
    Ping(Vec<u8>),
    /// [`Connection::close`].
    Close(CloseCode, String),
}

impl Command {
    /// Makes the core call this command stands for.
    ///
    /// # Errors
    ///
    /// The core's [`SendError`], e.g. once the connection is closing.
    pub fn apply(self, connection: &mut Connection) -> Result<(), SendError> {
        match self {
            Command::Text(text) => connection.send_text(&text),
            Command::Binary(data) => connection.send_binary(&data),
            Command::Fragments(kind, parts) => {
                connection.begin_message(kind)?;
                let count = parts.len();
                for (index, part) in parts.into_iter().enumerate() {
                    connection.send_part(&part, index + 1 == count)?;
                }
                if count == 0 {
                    connection.send_part(&[], true)?;
                }
                Ok(())
            }
            Command::Ping(payload) => connection.send_ping(&payload),
            Command::Close(code, reason) => connection.close(Instant::now(), code, &reason),
        }
    }
}

/// The sending half of a connection's mailbox: clone it into any task.
#[derive(Debug, Clone)]
pub struct Outbox(mpsc::Sender<Command>);

/// The receiving half of a connection's mailbox, given to [`drive`].
#[derive(Debug)]
pub struct Inbox(mpsc::Receiver<Command>);

/// A mailbox holding at most `capacity` commands not yet taken by the connection's task.
///
/// The task takes commands only while the connection's unsent output is under the high-water
/// mark, so a peer that does not read fills the mailbox and [`Outbox::try_send`] reports it:
/// the sender decides what to do with a slow peer (drop the message, or close it).
pub fn mailbox(capacity: usize) -> (Outbox, Inbox) {
    let (sender, receiver) = mpsc::channel(capacity);
    (Outbox(sender), Inbox(receiver))
}

/// Why [`Outbox::try_send`] did not take a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxError {
    /// The mailbox is full: the peer is not reading fast enough.
    Full,
    /// The connection's task has ended.
    Closed,
}

impl Outbox {
    /// Queues `command` without waiting.
    ///
    /// # Errors
    ///
    /// [`OutboxError::Full`] for a slow peer, [`OutboxError::Closed`] once the connection ended.
    pub fn try_send(&self, command: Command) -> Result<(), OutboxError> {
        self.0.try_send(command).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => OutboxError::Full,
            mpsc::error::TrySendError::Closed(_) => OutboxError::Closed,
        })
    }

    /// Queues `command`, waiting while the mailbox is full.
    ///
    /// # Errors
    ///
    /// [`OutboxError::Closed`] once the connection's task has ended.
    pub async fn send(&self, command: Command) -> Result<(), OutboxError> {
        self.0.send(command).await.map_err(|_| OutboxError::Closed)
    }
}

/// What [`run`] watches besides the socket and the endpoint's deadline.
pub struct Control {
    /// Reading (and taking commands) pauses while more than this many bytes wait to be written.
    pub high_water_mark: usize,
    /// Turns true when the server shuts down: the endpoint is then told to go away.
    pub shutdown: Option<watch::Receiver<bool>>,
    /// Commands from other tasks.
    pub inbox: Option<Inbox>,
}

impl Default for Control {
    fn default() -> Control {
        Control { high_water_mark: 64 * 1024, shutdown: None, inbox: None }
    }
}

/// What [`run`] can ask of an endpoint besides the drive rule's verbs.
pub trait Steer: Endpoint {
    /// A command from another task.
    fn apply(&mut self, command: Command);
    /// The server is shutting down.
    fn go_away(&mut self);
}

impl Steer for Connection {
    fn apply(&mut self, command: Command) {
        // Err only once the connection is closing: the command is then moot.
        drop(command.apply(self));
    }

    fn go_away(&mut self) {
        // Err only if the connection is already closing: nothing to do then.
        let _ = self.close(Instant::now(), CloseCode::GOING_AWAY, "server shutting down");
    }
}

impl Steer for ServerHandshake {
    fn apply(&mut self, _: Command) {}

    fn go_away(&mut self) {
        self.receive_reset(Instant::now());
    }
}

impl Steer for ClientHandshake {
    fn apply(&mut self, _: Command) {}

    fn go_away(&mut self) {
        self.receive_reset(Instant::now());
    }
}

/// Drives `connection` over `stream` until the core says to close the transport, then closes it.
///
/// `on_event` sees every event and may send through the connection; other tasks send through
/// the `inbox`'s [`Outbox`], if given. What `on_event` sends goes out before commands still
/// waiting in the mailbox: a task that needs one order for both sends everything through the
/// mailbox. Reading, and taking commands, pause while more than `high_water_mark` bytes wait to
/// be written (backpressure). When `shutdown` turns true, the connection is closed with 1001
/// (Going Away).
pub async fn drive(
    stream: &mut TcpStream,
    connection: &mut Connection,
    high_water_mark: usize,
    shutdown: watch::Receiver<bool>,
    inbox: Option<Inbox>,
    mut on_event: impl FnMut(&mut Connection, Event),
) -> io::Result<()> {
    let mut control = Control { high_water_mark, shutdown: Some(shutdown), inbox };
    run(stream, connection, &mut control, |connection, event| {
        on_event(connection, event);
        ControlFlow::Continue(())
    })
    .await
    .map(drop)
}

/// The drive rule over a tokio `TcpStream`, for any of the core's endpoints: runs until
/// `on_event` breaks (`Ok(true)`) or the core says to close the transport (`Ok(false)`, the
/// socket shut down).
pub async fn run<E: Steer>(
    stream: &mut TcpStream,
    endpoint: &mut E,
    control: &mut Control,
    mut on_event: impl FnMut(&mut E, E::Event) -> ControlFlow<()>,
) -> io::Result<bool> {
    let mut write_shut = false;
    loop {
        // 1. Events (handling one may send).
        while let Some(event) = endpoint.poll_event() {
            if on_event(endpoint, event).is_break() {
                return Ok(true);
            }
        }
        // 2. Write what the socket takes now; the rest when it is writable again.
        if endpoint.unsent_len() > 0 && !write_shut {
            // Vectored: a large payload the connection holds by reference is written from where
            // it is, without being copied into the output buffer first.
            let mut slices = [io::IoSlice::new(&[]); WRITE_SLICES];
            let count = endpoint.bytes_to_send_vectored(&mut slices);
            match stream.try_write_vectored(&slices[..count]) {
                Ok(0) => endpoint.receive_reset(Instant::now()),
                Ok(written) => endpoint.mark_sent(written),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => endpoint.receive_reset(Instant::now()),
            }
        }
        // 3. The transport.
        match endpoint.poll_transport(Instant::now()) {
            Transport::Open => {}
            Transport::ShutdownWrite if !write_shut => {
                write_shut = true;
                let _ = stream.shutdown().await;
            }
            Transport::ShutdownWrite => {}
            Transport::Close => {
                // What the end itself reported (a reset's `Closed`) is the last the caller sees.
                while let Some(event) = endpoint.poll_event() {
                    let _ = on_event(endpoint, event);
                }
                return Ok(false);
            }
        }
        // 4. Wait for the socket, a command, shutdown, or the deadline.
        let want_write = endpoint.unsent_len() > 0 && !write_shut;
        let want_read = endpoint.unsent_len() <= control.high_water_mark;
        let deadline = endpoint.poll_timeout();
        let sleep_until = tokio::time::Instant::from_std(deadline.unwrap_or_else(far_future));
        let shutting_down = control.shutdown.as_ref().is_none_or(|shutdown| *shutdown.borrow());
        tokio::select! {
            ready = stream.writable(), if want_write => ready?,
            ready = stream.readable(), if want_read => {
                ready?;
                let mut chunk = [0u8; READ_CHUNK];
                match stream.try_read(&mut chunk) {
                    Ok(0) => endpoint.receive_eof(Instant::now()),
                    Ok(read) => endpoint.receive(Instant::now(), &chunk[..read]),
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => endpoint.receive_reset(Instant::now()),
                }
            }
            command = recv(&mut control.inbox), if want_read && control.inbox.is_some() => match command {
                Some(command) => endpoint.apply(command),
                None => control.inbox = None,
            },
            _ = tokio::time::sleep_until(sleep_until), if deadline.is_some() => {}
            changed = changed(&mut control.shutdown), if !shutting_down => {
                if changed {
                    endpoint.go_away();
                } else {
                    control.shutdown = None;
                }
            }
        }
        // Deadlines are handled whatever woke us: the call is idempotent and cheap.
        endpoint.handle_timeout(Instant::now());
    }
}

/// Waits for the shutdown signal to change: `false` if its sender is gone.
async fn changed(shutdown: &mut Option<watch::Receiver<bool>>) -> bool {
    match shutdown {
        Some(receiver) => receiver.changed().await.is_ok() && *receiver.borrow(),
        None => std::future::pending().await,
    }
}

async fn recv(inbox: &mut Option<Inbox>) -> Option<Command> {
    match inbox {
        Some(Inbox(receiver)) => receiver.recv().await,
        None => None,
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

/// Connects to `url` (`ws://` only), performs the opening handshake through the core's
/// [`ClientHandshake`], and returns the stream, the connection (fed with any bytes that
/// followed the server's response) and the server's answer: the blocking adapter's `connect`,
/// for tokio. Drive the connection with [`drive`].
///
/// # Errors
///
/// The connection's I/O errors; a failed or refused handshake as an `io::Error` wrapping the
/// core's [`HandshakeError`] (`error.get_ref()` and `downcast_ref` find it).
pub async fn connect(
    url: &WsUrl,
    request: ClientRequest,
    config: Config,
) -> io::Result<(TcpStream, Connection, Accepted)> {
    if url.is_secure() {
        return Err(io::Error::other(HandshakeError::InvalidUrl(format!("{url}: wss:// needs TLS"))));
    }
    let mut stream = TcpStream::connect(url.authority()).await?;
    let _ = stream.set_nodelay(true);
    let mut handshake = ClientHandshake::new(request, HandshakeConfig::default(), Instant::now());
    let mut answer = None;
    run(&mut stream, &mut handshake, &mut Control::default(), |_, event| {
        answer = Some(event);
        ControlFlow::Break(())
    })
    .await?;
    let error = match answer.map_or(Err(HandshakeError::ConnectionClosed), ClientEvent::into_accepted) {
        Ok(accepted) => {
            let connection =
                handshake.into_connection(Instant::now(), config, Vec::new()).map_err(io::Error::other)?;
            return Ok((stream, connection, accepted));
        }
        Err(error) => error,
    };
    finish(&mut stream, &mut handshake).await?;
    Err(io::Error::other(error))
}

/// Binds `address:port` for a server and says on stderr, after `name`, `listening on` and what
/// `describe` makes of the bound address (the port is known only then when `port` is 0); on
/// failure says why instead.
pub async fn listen(
    name: &str,
    address: IpAddr,
    port: u16,
    describe: impl FnOnce(SocketAddr) -> String,
) -> Option<TcpListener> {
    let listener = match TcpListener::bind(SocketAddr::new(address, port)).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("{name}: cannot listen on {address}:{port}: {error}");
            return None;
        }
    };
    match listener.local_addr() {
        Ok(local) => eprintln!("{name}: listening on {}", describe(local)),
        Err(error) => eprintln!("{name}: listening ({error})"),
    }
    Some(listener)
}

/// A server's accept loop: runs `serve(stream, peer, shutdown)` in a task of its own for each
/// connection, at most `max_connections` at once (more wait in the listen queue), until Ctrl-C;
/// then turns `shutdown` true (each connection's [`drive`] closes it with 1001, Going Away) and
/// waits up to 3 seconds for them all. A failed accept (out of descriptors, say) backs off for
/// 100 ms and is logged once per burst. `name` starts its log lines.
pub async fn serve_until_ctrl_c<Serve, Task>(
    name: &str,
    listener: TcpListener,
    max_connections: usize,
    mut serve: Serve,
) where
    Serve: FnMut(TcpStream, SocketAddr, watch::Receiver<bool>) -> Task,
    Task: Future<Output = ()> + Send + 'static,
{
    let (shutdown, shutdown_signal) = watch::channel(false);
    let mut connections = JoinSet::new();
    let slots = Arc::new(Semaphore::new(max_connections.max(1)));
    // One signal future for the whole loop: created anew each pass, a Ctrl-C between two
    // passes would be lost.
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut failing_since: Option<Instant> = None;
    loop {
        tokio::select! {
            accepted = accept_in_slot(&listener, &slots) => match accepted {
                Ok((stream, peer, slot)) => {
                    if let Some(since) = failing_since.take() {
                        eprintln!("{name}: accepting again after {:.1} s", since.elapsed().as_secs_f64());
                    }
                    let task = serve(stream, peer, shutdown_signal.clone());
                    connections.spawn(async move {
                        task.await;
                        drop(slot);
                    });
                }
                Err(error) => {
                    if failing_since.is_none() {
                        eprintln!("{name}: accept failed: {error} (backing off)");
                        failing_since = Some(Instant::now());
                    }
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = &mut ctrl_c => break,
        }
    }
    eprintln!("{name}: shutting down, closing {} connection(s) with 1001", connections.len());
    let _ = shutdown.send(true);
    let all_closed = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(3), all_closed).await.is_err() {
        eprintln!("{name}: {} connection(s) did not close in time", connections.len());
    }
}

/// Waits for a free connection slot, then accepts.
async fn accept_in_slot(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> io::Result<(TcpStream, SocketAddr, tokio::sync::OwnedSemaphorePermit)> {
    let slot = Arc::clone(slots).acquire_owned().await.map_err(io::Error::other)?;
    let (stream, peer) = listener.accept().await?;
    Ok((stream, peer, slot))
}
