//! The client's opening handshake as a sans-IO object (§4.1): from the request to the
//! [`Connection`], or to the server's other answer.
//!
//! ```text
//!   Reading ──101, valid──▶ Accepted ──into_connection()──▶ the Connection
//!     │ other status: ReadingBody (bounded) ──▶ Redirect / Rejected ─┐
//!     │ invalid 101, deadline, EOF ─────────▶ Failed ────────────────┴─▶ Ending (linger, close)
//! ```

use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};

use crate::config::Config;
use crate::connection::Connection;
use crate::error::HandshakeError;
use crate::extension::ExtensionCodec;
use crate::handshake::client::{Accepted, ClientRequest, Response};
use crate::handshake::extension::Extension;
use crate::handshake::{push_early_bytes, push_head_bytes, HandshakeConfig};
use crate::transport::{AfterFlush, Teardown, Transport};
use crate::{Decoded, Role};

/// How the server answered a [`ClientHandshake`], from [`ClientHandshake::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// A 101 that passed every check of §4.1: take the connection with
    /// [`ClientHandshake::into_connection`].
    Accepted(Accepted),
    /// A redirect (§4.1: "the client handles the response per HTTP procedures"): a 3xx status
    /// with a `Location` to connect to instead. The transport is being ended.
    Redirect {
        /// The status code (301, 302, 303, 307, 308...).
        status: u16,
        /// The `Location` header field.
        location: String,
    },
    /// Any other answer (401, 403, 404, 426...): its status, header fields and body, the body
    /// bounded by [`HandshakeConfig::max_body_size`]. The transport is being ended.
    Rejected(Response),
    /// The handshake failed: a 101 that broke §4.1, a malformed response, the deadline, or the
    /// server closing. The transport is being ended.
    Failed(HandshakeError),
}

impl ClientEvent {
    /// The accepted 101, or why there is no WebSocket: a redirect or any other answer is
    /// [`HandshakeError::UnexpectedStatus`] (with the redirect's `Location`), a failure its
    /// error.
    ///
    /// # Errors
    ///
    /// As above, for every event but [`ClientEvent::Accepted`].
    pub fn into_accepted(self) -> Result<Accepted, HandshakeError> {
        match self {
            ClientEvent::Accepted(accepted) => Ok(accepted),
            ClientEvent::Redirect { status, location } => {
                Err(HandshakeError::UnexpectedStatus { status, location: Some(location) })
            }
            ClientEvent::Rejected(response) => {
                Err(HandshakeError::UnexpectedStatus { status: response.status, location: None })
            }
            ClientEvent::Failed(error) => Err(error),
        }
    }
}

#[derive(Debug)]
enum State {
    /// Waiting for the response head until `deadline`.
    Reading { deadline: Instant },
    /// A non-101 response: reading at most `keep` bytes of body after `head_len` bytes of head
    /// (the body ends at EOF when its length is unknown).
    ReadingBody { deadline: Instant, response: Box<Response>, head_len: usize, keep: usize },
    /// A valid 101, `head_len` bytes long, accepting `extensions`, to be taken by `deadline`;
    /// `eof` once the server shut down writing.
    Accepted { deadline: Instant, head_len: usize, extensions: Vec<Extension>, eof: bool },
    /// Answered, failed, or turned into the connection: the transport's end.
    Ending(Teardown),
}

/// The client's side of the opening handshake, sans IO.
///
/// Its first bytes to send are the request. Feed it what the socket reads and follow the same
/// drive rule as a [`Connection`]; on [`ClientEvent::Accepted`], take the connection with
/// [`ClientHandshake::into_connection`]: the bytes that followed the 101 are already fed to it.
///
/// # Examples
///
/// ```
/// use std::time::Instant;
/// use rfc6455::handshake::client::ClientRequest;
/// use rfc6455::handshake::{ClientEvent, ClientHandshake, HandshakeConfig, WsUrl};
/// use rfc6455::{Config, OsSeededRng};
///
/// let now = Instant::now();
/// let url = WsUrl::parse("ws://server.example.com/chat")?;
/// let request = ClientRequest::from_url(&url, &mut OsSeededRng::new()).with_key("dGhlIHNhbXBsZSBub25jZQ==");
/// let mut handshake = ClientHandshake::new(request, HandshakeConfig::default(), now);
/// assert!(handshake.bytes_to_send().starts_with(b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\n"));
/// let written = handshake.bytes_to_send().len();
/// handshake.mark_sent(written);
///
/// // §1.3: the server's answer.
/// handshake.receive(now, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
/// assert!(matches!(handshake.poll_event(), Some(ClientEvent::Accepted(_))));
/// let connection = handshake.into_connection(now, Config::default(), Vec::new())?;
/// assert!(connection.is_open());
/// # Ok::<(), rfc6455::HandshakeError>(())
/// ```
#[derive(Debug)]
pub struct ClientHandshake {
    config: HandshakeConfig,
    input: Vec<u8>,
    out: BytesMut,
    request: ClientRequest,
    state: State,
    event: Option<ClientEvent>,
}

impl ClientHandshake {
    /// A handshake that sends `request` at `now`; the response must arrive by
    /// `now + config.timeout`.
    pub fn new(request: ClientRequest, config: HandshakeConfig, now: Instant) -> ClientHandshake {
        let mut out = BytesMut::new();
        request.encode(&mut out);
        ClientHandshake {
            config,
            input: Vec::new(),
            out,
            request,
            state: State::Reading { deadline: now + config.timeout },
            event: None,
        }
    }

    /// The request being sent.
    pub fn request(&self) -> &ClientRequest {
        &self.request
    }

    /// Bytes received at `now`.
    pub fn receive(&mut self, now: Instant, bytes: &[u8]) {
        match &mut self.state {
            State::Reading { .. } => {
                if push_head_bytes(&mut self.input, bytes, &self.config.limits) {
                    self.decode(now);
                }
            }
            State::ReadingBody { head_len, keep, .. } => {
                let room = (*head_len + *keep).saturating_sub(self.input.len());
                self.input.extend_from_slice(&bytes[..bytes.len().min(room)]);
                self.check_body(now);
            }
            State::Accepted { head_len, .. } => {
                if let Err(error) = push_early_bytes(&mut self.input, *head_len, bytes, &self.config.limits) {
                    self.fail(now, error);
                }
            }
            State::Ending(teardown) => teardown.receive(bytes.len()),
        }
    }

    fn decode(&mut self, now: Instant) {
        let (response, head_len) = match Response::decode(&self.input, &self.config.limits) {
            Ok(Decoded::Complete { value, consumed }) => (value, consumed),
            Ok(Decoded::Incomplete { .. }) => return,
            Err(error) => return self.fail(now, error),
        };
        let State::Reading { deadline } = self.state else { return };
        if response.status == 101 {
            match self.request.validate_response(response) {
                Ok(accepted) => {
                    let extensions = accepted.extensions().to_vec();
                    self.state = State::Accepted { deadline, head_len, extensions, eof: false };
                    self.event = Some(ClientEvent::Accepted(accepted));
                }
                Err(error) => self.fail(now, error),
            }
            return;
        }
        // RFC 9112 §6.3: 1xx, 204 and 304 have no body; otherwise Content-Length says how long
        // it is, or it lasts until the server closes.
        let no_body = matches!(response.status, 100..=199 | 204 | 304);
        let length = if no_body { Some(0) } else { response.content_length() };
        let keep = length.map_or(self.config.max_body_size, |length| {
            usize::try_from(length).unwrap_or(usize::MAX).min(self.config.max_body_size)
        });
        let response = Box::new(response);
        self.state = State::ReadingBody { deadline, response, head_len, keep };
        self.input.truncate(head_len + keep);
        self.check_body(now);
    }

    /// Reports the response once its body is read, or as much of it as is kept.
    fn check_body(&mut self, now: Instant) {
        if let State::ReadingBody { head_len, keep, .. } = self.state {
            if self.input.len() >= head_len + keep {
                self.finish_body(now);
            }
        }
    }

    fn finish_body(&mut self, now: Instant) {
        let State::ReadingBody { response, head_len, .. } = &mut self.state else { return };
        let mut response = std::mem::replace(response.as_mut(), empty_response());
        response.body = Bytes::copy_from_slice(&self.input[*head_len..]);
        let location = response.headers.get("Location").map(str::to_owned);
        self.event = Some(match (response.status, location) {
            (300..=399, Some(location)) => ClientEvent::Redirect { status: response.status, location },
            _ => ClientEvent::Rejected(response),
        });
        self.end(now);
    }

    /// Fails the handshake: nothing more is read from the server, the transport ends.
    fn fail(&mut self, now: Instant, error: HandshakeError) {
        self.event = Some(ClientEvent::Failed(error));
        self.end(now);
    }

    fn end(&mut self, now: Instant) {
        self.input = Vec::new();
        self.state = State::Ending(Teardown::new(
            now,
            self.config.close_timeout,
            AfterFlush::Linger(self.config.linger),
        ));
    }

    /// The server shut down writing at `now`: before a whole response the handshake fails
    /// ([`HandshakeError::ConnectionClosed`]); a body of unknown length ends here.
    pub fn receive_eof(&mut self, now: Instant) {
        match &mut self.state {
            State::Reading { .. } => {
                self.fail(now, HandshakeError::ConnectionClosed);
                self.receive_eof(now);
            }
            State::ReadingBody { .. } => {
                self.finish_body(now);
                self.receive_eof(now);
            }
            State::Accepted { eof, .. } => *eof = true,
            State::Ending(teardown) => teardown.receive_eof(),
        }
    }

    /// The transport failed (a reset, a broken pipe): [`ClientHandshake::poll_transport`] says
    /// close; after a 101, [`ClientHandshake::into_connection`] fails.
    pub fn receive_reset(&mut self, now: Instant) {
        if let State::Reading { .. } | State::ReadingBody { .. } | State::Accepted { .. } = self.state {
            self.fail(now, HandshakeError::ConnectionClosed);
        }
        if let State::Ending(teardown) = &mut self.state {
            teardown.receive_reset();
            self.out.clear(); // never to be written
        }
    }

    /// Time passed: a response not there by the deadline (or a 101 the application did not
    /// take in time) fails the handshake with [`HandshakeError::Timeout`]; a body still arriving
    /// is reported as far as it came. The transport is then closed.
    pub fn handle_timeout(&mut self, now: Instant) {
        match &mut self.state {
            State::Reading { deadline } | State::Accepted { deadline, .. } if now >= *deadline => {
                self.fail(now, HandshakeError::Timeout);
                self.state = State::Ending(Teardown::Done);
            }
            State::ReadingBody { deadline, .. } if now >= *deadline => {
                self.finish_body(now);
                self.state = State::Ending(Teardown::Done);
            }
            State::Ending(teardown) => teardown.handle_timeout(now, self.out.len()),
            _ => {}
        }
        if matches!(&self.state, State::Ending(teardown) if teardown.is_done()) {
            self.out.clear(); // never to be written
        }
    }

    /// The next deadline: call [`ClientHandshake::handle_timeout`] then.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Reading { deadline }
            | State::ReadingBody { deadline, .. }
            | State::Accepted { deadline, .. } => Some(*deadline),
            State::Ending(teardown) => teardown.deadline(),
        }
    }

    /// How the server answered: reported once.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.event.take()
    }

    /// The bytes to write (the request), in order.
    pub fn bytes_to_send(&self) -> &[u8] {
        &self.out
    }

    /// Reports that the first `count` bytes of [`ClientHandshake::bytes_to_send`] were written.
    pub fn mark_sent(&mut self, count: usize) {
        self.out.advance(count.min(self.out.len()));
    }

    /// What to do with the transport at `now` (see [`crate::transport`]).
    pub fn poll_transport(&mut self, now: Instant) -> Transport {
        match &mut self.state {
            State::Ending(teardown) => teardown.poll(now, self.out.len()),
            _ => Transport::Open,
        }
    }

    /// The client's [`Connection`] after a [`ClientEvent::Accepted`]: with `codecs` installed,
    /// one for each extension the server accepted, and the bytes that followed the 101 already
    /// fed to it.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::NotAwaitingAnswer`] before a valid 101, or once the handshake failed
    /// after it (a reset, the deadline);
    /// [`HandshakeError::ExtensionMismatch`] when `codecs` are not the extensions the server
    /// accepted (by name, in order; one at most): §9.1, a client that cannot use what the
    /// server chose must fail the connection.
    pub fn into_connection(
        self,
        now: Instant,
        config: Config,
        mut codecs: Vec<Box<dyn ExtensionCodec>>,
    ) -> Result<Connection, HandshakeError> {
        let State::Accepted { head_len, extensions, eof, .. } = &self.state else {
            return Err(HandshakeError::NotAwaitingAnswer);
        };
        let names: Vec<String> = codecs.iter().map(|codec| codec.negotiated().name).collect();
        let same = names.len() == extensions.len()
            && names
                .iter()
                .zip(extensions)
                .all(|(name, extension)| name.eq_ignore_ascii_case(&extension.name));
        if !same || codecs.len() > 1 {
            let accepted: Vec<&str> = extensions.iter().map(|extension| extension.name.as_str()).collect();
            return Err(HandshakeError::ExtensionMismatch(format!(
                "the server accepted {accepted:?}, codecs given for {names:?} (one at most)"
            )));
        }
        let mut connection = Connection::new(Role::Client, config, now);
        if let Some(codec) = codecs.pop() {
            connection = connection.with_extension(codec);
        }
        // Whatever of the request is unwritten still goes first.
        connection.queue_raw(&self.out);
        connection.receive(now, &self.input[*head_len..]);
        if *eof {
            connection.receive_eof(now);
        }
        Ok(connection)
    }
}

fn empty_response() -> Response {
    Response {
        status: 0,
        reason: String::new(),
        minor_version: 1,
        headers: Default::default(),
        body: Bytes::new(),
    }
}
