//! Shared pieces of the rfc6455 fuzz targets (STYLE.md §8).
//!
//! Each target in `fuzz_targets/` takes a *structured* input: libFuzzer hands over raw bytes, and
//! [`arbitrary`] turns them into one of the `*Input` types below (the rules of the receiver, the
//! limits of the HTTP head, the chunk sizes a stream is cut into...). The fuzzer mutates bytes;
//! `arbitrary` makes every byte string mean *some* valid input, so no execution is wasted.
//!
//! Every input type also has a `to_fuzz_bytes` method, the inverse of `arbitrary`: it writes the
//! bytes that `arbitrary` reads back as that very input. `examples/seeds.rs` uses it to write the
//! committed seed corpora in `fuzz/seeds/` (the RFC's own examples), and checks each seed reads
//! back equal. How `arbitrary` 1.x reads the types used here:
//!
//! | type           | bytes taken                                                      |
//! |----------------|------------------------------------------------------------------|
//! | `bool`         | 1 byte from the front, its lowest bit                            |
//! | `u8`, `u16`... | `size_of` bytes from the front, little-endian                    |
//! | `&[u8]`        | its length from the *end* of the data (1 byte if at most 256     |
//! |                | bytes are left, 2 if at most 65 537), then the bytes, from the front |
//! | last field     | everything left (`arbitrary_take_rest`)                          |
//!
//! The oracles used by more than one target live here too: [`check_header_obeys_rules`] and
//! [`check_header_error_is_justified`].
//!
//! The two connection targets share [`connection`]: their input ([`connection::ConnectionInput`])
//! is a sequence of operations read by its own small format rather than by `arbitrary`'s, and
//! their oracles include a reference decoder of the bytes received. The two handshake-object
//! targets (`server_handshake`, `client_handshake`) share [`handshake`] in the same way. The
//! `reassembler` target ([`reassembler`]) reads its input the same way, with the connection
//! targets' frames, and compares layer 1's two implementations.

pub mod connection;
pub mod handshake;
pub mod reassembler;

use arbitrary::Arbitrary;
use bytes::BytesMut;
use rfc6455::frame::MAX_CONTROL_PAYLOAD_LEN;
use rfc6455::handshake::extension::Extension;
use rfc6455::handshake::HeadLimits;
use rfc6455::{DecodeOutput, DecodeRules, ExtensionCodec, FrameHeader, MessageKind, ProtocolError, Role};

/// The receiver's [`DecodeRules`], as the fuzzer picks them: 10 bytes.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuzzRules {
    /// Decode as a server (frames must be masked) or, if false, as a client (frames must not be).
    pub server: bool,
    /// RSV bits granted by negotiated extensions; only `0b0111_0000` counts.
    pub rsv_allowed: u8,
    /// The largest payload accepted.
    pub max_payload_len: u64,
}

impl FuzzRules {
    /// The library's rules, built through its public builder.
    pub fn to_rules(self) -> DecodeRules {
        let role = if self.server { Role::Server } else { Role::Client };
        DecodeRules::new(role).with_rsv_allowed(self.rsv_allowed).with_max_frame_size(self.max_payload_len)
    }

    /// The 10 bytes `arbitrary` reads back as `self`.
    pub fn to_fuzz_bytes(self) -> Vec<u8> {
        let mut bytes = vec![u8::from(self.server), self.rsv_allowed];
        bytes.extend_from_slice(&self.max_payload_len.to_le_bytes());
        bytes
    }
}

/// The [`HeadLimits`] of an HTTP head, as the fuzzer picks them: 3 bytes, deliberately small
/// (at most 65 535 bytes and 255 header fields) so that the limits are actually reached.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuzzHeadLimits {
    /// [`HeadLimits::max_head_size`].
    pub max_head_size: u16,
    /// [`HeadLimits::max_headers`].
    pub max_headers: u8,
}

impl FuzzHeadLimits {
    /// The library's limits.
    pub fn to_limits(self) -> HeadLimits {
        HeadLimits {
            max_head_size: usize::from(self.max_head_size),
            max_headers: usize::from(self.max_headers),
        }
    }

    /// The 3 bytes `arbitrary` reads back as `self`.
    pub fn to_fuzz_bytes(self) -> Vec<u8> {
        let mut bytes = self.max_head_size.to_le_bytes().to_vec();
        bytes.push(self.max_headers);
        bytes
    }
}

/// Input of `frame_header`: rules, then the bytes to decode.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct FrameHeaderInput<'a> {
    /// The receiver's rules.
    pub rules: FuzzRules,
    /// The bytes given to `FrameHeader::decode`.
    pub bytes: &'a [u8],
}

impl FrameHeaderInput<'_> {
    /// The bytes `arbitrary` reads back as `self`: the rules, then the frame bytes as they are.
    pub fn to_fuzz_bytes(&self) -> Vec<u8> {
        let mut bytes = self.rules.to_fuzz_bytes();
        bytes.extend_from_slice(self.bytes);
        bytes
    }
}

/// Input of `frame_stream`: rules, the sizes of the chunks the stream arrives in, the stream.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct FrameStreamInput<'a> {
    /// The receiver's rules.
    pub rules: FuzzRules,
    /// Chunk sizes, used in turn and cyclically: a byte `n` means a chunk of `n + 1` bytes. Empty:
    /// the whole stream arrives at once.
    pub chunk_sizes: &'a [u8],
    /// The bytes received.
    pub stream: &'a [u8],
}

impl FrameStreamInput<'_> {
    /// The size of each chunk, in order, covering the whole stream exactly.
    pub fn chunks(&self) -> Vec<usize> {
        if self.chunk_sizes.is_empty() {
            return vec![self.stream.len()];
        }
        let mut chunks = Vec::new();
        let mut left = self.stream.len();
        for &size in self.chunk_sizes.iter().cycle() {
            if left == 0 {
                break;
            }
            let chunk = (usize::from(size) + 1).min(left);
            chunks.push(chunk);
            left -= chunk;
        }
        chunks
    }

    /// The bytes `arbitrary` reads back as `self`: the rules, the chunk sizes, the stream, and at
    /// the very end the length of `chunk_sizes` (`arbitrary` reads slice lengths from the end).
    pub fn to_fuzz_bytes(&self) -> Vec<u8> {
        let mut bytes = self.rules.to_fuzz_bytes();
        bytes.extend_from_slice(self.chunk_sizes);
        bytes.extend_from_slice(self.stream);
        // What is left once the rules are read: the two slices plus the length suffix.
        let body_len = self.chunk_sizes.len() + self.stream.len();
        let chunk_sizes_len = self.chunk_sizes.len();
        if body_len < 256 {
            // At most 256 bytes left: a 1-byte length, read modulo body_len + 1 (so exact here).
            bytes.push(chunk_sizes_len as u8);
        } else {
            // 258 to 65 537 bytes left: a 2-byte big-endian length, read modulo body_len + 1.
            assert!(body_len <= 0xFFFF, "seed too large for this encoder");
            bytes.extend_from_slice(&(chunk_sizes_len as u16).to_be_bytes());
        }
        bytes
    }
}

/// Input of `handshake_request`: limits, a split point for the streaming check, the head.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct HandshakeRequestInput<'a> {
    /// The limits of the head.
    pub limits: FuzzHeadLimits,
    /// Where to cut the input for the "a prefix never decodes differently" check (modulo the
    /// input length + 1).
    pub split: u16,
    /// The bytes received: a request head, and perhaps bytes after it.
    pub head: &'a [u8],
}

impl HandshakeRequestInput<'_> {
    /// The bytes `arbitrary` reads back as `self`: limits, split, then the head as it is.
    pub fn to_fuzz_bytes(&self) -> Vec<u8> {
        let mut bytes = self.limits.to_fuzz_bytes();
        bytes.extend_from_slice(&self.split.to_le_bytes());
        bytes.extend_from_slice(self.head);
        bytes
    }
}

/// The `Sec-WebSocket-Key` of every request in `handshake_response`: the RFC's own (§1.3).
pub const CLIENT_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// The `Sec-WebSocket-Accept` that answers [`CLIENT_KEY`] (§1.3).
pub const CLIENT_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Subprotocols a client may offer in `handshake_response`; bit `i` of
/// [`HandshakeResponseInput::offered_protocols`] offers `PROTOCOLS[i]`. The first two are §1.3's.
pub const PROTOCOLS: [&str; 4] = ["chat", "superchat", "v2.bookings.example.net", "mqtt"];

/// Extensions a client may offer in `handshake_response`; bit `i` of
/// [`HandshakeResponseInput::offered_extensions`] offers the `i`-th.
pub fn extensions() -> [Extension; 3] {
    [
        Extension::new("permessage-deflate").with_param("client_max_window_bits", None),
        Extension::new("x-webkit-deflate-frame"),
        Extension::new("foo").with_param("bar", Some("baz")),
    ]
}

/// Input of `handshake_response`: what the client offered, limits, a split point, the response.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct HandshakeResponseInput<'a> {
    /// Bit mask over [`PROTOCOLS`].
    pub offered_protocols: u8,
    /// Bit mask over [`extensions`].
    pub offered_extensions: u8,
    /// The limits of the head.
    pub limits: FuzzHeadLimits,
    /// As in [`HandshakeRequestInput::split`].
    pub split: u16,
    /// The bytes received: a response head, and perhaps the server's first frames after it.
    pub response: &'a [u8],
}

impl HandshakeResponseInput<'_> {
    /// The subprotocols offered, in the order of [`PROTOCOLS`].
    pub fn protocols(&self) -> Vec<&'static str> {
        PROTOCOLS
            .iter()
            .enumerate()
            .filter(|(i, _)| self.offered_protocols & (1 << i) != 0)
            .map(|(_, p)| *p)
            .collect()
    }

    /// The extensions offered, in the order of [`extensions`].
    pub fn extensions(&self) -> Vec<Extension> {
        extensions()
            .into_iter()
            .enumerate()
            .filter(|(i, _)| self.offered_extensions & (1 << i) != 0)
            .map(|(_, extension)| extension)
            .collect()
    }

    /// The bytes `arbitrary` reads back as `self`: the two masks, limits, split, then the
    /// response as it is.
    pub fn to_fuzz_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![self.offered_protocols, self.offered_extensions];
        bytes.extend_from_slice(&self.limits.to_fuzz_bytes());
        bytes.extend_from_slice(&self.split.to_le_bytes());
        bytes.extend_from_slice(self.response);
        bytes
    }
}

/// An extension codec that only says what was negotiated (its [`Extension`], as a server's 101
/// lists it) and transforms nothing: what `AcceptResponse::with_extension` and
/// `ClientHandshake::into_connection` take, for extensions the fuzz targets only negotiate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated(pub Extension);

impl ExtensionCodec for Negotiated {
    fn rsv_bits(&self) -> u8 {
        0
    }

    fn negotiated(&self) -> Extension {
        self.0.clone()
    }

    fn decode(
        &mut self,
        input: &[u8],
        _fin: bool,
        output: &mut DecodeOutput<'_>,
    ) -> Result<(), ProtocolError> {
        output.extend_from_slice(input)
    }

    fn encode(&mut self, _kind: MessageKind, _input: &[u8], _fin: bool, _output: &mut BytesMut) -> u8 {
        0
    }
}

/// Oracle: a header that decoded under `rules` obeys every rule of §5.1, §5.2 and §5.5.
///
/// # Panics
///
/// When it does not: the decoder let a violation through.
pub fn check_header_obeys_rules(header: &FrameHeader, rules: &DecodeRules) {
    // §5.1: clients mask, servers do not, so what a server receives is masked and what a client
    // receives is not.
    assert_eq!(header.masking_key.is_some(), rules.role == Role::Server, "masking does not match the role");
    // §5.5: control frames are not fragmented and carry at most 125 bytes.
    if header.opcode.is_control() {
        assert!(header.fin, "control frame without fin");
        assert!(header.payload_len <= MAX_CONTROL_PAYLOAD_LEN, "control frame longer than 125");
    }
    // §5.2: "the most significant bit MUST be 0".
    assert_eq!(header.payload_len >> 63, 0, "payload length with its top bit set");
    assert!(header.payload_len <= rules.max_frame_size, "payload over the limit");
    // §5.2: RSV bits only where an extension granted them.
    assert_eq!(header.rsv_bits() & !rules.rsv_allowed, 0, "rsv bits not granted");
}

/// Oracle: `error`, returned by `FrameHeader::decode(bytes, rules)`, is explained by the bytes.
///
/// This restates each rule independently, reading the bytes by hand, so that a decoder that
/// blames the wrong field (or rejects a valid header) is caught.
///
/// # Panics
///
/// When the bytes do not break the rule the error names, or the error is not a header error.
pub fn check_header_error_is_justified(error: &ProtocolError, bytes: &[u8], rules: &DecodeRules) {
    // An error needs at least the first byte.
    let first = bytes[0];
    let opcode = first & 0b0000_1111;
    let is_control = opcode & 0b1000 != 0;
    let second = bytes.get(1).copied();
    let short_len = second.map(|byte| byte & 0b0111_1111);
    // The extended length as written, if all of it is in `bytes`.
    let extended_len = match short_len {
        Some(126) if bytes.len() >= 4 => Some(u64::from(u16::from_be_bytes([bytes[2], bytes[3]]))),
        Some(127) if bytes.len() >= 10 => Some(u64::from_be_bytes(bytes[2..10].try_into().unwrap())),
        Some(len) if len < 126 => Some(u64::from(len)),
        _ => None,
    };
    match *error {
        ProtocolError::ReservedOpcode(reserved) => {
            assert_eq!(reserved, opcode);
            assert!(matches!(reserved, 0x3..=0x7 | 0xB..=0xF), "opcode {reserved:#x} is not reserved");
        }
        ProtocolError::ReservedBitsSet(bits) => {
            assert_ne!(bits, 0);
            assert_eq!(bits, first & 0b0111_0000 & !rules.rsv_allowed);
        }
        ProtocolError::FragmentedControlFrame => assert!(is_control && first & 0b1000_0000 == 0),
        ProtocolError::UnmaskedFrame => {
            assert!(rules.role == Role::Server && second.expect("mask bit") & 0b1000_0000 == 0)
        }
        ProtocolError::MaskedFrame => {
            assert!(rules.role == Role::Client && second.expect("mask bit") & 0b1000_0000 != 0)
        }
        ProtocolError::ControlFrameTooLong(len) => {
            assert!(is_control && len > 125);
            assert_eq!(Some(len as u8), short_len);
        }
        ProtocolError::NonMinimalLength(len) => {
            assert_eq!(Some(len), extended_len);
            match short_len {
                Some(126) => assert!(len < 126),
                Some(127) => assert!(len <= 0xFFFF),
                _ => panic!("non-minimal length without an extended length"),
            }
        }
        ProtocolError::LengthMostSignificantBitSet => {
            assert_eq!(short_len, Some(127));
            assert!(extended_len.expect("64-bit length") >> 63 == 1);
        }
        ProtocolError::FrameTooLarge { payload_len, max } => {
            assert_eq!(max, rules.max_frame_size);
            assert!(payload_len > max);
            assert_eq!(Some(payload_len), extended_len);
        }
        ref other => panic!("{other:?} is not an error of a frame header"),
    }
}

/// `tchar` of RFC 7230 §3.2.6, written out again (independently of the library) for oracles.
pub fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// A `token` of RFC 7230 §3.2.6: one or more [`is_tchar`].
pub fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(is_tchar)
}

/// An HTTP response head as httparse, independently of the library, reads it.
#[derive(Debug)]
pub struct ParsedResponse {
    /// Length of the head, up to and including its empty line.
    pub len: usize,
    /// The status code.
    pub status: u16,
    /// The header fields: name, raw value.
    pub fields: Vec<(String, Vec<u8>)>,
}

/// Parses a response head with httparse, or `None` if `bytes` does not start with a complete,
/// valid one.
pub fn parse_response(bytes: &[u8]) -> Option<ParsedResponse> {
    let mut slots = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut slots);
    match response.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => {
            let fields = response
                .headers
                .iter()
                .map(|header| (header.name.to_owned(), header.value.to_vec()))
                .collect();
            Some(ParsedResponse { len, status: response.code?, fields })
        }
        _ => None,
    }
}

/// The value of the only field named `name` (case-insensitive) in `fields`.
///
/// # Panics
///
/// If there is not exactly one such field.
pub fn only_field<'a>(fields: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    let mut matching = fields.iter().filter(|(field, _)| field.eq_ignore_ascii_case(name));
    let (_, value) = matching.next().unwrap_or_else(|| panic!("no {name} field"));
    assert!(matching.next().is_none(), "several {name} fields");
    value
}
