//! HMAC-SHA256 body signatures (`sha256=<hex>`), shared by incoming webhooks and outgoing notifications.
//!
//! The signature is a real HMAC over the exact bytes on the wire, not `SHA256(secret || body)` (which
//! is open to length extension), and comparisons go through `Mac::verify_slice`, which takes the same
//! time whether the first or the last byte differs.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The scheme prefix of a signature header value, as GitHub and most registries send it.
pub const SIGNATURE_PREFIX: &str = "sha256=";

/// A shared secret for signing or verifying bodies. Its `Debug` never shows the bytes, so it can sit in
/// configuration structs that get logged.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl SigningSecret {
    /// Wraps secret bytes. An empty secret is refused: it would make every signature forgeable.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Option<Self> {
        let bytes = bytes.into();
        if bytes.is_empty() { None } else { Some(SigningSecret(bytes)) }
    }

    /// The raw bytes, for the few places that must key a MAC with them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC is defined for keys of any length (long keys are hashed first), so this cannot fail.
        match HmacSha256::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        }
    }
}

/// Deserialises from a non-empty string, so a secret can sit in a configuration file.
impl<'de> serde::Deserialize<'de> for SigningSecret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        SigningSecret::new(text).ok_or_else(|| serde::de::Error::custom("secret must not be empty"))
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

/// Why a signature did not verify. Never retryable: the sender must fix its secret or format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header value does not start with `sha256=`.
    #[error("signature must have the form `sha256=<hex>`")]
    Format,
    /// The part after `sha256=` is not hexadecimal.
    #[error("signature is not hexadecimal")]
    Hex,
    /// Well-formed, but not the HMAC of this body under our secret.
    #[error("signature does not match the body")]
    Mismatch,
}

/// Signs `body`, returning the header value `sha256=<lowercase hex>`.
pub fn sign(secret: &SigningSecret, body: &[u8]) -> String {
    let mut mac = secret.mac();
    mac.update(body);
    format!("{SIGNATURE_PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a `sha256=<hex>` header value against `body` in constant time.
pub fn verify(secret: &SigningSecret, body: &[u8], header_value: &str) -> Result<(), SignatureError> {
    let hex_part = header_value.trim().strip_prefix(SIGNATURE_PREFIX).ok_or(SignatureError::Format)?;
    let tag = hex::decode(hex_part).map_err(|_| SignatureError::Hex)?;
    let mut mac = secret.mac();
    mac.update(body);
    mac.verify_slice(&tag).map_err(|_| SignatureError::Mismatch)
}

/// Compares a presented token with the secret in constant time.
///
/// Both are run through HMAC keyed with the secret and the fixed-size results compared with
/// `verify_slice`, so neither the position of the first differing byte nor the token's length leaks.
pub fn token_matches(secret: &SigningSecret, token: &str) -> bool {
    let mut expected = secret.mac();
    expected.update(&secret.0);
    let expected = expected.finalize().into_bytes();
    let mut presented = secret.mac();
    presented.update(token.as_bytes());
    presented.verify_slice(&expected).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SigningSecret {
        SigningSecret::new(s).unwrap()
    }

    #[test]
    fn signature_matches_a_known_hmac_sha256_vector() {
        // RFC 4231 test case 2.
        let value = sign(&secret("Jefe"), b"what do ya want for nothing?");
        assert_eq!(value, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn signature_verifies_and_rejects_tampering() {
        let key = secret("s3cret");
        let value = sign(&key, b"{\"a\":1}");
        assert_eq!(verify(&key, b"{\"a\":1}", &value), Ok(()));
        assert_eq!(verify(&key, b"{\"a\":2}", &value), Err(SignatureError::Mismatch));
        assert_eq!(verify(&secret("other"), b"{\"a\":1}", &value), Err(SignatureError::Mismatch));
        assert_eq!(verify(&key, b"{\"a\":1}", &value.to_uppercase().replace("SHA256", "sha256")), Ok(()));
    }

    #[test]
    fn malformed_signatures_are_told_apart() {
        let key = secret("s3cret");
        assert_eq!(verify(&key, b"x", "sha1=abcd"), Err(SignatureError::Format));
        assert_eq!(verify(&key, b"x", "sha256=zz"), Err(SignatureError::Hex));
        assert_eq!(verify(&key, b"x", "sha256=abcd"), Err(SignatureError::Mismatch));
    }

    #[test]
    fn token_comparison_accepts_only_the_secret() {
        let key = secret("s3cret");
        assert!(token_matches(&key, "s3cret"));
        assert!(!token_matches(&key, "s3cre"));
        assert!(!token_matches(&key, "s3cret "));
        assert!(!token_matches(&key, ""));
    }

    #[test]
    fn empty_secret_is_refused_and_debug_is_redacted() {
        assert!(SigningSecret::new("").is_none());
        assert_eq!(format!("{:?}", secret("s3cret")), "SigningSecret(<redacted>)");
    }
}
