//! The `http` feature: the server handshake from `http::Request`, answers as `http::Response`.

#![cfg(feature = "http")]

use rfc6455::handshake::{HttpResponse, OriginPolicy};
use rfc6455::http::{request_from_http, upgrade_request_from_http};
use rfc6455::{Config, Event, HandshakeError, Message};

fn parts(builder: http::request::Builder) -> http::request::Parts {
    builder.body(()).unwrap().into_parts().0
}

fn upgrade(version: &str) -> http::request::Builder {
    http::Request::get("/chat?room=1")
        .header("Host", "server.example.com")
        .header("Upgrade", "websocket")
        .header("Connection", "keep-alive, Upgrade")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("Sec-WebSocket-Version", version)
        .header("Sec-WebSocket-Protocol", "chat, superchat")
}

#[test]
fn server_validates_an_http_request_as_section_4_2_1_asks() {
    let request = upgrade_request_from_http(&parts(upgrade("13"))).unwrap();
    assert_eq!((request.path(), request.query()), ("/chat", Some("room=1")));
    assert_eq!(request.protocols(), ["chat", "superchat"]);
    let plain = request_from_http(&parts(http::Request::get("/").header("Host", "a"))).unwrap();
    assert!(!plain.is_websocket_upgrade());
}

#[test]
fn server_answers_101_as_an_http_response_section_4_2_2() {
    let request = upgrade_request_from_http(&parts(upgrade("13"))).unwrap();
    let accept = request.accept().with_protocol("chat").with_header("Server", "t");
    let response = accept.to_http().unwrap();
    assert_eq!(response.status(), http::StatusCode::SWITCHING_PROTOCOLS);
    let headers = response.headers();
    assert_eq!(headers["upgrade"], "websocket");
    assert_eq!(headers["connection"], "Upgrade");
    assert_eq!(headers["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(headers["sec-websocket-protocol"], "chat");
    assert_eq!(headers["server"], "t");
    let mut connection = accept.into_connection(std::time::Instant::now(), Config::default()).unwrap();
    assert!(connection.bytes_to_send().is_empty(), "the HTTP layer writes the 101");
    // §5.7: a masked "Hello".
    connection.receive(
        std::time::Instant::now(),
        &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58],
    );
    assert_eq!(connection.poll_event(), Some(Event::Message(Message::Text("Hello".into()))));
}

#[test]
fn server_426_carries_the_version_however_it_is_produced_section_4_4() {
    let error = upgrade_request_from_http(&parts(upgrade("8"))).unwrap_err();
    assert_eq!(error, HandshakeError::UnsupportedVersion(Some("8".into())));
    for response in
        [HttpResponse::from_error(&error), HttpResponse::new(426), HttpResponse::text(426, "upgrade\n")]
    {
        let response = response.to_http().unwrap();
        assert_eq!(response.status(), 426);
        assert_eq!(response.headers()["sec-websocket-version"], "13");
        assert_eq!(response.headers()["upgrade"], "websocket");
    }
}

#[test]
fn server_403_from_the_origin_policy_as_an_http_response_section_10_2() {
    let request =
        upgrade_request_from_http(&parts(upgrade("13").header("Origin", "https://evil.example"))).unwrap();
    let forbidden = OriginPolicy::SameOrigin.check(&request).unwrap_err().to_http().unwrap();
    assert_eq!(forbidden.status(), 403);
    assert!(!forbidden.body().is_empty());
}

#[test]
fn server_rejects_http2_requests_as_not_http1() {
    let error = request_from_http(&parts(upgrade("13").version(http::Version::HTTP_2))).unwrap_err();
    assert!(matches!(error, HandshakeError::MalformedHttp(_)));
}
