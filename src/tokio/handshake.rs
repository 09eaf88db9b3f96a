//! The opening handshake over a tokio transport, both roles, through the core's handshake
//! objects: their deadlines, their answers, the bytes after the head handed on.

use std::fmt;

use ::tokio::io::{AsyncRead, AsyncWrite};
use ::tokio::net::TcpStream;

use super::driver::{finish, next_event, now, Driver};
use super::{Error, Options, WebSocket};
use crate::extension::ExtensionCodec;
use crate::handshake::client::{Accepted, ClientRequest};
use crate::handshake::server::{AcceptResponse, Request, UpgradeRequest};
use crate::handshake::{ClientEvent, ClientHandshake, HttpResponse, ServerEvent, ServerHandshake, WsUrl};
use crate::mask::OsSeededRng;
use crate::{Config, HandshakeError};

/// A server's opening handshake whose request head was read: answer it with
/// [`Handshake::accept`] (a WebSocket) or [`Handshake::respond`] (any HTTP response: a page on
/// the same port, a 403 from an [`crate::handshake::OriginPolicy`]).
///
/// ```no_run
/// use rfc6455::handshake::{HttpResponse, OriginPolicy};
/// use rfc6455::tokio::{Handshake, Options};
///
/// # async fn serve(stream: tokio::net::TcpStream) -> Result<(), rfc6455::tokio::Error> {
/// let handshake = Handshake::read(stream, &Options::default()).await?;
/// let Some(upgrade) = handshake.upgrade() else {
///     // A plain HTTP request on the WebSocket's port: a page.
///     let page = HttpResponse::text(200, "hello\n");
///     return handshake.respond(&page).await;
/// };
/// if let Err(forbidden) = OriginPolicy::AllowList(vec!["https://example.com".into()]).check(upgrade) {
///     return handshake.respond(&forbidden).await;
/// }
/// let response = upgrade.accept().with_protocol("chat");
/// let mut ws = handshake.accept(response, rfc6455::Config::default())?;
/// while let Some(message) = ws.recv().await {
///     ws.send(message?).await?;
/// }
/// # Ok(()) }
/// ```
pub struct Handshake<IO> {
    /// On the heap: a task that awaits a handshake and then serves the connection is as large
    /// as its largest state for its whole life, so the states that hold a handshake hold only
    /// this pointer.
    inner: Box<HandshakeState<IO>>,
}

/// What a [`Handshake`] holds.
struct HandshakeState<IO> {
    driver: Driver<IO, ServerHandshake>,
    head: Head,
    options: Options,
}

/// What a [`Handshake`] read.
enum Head {
    Request(Request),
    Upgrade(UpgradeRequest),
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Handshake<IO> {
    /// Reads a request head on `io` with the core's [`ServerHandshake`], within
    /// [`Options::handshake`]'s limits and deadline (10 s by default).
    ///
    /// # Errors
    ///
    /// [`Error::Handshake`] for a bad request (the core answered it with 400, 426 or 431 and
    /// ended the transport), the deadline ([`HandshakeError::Timeout`]), or a peer that left
    /// ([`HandshakeError::ConnectionClosed`]).
    pub async fn read(io: IO, options: &Options) -> Result<Handshake<IO>, Error> {
        // Boxed: the future stays small (see `Handshake::inner`).
        let mut driver = Box::new(Driver::new(io, ServerHandshake::new(options.handshake, now())));
        let head = match next_event(&mut driver).await {
            Some(ServerEvent::Request(request)) => Head::Request(request),
            Some(ServerEvent::Upgrade(request)) => Head::Upgrade(request),
            Some(ServerEvent::Failed(error)) => {
                finish(&mut driver).await;
                return Err(Error::Handshake(error));
            }
            None => return Err(Error::Handshake(HandshakeError::ConnectionClosed)),
        };
        Ok(Handshake { inner: Box::new(HandshakeState { driver: *driver, head, options: options.clone() }) })
    }

    /// The request, upgrade or not.
    pub fn request(&self) -> &Request {
        match &self.inner.head {
            Head::Request(request) => request,
            Head::Upgrade(upgrade) => upgrade.request(),
        }
    }

    /// The valid opening handshake (§4.2.1), if the request is one.
    pub fn upgrade(&self) -> Option<&UpgradeRequest> {
        match &self.inner.head {
            Head::Upgrade(upgrade) => Some(upgrade),
            Head::Request(_) => None,
        }
    }

    /// Accepts the upgrade with `response` (its subprotocol, extension, extra header fields):
    /// a [`WebSocket`] carried on by a connection with `config`, the 101 queued first and any
    /// bytes that followed the head already handed to it. The 101 is written by the socket's
    /// first poll (a `recv`, a `send`); [`accept_with`] returns once it is written.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::NotAwaitingAnswer`] for a plain request; the core's errors for a
    /// response that does not fit the request.
    pub fn accept(mut self, response: AcceptResponse, config: Config) -> Result<WebSocket<IO>, Error> {
        #[cfg(feature = "deflate")]
        let response = match &self.inner.head {
            Head::Upgrade(upgrade) => with_deflate(response, upgrade, &self.inner.options),
            Head::Request(_) => response,
        };
        let connection = self.inner.driver.endpoint.accept(now(), response, config)?;
        let HandshakeState { driver, options, .. } = *self.inner;
        Ok(WebSocket::from_driver(driver.map(|_| connection), &options))
    }

    /// Answers the request with `response` (a HEAD request gets its head only), then ends the
    /// transport as the core says: written, shut down, drained.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::NotAwaitingAnswer`] if it was answered already.
    pub async fn respond(mut self, response: &HttpResponse) -> Result<(), Error> {
        self.inner.driver.endpoint.respond(now(), response)?;
        finish(&mut self.inner.driver).await;
        match self.inner.driver.error.take() {
            Some(error) => Err(Error::Io(error)),
            None => Ok(()),
        }
    }
}

impl<IO> fmt::Debug for Handshake<IO> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let request = match &self.inner.head {
            Head::Request(request) => request,
            Head::Upgrade(upgrade) => upgrade.request(),
        };
        f.debug_struct("Handshake").field("request", request).finish_non_exhaustive()
    }
}

/// `response` with the permessage-deflate codec [`Options::deflate`] agrees on with the client's
/// offers, when the application installed no extension itself.
#[cfg(feature = "deflate")]
fn with_deflate(response: AcceptResponse, upgrade: &UpgradeRequest, options: &Options) -> AcceptResponse {
    let Some(config) = options.deflate else { return response };
    if !response.extensions().is_empty() {
        return response;
    }
    match config.accept(upgrade.extensions()) {
        Some(params) => {
            response.with_extension(Box::new(crate::deflate::DeflateCodec::new(crate::Role::Server, params)))
        }
        None => response,
    }
}

/// The codecs for what the server accepted: permessage-deflate's when [`Options::deflate`]
/// offered it.
///
/// # Errors
///
/// [`HandshakeError::UnacceptableExtensionResponse`] when the server's parameters break RFC 7692
/// §7 (the client must then fail the connection).
fn client_codecs(
    accepted: &Accepted,
    options: &Options,
) -> Result<Vec<Box<dyn ExtensionCodec>>, HandshakeError> {
    #[cfg(feature = "deflate")]
    if let Some(config) = options.deflate {
        let deflate = accepted
            .extensions()
            .iter()
            .find(|extension| extension.name.eq_ignore_ascii_case(crate::deflate::PERMESSAGE_DEFLATE));
        if let Some(response) = deflate {
            let params = config.check_response(response)?;
            return Ok(vec![Box::new(crate::deflate::DeflateCodec::new(crate::Role::Client, params))]);
        }
    }
    let _ = (accepted, options);
    Ok(Vec::new())
}

/// Accepts a WebSocket on `io` with the defaults (tokio-tungstenite's `accept_async`): any path,
/// any origin, no subprotocol, [`Options::default`]. A plain HTTP request gets 426 Upgrade
/// Required (§4.4). Returns once the 101 is written.
///
/// ```no_run
/// # async fn example() -> Result<(), rfc6455::tokio::Error> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
/// let (stream, _) = listener.accept().await?;
/// let mut ws = rfc6455::tokio::accept(stream).await?;
/// while let Some(message) = ws.recv().await {
///     ws.send(message?).await?;
/// }
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// As [`Handshake::read`]; [`HandshakeError::NotWebSocketUpgrade`] for a plain request;
/// [`Error::Io`] if writing the 101 fails.
pub async fn accept<IO: AsyncRead + AsyncWrite + Unpin>(io: IO) -> Result<WebSocket<IO>, Error> {
    accept_with(io, &Options::default(), |upgrade| Ok(upgrade.accept())).await
}

/// Accepts a WebSocket on `io`, letting `decide` answer the upgrade: `Ok` with the 101 to send
/// (a subprotocol, an extension, header fields), or `Err` with the HTTP response that refuses
/// it (an [`crate::handshake::OriginPolicy`]'s 403, a 404 for a path not served). A plain HTTP
/// request gets 426 Upgrade Required (§4.4); for pages on the same port, use [`Handshake`].
/// Returns once the 101 is written.
///
/// # Errors
///
/// As [`accept`]; [`Error::Refused`] with the status `decide` answered.
pub async fn accept_with<IO: AsyncRead + AsyncWrite + Unpin>(
    io: IO,
    options: &Options,
    decide: impl FnOnce(&UpgradeRequest) -> Result<AcceptResponse, HttpResponse>,
) -> Result<WebSocket<IO>, Error> {
    let handshake = Handshake::read(io, options).await?;
    let Some(upgrade) = handshake.upgrade() else {
        let error = HandshakeError::NotWebSocketUpgrade;
        handshake.respond(&HttpResponse::from_error(&error)).await?;
        return Err(Error::Handshake(error));
    };
    match decide(upgrade) {
        Ok(response) => {
            let config = options.config.clone();
            let ws = handshake.accept(response, config)?;
            // The 101 is written before the socket is handed over, as every server library
            // does: a caller that awaits something else before it first uses the socket (or
            // runs the client in the same task) would otherwise leave the client waiting.
            ws.flush_queued().await?;
            Ok(ws)
        }
        Err(refusal) => {
            let status = refusal.status();
            handshake.respond(&refusal).await?;
            Err(Error::Refused(status))
        }
    }
}

/// Opens a WebSocket to a `ws://` URL over TCP with the defaults (tokio-tungstenite's
/// `connect_async`): the connection within [`Options::connect_timeout`] (10 s), the handshake
/// within [`Options::handshake`]'s deadline (10 s). Returns the socket and what the server
/// accepted.
///
/// ```no_run
/// use rfc6455::Message;
///
/// # async fn example() -> Result<(), rfc6455::tokio::Error> {
/// let (mut ws, _) = rfc6455::tokio::connect("ws://127.0.0.1:9001/").await?;
/// ws.send(Message::from("hello")).await?;
/// if let Some(reply) = ws.recv().await {
///     println!("{:?}", reply?);
/// }
/// ws.close(rfc6455::CloseCode::NORMAL_CLOSURE, "").await?;
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// [`HandshakeError::InvalidUrl`] for a URL that is not `ws://` (`wss://` needs TLS: open it
/// yourself and use [`client`]); [`Error::Io`] if the TCP connection fails or takes too long;
/// [`Error::Rejected`] for a server's answer other than 101; [`Error::Handshake`] for a bad 101.
pub async fn connect(url: &str) -> Result<(WebSocket<TcpStream>, Accepted), Error> {
    let url = WsUrl::parse(url)?;
    let request = ClientRequest::from_url(&url, &mut OsSeededRng::new());
    connect_with(&url, request, &Options::default()).await
}

/// Opens a WebSocket to `url` (`ws://`) over TCP with `request` (subprotocols, an Origin,
/// header fields: see [`ClientRequest`]) and `options`.
///
/// # Errors
///
/// As [`connect`].
pub async fn connect_with(
    url: &WsUrl,
    request: ClientRequest,
    options: &Options,
) -> Result<(WebSocket<TcpStream>, Accepted), Error> {
    if url.is_secure() {
        let reason = format!("{url}: wss:// needs TLS: open the stream, then call rfc6455::tokio::client");
        return Err(Error::Handshake(HandshakeError::InvalidUrl(reason)));
    }
    let connecting = TcpStream::connect(url.authority());
    let stream = match ::tokio::time::timeout(options.connect_timeout, connecting).await {
        Ok(stream) => stream?,
        Err(_) => {
            let message =
                format!("connecting to {} took over {:?}", url.authority(), options.connect_timeout);
            return Err(Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, message)));
        }
    };
    // Small frames go out at once (what every WebSocket library does).
    stream.set_nodelay(true)?;
    client(stream, request, options).await
}

/// The client's opening handshake over any transport `io` already connected to the server (a
/// TLS stream for `wss://`, a proxy tunnel, an in-memory pipe), with the core's
/// [`ClientHandshake`] and its deadline.
///
/// # Errors
///
/// As [`connect`], without the connecting part.
pub async fn client<IO: AsyncRead + AsyncWrite + Unpin>(
    io: IO,
    request: ClientRequest,
    options: &Options,
) -> Result<(WebSocket<IO>, Accepted), Error> {
    #[cfg(feature = "deflate")]
    let request = match options.deflate {
        Some(config)
            if !request
                .extensions()
                .iter()
                .any(|offer| offer.name.eq_ignore_ascii_case(crate::deflate::PERMESSAGE_DEFLATE)) =>
        {
            request.with_extension(config.offer())
        }
        _ => request,
    };
    // Boxed, as the server's (see `Handshake::inner`).
    let mut driver = Box::new(Driver::new(io, ClientHandshake::new(request, options.handshake, now())));
    let error = match next_event(&mut driver).await {
        Some(ClientEvent::Accepted(accepted)) => match client_codecs(&accepted, options) {
            Ok(codecs) => {
                let config = options.config.clone();
                let driver =
                    (*driver).try_map(|handshake| handshake.into_connection(now(), config, codecs))?;
                return Ok((WebSocket::from_driver(driver, options), accepted));
            }
            // §7 of RFC 7692: _Fail the WebSocket Connection_.
            Err(error) => Error::Handshake(error),
        },
        Some(ClientEvent::Rejected(response)) => Error::Rejected(Box::new(response)),
        Some(other) => match other.into_accepted() {
            Err(error) => Error::Handshake(error),
            Ok(_) => Error::Handshake(HandshakeError::NotAwaitingAnswer),
        },
        None => Error::Handshake(HandshakeError::ConnectionClosed),
    };
    finish(&mut driver).await;
    Err(error)
}
