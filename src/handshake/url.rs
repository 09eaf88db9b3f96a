//! §3: WebSocket URIs, `ws://host[:port][/path][?query]` and `wss://...`, as a client needs them
//! to connect and to build its request.

use std::fmt;

use crate::error::HandshakeError;

/// A parsed `ws://` or `wss://` URI (§3).
///
/// # Examples
///
/// ```
/// use rfc6455::handshake::WsUrl;
///
/// let url = WsUrl::parse("ws://[::1]:1337/chat?room=1")?;
/// assert_eq!((url.host(), url.port(), url.target()), ("::1", 1337, "/chat?room=1"));
/// assert_eq!(url.authority(), "[::1]:1337"); // what to connect to
/// assert_eq!(url.host_header(), "[::1]:1337"); // the Host field
///
/// let url = WsUrl::parse("wss://example.com")?;
/// assert_eq!((url.is_secure(), url.port(), url.target()), (true, 443, "/"));
/// assert_eq!(url.host_header(), "example.com"); // the default port is left out
/// # Ok::<(), rfc6455::HandshakeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WsUrl {
    secure: bool,
    host: String,
    port: u16,
    target: String,
}

impl WsUrl {
    /// Parses a WebSocket URI. §3: the scheme is `ws` (default port 80) or `wss` (443, over
    /// TLS); "Fragment identifiers are meaningless in the context of WebSocket URIs and MUST NOT
    /// be used on these URIs"; the path and query form the request-target (`/` when empty).
    ///
    /// # Errors
    ///
    /// [`HandshakeError::InvalidUrl`] for another scheme, a fragment, user information, no host,
    /// or a port that is not a number from 1 to 65535.
    pub fn parse(url: &str) -> Result<WsUrl, HandshakeError> {
        let invalid = |why: &str| HandshakeError::InvalidUrl(format!("{url:?}: {why}"));
        let (scheme, rest) = url.split_once("://").ok_or_else(|| invalid("not a ws:// or wss:// URL"))?;
        let secure = match scheme.to_ascii_lowercase().as_str() {
            "ws" => false,
            "wss" => true,
            _ => return Err(invalid("the scheme must be ws or wss")),
        };
        if rest.contains('#') {
            return Err(invalid("a fragment is not allowed (§3)"));
        }
        let (authority, target) = match rest.find(['/', '?']) {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(invalid("user information is not supported"));
        }
        let default_port = if secure { 443 } else { 80 };
        let (host, port) = if let Some(literal) = authority.strip_prefix('[') {
            let (host, after) = literal.split_once(']').ok_or_else(|| invalid("unclosed IPv6 literal"))?;
            match after {
                "" => (host, None),
                _ => (
                    host,
                    Some(after.strip_prefix(':').ok_or_else(|| invalid("junk after the IPv6 literal"))?),
                ),
            }
        } else {
            match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() || host.contains([' ', '[', ']']) {
            return Err(invalid("no valid host"));
        }
        let port = match port {
            None => default_port,
            Some(port) => {
                port.parse::<u16>().ok().filter(|port| *port != 0).ok_or_else(|| invalid("invalid port"))?
            }
        };
        let target = match target {
            "" => "/".to_owned(),
            query if query.starts_with('?') => format!("/{query}"),
            path => path.to_owned(),
        };
        Ok(WsUrl { secure, host: host.to_owned(), port, target })
    }

    /// Whether the scheme is `wss` (TLS).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The host: a name, an IPv4 address, or an IPv6 address without its brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, the scheme's default (80, 443) when the URL has none.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The request-target: path and query, `/` at least.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// `host:port` to connect to, an IPv6 address in brackets.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.bracketed_host(), self.port)
    }

    /// The `Host` header field (§4.1 item 4): the host, with `:port` unless it is the scheme's
    /// default.
    pub fn host_header(&self) -> String {
        let default_port = if self.secure { 443 } else { 80 };
        if self.port == default_port {
            self.bracketed_host()
        } else {
            self.authority()
        }
    }

    fn bracketed_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

impl fmt::Display for WsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.secure { "wss" } else { "ws" };
        write!(f, "{scheme}://{}{}", self.host_header(), self.target)
    }
}
