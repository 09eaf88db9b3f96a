//! [`Sender`]: the handle other tasks send through, whatever the transport's type.

use std::fmt;
use std::sync::Weak;
use std::task::{Context, Poll};

use ::tokio::io::{AsyncRead, AsyncWrite};

use super::driver::now;
use super::wakers::Role;
use super::websocket::Shared;
use crate::close::CloseCode;
use crate::connection::Connection;
use crate::error::SendError;
use crate::message::Message;

/// A handle other tasks send through, from [`WebSocket::sender`](super::WebSocket::sender): clone it into any task.
///
/// Its mailbox is the connection's unsent output, bounded by [`Options::high_water_mark`](super::Options::high_water_mark):
/// [`Sender::try_send`] says [`TrySendError::Full`] above it (a peer that does not read fast
/// enough), and [`Sender::send`] waits for room. A message goes out after everything queued
/// before it, by any task. The bytes are written by whichever task polls the connection: the
/// sender's own call writes what the transport takes at once, and the task reading the
/// [`WebSocket`](super::WebSocket) writes the rest.
///
/// A `Sender` does not keep the connection alive: once the [`WebSocket`](super::WebSocket) (both halves) is
/// dropped, or the connection has closed, sending says so.
#[derive(Clone)]
pub struct Sender {
    shared: Weak<dyn Commands>,
}

/// Why [`Sender::try_send`] did not queue a message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrySendError {
    /// More than the high-water mark waits to be written: the peer is not reading fast enough.
    /// The message was not queued.
    Full,
    /// The connection is closing or closed, or its [`WebSocket`](super::WebSocket) was dropped.
    Closed,
    /// The core refused it (a control payload over 125 bytes, say).
    Invalid(SendError),
}

impl fmt::Display for TrySendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full => f.write_str("the peer is not reading: the outgoing buffer is full"),
            TrySendError::Closed => f.write_str("the connection is closed"),
            TrySendError::Invalid(error) => write!(f, "cannot send: {error}"),
        }
    }
}

impl std::error::Error for TrySendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TrySendError::Invalid(error) => Some(error),
            _ => None,
        }
    }
}

/// What a [`Sender`] needs of the shared state, whatever the transport's type.
pub(super) trait Commands: Send + Sync {
    /// Runs `command` on the connection if there is room under the high-water mark (or `room`
    /// is not asked for); `false` if there is not.
    fn command(&self, room: bool, command: &mut dyn FnMut(&mut Connection)) -> bool;
    /// Whether the connection is open (no Close sent or received).
    fn is_open(&self) -> bool;
    /// Waits for room under the high-water mark.
    fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()>;
}

impl<IO: AsyncRead + AsyncWrite + Unpin + Send> Commands for Shared<IO> {
    fn command(&self, room: bool, command: &mut dyn FnMut(&mut Connection)) -> bool {
        if room && !self.lock().has_room() {
            return false;
        }
        self.run_command(command);
        true
    }

    fn is_open(&self) -> bool {
        self.lock().is_open()
    }

    fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.poll_until(
            cx,
            Role::Sender,
            |inner| if inner.has_room() { Poll::Ready(()) } else { Poll::Pending },
        )
    }
}

impl Sender {
    pub(super) fn new(shared: Weak<dyn Commands>) -> Sender {
        Sender { shared }
    }

    /// Queues `message` without waiting, and writes what the transport takes at once.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] while more than the high-water mark waits to be written (the
    /// message is not queued: drop it, or close a peer that cannot keep up);
    /// [`TrySendError::Closed`] once the connection is closing or gone.
    pub fn try_send(&self, message: &Message) -> Result<(), TrySendError> {
        self.try_command(|connection| connection.send_message(message))
    }

    /// Queues `message` once there is room under the high-water mark, and writes what the
    /// transport takes at once.
    ///
    /// Cancel-safe: dropped while waiting, nothing was queued.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Closed`] once the connection is closing or gone, never `Full`.
    pub async fn send(&self, message: &Message) -> Result<(), TrySendError> {
        loop {
            let shared = self.shared.upgrade().ok_or(TrySendError::Closed)?;
            std::future::poll_fn(|cx| shared.poll_room(cx)).await;
            match self.try_send(message) {
                Err(TrySendError::Full) => continue,
                done => return done,
            }
        }
    }

    /// Sends a Ping (§5.5.2) without waiting for room: control frames may always go out.
    ///
    /// # Errors
    ///
    /// As [`Sender::try_send`], never `Full`.
    pub fn send_ping(&self, payload: &[u8]) -> Result<(), TrySendError> {
        self.command(false, |connection| connection.send_ping(payload))
    }

    /// Starts closing the connection with `code` and `reason` (§7.1.2); the task reading the
    /// [`WebSocket`](super::WebSocket) sees the end.
    ///
    /// # Errors
    ///
    /// As [`Sender::try_send`], never `Full`.
    pub fn close(&self, code: CloseCode, reason: &str) -> Result<(), TrySendError> {
        self.command(false, |connection| connection.close(now(), code, reason))
    }

    /// Runs `command` on the connection if there is room under the high-water mark: a message
    /// in parts, say.
    ///
    /// # Errors
    ///
    /// As [`Sender::try_send`].
    pub fn try_command(
        &self,
        command: impl FnOnce(&mut Connection) -> Result<(), SendError>,
    ) -> Result<(), TrySendError> {
        self.command(true, command)
    }

    /// Whether the connection is closing or gone (closed, or its [`WebSocket`](super::WebSocket) dropped).
    pub fn is_closed(&self) -> bool {
        self.shared.upgrade().is_none_or(|shared| !shared.is_open())
    }

    fn command(
        &self,
        room: bool,
        command: impl FnOnce(&mut Connection) -> Result<(), SendError>,
    ) -> Result<(), TrySendError> {
        let shared = self.shared.upgrade().ok_or(TrySendError::Closed)?;
        let mut command = Some(command);
        let mut result = Err(SendError::Closing);
        let ran = shared.command(room, &mut |connection| {
            if let Some(command) = command.take() {
                result = command(connection);
            }
        });
        if !ran {
            return Err(TrySendError::Full);
        }
        result.map_err(|error| match error {
            SendError::Closing => TrySendError::Closed,
            other => TrySendError::Invalid(other),
        })
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").field("closed", &self.is_closed()).finish()
    }
}
