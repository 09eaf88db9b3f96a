//! Just enough HTTP for an example to serve its page and the page's assets on the WebSocket's
//! port (the course's Tornado app serves static files and `/ws` from one port).
//!
//! The files are compiled into the example ([`Asset`], with `include_bytes!`), so a request can
//! only ever name one of them: there is no file system path to traverse. Anything else gets 404;
//! a method other than GET or HEAD gets 405. [`answer`] only decides: it is a pure function from
//! the request to the core's [`HttpResponse`], which the adapter writes (`adapter::respond`),
//! closing the connection after it.

#![allow(dead_code)] // each example uses part of this module

use rfc6455::handshake::server::Request;
use rfc6455::handshake::HttpResponse;

/// A file served at a fixed path.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// The request path that names it, such as `/` or `/squares.js`.
    pub path: &'static str,
    /// Its `Content-Type`, such as `text/html; charset=utf-8`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

/// The answer to a plain HTTP `request` from `assets`: 200 with the asset named by its path,
/// 404 if none is, 405 (with `Allow: GET, HEAD`) for a method other than GET or HEAD. The core's
/// handshake writes the answer to a HEAD request without its body (RFC 9110 §9.3.2).
pub fn answer(request: &Request, assets: &[Asset]) -> HttpResponse {
    let method = request.method.as_str();
    let (status, content_type, body) = if method != "GET" && method != "HEAD" {
        (405, "text/plain; charset=utf-8", &b"method not allowed\n"[..])
    } else {
        match assets.iter().find(|asset| asset.path == request.path()) {
            Some(asset) => (200, asset.content_type, asset.body),
            None => (404, "text/plain; charset=utf-8", &b"not found\n"[..]),
        }
    };
    let mut response = HttpResponse::new(status)
        .with_header("X-Content-Type-Options", "nosniff")
        .with_header("Cache-Control", "no-cache");
    if status == 405 {
        response = response.with_header("Allow", "GET, HEAD");
    }
    response.with_body(content_type, body)
}
