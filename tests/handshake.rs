//! The opening handshake (RFC 6455 §4), both roles, through the public API only.
//!
//! - §1.3 / §4.2.2 vectors both ways: the RFC's request and response bytes are decoded to their
//!   values and re-encoded to the same bytes.
//! - Failure tables: a request or response per check of §4.2.1 (server) and §4.1 (client), with
//!   the error and the HTTP status the server answers with.
//! - Limits, incomplete input and the bytes that follow a head (the first frames).
//! - The `Sec-WebSocket-Extensions` grammar of §9.1, with a proptest round trip.

mod common;

use std::collections::HashSet;
use std::mem::discriminant;

use common::Negotiated;
use proptest::prelude::*;
use rfc6455::handshake::client::{Accepted, ClientRequest};
use rfc6455::handshake::extension::{Extension, ExtensionParam};
use rfc6455::handshake::server::{encode_rejection, Request, UpgradeRequest};
use rfc6455::handshake::{
    is_valid_key, HeadLimits, Headers, DEFAULT_MAX_HEADERS, DEFAULT_MAX_HEAD_SIZE, GUID, VERSION,
};
use rfc6455::{accept_key, generate_key, DecodeRules, Decoded, Frame, HandshakeError, Opcode, OsSeededRng};

// ---------------------------------------------------------------------------------------------
// Vectors and helpers
// ---------------------------------------------------------------------------------------------

/// §1.3: "The handshake from the client looks as follows".
const RFC_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
Host: server.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\
\r\n";

/// §1.3: "The handshake from the server looks as follows".
const RFC_RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Protocol: chat\r\n\
\r\n";

/// §1.3, §4.2.2: the example key and its accept value.
const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const RFC_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A key captured in a course lab, and the accept value the server answered with.
const LAB_KEY: &str = "uRovscZjNol/umbTt5uKmw==";
const LAB_ACCEPT: &str = "rLHCkw/SKsO9GAH/ZSFhBATDKrU=";

/// §5.7: "A single-frame masked text message" ("Hello"), client to server.
const MASKED_HELLO: [u8; 11] = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];

/// §5.7: "A single-frame unmasked text message" ("Hello"), server to client.
const UNMASKED_HELLO: [u8; 7] = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];

/// The header fields of a valid opening handshake (§4.1), as `name: value` lines.
const VALID_FIELDS: [&str; 5] = [
    "Host: server.example.com",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
];

/// A request head: `start` line, the fields of [`VALID_FIELDS`] whose name is not in `without`,
/// then `extra` fields.
fn request(start: &str, without: &[&str], extra: &[&str]) -> Vec<u8> {
    let mut head = format!("{start}\r\n");
    for field in VALID_FIELDS {
        let name = field.split(':').next().unwrap();
        if !without.iter().any(|skip| skip.eq_ignore_ascii_case(name)) {
            head.push_str(field);
            head.push_str("\r\n");
        }
    }
    for field in extra {
        head.push_str(field);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// A valid upgrade request for `/chat`, with `extra` fields.
fn valid_request(extra: &[&str]) -> Vec<u8> {
    request("GET /chat HTTP/1.1", &[], extra)
}

/// A response head: `status` line then `fields`.
fn response(status: &str, fields: &[&str]) -> Vec<u8> {
    let mut head = format!("{status}\r\n");
    for field in fields {
        head.push_str(field);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// The fields of a valid 101 answer to [`rfc_client`] (no subprotocol, no extension).
const ACCEPT_FIELDS: [&str; 3] =
    ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="];

/// A 101 response to [`rfc_client`] with the fields of [`ACCEPT_FIELDS`] whose name is not in
/// `without`, then `extra`.
fn switching(without: &[&str], extra: &[&str]) -> Vec<u8> {
    let mut fields: Vec<&str> = ACCEPT_FIELDS
        .iter()
        .copied()
        .filter(|field| {
            let name = field.split(':').next().unwrap();
            !without.iter().any(|skip| skip.eq_ignore_ascii_case(name))
        })
        .collect();
    fields.extend_from_slice(extra);
    response("HTTP/1.1 101 Switching Protocols", &fields)
}

/// A fixed random source, for clients whose key is then set with `with_key`.
fn zeros(bytes: &mut [u8]) {
    bytes.fill(0);
}

/// The §1.3 client: the RFC's key, origin and subprotocols, offering permessage-deflate too.
fn rfc_client() -> ClientRequest {
    ClientRequest::new("server.example.com", "/chat", &mut OsSeededRng::new())
        .with_key(RFC_KEY)
        .with_origin("http://example.com")
        .with_protocols(["chat", "superchat"])
        .with_extension(Extension::new("permessage-deflate").with_param("client_max_window_bits", None))
}

fn limits() -> HeadLimits {
    HeadLimits::default()
}

/// Decodes a whole upgrade request, which must be valid and complete.
fn decode_upgrade(input: &[u8]) -> (UpgradeRequest, usize) {
    match UpgradeRequest::decode(input, &limits()) {
        Ok(Decoded::Complete { value, consumed }) => (value, consumed),
        other => panic!("expected a complete upgrade request, got {other:?}"),
    }
}

/// Decodes a whole request head, which must be complete.
fn decode_request(input: &[u8]) -> (Request, usize) {
    match Request::decode(input, &limits()) {
        Ok(Decoded::Complete { value, consumed }) => (value, consumed),
        other => panic!("expected a complete request, got {other:?}"),
    }
}

/// Decodes a whole response to `client`, which must be valid and complete.
fn decode_accepted(client: &ClientRequest, input: &[u8]) -> (Accepted, usize) {
    match client.decode_response(input, &limits()) {
        Ok(Decoded::Complete { value, consumed }) => (value, consumed),
        other => panic!("expected a complete accepted response, got {other:?}"),
    }
}

/// Asserts `actual` is `expected`; for [`HandshakeError::MalformedHttp`] only the variant is
/// compared (its text comes from the HTTP parser).
fn assert_error(name: &str, actual: &HandshakeError, expected: &HandshakeError) {
    if let HandshakeError::MalformedHttp(_) = expected {
        assert_eq!(discriminant(actual), discriminant(expected), "{name}: got {actual:?}");
    } else {
        assert_eq!(actual, expected, "{name}");
    }
}

/// A rejection split into status line, header fields and body.
struct Rejection {
    status_line: String,
    fields: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Rejection {
    fn parse(bytes: &[u8]) -> Rejection {
        let end = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("no end of head");
        let head = std::str::from_utf8(&bytes[..end]).expect("head is not utf-8");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap().to_owned();
        let fields = lines
            .map(|line| {
                let (name, value) = line.split_once(':').expect("field without a colon");
                (name.to_owned(), value.trim().to_owned())
            })
            .collect();
        Rejection { status_line, fields, body: bytes[end + 4..].to_vec() }
    }

    fn field(&self, name: &str) -> Option<&str> {
        let mut matching = self.fields.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name));
        let first = matching.next().map(|(_, value)| value.as_str());
        assert!(matching.next().is_none(), "field {name} repeated");
        first
    }
}

fn rejection(error: &HandshakeError) -> (Vec<u8>, Rejection) {
    let mut out = Vec::new();
    encode_rejection(error, &mut out);
    let parsed = Rejection::parse(&out);
    (out, parsed)
}

// ---------------------------------------------------------------------------------------------
// §1.3, §4.2.2 item 5.4: Sec-WebSocket-Accept
// ---------------------------------------------------------------------------------------------

/// §1.3, §4.2.2 item 5.4: the RFC's key gives the RFC's accept value.
#[test]
fn accept_key_of_rfc_key_is_rfc_vector() {
    assert_eq!(GUID, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    assert_eq!(accept_key(RFC_KEY), RFC_ACCEPT);
}

/// §4.2.2 item 5.4: a key captured in a course lab.
#[test]
fn accept_key_of_lab_key_is_lab_vector() {
    assert_eq!(accept_key(LAB_KEY), LAB_ACCEPT);
}

/// §4.2.2 item 5.4: the key is hashed "as sent" (not base64-decoded), without surrounding
/// white space; another key gives another value.
#[test]
fn accept_key_hashes_key_as_sent_trimmed() {
    assert_eq!(accept_key(" dGhlIHNhbXBsZSBub25jZQ==\t"), RFC_ACCEPT);
    assert_ne!(accept_key("dGhlIHNhbXBsZSBub25jZQ"), RFC_ACCEPT);
    assert_ne!(accept_key(LAB_KEY), RFC_ACCEPT);
    assert_eq!(accept_key(RFC_KEY).len(), 28, "base64 of a 20-byte SHA-1");
}

// ---------------------------------------------------------------------------------------------
// §1.3: the RFC's handshake, both ways
// ---------------------------------------------------------------------------------------------

/// §1.3, §4.2.1: the RFC's request decodes on the server to its values.
#[test]
fn server_decodes_rfc_request() {
    let (upgrade, consumed) = decode_upgrade(RFC_REQUEST);
    assert_eq!(consumed, RFC_REQUEST.len());
    assert_eq!(upgrade.path(), "/chat");
    assert_eq!(upgrade.query(), None);
    assert_eq!(upgrade.origin(), Some("http://example.com"));
    assert_eq!(upgrade.protocols(), ["chat", "superchat"]);
    assert_eq!(upgrade.extensions(), []);
    assert_eq!(upgrade.key(), RFC_KEY);
    assert_eq!(upgrade.headers().get("Host"), Some("server.example.com"));
    assert_eq!(upgrade.headers().fields().len(), 7);
    let request = upgrade.request();
    assert_eq!(request.method, "GET");
    assert_eq!(request.target, "/chat");
    assert_eq!(request.minor_version, 1);
    assert!(request.is_websocket_upgrade());
}

/// §1.3, §4.2.2 item 5: accepting the RFC's request with subprotocol "chat" gives exactly the
/// RFC's response.
#[test]
fn server_encodes_rfc_response() {
    let (upgrade, _) = decode_upgrade(RFC_REQUEST);
    let accept = upgrade.accept().with_protocol("chat");
    assert_eq!(accept.accept_key(), RFC_ACCEPT);
    assert_eq!(accept.protocol(), Some("chat"));
    assert_eq!(accept.extensions(), []);
    let mut out = Vec::new();
    accept.encode(&mut out);
    assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(RFC_RESPONSE));
    assert_eq!(out, RFC_RESPONSE);
}

/// §1.3, §4.2.1 item 6: the request must carry the version this crate speaks.
#[test]
fn server_speaks_version_13() {
    assert_eq!(VERSION, "13");
}

/// §1.3, §4.1: the client with the RFC's key, origin and subprotocols writes exactly the RFC's
/// request.
#[test]
fn client_encodes_rfc_request() {
    let client = ClientRequest::new("server.example.com", "/chat", &mut zeros)
        .with_key(RFC_KEY)
        .with_origin("http://example.com")
        .with_protocols(["chat", "superchat"]);
    assert_eq!(client.key(), RFC_KEY);
    assert_eq!(client.protocols(), ["chat", "superchat"]);
    assert_eq!(client.extensions(), []);
    let mut out = Vec::new();
    client.encode(&mut out);
    assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(RFC_REQUEST));
    assert_eq!(out, RFC_REQUEST);
}

/// §1.3, §4.1, §4.2.1: what the client encodes, the server accepts with the same values.
#[test]
fn server_accepts_client_encoded_request() {
    let client = rfc_client().with_header("User-Agent", "rfc6455-test");
    let mut out = Vec::new();
    client.encode(&mut out);
    let (upgrade, consumed) = decode_upgrade(&out);
    assert_eq!(consumed, out.len());
    assert_eq!(upgrade.path(), "/chat");
    assert_eq!(upgrade.origin(), Some("http://example.com"));
    assert_eq!(upgrade.protocols(), ["chat", "superchat"]);
    assert_eq!(upgrade.key(), RFC_KEY);
    assert_eq!(
        upgrade.extensions(),
        [Extension::new("permessage-deflate").with_param("client_max_window_bits", None)]
    );
    assert_eq!(upgrade.headers().get("user-agent"), Some("rfc6455-test"));
    assert_eq!(upgrade.accept().accept_key(), RFC_ACCEPT);
}

/// §1.3, §4.1: the client accepts the RFC's response, with subprotocol "chat".
#[test]
fn client_accepts_rfc_response() {
    let (accepted, consumed) = decode_accepted(&rfc_client(), RFC_RESPONSE);
    assert_eq!(consumed, RFC_RESPONSE.len());
    assert_eq!(accepted.protocol(), Some("chat"));
    assert_eq!(accepted.extensions(), []);
    assert_eq!(accepted.headers().get("sec-websocket-accept"), Some(RFC_ACCEPT));
}

/// §4.1, §4.2.2, §9.1: a whole negotiation: subprotocol by the client's preference, an offered
/// extension with parameters, extra header fields both ways.
#[test]
fn client_and_server_negotiate_protocol_and_extension() {
    let client = ClientRequest::new("localhost:9001", "/chat?room=1", &mut OsSeededRng::new())
        .with_protocols(["v2.chat", "chat"])
        .with_extension(Extension::new("permessage-deflate").with_param("client_max_window_bits", None))
        .with_header("Authorization", "Bearer abc");
    let mut request = Vec::new();
    client.encode(&mut request);

    let (upgrade, _) = decode_upgrade(&request);
    assert_eq!(upgrade.path(), "/chat");
    assert_eq!(upgrade.query(), Some("room=1"));
    assert_eq!(upgrade.origin(), None);
    assert_eq!(upgrade.key(), client.key());
    assert_eq!(upgrade.headers().get("authorization"), Some("Bearer abc"));
    // The client's order of preference wins over the server's.
    assert_eq!(upgrade.select_protocol(&["chat", "v2.chat"]), Some("v2.chat"));
    assert_eq!(upgrade.select_protocol(&["chat"]), Some("chat"));
    assert_eq!(upgrade.select_protocol(&["superchat"]), None);

    let deflate = Extension::new("permessage-deflate")
        .with_param("server_no_context_takeover", None)
        .with_param("client_max_window_bits", Some("10"));
    let accept = upgrade
        .accept()
        .with_protocol("v2.chat")
        .with_extension(Box::new(Negotiated(deflate.clone())))
        .with_header("Server", "t");
    let mut response = Vec::new();
    accept.encode(&mut response);
    let text = String::from_utf8(response.clone()).unwrap();
    assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"), "{text}");
    assert!(
        text.contains(
            "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; \
             client_max_window_bits=10\r\n"
        ),
        "{text}"
    );
    assert!(text.contains(&format!("\r\nSec-WebSocket-Accept: {}\r\n", accept_key(client.key()))), "{text}");
    assert!(text.ends_with("\r\nServer: t\r\n\r\n"), "{text}");

    let (accepted, consumed) = decode_accepted(&client, &response);
    assert_eq!(consumed, response.len());
    assert_eq!(accepted.protocol(), Some("v2.chat"));
    assert_eq!(accepted.extensions(), [deflate]);
    assert_eq!(accepted.headers().get("server"), Some("t"));
}

/// §4.1 item 3: an empty request-target is sent as `/`.
#[test]
fn client_sends_slash_for_empty_target() {
    let client = ClientRequest::new("example.com", "", &mut OsSeededRng::new());
    let mut out = Vec::new();
    client.encode(&mut out);
    assert!(out.starts_with(b"GET / HTTP/1.1\r\nHost: example.com\r\n"), "{}", String::from_utf8_lossy(&out));
    let (upgrade, _) = decode_upgrade(&out);
    assert_eq!(upgrade.path(), "/");
    assert_eq!(upgrade.protocols(), [] as [String; 0]);
}

// ---------------------------------------------------------------------------------------------
// §4.2.1: the server's checks
// ---------------------------------------------------------------------------------------------

/// §4.2.1 items 1-9 (and §4.4 for the version): each check fails with its error and the HTTP
/// status of §4.2.1 / §4.4.
#[test]
fn server_rejects_invalid_requests() {
    let get = "GET /chat HTTP/1.1";
    let malformed = HandshakeError::MalformedHttp(String::new());
    let table: Vec<(&str, Vec<u8>, HandshakeError, u16)> = vec![
        // Item 1: "An HTTP/1.1 or higher GET request".
        (
            "POST method",
            request("POST /chat HTTP/1.1", &[], &[]),
            HandshakeError::MethodNotGet("POST".into()),
            400,
        ),
        (
            "HEAD method",
            request("HEAD /chat HTTP/1.1", &[], &[]),
            HandshakeError::MethodNotGet("HEAD".into()),
            400,
        ),
        ("HTTP/1.0", request("GET /chat HTTP/1.0", &[], &[]), HandshakeError::HttpVersionTooOld, 400),
        // Item 2: "A |Host| header field".
        ("missing Host", request(get, &["Host"], &[]), HandshakeError::MissingHost, 400),
        ("two Host fields", valid_request(&["Host: other.example.com"]), HandshakeError::MissingHost, 400),
        // Item 3: "An |Upgrade| header field containing the value "websocket"".
        ("no Upgrade", request(get, &["Upgrade"], &[]), HandshakeError::NotWebSocketUpgrade, 426),
        (
            "Upgrade: h2c",
            request(get, &["Upgrade"], &["Upgrade: h2c"]),
            HandshakeError::NotWebSocketUpgrade,
            426,
        ),
        (
            "Upgrade: websockets",
            request(get, &["Upgrade"], &["Upgrade: websockets"]),
            HandshakeError::NotWebSocketUpgrade,
            426,
        ),
        // Item 4: "A |Connection| header field that includes the token "Upgrade"".
        ("no Connection", request(get, &["Connection"], &[]), HandshakeError::MissingConnectionUpgrade, 400),
        (
            "Connection: keep-alive",
            request(get, &["Connection"], &["Connection: keep-alive"]),
            HandshakeError::MissingConnectionUpgrade,
            400,
        ),
        (
            "Connection: Upgraded",
            request(get, &["Connection"], &["Connection: keep-alive, Upgraded"]),
            HandshakeError::MissingConnectionUpgrade,
            400,
        ),
        // Item 5: "|Sec-WebSocket-Key| ... that, when decoded, is 16 bytes in length";
        // §11.3.1: it "MUST NOT appear more than once".
        ("missing key", request(get, &["Sec-WebSocket-Key"], &[]), HandshakeError::InvalidKey, 400),
        (
            "key of 15 bytes",
            request(get, &["Sec-WebSocket-Key"], &["Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA"]),
            HandshakeError::InvalidKey,
            400,
        ),
        (
            "key of 17 bytes",
            request(get, &["Sec-WebSocket-Key"], &["Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA="]),
            HandshakeError::InvalidKey,
            400,
        ),
        (
            "key not base64",
            request(get, &["Sec-WebSocket-Key"], &["Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!=="]),
            HandshakeError::InvalidKey,
            400,
        ),
        (
            "key without padding",
            request(get, &["Sec-WebSocket-Key"], &["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ"]),
            HandshakeError::InvalidKey,
            400,
        ),
        (
            "empty key",
            request(get, &["Sec-WebSocket-Key"], &["Sec-WebSocket-Key: "]),
            HandshakeError::InvalidKey,
            400,
        ),
        (
            "two key fields",
            valid_request(&["Sec-WebSocket-Key: uRovscZjNol/umbTt5uKmw=="]),
            HandshakeError::InvalidKey,
            400,
        ),
        (
            "same key twice",
            valid_request(&["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]),
            HandshakeError::InvalidKey,
            400,
        ),
        // Item 6 and §4.4: "|Sec-WebSocket-Version| header field, with a value of 13".
        (
            "version 8",
            request(get, &["Sec-WebSocket-Version"], &["Sec-WebSocket-Version: 8"]),
            HandshakeError::UnsupportedVersion(Some("8".into())),
            426,
        ),
        (
            "version 14",
            request(get, &["Sec-WebSocket-Version"], &["Sec-WebSocket-Version: 14"]),
            HandshakeError::UnsupportedVersion(Some("14".into())),
            426,
        ),
        (
            "missing version",
            request(get, &["Sec-WebSocket-Version"], &[]),
            HandshakeError::UnsupportedVersion(None),
            426,
        ),
        // Item 8, §4.3: Sec-WebSocket-Protocol is a list of tokens.
        (
            "protocol with a space",
            valid_request(&["Sec-WebSocket-Protocol: chat, super chat"]),
            HandshakeError::InvalidProtocolHeader,
            400,
        ),
        (
            "protocol with a slash",
            valid_request(&["Sec-WebSocket-Protocol: chat/2"]),
            HandshakeError::InvalidProtocolHeader,
            400,
        ),
        // Item 9, §9.1: Sec-WebSocket-Extensions grammar.
        (
            "extension param without name",
            valid_request(&["Sec-WebSocket-Extensions: permessage-deflate; =15"]),
            HandshakeError::InvalidExtensionHeader,
            400,
        ),
        (
            "extension with stray characters",
            valid_request(&["Sec-WebSocket-Extensions: permessage-deflate x"]),
            HandshakeError::InvalidExtensionHeader,
            400,
        ),
        (
            "second extension field invalid",
            valid_request(&["Sec-WebSocket-Extensions: permessage-deflate", "Sec-WebSocket-Extensions: x;"]),
            HandshakeError::InvalidExtensionHeader,
            400,
        ),
        // §4.2.1: "The client's opening handshake consists of ... a valid HTTP request".
        ("field without colon", valid_request(&["X-Broken header"]), malformed.clone(), 400),
        ("bad HTTP version", request("GET /chat HTTP/9.1", &[], &[]), malformed.clone(), 400),
        (
            "TLS client hello",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
            malformed.clone(),
            400,
        ),
    ];
    for (name, input, expected, status) in table {
        let error = UpgradeRequest::decode(&input, &limits()).expect_err(name);
        assert_error(name, &error, &expected);
        assert_eq!(error.status(), Some(status), "{name}: status of {error:?}");
    }
}

/// §4.2.1: the checks come in the order the RFC lists them: a request wrong everywhere fails on
/// the method first, then the version of HTTP, and so on.
#[test]
fn server_checks_in_rfc_order() {
    let everything_wrong = b"POST /chat HTTP/1.0\r\nUpgrade: h2c\r\n\r\n";
    let error = UpgradeRequest::decode(everything_wrong, &limits()).unwrap_err();
    assert_eq!(error, HandshakeError::MethodNotGet("POST".into()));
    let error = UpgradeRequest::decode(b"GET /chat HTTP/1.0\r\nUpgrade: h2c\r\n\r\n", &limits()).unwrap_err();
    assert_eq!(error, HandshakeError::HttpVersionTooOld);
    let error = UpgradeRequest::decode(b"GET /chat HTTP/1.1\r\nUpgrade: h2c\r\n\r\n", &limits()).unwrap_err();
    assert_eq!(error, HandshakeError::MissingHost);
    let error = UpgradeRequest::decode(
        request("GET / HTTP/1.1", &["Upgrade", "Connection"], &[]).as_slice(),
        &limits(),
    )
    .unwrap_err();
    assert_eq!(error, HandshakeError::NotWebSocketUpgrade);
}

/// §4.2.1 items 3 and 4: "treated as an ASCII case-insensitive value"; `Connection` is a list
/// (RFC 7230 §6.1), so `Upgrade` may be one of several tokens, in one field or several. Field
/// names are case-insensitive too.
#[test]
fn server_accepts_tokens_case_insensitively_in_lists() {
    let get = "GET /chat HTTP/1.1";
    let table: Vec<(&str, Vec<u8>)> = vec![
        (
            "Connection: keep-alive, Upgrade",
            request(get, &["Connection"], &["Connection: keep-alive, Upgrade"]),
        ),
        (
            "lower-case names, upper-case token",
            request(get, &["Connection"], &["connection: keep-alive, UPGRADE"]),
        ),
        ("Upgrade: WebSocket", request(get, &["Upgrade"], &["upgrade: WebSocket"])),
        ("Upgrade: WEBSOCKET", request(get, &["Upgrade"], &["UPGRADE: WEBSOCKET"])),
        (
            "Connection over two fields",
            request(get, &["Connection"], &["Connection: keep-alive", "Connection: upgrade"]),
        ),
        (
            "Connection with white space",
            request(get, &["Connection"], &["Connection:   keep-alive ,upgrade  "]),
        ),
        (
            "every name in lower case",
            b"GET /chat HTTP/1.1\r\nhost: h\r\nupgrade: websocket\r\nconnection: upgrade\r\n\
              sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n"
                .to_vec(),
        ),
        ("HTTP/1.1 absolute-form", request("GET http://server.example.com/chat HTTP/1.1", &[], &[])),
        ("lab key", request(get, &["Sec-WebSocket-Key"], &["Sec-WebSocket-Key: uRovscZjNol/umbTt5uKmw=="])),
    ];
    for (name, input) in table {
        match UpgradeRequest::decode(&input, &limits()) {
            Ok(Decoded::Complete { value, consumed }) => {
                assert_eq!(consumed, input.len(), "{name}");
                assert_eq!(value.path(), "/chat", "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    let (upgrade, _) = decode_upgrade(&request(
        get,
        &["Sec-WebSocket-Key"],
        &["Sec-WebSocket-Key: uRovscZjNol/umbTt5uKmw=="],
    ));
    assert_eq!(upgrade.key(), LAB_KEY);
    assert_eq!(upgrade.accept().accept_key(), LAB_ACCEPT);
}

/// §4.2.1 items 8, 9: subprotocols and extensions over several fields are gathered in order.
#[test]
fn server_gathers_protocols_and_extensions_over_fields() {
    let (upgrade, _) = decode_upgrade(&valid_request(&[
        "Sec-WebSocket-Protocol: chat",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-foo",
        "sec-websocket-protocol: superchat, , v2",
        "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=\"10\"",
    ]));
    assert_eq!(upgrade.protocols(), ["chat", "superchat", "v2"]);
    assert_eq!(
        upgrade.extensions(),
        [
            Extension::new("permessage-deflate").with_param("client_max_window_bits", None),
            Extension::new("x-foo"),
            Extension::new("permessage-deflate").with_param("server_max_window_bits", Some("10")),
        ]
    );
}

/// §4.2.1: `Request::decode` + `UpgradeRequest::validate` is `UpgradeRequest::decode`.
#[test]
fn server_validate_matches_decode() {
    let (request, consumed) = decode_request(RFC_REQUEST);
    assert_eq!(consumed, RFC_REQUEST.len());
    let validated = UpgradeRequest::validate(request).unwrap();
    assert_eq!(validated, decode_upgrade(RFC_REQUEST).0);

    let (request, _) = decode_request(&request_with_version_8());
    assert_eq!(UpgradeRequest::validate(request), Err(HandshakeError::UnsupportedVersion(Some("8".into()))));
}

fn request_with_version_8() -> Vec<u8> {
    request("GET /chat HTTP/1.1", &["Sec-WebSocket-Version"], &["Sec-WebSocket-Version: 8"])
}

// ---------------------------------------------------------------------------------------------
// Plain HTTP on the same port
// ---------------------------------------------------------------------------------------------

/// §4.2.1 item 3, §4.4: a request without `Upgrade: websocket` is plain HTTP: it decodes, and
/// the server may serve it or answer 426.
#[test]
fn server_decodes_plain_http_request() {
    let input = b"GET /index.html HTTP/1.1\r\nHost: server.example.com\r\nAccept: text/html\r\n\r\n";
    let (request, consumed) = decode_request(input);
    assert_eq!(consumed, input.len());
    assert_eq!(request.method, "GET");
    assert_eq!(request.target, "/index.html");
    assert_eq!(request.minor_version, 1);
    assert_eq!(request.path(), "/index.html");
    assert_eq!(request.query(), None);
    assert_eq!(request.headers.get("accept"), Some("text/html"));
    assert!(!request.is_websocket_upgrade());
    let error = UpgradeRequest::validate(request).unwrap_err();
    assert_eq!(error, HandshakeError::NotWebSocketUpgrade);
    assert_eq!(error.status(), Some(426));
}

/// Other methods and HTTP/1.0 still decode as plain requests; only the upgrade checks refuse
/// them (§4.2.1 item 1).
#[test]
fn server_decodes_any_http_1x_request() {
    let (request, _) = decode_request(b"POST /form HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(request.method, "POST");
    assert_eq!(request.minor_version, 0);
    assert_eq!(request.path(), "/form");
    assert!(!request.is_websocket_upgrade());
    // `Upgrade: websocket` alone makes it look like an upgrade, whatever the rest says.
    let (request, _) = decode_request(b"GET / HTTP/1.1\r\nUpgrade: h2c, WebSocket\r\n\r\n");
    assert!(request.is_websocket_upgrade());
}

/// §3, RFC 7230 §5.3: the request-target split into path and query, in origin-form and in
/// absolute-form.
#[test]
fn server_splits_target_into_path_and_query() {
    let table = [
        ("/ws?room=1", "/ws", Some("room=1")),
        ("/ws", "/ws", None),
        ("/", "/", None),
        ("/a/b/c?x=1&y=2", "/a/b/c", Some("x=1&y=2")),
        ("/ws?next=http://example.com/x", "/ws", Some("next=http://example.com/x")),
        ("http://server.example.com/chat", "/chat", None),
        ("http://server.example.com/chat?room=1", "/chat", Some("room=1")),
        ("http://server.example.com:8080/a/b", "/a/b", None),
        ("http://server.example.com", "/", None),
        ("http://server.example.com?x=1", "/", Some("x=1")),
    ];
    for (target, path, query) in table {
        let input = format!("GET {target} HTTP/1.1\r\nHost: server.example.com\r\n\r\n");
        let (plain, _) = decode_request(input.as_bytes());
        assert_eq!(plain.target, target);
        assert_eq!(plain.path(), path, "path of {target}");
        assert_eq!(plain.query(), query, "query of {target}");

        let upgrade = request(&format!("GET {target} HTTP/1.1"), &[], &[]);
        let (upgrade, _) = decode_upgrade(&upgrade);
        assert_eq!((upgrade.path(), upgrade.query()), (path, query), "upgrade to {target}");
    }
}

/// RFC 7230 §5.3.1, RFC 3986 §3.3: an origin-form target starts with `/`, and its segments may
/// hold `:` and empty segments, so `/fetch/http://example.com/page` is a path, not an
/// absolute-form target: nothing of it may be cut off.
#[test]
fn server_keeps_origin_form_path_that_contains_a_url() {
    let table = [
        ("/fetch/http://example.com/page", "/fetch/http://example.com/page", None),
        ("/web/2020/https://example.com/?q=1", "/web/2020/https://example.com/", Some("q=1")),
        ("/a://b", "/a://b", None),
    ];
    for (target, path, query) in table {
        let (upgrade, _) = decode_upgrade(&request(&format!("GET {target} HTTP/1.1"), &[], &[]));
        assert_eq!(upgrade.request().target, target);
        assert_eq!((upgrade.path(), upgrade.query()), (path, query), "upgrade to {target}");
    }
}

// ---------------------------------------------------------------------------------------------
// Limits (RFC 6585 §5: 431 Request Header Fields Too Large)
// ---------------------------------------------------------------------------------------------

/// The defaults: 16 KiB and 64 header fields.
#[test]
fn head_limits_defaults() {
    assert_eq!(DEFAULT_MAX_HEAD_SIZE, 16 * 1024);
    assert_eq!(DEFAULT_MAX_HEADERS, 64);
    assert_eq!(HeadLimits::default(), HeadLimits { max_head_size: 16 * 1024, max_headers: 64 });
}

/// A valid upgrade request of exactly `len` bytes (padded with an `X-Padding` field).
fn padded_request(len: usize) -> Vec<u8> {
    let base = valid_request(&["X-Padding: "]).len();
    assert!(len >= base, "{len} < {base}");
    let padding = format!("X-Padding: {}", "a".repeat(len - base));
    let input = valid_request(&[&padding]);
    assert_eq!(input.len(), len);
    input
}

/// A valid 101 answer to [`rfc_client`] of exactly `len` bytes.
fn padded_response(len: usize) -> Vec<u8> {
    let base = switching(&[], &["X-Padding: "]).len();
    assert!(len >= base, "{len} < {base}");
    let padding = format!("X-Padding: {}", "a".repeat(len - base));
    let input = switching(&[], &[&padding]);
    assert_eq!(input.len(), len);
    input
}

/// A head over the limit fails with HeadTooLarge as soon as `max_head_size` bytes arrived without
/// the end of the head, and not before (RFC 6585 §5: 431).
#[test]
fn server_fails_on_head_too_large_once_limit_reached() {
    for max in [200, 256, 1000] {
        let limits = HeadLimits { max_head_size: max, ..HeadLimits::default() };
        let input = padded_request(max + 1);
        for len in 0..=input.len() {
            let result = UpgradeRequest::decode(&input[..len], &limits);
            if len < max {
                assert!(
                    matches!(result, Ok(Decoded::Incomplete { needed }) if needed >= 1),
                    "{max}/{len}: {result:?}"
                );
            } else {
                assert_eq!(result, Err(HandshakeError::HeadTooLarge(max)), "{max}/{len}");
            }
            let plain = Request::decode(&input[..len], &limits);
            if len < max {
                assert!(matches!(plain, Ok(Decoded::Incomplete { .. })), "{max}/{len}: {plain:?}");
            } else {
                assert_eq!(plain, Err(HandshakeError::HeadTooLarge(max)), "{max}/{len}");
            }
        }
        // More bytes than the limit, all at once, fail the same way.
        let mut longer = padded_request(max + 50);
        longer.extend_from_slice(&MASKED_HELLO);
        assert_eq!(UpgradeRequest::decode(&longer, &limits), Err(HandshakeError::HeadTooLarge(max)));
        assert_eq!(HandshakeError::HeadTooLarge(max).status(), Some(431));
    }
}

/// A head of exactly `max_head_size` bytes, up to and including the empty line, is accepted,
/// even with frame bytes after it.
#[test]
fn server_accepts_head_exactly_at_limit() {
    let max = 300;
    let limits = HeadLimits { max_head_size: max, ..HeadLimits::default() };
    let input = padded_request(max);
    for len in 0..max {
        assert!(
            matches!(UpgradeRequest::decode(&input[..len], &limits), Ok(Decoded::Incomplete { .. })),
            "prefix of {len}"
        );
    }
    assert!(
        matches!(UpgradeRequest::decode(&input, &limits), Ok(Decoded::Complete { consumed, .. }) if consumed == max)
    );
    let mut with_frame = input.clone();
    with_frame.extend_from_slice(&MASKED_HELLO);
    assert!(matches!(
        UpgradeRequest::decode(&with_frame, &limits),
        Ok(Decoded::Complete { consumed, .. }) if consumed == max
    ));
}

/// The default limit: a head of 16384 bytes passes, one of 16385 fails once 16384 arrived.
#[test]
fn server_enforces_default_head_size() {
    let at_limit = padded_request(DEFAULT_MAX_HEAD_SIZE);
    let (_, consumed) = decode_upgrade(&at_limit);
    assert_eq!(consumed, DEFAULT_MAX_HEAD_SIZE);

    let over = padded_request(DEFAULT_MAX_HEAD_SIZE + 1);
    assert!(matches!(
        UpgradeRequest::decode(&over[..DEFAULT_MAX_HEAD_SIZE - 1], &limits()),
        Ok(Decoded::Incomplete { .. })
    ));
    assert_eq!(
        UpgradeRequest::decode(&over[..DEFAULT_MAX_HEAD_SIZE], &limits()),
        Err(HandshakeError::HeadTooLarge(DEFAULT_MAX_HEAD_SIZE))
    );
    assert_eq!(
        UpgradeRequest::decode(&over, &limits()),
        Err(HandshakeError::HeadTooLarge(DEFAULT_MAX_HEAD_SIZE))
    );
}

/// More header fields than `max_headers` fail with TooManyHeaders (431); exactly as many pass.
#[test]
fn server_fails_on_too_many_headers() {
    // VALID_FIELDS has 5 fields; pad to exactly 64, then to 65.
    let extra: Vec<String> = (0..DEFAULT_MAX_HEADERS).map(|i| format!("X-Field-{i}: {i}")).collect();
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let at_limit = valid_request(&extra[..DEFAULT_MAX_HEADERS - VALID_FIELDS.len()]);
    let (upgrade, _) = decode_upgrade(&at_limit);
    assert_eq!(upgrade.headers().fields().len(), DEFAULT_MAX_HEADERS);

    let over = valid_request(&extra[..DEFAULT_MAX_HEADERS - VALID_FIELDS.len() + 1]);
    let error = UpgradeRequest::decode(&over, &limits()).unwrap_err();
    assert_eq!(error, HandshakeError::TooManyHeaders(DEFAULT_MAX_HEADERS));
    assert_eq!(error.status(), Some(431));
    assert_eq!(Request::decode(&over, &limits()), Err(HandshakeError::TooManyHeaders(DEFAULT_MAX_HEADERS)));

    let small = HeadLimits { max_headers: 5, ..HeadLimits::default() };
    assert!(matches!(UpgradeRequest::decode(&valid_request(&[]), &small), Ok(Decoded::Complete { .. })));
    assert_eq!(
        UpgradeRequest::decode(&valid_request(&["X: y"]), &small),
        Err(HandshakeError::TooManyHeaders(5))
    );
}

/// The client applies the same limits to the server's response.
#[test]
fn client_fails_on_head_too_large_once_limit_reached() {
    let client = rfc_client();
    let max = 256;
    let limits = HeadLimits { max_head_size: max, ..HeadLimits::default() };
    let input = padded_response(max + 1);
    for len in 0..=input.len() {
        let result = client.decode_response(&input[..len], &limits);
        if len < max {
            assert!(matches!(result, Ok(Decoded::Incomplete { needed }) if needed >= 1), "{len}: {result:?}");
        } else {
            assert_eq!(result, Err(HandshakeError::HeadTooLarge(max)), "{len}");
        }
    }
    let at_limit = padded_response(max);
    let mut with_frame = at_limit.clone();
    with_frame.extend_from_slice(&UNMASKED_HELLO);
    assert!(
        matches!(client.decode_response(&with_frame, &limits), Ok(Decoded::Complete { consumed, .. }) if consumed == max)
    );
}

/// The client's limit on header fields.
#[test]
fn client_fails_on_too_many_headers() {
    let client = rfc_client();
    let limits = HeadLimits { max_headers: 4, ..HeadLimits::default() };
    assert!(matches!(
        client.decode_response(&switching(&[], &["Server: a"]), &limits),
        Ok(Decoded::Complete { .. })
    ));
    assert_eq!(
        client.decode_response(&switching(&[], &["Server: a", "Date: b"]), &limits),
        Err(HandshakeError::TooManyHeaders(4))
    );
    assert_eq!(
        client
            .decode_response(&padded_response(DEFAULT_MAX_HEAD_SIZE), &HeadLimits::default())
            .map(|d| d.complete().map(|(_, c)| c)),
        Ok(Some(DEFAULT_MAX_HEAD_SIZE))
    );
}

// ---------------------------------------------------------------------------------------------
// Incomplete input and the bytes after the head
// ---------------------------------------------------------------------------------------------

/// §4.2.1: every strict prefix of a valid request asks for more (at least one byte); the whole
/// request is complete.
#[test]
fn server_reports_incomplete_for_every_strict_prefix() {
    let mut client_encoded = Vec::new();
    rfc_client().with_header("X-Long", "z".repeat(100)).encode(&mut client_encoded);
    for input in [RFC_REQUEST, client_encoded.as_slice()] {
        for len in 0..input.len() {
            let result = UpgradeRequest::decode(&input[..len], &limits());
            assert!(
                matches!(result, Ok(Decoded::Incomplete { needed }) if needed >= 1),
                "prefix {len}: {result:?}"
            );
            let plain = Request::decode(&input[..len], &limits());
            assert!(
                matches!(plain, Ok(Decoded::Incomplete { needed }) if needed >= 1),
                "prefix {len}: {plain:?}"
            );
        }
        let (_, consumed) = decode_upgrade(input);
        assert_eq!(consumed, input.len());
    }
}

/// §4.1: every strict prefix of a valid response asks for more; the whole response is complete.
#[test]
fn client_reports_incomplete_for_every_strict_prefix() {
    let client = rfc_client();
    let extended =
        switching(&[], &["Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15"]);
    for input in [RFC_RESPONSE, extended.as_slice()] {
        for len in 0..input.len() {
            let result = client.decode_response(&input[..len], &limits());
            assert!(
                matches!(result, Ok(Decoded::Incomplete { needed }) if needed >= 1),
                "prefix {len}: {result:?}"
            );
        }
        let (_, consumed) = decode_accepted(&client, input);
        assert_eq!(consumed, input.len());
    }
}

/// §4.2.1, §5.7: a client may send its first frame right after its request, in the same packet:
/// `consumed` is the head only, and the frame is there, untouched, after it. Cut anywhere, the
/// input is incomplete until the head is whole.
#[test]
fn server_hands_back_frame_after_request() {
    let mut input = RFC_REQUEST.to_vec();
    input.extend_from_slice(&MASKED_HELLO);
    for len in 0..=input.len() {
        match UpgradeRequest::decode(&input[..len], &limits()) {
            Ok(Decoded::Incomplete { needed }) => {
                assert!(len < RFC_REQUEST.len() && needed >= 1, "{len}");
            }
            Ok(Decoded::Complete { consumed, .. }) => {
                assert!(len >= RFC_REQUEST.len(), "{len}");
                assert_eq!(consumed, RFC_REQUEST.len(), "{len}");
            }
            Err(error) => panic!("{len}: {error:?}"),
        }
    }
    let (_, consumed) = decode_upgrade(&input);
    assert_eq!(&input[consumed..], MASKED_HELLO);
    let Decoded::Complete { value: frame, consumed: frame_len } =
        Frame::decode(&input[consumed..], &DecodeRules::server()).unwrap()
    else {
        panic!("frame incomplete");
    };
    assert_eq!(frame_len, MASKED_HELLO.len());
    assert_eq!(frame.header.opcode, Opcode::Text);
    assert_eq!(&frame.payload[..], b"Hello");

    // Whatever follows, even another head, is not read.
    let mut pipelined = RFC_REQUEST.to_vec();
    pipelined.extend_from_slice(b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(decode_upgrade(&pipelined).1, RFC_REQUEST.len());
    let mut garbage = RFC_REQUEST.to_vec();
    garbage.extend_from_slice(b"\x00\xff\r\n\r\n");
    assert_eq!(decode_upgrade(&garbage).1, RFC_REQUEST.len());
    assert_eq!(decode_request(&garbage).1, RFC_REQUEST.len());
}

/// §4.1, §5.7: a server may send its first frame right after the 101: `consumed` is the head
/// only, and the frame follows untouched.
#[test]
fn client_hands_back_frame_after_response() {
    let client = rfc_client();
    let mut input = RFC_RESPONSE.to_vec();
    input.extend_from_slice(&UNMASKED_HELLO);
    for len in 0..=input.len() {
        match client.decode_response(&input[..len], &limits()) {
            Ok(Decoded::Incomplete { needed }) => assert!(len < RFC_RESPONSE.len() && needed >= 1, "{len}"),
            Ok(Decoded::Complete { consumed, value }) => {
                assert!(len >= RFC_RESPONSE.len(), "{len}");
                assert_eq!(consumed, RFC_RESPONSE.len(), "{len}");
                assert_eq!(value.protocol(), Some("chat"));
            }
            Err(error) => panic!("{len}: {error:?}"),
        }
    }
    let (_, consumed) = decode_accepted(&client, &input);
    assert_eq!(&input[consumed..], UNMASKED_HELLO);
    let Decoded::Complete { value: frame, consumed: frame_len } =
        Frame::decode(&input[consumed..], &DecodeRules::client()).unwrap()
    else {
        panic!("frame incomplete");
    };
    assert_eq!(frame_len, UNMASKED_HELLO.len());
    assert_eq!(&frame.payload[..], b"Hello");
}

// ---------------------------------------------------------------------------------------------
// encode_rejection (§4.2.1, §4.4, RFC 6585 §5)
// ---------------------------------------------------------------------------------------------

/// Checks what every rejection has: status line, plain-text body saying what was wrong,
/// Content-Length of that body, Connection: close.
fn check_rejection(error: &HandshakeError, status_line: &str) -> Rejection {
    let (bytes, parsed) = rejection(error);
    assert_eq!(parsed.status_line, status_line, "{error:?}");
    let length: usize = parsed.field("Content-Length").expect("Content-Length").parse().unwrap();
    assert_eq!(length, parsed.body.len(), "{error:?}");
    assert!(!parsed.body.is_empty(), "{error:?}");
    let body = std::str::from_utf8(&parsed.body).expect("body is not utf-8");
    assert!(body.contains(&error.to_string()), "{error:?}: {body:?}");
    assert!(parsed.field("Content-Type").expect("Content-Type").starts_with("text/plain"), "{error:?}");
    assert_eq!(parsed.field("Connection"), Some("close"), "{error:?}");
    // The client side reads it as a refusal with that status.
    let status: u16 = status_line[9..12].parse().unwrap();
    assert_eq!(
        rfc_client().decode_response(&bytes, &limits()),
        Err(HandshakeError::UnexpectedStatus { status, location: None })
    );
    parsed
}

/// §4.2.1: "If the server ... finds that the client handshake does not satisfy the requirements
/// ... the server MUST ... return an appropriate HTTP error code (such as 400 Bad Request)".
#[test]
fn server_rejection_400() {
    for error in [
        HandshakeError::InvalidKey,
        HandshakeError::MethodNotGet("POST".into()),
        HandshakeError::MissingHost,
        HandshakeError::MalformedHttp("invalid header name".into()),
        HandshakeError::InvalidExtensionHeader,
    ] {
        let parsed = check_rejection(&error, "HTTP/1.1 400 Bad Request");
        assert_eq!(parsed.field("Sec-WebSocket-Version"), None, "{error:?}");
        assert_eq!(parsed.field("Upgrade"), None, "{error:?}");
    }
}

/// §4.4: "the server MUST respond with ... a |Sec-WebSocket-Version| header field ... containing
/// the version(s) the server is capable of understanding"; a plain request gets 426 with
/// `Upgrade: websocket` (RFC 7231 §6.5.15).
#[test]
fn server_rejection_426() {
    for error in [
        HandshakeError::UnsupportedVersion(Some("8".into())),
        HandshakeError::UnsupportedVersion(None),
        HandshakeError::NotWebSocketUpgrade,
    ] {
        let parsed = check_rejection(&error, "HTTP/1.1 426 Upgrade Required");
        assert_eq!(parsed.field("Sec-WebSocket-Version"), Some("13"), "{error:?}");
        assert_eq!(parsed.field("Upgrade"), Some("websocket"), "{error:?}");
    }
}

/// RFC 6585 §5: 431 Request Header Fields Too Large.
#[test]
fn server_rejection_431() {
    for error in [HandshakeError::HeadTooLarge(DEFAULT_MAX_HEAD_SIZE), HandshakeError::TooManyHeaders(64)] {
        let parsed = check_rejection(&error, "HTTP/1.1 431 Request Header Fields Too Large");
        assert_eq!(parsed.field("Sec-WebSocket-Version"), None, "{error:?}");
    }
}

/// A client-side error has no status of its own: a rejection of it is a 400.
#[test]
fn server_rejection_of_client_side_error_is_400() {
    check_rejection(&HandshakeError::AcceptMismatch, "HTTP/1.1 400 Bad Request");
}

/// The rejection of each request of the failure table has that request's status.
#[test]
fn server_rejection_of_decoded_errors() {
    let cases: [(Vec<u8>, &str); 3] = [
        (request("POST /chat HTTP/1.1", &[], &[]), "HTTP/1.1 400 Bad Request"),
        (request_with_version_8(), "HTTP/1.1 426 Upgrade Required"),
        (padded_request(DEFAULT_MAX_HEAD_SIZE + 1), "HTTP/1.1 431 Request Header Fields Too Large"),
    ];
    for (input, status_line) in cases {
        let error = UpgradeRequest::decode(&input, &limits()).unwrap_err();
        check_rejection(&error, status_line);
    }
}

// ---------------------------------------------------------------------------------------------
// §4.1: the client's checks of the response
// ---------------------------------------------------------------------------------------------

/// §4.1: "If the status code received from the server is not 101 ..."; "If the response lacks
/// an |Upgrade| header field ..."; "... a |Connection| header field ..."; "... a
/// |Sec-WebSocket-Accept| header field ..."; "... an extension that was not present in the
/// client's handshake ..."; "... a subprotocol that was not present in the client's handshake".
#[test]
fn client_rejects_invalid_responses() {
    let wrong_accept = format!("Sec-WebSocket-Accept: {LAB_ACCEPT}");
    let accept = "Sec-WebSocket-Accept";
    let table: Vec<(&str, Vec<u8>, HandshakeError)> = vec![
        (
            "status 200",
            response("HTTP/1.1 200 OK", &["Content-Length: 0"]),
            HandshakeError::UnexpectedStatus { status: 200, location: None },
        ),
        (
            "status 404",
            response("HTTP/1.1 404 Not Found", &["Content-Length: 0"]),
            HandshakeError::UnexpectedStatus { status: 404, location: None },
        ),
        (
            "status 302 with Location",
            response("HTTP/1.1 302 Found", &["Location: ws://other.example.com/chat"]),
            HandshakeError::UnexpectedStatus {
                status: 302,
                location: Some("ws://other.example.com/chat".into()),
            },
        ),
        (
            "status 200 that looks like a 101",
            response("HTTP/1.1 200 OK", &ACCEPT_FIELDS),
            HandshakeError::UnexpectedStatus { status: 200, location: None },
        ),
        ("missing Upgrade", switching(&["Upgrade"], &[]), HandshakeError::MissingUpgradeHeader),
        ("Upgrade: h2c", switching(&["Upgrade"], &["Upgrade: h2c"]), HandshakeError::MissingUpgradeHeader),
        (
            "Upgrade: websockets",
            switching(&["Upgrade"], &["Upgrade: websockets"]),
            HandshakeError::MissingUpgradeHeader,
        ),
        ("missing Connection", switching(&["Connection"], &[]), HandshakeError::MissingConnectionHeader),
        (
            "Connection: keep-alive",
            switching(&["Connection"], &["Connection: keep-alive"]),
            HandshakeError::MissingConnectionHeader,
        ),
        ("missing accept", switching(&[accept], &[]), HandshakeError::AcceptMismatch),
        ("wrong accept", switching(&[accept], &[&wrong_accept]), HandshakeError::AcceptMismatch),
        (
            "accept is the key itself",
            switching(&[accept], &["Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ=="]),
            HandshakeError::AcceptMismatch,
        ),
        (
            "accept in lower case",
            switching(&[accept], &["Sec-WebSocket-Accept: s3ppLMBiTxaQ9kYGzzhZRbK+xOo="]),
            HandshakeError::AcceptMismatch,
        ),
        (
            "duplicated accept",
            switching(&[], &["Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="]),
            HandshakeError::AcceptMismatch,
        ),
        (
            "extension not offered",
            switching(&[], &["Sec-WebSocket-Extensions: x-webkit-deflate-frame"]),
            HandshakeError::UnofferedExtension("x-webkit-deflate-frame".into()),
        ),
        (
            "offered and unoffered extension",
            switching(&[], &["Sec-WebSocket-Extensions: permessage-deflate, x-foo; a=1"]),
            HandshakeError::UnofferedExtension("x-foo".into()),
        ),
        (
            "invalid extension grammar",
            switching(&[], &["Sec-WebSocket-Extensions: permessage-deflate;"]),
            HandshakeError::InvalidExtensionHeader,
        ),
        (
            "protocol not offered",
            switching(&[], &["Sec-WebSocket-Protocol: v2.chat"]),
            HandshakeError::UnofferedProtocol("v2.chat".into()),
        ),
        (
            "two protocols in one field",
            switching(&[], &["Sec-WebSocket-Protocol: chat, superchat"]),
            HandshakeError::InvalidProtocolHeader,
        ),
        (
            "two protocol fields",
            switching(&[], &["Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Protocol: superchat"]),
            HandshakeError::InvalidProtocolHeader,
        ),
        (
            "protocol not a token",
            switching(&[], &["Sec-WebSocket-Protocol: chat/2"]),
            HandshakeError::InvalidProtocolHeader,
        ),
        (
            "status not a number",
            response("HTTP/1.1 1O1 Switching Protocols", &ACCEPT_FIELDS),
            HandshakeError::MalformedHttp(String::new()),
        ),
        ("not HTTP", b"SSH-2.0-OpenSSH_9.6\r\n\r\n".to_vec(), HandshakeError::MalformedHttp(String::new())),
    ];
    let client = rfc_client();
    for (name, input, expected) in table {
        let error = client.decode_response(&input, &limits()).expect_err(name);
        assert_error(name, &error, &expected);
    }
}

/// §4.1: the checks are "treated as an ASCII case-insensitive value"; Connection and Upgrade are
/// lists; a server may choose no subprotocol ("the server does not wish to agree to any of the
/// client's requested subprotocols", §4.2.2 item 5.5) and no extension.
#[test]
fn client_accepts_valid_responses() {
    let table: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        ("RFC response", RFC_RESPONSE.to_vec(), Some("chat")),
        ("no protocol chosen", switching(&[], &[]), None),
        ("superchat chosen", switching(&[], &["Sec-WebSocket-Protocol: superchat"]), Some("superchat")),
        ("Upgrade: WebSocket", switching(&["Upgrade"], &["upgrade: WebSocket"]), None),
        (
            "Connection: keep-alive, UPGRADE",
            switching(&["Connection"], &["connection: keep-alive, UPGRADE"]),
            None,
        ),
        (
            "Connection over two fields",
            switching(&["Connection"], &["Connection: keep-alive", "Connection: upgrade"]),
            None,
        ),
        (
            "lower-case names",
            response(
                "HTTP/1.1 101 Switching Protocols",
                &[
                    "upgrade: websocket",
                    "connection: upgrade",
                    "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
                ],
            ),
            None,
        ),
        ("other reason phrase", response("HTTP/1.1 101 Web Socket Protocol Handshake", &ACCEPT_FIELDS), None),
        ("extra fields", switching(&[], &["Server: x", "Set-Cookie: a=b"]), None),
    ];
    let client = rfc_client();
    for (name, input, protocol) in table {
        match client.decode_response(&input, &limits()) {
            Ok(Decoded::Complete { value, consumed }) => {
                assert_eq!(consumed, input.len(), "{name}");
                assert_eq!(value.protocol(), protocol, "{name}");
                assert_eq!(value.extensions(), [], "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

/// §4.1, §9.1: an extension the client offered comes back from `extensions()`, with its
/// parameters, in the order the server listed.
#[test]
fn client_returns_accepted_extension_with_params() {
    let client = rfc_client().with_extension(Extension::new("x-foo"));
    let input = switching(
        &[],
        &["Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=10, x-foo"],
    );
    let (accepted, _) = decode_accepted(&client, &input);
    assert_eq!(
        accepted.extensions(),
        [
            Extension::new("permessage-deflate")
                .with_param("server_no_context_takeover", None)
                .with_param("client_max_window_bits", Some("10")),
            Extension::new("x-foo"),
        ]
    );
    assert_eq!(accepted.protocol(), None);
}

/// §4.1: a server may not choose a subprotocol when the client offered none.
#[test]
fn client_without_protocols_rejects_any_protocol() {
    let client = ClientRequest::new("server.example.com", "/chat", &mut zeros).with_key(RFC_KEY);
    assert_eq!(decode_accepted(&client, &switching(&[], &[])).0.protocol(), None);
    assert_eq!(
        client.decode_response(RFC_RESPONSE, &limits()),
        Err(HandshakeError::UnofferedProtocol("chat".into()))
    );
    assert_eq!(
        client.decode_response(&switching(&[], &["Sec-WebSocket-Extensions: permessage-deflate"]), &limits()),
        Err(HandshakeError::UnofferedExtension("permessage-deflate".into()))
    );
}

/// §4.1: the accept value is checked against this client's key, not any key.
#[test]
fn client_checks_accept_against_own_key() {
    let lab_client = ClientRequest::new("h", "/", &mut zeros).with_key(LAB_KEY);
    let lab_response = response(
        "HTTP/1.1 101 Switching Protocols",
        &["Upgrade: websocket", "Connection: Upgrade", &format!("Sec-WebSocket-Accept: {LAB_ACCEPT}")],
    );
    assert!(decode_accepted(&lab_client, &lab_response).0.protocol().is_none());
    assert_eq!(
        lab_client.decode_response(&switching(&[], &[]), &limits()),
        Err(HandshakeError::AcceptMismatch)
    );
    assert_eq!(rfc_client().decode_response(&lab_response, &limits()), Err(HandshakeError::AcceptMismatch));
}

/// Client-side errors carry no HTTP status: the client answers nothing, it fails the connection.
#[test]
fn client_errors_have_no_status() {
    for error in [
        HandshakeError::UnexpectedStatus { status: 302, location: Some("/x".into()) },
        HandshakeError::UnexpectedStatus { status: 200, location: None },
        HandshakeError::MissingUpgradeHeader,
        HandshakeError::MissingConnectionHeader,
        HandshakeError::AcceptMismatch,
        HandshakeError::UnofferedProtocol("v2".into()),
        HandshakeError::UnofferedExtension("x-foo".into()),
    ] {
        assert_eq!(error.status(), None, "{error:?}");
    }
}

/// Server-side errors each have their status (§4.2.1: 400, §4.4: 426, RFC 6585: 431).
#[test]
fn server_errors_have_status() {
    let table = [
        (HandshakeError::HeadTooLarge(1), 431),
        (HandshakeError::TooManyHeaders(1), 431),
        (HandshakeError::MalformedHttp("x".into()), 400),
        (HandshakeError::MethodNotGet("PUT".into()), 400),
        (HandshakeError::HttpVersionTooOld, 400),
        (HandshakeError::MissingHost, 400),
        (HandshakeError::NotWebSocketUpgrade, 426),
        (HandshakeError::MissingConnectionUpgrade, 400),
        (HandshakeError::InvalidKey, 400),
        (HandshakeError::UnsupportedVersion(Some("8".into())), 426),
        (HandshakeError::UnsupportedVersion(None), 426),
        (HandshakeError::InvalidProtocolHeader, 400),
        (HandshakeError::InvalidExtensionHeader, 400),
    ];
    for (error, status) in table {
        assert_eq!(error.status(), Some(status), "{error:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// §4.1 item 7: Sec-WebSocket-Key generation
// ---------------------------------------------------------------------------------------------

/// §4.1 item 7: "a nonce consisting of a randomly selected 16-byte value that has been
/// base64-encoded"; "MUST be selected randomly for each connection".
#[test]
fn client_generates_random_valid_keys() {
    let mut rng = OsSeededRng::new();
    let mut seen = HashSet::new();
    for _ in 0..200 {
        let key = generate_key(&mut rng);
        assert_eq!(key.len(), 24, "{key}");
        assert!(key.ends_with("=="), "{key}");
        assert!(is_valid_key(&key), "{key}");
        assert!(seen.insert(key.clone()), "key {key} repeated");
    }
    // Two generators seeded from the OS do not agree either.
    assert_ne!(generate_key(&mut OsSeededRng::new()), generate_key(&mut OsSeededRng::new()));
    // Each ClientRequest draws its own key.
    let a = ClientRequest::new("h", "/", &mut rng);
    let b = ClientRequest::new("h", "/", &mut rng);
    assert_ne!(a.key(), b.key());
    assert!(is_valid_key(a.key()));
}

/// An injected random source gives a deterministic key: 16 bytes are asked for, then encoded.
#[test]
fn client_key_from_injected_source_is_deterministic() {
    let mut asked = Vec::new();
    let mut counting = |bytes: &mut [u8]| {
        asked.push(bytes.len());
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = i as u8;
        }
    };
    assert_eq!(generate_key(&mut counting), "AAECAwQFBgcICQoLDA0ODw==");
    assert_eq!(generate_key(&mut |bytes: &mut [u8]| bytes.fill(0)), "AAAAAAAAAAAAAAAAAAAAAA==");
    let client = ClientRequest::new("h", "/", &mut counting);
    assert_eq!(client.key(), "AAECAwQFBgcICQoLDA0ODw==");
    assert_eq!(asked, [16, 16]);
    // The same seed gives the same key.
    assert_eq!(
        generate_key(&mut OsSeededRng::from_seed([7; 32])),
        generate_key(&mut OsSeededRng::from_seed([7; 32]))
    );
    assert_ne!(
        generate_key(&mut OsSeededRng::from_seed([7; 32])),
        generate_key(&mut OsSeededRng::from_seed([8; 32]))
    );
}

/// §4.2.1 item 5, §11.3.1: valid keys are base64 of exactly 16 bytes.
#[test]
fn server_key_validity() {
    let table = [
        (RFC_KEY, true),
        (LAB_KEY, true),
        ("AAAAAAAAAAAAAAAAAAAAAA==", true),
        (" dGhlIHNhbXBsZSBub25jZQ== ", true),
        ("", false),
        ("AAAAAAAAAAAAAAAAAAAA", false),     // 15 bytes
        ("AAAAAAAAAAAAAAAAAAAAAAA=", false), // 17 bytes
        ("AAAAAAAAAAAAAAAAAAAAAAAA", false), // 18 bytes
        ("dGhlIHNhbXBsZSBub25jZQ", false),   // no padding
        ("!!!!!!!!!!!!!!!!!!!!!!==", false),
        ("dGhlIHNhbXBsZSBub25jZQ==dGhl", false),
        ("dGhlIHNhbXBs ZSBub25jZQ==", false),
    ];
    for (key, valid) in table {
        assert_eq!(is_valid_key(key), valid, "{key:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// §9.1: Sec-WebSocket-Extensions
// ---------------------------------------------------------------------------------------------

fn param(name: &str, value: Option<&str>) -> ExtensionParam {
    ExtensionParam { name: name.into(), value: value.map(str::to_owned) }
}

/// §9.1 grammar, valid values: parameters without value, with a token or a quoted-string value,
/// escapes, optional white space, several extensions, empty list elements.
#[test]
fn extension_decodes_valid_lists() {
    let deflate = |params: Vec<ExtensionParam>| Extension { name: "permessage-deflate".into(), params };
    let table: Vec<(&str, Vec<Extension>)> = vec![
        ("permessage-deflate", vec![deflate(vec![])]),
        (
            "permessage-deflate; client_max_window_bits",
            vec![deflate(vec![param("client_max_window_bits", None)])],
        ),
        (
            "permessage-deflate; client_max_window_bits=10; server_no_context_takeover",
            vec![deflate(vec![
                param("client_max_window_bits", Some("10")),
                param("server_no_context_takeover", None),
            ])],
        ),
        ("x; y=\"10\"", vec![Extension::new("x").with_param("y", Some("10"))]),
        ("x; y=\"1\\0\"", vec![Extension::new("x").with_param("y", Some("10"))]),
        ("x; y=\"\\t\\o\\k\\-\\!\"", vec![Extension::new("x").with_param("y", Some("tok-!"))]),
        (
            " \tpermessage-deflate \t;\t client_max_window_bits \t=\t 10 \t, x-foo ;a = \"b\" ",
            vec![
                deflate(vec![param("client_max_window_bits", Some("10"))]),
                Extension::new("x-foo").with_param("a", Some("b")),
            ],
        ),
        (
            "a, b; c, d; e=f; g",
            vec![
                Extension::new("a"),
                Extension::new("b").with_param("c", None),
                Extension::new("d").with_param("e", Some("f")).with_param("g", None),
            ],
        ),
        ("a,,b", vec![Extension::new("a"), Extension::new("b")]),
        (", a , ,", vec![Extension::new("a")]),
        ("", vec![]),
        ("  ", vec![]),
        (",", vec![]),
        ("!#$%&'*+-.^_`|~09AZaz", vec![Extension::new("!#$%&'*+-.^_`|~09AZaz")]),
        ("x; y=a; y=b", vec![Extension::new("x").with_param("y", Some("a")).with_param("y", Some("b"))]),
    ];
    for (value, expected) in table {
        assert_eq!(Extension::decode_list(value), Ok(expected), "{value:?}");
    }
}

/// §9.1: "When using the quoted-string syntax variant, the value after quoted-string unescaping
/// MUST conform to the 'token' ABNF"; the rest of the grammar violated in each way.
#[test]
fn extension_rejects_invalid_lists() {
    let table = [
        ("quoted value with a space", "x; y=\"a b\""),
        ("quoted value with an escaped quote", "x; y=\"a\\\"b\""),
        ("quoted value with a comma", "x; y=\"a,b\""),
        ("empty quoted value", "x; y=\"\""),
        ("unterminated quote", "x; y=\"abc"),
        ("quote closed by an escape", "x; y=\"abc\\\""),
        ("lone backslash", "x; y=\"abc\\"),
        ("missing name", "; y=1"),
        ("missing name after comma", "a, ; y=1"),
        ("semicolon without param name", "x;"),
        ("semicolon then semicolon", "x; ; y"),
        ("param value without name", "x; =1"),
        ("equals without value", "x; y="),
        ("equals without value then comma", "x; y= , z"),
        ("extension with a value", "x=1"),
        ("stray token", "x y"),
        ("stray after param", "x; y=1 z"),
        ("two equals", "x; y=1=2"),
        ("slash in name", "x/1"),
        ("slash in value", "x; y=a/b"),
        ("quoted name", "\"x\""),
        ("quoted param name", "x; \"y\"=1"),
        ("non-ascii value", "x; y=\u{e9}"),
        ("non-ascii quoted value", "x; y=\"\u{e9}\""),
        ("text after quoted value", "x; y=\"1\"2"),
    ];
    for (name, value) in table {
        assert_eq!(
            Extension::decode_list(value),
            Err(HandshakeError::InvalidExtensionHeader),
            "{name}: {value:?}"
        );
    }
}

/// §9.1: extensions written as a field value: `name; param=value, name`.
#[test]
fn extension_encodes_and_displays() {
    let deflate = Extension::new("permessage-deflate")
        .with_param("client_max_window_bits", Some("10"))
        .with_param("server_no_context_takeover", None);
    assert_eq!(
        deflate.to_string(),
        "permessage-deflate; client_max_window_bits=10; server_no_context_takeover"
    );
    assert_eq!(Extension::new("x-foo").to_string(), "x-foo");
    assert_eq!(
        Extension::encode_list(&[deflate.clone(), Extension::new("x-foo")]),
        "permessage-deflate; client_max_window_bits=10; server_no_context_takeover, x-foo"
    );
    assert_eq!(Extension::encode_list(&[]), "");
    // A value that is not a token is written as a quoted-string, escaping `"` and `\`.
    assert_eq!(Extension::new("x").with_param("y", Some("a b")).to_string(), "x; y=\"a b\"");
    assert_eq!(Extension::new("x").with_param("y", Some("a\"b\\c")).to_string(), r#"x; y="a\"b\\c""#);
    assert_eq!(Extension::new("x").with_param("y", Some("")).to_string(), "x; y=\"\"");
    assert_eq!(Extension::decode_list(&deflate.to_string()), Ok(vec![deflate]));
}

/// `[tchar]` of RFC 7230 §3.2.6.
const TOKEN: &str = "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}";

fn arb_extension() -> impl Strategy<Value = Extension> {
    (TOKEN, proptest::collection::vec((TOKEN, proptest::option::of(TOKEN)), 0..5)).prop_map(
        |(name, params)| Extension {
            name,
            params: params.into_iter().map(|(name, value)| ExtensionParam { name, value }).collect(),
        },
    )
}

/// White space allowed around `,`, `;` and `=` (OWS).
fn ows() -> impl Strategy<Value = String> {
    "[ \t]{0,2}"
}

proptest! {
    /// §9.1: any list of extensions with token names and values round trips through
    /// encode_list and decode_list.
    #[test]
    fn extension_list_round_trips(extensions in proptest::collection::vec(arb_extension(), 0..6)) {
        let encoded = Extension::encode_list(&extensions);
        prop_assert_eq!(Extension::decode_list(&encoded), Ok(extensions.clone()));
        for extension in &extensions {
            prop_assert_eq!(Extension::decode_list(&extension.to_string()), Ok(vec![extension.clone()]));
        }
    }

    /// §9.1: the same list written with any white space around the separators, and each value
    /// as a token or as a quoted-string (with escapes), decodes to the same extensions.
    #[test]
    fn extension_list_decodes_any_spelling(
        extensions in proptest::collection::vec(arb_extension(), 1..5),
        spaces in proptest::collection::vec(ows(), 64),
        quoting in proptest::collection::vec(0u8..3, 32),
    ) {
        let mut space = spaces.iter().cycle();
        let mut quote = quoting.iter().cycle();
        let mut text = String::new();
        for (i, extension) in extensions.iter().enumerate() {
            if i > 0 {
                text.push_str(&format!("{},{}", space.next().unwrap(), space.next().unwrap()));
            }
            text.push_str(&extension.name);
            for param in &extension.params {
                text.push_str(&format!("{};{}{}", space.next().unwrap(), space.next().unwrap(), param.name));
                if let Some(value) = &param.value {
                    text.push_str(&format!("{}={}", space.next().unwrap(), space.next().unwrap()));
                    match quote.next().unwrap() {
                        0 => text.push_str(value),
                        1 => text.push_str(&format!("\"{value}\"")),
                        _ => {
                            let escaped: String = value.chars().flat_map(|c| ['\\', c]).collect();
                            text.push_str(&format!("\"{escaped}\""));
                        }
                    }
                }
            }
        }
        prop_assert_eq!(Extension::decode_list(&text), Ok(extensions), "{:?}", text);
    }

    /// §4.1, §4.2.2: whatever the key, the client accepts the server's answer to its request, and
    /// the server's accept value is the one of §4.2.2 item 5.4.
    #[test]
    fn client_and_server_agree_on_any_key(nonce in any::<[u8; 16]>()) {
        let client = ClientRequest::new("h", "/", &mut |bytes: &mut [u8]| bytes.copy_from_slice(&nonce));
        prop_assert!(is_valid_key(client.key()));
        let mut request = Vec::new();
        client.encode(&mut request);
        let (upgrade, _) = decode_upgrade(&request);
        prop_assert_eq!(upgrade.key(), client.key());
        let accept = upgrade.accept();
        prop_assert_eq!(accept.accept_key(), accept_key(client.key()));
        let mut response = Vec::new();
        accept.encode(&mut response);
        let (accepted, consumed) = decode_accepted(&client, &response);
        prop_assert_eq!(consumed, response.len());
        prop_assert_eq!(accepted.protocol(), None);
    }
}

// ---------------------------------------------------------------------------------------------
// Header fields (RFC 7230 §3.2, §7)
// ---------------------------------------------------------------------------------------------

fn headers_of(input: &[u8]) -> Headers {
    decode_request(input).0.headers
}

/// RFC 7230 §3.2: field names are case-insensitive; `get` gives the first field's value,
/// without surrounding white space, if it is UTF-8.
#[test]
fn headers_get_is_case_insensitive() {
    let headers = headers_of(
        b"GET / HTTP/1.1\r\nHost:   server.example.com  \r\nAccept: x, y\r\naccept: z\r\nX-Bin: \xff\xfe\r\n\r\n",
    );
    assert_eq!(headers.get("host"), Some("server.example.com"));
    assert_eq!(headers.get("HOST"), Some("server.example.com"));
    assert_eq!(headers.get("Accept"), Some("x, y"));
    assert_eq!(headers.get("missing"), None);
    assert_eq!(headers.get("x-bin"), None);
    assert_eq!(headers.get_all("X-BIN").collect::<Vec<_>>(), [b"\xff\xfe".as_slice()]);
    assert_eq!(headers.count("ACCEPT"), 2);
    assert_eq!(headers.count("missing"), 0);
    let names: Vec<&str> = headers.fields().iter().map(|field| field.name.as_str()).collect();
    assert_eq!(names, ["Host", "Accept", "accept", "X-Bin"]);
    assert_eq!(headers.fields()[2].value, b"z");
}

/// RFC 7230 §7: `tokens` splits the comma-separated lists of every field of that name, trims
/// the elements and skips empty ones.
#[test]
fn headers_tokens_split_lists_across_fields() {
    let headers = headers_of(
        b"GET / HTTP/1.1\r\nAccept: x, y\r\nHost: h\r\naccept: z\r\nX-List: , a,, b ,\r\nX-Empty: \r\n\
          X-Bin: \xff, q\r\n\r\n",
    );
    assert_eq!(headers.tokens("ACCEPT").collect::<Vec<_>>(), ["x", "y", "z"]);
    assert_eq!(headers.tokens("x-list").collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(headers.tokens("X-Empty").count(), 0);
    assert_eq!(headers.tokens("X-Bin").count(), 0);
    assert_eq!(headers.tokens("missing").count(), 0);
}

/// `has_token`: both the name and the token are case-insensitive; a token must be a whole
/// element.
#[test]
fn headers_has_token() {
    let headers = headers_of(
        b"GET / HTTP/1.1\r\nConnection: keep-alive\r\nconnection: Upgrade\r\nUpgrade: WebSocket\r\n\r\n",
    );
    assert!(headers.has_token("Connection", "upgrade"));
    assert!(headers.has_token("CONNECTION", "KEEP-ALIVE"));
    assert!(headers.has_token("upgrade", "websocket"));
    assert!(!headers.has_token("Connection", "close"));
    assert!(!headers.has_token("Connection", "upgr"));
    assert!(!headers.has_token("Connection", "keep-alive, Upgrade"));
    assert!(!headers.has_token("Connection", ""));
    assert!(!headers.has_token("Upgrade", "upgrade"));
    assert!(!headers.has_token("Missing", "upgrade"));
}
