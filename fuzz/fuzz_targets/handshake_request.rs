//! Fuzz target: the server's side of the opening handshake (RFC 6455 §4.2), `Request::decode`
//! and `UpgradeRequest::decode`, on arbitrary bytes under small arbitrary `HeadLimits`.
//!
//! Oracles, beyond "does not panic":
//! - `consumed <= input.len()`, `consumed <= max_head_size`, and the head ends with its empty
//!   line; Incomplete asks for at least 1 byte and only while under the size limit;
//! - `UpgradeRequest::decode` is exactly `Request::decode` then `UpgradeRequest::validate`;
//! - bytes after the head are not read: decoding `input[..consumed]` alone gives the same result;
//!   streaming: a prefix of the input decodes to Incomplete or to the same result;
//! - every error has a server status of 400, 426 or 431, and `encode_rejection` writes a response
//!   head that httparse parses with that status (and a `Content-Length` that matches the body);
//! - a valid upgrade: `accept()` carries `accept_key(key())`; its encoded 101 response, choosing
//!   the first subprotocol and every extension offered, parses with httparse and is accepted by a
//!   `ClientRequest` that offered the same (the client and server halves agree).

#![no_main]

use libfuzzer_sys::fuzz_target;
use rfc6455::handshake::client::ClientRequest;
use rfc6455::handshake::server::{encode_rejection, Request, UpgradeRequest};
use rfc6455::handshake::HeadLimits;
use rfc6455::{accept_key, Decoded, HandshakeError, OsSeededRng};
use rfc6455_fuzz::{only_field, parse_response, HandshakeRequestInput, Negotiated};

fuzz_target!(|input: HandshakeRequestInput<'_>| {
    let limits = input.limits.to_limits();
    let head = input.head;

    let request = Request::decode(head, &limits);
    let upgrade = UpgradeRequest::decode(head, &limits);

    // UpgradeRequest::decode = Request::decode, then validate.
    let expected_upgrade = request.clone().and_then(|decoded| match decoded {
        Decoded::Complete { value, consumed } => {
            UpgradeRequest::validate(value).map(|value| Decoded::Complete { value, consumed })
        }
        Decoded::Incomplete { needed } => Ok(Decoded::Incomplete { needed }),
    });
    assert_eq!(upgrade, expected_upgrade);

    match &request {
        Ok(Decoded::Complete { consumed, .. }) => {
            let consumed = *consumed;
            assert!(consumed <= head.len(), "consumed {consumed} of {} bytes", head.len());
            assert!(consumed <= limits.max_head_size, "consumed {consumed} over the limit");
            assert!(head[..consumed].ends_with(b"\n"), "the head does not end with its empty line");
            // The head alone decodes the same: nothing after it was read.
            assert_eq!(Request::decode(&head[..consumed], &limits), request);
            assert_eq!(UpgradeRequest::decode(&head[..consumed], &limits), upgrade);
        }
        Ok(Decoded::Incomplete { needed }) => {
            assert!(*needed >= 1);
            assert!(head.len() < limits.max_head_size, "Incomplete at the size limit");
        }
        Err(_) => {}
    }

    match &upgrade {
        Ok(Decoded::Complete { value, .. }) => check_accept(value),
        Ok(Decoded::Incomplete { .. }) => {}
        Err(error) => check_rejection(error),
    }

    // Streaming: the request as far as it has arrived.
    let split = usize::from(input.split) % (head.len() + 1);
    let prefix_upgrade = UpgradeRequest::decode(&head[..split], &limits);
    match (&prefix_upgrade, &request) {
        (_, Ok(Decoded::Complete { consumed, .. })) if split >= *consumed => {
            assert_eq!(prefix_upgrade, upgrade)
        }
        (Ok(Decoded::Incomplete { .. }), _) => {}
        _ => assert_eq!(prefix_upgrade, upgrade, "a prefix of {split} bytes decodes differently"),
    }
});

/// Oracles for a request that passed §4.2.1.
fn check_accept(upgrade: &UpgradeRequest) {
    let accept = upgrade.accept();
    assert_eq!(accept.accept_key(), accept_key(upgrade.key()));

    // The 101 a server would send: the client's first subprotocol, every extension offered.
    let mut response = upgrade.accept();
    if let Some(protocol) = upgrade.protocols().first() {
        response = response.with_protocol(protocol.clone());
    }
    for extension in upgrade.extensions() {
        response = response.with_extension(Box::new(Negotiated(extension.clone())));
    }
    let mut encoded = Vec::new();
    response.encode(&mut encoded);

    // httparse reads it as a whole 101 with the right accept key.
    let parsed = parse_response(&encoded).expect("the 101 response is not valid HTTP");
    assert_eq!((parsed.len, parsed.status), (encoded.len(), 101));
    assert_eq!(only_field(&parsed.fields, "Sec-WebSocket-Accept"), accept_key(upgrade.key()).as_bytes());

    // A client that sent this key and offered the same accepts it and sees the same choices.
    let mut client = ClientRequest::new("host", "/", &mut OsSeededRng::from_seed([0; 32]))
        .with_key(upgrade.key())
        .with_protocols(upgrade.protocols().iter().cloned());
    for extension in upgrade.extensions() {
        client = client.with_extension(extension.clone());
    }
    let limits = HeadLimits { max_head_size: encoded.len(), ..HeadLimits::default() };
    let accepted = match client.decode_response(&encoded, &limits) {
        Ok(Decoded::Complete { value, consumed }) if consumed == encoded.len() => value,
        other => {
            panic!("the client rejects the server's 101: {other:?}\n{}", String::from_utf8_lossy(&encoded))
        }
    };
    assert_eq!(accepted.protocol(), upgrade.protocols().first().map(String::as_str));
    assert_eq!(accepted.extensions(), upgrade.extensions());
}

/// Oracles for a request the server rejects.
fn check_rejection(error: &HandshakeError) {
    let status = error.status().unwrap_or_else(|| panic!("{error:?} has no server status"));
    assert!(matches!(status, 400 | 426 | 431), "{error:?} answers {status}");

    let mut encoded = Vec::new();
    encode_rejection(error, &mut encoded);
    let parsed =
        parse_response(&encoded).unwrap_or_else(|| panic!("rejection of {error:?} is not valid HTTP"));
    assert_eq!(parsed.status, status);
    // The body is exactly as long as Content-Length says.
    let content_length = std::str::from_utf8(only_field(&parsed.fields, "Content-Length")).unwrap();
    assert_eq!(content_length.parse::<usize>().unwrap(), encoded.len() - parsed.len);
    // §4.4: a 426 says which version the server speaks.
    if status == 426 {
        assert_eq!(only_field(&parsed.fields, "Sec-WebSocket-Version"), b"13");
    }
}
