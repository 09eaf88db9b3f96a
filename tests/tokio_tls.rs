//! `wss://` (§3, §4.1 "If /secure/ is true, the client MUST perform a TLS handshake over the
//! connection after opening the connection and before sending the handshake data"): both ends
//! over TLS (tokio-rustls), with a certificate made in the test, through `rfc6455::tokio`.

use std::sync::Arc;

use rfc6455::handshake::client::ClientRequest;
use rfc6455::handshake::WsUrl;
use rfc6455::tokio::{accept, client, Options};
use rfc6455::{CloseCode, Message, OsSeededRng};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// A server and a client TLS configuration that trust one self-signed certificate for
/// `localhost`.
fn tls_configs() -> (ServerConfig, ClientConfig) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let certificate: CertificateDer<'static> = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let server = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certificate.clone()], key)
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(certificate).unwrap();
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (server, client)
}

#[tokio::test]
async fn wss_echo_with_tls_on_both_ends() {
    let (server_config, client_config) = tls_configs();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = TlsAcceptor::from(Arc::new(server_config));
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let tls = acceptor.accept(tcp).await.unwrap();
        let mut ws = accept(tls).await.unwrap();
        let mut count = 0;
        while let Some(message) = ws.recv().await {
            ws.send(message.unwrap()).await.unwrap();
            count += 1;
        }
        (count, ws.close_outcome().unwrap())
    });

    let url = WsUrl::parse(&format!("wss://localhost:{port}/secure")).unwrap();
    assert!(url.is_secure());
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let connector = TlsConnector::from(Arc::new(client_config));
    let tls = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
    let request = ClientRequest::from_url(&url, &mut OsSeededRng::new());
    let (mut ws, _) = client(tls, request, &Options::default()).await.unwrap();
    for size in [0usize, 125, 126, 65_535, 65_536, 200_000] {
        let message = Message::binary(vec![(size % 251) as u8; size]);
        ws.send(message.clone()).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), message, "{size} bytes");
    }
    ws.send(Message::text("über TLS")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("über TLS"));
    ws.close(CloseCode::NORMAL_CLOSURE, "done").await.unwrap();
    assert!(ws.recv().await.is_none());
    assert!(ws.close_outcome().unwrap().clean);

    let (count, outcome) = server.await.unwrap();
    assert_eq!(count, 7);
    assert!(outcome.clean, "{outcome}");
    assert_eq!(outcome.reason(), "done");
}

#[tokio::test]
async fn connect_refuses_wss_without_tls() {
    match rfc6455::tokio::connect("wss://localhost:1/").await {
        Err(rfc6455::tokio::Error::Handshake(rfc6455::HandshakeError::InvalidUrl(reason))) => {
            assert!(reason.contains("TLS"), "{reason}");
        }
        other => panic!("{:?}", other.map(drop)),
    }
}
