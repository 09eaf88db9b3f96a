//! The one HTTP response encoder a server uses for everything that is not a 101: a rejected
//! handshake (400, 403, 426 with `Sec-WebSocket-Version: 13` per §4.4, 431), and the plain pages
//! it serves on the WebSocket's port.

use bytes::{BufMut, Bytes};

use crate::error::HandshakeError;
use crate::handshake::{put_field, VERSION};

/// An HTTP/1.1 response other than the 101 of an accepted handshake, always ending the
/// connection (`Connection: close`).
///
/// # Examples
///
/// ```
/// use rfc6455::handshake::HttpResponse;
///
/// let mut out = Vec::new();
/// HttpResponse::text(404, "no such page\n").encode(&mut out);
/// assert_eq!(
///     out,
///     b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n\
///       Content-Length: 13\r\nConnection: close\r\n\r\nno such page\n"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl HttpResponse {
    /// A response with `status`, no body.
    pub fn new(status: u16) -> HttpResponse {
        HttpResponse { status, headers: Vec::new(), body: Bytes::new() }
    }

    /// A response with `status` and a plain-text body.
    pub fn text(status: u16, body: impl Into<String>) -> HttpResponse {
        HttpResponse::new(status).with_body("text/plain; charset=utf-8", body.into())
    }

    /// The answer to a request that failed the handshake: the status of
    /// [`HandshakeError::status`] (400 if it has none) and a one-line body saying what was wrong.
    /// A 426 carries `Upgrade: websocket` and `Sec-WebSocket-Version: 13` (§4.4: "the server
    /// MUST ... send a |Sec-WebSocket-Version| header field ... indicating the version(s) the
    /// server is capable of understanding").
    ///
    /// # Examples
    ///
    /// ```
    /// use rfc6455::handshake::HttpResponse;
    /// use rfc6455::HandshakeError;
    ///
    /// let response = HttpResponse::from_error(&HandshakeError::UnsupportedVersion(Some("8".into())));
    /// assert_eq!(response.status(), 426);
    /// assert!(response.headers().contains(&("Sec-WebSocket-Version".into(), "13".into())));
    /// ```
    pub fn from_error(error: &HandshakeError) -> HttpResponse {
        HttpResponse::text(error.status().unwrap_or(400), format!("{error}\n"))
    }

    /// Adds a header field. `Content-Length` and `Connection` are written by
    /// [`HttpResponse::encode`]; a 426 gets its §4.4 fields there too.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> HttpResponse {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body and its `Content-Type`.
    pub fn with_body(mut self, content_type: &str, body: impl Into<Bytes>) -> HttpResponse {
        self.headers.retain(|(name, _)| !name.eq_ignore_ascii_case("Content-Type"));
        self.headers.push(("Content-Type".to_owned(), content_type.to_owned()));
        self.body = body.into();
        self
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The header fields added, in order (a 426's §4.4 fields included).
    pub fn headers(&self) -> Vec<(String, String)> {
        let mut headers = Vec::new();
        if self.status == 426 {
            headers.push(("Upgrade".to_owned(), "websocket".to_owned()));
            headers.push(("Sec-WebSocket-Version".to_owned(), VERSION.to_owned()));
        }
        headers.extend(self.headers.iter().cloned());
        headers
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Writes the response: status line, header fields, `Content-Length`, `Connection: close`,
    /// the empty line and the body.
    pub fn encode<B: BufMut>(&self, out: &mut B) {
        self.encode_head(out);
        out.put_slice(&self.body);
    }

    /// Writes the response without its body, as the answer to a HEAD request (RFC 9110 §9.3.2:
    /// the same header fields as for GET, `Content-Length` included, and no content).
    pub fn encode_head<B: BufMut>(&self, out: &mut B) {
        out.put_slice(b"HTTP/1.1 ");
        out.put_slice(self.status.to_string().as_bytes());
        out.put_u8(b' ');
        out.put_slice(reason_phrase(self.status).as_bytes());
        out.put_slice(b"\r\n");
        for (name, value) in self.headers() {
            put_field(out, &name, &value);
        }
        put_field(out, "Content-Length", &self.body.len().to_string());
        put_field(out, "Connection", "close");
        out.put_slice(b"\r\n");
    }
}

impl From<&HandshakeError> for HttpResponse {
    fn from(error: &HandshakeError) -> HttpResponse {
        HttpResponse::from_error(error)
    }
}

/// The reason phrase of RFC 9110 §15 for `status` (empty for a code it does not name: the phrase
/// is optional).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    }
}
