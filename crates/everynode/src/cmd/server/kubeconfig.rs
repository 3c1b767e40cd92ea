//! Writing the kubeconfig that points kubectl and kube-rs at the embedded API server.

use std::io::Write;
use std::path::Path;

/// The context (and cluster and user) name in the kubeconfig.
pub const CONTEXT: &str = "everynode";

/// Writes a kubeconfig for `server` (e.g. `http://127.0.0.1:6443`), replacing the file
/// atomically so a reader never sees half of it.
pub fn write_kubeconfig(path: &Path, server: &str) -> std::io::Result<()> {
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {CONTEXT}\n  cluster:\n    server: {server}\ncontexts:\n- name: {CONTEXT}\n  context:\n    cluster: {CONTEXT}\n    user: {CONTEXT}\n    namespace: default\ncurrent-context: {CONTEXT}\nusers:\n- name: {CONTEXT}\n  user: {{}}\npreferences: {{}}\n"
    );
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_names_the_server_and_a_current_context() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/kubeconfig");
        write_kubeconfig(&path, "http://127.0.0.1:1234").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(doc["clusters"][0]["cluster"]["server"], "http://127.0.0.1:1234");
        assert_eq!(doc["current-context"], "everynode");
    }
}
