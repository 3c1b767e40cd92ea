//! `everynode`: the DaemonSet controller and its tools, as one command.

mod admission;
mod cmd;
mod forecast;
mod manifests;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use k8s_openapi::jiff::Timestamp;

/// The allocator. With glibc's malloc, a third of the CPU of `everynode bench rollout --nodes
/// 10000` went to the allocator's own bookkeeping (`_int_malloc`, `unlink_chunk`,
/// `malloc_consolidate`, `free`): every request, stored object and watch event builds and drops
/// trees of small JSON and typed-object allocations across threads, glibc's worst case. With
/// mimalloc the rolling update of that bench takes 17 s of CPU instead of 29.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit status for input the command refuses (invalid manifests, unreadable files).
const EXIT_INVALID_INPUT: u8 = 1;

/// everynode: a DaemonSet controller you can reason about.
#[derive(Debug, Parser)]
#[command(name = "everynode", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Later subcommands (up, server, controller, updater, bench) join this enum.
#[derive(Debug, Subcommand)]
enum Command {
    // Help text lives on `PlanArgs`, beside the flags it describes.
    Plan(cmd::plan::PlanArgs),
    /// Start a cluster in one process: API server, controllers and simulated nodes.
    Up(cmd::up::UpArgs),
    /// Serve the Kubernetes API (no controllers, no nodes) from a durable data dir.
    Server(cmd::server::ServerArgs),
    /// Run the controllers against any Kubernetes API server (e.g. a real cluster).
    Controller(cmd::controller::ControllerArgs),
    /// Add, fail and recover simulated nodes of a running `everynode up`.
    Nodes(cmd::nodes::NodesArgs),
    /// Time scenarios on simulated nodes, the whole cluster in this process.
    Bench(cmd::bench::BenchArgs),
    /// Run automated image updates (headwind.sh annotations) against any Kubernetes API server.
    Updater(cmd::updater::UpdaterArgs),
    /// List, approve and reject proposed image updates (UpdateRequests).
    Updates(cmd::updates::UpdatesArgs),
}

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::Plan(args) => {
            if let Err(problem) = args.check() {
                usage_error("plan", &problem);
            }
            let mut stdout = std::io::stdout().lock();
            let mut stderr = std::io::stderr().lock();
            cmd::plan::run(args, wall_clock(), &mut stdout, &mut stderr)
        }
        // Controller logs would scroll `bench`'s progress away, and `updates` is a short command
        // whose output is its answer: both log only warnings unless RUST_LOG says otherwise.
        Command::Up(args) => serve("info", cmd::up::run(args)),
        Command::Controller(args) => serve("info", cmd::controller::run(args)),
        Command::Nodes(args) => serve("info", cmd::nodes::run(args)),
        Command::Bench(args) => serve("warn", cmd::bench::run(args)),
        Command::Updater(args) => serve("info", cmd::updater::run(args)),
        Command::Updates(args) => serve("warn", cmd::updates::run(args)),
        Command::Server(args) => serve("info", cmd::server::run(args)),
    };
    match outcome {
        Ok(code) => Ok(code),
        // `everynode plan ... | head` closing the pipe early is not a failure.
        Err(e) if is_broken_pipe(&e) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("error: {e:#}");
            Ok(ExitCode::from(EXIT_INVALID_INPUT))
        }
    }
}

/// Runs an async subcommand on a multi-threaded runtime, logging at `log_level` by default.
fn serve(
    log_level: &str,
    command: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<ExitCode> {
    init_tracing(log_level);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(command).map(|()| ExitCode::SUCCESS)
}

/// Logs to stderr, filtered by `RUST_LOG` (default: `default`). Only the binary installs a
/// subscriber.
fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Reports a usage problem clap cannot express (exit status 2, with the subcommand's usage).
fn usage_error(subcommand: &str, problem: &str) -> ! {
    let mut command = Cli::command();
    command.build();
    let sub = command.find_subcommand_mut(subcommand);
    let err = match sub {
        Some(sub) => sub.error(clap::error::ErrorKind::MissingRequiredArgument, problem),
        None => Cli::command().error(clap::error::ErrorKind::MissingRequiredArgument, problem),
    };
    err.exit()
}

/// The current time. k8s-openapi builds jiff without `std`, so there is no `Timestamp::now`; a
/// clock before 1970 or past 9999 (impossible in practice) reads as the epoch.
fn wall_clock() -> Timestamp {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let nanos = i32::try_from(since_epoch.subsec_nanos()).unwrap_or(0);
    i64::try_from(since_epoch.as_secs())
        .ok()
        .and_then(|s| Timestamp::new(s, nanos).ok())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
