//! Acceptance tests of automated image updates (the `headwind.sh/*` annotations): the real
//! `everynode up` runs the updater beside the API server, the controllers and simulated nodes;
//! a real registry (Debian's docker-registry, through the updater crate's test harness) holds
//! the tags; the real kubectl and `everynode updates` drive and check it as a user would. Each
//! scenario of the seed (`reference/seeds/headwind-daemonsets.md`) is one test: a policy picking
//! the right tag and the rollout reaching every node, approvals and sticky rejections, the
//! minimum interval, glob policies, health-gated rollback, notifications, and authenticated
//! webhooks.
//!
//! Every test starts its own cluster (three fast simulated workers, on which images tagged
//! `2.1.*` crash-loop) and, when it needs one, its own registry, each on free ports. Waits are
//! polls with generous timeouts; "nothing happens" is checked over several passes of the
//! updater (it runs one a second).
//!
//! kubectl is `<workspace>/.venv/bin/kubectl` or the one on PATH; EVERYNODE_SKIP_KUBECTL=1 skips.
//! The registry is /usr/bin/docker-registry (Debian's docker-registry package).

// Test helpers panic on purpose: a failure is the test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

#[path = "../../updater/tests/support/registry.rs"]
mod registry;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use k8s_openapi::jiff::Timestamp;
use registry::TestRegistry;
use serde_json::{Value, json};
use sha2::Sha256;
use support::Cluster;

/// How long a change may take to reach every node, or the updater to act on something it was
/// told. Pods are Ready within half a second on the fleet below and the updater passes once a
/// second; the margin is for a loaded 2-core machine running the tests side by side.
const CONVERGE: Duration = Duration::from_secs(30);

/// How often the polls look again.
const POLL: Duration = Duration::from_millis(100);

/// How long "nothing happens" is watched: five passes of the updater.
const QUIET: Duration = Duration::from_secs(5);

/// The secret registry webhooks are signed with (the file has a trailing newline, as `echo`
/// leaves one; everynode trims it).
const WEBHOOK_SECRET: &str = "registry-webhook-secret";

/// Three workers whose pods start in 100-200 ms and are Ready 200 ms later; images tagged
/// `2.1.*` crash-loop (the bad release of the rollback test), with restart backoffs cut to a
/// tenth so that CrashLoopBackOff shows within a second or two.
const FLEET: &str = r#"pools:
- name: workers
  count: 3
  namePrefix: worker-
  behaviour: {startDelay: 100ms, startJitter: 100ms, readinessDelay: 200ms, terminationDelay: 100ms, backoffScale: 0.1, failures: [{image: "*:2.1.*", mode: CrashLoop}]}
"#;

/// The nodes of [`FLEET`].
const WORKERS: [&str; 3] = ["worker-1", "worker-2", "worker-3"];

// ---------------------------------------------------------------------------------------------
// The cluster

/// `everynode up` on [`FLEET`] with webhooks enabled (signed with [`WEBHOOK_SECRET`]), health
/// checks every second, and optionally notifications.
struct Updates {
    k: Cluster,
    /// `http://127.0.0.1:PORT` of the webhooks, the approval API and /metrics.
    url: String,
    /// The secret and notification config files (read at startup).
    _config: tempfile::TempDir,
}

impl Updates {
    /// `None` when kubectl tests are skipped.
    fn start() -> Option<Updates> {
        Updates::start_with_notifications(None)
    }

    /// With `--notify-config` holding `notify` (JSON), when given.
    fn start_with_notifications(notify: Option<&str>) -> Option<Updates> {
        let config = tempfile::tempdir().unwrap();
        let secret = config.path().join("webhook-secret");
        std::fs::write(&secret, format!("{WEBHOOK_SECRET}\n")).unwrap();
        let mut args = vec![
            "--webhook-secret-file".to_owned(),
            text(&secret),
            "--health-check-interval".into(),
            "1".into(),
        ];
        if let Some(notify) = notify {
            let path = config.path().join("notify.json");
            std::fs::write(&path, notify).unwrap();
            args.extend(["--notify-config".to_owned(), text(&path)]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let k = Cluster::up_with(&args, Some(FLEET))?;
        let url = k.updater_url().to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "updater URL {url}");
        Some(Updates { k, url, _config: config })
    }

    /// POSTs `body` to `path` of the updater with `headers`.
    fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
        http(&self.url, "POST", path, headers, body.as_bytes())
    }

    /// Announces `image:tag` through the generic webhook, signed; it must be accepted.
    fn announce(&self, image: &str, tag: &str) {
        let body = json!({"image": image, "tag": tag}).to_string();
        let signature = sign(WEBHOOK_SECRET.as_bytes(), body.as_bytes());
        let response = self.post("/webhook/generic", &[("X-Hub-Signature-256", &signature)], &body);
        assert_eq!(
            (response.status, response.json()),
            (202, json!({"accepted": 1})),
            "announcing {image}:{tag}: {response:?}\n{}",
            log_tail(&self.k)
        );
    }

    /// `GET /metrics`.
    fn metrics(&self) -> String {
        let response = http(&self.url, "GET", "/metrics", &[], b"");
        assert_eq!(response.status, 200, "{response:?}");
        response.body
    }
}

fn text(path: &Path) -> String {
    path.to_str().expect("temporary paths are UTF-8").to_owned()
}

/// A current-thread runtime for the registry harness (the tests themselves are blocking); kept
/// for the whole test, since the harness' HTTP client lives on it.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// The last lines everynode logged, for failure messages.
fn log_tail(k: &Cluster) -> String {
    let log = k.log();
    let lines: Vec<&str> = log.lines().collect();
    format!("everynode log (last lines):\n{}", lines[lines.len().saturating_sub(60)..].join("\n"))
}

/// Checks `check` until it returns `Ok`, failing the test after `timeout` with the last `Err`
/// (what was seen instead) and everynode's log.
fn wait_for<T>(
    k: &Cluster,
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(value) => return value,
            Err(seen) => assert!(
                Instant::now() < deadline,
                "{what} did not happen within {timeout:?}; last seen:\n{seen}\n{}",
                log_tail(k)
            ),
        }
        thread::sleep(POLL);
    }
}

/// Checks that `check` keeps returning `Ok` for `duration`, failing the test at the first `Err`.
fn holds(k: &Cluster, what: &str, duration: Duration, mut check: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + duration;
    while Instant::now() < deadline {
        if let Err(seen) = check() {
            panic!("{what} stopped holding:\n{seen}\n{}", log_tail(k));
        }
        thread::sleep(POLL);
    }
}

// ---------------------------------------------------------------------------------------------
// DaemonSets and what the cluster says about them

/// A DaemonSet `namespace/name` whose pods (labelled `app: <name>`) run one container named
/// `name` (as the seed's do) with `image`, updated one node at a time, and `annotations`.
fn daemon_set(namespace: &str, name: &str, image: &str, annotations: &[(&str, &str)]) -> Value {
    let annotations: serde_json::Map<String, Value> =
        annotations.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
    json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
        },
    })
}

/// `kubectl create namespace <name>`.
fn namespace(k: &Cluster, name: &str) {
    k.kubectl(&["create", "namespace", name]).ok();
}

/// `kubectl get <args> -o json`, parsed.
fn get_json(k: &Cluster, args: &[&str]) -> Value {
    let mut full = vec!["get"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&k.kubectl(&full).ok()).unwrap()
}

fn get_ds(k: &Cluster, namespace: &str, name: &str) -> Value {
    get_json(k, &["ds", name, "-n", namespace])
}

/// The image of the DaemonSet's (only) container.
fn image_of(ds: &Value) -> String {
    ds["spec"]["template"]["spec"]["containers"][0]["image"].as_str().unwrap_or_default().to_owned()
}

fn annotation<'a>(ds: &'a Value, key: &str) -> Option<&'a str> {
    ds["metadata"]["annotations"][key].as_str()
}

/// The `headwind.sh/update-history` annotation, parsed (empty when absent).
fn update_history(ds: &Value) -> Vec<Value> {
    match annotation(ds, "headwind.sh/update-history") {
        Some(text) => serde_json::from_str(text).unwrap_or_else(|e| panic!("history {text:?}: {e}")),
        None => Vec::new(),
    }
}

/// The UpdateRequests of `namespace`, by name.
fn requests(k: &Cluster, namespace: &str) -> BTreeMap<String, Value> {
    let list = get_json(k, &["updaterequests", "-n", namespace]);
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["metadata"]["name"].as_str().unwrap().to_owned(), r.clone()))
        .collect()
}

fn phase(request: &Value) -> &str {
    request["status"]["phase"].as_str().unwrap_or("<none>")
}

/// Waits until DaemonSet `namespace/name` runs exactly one Ready pod of `image` on every worker
/// (none terminating, none of another image), then checks that `kubectl rollout status` agrees.
fn wait_rolled_out(k: &Cluster, namespace: &str, name: &str, image: &str) {
    wait_for(k, &format!("{namespace}/{name} running {image} on every node"), CONVERGE, || {
        let ds = get_ds(k, namespace, name);
        let pods = get_json(k, &["pods", "-n", namespace, "-l", &format!("app={name}")]);
        let pods = pods["items"].as_array().unwrap().clone();
        let nodes: BTreeSet<&str> = pods.iter().filter_map(|p| p["spec"]["nodeName"].as_str()).collect();
        let ready = |pod: &Value| {
            pod["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
        };
        let deleting = |pod: &Value| !pod["metadata"]["deletionTimestamp"].is_null();
        let good =
            |pod: &Value| pod["spec"]["containers"][0]["image"] == image && ready(pod) && !deleting(pod);
        if image_of(&ds) == image
            && pods.len() == WORKERS.len()
            && nodes == WORKERS.into_iter().collect()
            && pods.iter().all(good)
        {
            Ok(())
        } else {
            let summary: Vec<String> = pods
                .iter()
                .map(|p| {
                    format!(
                        "{} on {} runs {} (ready: {}, deleting: {}, waiting: {})",
                        p["metadata"]["name"],
                        p["spec"]["nodeName"],
                        p["spec"]["containers"][0]["image"],
                        ready(p),
                        deleting(p),
                        p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
                    )
                })
                .collect();
            Err(format!(
                "template image {}\nstatus {}\npods:\n{}",
                image_of(&ds),
                ds["status"],
                summary.join("\n")
            ))
        }
    });
    let out = k.kubectl(&["rollout", "status", &format!("ds/{name}"), "-n", namespace, "--timeout=25s"]).ok();
    assert_eq!(
        out.lines().last(),
        Some(format!("daemon set \"{name}\" successfully rolled out").as_str()),
        "{out}"
    );
}

/// The Events of `namespace` with `reason` about object `name`.
fn events(k: &Cluster, namespace: &str, name: &str, reason: &str) -> Vec<Value> {
    let list = get_json(k, &["events", "-n", namespace]);
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reason"] == reason && e["involvedObject"]["name"] == name)
        .cloned()
        .collect()
}

/// The value of the sample `series` (`name{labels}` exactly as exposed) in a /metrics page.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.split_whitespace().next())
        .map(|value| value.parse().unwrap())
}

// ---------------------------------------------------------------------------------------------
// HTTP, the plain way: one request per connection

/// What an HTTP server answered.
#[derive(Debug)]
struct Response {
    status: u16,
    body: String,
}

impl Response {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

/// Sends one HTTP/1.1 request to `base` (`http://host:port`) and reads the whole response.
fn http(base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let host = base.strip_prefix("http://").expect("an http:// URL");
    let mut stream = TcpStream::connect(host).unwrap_or_else(|e| panic!("connecting to {host}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap_or_else(|e| panic!("{method} {base}{path}: {e}"));
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP response: {raw:?}"));
    assert!(
        !head.to_ascii_lowercase().contains("transfer-encoding: chunked"),
        "chunked responses are not decoded here: {head}"
    );
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Response { status, body: body.to_owned() }
}

type HmacSha256 = Hmac<Sha256>;

/// `sha256=<hex HMAC-SHA256(secret, body)>`, as registries sign webhooks.
fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).unwrap();
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`, compared in
/// constant time as a receiver should.
fn signature_verifies(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex) = header.strip_prefix("sha256=") else { return false };
    if hex.len() % 2 != 0 {
        return false;
    }
    let Ok(bytes) = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
    else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(secret).unwrap();
    mac.update(body);
    mac.verify_slice(&bytes).is_ok()
}

/// One request a [`Receiver`] got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    /// Header names lowercased.
    headers: BTreeMap<String, String>,
    /// The body exactly as received.
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{} got no JSON ({e}): {self:?}", self.path))
    }
}

/// A local HTTP server standing in for Slack, Teams and a webhook receiver: it answers every
/// request `200 ok` and passes it on.
struct Receiver {
    /// `http://127.0.0.1:PORT`.
    url: String,
    received: mpsc::Receiver<Received>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, received) = mpsc::channel();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let tx = tx.clone();
                thread::spawn(move || {
                    if let Some(request) = serve_one(stream) {
                        let _ = tx.send(request);
                    }
                });
            }
        });
        Receiver { url, received }
    }
}

/// Reads one request (with a Content-Length body) from `stream` and answers `200 ok`.
fn serve_one(stream: TcpStream) -> Option<Received> {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut headers = BTreeMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let mut stream = stream;
    stream
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        .ok()?;
    Some(Received { path, headers, body })
}

// ---------------------------------------------------------------------------------------------
// Scenarios

#[test]
fn node_exporter_with_a_minor_policy_moves_to_the_newest_minor_release_on_every_node() {
    // The cluster first: a skipped kubectl test needs no registry.
    let Some(u) = Updates::start() else { return };
    let k = &u.k;
    let rt = runtime();
    let registry = rt.block_on(TestRegistry::start()).unwrap();
    let tags = ["v1.5.0", "v1.5.1", "v1.6.0", "v1.7.1", "v2.0.0", "v1.8.0-rc.1"];
    rt.block_on(registry.push_tags("prom/node-exporter", tags, "node-exporter")).unwrap();
    let repository = format!("{}/prom/node-exporter", registry.host());
    let (old, new) = (format!("{repository}:v1.5.0"), format!("{repository}:v1.7.1"));

    namespace(k, "monitoring");
    let ds = daemon_set(
        "monitoring",
        "node-exporter",
        &old,
        &[
            ("headwind.sh/policy", "minor"),
            ("headwind.sh/require-approval", "false"),
            ("headwind.sh/min-update-interval", "43200"),
            ("headwind.sh/event-source", "polling"),
        ],
    );
    k.apply(&ds.to_string());

    // Not v1.5.1 or v1.6.0 on the way, not v2.0.0 (major), not v1.8.0-rc.1 (a pre-release).
    wait_rolled_out(k, "monitoring", "node-exporter", &new);
    let ds = get_ds(k, "monitoring", "node-exporter");
    let history = update_history(&ds);
    assert_eq!(history.len(), 1, "{history:#?}");
    assert_eq!(history[0]["container"], "node-exporter");
    assert_eq!(history[0]["image"], new.as_str());
    assert_eq!(history[0]["approvedBy"], "auto");
    assert!(history[0].get("updateRequestName").is_none(), "no request without approval: {history:#?}");
    let applied: Timestamp = history[0]["timestamp"].as_str().unwrap().parse().expect("RFC 3339");
    assert!(Timestamp::now().duration_since(applied).as_secs() < 120, "{applied}");
    let last_update: Timestamp =
        annotation(&ds, "headwind.sh/last-update").expect("last-update").parse().expect("RFC 3339");
    assert_eq!(last_update, applied);
    assert!(requests(k, "monitoring").is_empty(), "no UpdateRequest without approval");

    let out = k.kubectl(&["rollout", "history", "ds/node-exporter", "-n", "monitoring"]).ok();
    let revision_2 = out.lines().find(|l| l.starts_with("2 ")).unwrap_or_else(|| panic!("{out}"));
    assert!(
        revision_2.contains(&format!("everynode: node-exporter {old} -> {new}"))
            && revision_2.contains("approved by auto"),
        "{out}"
    );
    let metrics = u.metrics();
    assert_eq!(
        sample(&metrics, "headwind_updates_applied_total{kind=\"DaemonSet\"}"),
        Some(1.0),
        "{metrics}"
    );
}

#[test]
fn fluent_bit_from_a_private_registry_waits_for_approval_and_a_rejection_sticks() {
    // The cluster first: a skipped kubectl test needs no registry.
    let Some(u) = Updates::start() else { return };
    let k = &u.k;
    let rt = runtime();
    let registry = rt.block_on(TestRegistry::start_with_user("fluent", "bit-s3cret")).unwrap();
    rt.block_on(registry.push_tags("fluent/fluent-bit", ["2.0.0", "2.0.2", "2.1.0"], "fluent-bit")).unwrap();
    let repository = format!("{}/fluent/fluent-bit", registry.host());
    let image = |tag: &str| format!("{repository}:{tag}");

    namespace(k, "logging");
    // The registry refuses anonymous requests: polls succeed only with the pull secret.
    k.kubectl(&[
        "create",
        "secret",
        "docker-registry",
        "registry-credentials",
        "-n",
        "logging",
        &format!("--docker-server={}", registry.host()),
        "--docker-username=fluent",
        "--docker-password=bit-s3cret",
    ])
    .ok();
    let mut ds = daemon_set(
        "logging",
        "fluent-bit",
        &image("2.0.0"),
        &[
            ("headwind.sh/policy", "patch"),
            ("headwind.sh/require-approval", "true"),
            // The seed waits a day between updates; the second half of this test needs none.
            ("headwind.sh/min-update-interval", "0"),
            ("headwind.sh/event-source", "both"),
            ("headwind.sh/polling-interval", "10"),
        ],
    );
    ds["spec"]["template"]["spec"]["imagePullSecrets"] = json!([{"name": "registry-credentials"}]);
    k.apply(&ds.to_string());
    wait_rolled_out(k, "logging", "fluent-bit", &image("2.0.0"));

    // 2.0.2 is proposed (not 2.1.0: a minor release), and waits.
    let first = "fluent-bit-update-2-0-2";
    let request = wait_for(k, "an UpdateRequest for 2.0.2", CONVERGE, || {
        let all = requests(k, "logging");
        all.get(first).filter(|r| phase(r) == "Pending").cloned().ok_or_else(|| format!("{all:#?}"))
    });
    assert_eq!(request["spec"]["newImage"], image("2.0.2"));
    assert_eq!(request["spec"]["currentImage"], image("2.0.0"));
    assert_eq!(request["spec"]["targetRef"]["kind"], "DaemonSet");
    assert_eq!(request["spec"]["targetRef"]["name"], "fluent-bit");
    let table = k.kubectl(&["get", "ur", "-n", "logging"]).ok();
    assert!(
        table.lines().any(|l| l.starts_with(first) && l.contains(&image("2.0.2")) && l.contains("Pending")),
        "{table}"
    );
    let listed = k.everynode(&["updates", "list", "-n", "logging"]).ok();
    assert!(listed.lines().any(|l| l.contains(first) && l.contains("Pending")), "{listed}");
    holds(k, "nothing changing before approval", Duration::from_secs(3), || {
        let (ds, all) = (get_ds(k, "logging", "fluent-bit"), requests(k, "logging"));
        match (image_of(&ds) == image("2.0.0"), all.len() == 1 && phase(&all[first]) == "Pending") {
            (true, true) => Ok(()),
            _ => Err(format!("image {}\nrequests {all:#?}", image_of(&ds))),
        }
    });

    let approved =
        k.everynode(&["updates", "approve", first, "-n", "logging", "--as", "alice@example.com"]).ok();
    assert_eq!(approved, format!("updaterequest logging/{first} approved by alice@example.com\n"));
    wait_rolled_out(k, "logging", "fluent-bit", &image("2.0.2"));
    wait_for(k, "the request Completed", CONVERGE, || {
        let request = requests(k, "logging").remove(first).unwrap();
        (phase(&request) == "Completed").then_some(()).ok_or_else(|| format!("{request:#}"))
    });
    let request = &requests(k, "logging")[first];
    assert_eq!(request["status"]["approvedBy"], "alice@example.com", "{request:#}");
    let history = update_history(&get_ds(k, "logging", "fluent-bit"));
    assert_eq!(history[0]["image"], image("2.0.2"), "{history:#?}");
    assert_eq!(history[0]["approvedBy"], "alice@example.com", "{history:#?}");
    assert_eq!(history[0]["updateRequestName"], first, "{history:#?}");

    // A new patch release is pushed and announced; its request is rejected, for good.
    rt.block_on(registry.push_image("fluent/fluent-bit", "2.0.3", "fluent-bit")).unwrap();
    u.announce(&repository, "2.0.3");
    let second = "fluent-bit-update-2-0-3";
    wait_for(k, "an UpdateRequest for 2.0.3", CONVERGE, || {
        let all = requests(k, "logging");
        all.get(second).filter(|r| phase(r) == "Pending").cloned().ok_or_else(|| format!("{all:#?}"))
    });
    let rejected = k
        .everynode(&[
            "updates",
            "reject",
            second,
            "-n",
            "logging",
            "--as",
            "bob@example.com",
            "--reason",
            "known memory leak",
        ])
        .ok();
    assert_eq!(rejected, format!("updaterequest logging/{second} rejected by bob@example.com\n"));
    // Several passes, and a registry poll after the rejection (2.0.3 is in the registry by
    // then), must leave it alone.
    let polls = || sample(&u.metrics(), "headwind_polls_total{result=\"success\"}").unwrap_or(0.0);
    let polls_at_rejection = polls();
    let started = Instant::now();
    let mut polled_at = None;
    while started.elapsed() < QUIET
        || polled_at.is_none_or(|at: Instant| at.elapsed() < Duration::from_secs(2))
    {
        assert!(started.elapsed() < CONVERGE, "no registry poll within {CONVERGE:?}\n{}", log_tail(k));
        if polled_at.is_none() && polls() > polls_at_rejection {
            polled_at = Some(Instant::now());
        }
        let (ds, all) = (get_ds(k, "logging", "fluent-bit"), requests(k, "logging"));
        let names: Vec<&String> = all.keys().collect();
        assert_eq!(names, [first, second], "no new request after the rejection\n{}", log_tail(k));
        assert_eq!(phase(&all[second]), "Rejected", "{:#}", all[second]);
        assert_eq!(image_of(&ds), image("2.0.2"), "the image stays\n{}", log_tail(k));
        thread::sleep(POLL);
    }
    let request = &requests(k, "logging")[second];
    assert_eq!(request["status"]["rejectedBy"], "bob@example.com", "{request:#}");
    assert_eq!(request["status"]["message"], "known memory leak", "{request:#}");
    wait_rolled_out(k, "logging", "fluent-bit", &image("2.0.2"));
}

#[test]
fn the_minimum_update_interval_holds_back_the_next_update() {
    let Some(u) = Updates::start() else { return };
    let k = &u.k;
    let annotations = |interval| {
        [
            ("headwind.sh/policy", "minor"),
            ("headwind.sh/require-approval", "false"),
            ("headwind.sh/event-source", "webhook"),
            ("headwind.sh/min-update-interval", interval),
        ]
    };
    // `free` is the control: the same image and policy without an interval.
    k.apply(&daemon_set("default", "held", "sidecar:1.0.0", &annotations("3600")).to_string());
    k.apply(&daemon_set("default", "free", "sidecar:1.0.0", &annotations("0")).to_string());
    wait_rolled_out(k, "default", "held", "sidecar:1.0.0");

    u.announce("sidecar", "1.1.0");
    wait_rolled_out(k, "default", "held", "sidecar:1.1.0");
    wait_rolled_out(k, "default", "free", "sidecar:1.1.0");

    u.announce("sidecar", "1.2.0");
    wait_for(k, "the control DaemonSet moving to 1.2.0", CONVERGE, || {
        let ds = get_ds(k, "default", "free");
        (image_of(&ds) == "sidecar:1.2.0").then_some(()).ok_or_else(|| image_of(&ds))
    });
    holds(k, "the interval holding back 1.2.0", QUIET, || {
        let ds = get_ds(k, "default", "held");
        match (image_of(&ds).as_str(), update_history(&ds).len()) {
            ("sidecar:1.1.0", 1) => Ok(()),
            _ => Err(format!("image {}\nhistory {:#?}", image_of(&ds), update_history(&ds))),
        }
    });
}

#[test]
fn falco_with_a_glob_policy_follows_only_stable_tags() {
    // The cluster first: a skipped kubectl test needs no registry.
    let Some(u) = Updates::start() else { return };
    let k = &u.k;
    let rt = runtime();
    let registry = rt.block_on(TestRegistry::start()).unwrap();
    let tags = ["0.34.0-stable", "0.35.0", "0.36.0-rc1", "0.35.1-stable", "0.37.0-debug"];
    rt.block_on(registry.push_tags("falcosecurity/falco", tags, "falco")).unwrap();
    let image = |tag: &str| format!("{}/falcosecurity/falco:{tag}", registry.host());

    namespace(k, "security");
    let ds = daemon_set(
        "security",
        "falco",
        &image("0.34.0-stable"),
        &[
            ("headwind.sh/policy", "glob"),
            ("headwind.sh/pattern", "*-stable"),
            ("headwind.sh/require-approval", "true"),
            ("headwind.sh/min-update-interval", "259200"),
            ("headwind.sh/event-source", "polling"),
        ],
    );
    k.apply(&ds.to_string());

    let name = "falco-update-0-35-1-stable";
    wait_for(k, "an UpdateRequest for 0.35.1-stable", CONVERGE, || {
        let all = requests(k, "security");
        all.get(name).filter(|r| phase(r) == "Pending").map(|_| ()).ok_or_else(|| format!("{all:#?}"))
    });
    let all = requests(k, "security");
    assert_eq!(all.len(), 1, "only the stable tag is proposed: {all:#?}");
    assert_eq!(all[name]["spec"]["newImage"], image("0.35.1-stable"));
    assert_eq!(all[name]["spec"]["policy"], "glob");

    // Approved the kubectl way: a merge patch of the status subresource.
    k.kubectl(&[
        "patch",
        "ur",
        name,
        "-n",
        "security",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"phase":"Approved","approvedBy":"carol@example.com"}}"#,
    ])
    .ok();
    wait_rolled_out(k, "security", "falco", &image("0.35.1-stable"));
    let history = update_history(&get_ds(k, "security", "falco"));
    assert_eq!(history.len(), 1, "{history:#?}");
    assert_eq!(history[0]["approvedBy"], "carol@example.com", "{history:#?}");
}

#[test]
fn a_crash_looping_new_image_is_rolled_back_and_never_applied_again() {
    let Some(u) = Updates::start() else { return };
    let k = &u.k;
    let ds = daemon_set(
        "default",
        "agent",
        "agent:2.0.0",
        &[
            ("headwind.sh/policy", "minor"),
            ("headwind.sh/require-approval", "false"),
            ("headwind.sh/event-source", "webhook"),
            ("headwind.sh/min-update-interval", "0"),
            ("headwind.sh/auto-rollback", "true"),
            ("headwind.sh/rollback-timeout", "120"),
            ("headwind.sh/health-check-retries", "2"),
        ],
    );
    k.apply(&ds.to_string());
    wait_rolled_out(k, "default", "agent", "agent:2.0.0");
    let columns = "custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[0].image,\
                   WAITING:.status.containerStatuses[0].state.waiting.reason";
    let mut pods = k.watch(&["get", "pods", "-l", "app=agent", "-w", "-o", columns]);

    // 2.1.0 crash-loops on every node of the fleet.
    u.announce("agent", "2.1.0");
    let ds = wait_for(k, "the rollback", CONVERGE, || {
        let ds = get_ds(k, "default", "agent");
        let history = update_history(&ds);
        match history.first() {
            Some(newest) if newest["kind"] == "rollback" => Ok(ds),
            _ => Err(format!("image {}\nhistory {history:#?}", image_of(&ds))),
        }
    });
    let history = update_history(&ds);
    assert_eq!(history.len(), 2, "the update and its rollback, newest first: {history:#?}");
    assert_eq!((&history[0]["image"], &history[0]["kind"]), (&json!("agent:2.0.0"), &json!("rollback")));
    assert_eq!(history[0]["approvedBy"], "everynode-updater");
    assert_eq!(history[1]["image"], "agent:2.1.0", "{history:#?}");
    assert_eq!(history[1]["approvedBy"], "auto", "{history:#?}");
    assert!(history[1].get("kind").is_none(), "{history:#?}");
    assert!(annotation(&ds, "everynode.io/rollout-watch").is_none(), "the watch is over: {ds:#}");
    wait_rolled_out(k, "default", "agent", "agent:2.0.0");

    let mut seen = Vec::new();
    while let Some(line) = pods.try_next_line(Duration::from_millis(500)) {
        seen.push(line);
    }
    assert!(
        seen.iter().any(|l| l.contains("agent:2.1.0") && l.contains("CrashLoopBackOff")),
        "new pods crash-looped before the rollback:\n{}",
        seen.join("\n")
    );
    let rolled_back = events(k, "default", "agent", "RolledBack");
    assert_eq!(rolled_back.len(), 1, "{rolled_back:#?}");
    assert_eq!(rolled_back[0]["type"], "Warning");
    let message = rolled_back[0]["message"].as_str().unwrap();
    assert!(message.starts_with("agent agent:2.1.0 -> agent:2.0.0: "), "{message}");

    // The announced 2.1.0 is still the best candidate; it stays refused.
    holds(k, "2.1.0 staying away", QUIET, || {
        let ds = get_ds(k, "default", "agent");
        match (image_of(&ds).as_str(), update_history(&ds).len()) {
            ("agent:2.0.0", 2) => Ok(()),
            _ => Err(format!("image {}\nhistory {:#?}", image_of(&ds), update_history(&ds))),
        }
    });
    let metrics = u.metrics();
    assert_eq!(sample(&metrics, "headwind_rollbacks_total{kind=\"DaemonSet\"}"), Some(1.0), "{metrics}");
    assert_eq!(
        sample(&metrics, "headwind_updates_applied_total{kind=\"DaemonSet\"}"),
        Some(1.0),
        "{metrics}"
    );
}

#[test]
fn an_applied_update_is_announced_on_slack_teams_and_a_signed_webhook() {
    let receiver = Receiver::start();
    let notify_secret = "notification-secret";
    let notify = json!({
        "slack": {"webhookUrl": format!("{}/slack", receiver.url)},
        "teams": {"webhookUrl": format!("{}/teams", receiver.url)},
        "webhook": {"url": format!("{}/hook", receiver.url), "secret": notify_secret},
    });
    let Some(u) = Updates::start_with_notifications(Some(&notify.to_string())) else { return };
    let k = &u.k;
    let ds = daemon_set(
        "default",
        "beacon",
        "beacon:1.0.0",
        &[
            ("headwind.sh/policy", "minor"),
            ("headwind.sh/require-approval", "false"),
            ("headwind.sh/event-source", "webhook"),
            ("headwind.sh/auto-rollback", "true"),
        ],
    );
    k.apply(&ds.to_string());
    wait_rolled_out(k, "default", "beacon", "beacon:1.0.0");
    u.announce("beacon", "1.1.0");

    // Each channel first hears that the update was detected, then that it was applied; keep
    // the applied one of each (chat bodies say it in their title, the webhook in a header).
    let applied = |request: &Received| match request.path.as_str() {
        "/hook" => request.headers.get("x-everynode-event").map(String::as_str) == Some("update_applied"),
        _ => String::from_utf8_lossy(&request.body).contains("Image update applied"),
    };
    let mut got: BTreeMap<String, Received> = BTreeMap::new();
    let mut paths_seen: Vec<String> = Vec::new();
    let deadline = Instant::now() + CONVERGE;
    while got.len() < 3 {
        let left = deadline.saturating_duration_since(Instant::now());
        match receiver.received.recv_timeout(left) {
            Ok(request) => {
                paths_seen.push(request.path.clone());
                if applied(&request) {
                    got.entry(request.path.clone()).or_insert(request);
                }
            }
            Err(_) => panic!(
                "update_applied reached only {:?} (all notifications: {paths_seen:?})\n{}",
                got.keys(),
                log_tail(k)
            ),
        }
    }
    // The detection notices go out concurrently with the applied ones; wait for any stragglers.
    let twice = |seen: &[String]| {
        ["/slack", "/teams", "/hook"].iter().all(|path| seen.iter().filter(|p| p == path).count() >= 2)
    };
    while !twice(&paths_seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        match receiver.received.recv_timeout(left) {
            Ok(request) => paths_seen.push(request.path.clone()),
            Err(_) => panic!("each channel should hear detected and applied: {paths_seen:?}"),
        }
    }
    wait_rolled_out(k, "default", "beacon", "beacon:1.1.0");

    let slack = got["/slack"].json();
    let blocks = slack["blocks"].as_array().unwrap_or_else(|| panic!("no blocks: {slack:#}"));
    assert!(!blocks.is_empty(), "{slack:#}");
    assert!(slack.to_string().contains("beacon:1.1.0"), "{slack:#}");

    let teams = got["/teams"].json();
    assert_eq!(teams["type"], "message", "{teams:#}");
    let card = &teams["attachments"][0];
    assert_eq!(card["contentType"], "application/vnd.microsoft.card.adaptive", "{teams:#}");
    assert_eq!(card["content"]["type"], "AdaptiveCard", "{teams:#}");
    assert!(card.to_string().contains("beacon:1.1.0"), "{teams:#}");

    let hook = &got["/hook"];
    assert_eq!(hook.headers.get("x-everynode-event").map(String::as_str), Some("update_applied"), "{hook:?}");
    let signature = hook.headers.get("x-everynode-signature").unwrap_or_else(|| panic!("unsigned: {hook:?}"));
    assert!(signature_verifies(notify_secret.as_bytes(), &hook.body, signature), "{hook:?}");
    assert!(!signature_verifies(b"another secret", &hook.body, signature));
    let document = hook.json();
    assert_eq!(document["event"], "update_applied");
    assert_eq!(document["workload"], json!({"kind": "DaemonSet", "namespace": "default", "name": "beacon"}));
    assert_eq!(
        (&document["currentImage"], &document["newImage"]),
        (&json!("beacon:1.0.0"), &json!("beacon:1.1.0"))
    );
    assert_eq!(document["actor"], "auto");

    // The healthy rollout is watched to its end, and its success recorded.
    wait_for(k, "the rollout's success to be recorded", CONVERGE, || {
        let ds = get_ds(k, "default", "beacon");
        let succeeded = events(k, "default", "beacon", "UpdateRolloutSucceeded");
        match (annotation(&ds, "everynode.io/rollout-watch"), succeeded.len()) {
            (None, 1) => Ok(()),
            (watch, n) => Err(format!("watch {watch:?}, {n} UpdateRolloutSucceeded events")),
        }
    });
    assert_eq!(image_of(&get_ds(k, "default", "beacon")), "beacon:1.1.0", "no rollback");
}

#[test]
fn unsigned_or_wrongly_signed_webhooks_are_refused_and_change_nothing() {
    let Some(u) = Updates::start() else { return };
    let k = &u.k;
    let ds = daemon_set(
        "default",
        "gate",
        "gate:1.0.0",
        &[
            ("headwind.sh/policy", "minor"),
            ("headwind.sh/require-approval", "false"),
            ("headwind.sh/event-source", "webhook"),
        ],
    );
    k.apply(&ds.to_string());
    wait_for(k, "the updater watching the DaemonSet", CONVERGE, || {
        let metrics = u.metrics();
        (sample(&metrics, "headwind_daemonsets_watched") == Some(1.0)).then_some(()).ok_or(metrics)
    });

    let body = json!({"image": "gate", "tag": "1.1.0"}).to_string();
    let other_body = json!({"image": "gate", "tag": "1.0.1"}).to_string();
    let wrong_secret = sign(b"not-the-secret", body.as_bytes());
    let other_body_signature = sign(WEBHOOK_SECRET.as_bytes(), other_body.as_bytes());
    let attempts: [(&str, Vec<(&str, &str)>); 4] = [
        ("unsigned", vec![]),
        ("signed with another secret", vec![("X-Hub-Signature-256", &wrong_secret)]),
        ("signed over another body", vec![("X-Hub-Signature-256", &other_body_signature)]),
        ("not a signature", vec![("X-Hub-Signature-256", "sha256=not-hex")]),
    ];
    for (what, headers) in &attempts {
        let response = u.post("/webhook/generic", headers, &body);
        assert_eq!(response.status, 401, "{what}: {response:?}");
        let status = response.json();
        assert_eq!((&status["kind"], &status["code"]), (&json!("Status"), &json!(401)), "{what}: {status:#}");
    }
    holds(k, "nothing changing", QUIET, || {
        let ds = get_ds(k, "default", "gate");
        match (image_of(&ds).as_str(), annotation(&ds, "headwind.sh/update-history")) {
            ("gate:1.0.0", None) => Ok(()),
            _ => Err(format!("{ds:#}")),
        }
    });
    let metrics = u.metrics();
    let refused = "headwind_webhooks_total{source=\"generic\",result=\"unauthorized\"}";
    assert_eq!(sample(&metrics, refused), Some(4.0), "{metrics}");

    // The same announcement, signed, is acted on: what kept the image was the signature.
    u.announce("gate", "1.1.0");
    wait_rolled_out(k, "default", "gate", "gate:1.1.0");
    let metrics = u.metrics();
    for (series, value) in [
        ("headwind_daemonsets_watched", 1.0),
        ("headwind_updates_applied_total{kind=\"DaemonSet\"}", 1.0),
        ("headwind_updates_pending{kind=\"DaemonSet\"}", 0.0),
        ("headwind_rollbacks_total{kind=\"DaemonSet\"}", 0.0),
    ] {
        assert_eq!(sample(&metrics, series), Some(value), "{series}:\n{metrics}");
    }
}

/// `everynode updater --kubeconfig FILE`, the real-cluster mode, until dropped.
struct StandaloneUpdater {
    child: std::process::Child,
    url: String,
    _stdout: mpsc::Receiver<String>,
}

impl StandaloneUpdater {
    /// Starts it against `k`'s API server with `args`, and waits for its listening line.
    fn start(k: &Cluster, args: &[&str]) -> StandaloneUpdater {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_everynode"))
            .arg("updater")
            .arg("--kubeconfig")
            .arg(k.kubeconfig())
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("everynode updater starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let line = rx.recv_timeout(CONVERGE).expect("everynode updater prints where it listens");
        let url = line
            .rsplit_once(" on ")
            .map(|(_, url)| url.to_owned())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        StandaloneUpdater { child, url, _stdout: rx }
    }
}

impl Drop for StandaloneUpdater {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_standalone_updater_installs_its_crd_and_updates_daemonsets_of_another_api_server() {
    // `everynode server` stands in for a real cluster: no controllers, no nodes, no CRD.
    let Some(k) = Cluster::start() else { return };
    let config = tempfile::tempdir().unwrap();
    let secret = config.path().join("webhook-secret");
    std::fs::write(&secret, WEBHOOK_SECRET).unwrap();
    let updater = StandaloneUpdater::start(
        &k,
        &["--install-crd", "--updater-listen", "127.0.0.1:0", "--webhook-secret-file", &text(&secret)],
    );
    wait_for(&k, "the UpdateRequest CRD", CONVERGE, || {
        let run = k.kubectl(&["get", "crd", "updaterequests.headwind.sh", "-o", "name"]);
        if run.code == 0 { Ok(()) } else { Err(run.stderr) }
    });
    let ds = daemon_set(
        "default",
        "agent",
        "registry.example.com/agent:1.0.0",
        &[("headwind.sh/policy", "patch"), ("headwind.sh/require-approval", "true")],
    );
    k.apply(&ds.to_string());
    let body = json!({"image": "registry.example.com/agent", "tag": "1.0.1"}).to_string();
    let signature = sign(WEBHOOK_SECRET.as_bytes(), body.as_bytes());
    let response = http(
        &updater.url,
        "POST",
        "/webhook/generic",
        &[("X-Hub-Signature-256", &signature)],
        body.as_bytes(),
    );
    assert_eq!(response.status, 202, "{response:?}");
    wait_for(&k, "an UpdateRequest", CONVERGE, || {
        let all = requests(&k, "default");
        match all.get("agent-update-1-0-1").map(phase) {
            Some("Pending") => Ok(()),
            other => Err(format!("{other:?} in {all:#?}")),
        }
    });
    let approve = r#"{"status":{"phase":"Approved","approvedBy":"ops@example.com"}}"#;
    k.kubectl(&["patch", "ur", "agent-update-1-0-1", "--subresource=status", "--type=merge", "-p", approve])
        .ok();
    wait_for(&k, "the approved image in the template", CONVERGE, || {
        let ds = get_ds(&k, "default", "agent");
        match (image_of(&ds).as_str(), update_history(&ds).first()) {
            ("registry.example.com/agent:1.0.1", Some(entry)) if entry["approvedBy"] == "ops@example.com" => {
                Ok(())
            }
            _ => Err(format!("{ds:#}")),
        }
    });
}
