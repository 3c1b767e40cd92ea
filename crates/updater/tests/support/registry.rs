//! A real container registry for tests: Debian's `docker-registry` (distribution 2.8) on a loopback port.
//!
//! [`TestRegistry::start`] writes a config into a temporary directory, starts the binary on a free
//! port and waits until `/v2/` answers; dropping it kills the process. Images are pushed through the
//! distribution HTTP API (monolithic blob uploads, then an OCI manifest per tag), so tests need no
//! docker daemon. With [`TestRegistry::start_with_user`], the registry requires HTTP basic auth
//! from an htpasswd file written here, and the harness authenticates its own pushes.
//!
//! Distribution 2.8 ignores `n` and `last` on `tags/list` and returns every tag, unsorted.
//!
//! Usable from any test crate: `mod support;` here, or from another crate
//! `#[path = "../../updater/tests/support/registry.rs"] mod registry;`. Dependencies (all usable as
//! dev-dependencies): anyhow, bcrypt, reqwest (0.13, rustls-no-provider), rustls (0.23, ring),
//! serde_json, sha2 (0.11), tempfile, tokio (macros, rt, time).

#![allow(dead_code)]

use std::fs::File;
use std::io::Read as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use reqwest::{StatusCode, Url};
use serde_json::json;
use sha2::{Digest as _, Sha256};

/// Where Debian's `docker-registry` package installs the registry.
pub const REGISTRY_BINARY: &str = "/usr/bin/docker-registry";
/// How long the registry gets to answer `/v2/` after starting (it takes well under a second).
const STARTUP_PATIENCE: Duration = Duration::from_secs(20);
/// bcrypt cost of the htpasswd entries: the minimum, because the registry verifies the hash on
/// every request and the default cost would add tens of milliseconds to each.
const BCRYPT_COST: u32 = 4;
/// OCI media types of what the harness pushes.
const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";
/// Manifest PUTs in flight at once in [`TestRegistry::push_tags`].
const PARALLEL_PUTS: usize = 8;

/// Installs ring as rustls' process-wide crypto provider, which reqwest (and so oci-client) needs
/// before building any client, even for plain HTTP. Idempotent; the binary does the same at start.
pub fn install_crypto_provider() {
    // Err means a provider is already installed, which is all we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A running registry, killed on drop.
pub struct TestRegistry {
    child: Option<Child>,
    addr: SocketAddr,
    dir: tempfile::TempDir,
    credentials: Option<(String, String)>,
    http: reqwest::Client,
}

impl TestRegistry {
    /// A registry that allows anonymous pulls and pushes.
    pub async fn start() -> anyhow::Result<Self> {
        Self::launch(None).await
    }

    /// A registry that requires HTTP basic auth as `username`/`password` for every request
    /// (pulls included), as a private registry does.
    pub async fn start_with_user(username: &str, password: &str) -> anyhow::Result<Self> {
        Self::launch(Some((username.to_owned(), password.to_owned()))).await
    }

    async fn launch(credentials: Option<(String, String)>) -> anyhow::Result<Self> {
        ensure!(
            Path::new(REGISTRY_BINARY).is_file(),
            "{REGISTRY_BINARY} is missing: these tests run a real registry from Debian's \
             docker-registry package; run scripts/test.sh (it installs it) or \
             `apt-get install docker-registry`"
        );
        install_crypto_provider();
        let dir = tempfile::tempdir().context("creating the registry's directory")?;
        let addr = free_loopback_port()?;
        let auth = match &credentials {
            Some((username, password)) => {
                let hash = bcrypt::hash(password, BCRYPT_COST).context("hashing the test password")?;
                let htpasswd = dir.path().join("htpasswd");
                std::fs::write(&htpasswd, format!("{username}:{hash}\n")).context("writing htpasswd")?;
                format!("auth:\n  htpasswd:\n    realm: everynode-test\n    path: {}\n", htpasswd.display())
            }
            None => String::new(),
        };
        let config = format!(
            "version: 0.1\n\
             log:\n  level: warn\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n\
             http:\n  addr: {addr}\n  secret: everynode-test-only\n\
             {auth}",
            data = dir.path().join("data").display(),
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).context("writing the registry config")?;
        let log = File::create(dir.path().join("registry.log")).context("creating the registry log")?;
        let child = Command::new(REGISTRY_BINARY)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {REGISTRY_BINARY}"))?;
        let mut registry = Self {
            child: Some(child),
            addr,
            dir,
            credentials,
            // Test traffic stays on loopback: never through a proxy from the environment.
            http: reqwest::Client::builder()
                .no_proxy()
                .tcp_nodelay(true)
                .build()
                .context("building the HTTP client")?,
        };
        registry.wait_until_up().await?;
        Ok(registry)
    }

    async fn wait_until_up(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + STARTUP_PATIENCE;
        let url = self.url("/v2/")?;
        loop {
            let exited = match self.child.as_mut() {
                Some(child) => child.try_wait()?,
                None => None,
            };
            if let Some(status) = exited {
                bail!("the registry exited with {status} while starting:\n{}", self.log());
            }
            match self.http.get(url.clone()).send().await {
                // 401 is the registry asking for credentials: it is up.
                Ok(response) if matches!(response.status(), StatusCode::OK | StatusCode::UNAUTHORIZED) => {
                    return Ok(());
                }
                _ if Instant::now() > deadline => {
                    bail!(
                        "the registry did not answer on {} within {STARTUP_PATIENCE:?}:\n{}",
                        self.addr,
                        self.log()
                    )
                }
                _ => tokio::time::sleep(Duration::from_millis(25)).await,
            }
        }
    }

    /// `127.0.0.1:PORT`: the registry part of image references (`127.0.0.1:PORT/team/app:1.0`).
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// The credentials the registry requires, when it requires any.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// The registry's own log (warnings and errors), for failure messages.
    pub fn log(&self) -> String {
        let mut log = String::new();
        let _ = File::open(self.dir.path().join("registry.log")).and_then(|mut f| f.read_to_string(&mut log));
        log
    }

    /// The directory holding the config, htpasswd, log and storage.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    /// Kills the registry now: calls then fail as against a registry that went down.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Pushes a one-layer image whose content is derived from `content` and tags it `tag`.
    /// Returns the manifest digest. Pushing another `content` under the same tag moves the tag.
    pub async fn push_image(&self, repository: &str, tag: &str, content: &str) -> anyhow::Result<String> {
        self.push_tags(repository, [tag], content).await
    }

    /// Pushes one image (derived from `content`) under every tag in `tags`: blobs once, then one
    /// manifest PUT per tag, a few in parallel. Returns the digest.
    pub async fn push_tags<I, T>(&self, repository: &str, tags: I, content: &str) -> anyhow::Result<String>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let layer = format!("layer of {content}\n").into_bytes();
        let layer_digest = sha256(&layer);
        let config = serde_json::to_vec(&json!({
            "architecture": "amd64",
            "os": "linux",
            "config": { "Labels": { "everynode.test/content": content } },
            "rootfs": { "type": "layers", "diff_ids": [layer_digest] },
        }))?;
        let config_digest = sha256(&config);
        self.upload_blob(repository, &config).await?;
        self.upload_blob(repository, &layer).await?;
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": { "mediaType": CONFIG_MEDIA_TYPE, "digest": config_digest, "size": config.len() },
            "layers": [{ "mediaType": LAYER_MEDIA_TYPE, "digest": layer_digest, "size": layer.len() }],
        }))?;
        let digest = sha256(&manifest);
        // Distribution takes tens of milliseconds per manifest PUT (it syncs files), so hundreds of
        // tags go up a few at a time.
        let mut puts = tokio::task::JoinSet::new();
        for tag in tags {
            if puts.len() >= PARALLEL_PUTS {
                puts.join_next().await.context("a manifest PUT")???;
            }
            let url = self.url(&format!("/v2/{repository}/manifests/{}", tag.as_ref()))?;
            let request = self.authed(self.http.put(url)).header("Content-Type", MANIFEST_MEDIA_TYPE);
            let (name, manifest, digest) =
                (format!("{repository}:{}", tag.as_ref()), manifest.clone(), digest.clone());
            puts.spawn(async move { put_manifest(request, &name, manifest, &digest).await });
        }
        while let Some(put) = puts.join_next().await {
            put??;
        }
        Ok(digest)
    }

    /// Monolithic upload: `POST /blobs/uploads/`, then one `PUT <location>?digest=`.
    async fn upload_blob(&self, repository: &str, blob: &[u8]) -> anyhow::Result<()> {
        let digest = sha256(blob);
        let start = self.url(&format!("/v2/{repository}/blobs/uploads/"))?;
        let response = self.authed(self.http.post(start.clone())).send().await?;
        ensure!(response.status() == StatusCode::ACCEPTED, "starting a blob upload: {}", response.status());
        // The location may be relative, and already carries query parameters (`_state`).
        let mut location = start.join(&header(&response, "Location")).context("upload location")?;
        location.query_pairs_mut().append_pair("digest", &digest);
        let response = self
            .authed(self.http.put(location))
            .header("Content-Type", "application/octet-stream")
            .body(blob.to_vec())
            .send()
            .await?;
        ensure!(response.status() == StatusCode::CREATED, "uploading blob {digest}: {}", response.status());
        Ok(())
    }

    fn authed(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.credentials {
            Some((username, password)) => request.basic_auth(username, Some(password)),
            None => request,
        }
    }

    fn url(&self, path: &str) -> anyhow::Result<Url> {
        Url::parse(&format!("http://{}{path}", self.addr)).context("registry URL")
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// PUTs one manifest and checks the registry stored it under the digest we computed.
async fn put_manifest(
    request: reqwest::RequestBuilder,
    name: &str,
    manifest: Vec<u8>,
    digest: &str,
) -> anyhow::Result<()> {
    let response = request.body(manifest).send().await?;
    let status = response.status();
    let returned = header(&response, "Docker-Content-Digest");
    ensure!(
        status == StatusCode::CREATED,
        "PUT manifest {name}: {status}: {}",
        response.text().await.unwrap_or_default()
    );
    ensure!(returned == digest, "registry stored {name} as {returned}, expected {digest}");
    Ok(())
}

/// A loopback port nothing listens on right now (the OS picks it; the registry binds it next).
fn free_loopback_port() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr()?)
}

fn sha256(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256:{hex}")
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers().get(name).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned()
}
