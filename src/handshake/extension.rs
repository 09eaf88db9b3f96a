//! RFC 6455 §9.1: negotiating extensions with `Sec-WebSocket-Extensions`.
//!
//! ```text
//! extension-list = 1#extension
//! extension = extension-token *( ";" extension-param )
//! extension-token = registered-token
//! registered-token = token
//! extension-param = token [ "=" (token | quoted-string) ]
//!     ;When using the quoted-string syntax variant, the value
//!     ;after quoted-string unescaping MUST conform to the
//!     ;'token' ABNF.
//! ```
//!
//! White space (`OWS`) is allowed around `,`, `;` and `=`, as in every HTTP list.

use std::fmt;

use crate::error::HandshakeError;
use crate::handshake::{is_tchar, is_token};

/// One extension offered or accepted, with its parameters (§9.1).
///
/// # Examples
///
/// ```
/// use rfc6455::handshake::extension::Extension;
///
/// let offers = Extension::decode_list("permessage-deflate; client_max_window_bits, x-foo")?;
/// assert_eq!(offers[0].name, "permessage-deflate");
/// assert_eq!(offers[0].params[0].name, "client_max_window_bits");
/// assert_eq!(offers[0].params[0].value, None);
/// assert_eq!(offers[1].to_string(), "x-foo");
/// # Ok::<(), rfc6455::HandshakeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// The extension token, such as `permessage-deflate`.
    pub name: String,
    /// Its parameters, in order.
    pub params: Vec<ExtensionParam>,
}

/// An extension parameter: a token, with an optional value (already unquoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionParam {
    /// The parameter name.
    pub name: String,
    /// The value, unquoted; `None` for a parameter without `=`.
    pub value: Option<String>,
}

impl Extension {
    /// An extension without parameters.
    pub fn new(name: impl Into<String>) -> Extension {
        Extension { name: name.into(), params: Vec::new() }
    }

    /// The same extension with one more parameter.
    pub fn with_param(mut self, name: impl Into<String>, value: Option<&str>) -> Extension {
        self.params.push(ExtensionParam { name: name.into(), value: value.map(str::to_owned) });
        self
    }

    /// Parses one `Sec-WebSocket-Extensions` field value into its extensions.
    ///
    /// Empty list elements are skipped, as the `#rule` allows; an empty value gives an empty list.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::InvalidExtensionHeader`] where the value breaks the grammar of §9.1.
    pub fn decode_list(value: &str) -> Result<Vec<Extension>, HandshakeError> {
        let mut parser = Parser { rest: value.as_bytes() };
        let mut extensions = Vec::new();
        loop {
            parser.skip_white_space();
            if parser.rest.is_empty() {
                return Ok(extensions);
            }
            if parser.eat(b',') {
                continue;
            }
            extensions.push(parser.extension()?);
            parser.skip_white_space();
            if !parser.rest.is_empty() && !parser.eat(b',') {
                return Err(HandshakeError::InvalidExtensionHeader);
            }
        }
    }

    /// Writes a list of extensions as a field value: `a; x=1, b`.
    pub fn encode_list(extensions: &[Extension]) -> String {
        let items: Vec<String> = extensions.iter().map(Extension::to_string).collect();
        items.join(", ")
    }
}

impl fmt::Display for Extension {
    /// The extension as a list element. A value that is not a token is written as a
    /// quoted-string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for param in &self.params {
            write!(f, "; {}", param.name)?;
            match &param.value {
                None => {}
                Some(value) if is_token(value) => write!(f, "={value}")?,
                Some(value) => {
                    f.write_str("=\"")?;
                    for c in value.chars() {
                        if c == '"' || c == '\\' {
                            f.write_str("\\")?;
                        }
                        write!(f, "{c}")?;
                    }
                    f.write_str("\"")?;
                }
            }
        }
        Ok(())
    }
}

/// A cursor over a field value.
struct Parser<'a> {
    rest: &'a [u8],
}

impl Parser<'_> {
    fn skip_white_space(&mut self) {
        while let [b' ' | b'\t', rest @ ..] = self.rest {
            self.rest = rest;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        match self.rest {
            [first, rest @ ..] if *first == byte => {
                self.rest = rest;
                true
            }
            _ => false,
        }
    }

    fn token(&mut self) -> Result<String, HandshakeError> {
        let len = self.rest.iter().take_while(|byte| is_tchar(**byte)).count();
        if len == 0 {
            return Err(HandshakeError::InvalidExtensionHeader);
        }
        let (token, rest) = self.rest.split_at(len);
        self.rest = rest;
        // tchar is ASCII, so this is valid UTF-8.
        Ok(String::from_utf8_lossy(token).into_owned())
    }

    /// A quoted-string, unescaped; §9.1 requires the result to be a token.
    fn quoted_token(&mut self) -> Result<String, HandshakeError> {
        let mut value = Vec::new();
        loop {
            match self.rest {
                [b'"', rest @ ..] => {
                    self.rest = rest;
                    break;
                }
                [b'\\', escaped, rest @ ..] => {
                    value.push(*escaped);
                    self.rest = rest;
                }
                [byte, rest @ ..] => {
                    value.push(*byte);
                    self.rest = rest;
                }
                [] => return Err(HandshakeError::InvalidExtensionHeader),
            }
        }
        match String::from_utf8(value) {
            Ok(value) if is_token(&value) => Ok(value),
            _ => Err(HandshakeError::InvalidExtensionHeader),
        }
    }

    fn extension(&mut self) -> Result<Extension, HandshakeError> {
        let mut extension = Extension::new(self.token()?);
        loop {
            self.skip_white_space();
            if !self.eat(b';') {
                return Ok(extension);
            }
            self.skip_white_space();
            let name = self.token()?;
            self.skip_white_space();
            let value = if self.eat(b'=') {
                self.skip_white_space();
                Some(if self.eat(b'"') { self.quoted_token()? } else { self.token()? })
            } else {
                None
            };
            extension.params.push(ExtensionParam { name, value });
        }
    }
}
