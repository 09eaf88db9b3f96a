//! RFC 6455 §5.2 (base framing protocol), with §5.1 (masking by role), §5.4 (fragmentation) and
//! §5.5 (control frames) as they constrain a single frame.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! | Masking-key (continued)       |          Payload Data         |
//! +-------------------------------- - - - - - - - - - - - - - - - +
//! :                     Payload Data continued ...                :
//! + - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - +
//! |                     Payload Data continued ...                |
//! +---------------------------------------------------------------+
//! ```
//!
//! | RFC field                | bits          | Rust                                     |
//! |--------------------------|---------------|------------------------------------------|
//! | FIN                      | byte 0, bit 7 | [`FIN_BIT`], [`FrameHeader::fin`]        |
//! | RSV1, RSV2, RSV3         | byte 0, 6-4   | [`RSV1_BIT`].., [`FrameHeader::rsv1`]..  |
//! | opcode                   | byte 0, 3-0   | [`OPCODE_BITS`], [`Opcode`]              |
//! | MASK                     | byte 1, bit 7 | [`MASK_BIT`], [`FrameHeader::masking_key`] is `Some` |
//! | Payload len              | byte 1, 6-0   | [`PAYLOAD_LEN_BITS`], [`FrameHeader::payload_len`] |
//! | Extended payload length  | 2 or 8 bytes  | [`PAYLOAD_LEN_16`], [`PAYLOAD_LEN_64`]   |
//! | Masking-key              | 4 bytes       | [`FrameHeader::masking_key`]             |
//! | Payload data             | the rest      | [`Frame::payload`]                       |
//!
//! Decoding is in wire order and fails as soon as the field that breaks a rule is complete (the
//! first byte, the second byte, the extended length), before waiting for the rest of the frame. Nothing is allocated from the announced length: [`Frame::decode`]
//! copies a payload only once every byte of it is in the input.

use std::fmt;
use std::ops::DerefMut;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::ProtocolError;
use crate::mask::apply_mask;
use crate::{Decoded, Role};

mod fast;

pub(crate) use fast::{decode_valid, encode_frame_to_buffer, encode_header_to_buffer, SMALL_FRAME_ROOM};

/// Byte 0, bit 7: FIN, "this is the final fragment in a message" (§5.2).
pub const FIN_BIT: u8 = 0b1000_0000;
/// Byte 0, bit 6: RSV1, reserved for extensions (permessage-deflate uses it, RFC 7692).
pub const RSV1_BIT: u8 = 0b0100_0000;
/// Byte 0, bit 5: RSV2, reserved for extensions.
pub const RSV2_BIT: u8 = 0b0010_0000;
/// Byte 0, bit 4: RSV3, reserved for extensions.
pub const RSV3_BIT: u8 = 0b0001_0000;
/// Byte 0, bits 3-0: the opcode.
pub const OPCODE_BITS: u8 = 0b0000_1111;
/// Byte 1, bit 7: MASK, "whether the Payload data is masked".
pub const MASK_BIT: u8 = 0b1000_0000;
/// Byte 1, bits 6-0: Payload len (0-125, or one of the two markers below).
pub const PAYLOAD_LEN_BITS: u8 = 0b0111_1111;
/// Payload len value meaning "the following 2 bytes are the payload length".
pub const PAYLOAD_LEN_16: u8 = 126;
/// Payload len value meaning "the following 8 bytes are the payload length".
pub const PAYLOAD_LEN_64: u8 = 127;
/// Largest payload of a control frame (§5.5: "125 bytes or less").
pub const MAX_CONTROL_PAYLOAD_LEN: u64 = 125;
/// Largest frame header: 2 bytes, 8 bytes of extended length, 4 bytes of masking key.
pub const MAX_HEADER_LEN: usize = 14;
/// Default of the largest frame payload a receiver accepts ([`DecodeRules::with_max_frame_size`],
/// [`crate::MessageLimits::max_frame_size`]): 16 MiB.
pub const DEFAULT_MAX_FRAME_SIZE: u64 = 16 << 20;

/// The opcode: "the interpretation of the Payload data" (§5.2, §11.8).
///
/// Reserved opcodes (0x3-0x7, 0xB-0xF) are not representable: [`Opcode::decode`] rejects them.
///
/// # Examples
///
/// ```
/// use rfc6455::{Opcode, ProtocolError};
///
/// assert_eq!(Opcode::decode(0x1), Ok(Opcode::Text));
/// assert!(Opcode::Ping.is_control());
/// assert_eq!(Opcode::decode(0x3), Err(ProtocolError::ReservedOpcode(0x3)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// 0x0: a continuation frame.
    Continuation,
    /// 0x1: a text frame (UTF-8).
    Text,
    /// 0x2: a binary frame.
    Binary,
    /// 0x8: a connection close (§5.5.1).
    Close,
    /// 0x9: a ping (§5.5.2).
    Ping,
    /// 0xA: a pong (§5.5.3).
    Pong,
}

impl Opcode {
    /// Reads an opcode from its 4-bit value (higher bits ignored).
    ///
    /// # Errors
    ///
    /// [`ProtocolError::ReservedOpcode`] for 0x3-0x7 and 0xB-0xF (§5.2: "If an unknown opcode is
    /// received, the receiving endpoint MUST _Fail the WebSocket Connection_").
    pub fn decode(value: u8) -> Result<Opcode, ProtocolError> {
        Opcode::from_bits(value).ok_or(ProtocolError::ReservedOpcode(value & OPCODE_BITS))
    }

    /// The opcode of a 4-bit value (higher bits ignored), `None` if reserved.
    const fn from_bits(value: u8) -> Option<Opcode> {
        match value & OPCODE_BITS {
            0x0 => Some(Opcode::Continuation),
            0x1 => Some(Opcode::Text),
            0x2 => Some(Opcode::Binary),
            0x8 => Some(Opcode::Close),
            0x9 => Some(Opcode::Ping),
            0xA => Some(Opcode::Pong),
            _ => None,
        }
    }

    /// The 4-bit value on the wire.
    pub const fn encode(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    /// Close, Ping or Pong: "the most significant bit of the opcode is 1" (§5.5).
    pub fn is_control(self) -> bool {
        self.encode() & 0x8 != 0
    }

    /// Continuation, Text or Binary (§5.6).
    pub fn is_data(self) -> bool {
        !self.is_control()
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Opcode::Continuation => "continuation",
            Opcode::Text => "text",
            Opcode::Binary => "binary",
            Opcode::Close => "close",
            Opcode::Ping => "ping",
            Opcode::Pong => "pong",
        };
        write!(f, "{name} ({:#x})", self.encode())
    }
}

/// What a receiver accepts: its role, the RSV bits its extensions claimed, its size limit.
///
/// # Examples
///
/// ```
/// use rfc6455::frame::RSV1_BIT;
/// use rfc6455::DecodeRules;
///
/// // A server that negotiated permessage-deflate (RSV1) and accepts frames up to 1 MiB.
/// let rules = DecodeRules::server().with_rsv_allowed(RSV1_BIT).with_max_frame_size(1 << 20);
/// # let _ = rules;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeRules {
    /// The role of the endpoint decoding: a server requires masked frames, a client unmasked
    /// ones (§5.1).
    pub role: Role,
    /// RSV bits granted by negotiated extensions, as a mask of [`RSV1_BIT`], [`RSV2_BIT`] and
    /// [`RSV3_BIT`]. Default 0: §5.2 "MUST be 0 unless an extension is negotiated".
    pub rsv_allowed: u8,
    /// Largest payload accepted, checked as soon as the length is decoded. Default
    /// [`DEFAULT_MAX_FRAME_SIZE`] (16 MiB).
    pub max_frame_size: u64,
}

impl DecodeRules {
    /// Rules for an endpoint of `role`, with no extension and the default limit.
    pub fn new(role: Role) -> DecodeRules {
        DecodeRules { role, rsv_allowed: 0, max_frame_size: DEFAULT_MAX_FRAME_SIZE }
    }

    /// Rules for a server: frames from the client must be masked.
    pub fn server() -> DecodeRules {
        DecodeRules::new(Role::Server)
    }

    /// Rules for a client: frames from the server must not be masked.
    pub fn client() -> DecodeRules {
        DecodeRules::new(Role::Client)
    }

    /// Grants RSV bits (a mask of [`RSV1_BIT`], [`RSV2_BIT`], [`RSV3_BIT`]) to extensions.
    pub fn with_rsv_allowed(mut self, rsv_bits: u8) -> DecodeRules {
        self.rsv_allowed = rsv_bits & (RSV1_BIT | RSV2_BIT | RSV3_BIT);
        self
    }

    /// Sets the largest payload accepted.
    pub fn with_max_frame_size(mut self, max_frame_size: u64) -> DecodeRules {
        self.max_frame_size = max_frame_size;
        self
    }
}

/// A frame header: every field of §5.2 but the payload data.
///
/// # Examples
///
/// ```
/// use rfc6455::{Decoded, DecodeRules, FrameHeader, Opcode};
///
/// // §5.7: "A single-frame masked text message" ("Hello"), as a server receives it.
/// let bytes = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// let Decoded::Complete { value: header, consumed } = FrameHeader::decode(&bytes, &DecodeRules::server())?
/// else { unreachable!() };
/// assert_eq!(consumed, 6);
/// assert!(header.fin);
/// assert_eq!(header.opcode, Opcode::Text);
/// assert_eq!(header.masking_key, Some([0x37, 0xfa, 0x21, 0x3d]));
/// assert_eq!(header.payload_len, 5);
///
/// let mut encoded = Vec::new();
/// header.encode(&mut encoded);
/// assert_eq!(encoded, &bytes[..6]);
/// # Ok::<(), rfc6455::ProtocolError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// FIN: this is the final fragment of a message.
    pub fin: bool,
    /// RSV1: extension-defined.
    pub rsv1: bool,
    /// RSV2: extension-defined.
    pub rsv2: bool,
    /// RSV3: extension-defined.
    pub rsv3: bool,
    /// The opcode.
    pub opcode: Opcode,
    /// The masking key: `Some` exactly when MASK is set.
    pub masking_key: Option<[u8; 4]>,
    /// The length of the payload data in bytes.
    pub payload_len: u64,
}

impl FrameHeader {
    /// An unmasked header with FIN set as given and no RSV bits.
    pub fn new(fin: bool, opcode: Opcode, payload_len: u64) -> FrameHeader {
        FrameHeader { fin, rsv1: false, rsv2: false, rsv3: false, opcode, masking_key: None, payload_len }
    }

    /// The RSV bits as they sit in byte 0 (`0b0111_0000` mask).
    pub fn rsv_bits(&self) -> u8 {
        (if self.rsv1 { RSV1_BIT } else { 0 })
            | (if self.rsv2 { RSV2_BIT } else { 0 })
            | (if self.rsv3 { RSV3_BIT } else { 0 })
    }

    /// A header from byte 0 (FIN and RSV bits), the opcode it holds, the masking key and the
    /// payload length.
    fn from_wire(first: u8, opcode: Opcode, masking_key: Option<[u8; 4]>, payload_len: u64) -> FrameHeader {
        FrameHeader {
            fin: first & FIN_BIT != 0,
            rsv1: first & RSV1_BIT != 0,
            rsv2: first & RSV2_BIT != 0,
            rsv3: first & RSV3_BIT != 0,
            opcode,
            masking_key,
            payload_len,
        }
    }

    /// Number of bytes of the encoded header: 2, plus 2 or 8 of extended length, plus 4 of key.
    pub fn encoded_len(&self) -> usize {
        let length_len = match self.payload_len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        2 + length_len + if self.masking_key.is_some() { 4 } else { 0 }
    }

    /// Writes the header in wire order, with the payload length in its minimal encoding.
    ///
    /// No rule is checked: the header is written as it is (a test can build an invalid frame).
    pub fn encode<B: BufMut>(&self, out: &mut B) {
        let (bytes, len) = self.to_bytes();
        out.put_slice(&bytes[..len]);
    }

    /// The encoded header in a stack buffer, and its length.
    fn to_bytes(self) -> ([u8; MAX_HEADER_LEN], usize) {
        let mut bytes = [0u8; MAX_HEADER_LEN];
        bytes[0] = if self.fin { FIN_BIT } else { 0 } | self.rsv_bits() | self.opcode.encode();
        let mask = if self.masking_key.is_some() { MASK_BIT } else { 0 };
        // §5.2: "the minimal number of bytes MUST be used to encode the length".
        let mut len = match self.payload_len {
            len @ 0..=125 => {
                bytes[1] = mask | len as u8;
                2
            }
            len @ 126..=0xFFFF => {
                bytes[1] = mask | PAYLOAD_LEN_16;
                bytes[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            len => {
                bytes[1] = mask | PAYLOAD_LEN_64;
                bytes[2..10].copy_from_slice(&len.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.masking_key {
            bytes[len..len + 4].copy_from_slice(&key);
            len += 4;
        }
        (bytes, len)
    }

    /// Decodes a header from the start of `input`, checking every rule of §5.2 that a single
    /// header can break, in wire order.
    ///
    /// Returns [`Decoded::Complete`] with the number of header bytes consumed (the payload is
    /// not read; since only minimal length encodings are accepted, that is always
    /// [`FrameHeader::encoded_len`]), or [`Decoded::Incomplete`] with the number of further bytes known to be needed.
    /// A field that breaks a rule fails as soon as it is complete, even if the rest of the header
    /// has not arrived.
    ///
    /// # Errors
    ///
    /// In wire order: [`ProtocolError::ReservedOpcode`], [`ProtocolError::ReservedBitsSet`],
    /// [`ProtocolError::FragmentedControlFrame`], [`ProtocolError::UnmaskedFrame`] /
    /// [`ProtocolError::MaskedFrame`], [`ProtocolError::ControlFrameTooLong`],
    /// [`ProtocolError::NonMinimalLength`], [`ProtocolError::LengthMostSignificantBitSet`],
    /// [`ProtocolError::FrameTooLarge`].
    #[inline]
    pub fn decode(input: &[u8], rules: &DecodeRules) -> Result<Decoded<FrameHeader>, ProtocolError> {
        match decode_valid(input, rules) {
            Some((header, consumed)) => Ok(Decoded::Complete { value: header, consumed }),
            None => FrameHeader::decode_in_wire_order(input, rules),
        }
    }

    /// [`FrameHeader::decode`] field by field, in wire order: the reference, and the path that
    /// finds which rule an invalid or incomplete header breaks first.
    #[cold]
    #[inline(never)]
    fn decode_in_wire_order(
        input: &[u8],
        rules: &DecodeRules,
    ) -> Result<Decoded<FrameHeader>, ProtocolError> {
        let Some(&first) = input.first() else {
            return Ok(Decoded::Incomplete { needed: 2 });
        };
        let opcode = Opcode::decode(first)?;
        // §5.2: "If a nonzero value is received and none of the negotiated extensions defines
        // the meaning of such a nonzero value, the receiving endpoint MUST _Fail the WebSocket
        // Connection_."
        let rsv = first & (RSV1_BIT | RSV2_BIT | RSV3_BIT);
        if rsv & !rules.rsv_allowed != 0 {
            return Err(ProtocolError::ReservedBitsSet(rsv & !rules.rsv_allowed));
        }
        let fin = first & FIN_BIT != 0;
        // §5.5: "All control frames ... MUST NOT be fragmented."
        if opcode.is_control() && !fin {
            return Err(ProtocolError::FragmentedControlFrame);
        }

        let Some(&second) = input.get(1) else {
            return Ok(Decoded::Incomplete { needed: 1 });
        };
        let masked = second & MASK_BIT != 0;
        if masked != (rules.role == Role::Server) {
            return Err(if masked {
                // §5.1: "A client MUST close a connection if it detects a masked frame."
                ProtocolError::MaskedFrame
            } else {
                // §5.1: "The server MUST close the connection upon receiving a frame that is not
                // masked."
                ProtocolError::UnmaskedFrame
            });
        }
        let mask_len = if masked { 4 } else { 0 };
        let short_len = second & PAYLOAD_LEN_BITS;
        let (payload_len, length_end) = if short_len < PAYLOAD_LEN_16 {
            (u64::from(short_len), 2)
        } else {
            // §5.5: "All control frames MUST have a payload length of 125 bytes or less": a 16-
            // or 64-bit length marker is already too long.
            if opcode.is_control() {
                return Err(ProtocolError::ControlFrameTooLong(u64::from(short_len)));
            }
            let length_end = if short_len == PAYLOAD_LEN_16 { 4 } else { 10 };
            let length = if short_len == PAYLOAD_LEN_16 {
                input
                    .get(2..)
                    .and_then(<[u8]>::first_chunk::<2>)
                    .map(|bytes| u64::from(u16::from_be_bytes(*bytes)))
            } else {
                input.get(2..).and_then(<[u8]>::first_chunk::<8>).map(|bytes| u64::from_be_bytes(*bytes))
            };
            let Some(len) = length else {
                return Ok(Decoded::Incomplete { needed: length_end + mask_len - input.len() });
            };
            // §5.2: "the most significant bit MUST be 0".
            if len >> 63 != 0 {
                return Err(ProtocolError::LengthMostSignificantBitSet);
            }
            // §5.2: "the minimal number of bytes MUST be used to encode the length".
            let minimum = if short_len == PAYLOAD_LEN_16 { u64::from(PAYLOAD_LEN_16) } else { 0x1_0000 };
            if len < minimum {
                return Err(ProtocolError::NonMinimalLength(len));
            }
            (len, length_end)
        };
        // Checked before anything waits for or allocates the payload.
        if payload_len > rules.max_frame_size {
            return Err(ProtocolError::FrameTooLarge { payload_len, max: rules.max_frame_size });
        }
        let header_len = length_end + mask_len;
        let masking_key = if masked {
            let Some(key) = input.get(length_end..).and_then(<[u8]>::first_chunk::<4>) else {
                return Ok(Decoded::Incomplete { needed: header_len - input.len() });
            };
            Some(*key)
        } else {
            None
        };
        let header = FrameHeader::from_wire(first, opcode, masking_key, payload_len);
        Ok(Decoded::Complete { value: header, consumed: header_len })
    }
}

/// A whole frame: its header and its payload, unmasked.
///
/// After [`Frame::decode`], `payload` holds the unmasked data and `header.masking_key` the key
/// it arrived with, so encoding the frame again gives the same bytes.
///
/// # Examples
///
/// ```
/// use rfc6455::{Decoded, DecodeRules, Frame, Opcode};
///
/// // §5.7: an unmasked Ping with body "Hello", as a client receives it.
/// let bytes = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
/// let Decoded::Complete { value: frame, consumed } = Frame::decode(&bytes, &DecodeRules::client())?
/// else { unreachable!() };
/// assert_eq!((frame.header.opcode, &frame.payload[..], consumed), (Opcode::Ping, &b"Hello"[..], 7));
///
/// let mut encoded = Vec::new();
/// frame.encode(&mut encoded);
/// assert_eq!(encoded, bytes);
/// # Ok::<(), rfc6455::ProtocolError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The header; `payload_len` equals `payload.len()`.
    pub header: FrameHeader,
    /// The payload data, unmasked.
    pub payload: Bytes,
}

impl Frame {
    /// An unmasked frame carrying `payload`, with no RSV bits.
    pub fn new(fin: bool, opcode: Opcode, payload: impl Into<Bytes>) -> Frame {
        let payload = payload.into();
        Frame { header: FrameHeader::new(fin, opcode, payload.len() as u64), payload }
    }

    /// The same frame, masked with `masking_key` when encoded (`None`: unmasked).
    pub fn with_masking_key(mut self, masking_key: Option<[u8; 4]>) -> Frame {
        self.header.masking_key = masking_key;
        self
    }

    /// Decodes one whole frame from the start of `input`, copying and unmasking its payload.
    ///
    /// The copy is made only once all of the payload is in `input`, so its size is bounded by
    /// the input, never by the announced length. For zero-copy decoding from a read buffer, see
    /// [`Frame::decode_from`].
    ///
    /// # Errors
    ///
    /// Those of [`FrameHeader::decode`].
    pub fn decode(input: &[u8], rules: &DecodeRules) -> Result<Decoded<Frame>, ProtocolError> {
        let (header, header_len, frame_len) = match decode_frame_bounds(input, rules)? {
            Decoded::Complete { value, .. } => value,
            Decoded::Incomplete { needed } => return Ok(Decoded::Incomplete { needed }),
        };
        let mut payload = BytesMut::from(&input[header_len..frame_len]);
        if let Some(key) = header.masking_key {
            apply_mask(key, &mut payload, 0);
        }
        Ok(Decoded::Complete { value: Frame { header, payload: payload.freeze() }, consumed: frame_len })
    }

    /// Decodes one whole frame from the front of `buffer` without copying: when complete, the
    /// frame's bytes are split off `buffer`, unmasked in place, and `consumed` of them removed.
    ///
    /// On [`Decoded::Incomplete`] or an error, `buffer` is left as it was.
    ///
    /// # Errors
    ///
    /// Those of [`FrameHeader::decode`].
    pub fn decode_from(buffer: &mut BytesMut, rules: &DecodeRules) -> Result<Decoded<Frame>, ProtocolError> {
        let (header, header_len, frame_len) = match decode_frame_bounds(buffer, rules)? {
            Decoded::Complete { value, .. } => value,
            Decoded::Incomplete { needed } => return Ok(Decoded::Incomplete { needed }),
        };
        buffer.advance(header_len);
        let mut payload = buffer.split_to(frame_len - header_len);
        if let Some(key) = header.masking_key {
            apply_mask(key, &mut payload, 0);
        }
        Ok(Decoded::Complete { value: Frame { header, payload: payload.freeze() }, consumed: frame_len })
    }

    /// Writes the frame (header, then payload masked with the header's key, if any) into `out`,
    /// masking in place in `out`: no intermediate buffer. Works with `Vec<u8>` and `BytesMut`.
    ///
    /// The length written is `payload.len()`, whatever `header.payload_len` says; no other
    /// rule is checked.
    ///
    /// ```
    /// use rfc6455::{Frame, FrameHeader, Opcode};
    ///
    /// // §5.7: "A single-frame masked text message".
    /// let mut header = FrameHeader::new(true, Opcode::Text, 5);
    /// header.masking_key = Some([0x37, 0xfa, 0x21, 0x3d]);
    /// let mut out = bytes::BytesMut::new();
    /// Frame { header, payload: "Hello".into() }.encode(&mut out);
    /// assert_eq!(&out[..], &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    /// ```
    pub fn encode<B: BufMut + DerefMut<Target = [u8]>>(&self, out: &mut B) {
        let header = FrameHeader { payload_len: self.payload.len() as u64, ..self.header };
        let (bytes, header_len) = header.to_bytes();
        out.put_slice(&bytes[..header_len]);
        let start = out.len();
        out.put_slice(&self.payload);
        if let Some(key) = header.masking_key {
            apply_mask(key, &mut out[start..], 0);
        }
    }
}

/// Decodes the header and checks the whole frame is in `input`: (header, header length, frame
/// length).
fn decode_frame_bounds(
    input: &[u8],
    rules: &DecodeRules,
) -> Result<Decoded<(FrameHeader, usize, usize)>, ProtocolError> {
    let (header, header_len) = match FrameHeader::decode(input, rules)? {
        Decoded::Complete { value, consumed } => (value, consumed),
        Decoded::Incomplete { needed } => return Ok(Decoded::Incomplete { needed }),
    };
    let available = (input.len() - header_len) as u64;
    if available < header.payload_len {
        let missing = header.payload_len - available;
        return Ok(Decoded::Incomplete { needed: usize::try_from(missing).unwrap_or(usize::MAX) });
    }
    // payload_len <= available <= input.len(): it fits in usize.
    let frame_len = header_len + header.payload_len as usize;
    Ok(Decoded::Complete { value: (header, header_len, frame_len), consumed: frame_len })
}
