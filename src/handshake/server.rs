//! RFC 6455 §4.2: the server's side of the opening handshake.
//!
//! 1. [`Request::decode`] reads any HTTP/1.x request head, so a server can serve ordinary pages on
//!    the same port ([`Request::is_websocket_upgrade`] tells them apart).
//! 2. [`UpgradeRequest::validate`] checks §4.2.1 and exposes the path, Origin, subprotocols and
//!    extensions; [`UpgradeRequest::decode`] does both steps at once.
//! 3. [`UpgradeRequest::accept`] builds the 101 response (§4.2.2); [`encode_rejection`] writes
//!    the 400, 426 or 431 answer to a failed request.

use std::fmt;

use bytes::BufMut;

use crate::error::HandshakeError;
use crate::extension::ExtensionCodec;
use crate::handshake::extension::Extension;
use crate::handshake::{
    accept_key, head_status, head_window, is_valid_key, protocols, put_field, HeadLimits, Headers,
    HttpResponse, VERSION,
};
use crate::Decoded;

/// An HTTP/1.x request head, whatever it asks for.
///
/// # Examples
///
/// ```
/// use rfc6455::handshake::server::Request;
/// use rfc6455::handshake::HeadLimits;
/// use rfc6455::Decoded;
///
/// let input = b"GET /index.html?lang=en HTTP/1.1\r\nHost: localhost\r\n\r\n";
/// let Decoded::Complete { value: request, consumed } = Request::decode(input, &HeadLimits::default())?
/// else { unreachable!() };
/// assert_eq!(consumed, input.len());
/// assert_eq!((request.path(), request.query()), ("/index.html", Some("lang=en")));
/// assert!(!request.is_websocket_upgrade()); // serve the page
/// # Ok::<(), rfc6455::HandshakeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, such as `GET`.
    pub method: String,
    /// The request-target as sent, such as `/chat?room=1`.
    pub target: String,
    /// The minor HTTP version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub minor_version: u8,
    /// Every header field.
    pub headers: Headers,
}

impl Request {
    /// Decodes a request head from the start of `input`.
    ///
    /// `consumed` is the length of the head: bytes after it (frames a client sent right after its
    /// request) belong to the connection and must be passed on.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::HeadTooLarge`] once `input` holds [`HeadLimits::max_head_size`] bytes
    /// without a complete head, [`HandshakeError::TooManyHeaders`], or
    /// [`HandshakeError::MalformedHttp`].
    pub fn decode(input: &[u8], limits: &HeadLimits) -> Result<Decoded<Request>, HandshakeError> {
        let window = head_window(input, limits);
        let mut slots = vec![httparse::EMPTY_HEADER; limits.max_headers];
        let mut request = httparse::Request::new(&mut slots);
        let Some(consumed) = head_status(request.parse(window), window, limits)? else {
            return Ok(Decoded::Incomplete { needed: 1 });
        };
        let value = Request {
            method: request.method.unwrap_or_default().to_owned(),
            target: request.path.unwrap_or_default().to_owned(),
            minor_version: request.version.unwrap_or_default(),
            headers: Headers::from_httparse(request.headers),
        };
        Ok(Decoded::Complete { value, consumed })
    }

    /// The path of the request-target, without the query (`/chat` for `/chat?room=1`).
    ///
    /// For an absolute-form target (`http://host/chat`), the path after the authority.
    pub fn path(&self) -> &str {
        let target = self.target.split(['?', '#']).next().unwrap_or_default();
        if target.starts_with('/') {
            // origin-form (RFC 7230 §5.3.1): the path may itself contain "://".
            return target;
        }
        match target.split_once("://") {
            Some((_scheme, rest)) => rest.find('/').map_or("/", |slash| &rest[slash..]),
            None => target,
        }
    }

    /// The query of the request-target, without the `?`.
    pub fn query(&self) -> Option<&str> {
        let without_fragment = self.target.split('#').next().unwrap_or_default();
        without_fragment.split_once('?').map(|(_, query)| query)
    }

    /// Whether the client asks for a WebSocket: its `Upgrade` header field lists `websocket`.
    ///
    /// A request for which this is false is a plain HTTP request: serve it, or answer it with
    /// [`encode_rejection`] of [`HandshakeError::NotWebSocketUpgrade`] (426).
    pub fn is_websocket_upgrade(&self) -> bool {
        self.headers.has_token("Upgrade", "websocket")
    }
}

/// A request that passed every check of §4.2.1: a valid opening handshake.
///
/// # Examples
///
/// ```
/// use rfc6455::handshake::server::UpgradeRequest;
/// use rfc6455::handshake::HeadLimits;
/// use rfc6455::Decoded;
///
/// // §1.3: the client's handshake.
/// let input = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
///     Sec-WebSocket-Version: 13\r\n\r\n";
/// let Decoded::Complete { value: upgrade, .. } = UpgradeRequest::decode(input, &HeadLimits::default())?
/// else { unreachable!() };
/// assert_eq!(upgrade.path(), "/chat");
/// assert_eq!(upgrade.origin(), Some("http://example.com"));
/// assert_eq!(upgrade.protocols(), ["chat", "superchat"]);
///
/// let mut response = Vec::new();
/// upgrade.accept().with_protocol("chat").encode(&mut response);
/// assert!(response.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
/// # Ok::<(), rfc6455::HandshakeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeRequest {
    request: Request,
    key: String,
    protocols: Vec<String>,
    extensions: Vec<Extension>,
}

impl UpgradeRequest {
    /// Decodes a request head and validates it as an opening handshake.
    ///
    /// # Errors
    ///
    /// Those of [`Request::decode`] and [`UpgradeRequest::validate`].
    pub fn decode(input: &[u8], limits: &HeadLimits) -> Result<Decoded<UpgradeRequest>, HandshakeError> {
        match Request::decode(input, limits)? {
            Decoded::Complete { value, consumed } => {
                Ok(Decoded::Complete { value: UpgradeRequest::validate(value)?, consumed })
            }
            Decoded::Incomplete { needed } => Ok(Decoded::Incomplete { needed }),
        }
    }

    /// Checks a request against §4.2.1, in the order the RFC lists the items.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::MethodNotGet`], [`HandshakeError::HttpVersionTooOld`],
    /// [`HandshakeError::MissingHost`], [`HandshakeError::NotWebSocketUpgrade`],
    /// [`HandshakeError::MissingConnectionUpgrade`], [`HandshakeError::InvalidKey`],
    /// [`HandshakeError::UnsupportedVersion`], [`HandshakeError::InvalidProtocolHeader`],
    /// [`HandshakeError::InvalidExtensionHeader`]. Each has the [`HandshakeError::status`] to
    /// answer with.
    pub fn validate(request: Request) -> Result<UpgradeRequest, HandshakeError> {
        let headers = &request.headers;
        // §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
        if request.method != "GET" {
            return Err(HandshakeError::MethodNotGet(request.method));
        }
        if request.minor_version < 1 {
            return Err(HandshakeError::HttpVersionTooOld);
        }
        // Item 2: "A |Host| header field containing the server's authority."
        match (headers.count("Host"), headers.get("Host")) {
            (1, Some(host)) if !host.trim().is_empty() => {}
            _ => return Err(HandshakeError::MissingHost),
        }
        // Item 3: "An |Upgrade| header field containing the value "websocket", treated as an
        // ASCII case-insensitive value."
        if !request.is_websocket_upgrade() {
            return Err(HandshakeError::NotWebSocketUpgrade);
        }
        // Item 4: "A |Connection| header field that includes the token "Upgrade", treated as an
        // ASCII case-insensitive value."
        if !headers.has_token("Connection", "Upgrade") {
            return Err(HandshakeError::MissingConnectionUpgrade);
        }
        // Item 5: "A |Sec-WebSocket-Key| header field with a base64-encoded value that, when
        // decoded, is 16 bytes in length." §11.3.1: it "MUST NOT appear more than once".
        let key = match (headers.count("Sec-WebSocket-Key"), headers.get("Sec-WebSocket-Key")) {
            (1, Some(key)) if is_valid_key(key) => key.trim().to_owned(),
            _ => return Err(HandshakeError::InvalidKey),
        };
        // Item 6: "A |Sec-WebSocket-Version| header field, with a value of 13."
        let versions: Vec<&[u8]> = headers.get_all("Sec-WebSocket-Version").collect();
        match versions.as_slice() {
            [version] if *version == VERSION.as_bytes() => {}
            [] => return Err(HandshakeError::UnsupportedVersion(None)),
            several => {
                let joined: Vec<String> =
                    several.iter().map(|v| String::from_utf8_lossy(v).into_owned()).collect();
                return Err(HandshakeError::UnsupportedVersion(Some(joined.join(", "))));
            }
        }
        // Items 8 and 9: the offered subprotocols and extensions.
        let protocols = protocols(headers)?;
        let mut extensions = Vec::new();
        for value in headers.get_all("Sec-WebSocket-Extensions") {
            let value = std::str::from_utf8(value).map_err(|_| HandshakeError::InvalidExtensionHeader)?;
            extensions.extend(Extension::decode_list(value)?);
        }
        Ok(UpgradeRequest { request, key, protocols, extensions })
    }

    /// The request as received.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The path of the request-target ([`Request::path`]).
    pub fn path(&self) -> &str {
        self.request.path()
    }

    /// The query of the request-target ([`Request::query`]).
    pub fn query(&self) -> Option<&str> {
        self.request.query()
    }

    /// The `Origin` header field, sent by browsers (§4.2.1 item 7, §10.2).
    pub fn origin(&self) -> Option<&str> {
        self.request.headers.get("Origin")
    }

    /// Every header field.
    pub fn headers(&self) -> &Headers {
        &self.request.headers
    }

    /// The client's `Sec-WebSocket-Key`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The subprotocols offered, in the client's order of preference (§4.1 item 10).
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// The extensions offered, in the client's order of preference (§9.1).
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// The first subprotocol offered that the server supports (the client's preference wins).
    pub fn select_protocol(&self, supported: &[&str]) -> Option<&str> {
        self.protocols.iter().map(String::as_str).find(|offered| supported.contains(offered))
    }

    /// A 101 response accepting this request, with no subprotocol or extension yet.
    pub fn accept(&self) -> AcceptResponse {
        AcceptResponse {
            accept: accept_key(&self.key),
            protocol: None,
            codecs: Vec::new(),
            headers: Vec::new(),
        }
    }
}

/// The server's 101 response (§4.2.2 item 5).
///
/// Built by [`UpgradeRequest::accept`]; the subprotocol and extensions chosen must come from
/// those the client offered (§4.2.2 item 5.5, 5.6), which
/// [`crate::handshake::ServerHandshake::accept`] checks. An accepted extension is given as its
/// codec: the header is written from [`ExtensionCodec::negotiated`] and the codec goes into the
/// connection, so the two cannot disagree.
pub struct AcceptResponse {
    accept: String,
    protocol: Option<String>,
    codecs: Vec<Box<dyn ExtensionCodec>>,
    headers: Vec<(String, String)>,
}

impl fmt::Debug for AcceptResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcceptResponse")
            .field("accept", &self.accept)
            .field("protocol", &self.protocol)
            .field("extensions", &self.extensions())
            .field("headers", &self.headers)
            .finish()
    }
}

impl AcceptResponse {
    /// Selects a subprotocol (`Sec-WebSocket-Protocol`); it must be one the client offered.
    pub fn with_protocol(mut self, protocol: impl Into<String>) -> AcceptResponse {
        self.protocol = Some(protocol.into());
        self
    }

    /// Accepts an extension (`Sec-WebSocket-Extensions`): its codec, which says the extension's
    /// name and parameters. It must be one the client offered.
    pub fn with_extension(mut self, codec: Box<dyn ExtensionCodec>) -> AcceptResponse {
        self.codecs.push(codec);
        self
    }

    /// Adds a header field, such as `Server` or `Set-Cookie`.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> AcceptResponse {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The `Sec-WebSocket-Accept` value.
    pub fn accept_key(&self) -> &str {
        &self.accept
    }

    /// The chosen subprotocol.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The accepted extensions, as their codecs negotiated them.
    pub fn extensions(&self) -> Vec<Extension> {
        self.codecs.iter().map(|codec| codec.negotiated()).collect()
    }

    /// The codecs of the accepted extensions, for the connection.
    pub(crate) fn into_codecs(self) -> Vec<Box<dyn ExtensionCodec>> {
        self.codecs
    }

    /// Writes the response head.
    pub fn encode<B: BufMut>(&self, out: &mut B) {
        // §4.2.2 item 5: "The first line is an HTTP Status-Line, with the status code 101".
        out.put_slice(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
        put_field(out, "Sec-WebSocket-Accept", &self.accept);
        if let Some(protocol) = &self.protocol {
            put_field(out, "Sec-WebSocket-Protocol", protocol);
        }
        if !self.codecs.is_empty() {
            put_field(out, "Sec-WebSocket-Extensions", &Extension::encode_list(&self.extensions()));
        }
        for (name, value) in &self.headers {
            put_field(out, name, value);
        }
        out.put_slice(b"\r\n");
    }
}

/// Writes the HTTP answer to a request that failed: [`HttpResponse::from_error`] (the status
/// of [`HandshakeError::status`], 400 if it has none; a 426 carries `Sec-WebSocket-Version: 13`,
/// §4.4), encoded.
///
/// # Examples
///
/// ```
/// use rfc6455::handshake::server::encode_rejection;
/// use rfc6455::HandshakeError;
///
/// let mut out = Vec::new();
/// encode_rejection(&HandshakeError::UnsupportedVersion(Some("8".into())), &mut out);
/// let text = String::from_utf8(out).unwrap();
/// assert!(text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
/// assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"));
/// ```
pub fn encode_rejection<B: BufMut>(error: &HandshakeError, out: &mut B) {
    HttpResponse::from_error(error).encode(out);
}
