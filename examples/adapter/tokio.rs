//! A tokio adapter for `rfc6455`: one task per connection.
//!
//! It holds no WebSocket logic. It reads the HTTP head until the core's decoder has a whole
//! request, then follows the core's drain rule: feed what it reads to the connection, write what
//! the connection has to send, sleep until the connection's deadline, close when it says so.
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
use std::time::{Duration, Instant};

use rfc6455::handshake::server::{encode_rejection, AcceptResponse, Request, UpgradeRequest};
use rfc6455::handshake::HeadLimits;
use rfc6455::{CloseCode, Connection, Decoded, Event, HandshakeError, MessageKind, SendError};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// Bytes handed to the connection per read.
const READ_CHUNK: usize = 16 * 1024;

/// Pieces of output per vectored write.
const WRITE_SLICES: usize = 64;

/// How an opening handshake ended.
pub enum Handshake {
    /// A valid upgrade request, and the bytes that followed its head (the client's first frames).
    Upgrade { request: UpgradeRequest, leftover: Vec<u8> },
    /// The request was not a valid upgrade; the answer the core chose was written.
    Rejected(HandshakeError),
    /// The peer closed the connection before its request was complete.
    Closed,
}

/// What a request head turned out to be, from [`read_head`].
pub enum Head {
    /// A plain HTTP request (no `Upgrade: websocket`): the caller answers it and closes.
    Http(Request),
    /// An opening handshake, or its end.
    WebSocket(Handshake),
}

/// Reads an upgrade request; answers a bad one (400, 426, 431...) and closes.
pub async fn read_request(stream: &mut TcpStream, limits: &HeadLimits) -> io::Result<Handshake> {
    match read_head(stream, limits).await? {
        Head::Http(_) => reject(stream, HandshakeError::NotWebSocketUpgrade).await,
        Head::WebSocket(handshake) => Ok(handshake),
    }
}

/// Reads a request head: an upgrade, or a plain HTTP request for the caller to serve (a page
/// and its WebSocket on one port). A bad upgrade is answered (400, 426, 431...) and closed.
pub async fn read_head(stream: &mut TcpStream, limits: &HeadLimits) -> io::Result<Head> {
    let mut head = Vec::new();
    loop {
        stream.readable().await?;
        {
            let mut chunk = [0u8; 4096];
            match stream.try_read(&mut chunk) {
                Ok(0) => return Ok(Head::WebSocket(Handshake::Closed)),
                Ok(read) => head.extend_from_slice(&chunk[..read]),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                Err(error) => return Err(error),
            }
        }
        let request = match Request::decode(&head, limits) {
            Ok(Decoded::Complete { value, consumed }) => {
                let leftover = head.split_off(consumed);
                (value, leftover)
            }
            Ok(Decoded::Incomplete { .. }) => continue,
            Err(error) => return reject(stream, error).await.map(Head::WebSocket),
        };
        let (request, leftover) = request;
        if !request.is_websocket_upgrade() {
            return Ok(Head::Http(request));
        }
        let handshake = match UpgradeRequest::validate(request) {
            Ok(request) => Handshake::Upgrade { request, leftover },
            Err(error) => reject(stream, error).await?,
        };
        return Ok(Head::WebSocket(handshake));
    }
}

/// Writes the answer the core chose for `error` (400, 426, 431...) and closes.
pub async fn reject(stream: &mut TcpStream, error: HandshakeError) -> io::Result<Handshake> {
    let mut response = Vec::new();
    encode_rejection(&error, &mut response);
    stream.write_all(&response).await?;
    let _ = stream.shutdown().await;
    Ok(Handshake::Rejected(error))
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

/// Writes the 101 response and opens a connection fed with the bytes that followed the request.
pub async fn accept(
    stream: &mut TcpStream,
    response: &AcceptResponse,
    mut connection: Connection,
    leftover: &[u8],
) -> io::Result<Connection> {
    let mut head = Vec::new();
    response.encode(&mut head);
    stream.write_all(&head).await?;
    connection.receive(Instant::now(), leftover);
    Ok(connection)
}

/// Drives `connection` over `stream` until the transport is to be closed, then closes it.
///
/// `on_event` sees every event and may send through the connection; other tasks send through
/// the `inbox`'s [`Outbox`], if given. What `on_event` sends goes out before commands still
/// waiting in the mailbox: a task that needs one order for both sends everything through the
/// mailbox. Reading, and taking commands, pause while more than
/// `high_water_mark` bytes wait to be written (backpressure). When `shutdown` turns true, the
/// connection is closed with 1001 (Going Away).
pub async fn drive(
    stream: &mut TcpStream,
    connection: &mut Connection,
    high_water_mark: usize,
    mut shutdown: watch::Receiver<bool>,
    mut inbox: Option<Inbox>,
    mut on_event: impl FnMut(&mut Connection, Event),
) -> io::Result<()> {
    let mut shutting_down = false;
    loop {
        while let Some(event) = connection.poll_event() {
            on_event(connection, event);
        }
        if connection.should_close_transport() {
            let _ = stream.shutdown().await;
            return Ok(());
        }
        let want_write = connection.unsent_len() > 0;
        let want_read = connection.unsent_len() <= high_water_mark;
        let deadline = connection.poll_timeout();
        let sleep_until = tokio::time::Instant::from_std(deadline.unwrap_or_else(far_future));
        tokio::select! {
            ready = stream.writable(), if want_write => {
                ready?;
                // Vectored: a large payload the connection holds by reference is written from
                // where it is, without being copied into the output buffer first.
                let mut slices = [io::IoSlice::new(&[]); WRITE_SLICES];
                let count = connection.bytes_to_send_vectored(&mut slices);
                match stream.try_write_vectored(&slices[..count]) {
                    Ok(written) => connection.mark_sent(written),
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => connection.receive_eof(Instant::now()),
                }
            }
            ready = stream.readable(), if want_read => {
                ready?;
                let mut chunk = [0u8; READ_CHUNK];
                match stream.try_read(&mut chunk) {
                    Ok(0) => connection.receive_eof(Instant::now()),
                    Ok(read) => connection.receive(Instant::now(), &chunk[..read]),
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => connection.receive_eof(Instant::now()),
                }
            }
            command = recv(&mut inbox), if want_read && inbox.is_some() => match command {
                // Err only once the connection is closing: the command is then moot.
                Some(command) => drop(command.apply(connection)),
                None => inbox = None,
            },
            _ = tokio::time::sleep_until(sleep_until), if deadline.is_some() => {}
            changed = shutdown.changed(), if !shutting_down => {
                shutting_down = true;
                if changed.is_ok() && *shutdown.borrow() {
                    // Err only if the connection is already closing: nothing to do then.
                    let _ = connection.close(Instant::now(), CloseCode::GOING_AWAY, "server shutting down");
                }
            }
        }
        // Deadlines are handled whatever woke us: the call is idempotent and cheap.
        connection.handle_timeout(Instant::now());
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

/// Connects to `authority` (`host:port`, e.g. `WsUrl::authority` from the blocking adapter),
/// performs the opening handshake, and returns the stream, the connection (fed with any bytes
/// that followed the server's response) and the server's answer: the blocking adapter's
/// `connect`, for tokio. Drive the connection with [`drive`].
///
/// # Errors
///
/// The connection's I/O errors; a rejected handshake as an `io::Error` wrapping the core's
/// [`HandshakeError`] (`error.get_ref()` and `downcast_ref` find it).
pub async fn connect(
    authority: &str,
    request: rfc6455::handshake::client::ClientRequest,
    config: rfc6455::Config,
) -> io::Result<(TcpStream, Connection, rfc6455::handshake::client::Accepted)> {
    let mut stream = TcpStream::connect(authority).await?;
    let _ = stream.set_nodelay(true);
    let mut head = Vec::new();
    request.encode(&mut head);
    stream.write_all(&head).await?;
    let limits = HeadLimits::default();
    let mut response = Vec::new();
    loop {
        stream.readable().await?;
        {
            let mut chunk = [0u8; 4096];
            match stream.try_read(&mut chunk) {
                Ok(0) => {
                    let message = "server closed during the handshake";
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, message));
                }
                Ok(read) => response.extend_from_slice(&chunk[..read]),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                Err(error) => return Err(error),
            }
        }
        match request.decode_response(&response, &limits) {
            Ok(Decoded::Complete { value, consumed }) => {
                let mut connection = Connection::new(rfc6455::Role::Client, config, Instant::now());
                connection.receive(Instant::now(), &response[consumed..]);
                return Ok((stream, connection, value));
            }
            Ok(Decoded::Incomplete { .. }) => {}
            Err(error) => return Err(io::Error::other(error)),
        }
    }
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
/// connection until Ctrl-C, then turns `shutdown` true (each connection's [`drive`] closes it
/// with 1001, Going Away) and waits up to 3 seconds for them all. `name` starts its log lines.
pub async fn serve_until_ctrl_c<Serve, Task>(name: &str, listener: TcpListener, mut serve: Serve)
where
    Serve: FnMut(TcpStream, SocketAddr, watch::Receiver<bool>) -> Task,
    Task: Future<Output = ()> + Send + 'static,
{
    let (shutdown, shutdown_signal) = watch::channel(false);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(serve(stream, peer, shutdown_signal.clone()));
                }
                Err(error) => eprintln!("{name}: accept failed: {error}"),
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    eprintln!("{name}: shutting down, closing {} connection(s) with 1001", connections.len());
    let _ = shutdown.send(true);
    let all_closed = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(3), all_closed).await.is_err() {
        eprintln!("{name}: {} connection(s) did not close in time", connections.len());
    }
}
