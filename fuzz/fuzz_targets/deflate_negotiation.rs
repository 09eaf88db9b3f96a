//! Fuzz target: permessage-deflate's negotiation (RFC 7692 §5, §7.1), both roles:
//! `DeflateConfig::accept` (server), `DeflateConfig::offer` and `DeflateConfig::check_response`
//! (client), `DeflateParams::to_response`, on arbitrary `Sec-WebSocket-Extensions` values and
//! arbitrary configurations (window bits any `u8`).
//!
//! # Input
//!
//! Any bytes: 7 bytes of settings, then the header.
//!
//! | byte | meaning |
//! |---|---|
//! | 0 | server: bit 0 `server_no_context_takeover`, bit 1 `client_no_context_takeover` |
//! | 1, 2 | server: `server_max_window_bits`, `client_max_window_bits` (any value) |
//! | 3 | client: flags as byte 0 |
//! | 4, 5 | client: windows as bytes 1, 2 |
//! | 6 | bit 0: the header is *built* from the rest (below); else the rest is its text (lossy UTF-8). Bits 1 to 4 all set: check the agreed parameters with messages through two codecs |
//! | 7.. | the header |
//!
//! A built header is a list of at most 8 elements, each read as: a byte `b` (the name is
//! [`NAMES`]`[b % 4]`, with `(b >> 2) % 5` parameters), then a byte `p` per parameter (the name
//! is [`PARAMS`]`[p % 8]`, the value [`VALUES`]`[(p >> 3) % 16]`). It reaches every rule of §7
//! (repeated, unknown and case-changed parameters, every window size and invalid ones, quoted
//! values) far sooner than mutating text does.
//!
//! # Oracles
//!
//! An independent statement of §7.1's rules ([`model`]: the four parameters, each at most once,
//! flags without a value, a window size a decimal integer from 8 to 15 without leading zeros,
//! `client_max_window_bits` without a value in an offer only) says what each side must make of
//! each element of the header. Beyond "does not panic":
//!
//! - **Server, each offer**: `accept` of a list takes the first offer it accepts alone, and
//!   accepts an offer exactly when the model finds it valid and it does not ask for a server
//!   window of 8 bits (zlib compresses with 9 at least: the documented refusal).
//! - **Server, what it agrees to**: windows in range (the server's own from 9, since it
//!   compresses with it; the client's from 8), within what the server is configured for and,
//!   §7.1.2, what the offer allowed; an offered `server_no_context_takeover` granted (§7.1.1.1),
//!   the server's own settings honoured; no `client_max_window_bits` in the response to an
//!   offer without it (§7.1.2.2). The response, written as text and parsed again, is the same
//!   extension, valid for a response by the model, and states exactly the agreed parameters
//!   (an unstated window is 15).
//! - **Client, the answer to an offer the server accepted**: a client configured as that offer
//!   asks (the offer's flags and windows, 15 where it gives none) accepts the response and
//!   agrees to the server's parameters, except that a `client_no_context_takeover` it offered is
//!   in force on its side whether or not the response states it (§7.1.1.2: the offer's is a
//!   promise). The one exception: an offer of `client_max_window_bits=8`, which the server
//!   takes and a client of this crate refuses (it cannot compress with 8 bits) - and never
//!   offers.
//! - **Both of this crate**: the server accepts every client configuration's `offer()` (it
//!   survives text too), and the client accepts the answer with the same parameters as above.
//! - **Client, arbitrary text**: `check_response` on every element fails exactly when §7 (as
//!   the model and the documentation of `check_response` state it) says it must: not
//!   permessage-deflate, invalid, `server_no_context_takeover` or `server_max_window_bits`
//!   asked for and not granted, a window above the one offered, a client window of 8; and when
//!   it accepts, the parameters are the response's (the client's own window when unstated).
//! - **Messages** (byte 6, bits 1 to 4): with the parameters each side agreed to (for the first
//!   offer of the header both accept, else for the client's own offer), a server codec and a
//!   client codec exchange two messages each way that refer back further than 512 bytes and to
//!   the message before: they inflate to what was sent, so the two sides agree on windows and
//!   context takeover in fact, not only on paper. (A message goes uncompressed only where its
//!   sender keeps no context and compressing did not shrink it, as the codec documents.)

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rfc6455::deflate::{DeflateCodec, DeflateConfig, DeflateParams, PERMESSAGE_DEFLATE};
use rfc6455::handshake::extension::Extension;
use rfc6455::{DecodeOutput, ExtensionCodec, HandshakeError, MessageKind, Role};

/// The extension names of a built header: permessage-deflate twice as often, in another case
/// (names are compared without case), and another extension.
const NAMES: [&str; 4] =
    ["permessage-deflate", "permessage-deflate", "PerMessage-Deflate", "x-webkit-deflate-frame"];

/// The parameter names of a built header: §7.1's four, the windows twice as often, one in
/// another case (parameter names are compared as they are) and an unknown one.
const PARAMS: [&str; 8] = [
    "server_no_context_takeover",
    "client_no_context_takeover",
    "server_max_window_bits",
    "client_max_window_bits",
    "server_max_window_bits",
    "client_max_window_bits",
    "Server_No_Context_Takeover",
    "x_unknown",
];

/// The values of a built header's parameters, as written: none, the eight valid window sizes,
/// invalid ones, and a quoted valid one (a quoted-string is the same value, RFC 6455 §9.1).
const VALUES: [Option<&str>; 16] = [
    None,
    None,
    None,
    None,
    Some("8"),
    Some("9"),
    Some("10"),
    Some("11"),
    Some("12"),
    Some("13"),
    Some("14"),
    Some("15"),
    Some("7"),
    Some("16"),
    Some("08"),
    Some("\"10\""),
];

/// The largest window of the RFC (§7.1.2), and the default of every window.
const MAX_WINDOW_BITS: u8 = 15;

/// The smallest window zlib compresses with.
const MIN_COMPRESS_WINDOW_BITS: u8 = 9;

/// A configuration from three input bytes: flags, then the two windows as they are.
fn config(bytes: &[u8]) -> DeflateConfig {
    DeflateConfig {
        server_no_context_takeover: bytes[0] & 0x01 != 0,
        client_no_context_takeover: bytes[0] & 0x02 != 0,
        server_max_window_bits: bytes[1],
        client_max_window_bits: bytes[2],
    }
}

/// A built header: see the module documentation.
fn build_header(mut bytes: &[u8]) -> String {
    let mut next = || {
        let (&byte, rest) = bytes.split_first()?;
        bytes = rest;
        Some(byte)
    };
    let mut elements = Vec::new();
    while elements.len() < 8 {
        let Some(head) = next() else { break };
        let mut element = NAMES[usize::from(head % 4)].to_owned();
        for _ in 0..(head >> 2) % 5 {
            let param = next().unwrap_or(0);
            element.push_str("; ");
            element.push_str(PARAMS[usize::from(param % 8)]);
            if let Some(value) = VALUES[usize::from((param >> 3) % 16)] {
                element.push('=');
                element.push_str(value);
            }
        }
        elements.push(element);
    }
    elements.join(", ")
}

/// Who wrote a list of parameters: `client_max_window_bits` may lack a value in an offer only
/// (§7.1.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// A client's offer.
    Offer,
    /// A server's response.
    Response,
}

/// permessage-deflate's parameters as the model reads them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Params {
    /// `server_no_context_takeover` is there.
    server_no_context_takeover: bool,
    /// `client_no_context_takeover` is there.
    client_no_context_takeover: bool,
    /// `server_max_window_bits`' value.
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: the parameter without a value.
    client_max_window_bits: Option<Option<u8>>,
}

/// §7.1, restated for the oracles: the parameters of `extension` if it is permessage-deflate and
/// valid as written by `side`. §7: an offer or response is invalid with "an extension parameter
/// not defined for use in an offer/response", "an extension parameter with an invalid value",
/// or "multiple extension parameters with the same name".
fn model(extension: &Extension, side: Side) -> Option<Params> {
    if !extension.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE) {
        return None;
    }
    let mut params = Params::default();
    let mut names: Vec<&str> = Vec::new();
    for param in &extension.params {
        if names.contains(&param.name.as_str()) {
            return None;
        }
        names.push(&param.name);
        let value = param.value.as_deref();
        match param.name.as_str() {
            // §7.1.1.1, §7.1.1.2: "This extension parameter has no value."
            "server_no_context_takeover" if value.is_none() => params.server_no_context_takeover = true,
            "client_no_context_takeover" if value.is_none() => params.client_no_context_takeover = true,
            "server_max_window_bits" => params.server_max_window_bits = Some(window(value?)?),
            // §7.1.2.2: "This parameter has no value or a decimal integer value" in an offer; a
            // response "MUST" give the value.
            "client_max_window_bits" => {
                params.client_max_window_bits = Some(match value {
                    None if side == Side::Offer => None,
                    value => Some(window(value?)?),
                })
            }
            _ => return None,
        }
    }
    Some(params)
}

/// §7.1.2: "a decimal integer value without leading zeros between 8 to 15, inclusive".
fn window(text: &str) -> Option<u8> {
    let bits: u8 = text.parse().ok()?;
    ((8..=MAX_WINDOW_BITS).contains(&bits) && text == bits.to_string()).then_some(bits)
}

/// A window setting as the configuration's documentation reads it: 9 to 15.
fn clamp(bits: u8) -> u8 {
    bits.clamp(MIN_COMPRESS_WINDOW_BITS, MAX_WINDOW_BITS)
}

/// The configuration of a client whose offer asks what `offer` asks: its flags, its windows (15
/// where it gives none).
fn client_for(offer: &Params) -> DeflateConfig {
    DeflateConfig {
        server_no_context_takeover: offer.server_no_context_takeover,
        client_no_context_takeover: offer.client_no_context_takeover,
        server_max_window_bits: offer.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS),
        client_max_window_bits: offer.client_max_window_bits.flatten().unwrap_or(MAX_WINDOW_BITS),
    }
}

/// `extension` written as a header value and parsed again: one element, the same.
fn through_text(extension: &Extension) -> Extension {
    let text = extension.to_string();
    let mut parsed = Extension::decode_list(&text).unwrap_or_else(|error| panic!("{text:?}: {error}"));
    assert_eq!(parsed, vec![extension.clone()], "{text:?} does not parse back");
    parsed.remove(0)
}

/// Checks what the server agreed to when it accepted `offer` (the model's reading of it): the
/// parameters, and its response. Returns the response, as a client parses it.
fn check_agreed(server: &DeflateConfig, offer: &Params, agreed: &DeflateParams) -> Extension {
    let response = through_text(&agreed.to_response());
    let stated = model(&response, Side::Response)
        .unwrap_or_else(|| panic!("response {response} breaks §7.1 (to {offer:?})"));

    // The server compresses with its window: zlib's 9 at least; the client's may be 8 (it only
    // sizes the server's inflater).
    assert!(
        (MIN_COMPRESS_WINDOW_BITS..=MAX_WINDOW_BITS).contains(&agreed.server_max_window_bits),
        "{agreed:?}"
    );
    assert!((8..=MAX_WINDOW_BITS).contains(&agreed.client_max_window_bits), "{agreed:?}");

    // The response states what is agreed (`DeflateParams`: "15 if not stated").
    assert_eq!(stated.server_no_context_takeover, agreed.server_no_context_takeover, "{response}");
    assert_eq!(stated.client_no_context_takeover, agreed.client_no_context_takeover, "{response}");
    assert_eq!(stated.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS), agreed.server_max_window_bits);
    assert_eq!(
        stated.client_max_window_bits.flatten().unwrap_or(MAX_WINDOW_BITS),
        agreed.client_max_window_bits
    );

    // §7.1.1.1: an offered server_no_context_takeover is granted; the server's settings hold.
    if offer.server_no_context_takeover || server.server_no_context_takeover {
        assert!(agreed.server_no_context_takeover, "{offer:?} -> {agreed:?}");
    }
    if server.client_no_context_takeover {
        assert!(agreed.client_no_context_takeover, "{offer:?} -> {agreed:?}");
    }
    // §7.1.2.1: "the same or smaller value as the offer"; and no more than the server allows.
    if let Some(asked) = offer.server_max_window_bits {
        let granted = stated.server_max_window_bits.expect("an offered server_max_window_bits answered");
        assert!(granted <= asked, "server window {granted} for {asked} asked");
    }
    assert!(agreed.server_max_window_bits <= clamp(server.server_max_window_bits), "{agreed:?}");
    // §7.1.2.2: "If a received extension negotiation offer doesn't have the
    // client_max_window_bits extension parameter, the corresponding extension negotiation
    // response to the offer MUST NOT include the client_max_window_bits extension parameter."
    match offer.client_max_window_bits {
        None => assert_eq!(stated.client_max_window_bits, None, "{response} to {offer:?}"),
        Some(value) => {
            if let (Some(offered), Some(Some(granted))) = (value, stated.client_max_window_bits) {
                assert!(granted <= offered, "client window {granted} for {offered} offered");
            }
            assert!(agreed.client_max_window_bits <= clamp(server.client_max_window_bits), "{agreed:?}");
        }
    }
    response
}

/// The client's parameters for the server's `agreed` ones: the same, with the
/// `client_no_context_takeover` the client promised in force on its side.
fn client_view(agreed: &DeflateParams, client: &DeflateConfig) -> DeflateParams {
    let mut expected = *agreed;
    expected.client_no_context_takeover |= client.client_no_context_takeover;
    expected
}

/// Two messages each way through a server codec and a client codec: each inflates to what was
/// sent. The data refers back 700 bytes (more than a 512-byte window holds) and repeats the
/// previous message (context takeover).
fn exchange(server: &DeflateParams, client: &DeflateParams, seed: u8) {
    let mut state = u32::from(seed) | 0x100;
    let block: Vec<u8> = (0..700)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (state >> 16) as u8
        })
        .collect();
    let data = [&block[..], &block[..], &block[..100]].concat();
    let mut server_codec = DeflateCodec::new(Role::Server, *server).with_compress_min(0);
    let mut client_codec = DeflateCodec::new(Role::Client, *client).with_compress_min(0);
    for _ in 0..2 {
        let server_resets = server.server_no_context_takeover;
        round_trip(&mut server_codec, &mut client_codec, &data, server_resets, "server to client");
        let client_resets = client.client_no_context_takeover;
        round_trip(&mut client_codec, &mut server_codec, &data, client_resets, "client to server");
    }
}

/// One message from `sender` to `receiver`. With `compress_min` 0 it is compressed, unless the
/// sender keeps no context (`resets`) and compressing did not shrink it: then it goes as it is
/// (the codec's documented rule), and the receiver's context is not involved.
fn round_trip(
    sender: &mut DeflateCodec,
    receiver: &mut DeflateCodec,
    data: &[u8],
    resets: bool,
    direction: &str,
) {
    let mut compressed = BytesMut::new();
    let rsv = sender.encode(MessageKind::Binary, data, true, &mut compressed);
    if rsv == 0 {
        assert!(resets, "{direction}: sent uncompressed with context takeover");
        assert!(compressed.is_empty(), "{direction}: data written for an uncompressed message");
        return;
    }
    let mut inflated = BytesMut::new();
    receiver
        .decode(&compressed, true, &mut DecodeOutput::new(&mut inflated, 0, 1 << 20))
        .unwrap_or_else(|error| panic!("{direction}: {error} ({sender:?} -> {receiver:?})"));
    assert!(inflated[..] == *data, "{direction}: inflated to other data");
}

/// The client's side on arbitrary text: `check_response` fails exactly when the model says it
/// must, and otherwise agrees to what the response states.
fn check_client_on(client: &DeflateConfig, response: &Extension) {
    let result = client.check_response(response);
    let offered_server = clamp(client.server_max_window_bits);
    let offered_client = clamp(client.client_max_window_bits);
    let expected = model(response, Side::Response).filter(|stated| {
        (!client.server_no_context_takeover || stated.server_no_context_takeover)
            && match stated.server_max_window_bits {
                Some(bits) => bits <= offered_server,
                None => offered_server == MAX_WINDOW_BITS,
            }
            && match stated.client_max_window_bits {
                Some(Some(bits)) => (MIN_COMPRESS_WINDOW_BITS..=offered_client).contains(&bits),
                Some(None) => unreachable!("a response's client_max_window_bits has a value"),
                None => true,
            }
    });
    match (expected, result) {
        (None, Err(HandshakeError::UnacceptableExtensionResponse(_))) => {}
        (Some(stated), Ok(params)) => {
            assert_eq!(params.server_no_context_takeover, stated.server_no_context_takeover);
            assert_eq!(
                params.client_no_context_takeover,
                stated.client_no_context_takeover || client.client_no_context_takeover
            );
            assert_eq!(
                params.server_max_window_bits,
                stated.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS)
            );
            assert_eq!(
                params.client_max_window_bits,
                stated.client_max_window_bits.flatten().unwrap_or(offered_client)
            );
        }
        (expected, result) => {
            panic!("client {client:?}, response {response}: expected {expected:?}, got {result:?}")
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut settings = [0u8; 7];
    let split = data.len().min(7);
    settings[..split].copy_from_slice(&data[..split]);
    let rest = &data[split..];
    let server = config(&settings[0..3]);
    let client = config(&settings[3..6]);
    let built = settings[6] & 0x01 != 0;
    // Codecs are costly to make (a compressor is over 100 KiB, an exchange takes milliseconds
    // under the sanitizer, a hundred times the rest): one input in 16.
    let messages = settings[6] & 0x1e == 0x1e;

    // Both of this crate: the server takes the client's offer, the client the server's answer.
    let offer = through_text(&client.offer());
    let offered = model(&offer, Side::Offer).unwrap_or_else(|| panic!("offer {offer} breaks §7.1"));
    let agreed = server.accept(std::slice::from_ref(&offer)).unwrap_or_else(|| panic!("{offer} declined"));
    let response = check_agreed(&server, &offered, &agreed);
    let client_params =
        client.check_response(&response).unwrap_or_else(|error| panic!("{response}: {error}"));
    assert_eq!(client_params, client_view(&agreed, &client), "{offer} -> {response}");
    // The parameters to exchange messages with: the first offer of the header both sides agree
    // to, else the client's own.
    let mut to_exchange = (agreed, client_params);

    // Arbitrary offers.
    let header = if built { build_header(rest) } else { String::from_utf8_lossy(rest).into_owned() };
    let offers = Extension::decode_list(&header).unwrap_or_default();
    let mut first_accepted = None;
    for offer in &offers {
        let accepted = server.accept(std::slice::from_ref(offer));
        let modelled = model(offer, Side::Offer);
        // The one refusal of a valid offer: a server window of 8 bits, which zlib cannot honour.
        let acceptable = modelled.is_some_and(|params| params.server_max_window_bits != Some(8));
        assert_eq!(accepted.is_some(), acceptable, "{offer}: accepted {accepted:?}");
        if let (Some(agreed), Some(offered)) = (accepted, modelled) {
            let response = check_agreed(&server, &offered, &agreed);
            let like_offer = client_for(&offered);
            let result = like_offer.check_response(&response);
            if offered.client_max_window_bits == Some(Some(8)) {
                // A client of this crate cannot compress with 8 bits (and never offers it).
                assert!(result.is_err(), "{offer} -> {response}: a client window of 8 accepted");
            } else {
                let client_params = result.unwrap_or_else(|error| panic!("{offer} -> {response}: {error}"));
                assert_eq!(client_params, client_view(&agreed, &like_offer), "{offer} -> {response}");
                if first_accepted.is_none() {
                    to_exchange = (agreed, client_params);
                }
            }
            first_accepted.get_or_insert(agreed);
        }
        // Any element, as a response to the client.
        check_client_on(&client, offer);
    }
    // §5: the server accepts the first offer it can.
    assert_eq!(server.accept(&offers), first_accepted, "{header:?}");
    if messages {
        exchange(&to_exchange.0, &to_exchange.1, settings[3]);
    }
});
