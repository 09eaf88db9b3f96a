//! What a [`crate::Connection`] reports: messages, control frames if asked for, and how the
//! connection closed (§7.1.5, §7.1.6).

use std::fmt;

use bytes::Bytes;

use crate::close::{CloseCode, CloseFrame};
use crate::error::ConnectionError;
use crate::message::{Message, MessageFragment};

/// Something the application should know, from [`crate::Connection::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A whole data message arrived.
    Message(Message),
    /// A fragment of a data message arrived (streaming mode, [`crate::Config::streaming`]).
    Fragment(MessageFragment),
    /// A Ping arrived, with its payload ([`crate::Config::deliver_control_frames`]). It has
    /// already been answered if [`crate::Config::auto_pong`] is set.
    Ping(Bytes),
    /// A Pong arrived, with its payload ([`crate::Config::deliver_control_frames`]).
    Pong(Bytes),
    /// The WebSocket connection is closed: reported exactly once, last.
    Closed(CloseOutcome),
}

/// Who started closing the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseInitiator {
    /// This endpoint: the application called `close`, or the connection failed here.
    Local,
    /// The peer: it sent a Close frame, or the transport ended without one.
    Remote,
}

/// How the connection ended (§7.1.5 "The WebSocket Connection Close Code", §7.1.6 "Close
/// Reason").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseOutcome {
    /// Who started it.
    pub initiator: CloseInitiator,
    /// The Close frame this endpoint sent, if any.
    pub sent: Option<CloseFrame>,
    /// The Close frame the peer sent, if any.
    pub received: Option<CloseFrame>,
    /// Whether the closing handshake completed: both endpoints sent and received a Close frame
    /// (§7.1.4 "The WebSocket Connection is Closed cleanly").
    pub clean: bool,
    /// Why this endpoint failed the connection, if it did (§7.1.7).
    pub error: Option<ConnectionError>,
}

impl CloseOutcome {
    /// _The WebSocket Connection Close Code_ (§7.1.5): the code of the peer's Close frame, 1005
    /// if it had none, 1006 if no Close frame was received.
    pub fn code(&self) -> CloseCode {
        self.received.as_ref().map_or(CloseCode::ABNORMAL_CLOSURE, |status| status.code)
    }

    /// _The WebSocket Connection Close Reason_ (§7.1.6): the reason of the peer's Close frame,
    /// empty if none.
    pub fn reason(&self) -> &str {
        self.received.as_ref().map_or("", |status| status.reason.as_str())
    }
}

impl fmt::Display for CloseOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let by = match self.initiator {
            CloseInitiator::Local => "locally",
            CloseInitiator::Remote => "by the peer",
        };
        write!(f, "closed {by}, code {}", self.code())?;
        if !self.reason().is_empty() {
            write!(f, " ({:?})", self.reason())?;
        }
        if let Some(sent) = &self.sent {
            write!(f, ", sent {}", sent.code)?;
        }
        f.write_str(if self.clean { ", clean" } else { ", not clean" })?;
        if let Some(error) = &self.error {
            write!(f, ": {error}")?;
        }
        Ok(())
    }
}
