//! A blocking, std-only adapter for `rfc6455`: one thread per connection.
//!
//! It holds no WebSocket logic. It reads the HTTP head until the core's decoder has a whole
//! request, then loops over the core's drain rule: write what the connection has to send,
//! hand events to the application, close the transport when the connection says so, and
//! otherwise read with a timeout set from the connection's next deadline.

#![allow(dead_code)] // each example uses part of this module

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use rfc6455::handshake::server::{encode_rejection, AcceptResponse, UpgradeRequest};
use rfc6455::handshake::HeadLimits;
use rfc6455::{Connection, Decoded, Event, HandshakeError};

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

/// Reads an upgrade request; answers a bad one (400, 426, 431...) and closes.
pub fn read_request(stream: &mut TcpStream, limits: &HeadLimits) -> io::Result<Handshake> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return Ok(Handshake::Closed);
        }
        head.extend_from_slice(&chunk[..read]);
        match UpgradeRequest::decode(&head, limits) {
            Ok(Decoded::Complete { value, consumed }) => {
                let leftover = head.split_off(consumed);
                return Ok(Handshake::Upgrade { request: value, leftover });
            }
            Ok(Decoded::Incomplete { .. }) => {}
            Err(error) => {
                let mut response = Vec::new();
                encode_rejection(&error, &mut response);
                stream.write_all(&response)?;
                let _ = stream.shutdown(Shutdown::Both);
                return Ok(Handshake::Rejected(error));
            }
        }
    }
}

/// Writes the 101 response and opens a connection fed with the bytes that followed the request.
pub fn accept(
    stream: &mut TcpStream,
    response: &AcceptResponse,
    mut connection: Connection,
    leftover: &[u8],
) -> io::Result<Connection> {
    let mut head = Vec::new();
    response.encode(&mut head);
    stream.write_all(&head)?;
    connection.receive(Instant::now(), leftover);
    Ok(connection)
}

/// Drives `connection` over `stream` until the transport is to be closed, then closes it.
/// `on_event` sees every event and may send through the connection.
pub fn drive(
    stream: &mut TcpStream,
    connection: &mut Connection,
    mut on_event: impl FnMut(&mut Connection, Event),
) -> io::Result<()> {
    let mut chunk = vec![0u8; READ_CHUNK];
    loop {
        // 1. Write everything the connection has to send (a partial write is reported as such).
        while connection.unsent_len() > 0 {
            // Vectored: a large payload the connection holds by reference is written from where
            // it is, without being copied into the output buffer first.
            let mut slices = [io::IoSlice::new(&[]); WRITE_SLICES];
            let count = connection.bytes_to_send_vectored(&mut slices);
            match stream.write_vectored(&slices[..count]) {
                Ok(written) => connection.mark_sent(written),
                Err(_) => {
                    connection.receive_eof(Instant::now());
                    break;
                }
            }
        }
        // 2. Events; they may queue more to send, written at the top of the loop.
        let mut had_events = false;
        while let Some(event) = connection.poll_event() {
            had_events = true;
            on_event(connection, event);
        }
        if had_events {
            continue;
        }
        // 4. Close when the connection says so.
        if connection.should_close_transport() {
            let _ = stream.shutdown(Shutdown::Both);
            return Ok(());
        }
        // 3. Read, waking up at the connection's next deadline.
        let timeout = connection
            .poll_timeout()
            .map(|deadline| deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)));
        stream.set_read_timeout(timeout)?;
        match stream.read(&mut chunk) {
            Ok(0) => connection.receive_eof(Instant::now()),
            Ok(read) => connection.receive(Instant::now(), &chunk[..read]),
            Err(error) if matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(_) => connection.receive_eof(Instant::now()),
        }
        // Deadlines are handled whatever woke us: the call is idempotent and cheap.
        connection.handle_timeout(Instant::now());
    }
}

/// The parts of a `ws://` URL a client needs.
pub struct WsUrl {
    /// Host and port to connect to (`localhost:1337`, `[::1]:1337`).
    pub authority: String,
    /// The `Host` header: the authority without the default port 80.
    pub host_header: String,
    /// Path and query, `/` if empty.
    pub target: String,
}

impl WsUrl {
    /// Parses `ws://host[:port][/path][?query]` (IPv6 literals in brackets).
    pub fn parse(url: &str) -> Result<WsUrl, String> {
        let rest = url
            .strip_prefix("ws://")
            .ok_or_else(|| format!("{url:?}: only ws:// URLs are supported (wss:// needs TLS)"))?;
        let (authority, target) = match rest.find(['/', '?']) {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return Err(format!("{url:?}: no host"));
        }
        let has_port = match authority.rfind(']') {
            Some(bracket) => authority[bracket..].contains(':'),
            None => authority.contains(':'),
        };
        let target = if target.starts_with('?') { format!("/{target}") } else { target.to_owned() };
        Ok(WsUrl {
            authority: if has_port { authority.to_owned() } else { format!("{authority}:80") },
            host_header: authority.strip_suffix(":80").unwrap_or(authority).to_owned(),
            target,
        })
    }
}

/// Connects to `url`, performs the opening handshake, and returns the stream, the connection
/// (fed with any bytes that followed the server's response) and the server's answer.
pub fn connect(
    url: &WsUrl,
    request: rfc6455::handshake::client::ClientRequest,
    config: rfc6455::Config,
) -> io::Result<(TcpStream, Connection, rfc6455::handshake::client::Accepted)> {
    let mut stream = TcpStream::connect(&url.authority)?;
    let _ = stream.set_nodelay(true);
    let mut head = Vec::new();
    request.encode(&mut head);
    stream.write_all(&head)?;
    let limits = HeadLimits::default();
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "server closed during the handshake"));
        }
        response.extend_from_slice(&chunk[..read]);
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
