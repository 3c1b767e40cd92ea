//! Image references as a container runtime reports them: `nginx:1.27` runs as
//! `docker.io/library/nginx:1.27` with an image ID `docker.io/library/nginx@sha256:...`.

use crate::fingerprint;

/// The fully qualified form of an image reference (docker's normalization: default registry
/// `docker.io`, `library/` for official images, tag `latest` when neither tag nor digest is
/// given).
pub fn normalize(image: &str) -> String {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let (domain, path) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => (first, rest.to_owned()),
        Some(_) => ("docker.io", name.to_owned()),
        None => ("docker.io", format!("library/{name}")),
    };
    let last = path.rsplit('/').next().unwrap_or(&path);
    let mut out = format!("{domain}/{path}");
    match digest {
        Some(digest) => {
            out.push('@');
            out.push_str(digest);
        }
        None if !last.contains(':') => out.push_str(":latest"),
        None => {}
    }
    out
}

/// The repository of a normalized reference (no tag, no digest).
fn repository(normalized: &str) -> &str {
    let without_digest = normalized.split('@').next().unwrap_or(normalized);
    match without_digest.rsplit_once('/') {
        Some((dir, last)) => match last.split_once(':') {
            Some((name, _tag)) => &without_digest[..dir.len() + 1 + name.len()],
            None => without_digest,
        },
        None => without_digest,
    }
}

/// The image ID a runtime would report: the repository and a digest (the real one when the
/// reference pins it, else a stable fake derived from the reference).
pub fn image_id(image: &str) -> String {
    let normalized = normalize(image);
    if let Some((_, digest)) = normalized.split_once('@') {
        return format!("{}@{digest}", repository(&normalized));
    }
    format!("{}@sha256:{}", repository(&normalized), fingerprint::hex(64, &["image", &normalized]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_normalize_like_docker() {
        let cases = [
            ("nginx", "docker.io/library/nginx:latest"),
            ("nginx:1.27", "docker.io/library/nginx:1.27"),
            ("fluent/fluent-bit:3.0", "docker.io/fluent/fluent-bit:3.0"),
            ("quay.io/prometheus/node-exporter:v1.8.0", "quay.io/prometheus/node-exporter:v1.8.0"),
            ("localhost:5000/app", "localhost:5000/app:latest"),
            ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
            ("busybox@sha256:abc", "docker.io/library/busybox@sha256:abc"),
        ];
        for (image, want) in cases {
            assert_eq!(normalize(image), want, "{image}");
        }
    }

    #[test]
    fn image_ids_name_the_repository_and_a_digest() {
        let id = image_id("nginx:1.27");
        assert!(id.starts_with("docker.io/library/nginx@sha256:"), "{id}");
        assert_eq!(id.len(), "docker.io/library/nginx@sha256:".len() + 64);
        assert_eq!(id, image_id("docker.io/library/nginx:1.27"));
        assert_ne!(id, image_id("nginx:1.28"));
        assert_eq!(image_id("localhost:5000/app@sha256:abc"), "localhost:5000/app@sha256:abc");
    }
}
