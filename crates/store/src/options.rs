//! `StoreOptions`: the store's tunables and why their defaults are what they are.

/// Tunables for a [`Store`](crate::Store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// How many of the latest revisions the history keeps for watch-from-revision. Watching from an
    /// older revision fails with [`TooOldRevision`](crate::StoreError::TooOldRevision).
    ///
    /// Default 10,000: Kubernetes clients re-watch from their last revision after a server-side
    /// timeout of about five minutes, and a few hundred nodes with their pods, leases and status
    /// updates write well under 30 objects a second, so a reconnecting client normally resumes
    /// without a re-list. The history holds old object versions in memory and on disk, so this also
    /// bounds that cost.
    pub history_window: u64,
    /// How many events the live broadcast buffers. A watcher that falls further behind than this
    /// catches up from the history (or gets `TooOldRevision` if that too has moved on); writers never
    /// wait for watchers. Default 1,024 (each slot holds one pointer).
    pub watch_buffer: usize,
    /// The most writes committed in one group commit. Default 512: large enough that a burst of
    /// concurrent writers shares one fsync, small enough that one batch's serialization and commit
    /// keep the latency of its first write in the low milliseconds.
    pub max_batch: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { history_window: 10_000, watch_buffer: 1024, max_batch: 512 }
    }
}
