//! The content hash in `/openapi/v3` index URLs (`?hash=...`).
//!
//! Clients cache a group-version document under its URL, so the hash only has to change whenever
//! the bytes do; it defends against stale caches, not against adversaries. FNV-1a over 64 bits
//! does that in a dozen lines and needs no dependency (upstream uses SHA-512 for the same job).

/// FNV-1a 64-bit offset basis.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64-bit prime.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The upper-case hex FNV-1a 64 digest of `bytes` (16 characters, like upstream's upper-case hex).
pub fn hex_digest(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(FNV_OFFSET, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(FNV_PRIME));
    format!("{hash:016X}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_the_published_fnv1a_vectors() {
        assert_eq!(hex_digest(b""), "CBF29CE484222325");
        assert_eq!(hex_digest(b"a"), "AF63DC4C8601EC8C");
        assert_eq!(hex_digest(b"foobar"), "85944171F73967E8");
    }

    #[test]
    fn digest_changes_with_any_byte() {
        assert_ne!(hex_digest(br#"{"a":1}"#), hex_digest(br#"{"a":2}"#));
    }
}
