//! Fuzz target: `Extension::decode_list`, the `Sec-WebSocket-Extensions` grammar of RFC 6455
//! §9.1, on arbitrary field values.
//!
//! Oracles, beyond "does not panic":
//! - round trip: a list that decodes, encoded again with `Extension::encode_list`, decodes back to
//!   the same list (and that encoding is stable: encoding it again gives the same text);
//! - every name, parameter name and parameter value decoded is a `token` (§9.1: a quoted value
//!   "MUST conform to the 'token' ABNF" once unescaped);
//! - the only error is `InvalidExtensionHeader`, answered with 400 by a server.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rfc6455::handshake::extension::Extension;
use rfc6455::HandshakeError;
use rfc6455_fuzz::is_token;

fuzz_target!(|data: &[u8]| {
    // A field value is bytes; the library parses it once it is known to be UTF-8. Invalid UTF-8
    // becomes U+FFFD here, which is not a tchar, so it still exercises the error paths.
    let value = String::from_utf8_lossy(data);

    let extensions = match Extension::decode_list(&value) {
        Ok(extensions) => extensions,
        Err(error) => {
            assert_eq!(error, HandshakeError::InvalidExtensionHeader);
            assert_eq!(error.status(), Some(400));
            return;
        }
    };

    for extension in &extensions {
        assert!(is_token(&extension.name), "name {:?} is not a token", extension.name);
        for param in &extension.params {
            assert!(is_token(&param.name), "parameter name {:?} is not a token", param.name);
            if let Some(param_value) = &param.value {
                assert!(is_token(param_value), "parameter value {param_value:?} is not a token");
            }
        }
    }

    let encoded = Extension::encode_list(&extensions);
    let decoded = Extension::decode_list(&encoded)
        .unwrap_or_else(|error| panic!("{encoded:?}, encoded from {value:?}, does not decode: {error}"));
    assert_eq!(decoded, extensions, "{value:?} -> {encoded:?} -> another list");
    assert_eq!(Extension::encode_list(&decoded), encoded);
});
