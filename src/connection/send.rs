//! The application's commands (§5.6 data frames, §5.4 fragmentation, §5.5 control frames, §7
//! closing) and the bytes they produce: how a [`Connection`] writes frames.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Connection {
    // ----------------------------------------------------------------------------------------
    // Commands.

    /// Sends a Text message.
    ///
    /// # Errors
    ///
    /// [`SendError::Closing`] once the closing handshake started, [`SendError::MessageInProgress`]
    /// while a message sent in fragments is unfinished.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_whole(MessageKind::Text, text.as_bytes())
    }

    /// Sends a Binary message.
    ///
    /// # Errors
    ///
    /// As [`Connection::send_text`].
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_whole(MessageKind::Binary, data)
    }

    /// Sends a message: one received (an echo), or one made from [`Bytes`] the application
    /// holds.
    ///
    /// A server queues a large payload (4 KiB or more, not transformed by an extension, sent as
    /// one frame) by reference instead of copying it: the transport's write copies it, once,
    /// from [`Connection::bytes_to_send_vectored`]. (A client copies it anyway, to mask it.)
    ///
    /// # Errors
    ///
    /// As [`Connection::send_text`].
    pub fn send_message(&mut self, message: &Message) -> Result<(), SendError> {
        let payload = message.payload();
        let shareable = self.role == Role::Server
            && payload.len() >= SHARED_PAYLOAD_MIN
            && self.config.max_send_frame_size.is_none_or(|max| payload.len() <= max)
            && self.extension.is_none();
        if !shareable {
            return self.send_whole(message.kind(), payload);
        }
        self.send_shared(message.kind(), payload)
    }

    /// [`Connection::send_message`] for a payload queued by reference: its header is encoded,
    /// the payload itself kept as it is. (Kept out of line: the small messages' path then saves
    /// fewer registers.)
    #[inline(never)]
    fn send_shared(&mut self, kind: MessageKind, payload: &Bytes) -> Result<(), SendError> {
        self.check_can_send_whole()?;
        self.flush_pong();
        let first = FIN_BIT | kind.opcode().encode();
        crate::frame::encode_header_to_buffer(self.out.tail(), first, None, payload.len());
        self.out.push_shared(payload.clone());
        Ok(())
    }

    /// Begins a message to be sent in fragments with [`Connection::send_fragment`] (the ESP-IDF server's
    /// manual fragmentation). Control frames may still be sent between fragments; other data
    /// messages may not (§5.4).
    ///
    /// # Errors
    ///
    /// [`SendError::Closing`], [`SendError::MessageInProgress`].
    pub fn begin_message(&mut self, kind: MessageKind) -> Result<(), SendError> {
        self.check_open()?;
        if self.sending.is_some() {
            return Err(SendError::MessageInProgress);
        }
        self.sending = Some(Sending::new(kind));
        Ok(())
    }

    /// Sends the next part of the message begun with [`Connection::begin_message`] as one or
    /// more frames; `last` ends the message. Text fragments may split a code point between them.
    ///
    /// # Errors
    ///
    /// [`SendError::Closing`], [`SendError::NoMessageInProgress`], [`SendError::InvalidUtf8`]
    /// (nothing is sent; the message stays open).
    pub fn send_fragment(&mut self, data: &[u8], last: bool) -> Result<(), SendError> {
        self.check_open()?;
        let Some(sending) = &mut self.sending else {
            return Err(SendError::NoMessageInProgress);
        };
        if sending.kind == MessageKind::Text {
            let mut utf8 = sending.utf8.clone();
            utf8.feed(data).map_err(|_| SendError::InvalidUtf8)?;
            if last {
                utf8.finish().map_err(|_| SendError::InvalidUtf8)?;
            }
            sending.utf8 = utf8;
        }
        self.write_part(data, last);
        if last {
            self.sending = None;
        }
        Ok(())
    }

    /// Sends a Ping (§5.5.2).
    ///
    /// # Errors
    ///
    /// [`SendError::ControlPayloadTooLong`] over 125 bytes, [`SendError::Closing`].
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(Opcode::Ping, payload)
    }

    /// Sends an unsolicited Pong, a unidirectional heartbeat (§5.5.3).
    ///
    /// # Errors
    ///
    /// As [`Connection::send_ping`].
    pub fn send_pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(Opcode::Pong, payload)
    }

    /// Starts the closing handshake at `now` (§7.1.2): sends a Close with `code` and `reason`
    /// and waits for the peer's, up to [`Config::close_timeout`]. Messages that arrive before
    /// the peer's Close are still reported.
    ///
    /// # Errors
    ///
    /// [`SendError::UnsendableCloseCode`], [`SendError::CloseReasonTooLong`],
    /// [`SendError::Closing`] if the closing handshake already started.
    pub fn close(&mut self, now: Instant, code: CloseCode, reason: &str) -> Result<(), SendError> {
        let close = CloseFrame::new(code, reason)?;
        self.check_open()?;
        self.write_close(Some(&close));
        let sent = CloseFrame::status_of(Some(&close));
        self.state = State::CloseSent { sent, deadline: now + self.config.close_timeout };
        Ok(())
    }

    // ----------------------------------------------------------------------------------------
    // Outputs.

    /// The bytes to write to the transport, in order, as one slice. Write as many as the
    /// transport takes, then call [`Connection::mark_sent`]. Many small messages accumulate
    /// here, ready for one write.
    ///
    /// Payloads a server queued by reference ([`Connection::send_message`]) are copied into one
    /// buffer for this; [`Connection::bytes_to_send_vectored`] hands them out without a copy.
    pub fn bytes_to_send(&mut self) -> &[u8] {
        self.flush_pong();
        self.out.contiguous()
    }

    /// The bytes to write to the transport, in order, as pieces for a vectored write
    /// (`write_vectored`, `writev`): fills `slices` with as many pieces as fit and returns how
    /// many. Write them, then call [`Connection::mark_sent`] with the number of bytes written.
    /// The pieces cover all of [`Connection::unsent_len`] when `slices` is long enough (a
    /// queued payload and its header take two pieces; 64 slices is plenty).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{IoSlice, Write};
    /// use std::time::Instant;
    /// use bytes::Bytes;
    /// use rfc6455::{Config, Connection, Message, Role};
    ///
    /// let mut server = Connection::new(Role::Server, Config::default(), Instant::now());
    /// server.send_message(&Message::Binary(Bytes::from(vec![7u8; 60_000])))?;
    /// let mut socket = Vec::new(); // anything that implements Write
    /// while server.unsent_len() > 0 {
    ///     let mut slices = [IoSlice::new(&[]); 64];
    ///     let count = server.bytes_to_send_vectored(&mut slices);
    ///     let written = socket.write_vectored(&slices[..count]).unwrap();
    ///     server.mark_sent(written);
    /// }
    /// assert_eq!(socket.len(), 4 + 60_000); // the header with a 16-bit length, then the payload
    /// # Ok::<(), rfc6455::SendError>(())
    /// ```
    #[inline]
    pub fn bytes_to_send_vectored<'a>(&'a mut self, slices: &mut [IoSlice<'a>]) -> usize {
        self.flush_pong();
        self.out.io_slices(slices)
    }

    /// Reports that the first `count` bytes of [`Connection::bytes_to_send`] (or of the pieces
    /// of [`Connection::bytes_to_send_vectored`]) were written.
    #[inline]
    pub fn mark_sent(&mut self, count: usize) {
        self.out.advance(count);
    }

    /// How many bytes wait to be written: stop reading from the peer while this is above a
    /// high-water mark (backpressure).
    pub fn unsent_len(&self) -> usize {
        let Some(pong) = &self.pending_pong else {
            return self.out.len();
        };
        let header_len = match self.role {
            Role::Client => 6,
            Role::Server => 2,
        };
        let pong_len = match self.state {
            State::Open | State::CloseSent { .. } => header_len + pong.len(),
            _ => 0,
        };
        self.out.len() + pong_len
    }

    // ----------------------------------------------------------------------------------------
    // Writing frames.

    pub(super) fn check_open(&self) -> Result<(), SendError> {
        if self.is_open() {
            Ok(())
        } else {
            Err(SendError::Closing)
        }
    }

    /// A whole message may go out: the connection is open and no message is being sent in
    /// fragments (§5.4: fragments of two messages are never interleaved).
    #[inline]
    fn check_can_send_whole(&self) -> Result<(), SendError> {
        self.check_open()?;
        if self.sending.is_some() {
            return Err(SendError::MessageInProgress);
        }
        Ok(())
    }

    #[inline]
    fn send_whole(&mut self, kind: MessageKind, data: &[u8]) -> Result<(), SendError> {
        self.check_can_send_whole()?;
        let one_frame = self.config.max_send_frame_size.is_none_or(|max| data.len() <= max.max(1));
        if one_frame && self.extension.is_none() {
            self.write_frame(true, kind.opcode(), 0, data);
            return Ok(());
        }
        self.sending = Some(Sending::new(kind));
        self.write_part(data, true);
        self.sending = None;
        Ok(())
    }

    fn send_control(&mut self, opcode: Opcode, payload: &[u8]) -> Result<(), SendError> {
        if payload.len() as u64 > MAX_CONTROL_PAYLOAD_LEN {
            return Err(SendError::ControlPayloadTooLong(payload.len()));
        }
        self.check_open()?;
        self.write_frame(true, opcode, 0, payload);
        Ok(())
    }

    /// Writes a fragment of the message in `self.sending` as frames of at most
    /// [`Config::max_send_frame_size`], through the extension if it takes the message.
    fn write_part(&mut self, data: &[u8], last: bool) {
        let Some(sending) = &mut self.sending else { return };
        let kind = sending.kind;
        let first = !sending.started;
        let mut transformed = BytesMut::new();
        let mut rsv = 0;
        if let Some(codec) = self.extension.as_deref_mut() {
            if first {
                rsv = codec.encode(kind, data, last, &mut transformed);
                sending.transformed = rsv != 0;
            } else if sending.transformed {
                codec.encode(kind, data, last, &mut transformed);
            }
        }
        let payload: &[u8] = if sending.transformed { &transformed } else { data };
        let max = self.config.max_send_frame_size.unwrap_or(usize::MAX).max(1);
        let mut chunks = payload.chunks(max).peekable();
        let mut started = sending.started;
        if chunks.peek().is_none() {
            let opcode = if started { Opcode::Continuation } else { kind.opcode() };
            self.write_frame(last, opcode, rsv, &[]);
            started = true;
        }
        while let Some(chunk) = chunks.next() {
            let opcode = if started { Opcode::Continuation } else { kind.opcode() };
            let frame_rsv = if started { 0 } else { rsv };
            self.write_frame(last && chunks.peek().is_none(), opcode, frame_rsv, chunk);
            started = true;
        }
        if let Some(sending) = &mut self.sending {
            sending.started = started;
        }
    }

    /// Writes a Close frame (`None`: an empty body), after any pending Pong; returns what was
    /// sent.
    pub(super) fn write_close(&mut self, close: Option<&CloseFrame>) -> CloseFrame {
        self.flush_pong();
        let mut body = [0u8; 2 + crate::close::MAX_REASON_LEN];
        let len = match close {
            Some(close) => {
                let mut cursor = &mut body[..];
                close.encode(&mut cursor);
                close.encoded_len()
            }
            None => 0,
        };
        self.write_frame(true, Opcode::Close, 0, &body[..len]);
        CloseFrame::status_of(close)
    }

    /// Writes the Pong that waits to be written, if any (inline: on every look at the output,
    /// there is usually none).
    #[inline]
    pub(super) fn flush_pong(&mut self) {
        if self.pending_pong.is_some() {
            self.write_pending_pong();
        }
    }

    #[inline(never)]
    fn write_pending_pong(&mut self) {
        if let Some(pong) = self.pending_pong.take() {
            if !self.is_closed() {
                self.write_frame(true, Opcode::Pong, 0, &pong);
            }
        }
    }

    /// The first masking key of a client built without a source: seeds one from the operating
    /// system now (kept out of line: it happens once per connection).
    #[cold]
    #[inline(never)]
    fn first_masking_key(&mut self) -> [u8; 4] {
        self.random.insert(Box::new(OsSeededRng::new())).masking_key()
    }

    /// Encodes one frame into the output buffer, masked with a fresh key by a client (§5.3: "a
    /// new masking key MUST be chosen for each frame").
    #[inline]
    pub(super) fn write_frame(&mut self, fin: bool, opcode: Opcode, rsv: u8, payload: &[u8]) {
        let first =
            if fin { FIN_BIT } else { 0 } | (rsv & (RSV1_BIT | RSV2_BIT | RSV3_BIT)) | opcode.encode();
        let masking_key = match self.role {
            // §5.1: "a client MUST mask all frames that it sends to the server".
            Role::Client => Some(match &mut self.random {
                Some(random) => random.masking_key(),
                None => self.first_masking_key(),
            }),
            Role::Server => None,
        };
        encode_frame_to_buffer(self.out.tail(), first, masking_key, payload);
    }
}
