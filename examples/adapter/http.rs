//! Just enough HTTP for an example to serve its page and the page's assets on the WebSocket's
//! port (the course's Tornado app serves static files and `/ws` from one port).
//!
//! The files are compiled into the example ([`Asset`], with `include_bytes!`), so a request can
//! only ever name one of them: there is no file system path to traverse. Anything else gets 404;
//! a method other than GET or HEAD gets 405. Every answer closes the connection.

#![allow(dead_code)] // each example uses part of this module

use std::io;

use rfc6455::handshake::server::Request;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

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

/// Answers a plain HTTP `request` from `assets`; returns the status sent.
pub async fn respond(stream: &mut TcpStream, request: &Request, assets: &[Asset]) -> io::Result<u16> {
    let method = request.method.as_str();
    let (status, content_type, body, extra) = if method != "GET" && method != "HEAD" {
        (405, "text/plain; charset=utf-8", &b"method not allowed\n"[..], "Allow: GET, HEAD\r\n")
    } else {
        match assets.iter().find(|asset| asset.path == request.path()) {
            Some(asset) => (200, asset.content_type, asset.body, ""),
            None => (404, "text/plain; charset=utf-8", &b"not found\n"[..], ""),
        }
    };
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         X-Content-Type-Options: nosniff\r\nCache-Control: no-cache\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    if method != "HEAD" {
        stream.write_all(body).await?;
    }
    let _ = stream.shutdown().await;
    Ok(status)
}
