//! RFC 6455 §4 (the opening handshake) and §11.3 (its header fields).
//!
//! Two sans-IO handshake objects own a connection's first phase, with the same verbs as
//! [`crate::Connection`] (bytes, time in; bytes to send, what happened, a deadline and a
//! [`crate::Transport`] instruction out) and produce the `Connection`:
//!
//! - [`ServerHandshake`]: reads a request head within a deadline; yields a plain HTTP request
//!   (a page on the same port) or a validated upgrade, which the application accepts (becoming
//!   the `Connection`, with the bytes after the head already fed and the extensions' codecs
//!   installed) or answers with any [`HttpResponse`]; bad requests are answered for it;
//! - [`ClientHandshake`]: sends the request built from a [`WsUrl`], validates the response
//!   within a deadline, and reports a redirect or any other answer with its bounded body.
//!
//! Below them, the layer-0 pieces they are built from, usable alone:
//!
//! - this module: the `Sec-WebSocket-Key` / `Sec-WebSocket-Accept` computation (§4.2.2 item 5.4),
//!   key generation (§4.1), limits on the HTTP head, header fields as received;
//! - [`client`]: building the request, decoding and validating the server's response (§4.1);
//! - [`server`]: parsing and validating the request, building the response (§4.2);
//! - [`extension`]: the `Sec-WebSocket-Extensions` grammar (§9.1);
//! - [`OriginPolicy`] (§10.2), [`HttpResponse`], [`WsUrl`] (§3).
//!
//! Every decoder reports how many bytes the HTTP head took, so bytes that follow it (the first
//! frames, sent without waiting) are handed back to the caller, never lost.

pub mod client;
mod client_handshake;
pub mod extension;
mod origin;
mod response;
pub mod server;
mod server_handshake;
mod url;

pub use client_handshake::{ClientEvent, ClientHandshake};
pub use origin::OriginPolicy;
pub use response::{reason_phrase, HttpResponse};
pub use server_handshake::{ServerEvent, ServerHandshake};
pub use url::WsUrl;

use std::time::Duration;

use crate::config::DEFAULT_CLOSE_TIMEOUT;
use crate::transport::Linger;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha1::{Digest, Sha1};

use crate::error::HandshakeError;
use crate::mask::RandomSource;

/// The GUID appended to the key (§1.3: "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The only version this crate speaks: `Sec-WebSocket-Version: 13` (§4.1, §11.6).
pub const VERSION: &str = "13";

/// Default of [`HeadLimits::max_head_size`]: 16 KiB.
pub const DEFAULT_MAX_HEAD_SIZE: usize = 16 * 1024;

/// Default of [`HeadLimits::max_headers`]: 64 header fields.
pub const DEFAULT_MAX_HEADERS: usize = 64;

/// Computes `Sec-WebSocket-Accept` from `Sec-WebSocket-Key` (§4.2.2 item 5.4): the base64 of
/// the SHA-1 of the key (as sent, trimmed of surrounding white space) followed by [`GUID`].
///
/// # Examples
///
/// ```
/// // §1.3 and §4.2.2.
/// assert_eq!(rfc6455::accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(client_key: &str) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(client_key.trim().as_bytes());
    sha1.update(GUID.as_bytes());
    BASE64.encode(sha1.finalize())
}

/// Generates a `Sec-WebSocket-Key`: 16 random bytes, base64-encoded (§4.1 item 7: "a nonce
/// consisting of a randomly selected 16-byte value ... MUST be selected randomly for each
/// connection").
///
/// # Examples
///
/// ```
/// let key = rfc6455::generate_key(&mut rfc6455::OsSeededRng::new());
/// assert_eq!(key.len(), 24);
/// ```
pub fn generate_key<R: RandomSource + ?Sized>(random: &mut R) -> String {
    let mut nonce = [0u8; 16];
    random.fill_random(&mut nonce);
    BASE64.encode(nonce)
}

/// Whether `key` is a valid `Sec-WebSocket-Key`: base64 that decodes to exactly 16 bytes
/// (§4.2.1 item 5, §11.3.1).
pub fn is_valid_key(key: &str) -> bool {
    let key = key.trim();
    // 16 bytes are always 24 base64 characters ending in "==".
    key.len() == 24 && matches!(BASE64.decode(key), Ok(bytes) if bytes.len() == 16)
}

/// Default of [`HandshakeConfig::timeout`]: 10 seconds.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Default of [`HandshakeConfig::max_body_size`]: 64 KiB.
pub const DEFAULT_MAX_BODY_SIZE: usize = 64 * 1024;

/// How a [`ServerHandshake`] or [`ClientHandshake`] behaves.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use rfc6455::handshake::HandshakeConfig;
///
/// let config = HandshakeConfig { timeout: Duration::from_secs(5), ..HandshakeConfig::default() };
/// assert_eq!(config.limits.max_head_size, 16 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeConfig {
    /// Limits on the head. Default [`HeadLimits::default`]: 16 KiB, 64 fields.
    pub limits: HeadLimits,
    /// The whole head must arrive within this long of the handshake's start (a server: of the
    /// connection's; a client: of sending its request, the response's body included), and a
    /// server's application must answer within it too. Default [`DEFAULT_HANDSHAKE_TIMEOUT`]
    /// (10 s). A peer that is too slow is disconnected ([`crate::HandshakeError::Timeout`]).
    pub timeout: Duration,
    /// How long a peer has to take an HTTP answer that ends the connection (a rejection, a
    /// page) before it is disconnected. Default [`DEFAULT_CLOSE_TIMEOUT`] (5 s).
    pub close_timeout: Duration,
    /// The lingering close after such an answer. Default [`Linger::default`] (2 s, 1 MiB).
    pub linger: Linger,
    /// Client: most bytes of a non-101 response's body kept. Default [`DEFAULT_MAX_BODY_SIZE`]
    /// (64 KiB).
    pub max_body_size: usize,
}

impl Default for HandshakeConfig {
    fn default() -> HandshakeConfig {
        HandshakeConfig {
            limits: HeadLimits::default(),
            timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            linger: Linger::default(),
            max_body_size: DEFAULT_MAX_BODY_SIZE,
        }
    }
}

/// Limits on an HTTP head (request or status line plus header fields), so a peer cannot make the
/// endpoint buffer without bound.
///
/// # Examples
///
/// ```
/// use rfc6455::handshake::HeadLimits;
///
/// let limits = HeadLimits { max_head_size: 4096, ..HeadLimits::default() };
/// assert_eq!(limits.max_headers, 64);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// Largest head in bytes, up to and including the empty line. Default
    /// [`DEFAULT_MAX_HEAD_SIZE`] (16 KiB). A larger head fails with
    /// [`HandshakeError::HeadTooLarge`] (431 on a server) as soon as that many bytes arrived.
    pub max_head_size: usize,
    /// Most header fields. Default [`DEFAULT_MAX_HEADERS`] (64). More fail with
    /// [`HandshakeError::TooManyHeaders`] (431 on a server).
    pub max_headers: usize,
}

impl Default for HeadLimits {
    fn default() -> HeadLimits {
        HeadLimits { max_head_size: DEFAULT_MAX_HEAD_SIZE, max_headers: DEFAULT_MAX_HEADERS }
    }
}

/// One header field as received: the name as sent, and the raw value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderField {
    /// The field name, as sent (compare it case-insensitively).
    pub name: String,
    /// The field value, without surrounding white space. HTTP allows non-UTF-8 octets here.
    pub value: Vec<u8>,
}

/// The header fields of a request or response, in the order received.
///
/// # Examples
///
/// ```
/// use rfc6455::handshake::server::Request;
/// use rfc6455::handshake::HeadLimits;
/// use rfc6455::Decoded;
///
/// let input = b"GET / HTTP/1.1\r\nHost: a\r\nAccept: x, y\r\naccept: z\r\n\r\n";
/// let Decoded::Complete { value: request, .. } = Request::decode(input, &HeadLimits::default())?
/// else { unreachable!() };
/// assert_eq!(request.headers.get("host"), Some("a"));
/// assert_eq!(request.headers.tokens("ACCEPT").collect::<Vec<_>>(), ["x", "y", "z"]);
/// # Ok::<(), rfc6455::HandshakeError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<HeaderField>,
}

impl Headers {
    /// Every field, in the order received.
    pub fn fields(&self) -> &[HeaderField] {
        &self.fields
    }

    /// The value of the first field named `name` (case-insensitive), if it is UTF-8.
    pub fn get(&self, name: &str) -> Option<&str> {
        let field = self.fields.iter().find(|field| field.name.eq_ignore_ascii_case(name))?;
        std::str::from_utf8(&field.value).ok()
    }

    /// The raw values of every field named `name` (case-insensitive).
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields
            .iter()
            .filter(move |field| field.name.eq_ignore_ascii_case(name))
            .map(|field| field.value.as_slice())
    }

    /// The number of fields named `name` (case-insensitive).
    pub fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }

    /// The elements of the comma-separated lists in every field named `name`, trimmed, empty
    /// elements skipped (the `#rule` of RFC 7230 §7). Non-UTF-8 values are skipped.
    pub fn tokens<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.get_all(name)
            .filter_map(|value| std::str::from_utf8(value).ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|element| !element.is_empty())
    }

    /// Whether a field named `name` lists `token` (both case-insensitive), as `Connection:
    /// keep-alive, Upgrade` lists `upgrade`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.tokens(name).any(|element| element.eq_ignore_ascii_case(token))
    }

    pub(crate) fn from_httparse(headers: &[httparse::Header<'_>]) -> Headers {
        let fields = headers
            .iter()
            .map(|header| HeaderField { name: header.name.to_owned(), value: header.value.to_vec() })
            .collect();
        Headers { fields }
    }
}

impl FromIterator<HeaderField> for Headers {
    fn from_iter<I: IntoIterator<Item = HeaderField>>(fields: I) -> Headers {
        Headers { fields: fields.into_iter().collect() }
    }
}

/// Whether `text` is a `token` (RFC 7230 §3.2.6): one or more `tchar`.
pub(crate) fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(is_tchar)
}

/// `tchar` of RFC 7230 §3.2.6.
pub(crate) fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// The subprotocols listed in every `Sec-WebSocket-Protocol` field (§4.1 item 10, §11.3.4).
fn protocols(headers: &Headers) -> Result<Vec<String>, HandshakeError> {
    headers
        .tokens("Sec-WebSocket-Protocol")
        .map(|protocol| {
            if is_token(protocol) {
                Ok(protocol.to_owned())
            } else {
                Err(HandshakeError::InvalidProtocolHeader)
            }
        })
        .collect()
}

/// Adds `bytes` of a head being read to `input`; whether the head may now be complete. A head
/// ends with an empty line, so decoding only when a line ends (or at the size limit) costs a peer
/// that sends one byte at a time one scan per line, not one per byte.
pub(crate) fn push_head_bytes(input: &mut Vec<u8>, bytes: &[u8], limits: &HeadLimits) -> bool {
    input.extend_from_slice(bytes);
    bytes.contains(&b'\n') || input.len() >= limits.max_head_size
}

/// Adds `bytes` that arrived after a head of `head_len` bytes, before the endpoint is done with
/// the handshake (early frames, kept for the connection).
///
/// # Errors
///
/// [`HandshakeError::HeadTooLarge`] when more than [`HeadLimits::max_head_size`] of them
/// arrive: nothing is added.
pub(crate) fn push_early_bytes(
    input: &mut Vec<u8>,
    head_len: usize,
    bytes: &[u8],
    limits: &HeadLimits,
) -> Result<(), HandshakeError> {
    if input.len() + bytes.len() > head_len + limits.max_head_size {
        return Err(HandshakeError::HeadTooLarge(limits.max_head_size));
    }
    input.extend_from_slice(bytes);
    Ok(())
}

/// The part of `input` an HTTP head may occupy under `limits`.
fn head_window<'a>(input: &'a [u8], limits: &HeadLimits) -> &'a [u8] {
    &input[..input.len().min(limits.max_head_size)]
}

/// Interprets httparse's answer for a head parsed from `window`: `Some(consumed)` when complete,
/// `None` when more bytes are needed, an error when malformed or over a limit.
fn head_status(
    status: httparse::Result<usize>,
    window: &[u8],
    limits: &HeadLimits,
) -> Result<Option<usize>, HandshakeError> {
    match status {
        Ok(httparse::Status::Complete(consumed)) => Ok(Some(consumed)),
        Ok(httparse::Status::Partial) if window.len() >= limits.max_head_size => {
            Err(HandshakeError::HeadTooLarge(limits.max_head_size))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(HandshakeError::TooManyHeaders(limits.max_headers)),
        Err(error) => Err(HandshakeError::MalformedHttp(error.to_string())),
    }
}

/// Writes `name: value\r\n`.
fn put_field<B: bytes::BufMut>(out: &mut B, name: &str, value: &str) {
    out.put_slice(name.as_bytes());
    out.put_slice(b": ");
    out.put_slice(value.as_bytes());
    out.put_slice(b"\r\n");
}
