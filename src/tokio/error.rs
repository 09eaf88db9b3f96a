//! The tokio module's one error type: I/O, the opening handshake, the core's send errors, and a
//! connection that closed with an error.

use std::fmt;
use std::io;

use crate::error::{HandshakeError, SendError};
use crate::event::{CloseOutcome, Event};
use crate::handshake::client::Response;

/// Everything that can go wrong in [`crate::tokio`]: one type for I/O, the opening handshake,
/// sending, and a connection that did not close normally.
///
/// It is `Send + Sync + 'static`, so it fits `Box<dyn std::error::Error + Send + Sync>` and
/// `anyhow`; [`std::error::Error::source`] gives the error it wraps.
///
/// ```
/// use rfc6455::tokio::Error;
/// use rfc6455::HandshakeError;
///
/// fn assert_send_sync<T: Send + Sync + 'static>() {}
/// assert_send_sync::<Error>();
///
/// let error = Error::from(HandshakeError::Timeout);
/// assert_eq!(error.to_string(), "opening handshake failed: handshake timed out");
/// assert!(std::error::Error::source(&error).is_some());
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed: connecting, reading or writing.
    Io(io::Error),
    /// The opening handshake failed (§4): a bad request (already answered with its status), a
    /// bad 101, the handshake's deadline, the peer leaving.
    Handshake(HandshakeError),
    /// Client: the server answered with something other than 101 (a redirect, 401, 403, 404...):
    /// its status, header fields and body (§4.1).
    Rejected(Box<Response>),
    /// Server: the application refused the upgrade with this HTTP status (it was sent).
    Refused(u16),
    /// The core refused a command: sending after the closing handshake started, a control
    /// payload over 125 bytes...
    Send(SendError),
    /// [`super::WebSocket::recv`] met an event it cannot return as a message: a piece of one in
    /// streaming mode ([`crate::Config::streaming`]). Nothing is lost: the event is here; use
    /// [`super::WebSocket::next_event`] with that mode.
    Unexpected(Box<Event>),
    /// The connection closed, but not normally (§7.1.5): it failed (a protocol error, a
    /// keepalive timeout), the peer closed with a code other than 1000, 1001 or none, or the
    /// transport ended without a closing handshake (1006).
    Closed(Box<CloseOutcome>),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(error) => write!(f, "i/o error: {error}"),
            Error::Handshake(error) => write!(f, "opening handshake failed: {error}"),
            Error::Rejected(response) => {
                write!(f, "the server refused the upgrade with status {}", response.status)
            }
            Error::Refused(status) => write!(f, "the upgrade was refused with status {status}"),
            Error::Send(error) => write!(f, "cannot send: {error}"),
            Error::Unexpected(event) => write!(f, "an event that is not a whole message: {event:?}"),
            Error::Closed(outcome) => write!(f, "connection {outcome}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(error) => Some(error),
            Error::Handshake(error) => Some(error),
            Error::Send(error) => Some(error),
            Error::Closed(outcome) => {
                outcome.error.as_ref().map(|error| error as &(dyn std::error::Error + 'static))
            }
            Error::Rejected(_) | Error::Refused(_) | Error::Unexpected(_) => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(error: io::Error) -> Error {
        Error::Io(error)
    }
}

impl From<HandshakeError> for Error {
    fn from(error: HandshakeError) -> Error {
        Error::Handshake(error)
    }
}

impl From<SendError> for Error {
    fn from(error: SendError) -> Error {
        Error::Send(error)
    }
}

impl From<Error> for io::Error {
    /// For code that speaks `io::Error`: an I/O error as it was, anything else wrapped (find it
    /// again with `get_ref` and `downcast_ref`).
    fn from(error: Error) -> io::Error {
        match error {
            Error::Io(error) => error,
            other => io::Error::other(other),
        }
    }
}
