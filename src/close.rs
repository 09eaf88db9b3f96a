//! RFC 6455 §5.5.1 (the Close frame body) and §7.4 (status codes).
//!
//! A Close frame's "Application data" is either empty or a 2-byte status code in network byte
//! order followed by a UTF-8 reason:
//!
//! ```text
//!  0                   1                   2
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 ...
//! +-------------------------------+-----------------------------+
//! |  status code (16 bits, BE)    |  reason (UTF-8, <= 123 bytes)|
//! +-------------------------------+-----------------------------+
//! ```
//!
//! [`CloseCode`] is a newtype over `u16`, so every code a peer might send stays representable;
//! its constants carry the names of the IANA "WebSocket Close Code Number Registry".

use std::fmt;

use bytes::BufMut;

use crate::error::{ProtocolError, SendError};

/// Longest close reason: 125 bytes of control payload minus the 2-byte code (§5.5, §5.5.1).
pub const MAX_REASON_LEN: usize = 123;

/// A close status code (§7.4).
///
/// # Examples
///
/// ```
/// use rfc6455::{CloseCode, CloseCodeRange};
///
/// assert_eq!(CloseCode::NORMAL_CLOSURE, CloseCode(1000));
/// assert_eq!(CloseCode(1000).name(), Some("Normal Closure"));
/// assert!(CloseCode(4000).is_sendable());
/// assert!(!CloseCode::NO_STATUS_RCVD.is_sendable());
/// assert_eq!(CloseCode(3001).range(), CloseCodeRange::Registered);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose for which the connection was established has been fulfilled.
    pub const NORMAL_CLOSURE: CloseCode = CloseCode(1000);
    /// 1001: an endpoint is "going away", such as a server going down or a browser leaving a page.
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: an endpoint is terminating the connection due to a protocol error.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: an endpoint received a type of data it cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1004: reserved; its meaning might be defined in the future. Never sent.
    pub const RESERVED: CloseCode = CloseCode(1004);
    /// 1005: no status code was present. Reported locally, never sent.
    pub const NO_STATUS_RCVD: CloseCode = CloseCode(1005);
    /// 1006: the connection closed without a Close frame. Reported locally, never sent.
    pub const ABNORMAL_CLOSURE: CloseCode = CloseCode(1006);
    /// 1007: data within a message was not consistent with its type (e.g. invalid UTF-8 text).
    pub const INVALID_FRAME_PAYLOAD_DATA: CloseCode = CloseCode(1007);
    /// 1008: a message violates the endpoint's policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message is too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected the server to negotiate an extension it did not.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server met an unexpected condition that prevented it from fulfilling the request.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting.
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: the service is overloaded; try again later.
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway or proxy received an invalid response from the upstream server.
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: the TLS handshake failed. Reported locally, never sent.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// The name the IANA registry gives this code, for 1000-1015.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1000 => "Normal Closure",
            1001 => "Going Away",
            1002 => "Protocol error",
            1003 => "Unsupported Data",
            1004 => "Reserved",
            1005 => "No Status Rcvd",
            1006 => "Abnormal Closure",
            1007 => "Invalid frame payload data",
            1008 => "Policy Violation",
            1009 => "Message Too Big",
            1010 => "Mandatory Ext.",
            1011 => "Internal Error",
            1012 => "Service Restart",
            1013 => "Try Again Later",
            1014 => "Bad Gateway",
            1015 => "TLS handshake",
            _ => return None,
        })
    }

    /// The range of §7.4.2 this code falls in.
    pub fn range(self) -> CloseCodeRange {
        match self.0 {
            0..=999 => CloseCodeRange::Unused,
            1000..=2999 => CloseCodeRange::Protocol,
            3000..=3999 => CloseCodeRange::Registered,
            4000..=4999 => CloseCodeRange::Private,
            _ => CloseCodeRange::Undefined,
        }
    }

    /// Whether this code may appear in a Close frame on the wire, sent or received.
    ///
    /// Allowed: the codes defined for use on the wire (1000-1003, 1007-1014) and the
    /// registered and private ranges (3000-4999). Not allowed: 0-999 (unused), 1004 (reserved),
    /// 1005, 1006 and 1015 ("MUST NOT be set as a status code in a Close control frame by an
    /// endpoint", §7.4.1), the rest of 1016-2999 (reserved for future revisions) and 5000 and
    /// above (outside every range of §7.4.2).
    pub fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> CloseCode {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code.0
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} ({name})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

/// The ranges of close codes defined by §7.4.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseCodeRange {
    /// 0-999: not used.
    Unused,
    /// 1000-2999: reserved for this protocol, its revisions and extensions.
    Protocol,
    /// 3000-3999: registered with IANA by libraries, frameworks and applications.
    Registered,
    /// 4000-4999: private use, by agreement between the endpoints.
    Private,
    /// 5000-65535: outside every range defined by the RFC.
    Undefined,
}

/// The body of a Close frame that carries a status code (§5.5.1).
///
/// An empty Close body is represented by `None` where a `CloseFrame` is optional.
///
/// # Examples
///
/// ```
/// use rfc6455::{CloseCode, CloseFrame};
///
/// let close = CloseFrame::new(CloseCode::GOING_AWAY, "server restart").unwrap();
/// let mut body = Vec::new();
/// close.encode(&mut body);
/// assert_eq!(&body[..2], &[0x03, 0xe9]);
/// assert_eq!(CloseFrame::decode(&body), Ok(Some(close)));
/// assert_eq!(CloseFrame::decode(&[]), Ok(None));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code (§7.4).
    pub code: CloseCode,
    /// The reason: UTF-8, at most [`MAX_REASON_LEN`] bytes, "not necessarily human readable".
    pub reason: String,
}

impl CloseFrame {
    /// A Close frame as reported in [`crate::CloseOutcome`]: an empty body (`None`) reports
    /// [`CloseCode::NO_STATUS_RCVD`] (1005, §7.1.5: "If this Close control frame contains no
    /// status code, _The WebSocket Connection Close Code_ is considered to be 1005").
    pub fn status_of(close: Option<&CloseFrame>) -> CloseFrame {
        match close {
            Some(close) => close.clone(),
            None => CloseFrame { code: CloseCode::NO_STATUS_RCVD, reason: String::new() },
        }
    }

    /// A Close body to send, checked against §5.5 and §7.4.
    ///
    /// # Errors
    ///
    /// [`SendError::UnsendableCloseCode`] for a code that may not be sent
    /// ([`CloseCode::is_sendable`]), [`SendError::CloseReasonTooLong`] for a reason over 123 bytes.
    pub fn new(code: CloseCode, reason: impl Into<String>) -> Result<CloseFrame, SendError> {
        let reason = reason.into();
        if !code.is_sendable() {
            return Err(SendError::UnsendableCloseCode(code));
        }
        if reason.len() > MAX_REASON_LEN {
            return Err(SendError::CloseReasonTooLong(reason.len()));
        }
        Ok(CloseFrame { code, reason })
    }

    /// A Close body to send with `reason` cut to at most 123 bytes ([`MAX_REASON_LEN`]) on a
    /// character boundary, for reasons built from text of any length (an error message).
    ///
    /// # Errors
    ///
    /// [`SendError::UnsendableCloseCode`] for a code that may not be sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use rfc6455::{CloseCode, CloseFrame};
    ///
    /// let long = "é".repeat(100); // 200 bytes
    /// let close = CloseFrame::truncating(CloseCode::POLICY_VIOLATION, &long)?;
    /// assert_eq!(close.reason.len(), 122); // 61 whole characters: a 62nd would make 124
    /// # Ok::<(), rfc6455::SendError>(())
    /// ```
    pub fn truncating(code: CloseCode, reason: &str) -> Result<CloseFrame, SendError> {
        let mut end = reason.len().min(MAX_REASON_LEN);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        CloseFrame::new(code, &reason[..end])
    }

    /// Decodes the (unmasked) payload of a Close frame. `Ok(None)` for an empty body.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::CloseBodyTooShort`] for a one-byte body,
    /// [`ProtocolError::InvalidCloseCode`] for a code that may not be on the wire,
    /// [`ProtocolError::InvalidUtf8`] for a reason that is not UTF-8.
    pub fn decode(payload: &[u8]) -> Result<Option<CloseFrame>, ProtocolError> {
        match payload {
            [] => Ok(None),
            [_] => Err(ProtocolError::CloseBodyTooShort),
            [high, low, reason @ ..] => {
                // §5.5.1: "the first two bytes of the body MUST be a 2-byte unsigned integer (in
                // network byte order) representing a status code".
                let code = CloseCode(u16::from_be_bytes([*high, *low]));
                if !code.is_sendable() {
                    return Err(ProtocolError::InvalidCloseCode(code.0));
                }
                // §5.5.1: the reason "MUST" be UTF-8 encoded data; §8.1 fails on invalid data.
                let reason = std::str::from_utf8(reason).map_err(|_| ProtocolError::InvalidUtf8)?;
                Ok(Some(CloseFrame { code, reason: reason.to_owned() }))
            }
        }
    }

    /// Number of bytes [`CloseFrame::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        2 + self.reason.len()
    }

    /// Writes the Close body: the code in network byte order, then the reason.
    ///
    /// Writes exactly what the value holds; a `CloseFrame` built with [`CloseFrame::new`] is
    /// always a valid body.
    pub fn encode<B: BufMut>(&self, out: &mut B) {
        out.put_u16(self.code.0);
        out.put_slice(self.reason.as_bytes());
    }
}

impl fmt::Display for CloseFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reason.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{}: {:?}", self.code, self.reason)
        }
    }
}
