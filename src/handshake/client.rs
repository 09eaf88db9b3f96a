//! RFC 6455 §4.1: the client's side of the opening handshake.
//!
//! [`ClientRequest`] builds the request (items 1-12 of §4.1) and validates the server's response
//! against it ([`ClientRequest::decode_response`]), giving an [`Accepted`] handshake or a
//! [`HandshakeError`] that says what was wrong: a status other than 101 (with `Location` for a
//! redirect), missing `Upgrade` / `Connection` tokens, a wrong `Sec-WebSocket-Accept`, a
//! subprotocol or extension that was not offered.

use bytes::{BufMut, Bytes};

use crate::error::HandshakeError;
use crate::handshake::extension::Extension;
use crate::handshake::WsUrl;
use crate::handshake::{
    accept_key, generate_key, head_status, head_window, protocols, put_field, HeadLimits, Headers, VERSION,
};
use crate::mask::RandomSource;
use crate::Decoded;

/// The client's opening handshake request (§4.1).
///
/// # Examples
///
/// ```
/// use rfc6455::handshake::client::ClientRequest;
/// use rfc6455::handshake::HeadLimits;
/// use rfc6455::Decoded;
///
/// // §1.3: the RFC's example request, with its fixed key.
/// let request = ClientRequest::new("server.example.com", "/chat", &mut rfc6455::OsSeededRng::new())
///     .with_key("dGhlIHNhbXBsZSBub25jZQ==")
///     .with_origin("http://example.com")
///     .with_protocols(["chat", "superchat"]);
/// let mut head = Vec::new();
/// request.encode(&mut head);
/// assert!(head.starts_with(b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\n"));
///
/// // §1.3: the server's answer.
/// let response = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
///     Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n";
/// let Decoded::Complete { value: accepted, consumed } =
///     request.decode_response(response, &HeadLimits::default())?
/// else { unreachable!() };
/// assert_eq!(consumed, response.len());
/// assert_eq!(accepted.protocol(), Some("chat"));
/// # Ok::<(), rfc6455::HandshakeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequest {
    host: String,
    target: String,
    key: String,
    origin: Option<String>,
    protocols: Vec<String>,
    extensions: Vec<Extension>,
    headers: Vec<(String, String)>,
}

impl ClientRequest {
    /// A request for `target` (path and query, such as `/chat?room=1`) on `host` (the `Host`
    /// field: the host name, with `:port` if it is not the scheme's default), with a fresh key
    /// drawn from `random`.
    pub fn new<R: RandomSource + ?Sized>(
        host: impl Into<String>,
        target: impl Into<String>,
        random: &mut R,
    ) -> ClientRequest {
        let target = target.into();
        ClientRequest {
            host: host.into(),
            target: if target.is_empty() { "/".to_owned() } else { target },
            key: generate_key(random),
            origin: None,
            protocols: Vec::new(),
            extensions: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// A request for `url` (§4.1 items 3-4: its target and its `Host` field), with a fresh key
    /// drawn from `random`.
    pub fn from_url<R: RandomSource + ?Sized>(url: &WsUrl, random: &mut R) -> ClientRequest {
        ClientRequest::new(url.host_header(), url.target(), random)
    }

    /// Uses a fixed `Sec-WebSocket-Key`, for tests and RFC vectors. Real clients keep the random
    /// key: §4.1 requires a new random one for each connection.
    pub fn with_key(mut self, key: impl Into<String>) -> ClientRequest {
        self.key = key.into();
        self
    }

    /// Sets `Origin` (§4.1 item 8; browsers always send it).
    pub fn with_origin(mut self, origin: impl Into<String>) -> ClientRequest {
        self.origin = Some(origin.into());
        self
    }

    /// Offers subprotocols, most preferred first (`Sec-WebSocket-Protocol`, §4.1 item 10).
    pub fn with_protocols<S: Into<String>>(
        mut self,
        protocols: impl IntoIterator<Item = S>,
    ) -> ClientRequest {
        self.protocols.extend(protocols.into_iter().map(Into::into));
        self
    }

    /// Offers an extension (`Sec-WebSocket-Extensions`, §4.1 item 11).
    pub fn with_extension(mut self, extension: Extension) -> ClientRequest {
        self.extensions.push(extension);
        self
    }

    /// Adds a header field, such as `Authorization` or `User-Agent` (§4.1 item 12). The value
    /// must not contain CR or LF.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> ClientRequest {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The `Sec-WebSocket-Key` sent.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The subprotocols offered.
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// The extensions offered.
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// Writes the request head.
    pub fn encode<B: BufMut>(&self, out: &mut B) {
        // §4.1 item 1-2: "The handshake MUST be a valid HTTP request"; "The method of the request
        // MUST be GET, and the HTTP version MUST be at least 1.1."
        out.put_slice(b"GET ");
        out.put_slice(self.target.as_bytes());
        out.put_slice(b" HTTP/1.1\r\n");
        put_field(out, "Host", &self.host);
        put_field(out, "Upgrade", "websocket");
        put_field(out, "Connection", "Upgrade");
        put_field(out, "Sec-WebSocket-Key", &self.key);
        if let Some(origin) = &self.origin {
            put_field(out, "Origin", origin);
        }
        if !self.protocols.is_empty() {
            put_field(out, "Sec-WebSocket-Protocol", &self.protocols.join(", "));
        }
        if !self.extensions.is_empty() {
            put_field(out, "Sec-WebSocket-Extensions", &Extension::encode_list(&self.extensions));
        }
        put_field(out, "Sec-WebSocket-Version", VERSION);
        for (name, value) in &self.headers {
            put_field(out, name, value);
        }
        out.put_slice(b"\r\n");
    }

    /// Decodes the server's response head from the start of `input` and validates it against this
    /// request (§4.1, "the client MUST validate the server's response as follows").
    ///
    /// `consumed` is the length of the head: bytes after it are the server's first frames and
    /// must be passed on to the connection.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::HeadTooLarge`], [`HandshakeError::TooManyHeaders`],
    /// [`HandshakeError::MalformedHttp`]; then, in the order of §4.1:
    /// [`HandshakeError::UnexpectedStatus`], [`HandshakeError::MissingUpgradeHeader`],
    /// [`HandshakeError::MissingConnectionHeader`], [`HandshakeError::AcceptMismatch`],
    /// [`HandshakeError::InvalidExtensionHeader`], [`HandshakeError::UnofferedExtension`],
    /// [`HandshakeError::InvalidProtocolHeader`], [`HandshakeError::UnofferedProtocol`].
    pub fn decode_response(
        &self,
        input: &[u8],
        limits: &HeadLimits,
    ) -> Result<Decoded<Accepted>, HandshakeError> {
        match Response::decode(input, limits)? {
            Decoded::Complete { value, consumed } => {
                Ok(Decoded::Complete { value: self.validate_response(value)?, consumed })
            }
            Decoded::Incomplete { needed } => Ok(Decoded::Incomplete { needed }),
        }
    }

    /// Validates a decoded response head against this request (§4.1), as
    /// [`ClientRequest::decode_response`] does after decoding.
    ///
    /// # Errors
    ///
    /// As [`ClientRequest::decode_response`], after decoding.
    pub fn validate_response(&self, response: Response) -> Result<Accepted, HandshakeError> {
        let Response { status, headers, .. } = response;
        // §4.1: "If the status code received from the server is not 101, the client handles the
        // response per HTTP procedures" (a redirect, an authentication request...).
        if status != 101 {
            let location = headers.get("Location").map(str::to_owned);
            return Err(HandshakeError::UnexpectedStatus { status, location });
        }
        // "If the response lacks an |Upgrade| header field or the |Upgrade| header field contains
        // a value that is not an ASCII case-insensitive match for the value "websocket", the
        // client MUST _Fail the WebSocket Connection_."
        if !headers.has_token("Upgrade", "websocket") {
            return Err(HandshakeError::MissingUpgradeHeader);
        }
        // "If the response lacks a |Connection| header field or the |Connection| header field
        // doesn't contain a token that is an ASCII case-insensitive match for the value
        // "Upgrade", the client MUST _Fail the WebSocket Connection_."
        if !headers.has_token("Connection", "Upgrade") {
            return Err(HandshakeError::MissingConnectionHeader);
        }
        // "If the response lacks a |Sec-WebSocket-Accept| header field or the
        // |Sec-WebSocket-Accept| contains a value other than the base64-encoded SHA-1 of the
        // concatenation of the |Sec-WebSocket-Key| (as a string, not base64-decoded) with the
        // string "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" ... the client MUST _Fail the WebSocket
        // Connection_."
        let expected = accept_key(&self.key);
        match (headers.count("Sec-WebSocket-Accept"), headers.get("Sec-WebSocket-Accept")) {
            (1, Some(accept)) if accept.trim() == expected => {}
            _ => return Err(HandshakeError::AcceptMismatch),
        }
        // "If the response includes a |Sec-WebSocket-Extensions| header field and this header
        // field indicates the use of an extension that was not present in the client's handshake
        // ... the client MUST _Fail the WebSocket Connection_."
        let mut extensions = Vec::new();
        for value in headers.get_all("Sec-WebSocket-Extensions") {
            let value = std::str::from_utf8(value).map_err(|_| HandshakeError::InvalidExtensionHeader)?;
            for extension in Extension::decode_list(value)? {
                if !self.extensions.iter().any(|offered| offered.name.eq_ignore_ascii_case(&extension.name)) {
                    return Err(HandshakeError::UnofferedExtension(extension.name));
                }
                extensions.push(extension);
            }
        }
        // "If the response includes a |Sec-WebSocket-Protocol| header field and this header field
        // indicates the use of a subprotocol that was not present in the client's handshake ...
        // the client MUST _Fail the WebSocket Connection_." §4.2.2: the server selects one value.
        let protocol = match protocols(&headers)?.as_slice() {
            [] => None,
            [protocol] if self.protocols.contains(protocol) => Some(protocol.clone()),
            [protocol] => return Err(HandshakeError::UnofferedProtocol(protocol.clone())),
            _ => return Err(HandshakeError::InvalidProtocolHeader),
        };
        Ok(Accepted { protocol, extensions, headers })
    }
}

/// An HTTP/1.x response head as received, whatever its status; the body, if read, separately.
///
/// # Examples
///
/// ```
/// use rfc6455::handshake::client::Response;
/// use rfc6455::handshake::HeadLimits;
/// use rfc6455::Decoded;
///
/// let input = b"HTTP/1.1 302 Found\r\nLocation: ws://elsewhere/\r\nContent-Length: 0\r\n\r\n";
/// let Decoded::Complete { value: response, consumed } = Response::decode(input, &HeadLimits::default())?
/// else { unreachable!() };
/// assert_eq!((response.status, consumed), (302, input.len()));
/// assert_eq!(response.headers.get("location"), Some("ws://elsewhere/"));
/// # Ok::<(), rfc6455::HandshakeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The reason phrase as sent.
    pub reason: String,
    /// The minor HTTP version: 1 for HTTP/1.1.
    pub minor_version: u8,
    /// Every header field.
    pub headers: Headers,
    /// The body, as far as it was read (bounded by
    /// [`crate::handshake::HandshakeConfig::max_body_size`]); empty from [`Response::decode`].
    pub body: Bytes,
}

impl Response {
    /// Decodes a response head from the start of `input`, without validating it. `consumed` is
    /// the length of the head.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::HeadTooLarge`], [`HandshakeError::TooManyHeaders`],
    /// [`HandshakeError::MalformedHttp`].
    pub fn decode(input: &[u8], limits: &HeadLimits) -> Result<Decoded<Response>, HandshakeError> {
        let window = head_window(input, limits);
        let mut slots = vec![httparse::EMPTY_HEADER; limits.max_headers];
        let mut response = httparse::Response::new(&mut slots);
        let Some(consumed) = head_status(response.parse(window), window, limits)? else {
            return Ok(Decoded::Incomplete { needed: 1 });
        };
        let value = Response {
            status: response.code.unwrap_or_default(),
            reason: response.reason.unwrap_or_default().to_owned(),
            minor_version: response.version.unwrap_or_default(),
            headers: Headers::from_httparse(response.headers),
            body: Bytes::new(),
        };
        Ok(Decoded::Complete { value, consumed })
    }

    /// The body's length from `Content-Length`, if it has one that is a number.
    pub fn content_length(&self) -> Option<u64> {
        self.headers.get("Content-Length").and_then(|value| value.trim().parse().ok())
    }
}

/// A server's 101 response that passed every check of §4.1: the connection is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    protocol: Option<String>,
    extensions: Vec<Extension>,
    headers: Headers,
}

impl Accepted {
    /// The subprotocol the server selected, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The extensions the server accepted, in the order listed (§9.1).
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// Every header field of the response.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }
}
