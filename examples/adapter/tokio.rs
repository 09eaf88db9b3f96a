//! A tokio adapter for `rfc6455`: one task per connection.
//!
//! It holds no WebSocket logic. It reads the HTTP head until the core's decoder has a whole
//! request, then follows the core's drain rule: feed what it reads to the connection, write what
//! the connection has to send, sleep until the connection's deadline, close when it says so.
//!
//! Memory per idle connection stays small: the read chunk lives on the stack only while a read
//! is being handled, never across an `.await`.

#![allow(dead_code)] // each example uses part of this module

use std::io;
use std::time::{Duration, Instant};

use rfc6455::handshake::server::{encode_rejection, AcceptResponse, UpgradeRequest};
use rfc6455::handshake::HeadLimits;
use rfc6455::{CloseCode, Connection, Decoded, Event, HandshakeError};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

/// Bytes handed to the connection per read.
const READ_CHUNK: usize = 16 * 1024;

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
pub async fn read_request(stream: &mut TcpStream, limits: &HeadLimits) -> io::Result<Handshake> {
    let mut head = Vec::new();
    loop {
        stream.readable().await?;
        {
            let mut chunk = [0u8; 4096];
            match stream.try_read(&mut chunk) {
                Ok(0) => return Ok(Handshake::Closed),
                Ok(read) => head.extend_from_slice(&chunk[..read]),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                Err(error) => return Err(error),
            }
        }
        match UpgradeRequest::decode(&head, limits) {
            Ok(Decoded::Complete { value, consumed }) => {
                let leftover = head.split_off(consumed);
                return Ok(Handshake::Upgrade { request: value, leftover });
            }
            Ok(Decoded::Incomplete { .. }) => {}
            Err(error) => {
                let mut response = Vec::new();
                encode_rejection(&error, &mut response);
                stream.write_all(&response).await?;
                let _ = stream.shutdown().await;
                return Ok(Handshake::Rejected(error));
            }
        }
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
/// `on_event` sees every event and may send through the connection. Reading pauses while more
/// than `high_water_mark` bytes wait to be written (backpressure). When `shutdown` turns true,
/// the connection is closed with 1001 (Going Away).
pub async fn drive(
    stream: &mut TcpStream,
    connection: &mut Connection,
    high_water_mark: usize,
    mut shutdown: watch::Receiver<bool>,
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
                match stream.try_write(connection.bytes_to_send()) {
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

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}
