//! RFC 7692 §5 and §7.1: negotiating permessage-deflate, both roles.

use rfc6455::deflate::{DeflateConfig, DeflateParams};
use rfc6455::handshake::extension::Extension;
use rfc6455::HandshakeError;

fn offers(header: &str) -> Vec<Extension> {
    Extension::decode_list(header).expect("a valid header")
}

fn accept(config: &DeflateConfig, header: &str) -> Option<String> {
    config.accept(&offers(header)).map(|params| params.to_response().to_string())
}

fn response(header: &str) -> Extension {
    offers(header).remove(0)
}

/// §5: "a server accepts at most one" of the offers, and may take any acceptable one: the first
/// that this server can accept, in the client's order of preference.
#[test]
fn rfc7692_5_server_accepts_the_first_acceptable_offer() {
    let config = DeflateConfig::RFC_DEFAULTS;
    assert_eq!(
        accept(&config, "x-other, permessage-deflate; server_max_window_bits=8, permessage-deflate; client_max_window_bits"),
        Some("permessage-deflate".to_owned())
    );
    assert_eq!(accept(&config, "x-other"), None);
    assert_eq!(accept(&config, ""), None);
}

/// §7: "A server MUST decline an extension negotiation offer for this extension if ... an
/// extension parameter not defined for use in an offer ... an extension parameter with an invalid
/// value ... multiple extension parameters with the same name".
#[test]
fn rfc7692_7_server_declines_unknown_repeated_and_invalid_parameters() {
    let config = DeflateConfig::RFC_DEFAULTS;
    for offer in [
        "permessage-deflate; x_unknown",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
        "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=true",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; client_max_window_bits=0x0f",
        "permessage-deflate; client_max_window_bits=-9",
        // A parameter defined for responses only is still one name each; an offer's own
        // names are the four, and nothing else.
        "permessage-deflate; Server_No_Context_Takeover",
    ] {
        assert_eq!(accept(&config, offer), None, "{offer}");
    }
    // A quoted value is the same value (RFC 6455 §9.1).
    assert_eq!(
        accept(&config, "permessage-deflate; client_max_window_bits=\"10\""),
        Some("permessage-deflate; client_max_window_bits=10".to_owned())
    );
}

/// §7.1.2.1: a server window of 8 bits cannot be honoured with zlib (9 at least): that offer is
/// declined, and the next one taken.
#[test]
fn rfc7692_7_1_2_1_server_declines_a_server_window_of_8_bits() {
    let config = DeflateConfig::RFC_DEFAULTS;
    assert_eq!(accept(&config, "permessage-deflate; server_max_window_bits=8"), None);
    assert_eq!(
        accept(
            &config,
            "permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9"
        ),
        Some("permessage-deflate; server_max_window_bits=9".to_owned())
    );
}

/// §7.1.1.1: a server accepts an offered `server_no_context_takeover` by stating it; it may state
/// it unasked. §7.1.1.2: it may require `client_no_context_takeover`.
#[test]
fn rfc7692_7_1_1_context_takeover_in_each_direction() {
    let default = DeflateConfig::RFC_DEFAULTS;
    assert_eq!(
        accept(&default, "permessage-deflate; server_no_context_takeover"),
        Some("permessage-deflate; server_no_context_takeover".to_owned())
    );
    // The client's own flag is a hint: nothing to answer.
    assert_eq!(
        accept(&default, "permessage-deflate; client_no_context_takeover"),
        Some("permessage-deflate".to_owned())
    );
    let lean =
        DeflateConfig { server_no_context_takeover: true, client_no_context_takeover: true, ..default };
    assert_eq!(
        accept(&lean, "permessage-deflate"),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover".to_owned())
    );
}

/// §7.1.2.1: an offered `server_max_window_bits` is answered with the same or a smaller value; a
/// server may state one unasked. §7.1.2.2: `client_max_window_bits` is stated only if offered,
/// and then no larger than an offered value.
#[test]
fn rfc7692_7_1_2_window_sizes_in_each_direction() {
    let small = DeflateConfig {
        server_max_window_bits: 12,
        client_max_window_bits: 11,
        ..DeflateConfig::RFC_DEFAULTS
    };
    assert_eq!(
        accept(&small, "permessage-deflate; server_max_window_bits=10"),
        Some("permessage-deflate; server_max_window_bits=10".to_owned())
    );
    assert_eq!(
        accept(&small, "permessage-deflate; server_max_window_bits=14"),
        Some("permessage-deflate; server_max_window_bits=12".to_owned())
    );
    // Not offered: the client's window cannot be limited; the server's may be stated.
    assert_eq!(
        accept(&small, "permessage-deflate"),
        Some("permessage-deflate; server_max_window_bits=12".to_owned())
    );
    assert_eq!(
        accept(&small, "permessage-deflate; client_max_window_bits"),
        Some("permessage-deflate; server_max_window_bits=12; client_max_window_bits=11".to_owned())
    );
    assert_eq!(
        accept(&small, "permessage-deflate; client_max_window_bits=9"),
        Some("permessage-deflate; server_max_window_bits=12; client_max_window_bits=9".to_owned())
    );
    // A client that will use 8 bits: its data inflates with any larger window.
    let params = small.accept(&offers("permessage-deflate; client_max_window_bits=8")).unwrap();
    assert_eq!(params.client_max_window_bits, 8);
    let params = DeflateConfig::RFC_DEFAULTS.accept(&offers("permessage-deflate")).unwrap();
    assert_eq!((params.server_max_window_bits, params.client_max_window_bits), (15, 15));
}

/// What a client offers for each setting.
#[test]
fn rfc7692_7_1_client_offers() {
    assert_eq!(DeflateConfig::RFC_DEFAULTS.offer().to_string(), "permessage-deflate; client_max_window_bits");
    let config = DeflateConfig {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: 10,
        client_max_window_bits: 12,
    };
    assert_eq!(
        config.offer().to_string(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=10; client_max_window_bits=12"
    );
}

/// §7: "A client MUST _Fail the WebSocket Connection_ if the peer server accepted an extension
/// negotiation offer for this extension with an extension negotiation response" that has an
/// unknown, repeated or invalid parameter, or a configuration the client does not support.
#[test]
fn rfc7692_7_client_fails_on_a_response_that_breaks_the_rules() {
    let default = DeflateConfig::RFC_DEFAULTS;
    let limited = DeflateConfig {
        server_no_context_takeover: true,
        server_max_window_bits: 10,
        client_max_window_bits: 12,
        ..DeflateConfig::RFC_DEFAULTS
    };
    for (config, answer) in [
        (default, "permessage-deflate; x_unknown"),
        (default, "permessage-deflate; server_no_context_takeover; server_no_context_takeover"),
        (default, "permessage-deflate; server_max_window_bits=16"),
        (default, "permessage-deflate; server_max_window_bits=08"),
        (default, "permessage-deflate; client_no_context_takeover=1"),
        // In a response, client_max_window_bits needs a value (§7.1.2.2).
        (default, "permessage-deflate; client_max_window_bits"),
        // A client window of 8 bits: zlib cannot compress with it.
        (default, "permessage-deflate; client_max_window_bits=8"),
        (default, "permessage-deflate; client_max_window_bits=10; client_max_window_bits=10"),
        (default, "x-other"),
        // More than offered.
        (limited, "permessage-deflate; server_no_context_takeover; server_max_window_bits=11"),
        (limited, "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=13"),
        // Asked for and not granted.
        (limited, "permessage-deflate; server_max_window_bits=10"),
        (limited, "permessage-deflate; server_no_context_takeover"),
    ] {
        let result = config.check_response(&response(answer));
        assert!(
            matches!(result, Err(HandshakeError::UnacceptableExtensionResponse(_))),
            "{answer}: {result:?}"
        );
    }
}

/// The client accepts what the rules allow, and the parameters it derives are the ones the
/// server stated.
#[test]
fn rfc7692_7_client_accepts_valid_responses() {
    let default = DeflateConfig::RFC_DEFAULTS;
    let params = default.check_response(&response("permessage-deflate")).unwrap();
    assert_eq!((params.server_max_window_bits, params.client_max_window_bits), (15, 15));
    assert!(!params.server_no_context_takeover && !params.client_no_context_takeover);
    let params = default
        .check_response(&response(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=8; client_max_window_bits=9",
        ))
        .unwrap();
    assert!(params.server_no_context_takeover && params.client_no_context_takeover);
    // A server window of 8 bits limits the server only: any larger window inflates it.
    assert_eq!((params.server_max_window_bits, params.client_max_window_bits), (8, 9));
    // The client keeps to its own offer's limit when the server states none.
    let limited = DeflateConfig { client_max_window_bits: 12, ..default };
    assert_eq!(limited.check_response(&response("permessage-deflate")).unwrap().client_max_window_bits, 12);
}

/// Whatever each side is configured with, a server's answer to the client's offer is accepted
/// by that client, and both derive the same parameters.
#[test]
fn rfc7692_7_1_both_sides_agree() {
    let bits = [9, 10, 12, 15];
    let mut checked = 0;
    for client_bits in bits {
        for server_bits in bits {
            for flags in 0..16u8 {
                let client = DeflateConfig {
                    server_no_context_takeover: flags & 1 != 0,
                    client_no_context_takeover: flags & 2 != 0,
                    server_max_window_bits: server_bits,
                    client_max_window_bits: client_bits,
                };
                let server = DeflateConfig {
                    server_no_context_takeover: flags & 4 != 0,
                    client_no_context_takeover: flags & 8 != 0,
                    server_max_window_bits: bits[(server_bits as usize) % 4],
                    client_max_window_bits: bits[(client_bits as usize) % 4],
                };
                let offer = client.offer();
                let agreed: DeflateParams = server.accept(std::slice::from_ref(&offer)).expect("acceptable");
                let answer = response(&agreed.to_response().to_string());
                let derived =
                    client.check_response(&answer).unwrap_or_else(|e| panic!("{offer} -> {answer}: {e}"));
                assert_eq!(
                    derived.server_max_window_bits, agreed.server_max_window_bits,
                    "{offer} -> {answer}"
                );
                assert_eq!(
                    derived.client_max_window_bits, agreed.client_max_window_bits,
                    "{offer} -> {answer}"
                );
                assert_eq!(derived.server_no_context_takeover, agreed.server_no_context_takeover);
                assert!(derived.client_no_context_takeover || !agreed.client_no_context_takeover);
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 256);
}

/// The recommended default: a server resets its compressor after each message and says so
/// (§7.1.1.1: a server may state `server_no_context_takeover` unasked); it asks nothing of the
/// client. A client with the default asks the server for it, and a server that does not grant
/// it fails the connection (§7.1.1.1's rule for an asked parameter).
#[test]
fn rfc7692_7_1_1_1_the_default_resets_the_servers_compressor() {
    let config = DeflateConfig::default();
    assert_eq!(
        accept(&config, "permessage-deflate; client_max_window_bits"),
        Some("permessage-deflate; server_no_context_takeover".to_owned())
    );
    assert_eq!(
        accept(&config, "permessage-deflate"),
        Some("permessage-deflate; server_no_context_takeover".to_owned())
    );
    assert_eq!(
        config.offer().to_string(),
        "permessage-deflate; server_no_context_takeover; client_max_window_bits"
    );
    let params = config.check_response(&response("permessage-deflate; server_no_context_takeover")).unwrap();
    assert!(params.server_no_context_takeover && !params.client_no_context_takeover);
    assert!(config.check_response(&response("permessage-deflate")).is_err());
    // The low-memory setting requires the client to reset too.
    assert_eq!(
        accept(&DeflateConfig::NO_CONTEXT_TAKEOVER, "permessage-deflate"),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover".to_owned())
    );
}
