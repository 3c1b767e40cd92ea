//! Container image references: parsed and normalised as Docker does, re-rendered in the user's spelling.
//!
//! Two spellings of one repository (`nginx`, `library/nginx`, `docker.io/library/nginx`,
//! `index.docker.io/nginx`) must compare equal, or `headwind.sh/images` silently tracks nothing;
//! yet an update must write the image back the way the user wrote it (`prom/node-exporter:v1.6.0`,
//! not `docker.io/prom/node-exporter:v1.6.0`), or every update would also rewrite the registry and
//! show a confusing diff. So [`ImageRef`] keeps both: the normalised registry and repository for
//! comparisons, and the name as written for rendering.
//!
//! The grammar follows `distribution/reference` (the library behind `docker pull`):
//! `[host[:port]/]path[:tag][@algorithm:hex]`, where the first component is a host only when it
//! contains `.` or `:` or is `localhost`, path components are lowercase alphanumerics joined by
//! `.`, `_`, `__` or runs of `-`, and tags are `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.

use std::fmt;
use std::str::FromStr;

/// The registry a reference without a host refers to, and the spelling every Docker Hub alias is
/// normalised to.
pub const DOCKER_HUB: &str = "docker.io";

/// Other host names of Docker Hub: an image written with them is the same image as on `docker.io`.
const DOCKER_HUB_ALIASES: [&str; 2] = ["index.docker.io", "registry-1.docker.io"];

/// The Docker Hub namespace of official images: `nginx` means `library/nginx`.
const OFFICIAL_NAMESPACE: &str = "library";

/// The tag a container runtime pulls when a reference names none.
pub const DEFAULT_TAG: &str = "latest";

/// Longest name (host and path) `distribution/reference` accepts.
const NAME_MAX: usize = 255;

/// Longest tag the registry API accepts.
const TAG_MAX: usize = 128;

/// Why a string is not an image reference.
///
/// None of these is retryable: the reference itself is wrong and has to be fixed by whoever wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// The reference is the empty string.
    #[error("the image reference is empty")]
    Empty,
    /// The reference contains a character no part of a reference may contain (spaces, `#`, ...).
    #[error("image {image:?} contains {character:?}, which no image reference may contain")]
    InvalidCharacter {
        /// The reference as given.
        image: String,
        /// The first offending character.
        character: char,
    },
    /// The registry host (the first component) is not a host name, IP address or `host:port`.
    #[error("image {image:?}: invalid registry host {host:?}")]
    InvalidHost {
        /// The reference as given.
        image: String,
        /// The host part as given.
        host: String,
    },
    /// Repository paths are lowercase; registries reject `MyApp`, so we do too rather than guess.
    #[error("image {image:?}: the repository {repository:?} must be lowercase")]
    UppercaseRepository {
        /// The reference as given.
        image: String,
        /// The repository path as given.
        repository: String,
    },
    /// The repository path is empty or its components are malformed (`a//b`, `-a`, `a..b`).
    #[error("image {image:?}: invalid repository {repository:?}: {reason}")]
    InvalidRepository {
        /// The reference as given.
        image: String,
        /// The repository path as given.
        repository: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The name (host and path) is longer than registries accept.
    #[error("image {image:?}: the name is longer than {NAME_MAX} characters")]
    NameTooLong {
        /// The reference as given.
        image: String,
    },
    /// The tag after `:` is empty, too long, or has characters tags may not contain.
    #[error(
        "image {image:?}: invalid tag {tag:?}: a tag is 1 to {TAG_MAX} letters, digits, '_', '.' or '-', \
         not starting with '.' or '-'"
    )]
    InvalidTag {
        /// The reference as given.
        image: String,
        /// The tag as given.
        tag: String,
    },
    /// The digest after `@` is not `algorithm:hex` (for sha256, 64 lowercase hex digits).
    #[error("image {image:?}: invalid digest {digest:?}: {reason}")]
    InvalidDigest {
        /// The reference as given.
        image: String,
        /// The digest as given.
        digest: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Results of this module.
pub type Result<T, E = ImageError> = std::result::Result<T, E>;

/// A parsed container image reference.
///
/// Equality is structural (it includes the spelling); use [`ImageRef::same_repository`] to ask
/// whether two references name the same repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// The name (host and path) exactly as written, reused when rendering an updated reference.
    name: String,
    /// Normalised registry host: lowercase, Docker Hub aliases folded into [`DOCKER_HUB`].
    registry: String,
    /// Normalised repository path: `library/` added for one-component Docker Hub names.
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl ImageRef {
    /// Parses a container image string such as `nginx:1.25`, `prom/node-exporter:v1.5.0`,
    /// `127.0.0.1:5000/app:1.0` or `ghcr.io/org/app@sha256:...`.
    pub fn parse(image: &str) -> Result<ImageRef> {
        if image.is_empty() {
            return Err(ImageError::Empty);
        }
        if let Some(character) = image.chars().find(|c| !is_reference_char(*c)) {
            return Err(ImageError::InvalidCharacter { image: image.to_owned(), character });
        }

        // The digest comes last and cannot contain '@'; the tag is the part after the first ':'
        // of the last path component (an earlier ':' belongs to the host's port).
        let (named, digest) = match image.split_once('@') {
            Some((named, digest)) => (named, Some(digest)),
            None => (image, None),
        };
        let last_component = named.rfind('/').map_or(0, |slash| slash + 1);
        let (name, tag) = match named[last_component..].find(':') {
            Some(colon) => (&named[..last_component + colon], Some(&named[last_component + colon + 1..])),
            None => (named, None),
        };

        if name.len() > NAME_MAX {
            return Err(ImageError::NameTooLong { image: image.to_owned() });
        }
        let (host, path) = split_host(name);
        if let Some(host) = host
            && !is_valid_host(host)
        {
            return Err(ImageError::InvalidHost { image: image.to_owned(), host: host.to_owned() });
        }
        check_repository(image, path)?;
        if let Some(tag) = tag
            && !is_valid_tag(tag)
        {
            return Err(ImageError::InvalidTag { image: image.to_owned(), tag: tag.to_owned() });
        }
        if let Some(digest) = digest {
            check_digest(digest).map_err(|reason| ImageError::InvalidDigest {
                image: image.to_owned(),
                digest: digest.to_owned(),
                reason,
            })?;
        }

        let registry = match host {
            None => DOCKER_HUB.to_owned(),
            Some(host) => {
                let host = host.to_ascii_lowercase();
                if DOCKER_HUB_ALIASES.contains(&host.as_str()) { DOCKER_HUB.to_owned() } else { host }
            }
        };
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("{OFFICIAL_NAMESPACE}/{path}")
        } else {
            path.to_owned()
        };
        Ok(ImageRef {
            name: name.to_owned(),
            registry,
            repository,
            tag: tag.map(str::to_owned),
            digest: digest.map(str::to_owned),
        })
    }

    /// The normalised registry host, e.g. `docker.io`, `ghcr.io`, `127.0.0.1:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The normalised repository path within the registry, e.g. `library/nginx`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The name (host and path) as the user wrote it, e.g. `prom/node-exporter`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tag as written, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The tag a runtime would pull: the written tag, or [`DEFAULT_TAG`] when there is none.
    pub fn tag_or_latest(&self) -> &str {
        self.tag.as_deref().unwrap_or(DEFAULT_TAG)
    }

    /// The digest (`algorithm:hex`) as written, if any.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// Whether both references name the same repository, whatever their spelling, tag or digest.
    pub fn same_repository(&self, other: &ImageRef) -> bool {
        self.registry == other.registry && self.repository == other.repository
    }

    /// The fully normalised repository, e.g. `docker.io/library/nginx`: a key for maps and logs.
    pub fn repository_key(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// Renders this image with another tag (and optionally a digest), in the user's spelling.
    ///
    /// Any digest of the current reference is dropped: it pins the old content, so keeping it
    /// would make the new tag meaningless. `tag` and `digest` are expected to come from the
    /// registry (already valid); they are not validated again.
    pub fn with_tag(&self, tag: &str, digest: Option<&str>) -> String {
        match digest {
            Some(digest) => format!("{}:{tag}@{digest}", self.name),
            None => format!("{}:{tag}", self.name),
        }
    }
}

impl fmt::Display for ImageRef {
    /// The reference as written (name, tag, digest), not the normalised form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for ImageRef {
    type Err = ImageError;

    fn from_str(image: &str) -> Result<ImageRef> {
        ImageRef::parse(image)
    }
}

/// Characters that may appear somewhere in a reference; everything else is rejected up front so
/// the error names the character instead of the part it happened to land in.
fn is_reference_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':' | '@' | '+' | '=' | '[' | ']')
}

/// Splits `name` into an optional registry host and the repository path. Docker's rule: the first
/// component is a host only if there is a second component and it contains `.` or `:` or is
/// `localhost` (so `prom/node-exporter` is a Docker Hub path, `quay.io/prom/x` is not).
fn split_host(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, path)) if first.contains(['.', ':']) || first == "localhost" => (Some(first), path),
        _ => (None, name),
    }
}

/// `hostname[:port]` or `[ipv6][:port]`; hostname labels are alphanumerics and inner `-`.
fn is_valid_host(host: &str) -> bool {
    let (address_ok, port) = match host.strip_prefix('[') {
        Some(bracketed) => {
            let Some((address, after)) = bracketed.split_once(']') else {
                return false;
            };
            let address_ok =
                !address.is_empty() && address.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
            let port = match after {
                "" => None,
                _ => match after.strip_prefix(':') {
                    Some(port) => Some(port),
                    None => return false,
                },
            };
            (address_ok, port)
        }
        None => match host.split_once(':') {
            Some((hostname, port)) => (is_valid_hostname(hostname), Some(port)),
            None => (is_valid_hostname(host), None),
        },
    };
    address_ok
        && port.is_none_or(|port| {
            !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
        })
}

fn is_valid_hostname(hostname: &str) -> bool {
    !hostname.is_empty()
        && hostname.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Path components: `[a-z0-9]+` joined by one separator: `.`, `_`, `__` or any run of `-`.
fn check_repository(image: &str, path: &str) -> Result<()> {
    let invalid = |reason| ImageError::InvalidRepository {
        image: image.to_owned(),
        repository: path.to_owned(),
        reason,
    };
    if path.is_empty() {
        return Err(invalid("the repository is empty"));
    }
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ImageError::UppercaseRepository { image: image.to_owned(), repository: path.to_owned() });
    }
    for component in path.split('/') {
        if component.is_empty() {
            return Err(invalid("a path component is empty"));
        }
        let bytes = component.as_bytes();
        let is_alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        if !bytes.first().is_some_and(is_alnum) || !bytes.last().is_some_and(is_alnum) {
            return Err(invalid("path components start and end with a lowercase letter or digit"));
        }
        for separator in component.split(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
            let allowed = separator.is_empty()
                || matches!(separator, "." | "_" | "__")
                || separator.bytes().all(|b| b == b'-');
            if !allowed {
                return Err(invalid("letters and digits may only be joined by '.', '_', '__' or dashes"));
            }
        }
    }
    Ok(())
}

fn is_valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= TAG_MAX
        && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// `algorithm:encoded` as in the OCI image spec; the registered algorithms have fixed lengths.
fn check_digest(digest: &str) -> std::result::Result<(), &'static str> {
    let Some((algorithm, encoded)) = digest.split_once(':') else {
        return Err("a digest is algorithm:hex, e.g. sha256:<64 hex digits>");
    };
    let algorithm_ok = !algorithm.is_empty()
        && algorithm.split(['+', '.', '_', '-']).all(|part| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    if !algorithm_ok {
        return Err("the algorithm is lowercase letters and digits, e.g. sha256");
    }
    if encoded.is_empty()
        || !encoded.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
    {
        return Err("the encoded part is empty or has invalid characters");
    }
    let lower_hex = |len: usize| {
        encoded.len() == len && encoded.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    match algorithm {
        "sha256" if !lower_hex(64) => Err("a sha256 digest is 64 lowercase hex digits"),
        "sha512" if !lower_hex(128) => Err("a sha512 digest is 128 lowercase hex digits"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
