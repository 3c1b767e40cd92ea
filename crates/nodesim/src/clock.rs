//! The simulation's clock, and timestamp arithmetic that never panics.
//!
//! Production uses the wall clock (lease `renewTime` must be comparable with the node lifecycle
//! controller's clock, and the monotonic clock stops while a laptop sleeps). Tests may use
//! [`Clock::tokio`], which follows tokio's (pausable) time so whole lifecycles run instantly.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// Where "now" comes from. Cheap to clone.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Timestamp + Send + Sync>);

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Clock").field(&self.now()).finish()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl Clock {
    /// The wall clock.
    pub fn system() -> Clock {
        Clock(Arc::new(Timestamp::now))
    }

    /// Wall-clock time at creation plus tokio's elapsed time since: under
    /// `#[tokio::test(start_paused = true)]` it advances only when tokio's clock does. Must be
    /// created inside a tokio runtime.
    pub fn tokio() -> Clock {
        let base = Timestamp::now();
        let start = tokio::time::Instant::now();
        Clock(Arc::new(move || after(base, start.elapsed())))
    }

    /// A clock that reads `f` (for tests).
    pub fn from_fn(f: impl Fn() -> Timestamp + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(f))
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        (self.0)()
    }
}

/// `t + d`, saturating at the end of time instead of panicking.
pub fn after(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add(d).unwrap_or(Timestamp::MAX)
}

/// How long from `from` until `to` (zero if `to` has passed).
pub fn until(from: Timestamp, to: Timestamp) -> Duration {
    Duration::try_from(to.duration_since(from)).unwrap_or(Duration::ZERO)
}

/// `t` without its fraction of a second: what a `metav1.Time` keeps once written, so values we
/// compute compare equal to what we read back.
pub fn whole_seconds(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

/// A `metav1.Time` of `t`, truncated to seconds as the API would.
pub fn time(t: Timestamp) -> Time {
    Time(whole_seconds(t))
}

/// `d` scaled by `factor` (backoff speed-ups), saturating.
pub fn scaled(d: Duration, factor: f64) -> Duration {
    Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(if factor > 0.0 {
        Duration::MAX
    } else {
        Duration::ZERO
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_panicking() {
        assert_eq!(after(Timestamp::MAX, Duration::from_secs(1)), Timestamp::MAX);
        let t = Timestamp::from_second(100).unwrap();
        assert_eq!(until(after(t, Duration::from_secs(3)), t), Duration::ZERO);
        assert_eq!(until(t, after(t, Duration::from_secs(3))), Duration::from_secs(3));
    }

    #[test]
    fn times_are_truncated_to_whole_seconds() {
        let t = Timestamp::from_millisecond(100_700).unwrap();
        assert_eq!(whole_seconds(t), Timestamp::from_second(100).unwrap());
        assert_eq!(time(t).0.as_second(), 100);
    }

    #[test]
    fn scaling_handles_extremes() {
        assert_eq!(scaled(Duration::from_secs(10), 0.5), Duration::from_secs(5));
        assert_eq!(scaled(Duration::from_secs(10), 0.0), Duration::ZERO);
        assert_eq!(scaled(Duration::MAX, 2.0), Duration::MAX);
    }

    #[tokio::test(start_paused = true)]
    async fn the_tokio_clock_follows_paused_time() {
        let clock = Clock::tokio();
        let before = clock.now();
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(until(before, clock.now()), Duration::from_secs(30));
    }
}
