//! When periodic node writes are due. Each node owns a fixed slot in every interval, picked from
//! its name, so the writes of a large fleet spread evenly over the interval instead of arriving
//! together (nodes registered in the same second would otherwise renew in the same second
//! forever), and a node keeps its slot across restarts.

use std::time::Duration;

use jiff::Timestamp;

use crate::clock::after;
use crate::fingerprint;

/// The first of `node`'s slots for `kind` writes at or after `not_before`. Slots are
/// `phase + k * interval` since the Unix epoch, `phase` drawn from the name.
pub fn next_slot(node: &str, kind: &str, not_before: Timestamp, interval: Duration) -> Timestamp {
    let period = interval.as_nanos();
    if period == 0 {
        return not_before;
    }
    let phase = fingerprint::fraction_of(interval, &[kind, node]).as_nanos();
    let since_epoch = u128::try_from(not_before.as_nanosecond()).unwrap_or(0);
    let into_period = since_epoch % period;
    let wait = (phase + period - into_period) % period;
    after(not_before, Duration::from_nanos(u64::try_from(wait).unwrap_or(u64::MAX)))
}

/// The next write after one made at `last`: at the node's first slot at least half an interval
/// later, so the gap between writes is between half and one and a half intervals the first
/// time, then exactly one interval.
pub fn after_write(node: &str, kind: &str, last: Timestamp, interval: Duration) -> Timestamp {
    next_slot(node, kind, after(last, interval / 2), interval)
}

/// The lease renewal interval for a fleet of `nodes`: the kubelet's `base` (10 s), stretched so
/// renewals stay under `max_per_second`, but never beyond `lease_duration / 2` so a lease cannot
/// expire between two renewals however large the fleet.
///
/// With the defaults (10 s, 200/s, 40 s): up to 2,000 nodes renew every 10 s (at most 200
/// writes/s), 4,000 every 20 s, and from there the interval stays at 20 s (10,000 nodes: 500
/// writes/s).
pub fn lease_interval(
    nodes: usize,
    base: Duration,
    max_per_second: u32,
    lease_duration: Duration,
) -> Duration {
    let needed = if max_per_second == 0 {
        lease_duration / 2
    } else {
        Duration::from_secs_f64(nodes as f64 / f64::from(max_per_second))
    };
    needed.max(base).min((lease_duration / 2).max(base.min(lease_duration)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::until;

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    #[test]
    fn slots_repeat_every_interval_at_the_node_phase() {
        let interval = Duration::from_secs(10);
        let first = next_slot("worker-1", "lease", t(1000), interval);
        assert!(first >= t(1000) && first < t(1010));
        assert_eq!(next_slot("worker-1", "lease", first, interval), first, "a slot is its own next slot");
        let later = next_slot("worker-1", "lease", after(first, Duration::from_nanos(1)), interval);
        assert_eq!(until(first, later), interval);
    }

    #[test]
    fn writes_after_a_write_come_half_to_one_and_a_half_intervals_later() {
        let interval = Duration::from_secs(10);
        for i in 0..200 {
            let name = format!("worker-{i}");
            let next = after_write(&name, "lease", t(5000), interval);
            let gap = until(t(5000), next);
            assert!(gap >= interval / 2 && gap < interval * 3 / 2, "{name}: {gap:?}");
            assert_eq!(until(next, after_write(&name, "lease", next, interval)), interval);
        }
    }

    #[test]
    fn a_fleet_registered_at_once_renews_spread_over_the_interval() {
        let interval = Duration::from_secs(10);
        let mut per_second = [0u32; 10];
        for i in 0..10_000 {
            let next = after_write(&format!("worker-{i}"), "lease", t(0), interval);
            per_second[usize::try_from(next.as_second() % 10).unwrap()] += 1;
        }
        assert!(per_second.iter().all(|&n| (800..1200).contains(&n)), "{per_second:?}");
    }

    #[test]
    fn the_lease_interval_grows_with_the_fleet_up_to_half_the_lease() {
        let base = Duration::from_secs(10);
        let lease = Duration::from_secs(40);
        assert_eq!(lease_interval(3, base, 200, lease), base);
        assert_eq!(lease_interval(2_000, base, 200, lease), base);
        assert_eq!(lease_interval(3_000, base, 200, lease), Duration::from_secs(15));
        assert_eq!(lease_interval(10_000, base, 200, lease), Duration::from_secs(20));
        // A short base (tests) is honoured.
        assert_eq!(lease_interval(3, Duration::from_millis(50), 200, lease), Duration::from_millis(50));
    }
}
