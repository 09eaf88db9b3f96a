//! Interop with the [`http`](https://docs.rs/http) crate (cargo feature `http`), for servers
//! whose HTTP layer is hyper or axum: they hand over an `http::Request`, upgrade the connection
//! themselves, and want `http::Response`s back.
//!
//! - [`request_from_http`] / [`upgrade_request_from_http`]: the core's [`Request`] and the
//!   validated [`UpgradeRequest`] (§4.2.1) from `http::request::Parts`;
//! - [`AcceptResponse::to_http`]: the 101 (§4.2.2) as an `http::Response<()>`;
//! - [`HttpResponse::to_http`]: a rejection or page as an `http::Response<Bytes>`; a 426 carries
//!   `Sec-WebSocket-Version: 13` (§4.4) whichever way it is produced.
//!
//! Once the upgrade is done, the server's [`crate::Connection`] is built with
//! [`AcceptResponse::into_connection`], the codecs of its extensions installed; the 101 is then
//! hyper's to write, not the connection's.
//!
//! ```
//! use rfc6455::http::{upgrade_request_from_http};
//! use rfc6455::{Config, Role};
//!
//! let request = http::Request::get("/chat")
//!     .header("Host", "server.example.com")
//!     .header("Upgrade", "websocket")
//!     .header("Connection", "Upgrade")
//!     .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
//!     .header("Sec-WebSocket-Version", "13")
//!     .body(())
//!     .unwrap();
//! let (parts, ()) = request.into_parts();
//! let upgrade = upgrade_request_from_http(&parts)?;
//! let accept = upgrade.accept();
//! let response = accept.to_http()?;
//! assert_eq!(response.status(), http::StatusCode::SWITCHING_PROTOCOLS);
//! assert_eq!(response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
//! let connection = accept.into_connection(std::time::Instant::now(), Config::default())?;
//! assert_eq!(connection.role(), Role::Server);
//! # Ok::<(), rfc6455::HandshakeError>(())
//! ```

use std::time::Instant;

use bytes::Bytes;

use crate::config::Config;
use crate::connection::Connection;
use crate::error::HandshakeError;
use crate::handshake::server::{AcceptResponse, Request, UpgradeRequest};
use crate::handshake::{HeaderField, HttpResponse};
use crate::Role;

/// The core's view of an HTTP/1.x request head from `http::request::Parts`.
///
/// # Errors
///
/// [`HandshakeError::MalformedHttp`] for HTTP/2 or later (a WebSocket over HTTP/2 is RFC 8441's
/// extended CONNECT, not supported) or a header name that is not valid text.
pub fn request_from_http(parts: &http::request::Parts) -> Result<Request, HandshakeError> {
    let minor_version = match parts.version {
        http::Version::HTTP_09 | http::Version::HTTP_10 => 0,
        http::Version::HTTP_11 => 1,
        other => return Err(HandshakeError::MalformedHttp(format!("{other:?} is not HTTP/1.x"))),
    };
    let target =
        parts.uri.path_and_query().map_or_else(|| parts.uri.to_string(), |target| target.as_str().to_owned());
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| HeaderField { name: name.as_str().to_owned(), value: value.as_bytes().to_vec() })
        .collect();
    Ok(Request { method: parts.method.as_str().to_owned(), target, minor_version, headers })
}

/// Validates `parts` as an opening handshake (§4.2.1).
///
/// # Errors
///
/// Those of [`request_from_http`] and [`UpgradeRequest::validate`]; answer them with
/// [`HttpResponse::from_error`] and [`HttpResponse::to_http`].
pub fn upgrade_request_from_http(parts: &http::request::Parts) -> Result<UpgradeRequest, HandshakeError> {
    UpgradeRequest::validate(request_from_http(parts)?)
}

impl AcceptResponse {
    /// The 101 response (§4.2.2 item 5) as an `http::Response`, for the HTTP layer to write.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::MalformedHttp`] if a header field added with
    /// [`AcceptResponse::with_header`] is not a valid HTTP field.
    pub fn to_http(&self) -> Result<http::Response<()>, HandshakeError> {
        let mut head = Vec::new();
        self.encode(&mut head);
        let mut builder = http::Response::builder().status(http::StatusCode::SWITCHING_PROTOCOLS);
        // The encoder is the one source of the 101's fields: read them back from its head.
        for line in head.split(|byte| *byte == b'\n').skip(1) {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if let Some(colon) = line.iter().position(|byte| *byte == b':') {
                let value = line[colon + 1..].trim_ascii();
                builder = builder.header(&line[..colon], value);
            }
        }
        builder.body(()).map_err(malformed)
    }

    /// The server's [`Connection`] once the HTTP layer has written the 101 and upgraded the
    /// transport: the response's extension codec installed, nothing queued. Bytes the HTTP layer
    /// read past the request head (hyper's `Upgraded` hands them back) go to
    /// [`Connection::receive`] first.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::ExtensionMismatch`] for more than one extension.
    pub fn into_connection(self, now: Instant, config: Config) -> Result<Connection, HandshakeError> {
        let mut codecs = self.into_codecs();
        if codecs.len() > 1 {
            return Err(HandshakeError::ExtensionMismatch("at most one extension is supported".to_owned()));
        }
        let mut connection = Connection::new(Role::Server, config, now);
        if let Some(codec) = codecs.pop() {
            connection = connection.with_extension(codec);
        }
        Ok(connection)
    }
}

impl HttpResponse {
    /// The response as an `http::Response` (`Content-Length` is the HTTP layer's to add; a 426
    /// carries `Upgrade: websocket` and `Sec-WebSocket-Version: 13`, §4.4).
    ///
    /// # Errors
    ///
    /// [`HandshakeError::MalformedHttp`] for a status outside 100-999 or a header field that is
    /// not valid HTTP.
    ///
    /// # Examples
    ///
    /// ```
    /// use rfc6455::handshake::HttpResponse;
    /// use rfc6455::HandshakeError;
    ///
    /// let response = HttpResponse::from_error(&HandshakeError::NotWebSocketUpgrade).to_http()?;
    /// assert_eq!(response.status(), 426);
    /// assert_eq!(response.headers()["sec-websocket-version"], "13");
    /// # Ok::<(), HandshakeError>(())
    /// ```
    pub fn to_http(&self) -> Result<http::Response<Bytes>, HandshakeError> {
        let mut builder = http::Response::builder().status(self.status());
        for (name, value) in self.headers() {
            builder = builder.header(name, value);
        }
        builder.body(self.body().clone()).map_err(malformed)
    }
}

fn malformed(error: http::Error) -> HandshakeError {
    HandshakeError::MalformedHttp(error.to_string())
}
