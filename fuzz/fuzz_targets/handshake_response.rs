//! Fuzz target: the client's side of the opening handshake (RFC 6455 §4.1),
//! `ClientRequest::decode_response` on arbitrary bytes.
//!
//! The client sends the RFC's key (`dGhlIHNhbXBsZSBub25jZQ==`, §1.3) and offers a subset, chosen
//! by the fuzzer, of a few subprotocols and extensions. Oracles, beyond "does not panic":
//! - `consumed <= input.len()`, `consumed <= max_head_size`, the head ends with its empty line,
//!   and httparse, parsing on its own, finds a head of the same length;
//! - accepted: the status was 101, there was exactly one `Sec-WebSocket-Accept` and it matches
//!   the key (§4.1), the subprotocol is one of those offered, every extension name was offered;
//! - rejected for its status: the status was not 101;
//! - bytes after the head are not read: decoding the head alone gives the same result, accepted
//!   or rejected; streaming: a prefix of the input decodes to Incomplete or to the same result.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rfc6455::handshake::client::ClientRequest;
use rfc6455::{Decoded, HandshakeError, OsSeededRng};
use rfc6455_fuzz::{HandshakeResponseInput, CLIENT_ACCEPT, CLIENT_KEY};

fuzz_target!(|input: HandshakeResponseInput<'_>| {
    let limits = input.limits.to_limits();
    let response = input.response;
    let offered_protocols = input.protocols();
    let offered_extensions = input.extensions();

    // The key is fixed, so the random source is never used for it.
    let mut client = ClientRequest::new("server.example.com", "/chat", &mut OsSeededRng::from_seed([0; 32]))
        .with_key(CLIENT_KEY)
        .with_protocols(offered_protocols.iter().copied());
    for extension in &offered_extensions {
        client = client.with_extension(extension.clone());
    }

    let result = client.decode_response(response, &limits);

    // Where the head ends, by an independent parse of the same window with httparse: `None` if
    // httparse finds no complete head there.
    let window = &response[..response.len().min(limits.max_head_size)];
    let mut slots = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut parsed = httparse::Response::new(&mut slots);
    let head = match parsed.parse(window) {
        Ok(httparse::Status::Complete(len)) => Some((len, parsed.code.unwrap_or_default())),
        _ => None,
    };

    match &result {
        Ok(Decoded::Complete { value: accepted, consumed }) => {
            let consumed = *consumed;
            assert!(consumed <= response.len(), "consumed {consumed} of {} bytes", response.len());
            assert!(consumed <= limits.max_head_size, "consumed {consumed} over the limit");
            assert!(response[..consumed].ends_with(b"\n"), "the head does not end with its empty line");
            assert_eq!(head, Some((consumed, 101)), "accepted without a 101 head of that length");

            // §4.1: one Sec-WebSocket-Accept, and the right one.
            let headers = accepted.headers();
            assert_eq!(headers.count("Sec-WebSocket-Accept"), 1);
            assert_eq!(headers.get("Sec-WebSocket-Accept").map(str::trim), Some(CLIENT_ACCEPT));
            // §4.1: nothing the client did not offer.
            if let Some(protocol) = accepted.protocol() {
                assert!(offered_protocols.contains(&protocol), "subprotocol {protocol:?} was not offered");
            }
            for extension in accepted.extensions() {
                assert!(
                    offered_extensions
                        .iter()
                        .any(|offered| offered.name.eq_ignore_ascii_case(&extension.name)),
                    "extension {:?} was not offered",
                    extension.name
                );
            }
        }
        Ok(Decoded::Incomplete { needed }) => {
            assert!(*needed >= 1);
            assert!(response.len() < limits.max_head_size, "Incomplete at the size limit");
            assert_eq!(head, None, "Incomplete, yet httparse finds a whole head");
        }
        Err(HandshakeError::UnexpectedStatus { status, .. }) => {
            assert_ne!(*status, 101);
            assert_eq!(head.map(|(_, code)| code), Some(*status));
        }
        Err(_) => {}
    }

    // Bytes after the head are not read: the head alone gives the same answer (this covers the
    // rejections made after the head was parsed, which have no `consumed` to show).
    if let Some((len, _)) = head {
        assert_eq!(
            client.decode_response(&response[..len], &limits),
            result,
            "bytes after the head changed it"
        );
    }

    // Streaming: the response as far as it has arrived.
    let split = usize::from(input.split) % (response.len() + 1);
    let prefix_result = client.decode_response(&response[..split], &limits);
    match (&prefix_result, head) {
        (_, Some((len, _))) if split >= len => assert_eq!(prefix_result, result),
        (Ok(Decoded::Incomplete { .. }), _) => {}
        _ => assert_eq!(prefix_result, result, "a prefix of {split} bytes decodes differently"),
    }
});
