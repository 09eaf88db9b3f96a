//! A blocking, std-only adapter for `rfc6455`: one thread per connection, and the crate's drive
//! rule in its plainest form.
//!
//! It holds no WebSocket logic: the core's endpoints (the server or client handshake, then the
//! connection) say what to write, what to do with the socket and when to wake up. [`drive`] is
//! the rule, for any of them:
//!
//! 1. drain events (handling one may send);
//! 2. write what there is to send (one blocking write, bounded by the next deadline);
//! 3. act on the transport instruction: go on, shut down writing and linger, or close;
//! 4. while bytes are unsent, write again; otherwise read, with a timeout set from the next
//!    deadline; feed what arrives, and the time.

#![allow(dead_code)] // each example uses part of this module

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use rfc6455::handshake::client::{Accepted, ClientRequest};
use rfc6455::handshake::{
    ClientEvent, ClientHandshake, HandshakeConfig, ServerEvent, ServerHandshake, WsUrl,
};
use rfc6455::{Config, Connection, Endpoint, HandshakeError, Transport};

/// Bytes handed to the endpoint per read.
const READ_CHUNK: usize = 16 * 1024;

/// Pieces of output per vectored write.
const WRITE_SLICES: usize = 64;

/// How long a blocking call waits when the endpoint has no deadline (it is then waiting for the
/// peer, which may take as long as it likes: an idle WebSocket with no keepalive).
const IDLE_WAIT: Duration = Duration::from_secs(3600);

/// Drives `endpoint` over `stream` by the drive rule until `on_event` breaks (`Ok(true)`: the
/// caller takes over, e.g. to answer a request) or the endpoint says to close the transport
/// (`Ok(false)`: the socket is shut down).
pub fn drive<E: Endpoint>(
    stream: &mut TcpStream,
    endpoint: &mut E,
    mut on_event: impl FnMut(&mut E, E::Event) -> ControlFlow<()>,
) -> io::Result<bool> {
    let mut chunk = vec![0u8; READ_CHUNK];
    let mut write_shut = false;
    loop {
        // 1. Events.
        while let Some(event) = endpoint.poll_event() {
            if on_event(endpoint, event).is_break() {
                return Ok(true);
            }
        }
        // 2. Write, no later than the next deadline.
        if endpoint.unsent_len() > 0 && !write_shut {
            stream.set_write_timeout(Some(wait_until(endpoint.poll_timeout())))?;
            let mut slices = [IoSlice::new(&[]); WRITE_SLICES];
            let count = endpoint.bytes_to_send_vectored(&mut slices);
            match stream.write_vectored(&slices[..count]) {
                // A write of 0 bytes: the transport cannot take more, ever.
                Ok(0) => endpoint.receive_reset(Instant::now()),
                Ok(written) => endpoint.mark_sent(written),
                Err(error) if timed_out(&error) => endpoint.handle_timeout(Instant::now()),
                Err(_) => endpoint.receive_reset(Instant::now()),
            }
        }
        // 3. The transport.
        match endpoint.poll_transport(Instant::now()) {
            Transport::Open => {}
            Transport::ShutdownWrite if !write_shut => {
                write_shut = true;
                let _ = stream.shutdown(Shutdown::Write);
            }
            Transport::ShutdownWrite => {}
            Transport::Close => {
                // What the end itself reported (a reset's `Closed`) is the last the caller sees.
                while let Some(event) = endpoint.poll_event() {
                    let _ = on_event(endpoint, event);
                }
                let _ = stream.shutdown(Shutdown::Both);
                return Ok(false);
            }
        }
        // 4. Wait: a blocking socket waits for one thing at a time, and unsent bytes come first
        // (the next write is bounded by the deadline); otherwise read until the deadline.
        if endpoint.unsent_len() > 0 && !write_shut {
            endpoint.handle_timeout(Instant::now());
            continue;
        }
        stream.set_read_timeout(Some(wait_until(endpoint.poll_timeout())))?;
        match stream.read(&mut chunk) {
            Ok(0) => endpoint.receive_eof(Instant::now()),
            Ok(read) => endpoint.receive(Instant::now(), &chunk[..read]),
            Err(error) if timed_out(&error) || error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => endpoint.receive_reset(Instant::now()),
        }
        // Deadlines are handled whatever woke us: the call is idempotent and cheap.
        endpoint.handle_timeout(Instant::now());
    }
}

/// How long to block before `deadline` (at least 1 ms: a zero timeout means "forever").
fn wait_until(deadline: Option<Instant>) -> Duration {
    deadline
        .map_or(IDLE_WAIT, |deadline| deadline.saturating_duration_since(Instant::now()))
        .max(Duration::from_millis(1))
}

fn timed_out(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// Runs the server's handshake on `stream` until the request is read, then asks `decide` what
/// to do with it; answers (a rejection, a page) are written and the transport ended here.
/// Returns the connection if `decide` accepted.
pub fn accept(
    stream: &mut TcpStream,
    config: HandshakeConfig,
    mut decide: impl FnMut(&mut ServerHandshake, ServerEvent) -> Option<Connection>,
) -> io::Result<Option<Connection>> {
    let mut handshake = ServerHandshake::new(config, Instant::now());
    let mut accepted = None;
    drive(stream, &mut handshake, |handshake, event| match decide(handshake, event) {
        Some(connection) => {
            accepted = Some(connection);
            ControlFlow::Break(())
        }
        None => ControlFlow::Continue(()), // answered, or failed: the handshake ends the transport
    })?;
    Ok(accepted)
}

/// Connects to `url` (`ws://` only: TLS needs a crate of its own), performs the opening
/// handshake, and returns the stream, the connection (fed with any bytes that followed the
/// server's response) and the server's answer (its subprotocol, extensions and header fields).
///
/// # Errors
///
/// The socket's I/O errors; a failed or refused handshake as an `io::Error` wrapping the core's
/// [`HandshakeError`] (`error.get_ref()` and `downcast_ref` find it).
pub fn connect(
    url: &WsUrl,
    request: ClientRequest,
    config: Config,
) -> io::Result<(TcpStream, Connection, Accepted)> {
    if url.is_secure() {
        return Err(io::Error::other(HandshakeError::InvalidUrl(format!("{url}: wss:// needs TLS"))));
    }
    let mut stream = TcpStream::connect(url.authority())?;
    let _ = stream.set_nodelay(true);
    let mut handshake = ClientHandshake::new(request, HandshakeConfig::default(), Instant::now());
    let mut answer = None;
    drive(&mut stream, &mut handshake, |_, event| {
        answer = Some(event);
        ControlFlow::Break(())
    })?;
    let error = match answer.map_or(Err(HandshakeError::ConnectionClosed), ClientEvent::into_accepted) {
        Ok(accepted) => {
            let connection =
                handshake.into_connection(Instant::now(), config, Vec::new()).map_err(io::Error::other)?;
            return Ok((stream, connection, accepted));
        }
        Err(error) => error,
    };
    // End the transport as the handshake says (the request is written; linger, close).
    drive(&mut stream, &mut handshake, |_, _| ControlFlow::Continue(()))?;
    Err(io::Error::other(error))
}
