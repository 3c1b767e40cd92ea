//! Stable hashes (FNV-1a) for everything the simulation derives from a name instead of drawing at
//! random: start jitter, heartbeat phases, fake container IDs and image digests.
//!
//! Deriving them from names keeps the simulation deterministic (tests need no seeded RNG) and
//! restart-safe: after `everynode up` restarts, a pod gets the same jitter and a node the same
//! heartbeat slot as before.

use std::fmt::Write as _;
use std::time::Duration;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// A 64-bit FNV-1a hash of the parts, with a separator between them so `("ab", "c")` and
/// `("a", "bc")` differ.
pub fn hash(parts: &[&str]) -> u64 {
    let mut h = FNV_OFFSET;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(byte);
            h = h.wrapping_mul(FNV_PRIME);
        }
    }
    // FNV's low bits mix poorly for short inputs; one round of a finalizer (splitmix64) fixes the
    // spread that `fraction_of` relies on.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A duration in `[0, span)` picked by the parts' hash.
pub fn fraction_of(span: Duration, parts: &[&str]) -> Duration {
    let nanos = span.as_nanos();
    if nanos == 0 {
        return Duration::ZERO;
    }
    let picked = u128::from(hash(parts)) % nanos;
    Duration::from_nanos(u64::try_from(picked).unwrap_or(u64::MAX))
}

/// `len` lowercase hex digits derived from the parts (container IDs, digests, machine IDs).
pub fn hex(len: usize, parts: &[&str]) -> String {
    let mut out = String::with_capacity(len + 16);
    let mut round = 0u32;
    while out.len() < len {
        let round_text = round.to_string();
        let mut salted: Vec<&str> = parts.to_vec();
        salted.push(&round_text);
        let _ = write!(out, "{:016x}", hash(&salted));
        round += 1;
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_stable_and_separate_parts() {
        assert_eq!(hash(&["worker-1"]), hash(&["worker-1"]));
        assert_ne!(hash(&["ab", "c"]), hash(&["a", "bc"]));
    }

    #[test]
    fn fractions_stay_within_the_span_and_spread() {
        let span = Duration::from_secs(10);
        let mut buckets = [0u32; 10];
        for i in 0..10_000 {
            let f = fraction_of(span, &[&format!("worker-{i}")]);
            assert!(f < span);
            buckets[usize::try_from(f.as_secs()).unwrap()] += 1;
        }
        // Uniform would be 1000 per bucket; anything near it shows the phases spread.
        assert!(buckets.iter().all(|&b| (800..1200).contains(&b)), "{buckets:?}");
        assert_eq!(fraction_of(Duration::ZERO, &["x"]), Duration::ZERO);
    }

    #[test]
    fn hex_has_the_requested_length() {
        let id = hex(64, &["uid", "c", "0"]);
        assert_eq!(id.len(), 64);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(id, hex(64, &["uid", "c", "1"]));
    }
}
