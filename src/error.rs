//! Errors, by whose fault they are.
//!
//! - [`ProtocolError`]: the peer broke RFC 6455. Each one maps to the close code of §7.4.1 that
//!   the endpoint sends when it *fails the WebSocket connection* (§7.1.7).
//! - [`SendError`]: the caller asked for something the RFC does not allow (a control payload over
//!   125 bytes, a close reason over 123 bytes, a close code that may not be sent).
//! - [`HandshakeError`]: the opening handshake (§4) failed; on the server side it carries the HTTP
//!   status to answer with.
//!
//! None of them carries an I/O error: this crate never does I/O.

use std::fmt;

use crate::close::CloseCode;
use crate::frame::{RSV1_BIT, RSV2_BIT, RSV3_BIT};

/// The peer broke RFC 6455: the connection must be failed with [`ProtocolError::close_code`].
///
/// # Examples
///
/// ```
/// use rfc6455::{CloseCode, DecodeRules, FrameHeader, ProtocolError};
///
/// // A server receives an unmasked frame (§5.1: "a server MUST close the connection").
/// let error = FrameHeader::decode(&[0x81, 0x05], &DecodeRules::server()).unwrap_err();
/// assert_eq!(error, ProtocolError::UnmaskedFrame);
/// assert_eq!(error.close_code(), CloseCode::PROTOCOL_ERROR);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The opcode is one of the reserved values 0x3-0x7 or 0xB-0xF (§5.2).
    ReservedOpcode(u8),
    /// RSV bits are set that no negotiated extension allows on this frame (§5.2): any, without an
    /// extension; with one, on a control or continuation frame too (RFC 7692 §6.1). Holds the
    /// offending bits as they sit in the first byte (`0b0111_0000` mask).
    ReservedBitsSet(u8),
    /// A control frame without FIN: control frames must not be fragmented (§5.5).
    FragmentedControlFrame,
    /// A control frame announces a payload longer than 125 bytes (§5.5). Holds the 7-bit Payload
    /// len field (126 or 127): the check fails before the extended length is read.
    ControlFrameTooLong(u64),
    /// A server received a frame without a masking key (§5.1).
    UnmaskedFrame,
    /// A client received a frame with a masking key (§5.1).
    MaskedFrame,
    /// The payload length is not in its minimal encoding (§5.2: "the minimal number of bytes MUST
    /// be used to encode the length").
    NonMinimalLength(u64),
    /// The most significant bit of a 64-bit payload length is set (§5.2).
    LengthMostSignificantBitSet,
    /// The announced payload length exceeds the receiver's limit.
    FrameTooLarge {
        /// Length announced by the frame header.
        payload_len: u64,
        /// The limit in force.
        max: u64,
    },
    /// A Close frame with a one-byte body: a body must be empty or start with a 2-byte code (§5.5.1).
    CloseBodyTooShort,
    /// A Close frame with a code that may not appear on the wire (§7.4.1, §7.4.2).
    InvalidCloseCode(u16),
    /// Text (a Text message or a Close reason) that is not valid UTF-8 (§5.6, §8.1).
    InvalidUtf8,
    /// A continuation frame arrived with no fragmented message to continue (§5.4).
    UnexpectedContinuation,
    /// A new Text or Binary frame arrived inside a fragmented message (§5.4: fragments of one
    /// message are not interleaved with another).
    ExpectedContinuation,
    /// The message (the sum of its fragments) exceeds the receiver's limit.
    MessageTooLarge {
        /// Size the message would reach with the frame just announced.
        size: u64,
        /// The limit in force.
        max: u64,
    },
    /// The message has more fragments than the receiver's limit. Holds the limit.
    TooManyFragments(usize),
    /// A message compressed by a negotiated extension (permessage-deflate, RFC 7692) does not
    /// inflate: its data is not a valid DEFLATE stream.
    InvalidCompressedData,
}

impl ProtocolError {
    /// The close code to fail the connection with: §7.4.1 in code.
    ///
    /// 1002 (protocol error) for malformed frames, 1007 (invalid frame payload data) for invalid
    /// UTF-8, 1009 (message too big) for payloads over a limit.
    pub fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::ReservedOpcode(_)
            | ProtocolError::ReservedBitsSet(_)
            | ProtocolError::FragmentedControlFrame
            | ProtocolError::ControlFrameTooLong(_)
            | ProtocolError::UnmaskedFrame
            | ProtocolError::MaskedFrame
            | ProtocolError::NonMinimalLength(_)
            | ProtocolError::LengthMostSignificantBitSet
            | ProtocolError::CloseBodyTooShort
            | ProtocolError::InvalidCloseCode(_)
            | ProtocolError::UnexpectedContinuation
            | ProtocolError::ExpectedContinuation => CloseCode::PROTOCOL_ERROR,
            ProtocolError::InvalidUtf8 | ProtocolError::InvalidCompressedData => {
                CloseCode::INVALID_FRAME_PAYLOAD_DATA
            }
            ProtocolError::FrameTooLarge { .. }
            | ProtocolError::MessageTooLarge { .. }
            | ProtocolError::TooManyFragments(_) => CloseCode::MESSAGE_TOO_BIG,
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::ReservedOpcode(opcode @ 0x10..) => write!(f, "{opcode:#x} is not a 4-bit opcode"),
            ProtocolError::ReservedOpcode(opcode @ 0x3..=0x7) => {
                write!(f, "reserved opcode {opcode:#x} (0x3-0x7 are reserved for data frames)")
            }
            ProtocolError::ReservedOpcode(opcode) => {
                write!(f, "reserved opcode {opcode:#x} (0xb-0xf are reserved for control frames)")
            }
            ProtocolError::ReservedBitsSet(bits) => {
                let names = [(RSV1_BIT, "rsv1"), (RSV2_BIT, "rsv2"), (RSV3_BIT, "rsv3")];
                let set: Vec<&str> =
                    names.iter().filter(|(bit, _)| bits & bit != 0).map(|(_, name)| *name).collect();
                write!(f, "{} set where no negotiated extension allows it", set.join(", "))
            }
            ProtocolError::FragmentedControlFrame => write!(f, "control frame without fin"),
            ProtocolError::ControlFrameTooLong(len) => {
                write!(f, "control frame payload of {len} bytes (at most 125 allowed)")
            }
            ProtocolError::UnmaskedFrame => write!(f, "unmasked frame sent by a client"),
            ProtocolError::MaskedFrame => write!(f, "masked frame sent by a server"),
            ProtocolError::NonMinimalLength(len) => {
                write!(f, "payload length {len} not in its minimal encoding")
            }
            ProtocolError::LengthMostSignificantBitSet => {
                write!(f, "most significant bit of the 64-bit payload length set")
            }
            ProtocolError::FrameTooLarge { payload_len, max } => {
                write!(f, "frame payload of {payload_len} bytes exceeds the limit of {max}")
            }
            ProtocolError::CloseBodyTooShort => write!(f, "close frame body of one byte"),
            ProtocolError::InvalidCloseCode(code) => write!(f, "close code {code} not allowed on the wire"),
            ProtocolError::InvalidUtf8 => write!(f, "invalid utf-8 in text"),
            ProtocolError::InvalidCompressedData => write!(f, "compressed message that does not inflate"),
            ProtocolError::UnexpectedContinuation => {
                write!(f, "continuation frame without a fragmented message to continue")
            }
            ProtocolError::ExpectedContinuation => {
                write!(f, "new data frame inside a fragmented message (continuation expected)")
            }
            ProtocolError::MessageTooLarge { size, max } => {
                write!(f, "message of {size} bytes exceeds the limit of {max}")
            }
            ProtocolError::TooManyFragments(max) => write!(f, "message of more than {max} fragments"),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// The caller asked to send something RFC 6455 forbids; nothing was sent.
///
/// # Examples
///
/// ```
/// use rfc6455::{CloseCode, CloseFrame, SendError};
///
/// // 1005 is "No Status Rcvd": it must never be sent (§7.4.1).
/// let error = CloseFrame::new(CloseCode::NO_STATUS_RCVD, "").unwrap_err();
/// assert_eq!(error, SendError::UnsendableCloseCode(CloseCode::NO_STATUS_RCVD));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// A control frame payload over 125 bytes (§5.5). Holds the length asked for.
    ControlPayloadTooLong(usize),
    /// A close reason over 123 bytes: with the 2-byte code it would exceed 125 (§5.5.1).
    CloseReasonTooLong(usize),
    /// A close code that may not be sent (§7.4.1, §7.4.2).
    UnsendableCloseCode(CloseCode),
    /// The closing handshake has started (or the connection is closed): "After sending a Close
    /// frame, the application MUST NOT send any more data frames" (§5.5.1).
    Closing,
    /// A whole message was sent while a message sent in fragments is unfinished: the fragments of
    /// one message must not be interleaved with another (§5.4).
    MessageInProgress,
    /// A part was sent with no message begun (see `Connection::begin_message`).
    NoMessageInProgress,
    /// Text that is not valid UTF-8 (§5.6), or a Text message whose last part ends inside a
    /// code point.
    InvalidUtf8,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::ControlPayloadTooLong(len) => {
                write!(f, "control frame payload of {len} bytes (at most 125 allowed)")
            }
            SendError::CloseReasonTooLong(len) => {
                write!(f, "close reason of {len} bytes (at most 123 allowed)")
            }
            SendError::UnsendableCloseCode(code) => write!(f, "close code {} may not be sent", code.0),
            SendError::Closing => write!(f, "the connection is closing: nothing more can be sent"),
            SendError::MessageInProgress => write!(f, "a message sent in fragments is unfinished"),
            SendError::NoMessageInProgress => write!(f, "no message begun: call begin_message first"),
            SendError::InvalidUtf8 => write!(f, "text is not valid utf-8"),
        }
    }
}

impl std::error::Error for SendError {}

/// Why a connection was failed by this endpoint (§7.1.7), as reported in
/// [`crate::CloseOutcome::error`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The peer broke the protocol.
    Protocol(ProtocolError),
    /// A keepalive Ping got no Pong in time ([`crate::Config::keepalive_timeout`]): closed
    /// with 1011.
    KeepaliveTimeout,
    /// The peer did not answer our Close within [`crate::Config::close_timeout`].
    CloseTimeout,
}

impl ConnectionError {
    /// The close code this endpoint sends for the failure: [`ProtocolError::close_code`] for a
    /// protocol error, 1011 (Internal Error) for a keepalive timeout. A close timeout sends
    /// nothing more (our Close is already out); it reports 1006.
    pub fn close_code(&self) -> CloseCode {
        match self {
            ConnectionError::Protocol(error) => error.close_code(),
            ConnectionError::KeepaliveTimeout => CloseCode::INTERNAL_ERROR,
            ConnectionError::CloseTimeout => CloseCode::ABNORMAL_CLOSURE,
        }
    }
}

impl From<ProtocolError> for ConnectionError {
    fn from(error: ProtocolError) -> ConnectionError {
        ConnectionError::Protocol(error)
    }
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionError::Protocol(error) => write!(f, "protocol error: {error}"),
            ConnectionError::KeepaliveTimeout => write!(f, "keepalive timeout"),
            ConnectionError::CloseTimeout => write!(f, "close timeout"),
        }
    }
}

impl std::error::Error for ConnectionError {}

/// The opening handshake (§4) failed.
///
/// On the server side, [`HandshakeError::status`] gives the HTTP status to answer with and
/// [`crate::handshake::server::encode_rejection`] writes that answer. On the client side the
/// variant says what was wrong with the server's response.
///
/// # Examples
///
/// ```
/// use rfc6455::handshake::server::UpgradeRequest;
/// use rfc6455::handshake::HeadLimits;
/// use rfc6455::HandshakeError;
///
/// let request = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
///                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n";
/// let error = UpgradeRequest::decode(request, &HeadLimits::default()).unwrap_err();
/// assert_eq!(error, HandshakeError::UnsupportedVersion(Some("8".into())));
/// assert_eq!(error.status(), Some(426));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The head (request or status line plus headers) exceeds the size limit.
    HeadTooLarge(usize),
    /// The head has more header fields than the limit.
    TooManyHeaders(usize),
    /// The head is not valid HTTP/1.1; holds what was wrong.
    MalformedHttp(String),
    /// Server: the method is not GET (§4.1, §4.2.1 item 1).
    MethodNotGet(String),
    /// Server: the request is older than HTTP/1.1 (§4.2.1 item 1).
    HttpVersionTooOld,
    /// Server: no Host header field (§4.2.1 item 2).
    MissingHost,
    /// Server: the `Upgrade` header field does not contain `websocket`: a plain HTTP request
    /// (§4.2.1 item 3).
    NotWebSocketUpgrade,
    /// Server: the `Connection` header field does not contain `Upgrade` (§4.2.1 item 4).
    MissingConnectionUpgrade,
    /// Server: `Sec-WebSocket-Key` is missing, repeated, or does not decode to 16 bytes (§4.2.1
    /// item 5).
    InvalidKey,
    /// Server: `Sec-WebSocket-Version` is missing or not 13 (§4.2.1 item 6, §4.4). Holds the
    /// value received, if any.
    UnsupportedVersion(Option<String>),
    /// A `Sec-WebSocket-Protocol` value is not a comma-separated list of tokens (§4.3).
    InvalidProtocolHeader,
    /// A `Sec-WebSocket-Extensions` value does not follow the grammar of §9.1.
    InvalidExtensionHeader,
    /// Client: the server answered with a status other than 101 (§4.1). A redirect's
    /// `Location` is kept so the client can follow it.
    UnexpectedStatus {
        /// The status code received.
        status: u16,
        /// The `Location` header field, if the response had one.
        location: Option<String>,
    },
    /// Client: the response's `Upgrade` header field does not contain `websocket` (§4.1).
    MissingUpgradeHeader,
    /// Client: the response's `Connection` header field does not contain `Upgrade` (§4.1).
    MissingConnectionHeader,
    /// Client: `Sec-WebSocket-Accept` is missing or does not match the key sent (§4.1).
    AcceptMismatch,
    /// Client: the server chose a subprotocol the client did not offer (§4.1).
    UnofferedProtocol(String),
    /// Client: the server chose an extension the client did not offer (§4.1). Server: the
    /// response accepts an extension the client did not offer (§4.2.2 item 5.6).
    UnofferedExtension(String),
    /// Client: a URL that is not a valid `ws://` or `wss://` URI (§3). Holds what was wrong.
    InvalidUrl(String),
    /// The head (or, for a client, the response's body) did not arrive within the handshake's
    /// deadline ([`crate::handshake::HandshakeConfig::timeout`]).
    Timeout,
    /// The peer closed the connection before the handshake was complete.
    ConnectionClosed,
    /// `accept` or `respond` was called with no request waiting for an answer (none read yet,
    /// or already answered).
    NotAwaitingAnswer,
    /// The codecs given do not match the extensions negotiated (each negotiated extension needs
    /// its codec, and one at most is supported). Holds what differs.
    ExtensionMismatch(String),
    /// Client: the server accepted an offered extension with parameters the client must refuse
    /// (for permessage-deflate, RFC 7692 §7: a parameter unknown, repeated, out of range, not
    /// allowed by the offer, or a configuration the client cannot use). Holds why.
    UnacceptableExtensionResponse(String),
}

impl HandshakeError {
    /// The HTTP status a server answers this error with, or `None` for the errors only a client
    /// meets (about the server's response). Errors both sides can meet (a malformed head, an
    /// invalid `Sec-WebSocket-Protocol` or `Sec-WebSocket-Extensions`) have the server's status;
    /// a client ignores it.
    ///
    /// 400 for a malformed or non-conforming request (§4.2.1), 426 for a plain HTTP request or an
    /// unsupported version (§4.4), 431 for an oversized head (RFC 6585 §5).
    pub fn status(&self) -> Option<u16> {
        match self {
            HandshakeError::HeadTooLarge(_) | HandshakeError::TooManyHeaders(_) => Some(431),
            HandshakeError::MalformedHttp(_)
            | HandshakeError::MethodNotGet(_)
            | HandshakeError::HttpVersionTooOld
            | HandshakeError::MissingHost
            | HandshakeError::MissingConnectionUpgrade
            | HandshakeError::InvalidKey
            | HandshakeError::InvalidProtocolHeader
            | HandshakeError::InvalidExtensionHeader => Some(400),
            HandshakeError::NotWebSocketUpgrade | HandshakeError::UnsupportedVersion(_) => Some(426),
            HandshakeError::UnexpectedStatus { .. }
            | HandshakeError::MissingUpgradeHeader
            | HandshakeError::MissingConnectionHeader
            | HandshakeError::AcceptMismatch
            | HandshakeError::UnofferedProtocol(_)
            | HandshakeError::UnofferedExtension(_)
            | HandshakeError::InvalidUrl(_)
            | HandshakeError::Timeout
            | HandshakeError::ConnectionClosed
            | HandshakeError::NotAwaitingAnswer
            | HandshakeError::ExtensionMismatch(_)
            | HandshakeError::UnacceptableExtensionResponse(_) => None,
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::HeadTooLarge(limit) => write!(f, "http head larger than {limit} bytes"),
            HandshakeError::TooManyHeaders(limit) => write!(f, "more than {limit} header fields"),
            HandshakeError::MalformedHttp(what) => write!(f, "malformed http: {what}"),
            HandshakeError::MethodNotGet(method) => write!(f, "method {method} is not GET"),
            HandshakeError::HttpVersionTooOld => write!(f, "http version older than 1.1"),
            HandshakeError::MissingHost => write!(f, "missing host header"),
            HandshakeError::NotWebSocketUpgrade => write!(f, "not a websocket upgrade request"),
            HandshakeError::MissingConnectionUpgrade => {
                write!(f, "connection header without the upgrade token")
            }
            HandshakeError::InvalidKey => write!(f, "missing or invalid sec-websocket-key"),
            HandshakeError::UnsupportedVersion(Some(version)) => {
                write!(f, "unsupported sec-websocket-version {version:?} (13 expected)")
            }
            HandshakeError::UnsupportedVersion(None) => write!(f, "missing sec-websocket-version"),
            HandshakeError::InvalidProtocolHeader => write!(f, "invalid sec-websocket-protocol"),
            HandshakeError::InvalidExtensionHeader => write!(f, "invalid sec-websocket-extensions"),
            HandshakeError::UnexpectedStatus { status, location: Some(location) } => {
                write!(f, "server answered {status} (location: {location})")
            }
            HandshakeError::UnexpectedStatus { status, location: None } => {
                write!(f, "server answered {status} instead of 101")
            }
            HandshakeError::MissingUpgradeHeader => write!(f, "response without upgrade: websocket"),
            HandshakeError::MissingConnectionHeader => {
                write!(f, "response without connection: upgrade")
            }
            HandshakeError::AcceptMismatch => write!(f, "missing or wrong sec-websocket-accept"),
            HandshakeError::UnofferedProtocol(protocol) => {
                write!(f, "server chose subprotocol {protocol:?} that was not offered")
            }
            HandshakeError::UnofferedExtension(extension) => {
                write!(f, "extension {extension:?} was not offered")
            }
            HandshakeError::InvalidUrl(what) => write!(f, "invalid websocket url {what}"),
            HandshakeError::Timeout => write!(f, "handshake timed out"),
            HandshakeError::ConnectionClosed => write!(f, "connection closed during the handshake"),
            HandshakeError::NotAwaitingAnswer => write!(f, "no request is waiting for an answer"),
            HandshakeError::ExtensionMismatch(what) => write!(f, "extension codecs do not match: {what}"),
            HandshakeError::UnacceptableExtensionResponse(why) => {
                write!(f, "the server's extension parameters are not acceptable: {why}")
            }
        }
    }
}

impl std::error::Error for HandshakeError {}
