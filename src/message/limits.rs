//! The limits on incoming data (RFC 6455 §10.4: "implementations SHOULD impose
//! implementation-specific limits on frame sizes and the total message size after reassembly
//! from multiple frames"), each failing with 1009 before the memory is spent.

use crate::error::ProtocolError;

/// Default of [`MessageLimits::max_frame_size`] (and of [`crate::DecodeRules`]): 16 MiB.
pub use crate::frame::DEFAULT_MAX_FRAME_SIZE;
/// Default of [`MessageLimits::max_message_size`]: 64 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 64 << 20;
/// Default of [`MessageLimits::max_fragments`]: 131,072 fragments per message.
pub const DEFAULT_MAX_FRAGMENTS: usize = 1 << 17;

/// Limits on incoming data, each failing with 1009 (message too big) before the memory is spent.
///
/// # Examples
///
/// ```
/// use rfc6455::MessageLimits;
///
/// // The course's echo server: messages up to 64 KiB.
/// let limits = MessageLimits { max_message_size: 64 * 1024, ..MessageLimits::default() };
/// assert_eq!(limits.max_frame_size, 16 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageLimits {
    /// Largest frame payload, checked as soon as the frame header is decoded. Default
    /// [`DEFAULT_MAX_FRAME_SIZE`] (16 MiB).
    pub max_frame_size: u64,
    /// Largest message (the sum of its fragments; for a message transformed by an extension,
    /// also its size after the transform). Default [`DEFAULT_MAX_MESSAGE_SIZE`] (64 MiB).
    pub max_message_size: u64,
    /// Most fragments in one message. Default [`DEFAULT_MAX_FRAGMENTS`].
    pub max_fragments: usize,
}

impl Default for MessageLimits {
    fn default() -> MessageLimits {
        MessageLimits {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_fragments: DEFAULT_MAX_FRAGMENTS,
        }
    }
}

impl MessageLimits {
    /// No limit at all: for streaming multi-gigabyte messages through.
    pub fn unlimited() -> MessageLimits {
        MessageLimits { max_frame_size: u64::MAX >> 1, max_message_size: u64::MAX, max_fragments: usize::MAX }
    }
}

/// Checks a fragment count and an announced message size against the limits.
pub(super) fn check_size(fragments: usize, size: u64, limits: &MessageLimits) -> Result<(), ProtocolError> {
    if fragments > limits.max_fragments {
        return Err(ProtocolError::TooManyFragments(limits.max_fragments));
    }
    if size > limits.max_message_size {
        return Err(ProtocolError::MessageTooLarge { size, max: limits.max_message_size });
    }
    Ok(())
}
