//! RFC 6455 §8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds that the
//! byte stream is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket
//! Connection_." The check runs as the bytes arrive, so it fails at the first invalid byte.

use crate::error::ProtocolError;

/// An incremental UTF-8 validator (§8.1): feed it a message's bytes in any pieces.
///
/// It fails at the first byte that cannot be part of valid UTF-8, as soon as that byte is fed,
/// and accepts a code point split between pieces.
///
/// # Examples
///
/// ```
/// use rfc6455::Utf8Validator;
///
/// let mut validator = Utf8Validator::new();
/// let euro = "€".as_bytes(); // e2 82 ac
/// assert!(validator.feed(&euro[..1]).is_ok());
/// assert!(validator.feed(&euro[1..]).is_ok());
/// assert!(validator.finish().is_ok());
///
/// // 0xed 0xa0 starts a UTF-16 surrogate: invalid as soon as the second byte arrives.
/// assert!(validator.feed(&[0xed]).is_ok());
/// assert!(validator.feed(&[0xa0]).is_err());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    /// The start of a code point whose end has not been fed yet.
    pending: [u8; 4],
    pending_len: u8,
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub fn new() -> Utf8Validator {
        Utf8Validator::default()
    }

    /// Validates the next piece of the message.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::InvalidUtf8`] at the first invalid byte. The validator is then in an
    /// unspecified state: fail the connection.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), ProtocolError> {
        if self.pending_len > 0 {
            let have = usize::from(self.pending_len);
            let width = utf8_width(self.pending[0]);
            let take = (width - have).min(bytes.len());
            self.pending[have..have + take].copy_from_slice(&bytes[..take]);
            let now = have + take;
            match std::str::from_utf8(&self.pending[..now]) {
                Ok(_) => self.pending_len = 0,
                Err(error) if error.error_len().is_none() => {
                    // Still a valid start of a code point: all of `bytes` was taken.
                    self.pending_len = now as u8;
                    return Ok(());
                }
                Err(_) => return Err(ProtocolError::InvalidUtf8),
            }
            bytes = &bytes[take..];
        }
        match std::str::from_utf8(bytes) {
            Ok(_) => Ok(()),
            // `error_len() == None`: the input ends inside a code point that may still be valid.
            Err(error) if error.error_len().is_none() => {
                let rest = &bytes[error.valid_up_to()..];
                self.pending[..rest.len()].copy_from_slice(rest);
                self.pending_len = rest.len() as u8;
                Ok(())
            }
            Err(_) => Err(ProtocolError::InvalidUtf8),
        }
    }

    /// Ends the message: fails if it ends inside a code point. Resets the validator.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::InvalidUtf8`] if a code point is incomplete.
    pub fn finish(&mut self) -> Result<(), ProtocolError> {
        let complete = self.pending_len == 0;
        self.pending_len = 0;
        if complete {
            Ok(())
        } else {
            Err(ProtocolError::InvalidUtf8)
        }
    }
}

impl PartialEq for Utf8Validator {
    /// Equal when in the same state: the same bytes of an unfinished code point pending.
    fn eq(&self, other: &Utf8Validator) -> bool {
        self.pending[..usize::from(self.pending_len)] == other.pending[..usize::from(other.pending_len)]
    }
}

impl Eq for Utf8Validator {}

/// Length of the code point a valid lead byte starts.
fn utf8_width(lead: u8) -> usize {
    match lead {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        _ => 2,
    }
}
