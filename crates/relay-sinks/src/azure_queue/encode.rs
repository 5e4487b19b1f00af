//! What goes on the wire: the message text of an event.
//!
//! Azure Storage Queues carry text (the SDK XML-escapes it into `<MessageText>`). The
//! text is the CloudEvents JSON envelope (structured mode), base64-encoded by default —
//! what the Azure Functions queue trigger decodes by default — or as is (`encoding =
//! "none"`). There is no CloudEvents binding for Storage Queues and no message
//! attributes: the envelope carries everything.
//!
//! The service takes at most 64 KiB of message text (counted as UTF-8 bytes before XML
//! escaping; a larger one is refused with 413 `RequestBodyTooLarge`). Base64 makes
//! 48 KiB of envelope into 64 KiB of text.

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};

use super::config::Encoding;

/// Most message text the service stores.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// Length of the text for an envelope of `len` bytes.
pub fn text_len(encoding: Encoding, len: usize) -> usize {
    match encoding {
        Encoding::Base64 => len.div_ceil(3) * 4,
        Encoding::None => len,
    }
}

/// The message text for `body`; `Err` says why it can never be a message with this
/// encoding (not the size: callers check [`text_len`] first).
pub fn text(encoding: Encoding, body: &[u8]) -> Result<String, String> {
    match encoding {
        Encoding::Base64 => Ok(B64.encode(body)),
        Encoding::None => {
            let s = std::str::from_utf8(body)
                .map_err(|_| "the envelope is not UTF-8; use encoding = \"base64\"".to_string())?;
            if let Some(c) = s.chars().find(|c| !xml_char(*c)) {
                return Err(format!(
                    "the envelope contains U+{:04X}, which XML cannot carry; use encoding = \"base64\"",
                    c as u32
                ));
            }
            Ok(s.to_string())
        }
    }
}

/// XML 1.0 characters: #x9 #xA #xD #x20–#xD7FF #xE000–#xFFFD #x10000–#x10FFFF.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_the_default_and_counts_four_per_three() {
        assert_eq!(text(Encoding::Base64, b"hi").unwrap(), "aGk=");
        assert_eq!(
            text_len(Encoding::Base64, 49_152),
            MAX_TEXT_BYTES,
            "48 KiB fits exactly"
        );
        assert!(text_len(Encoding::Base64, 49_153) > MAX_TEXT_BYTES);
        for n in [0, 1, 2, 3, 100, 1001] {
            assert_eq!(
                text(Encoding::Base64, &vec![7; n]).unwrap().len(),
                text_len(Encoding::Base64, n)
            );
        }
    }

    #[test]
    fn none_keeps_the_text_and_refuses_what_xml_cannot_carry() {
        assert_eq!(
            text(Encoding::None, b"{\"a\":\"<&>\"}").unwrap(),
            "{\"a\":\"<&>\"}"
        );
        assert_eq!(text_len(Encoding::None, 10), 10);
        assert!(text(Encoding::None, &[0xff]).is_err());
        assert!(text(Encoding::None, "a\u{1}b".as_bytes())
            .unwrap_err()
            .contains("U+0001"));
        assert!(text(Encoding::None, "\u{FFFF}".as_bytes()).is_err());
    }
}
