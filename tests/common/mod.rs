//! The in-memory pair the connection tests share: two endpoints, no sockets, the caller's clock.

#![allow(dead_code)] // each test file uses part of this module

use std::time::Instant;

use bytes::BytesMut;
use rfc6455::frame::RSV3_BIT;
use rfc6455::handshake::extension::Extension;
use rfc6455::{
    Config, Connection, DecodeOutput, DecodeRules, Decoded, Event, ExtensionCodec, Frame, MessageKind,
    ProtocolError, Role,
};

/// An endpoint of `role` with `config` and its peer with `peer_config`, both opened at `now`.
pub fn pair(role: Role, config: Config, peer_config: Config, now: Instant) -> (Connection, Connection) {
    (Connection::new(role, config, now), Connection::new(role.peer(), peer_config, now))
}

/// Takes everything `conn` has to send, and reports it all written.
pub fn output(conn: &mut Connection) -> Vec<u8> {
    let bytes = conn.bytes_to_send().to_vec();
    conn.mark_sent(bytes.len());
    bytes
}

/// Moves everything `from` has to send to `to` in one `receive`; returns the bytes moved.
pub fn pump(from: &mut Connection, to: &mut Connection, now: Instant) -> Vec<u8> {
    let bytes = output(from);
    if !bytes.is_empty() {
        to.receive(now, &bytes);
    }
    bytes
}

/// Drains the events of `conn`.
pub fn events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

/// Decodes every frame in `bytes`, as sent by an endpoint of `sender` (so as its peer receives
/// them: masked from a client, unmasked from a server), checking the bytes hold whole, valid
/// frames only.
pub fn frames(bytes: &[u8], sender: Role) -> Vec<Frame> {
    let rules = DecodeRules::new(sender.peer()).with_max_frame_size(u64::MAX >> 1);
    let mut frames = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        match Frame::decode(rest, &rules) {
            Ok(Decoded::Complete { value, consumed }) => {
                frames.push(value);
                rest = &rest[consumed..];
            }
            other => panic!("{sender:?} sent bytes that are not whole valid frames: {other:?}"),
        }
    }
    frames
}

/// A codec that only says what was negotiated (§9.1): the 101 lists `negotiated()`, so a
/// response's `Sec-WebSocket-Extensions` is built from one of these. It transforms nothing.
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

/// Runs a check for each role: `client_...` and `server_...` tests.
#[macro_export]
macro_rules! both_roles {
    ($client:ident, $server:ident, $check:ident) => {
        #[test]
        fn $client() {
            $check(Role::Client);
        }

        #[test]
        fn $server() {
            $check(Role::Server);
        }
    };
}

/// A toy extension on RSV3 that inverts every byte of the messages that carry it (§9).
pub struct Invert;

impl ExtensionCodec for Invert {
    fn rsv_bits(&self) -> u8 {
        RSV3_BIT
    }

    fn negotiated(&self) -> Extension {
        Extension::new("x-invert")
    }

    fn decode(
        &mut self,
        input: &[u8],
        _fin: bool,
        output: &mut DecodeOutput<'_>,
    ) -> Result<(), ProtocolError> {
        output.extend_from_slice(&input.iter().map(|byte| !byte).collect::<Vec<u8>>())
    }

    fn encode(&mut self, _kind: MessageKind, input: &[u8], _fin: bool, output: &mut BytesMut) -> u8 {
        output.extend(input.iter().map(|byte| !byte));
        RSV3_BIT
    }
}
