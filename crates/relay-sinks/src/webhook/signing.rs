//! Standard Webhooks signatures (<https://www.standardwebhooks.com>, scheme `v1`):
//!
//! ```text
//! signed content      = "{webhook-id}.{webhook-timestamp}.{body}"
//! webhook-signature   = "v1,<base64(HMAC-SHA256(key, signed content))>"  one per secret, space-separated
//! secret              = "whsec_" + base64(key)
//! ```
//!
//! Hand-written over `hmac`/`sha2`/`base64` rather than the `standardwebhooks` crate (the
//! spec's Rust reference, 1.0.1). Both give byte-identical signatures (the spec's test
//! vector is checked below; the e2e tests verify every delivered signature with the PyPI
//! `standardwebhooks` package), but the crate holds one secret per `Webhook` (rotation
//! means several and joining their output), refuses unpadded base64 secrets that the
//! Python and JavaScript libraries accept, requires UTF-8 payloads and copies the payload
//! into a `String` per signature, and brings `base64 0.21` and `time`; `hmac`/`sha2` are
//! already compiled for the replication client's SCRAM. Signing is 20 lines here.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// Decodes secrets with or without `=` padding, as the reference libraries do.
const SECRET_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Signs with every configured secret (rotation: receivers accept any one that matches).
#[derive(Clone)]
pub struct Signer {
    keys: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({} secret(s))", self.keys.len())
    }
}

impl Signer {
    /// `secrets`: `whsec_<base64>` (the prefix may be left out). The message names the
    /// position of a bad secret, never its value.
    pub fn new<S: AsRef<str>>(secrets: &[S]) -> Result<Self, String> {
        if secrets.is_empty() {
            return Err("`secret` is an empty list".into());
        }
        let keys = secrets
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let text = s.as_ref().trim();
                let b64 = text.strip_prefix("whsec_").unwrap_or(text);
                let key = SECRET_BASE64
                    .decode(b64)
                    .map_err(|_| format!("`secret` #{}: not `whsec_` followed by base64", i + 1))?;
                if key.is_empty() {
                    return Err(format!("`secret` #{}: the key is empty", i + 1));
                }
                Ok(key)
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self { keys })
    }

    /// The `webhook-signature` value for one delivery: signs the body bytes as sent.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let ts = timestamp.to_string();
        let mut out = String::with_capacity(self.keys.len() * 48);
        for key in &self.keys {
            // HMAC accepts keys of any length; this cannot fail.
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
                continue;
            };
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(ts.as_bytes());
            mac.update(b".");
            mac.update(body);
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str("v1,");
            STANDARD.encode_string(mac.finalize().into_bytes(), &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector of the Standard Webhooks reference libraries.
    #[test]
    fn reference_test_vector() {
        let signer = Signer::new(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]).unwrap();
        assert_eq!(
            signer.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn rotation_signs_with_every_secret_and_padding_is_optional() {
        let padded = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let other = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
        let both = Signer::new(&[other, padded]).unwrap();
        let sig = both.sign("id", 1, b"{}");
        let parts: Vec<&str> = sig.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            parts[0],
            Signer::new(&[other]).unwrap().sign("id", 1, b"{}")
        );
        assert_eq!(
            parts[1],
            Signer::new(&[padded]).unwrap().sign("id", 1, b"{}")
        );
        // Unpadded base64 of a 20-byte key, with and without the prefix.
        let a = Signer::new(&["whsec_AAECAwQFBgcICQoLDA0ODxAREhM"]).unwrap();
        let b = Signer::new(&["AAECAwQFBgcICQoLDA0ODxAREhM="]).unwrap();
        assert_eq!(a.sign("x", 2, b"y"), b.sign("x", 2, b"y"));
    }

    #[test]
    fn bad_secrets_are_named_by_position_not_value() {
        let err = Signer::new(&["whsec_AAEC", "whsec_not base64!"]).unwrap_err();
        assert!(err.contains("#2"), "{err}");
        assert!(!err.contains("not base64!"), "{err}");
        assert!(Signer::new(&["whsec_"]).is_err());
        assert!(Signer::new::<&str>(&[]).is_err());
        let shown = format!("{:?}", Signer::new(&["whsec_AAEC"]).unwrap());
        assert_eq!(shown, "Signer(1 secret(s))");
    }
}
