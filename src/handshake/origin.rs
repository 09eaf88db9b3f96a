//! §10.2 (origin considerations): which web pages may open a WebSocket to this server.
//!
//! A browser sends `Origin` with every WebSocket request, and lets any page connect to any
//! server: cookies included. A server that accepts every origin lets another site's page act as
//! its logged-in user (cross-site WebSocket hijacking). §10.2: "Servers that are not intended to
//! process input from any web page but only for certain sites SHOULD verify the |Origin| field is
//! an origin they expect. If the origin indicated is unacceptable to the server, then it SHOULD
//! respond to the WebSocket handshake with a reply containing HTTP 403 Forbidden status code."
//!
//! A request without `Origin` does not come from a browser, and is not subject to the policy
//! (Tornado's and Flask-SocketIO's rule too).

use crate::handshake::server::UpgradeRequest;
use crate::handshake::HttpResponse;

/// Which origins may open a WebSocket; [`OriginPolicy::check`] answers a forbidden one with 403.
///
/// # Examples
///
/// ```
/// use rfc6455::handshake::server::UpgradeRequest;
/// use rfc6455::handshake::{HeadLimits, OriginPolicy};
///
/// let head = |origin: &str| {
///     let text = format!(
///         "GET / HTTP/1.1\r\nHost: localhost:8888\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
///          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
///          Origin: {origin}\r\n\r\n"
///     );
///     UpgradeRequest::decode(text.as_bytes(), &HeadLimits::default()).unwrap().complete().unwrap().0
/// };
/// assert!(OriginPolicy::SameOrigin.check(&head("http://localhost:8888")).is_ok());
/// let forbidden = OriginPolicy::SameOrigin.check(&head("https://evil.example")).unwrap_err();
/// assert_eq!(forbidden.status(), 403);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OriginPolicy {
    /// Every origin may connect (a public API meant for any site).
    Any,
    /// Only pages served by this server: the `Origin`'s host and port are the request's `Host`
    /// (the default of Tornado and Flask-SocketIO).
    #[default]
    SameOrigin,
    /// Only these origins, as browsers send them (`https://example.com`, `http://localhost:8080`),
    /// compared case-insensitively, default ports ignored.
    AllowList(Vec<String>),
}

impl OriginPolicy {
    /// Whether `request` may connect: `Ok`, or the 403 response to send.
    ///
    /// # Errors
    ///
    /// A 403 Forbidden [`HttpResponse`] with a one-line body for an origin the policy does not
    /// allow (an `Origin` of `null`, sent by sandboxed pages and `file:` URLs, is allowed only by
    /// [`OriginPolicy::Any`]).
    pub fn check(&self, request: &UpgradeRequest) -> Result<(), HttpResponse> {
        let Some(origin) = request.origin() else { return Ok(()) };
        let allowed = match self {
            OriginPolicy::Any => true,
            // `Host` without a port names the default port of the scheme the page was loaded
            // with (80 for http, 443 for https behind a TLS terminator), never another one.
            OriginPolicy::SameOrigin => match (SiteKey::of_origin(origin), request.headers().get("Host")) {
                (Some((origin, default_port)), Some(host)) => {
                    SiteKey::of_host(host, default_port) == Some(origin)
                }
                _ => false,
            },
            OriginPolicy::AllowList(allowed) => SiteKey::of_origin(origin).is_some_and(|(origin, _)| {
                allowed
                    .iter()
                    .any(|entry| SiteKey::of_origin(entry).is_some_and(|(entry, _)| entry == origin))
            }),
        };
        if allowed {
            Ok(())
        } else {
            Err(HttpResponse::text(403, format!("origin {origin} is not allowed\n")))
        }
    }
}

/// An origin's host (lowercase) and port (the scheme's default when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
struct SiteKey {
    host: String,
    port: u16,
}

impl SiteKey {
    /// `scheme://host[:port]` (RFC 6454 §6.2), as `Origin` carries it, with the scheme's default
    /// port.
    fn of_origin(origin: &str) -> Option<(SiteKey, u16)> {
        let (scheme, authority) = origin.trim().split_once("://")?;
        let default_port = match scheme.to_ascii_lowercase().as_str() {
            "http" | "ws" => 80,
            "https" | "wss" => 443,
            _ => return None,
        };
        let authority = authority.strip_suffix('/').unwrap_or(authority);
        Some((SiteKey::of_host(authority, default_port)?, default_port))
    }

    /// `host[:port]` as the `Host` field carries it, IPv6 literals in brackets.
    fn of_host(host: &str, default_port: u16) -> Option<SiteKey> {
        let host = host.trim();
        let (name, port) = match host.rfind(':') {
            Some(colon) if !host[colon..].contains(']') => (&host[..colon], host[colon + 1..].parse().ok()?),
            _ => (host, default_port),
        };
        if name.is_empty() || name.contains(['/', '@', '?', '#']) {
            return None;
        }
        Some(SiteKey { host: name.to_ascii_lowercase(), port })
    }
}
