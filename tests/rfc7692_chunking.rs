//! RFC 7692 §6.1 and §7.2.2: compressed messages arrive the same whatever their fragmentation
//! and whatever chunks the bytes arrive in, both roles.
//!
//! §6.1: a compressed message's first frame has RSV1; its other frames do not, and control
//! frames between them are not compressed. §7.2.2: the receiver inflates "the concatenation of
//! the octets of the payload data of all the frames", with the four-byte tail appended. So
//! messages (Text and Binary, 0 to 64 KiB, highly compressible or random) sent by a connection
//! with permessage-deflate - whole, or in fragments of random sizes with Pings between them,
//! and with frames split further by `max_send_frame_size` - arrive at the peer equal and in
//! order, however the wire is cut (down to one byte at a time), for any parameters agreed
//! through the negotiation itself: windows of 9 to 15 bits each way, context takeover or not
//! each way (§7.1.1, §7.1.2).

use std::time::Instant;

use proptest::prelude::*;
use rfc6455::deflate::{DeflateCodec, DeflateConfig, DeflateParams};
use rfc6455::{Config, Connection, Event, Message, MessageKind, Role};

/// Characters of random Text: ASCII and code points of 2, 3 and 4 bytes, so that fragments and
/// chunks split code points.
const ALPHABET: [char; 8] = ['a', 'Z', ' ', '7', 'é', 'ß', '€', '𝄞'];

/// What a message is made of.
#[derive(Debug, Clone, Copy)]
enum Content {
    /// Readings such as a sensor sends: highly compressible.
    Readings,
    /// Random bytes (Binary) or characters (Text): incompressible.
    Random,
}

/// A message to send, and how.
#[derive(Debug, Clone)]
struct Plan {
    kind: MessageKind,
    content: Content,
    len: usize,
    seed: u64,
    /// `None`: `send_message`. Else `begin_message` and `send_fragment`s of these sizes (the
    /// last one takes the rest), with a Ping after each fragment when `pings`.
    fragments: Option<Vec<usize>>,
    pings: bool,
}

/// A small deterministic generator (xorshift), so that large messages cost nothing to shrink.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

impl Plan {
    /// The message's data: `len` bytes (Text: valid UTF-8, at most `len` bytes).
    fn data(&self) -> Vec<u8> {
        let mut random = Random(self.seed | 1);
        let mut text = String::new();
        let mut data = Vec::new();
        let mut reading = 0u64;
        while text.len() + data.len() < self.len {
            match (self.kind, self.content) {
                (MessageKind::Text, Content::Readings) => {
                    reading += 1;
                    text.push_str(&format!(
                        "{{\"sensor\":{},\"t\":{}.{}}}",
                        reading % 8,
                        20 + reading % 3,
                        reading % 10
                    ));
                }
                (MessageKind::Text, Content::Random) => {
                    text.push(ALPHABET[(random.next() % ALPHABET.len() as u64) as usize])
                }
                (MessageKind::Binary, Content::Readings) => {
                    reading += 1;
                    data.extend_from_slice(&(reading % 64).to_le_bytes());
                }
                (MessageKind::Binary, Content::Random) => {
                    data.extend_from_slice(&random.next().to_le_bytes())
                }
            }
        }
        if self.kind == MessageKind::Text {
            while text.len() > self.len {
                text.pop();
            }
            return text.into_bytes();
        }
        data.truncate(self.len);
        data
    }
}

fn plan_strategy(max_len: usize) -> impl Strategy<Value = Plan> {
    (
        any::<bool>(),
        any::<bool>(),
        prop_oneof![0..16usize, 0..1024usize, 0..=max_len],
        any::<u64>(),
        prop::option::of(prop::collection::vec(prop_oneof![0..8usize, 0..4096usize], 0..8)),
        any::<bool>(),
    )
        .prop_map(|(text, readings, len, seed, fragments, pings)| Plan {
            kind: if text { MessageKind::Text } else { MessageKind::Binary },
            content: if readings { Content::Readings } else { Content::Random },
            len,
            seed,
            fragments,
            pings,
        })
}

/// Both sides' configuration: the same, so that each agrees to what the other asks (§7.1).
fn config_strategy() -> impl Strategy<Value = DeflateConfig> {
    (any::<bool>(), any::<bool>(), 9u8..=15, 9u8..=15).prop_map(
        |(server_no_context_takeover, client_no_context_takeover, server_bits, client_bits)| DeflateConfig {
            server_no_context_takeover,
            client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        },
    )
}

/// How the wire is cut: chunks of 1 to `max` bytes, sizes drawn from `seed`.
#[derive(Debug, Clone, Copy)]
struct Chunking {
    max: usize,
    seed: u64,
}

impl Chunking {
    fn sizes(self, total: usize) -> Vec<usize> {
        let mut random = Random(self.seed | 1);
        let mut sizes = Vec::new();
        let mut left = total;
        while left > 0 {
            let size = (1 + (random.next() % self.max as u64) as usize).min(left);
            sizes.push(size);
            left -= size;
        }
        sizes
    }
}

/// The parameters each side agrees to, through the negotiation: the server accepts the client's
/// offer, the client checks the server's response.
fn negotiate(config: DeflateConfig) -> (DeflateParams, DeflateParams) {
    let server = config.accept(&[config.offer()]).expect("a server accepts an offer it would make");
    let client = config.check_response(&server.to_response()).expect("a client accepts the answer");
    (server, client)
}

fn connection(role: Role, params: DeflateParams, max_send_frame_size: Option<usize>) -> Connection {
    let config = Config { max_send_frame_size, ..Config::default() };
    Connection::new(role, config, Instant::now())
        .with_extension(Box::new(DeflateCodec::new(role, params).with_compress_min(0)))
}

/// Sends every planned message from `sender`, returns the wire bytes and the messages sent.
fn send_all(sender: &mut Connection, plans: &[Plan]) -> (Vec<u8>, Vec<(MessageKind, Vec<u8>)>) {
    let mut sent = Vec::new();
    for (index, plan) in plans.iter().enumerate() {
        let data = plan.data();
        match &plan.fragments {
            None => {
                let message = match plan.kind {
                    MessageKind::Text => Message::text(String::from_utf8(data.clone()).unwrap()),
                    MessageKind::Binary => Message::binary(data.clone()),
                };
                sender.send_message(&message).unwrap();
            }
            Some(sizes) => {
                sender.begin_message(plan.kind).unwrap();
                let mut rest = &data[..];
                for &size in sizes {
                    let (part, after) = rest.split_at(size.min(rest.len()));
                    rest = after;
                    // A Text fragment may end inside a code point.
                    sender.send_fragment(part, false).unwrap();
                    if plan.pings {
                        // §5.4: "control frames MAY be injected in the middle of a fragmented
                        // message"; §6.1: they are not compressed.
                        sender.send_ping(&index.to_be_bytes()).unwrap();
                    }
                }
                sender.send_fragment(rest, true).unwrap();
            }
        }
        sent.push((plan.kind, data));
    }
    let wire = sender.bytes_to_send().to_vec();
    sender.mark_sent(wire.len());
    (wire, sent)
}

/// Feeds `wire` to `receiver` in the chunks of `chunking`; returns the messages it reports.
fn receive_all(
    receiver: &mut Connection,
    wire: &[u8],
    chunking: Chunking,
) -> Result<Vec<(MessageKind, Vec<u8>)>, TestCaseError> {
    let mut received = Vec::new();
    let mut at = 0;
    for size in chunking.sizes(wire.len()) {
        receiver.receive(Instant::now(), &wire[at..at + size]);
        at += size;
        while let Some(event) = receiver.poll_event() {
            match event {
                Event::Message(message) => received.push((message.kind(), message.payload().to_vec())),
                other => return Err(TestCaseError::fail(format!("unexpected {other:?}"))),
            }
        }
    }
    Ok(received)
}

/// Sends `plans` from `from` to `to` and checks every message arrives equal, in order.
fn check_direction(
    from: Role,
    (server, client): (DeflateParams, DeflateParams),
    plans: &[Plan],
    max_send_frame_size: Option<usize>,
    chunking: Chunking,
) -> Result<(), TestCaseError> {
    let params = |role| if role == Role::Server { server } else { client };
    let mut sender = connection(from, params(from), max_send_frame_size);
    let to = match from {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    };
    let mut receiver = connection(to, params(to), None);
    let (wire, sent) = send_all(&mut sender, plans);
    let received = receive_all(&mut receiver, &wire, chunking)?;
    prop_assert_eq!(received.len(), sent.len(), "{:?} to {:?}: messages received", from, to);
    for (index, (got, expected)) in received.iter().zip(&sent).enumerate() {
        prop_assert!(
            got == expected,
            "{:?} to {:?}: message {} differs ({:?})",
            from,
            to,
            index,
            plans[index]
        );
    }
    prop_assert!(receiver.is_open(), "{:?} to {:?}: the receiver closed", from, to);
    Ok(())
}

/// Large messages cut anywhere from 64 bytes up, or small ones cut down to one byte each (one
/// byte at a time through 64 KiB costs seconds in a debug build).
fn traffic_strategy() -> impl Strategy<Value = (Vec<Plan>, Chunking)> {
    prop_oneof![
        (prop::collection::vec(plan_strategy(64 * 1024), 1..5), 64usize..=8192, any::<u64>()),
        (prop::collection::vec(plan_strategy(2048), 1..5), 1usize..=16, any::<u64>()),
    ]
    .prop_map(|(plans, max, seed)| (plans, Chunking { max, seed }))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// §6.1, §7.2.2, a client sending to a server: every compressed message arrives equal and in
    /// order, for any parameters, fragmentation, Pings between fragments and chunking.
    #[test]
    fn server_receives_compressed_messages_for_any_fragmentation_and_chunking(
        config in config_strategy(),
        (plans, chunking) in traffic_strategy(),
        max_send_frame_size in prop::option::of(1usize..4096),
    ) {
        check_direction(Role::Client, negotiate(config), &plans, max_send_frame_size, chunking)?;
    }

    /// §6.1, §7.2.2, a server sending to a client: the same.
    #[test]
    fn client_receives_compressed_messages_for_any_fragmentation_and_chunking(
        config in config_strategy(),
        (plans, chunking) in traffic_strategy(),
        max_send_frame_size in prop::option::of(1usize..4096),
    ) {
        check_direction(Role::Server, negotiate(config), &plans, max_send_frame_size, chunking)?;
    }
}

/// §7.2.1 and §7.2.3.6: an empty message compresses to the single byte 00 (an empty block with
/// no compression, less its tail), also right after another message with context takeover, where
/// the compressor writes nothing for the second flush in a row: an empty payload would make the
/// receiver read the tail it appends (§7.2.2) as the header of a stored block, and take the next
/// messages' bytes for its data. Both roles, messages between the empty ones.
#[test]
fn consecutive_empty_messages_arrive_empty_with_context_takeover() {
    let takeover = DeflateConfig {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };
    let params = negotiate(takeover);
    for from in [Role::Client, Role::Server] {
        let plans: Vec<Plan> = [0, 0, 0, 300, 0, 0, 5]
            .into_iter()
            .map(|len| Plan {
                kind: MessageKind::Binary,
                content: Content::Readings,
                len,
                seed: 1,
                fragments: None,
                pings: false,
            })
            .collect();
        check_direction(from, params, &plans, None, Chunking { max: 3, seed: 7 }).unwrap();
        let mut sender = connection(from, if from == Role::Server { params.0 } else { params.1 }, None);
        let (wire, _) = send_all(&mut sender, &plans[..2]);
        // Two frames, FIN and RSV1, a one-byte payload 00 each (masked from a client).
        let header = if from == Role::Client { 6 } else { 2 };
        assert_eq!(wire.len(), 2 * (header + 1), "{from:?}: {wire:02x?}");
        for frame in wire.chunks(header + 1) {
            assert_eq!(frame[0], 0xc2, "{from:?}: {wire:02x?}");
            let payload = frame[header] ^ if from == Role::Client { frame[2] } else { 0 };
            assert_eq!(payload, 0x00, "{from:?}: {wire:02x?}");
        }
    }
}
