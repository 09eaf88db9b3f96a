//! The server's opening handshake as a sans-IO object (§4.2): from the connection's first byte to
//! the [`Connection`], or to an HTTP answer and the end of the transport.
//!
//! ```text
//!   Reading ──head──▶ Deciding ──accept()──▶ Upgraded (drive the Connection from here)
//!     │  deadline,      │ respond(), deadline
//!     │  bad head (the  ▼
//!     └─ core answers)▶ Ending: flush, shut down writing, linger, close (crate::transport)
//! ```

use std::time::Instant;

use bytes::{Buf, BytesMut};

use crate::config::Config;
use crate::connection::Connection;
use crate::error::HandshakeError;
use crate::handshake::server::{AcceptResponse, Request, UpgradeRequest};
use crate::handshake::{accept_key, push_early_bytes, push_head_bytes, HandshakeConfig, HttpResponse};
use crate::transport::{AfterFlush, Teardown, Transport};
use crate::{Decoded, Role};

/// What a [`ServerHandshake`] read, from [`ServerHandshake::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// A plain HTTP request (no `Upgrade: websocket`), such as the page that opens the
    /// WebSocket: answer it with [`ServerHandshake::respond`].
    Request(Request),
    /// A valid opening handshake (§4.2.1): [`ServerHandshake::accept`] it, or
    /// [`ServerHandshake::respond`] with a rejection (a 403 from [`crate::handshake::OriginPolicy`]).
    Upgrade(UpgradeRequest),
    /// The handshake failed: a bad request (answered already with the status of
    /// [`HandshakeError::status`]), the deadline, or the peer closing. The transport is being
    /// ended: follow [`ServerHandshake::poll_transport`].
    Failed(HandshakeError),
}

/// What the client offered, to check the answer against.
#[derive(Debug)]
struct Offer {
    key: String,
    protocols: Vec<String>,
    extensions: Vec<String>,
}

#[derive(Debug)]
enum State {
    /// Reading the request head until `deadline`.
    Reading { deadline: Instant },
    /// The head (`head_len` bytes of the input) was reported; the application answers by
    /// `deadline`. `offer` for a valid upgrade; `head_method` for a HEAD request (answered
    /// without a body); `eof` once the peer shut down writing.
    Deciding { deadline: Instant, head_len: usize, offer: Option<Offer>, head_method: bool, eof: bool },
    /// Accepted: the [`Connection`] owns the rest.
    Upgraded,
    /// Answered or failed: the transport's end.
    Ending(Teardown),
}

/// The server's side of the opening handshake, sans IO.
///
/// Feed it what the socket reads, follow the same drive rule as a [`Connection`] (events, bytes
/// to send, transport, deadline), and answer the request it reports: [`ServerHandshake::accept`]
/// gives the `Connection`, with the 101 queued first in its output and the bytes that followed
/// the head already fed to it.
///
/// # Examples
///
/// ```
/// use std::time::Instant;
/// use rfc6455::handshake::{HandshakeConfig, OriginPolicy, ServerEvent, ServerHandshake};
/// use rfc6455::{Config, Event, Message};
///
/// let now = Instant::now();
/// let mut handshake = ServerHandshake::new(HandshakeConfig::default(), now);
/// // §1.3's request, then a masked "Hello" (§5.7) in the same read.
/// let mut input = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Sec-WebSocket-Version: 13\r\n\r\n".to_vec();
/// input.extend([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// handshake.receive(now, &input);
///
/// let Some(ServerEvent::Upgrade(request)) = handshake.poll_event() else { panic!() };
/// assert!(OriginPolicy::SameOrigin.check(&request).is_ok()); // no Origin: not a browser
/// let mut connection = handshake.accept(now, request.accept(), Config::default())?;
///
/// assert!(connection.bytes_to_send().starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
/// assert_eq!(connection.poll_event(), Some(Event::Message(Message::Text("Hello".into()))));
/// # Ok::<(), rfc6455::HandshakeError>(())
/// ```
#[derive(Debug)]
pub struct ServerHandshake {
    config: HandshakeConfig,
    /// Bytes received and not yet handed on: the head, then what followed it.
    input: Vec<u8>,
    out: BytesMut,
    state: State,
    event: Option<ServerEvent>,
}

impl ServerHandshake {
    /// A handshake for a connection accepted at `now`: the head must arrive by
    /// `now + config.timeout`.
    pub fn new(config: HandshakeConfig, now: Instant) -> ServerHandshake {
        ServerHandshake {
            config,
            input: Vec::new(),
            out: BytesMut::new(),
            state: State::Reading { deadline: now + config.timeout },
            event: None,
        }
    }

    /// Bytes received at `now`. Bytes after the head are kept for the [`Connection`]; the head
    /// and what follows it before the answer are bounded by twice
    /// [`crate::handshake::HeadLimits::max_head_size`] (431 beyond).
    pub fn receive(&mut self, now: Instant, bytes: &[u8]) {
        match &mut self.state {
            State::Reading { .. } => {
                if push_head_bytes(&mut self.input, bytes, &self.config.limits) {
                    self.decode(now);
                }
            }
            State::Deciding { head_len, head_method, .. } => {
                let head_method = *head_method;
                if let Err(error) = push_early_bytes(&mut self.input, *head_len, bytes, &self.config.limits) {
                    self.fail(now, error, head_method);
                }
            }
            State::Upgraded => {}
            State::Ending(teardown) => teardown.receive(bytes.len()),
        }
    }

    fn decode(&mut self, now: Instant) {
        let (request, head_len) = match Request::decode(&self.input, &self.config.limits) {
            Ok(Decoded::Complete { value, consumed }) => (value, consumed),
            Ok(Decoded::Incomplete { .. }) => return,
            Err(error) => return self.fail(now, error, false),
        };
        let State::Reading { deadline } = self.state else { return };
        let head_method = request.method == "HEAD";
        if !request.is_websocket_upgrade() {
            self.state = State::Deciding { deadline, head_len, offer: None, head_method, eof: false };
            self.event = Some(ServerEvent::Request(request));
            return;
        }
        match UpgradeRequest::validate(request) {
            Ok(upgrade) => {
                let offer = Offer {
                    key: upgrade.key().to_owned(),
                    protocols: upgrade.protocols().to_vec(),
                    extensions: upgrade.extensions().iter().map(|extension| extension.name.clone()).collect(),
                };
                self.state = State::Deciding {
                    deadline,
                    head_len,
                    offer: Some(offer),
                    head_method: false,
                    eof: false,
                };
                self.event = Some(ServerEvent::Upgrade(upgrade));
            }
            Err(error) => self.fail(now, error, head_method),
        }
    }

    /// Answers a bad request with the status its error calls for (without a body to a HEAD
    /// request, RFC 9110 §9.3.2), and ends the transport.
    fn fail(&mut self, now: Instant, error: HandshakeError, head_method: bool) {
        let response = HttpResponse::from_error(&error);
        if head_method {
            response.encode_head(&mut self.out);
        } else {
            response.encode(&mut self.out);
        }
        self.end(now, AfterFlush::Linger(self.config.linger));
        self.event = Some(ServerEvent::Failed(error));
    }

    /// Nothing more will be read as part of the handshake: the input goes, the transport ends.
    fn end(&mut self, now: Instant, then: AfterFlush) {
        self.input = Vec::new();
        self.state = State::Ending(Teardown::new(now, self.config.close_timeout, then));
    }

    /// Ends the transport at once, reporting `error` if the handshake was still under way.
    fn abort(&mut self, error: HandshakeError) {
        if matches!(self.state, State::Reading { .. } | State::Deciding { .. }) {
            self.event = Some(ServerEvent::Failed(error));
            self.input = Vec::new();
            self.state = State::Ending(Teardown::Done);
        }
    }

    /// The peer shut down writing at `now`. Before a whole head, the handshake fails
    /// ([`HandshakeError::ConnectionClosed`]); after it, the answer is still written.
    pub fn receive_eof(&mut self, now: Instant) {
        let _ = now;
        match &mut self.state {
            State::Reading { .. } => self.abort(HandshakeError::ConnectionClosed),
            State::Deciding { eof, .. } => *eof = true,
            State::Upgraded => {}
            State::Ending(teardown) => teardown.receive_eof(),
        }
    }

    /// The transport failed (a reset, a broken pipe): [`ServerHandshake::poll_transport`] says
    /// close.
    pub fn receive_reset(&mut self, now: Instant) {
        let _ = now;
        self.abort(HandshakeError::ConnectionClosed);
        if let State::Ending(teardown) = &mut self.state {
            teardown.receive_reset();
            self.out.clear(); // never to be written
        }
    }

    /// Time passed: a head (or an answer) not there by the deadline fails the handshake with
    /// [`HandshakeError::Timeout`] and closes the transport, nothing written; an answer the peer
    /// does not take, or a linger, ends.
    pub fn handle_timeout(&mut self, now: Instant) {
        match &mut self.state {
            State::Reading { deadline } | State::Deciding { deadline, .. } if now >= *deadline => {
                self.abort(HandshakeError::Timeout);
            }
            State::Ending(teardown) => teardown.handle_timeout(now, self.out.len()),
            _ => {}
        }
        if matches!(&self.state, State::Ending(teardown) if teardown.is_done()) {
            self.out.clear(); // never to be written
        }
    }

    /// The next deadline: call [`ServerHandshake::handle_timeout`] then.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Reading { deadline } | State::Deciding { deadline, .. } => Some(*deadline),
            State::Upgraded => None,
            State::Ending(teardown) => teardown.deadline(),
        }
    }

    /// What was read: reported once.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.event.take()
    }

    /// The bytes to write (an HTTP answer), in order.
    pub fn bytes_to_send(&self) -> &[u8] {
        &self.out
    }

    /// Reports that the first `count` bytes of [`ServerHandshake::bytes_to_send`] were written.
    pub fn mark_sent(&mut self, count: usize) {
        self.out.advance(count.min(self.out.len()));
    }

    /// What to do with the transport at `now` (see [`crate::transport`]). After
    /// [`ServerHandshake::accept`], the [`Connection`] says.
    pub fn poll_transport(&mut self, now: Instant) -> Transport {
        match &mut self.state {
            State::Ending(teardown) => teardown.poll(now, self.out.len()),
            _ => Transport::Open,
        }
    }

    /// Accepts the upgrade request reported by [`ServerEvent::Upgrade`] with `response` (from
    /// [`UpgradeRequest::accept`]): gives the server's [`Connection`], the 101 queued first in
    /// its output, the response's extension codecs installed, and the bytes that followed the
    /// head already fed to it.
    ///
    /// # Errors
    ///
    /// Nothing changes and the request can still be answered with
    /// [`ServerHandshake::respond`] on: [`HandshakeError::NotAwaitingAnswer`] (no upgrade
    /// request waiting), [`HandshakeError::AcceptMismatch`] (a response built for another
    /// request), [`HandshakeError::UnofferedProtocol`] or [`HandshakeError::UnofferedExtension`]
    /// (§4.2.2: the server selects from what the client offered),
    /// [`HandshakeError::ExtensionMismatch`] (more than one extension).
    pub fn accept(
        &mut self,
        now: Instant,
        response: AcceptResponse,
        config: Config,
    ) -> Result<Connection, HandshakeError> {
        let State::Deciding { head_len, offer: Some(offer), eof, .. } = &self.state else {
            return Err(HandshakeError::NotAwaitingAnswer);
        };
        let (head_len, eof) = (*head_len, *eof);
        if response.accept_key() != accept_key(&offer.key) {
            return Err(HandshakeError::AcceptMismatch);
        }
        // §4.2.2 item 5.5: "the value ... MUST be one of the values of the
        // |Sec-WebSocket-Protocol| header field in the client's handshake" (if any).
        if let Some(protocol) = response.protocol() {
            if !offer.protocols.iter().any(|offered| offered == protocol) {
                return Err(HandshakeError::UnofferedProtocol(protocol.to_owned()));
            }
        }
        let extensions = response.extensions();
        for extension in &extensions {
            if !offer.extensions.iter().any(|offered| offered.eq_ignore_ascii_case(&extension.name)) {
                return Err(HandshakeError::UnofferedExtension(extension.name.clone()));
            }
        }
        if extensions.len() > 1 {
            return Err(HandshakeError::ExtensionMismatch("at most one extension is supported".to_owned()));
        }
        let mut head = BytesMut::new();
        response.encode(&mut head);
        let mut connection = Connection::new(Role::Server, config, now);
        if let Some(codec) = response.into_codecs().pop() {
            connection = connection.with_extension(codec);
        }
        connection.queue_raw(&head);
        let input = std::mem::take(&mut self.input);
        connection.receive(now, &input[head_len..]);
        if eof {
            connection.receive_eof(now);
        }
        self.state = State::Upgraded;
        Ok(connection)
    }

    /// Answers the request reported by [`ServerEvent::Request`] or [`ServerEvent::Upgrade`] with
    /// `response` (a page, a redirect, a 403; to a HEAD request, without its body), then ends
    /// the transport: the answer is written,
    /// writing shut down, and input discarded until the peer closes (bounded by
    /// [`HandshakeConfig::close_timeout`] and [`HandshakeConfig::linger`]).
    ///
    /// # Errors
    ///
    /// [`HandshakeError::NotAwaitingAnswer`]: no request waiting (none read, or answered).
    pub fn respond(&mut self, now: Instant, response: &HttpResponse) -> Result<(), HandshakeError> {
        let State::Deciding { eof, head_method, .. } = self.state else {
            return Err(HandshakeError::NotAwaitingAnswer);
        };
        if head_method {
            response.encode_head(&mut self.out);
        } else {
            response.encode(&mut self.out);
        }
        let then = if eof { AfterFlush::Close } else { AfterFlush::Linger(self.config.linger) };
        self.end(now, then);
        Ok(())
    }
}
