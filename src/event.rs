//! What a [`crate::Connection`] reports: messages, control frames if asked for, and how the
//! connection closed (§7.1.5, §7.1.6).

use std::fmt;

use bytes::Bytes;

use crate::close::{CloseCode, CloseFrame};
use crate::error::ConnectionError;
use crate::message::{Message, MessageChunk};

/// Something the application should know, from [`crate::Connection::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A whole data message arrived.
    Message(Message),
    /// A piece of a data message arrived (streaming mode, [`crate::Config::streaming`]).
    Chunk(MessageChunk),
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

/// A Close frame sent or received: its code and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseStatus {
    /// The code; [`CloseCode::NO_STATUS_RCVD`] (1005) when the frame had no body (§7.1.5).
    pub code: CloseCode,
    /// The reason, empty if none.
    pub reason: String,
}

impl CloseStatus {
    /// The status of a Close frame's body: `None` (an empty body) is 1005, No Status Rcvd.
    pub fn of(close: Option<&CloseFrame>) -> CloseStatus {
        match close {
            Some(close) => CloseStatus { code: close.code, reason: close.reason.clone() },
            None => CloseStatus { code: CloseCode::NO_STATUS_RCVD, reason: String::new() },
        }
    }
}

/// How the connection ended (§7.1.5 "The WebSocket Connection Close Code", §7.1.6 "Close
/// Reason").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseOutcome {
    /// Who started it.
    pub initiator: CloseInitiator,
    /// The Close frame this endpoint sent, if any.
    pub sent: Option<CloseStatus>,
    /// The Close frame the peer sent, if any.
    pub received: Option<CloseStatus>,
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
