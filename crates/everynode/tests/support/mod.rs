//! Helpers of the kubectl end-to-end tests: the real `everynode server` on a temporary data dir,
//! and the real kubectl pointed at it with its own kubeconfig, home and discovery cache.

// Each test binary that includes this module uses a subset of it.
#![allow(dead_code)]

use std::cell::OnceCell;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

/// How long one kubectl command may run before the test fails instead of hanging.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the server may take to print the address it listens on.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// How often `eventually` looks again: short, because the garbage collector reacts to watch
/// events and usually finishes within a few milliseconds.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Set to `1` to skip the kubectl tests explicitly; without it a missing kubectl is a failure.
const SKIP_ENV: &str = "EVERYNODE_SKIP_KUBECTL";

/// The test fixtures folder; kubectl runs there, so messages name files as `seeds/x.yaml`.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The workspace root (where `deploy/` and `.venv/` live).
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// kubectl as scripts/test.sh installs it (`<workspace>/.venv/bin/kubectl`), else the one on
/// PATH. `None` only when skipping was asked for.
fn find_kubectl() -> Option<PathBuf> {
    if std::env::var(SKIP_ENV).is_ok_and(|v| v == "1") {
        eprintln!("{SKIP_ENV}=1: skipping a kubectl end-to-end test");
        return None;
    }
    let venv = workspace().join(".venv/bin/kubectl");
    if venv.is_file() {
        return Some(venv);
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("kubectl"))
        .find(|candidate| candidate.is_file());
    match on_path {
        Some(path) => Some(path),
        None => panic!(
            "kubectl not found at {} nor on PATH: run scripts/test.sh (it installs kubectl into \
             .venv), put kubectl on PATH, or set {SKIP_ENV}=1 to skip the kubectl tests",
            venv.display()
        ),
    }
}

/// What a finished kubectl (or everynode) command did.
#[derive(Debug)]
pub struct Run {
    /// The command line (`kubectl get pods`), for failure messages.
    pub args: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts that the command succeeded without printing to stderr, and returns its stdout.
    pub fn ok(self) -> String {
        assert!(
            self.code == 0 && self.stderr.is_empty(),
            "`{}` exited {} with stderr:\n{}\nstdout:\n{}",
            self.args,
            self.code,
            self.stderr,
            self.stdout
        );
        self.stdout
    }

    /// Asserts that the command failed with exit status 1 and printed nothing to stdout, and
    /// returns its stderr.
    pub fn fails(self) -> String {
        assert!(
            self.code == 1 && self.stdout.is_empty(),
            "`{}` should fail with exit 1 but exited {}; stdout:\n{}\nstderr:\n{}",
            self.args,
            self.code,
            self.stdout,
            self.stderr
        );
        self.stderr
    }
}

/// Reads `source` to the end on a thread, so a full pipe never blocks the child.
fn drain(mut source: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = source.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Sends each line of `source` to the returned channel, as it arrives.
fn line_by_line(source: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(source).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A running `everynode server` (or `everynode up`) and the kubectl settings that reach it.
/// Dropping it kills the process (and so removes its data dir with the temporary folder).
pub struct Cluster {
    server: Child,
    kubectl: PathBuf,
    kubeconfig: PathBuf,
    dir: tempfile::TempDir,
    /// The everynode arguments, to start it again on the same data dir (`restart`).
    args: Vec<OsString>,
    /// The first line everynode prints once it listens.
    banner: &'static str,
    /// What everynode prints after starting; kept so that it never writes into a closed pipe.
    stdout: Receiver<String>,
    /// The updater's `http://ADDR`, once read from `stdout` (see `updater_url`).
    updater_url: OnceCell<String>,
}

impl Cluster {
    /// Starts the server on a fresh data dir and a free port. `None` when the kubectl tests are
    /// skipped (see `find_kubectl`).
    pub fn start() -> Option<Cluster> {
        Cluster::launch(&["server"], "everynode API server listening on http://127.0.0.1:", None)
    }

    /// Starts `everynode up --nodes <nodes>` (API server, controllers and simulated nodes) on a
    /// fresh data dir and a free port. `None` when the kubectl tests are skipped.
    pub fn up(nodes: u32) -> Option<Cluster> {
        let nodes = nodes.to_string();
        Cluster::launch(&["up", "--nodes", &nodes], UP_BANNER, None)
    }

    /// Starts `everynode up --fleet <file>` with the fleet file `yaml`. `None` when the kubectl
    /// tests are skipped.
    pub fn up_with_fleet(yaml: &str) -> Option<Cluster> {
        Cluster::launch(&["up", "--fleet"], UP_BANNER, Some(yaml))
    }

    /// Starts `everynode up <args> --fleet <file>` with the fleet file `yaml` (or `everynode up
    /// <args>` without one), for flags such as `--webhook-secret-file`. `None` when the kubectl
    /// tests are skipped.
    pub fn up_with(args: &[&str], fleet: Option<&str>) -> Option<Cluster> {
        let mut full = vec!["up"];
        full.extend_from_slice(args);
        if fleet.is_some() {
            full.push("--fleet");
        }
        Cluster::launch(&full, UP_BANNER, fleet)
    }

    /// Starts everynode with `args` (and, with a fleet, the fleet file's path after them), then
    /// `--data-dir`, `--listen` and `--kubeconfig`.
    fn launch(args: &[&str], banner: &'static str, fleet: Option<&str>) -> Option<Cluster> {
        let kubectl = find_kubectl()?;
        let dir = tempfile::tempdir().expect("a temporary folder");
        let kubeconfig = dir.path().join("kubeconfig");
        let mut full: Vec<OsString> = args.iter().map(OsString::from).collect();
        if let Some(yaml) = fleet {
            let path = dir.path().join("fleet.yaml");
            std::fs::write(&path, yaml).expect("the fleet file is written");
            full.push(path.into());
        }
        full.extend(["--data-dir".into(), dir.path().join("data").into()]);
        if args.first() == Some(&"up") {
            // Tests run clusters side by side: each picks a free port for the updater too.
            full.extend(["--updater-listen".into(), "127.0.0.1:0".into()]);
        }
        full.extend([
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--kubeconfig".into(),
            kubeconfig.clone().into(),
        ]);
        let (server, stdout) = spawn_everynode(dir.path(), &full, &kubeconfig, banner);
        Some(Cluster {
            server,
            kubectl,
            kubeconfig,
            dir,
            args: full,
            banner,
            stdout,
            updater_url: OnceCell::new(),
        })
    }

    /// Kills everynode with SIGKILL (no graceful shutdown) and starts it again with the same
    /// arguments: the same data dir, a new free port, the kubeconfig rewritten to name it.
    pub fn restart(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        let (server, stdout) = spawn_everynode(self.dir.path(), &self.args, &self.kubeconfig, self.banner);
        self.server = server;
        self.stdout = stdout;
        self.updater_url = OnceCell::new();
    }

    /// `http://127.0.0.1:PORT` where `everynode up` serves the updater's webhooks, approval API
    /// and metrics, read from the line it prints once that listener is bound. Fails the test if
    /// the line does not come within the startup timeout (e.g. `--no-updater`).
    pub fn updater_url(&self) -> &str {
        self.updater_url.get_or_init(|| {
            const PREFIX: &str = "image updates: webhooks, approvals and metrics on ";
            let deadline = Instant::now() + STARTUP_TIMEOUT;
            let mut skipped = Vec::new();
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.stdout.recv_timeout(left) {
                    Ok(line) => match line.strip_prefix(PREFIX) {
                        Some(url) => return url.trim().to_owned(),
                        None => skipped.push(line),
                    },
                    Err(_) => panic!(
                        "everynode printed no `{PREFIX}URL` line within {STARTUP_TIMEOUT:?}; stdout \
                         after the kubeconfig line:\n{}\nlog:\n{}",
                        skipped.join("\n"),
                        self.log()
                    ),
                }
            }
        })
    }

    /// The kubeconfig everynode wrote (rewritten by `restart`).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// What everynode logged to stderr so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Runs `everynode <args> --kubeconfig <the cluster's>` to the end (e.g. `nodes add`).
    pub fn everynode(&self, args: &[&str]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_everynode"));
        command
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        run_to_end(command, &format!("everynode {}", args.join(" ")), None)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.kubectl);
        command
            .args(args)
            .current_dir(fixtures())
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.dir.path().join("kube-cache"))
            // No ~/.kube/kuberc or cache of the developer's leaks in.
            .env("HOME", self.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs `kubectl <args>` to the end.
    pub fn kubectl(&self, args: &[&str]) -> Run {
        self.run(args, None)
    }

    /// Runs `kubectl <args>` with `stdin` (for `-f -`).
    pub fn kubectl_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        self.run(args, Some(stdin))
    }

    /// `kubectl apply -f -` of `yaml`, which must succeed; returns what kubectl printed.
    pub fn apply(&self, yaml: &str) -> String {
        self.kubectl_with_stdin(&["apply", "-f", "-"], yaml).ok()
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Run {
        run_to_end(self.command(args), &format!("kubectl {}", args.join(" ")), stdin)
    }

    /// Starts a long-running kubectl (`get -w`); its stdout arrives line by line.
    pub fn watch(&self, args: &[&str]) -> Watch {
        let mut child = self.command(args).stdin(Stdio::null()).spawn().expect("kubectl starts");
        let lines = line_by_line(child.stdout.take().expect("piped stdout"));
        let stderr = drain(child.stderr.take().expect("piped stderr"));
        Watch { child, lines, stderr: Some(stderr), args: args.join(" ") }
    }

    /// Writes `text` to `name` in the cluster's temporary folder and returns the path.
    pub fn write_file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("a folder for the file");
        }
        std::fs::write(&path, text).expect("the file is written");
        path
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// The first line `everynode up` prints.
const UP_BANNER: &str = "everynode is up: API server on http://127.0.0.1:";

/// Starts everynode with `args` in `dir` (stderr appended to `dir/server.log`) and waits until it
/// prints `banner` and then that it wrote `kubeconfig`. Returns the process and the rest of its
/// stdout.
fn spawn_everynode(
    dir: &Path,
    args: &[OsString],
    kubeconfig: &Path,
    banner: &str,
) -> (Child, Receiver<String>) {
    let log_path = dir.join("server.log");
    let log =
        std::fs::OpenOptions::new().create(true).append(true).open(&log_path).expect("the server log file");
    let mut server = Command::new(env!("CARGO_BIN_EXE_everynode"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("the everynode binary starts");
    let lines = line_by_line(server.stdout.take().expect("piped stdout"));
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    let mut printed = Vec::new();
    // The kubeconfig line comes after the listening line, once the kubeconfig is written.
    while !printed.iter().any(|l: &String| l.starts_with("kubeconfig: ")) {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => printed.push(line),
            Err(_) => {
                let _ = server.kill();
                let _ = server.wait();
                panic!(
                    "everynode did not start; stdout:\n{}\nlog:\n{}",
                    printed.join("\n"),
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
        }
    }
    assert!(printed[0].starts_with(banner), "{printed:?}");
    assert_eq!(printed[1], format!("kubeconfig: {}", kubeconfig.display()));
    (server, lines)
}

/// Runs `command` (described as `what` in failure messages) to the end, feeding it `stdin`.
fn run_to_end(mut command: Command, what: &str, stdin: Option<&str>) -> Run {
    command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = command.spawn().unwrap_or_else(|e| panic!("`{what}` does not start: {e}"));
    if let Some(text) = stdin {
        // Dropping the handle closes the child's stdin.
        child.stdin.take().expect("piped stdin").write_all(text.as_bytes()).expect("the child reads stdin");
    }
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{what}` ran longer than {COMMAND_TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(5));
    };
    Run {
        args: what.to_owned(),
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// A running `kubectl get -w`, killed when dropped.
pub struct Watch {
    child: Child,
    lines: Receiver<String>,
    stderr: Option<thread::JoinHandle<String>>,
    args: String,
}

impl Watch {
    /// The next line kubectl prints; fails the test if none comes within `timeout`.
    pub fn next_line(&mut self, timeout: Duration) -> String {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => line,
            Err(_) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let stderr = self.stderr.take().map(|h| h.join().unwrap_or_default()).unwrap_or_default();
                panic!("`kubectl {}` printed no line within {timeout:?}; stderr:\n{stderr}", self.args);
            }
        }
    }

    /// The next line kubectl prints within `timeout`, or `None` (kubectl keeps running).
    pub fn try_next_line(&mut self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Checks `condition` until it holds, failing the test after `timeout`.
pub fn eventually(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "{what} did not happen within {timeout:?}");
        thread::sleep(POLL_INTERVAL);
    }
}

/// Whether `token` is an age as kubectl prints young objects (`0s`, `42s`).
pub fn is_seconds(token: &str) -> bool {
    token.strip_suffix('s').is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Where the AGE column starts in a table header, and where the next column starts (none
/// when AGE is last).
fn age_column(header: &str) -> Option<(usize, Option<usize>)> {
    let bytes = header.as_bytes();
    let start = header
        .match_indices("AGE")
        .map(|(i, _)| i)
        .find(|&i| (i == 0 || bytes[i - 1] == b' ') && (i + 3 == bytes.len() || bytes[i + 3] == b' '))?;
    let after = start + 3;
    let next = header[after..].find(|c: char| c != ' ').map(|offset| after + offset);
    Some((start, next))
}

/// Prints every AGE cell of kubectl tables as `0s`, keeping the column width, so that tables
/// compare exactly whichever second they were printed in. Tables are the blocks between blank
/// lines, each starting with its header. Ages in these tests stay under 100 s, so an AGE cell
/// is never wider than its header and masking does not move the other columns.
pub fn mask_age(output: &str) -> String {
    let mut masked = String::with_capacity(output.len());
    // None before a header; Some(column) once the block's header is read.
    let mut column: Option<Option<(usize, Option<usize>)>> = None;
    for line in output.split_inclusive('\n') {
        let text = line.trim_end_matches('\n');
        let newline = &line[text.len()..];
        if text.is_empty() {
            column = None;
            masked.push_str(line);
            continue;
        }
        let Some(found) = column else {
            column = Some(age_column(text));
            masked.push_str(line);
            continue;
        };
        match found {
            Some((start, next)) if text.len() > start => {
                let end = next.map_or(text.len(), |n| n.min(text.len()));
                let cell = text[start..end].trim_end();
                assert!(is_seconds(cell), "AGE cell {cell:?} in:\n{output}");
                masked.push_str(&text[..start]);
                if next.is_none() {
                    masked.push_str("0s");
                } else {
                    // Keep the padding up to the next column, even when a row ends there.
                    masked.push_str(&format!("{:<width$}", "0s", width = end - start));
                }
                masked.push_str(&text[end..]);
                masked.push_str(newline);
            }
            _ => masked.push_str(line),
        }
    }
    masked
}

/// Reads a fixture (relative to the fixtures folder).
pub fn read_fixture(path: impl AsRef<Path>) -> String {
    let full = fixtures().join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {}: {e}", full.display()))
}

#[test]
fn mask_age_keeps_columns_and_replaces_only_ages() {
    let table = "NAME   AGE   IMAGES\nx      12s   nginx\ny      3s    busybox\n\nNAME   DATA   AGE\ncm     1      57s\n";
    assert_eq!(
        mask_age(table),
        "NAME   AGE   IMAGES\nx      0s    nginx\ny      0s    busybox\n\nNAME   DATA   AGE\ncm     1      0s\n"
    );
    // An empty last cell (a node without VERSION) leaves the AGE padding in place.
    assert_eq!(mask_age("NAME   AGE   VERSION\nw      42s   \n"), "NAME   AGE   VERSION\nw      0s    \n");
}
