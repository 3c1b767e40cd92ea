//! Showing a benchmark: live progress (a bar on a terminal, a line a second otherwise), and the
//! final summary, written to paste into an issue note.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// How often progress is logged when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(1);

/// Progress of the current phase.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    phase: &'static str,
    started: Instant,
    last_line: Option<Instant>,
}

impl Progress {
    /// Starts showing `phase`, which is done at `total`.
    pub fn start(phase: &'static str, total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total);
            let style = indicatif::ProgressStyle::with_template(
                "{prefix:>16} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_prefix(phase);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        if bar.is_none() {
            eprintln!("{phase}: started");
        }
        Progress { bar, phase, started: Instant::now(), last_line: None }
    }

    /// Shows `done` of the total, with `detail`.
    pub fn update(&mut self, done: u64, detail: impl FnOnce() -> String) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(done);
                bar.set_message(detail());
            }
            None if self.last_line.is_none_or(|at| at.elapsed() >= PLAIN_EVERY) => {
                self.last_line = Some(Instant::now());
                eprintln!("{}: {} ({:.1} s)", self.phase, detail(), self.started.elapsed().as_secs_f64());
            }
            None => {}
        }
    }

    /// Ends the phase with `outcome`.
    pub fn finish(self, outcome: &str) {
        match self.bar {
            Some(bar) => bar.finish_with_message(outcome.to_owned()),
            None => eprintln!("{}: {outcome}", self.phase),
        }
    }
}

/// One timed phase.
#[derive(Debug, Clone)]
pub struct Phase {
    /// What was timed.
    pub name: &'static str,
    /// How long it took.
    pub elapsed: Duration,
    /// CPU time the process used during the phase (all threads), where the OS reports it.
    pub cpu: Option<Duration>,
    /// Store writes (revisions) during the phase.
    pub writes: u64,
    /// Writes per resource during the phase, largest first.
    pub by_resource: Vec<(&'static str, u64)>,
}

impl Phase {
    fn rate(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 { self.writes as f64 / seconds } else { 0.0 }
    }
}

/// Everything the summary says.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The command line that produced it.
    pub command: String,
    /// Where the store was.
    pub storage: String,
    /// Nodes simulated.
    pub nodes: u32,
    /// The rolling update's maxUnavailable.
    pub max_unavailable: String,
    /// Load average (1, 5, 15 min) when the benchmark started.
    pub load_before: Option<String>,
    /// The timed phases, in order.
    pub phases: Vec<Phase>,
    /// Whether some per-resource counts missed events.
    pub counts_lossy: bool,
    /// Peak resident memory of the process, in bytes.
    pub peak_memory: Option<u64>,
}

impl Summary {
    /// The summary block: plain text, aligned, one figure per line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let cpus = std::thread::available_parallelism().map_or_else(|_| "?".to_owned(), |n| n.to_string());
        let _ = writeln!(out, "everynode bench rollout");
        let _ = writeln!(out, "  command:          {}", self.command);
        let _ = writeln!(
            out,
            "  setup:            {} nodes, instant pods, maxUnavailable {}, {}",
            self.nodes, self.max_unavailable, self.storage
        );
        let _ = writeln!(
            out,
            "  machine:          {cpus} CPUs, load average {} at start",
            self.load_before.as_deref().unwrap_or("n/a")
        );
        for phase in &self.phases {
            let cpu = match phase.cpu {
                Some(cpu) => format!(
                    "{:>6.1} s CPU ({:.1} cores)",
                    cpu.as_secs_f64(),
                    cpu.as_secs_f64() / phase.elapsed.as_secs_f64().max(f64::EPSILON)
                ),
                None => "CPU n/a".to_owned(),
            };
            let _ = writeln!(
                out,
                "  {:<17} {:>8.2} s   {:>7} writes, {:>6.0}/s   {cpu}",
                format!("{}:", phase.name),
                phase.elapsed.as_secs_f64(),
                phase.writes,
                phase.rate()
            );
            let parts: Vec<String> = phase
                .by_resource
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(resource, n)| format!("{resource} {n}"))
                .collect();
            if !parts.is_empty() {
                let approx = if self.counts_lossy { " (approximate)" } else { "" };
                let _ = writeln!(out, "  {:<17} {}{approx}", "", parts.join(", "));
            }
        }
        let _ = writeln!(
            out,
            "  peak memory:      {}",
            self.peak_memory.map_or_else(|| "n/a".to_owned(), mebibytes)
        );
        out
    }
}

fn mebibytes(bytes: u64) -> String {
    format!("{:.0} MiB (VmHWM)", bytes as f64 / (1024.0 * 1024.0))
}

/// The process's peak resident set size (`VmHWM`), where the OS reports it (Linux).
pub fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    let kib: u64 = line.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// The CPU time (user and system, all threads) the process has used, where the OS reports it
/// (Linux: `/proc/self/stat`, in clock ticks of 1/100 s, the `USER_HZ` of every Linux port
/// this runs on).
pub fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_cpu_ticks(&stat).map(|ticks| Duration::from_millis(ticks * 10))
}

fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) is in parentheses and may hold spaces; fields 14 and 15 (utime,
    // stime) are the 12th and 13th after it.
    let (_, after_name) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(user + system)
}

/// The 1, 5 and 15 minute load averages, where the OS reports them (Linux).
pub fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let fields: Vec<&str> = text.split_whitespace().take(3).collect();
    (fields.len() == 3).then(|| fields.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_memory_is_read_from_vm_hwm_in_kib() {
        let status = "Name:\teverynode\nVmPeak:\t  900 kB\nVmHWM:\t    2048 kB\nVmRSS:\t 1024 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(2 * 1024 * 1024));
        assert_eq!(parse_vm_hwm("Name:\tx\n"), None);
    }

    #[test]
    fn cpu_time_is_user_plus_system_ticks_after_the_command_name() {
        let stat = "4242 (every node) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 9 0 100 0 0";
        assert_eq!(parse_cpu_ticks(stat), Some(300));
        assert_eq!(parse_cpu_ticks("4242 (x) S 1"), None);
    }

    #[test]
    fn the_summary_names_every_phase_with_its_write_rate() {
        let summary = Summary {
            command: "everynode bench rollout --nodes 10".into(),
            storage: "durable store in /tmp/x".into(),
            nodes: 10,
            max_unavailable: "10%".into(),
            load_before: Some("0.10 0.20 0.30".into()),
            phases: vec![Phase {
                name: "create to ready",
                elapsed: Duration::from_millis(2500),
                cpu: Some(Duration::from_secs(4)),
                writes: 50,
                by_resource: vec![("pods", 40), ("events", 10), ("leases", 0)],
            }],
            counts_lossy: false,
            peak_memory: Some(64 * 1024 * 1024),
        };
        let text = summary.render();
        assert!(
            text.contains(
                "create to ready:      2.50 s        50 writes,     20/s      4.0 s CPU (1.6 cores)"
            ),
            "{text}"
        );
        assert!(text.contains("pods 40, events 10\n"), "{text}");
        assert!(text.contains("peak memory:      64 MiB (VmHWM)"), "{text}");
    }
}
