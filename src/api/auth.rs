//! Authentication: `noauth` (loopback only unless explicitly allowed, checked at config load)
//! or `http_basic` against an htpasswd file of bcrypt hashes, as Ironic's `http_basic`.
//! The root documents stay public so clients can discover versions.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use base64::Engine;
use sha2::{Digest, Sha256};

use super::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum AuthFileError {
    #[error("{path}: cannot read htpasswd file: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Invalid {
        path: String,
        line: usize,
        reason: String,
    },
}

/// Users and their bcrypt hashes, plus a cache of credentials already verified (bcrypt is
/// deliberately slow; the cache holds only SHA-256 digests, never passwords).
pub struct BasicAuth {
    users: HashMap<String, String>,
    verified: Mutex<HashSet<[u8; 32]>>,
}

impl BasicAuth {
    pub fn load(path: &str) -> Result<BasicAuth, AuthFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthFileError::Read {
            path: path.into(),
            source,
        })?;
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (user, hash) = line.split_once(':').ok_or_else(|| AuthFileError::Invalid {
                path: path.into(),
                line: i + 1,
                reason: "expected user:hash".into(),
            })?;
            if !(hash.starts_with("$2y$") || hash.starts_with("$2b$") || hash.starts_with("$2a$")) {
                return Err(AuthFileError::Invalid {
                    path: path.into(),
                    line: i + 1,
                    reason: format!("user {user}: only bcrypt hashes are supported (htpasswd -B)"),
                });
            }
            users.insert(user.to_string(), hash.to_string());
        }
        Ok(BasicAuth {
            users,
            verified: Mutex::new(HashSet::new()),
        })
    }

    /// Check an `Authorization` header value.
    pub fn check(&self, header: Option<&str>) -> Result<(), ApiError> {
        let unauthorized = || {
            ApiError::new(
                actix_web::http::StatusCode::UNAUTHORIZED,
                "Authorization failed: invalid or missing credentials",
            )
        };
        let encoded = header
            .and_then(|h| {
                h.strip_prefix("Basic ")
                    .or_else(|| h.strip_prefix("basic "))
            })
            .ok_or_else(unauthorized)?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| unauthorized())?;
        let text = String::from_utf8(decoded).map_err(|_| unauthorized())?;
        let (user, pass) = text.split_once(':').ok_or_else(unauthorized)?;
        if self.verify(user, pass) {
            Ok(())
        } else {
            Err(unauthorized())
        }
    }

    /// Whether the file names `user` at all.
    pub fn has_user(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }

    /// Whether `user` with `pass` is in the file: `check`'s test, also the UI's login form.
    pub fn verify(&self, user: &str, pass: &str) -> bool {
        let Some(hash) = self.users.get(user) else {
            return false;
        };
        let digest: [u8; 32] = Sha256::new()
            .chain_update(user)
            .chain_update([0u8])
            .chain_update(pass)
            .chain_update(hash)
            .finalize()
            .into();
        if self
            .verified
            .lock()
            .map(|s| s.contains(&digest))
            .unwrap_or(false)
        {
            return true;
        }
        // htpasswd writes $2y$, which the bcrypt crate reads as $2b$.
        let normalized = hash.replacen("$2y$", "$2b$", 1);
        if bcrypt::verify(pass, &normalized).unwrap_or(false) {
            if let Ok(mut s) = self.verified.lock() {
                s.insert(digest);
            }
            return true;
        }
        false
    }
}

/// Paths that never need credentials (version discovery and the agent's endpoints). The UI
/// (`/ui`) checks its own session cookie instead (`ui::session`).
pub fn is_public(path: &str) -> bool {
    let p = path.trim_end_matches('/');
    p.is_empty()
        || p == "/ui"
        || p.starts_with("/ui/")
        || p == "/v1"
        || p.starts_with("/v1/lookup")
        || p.starts_with("/v1/heartbeat/")
        || p.starts_with("/v1/continue_inspection")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_bcrypt_and_caches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        let hash = bcrypt::hash("s3cret", 4)
            .unwrap()
            .replacen("$2b$", "$2y$", 1);
        std::fs::write(&path, format!("# users\nadmin:{hash}\n")).unwrap();
        let auth = BasicAuth::load(path.to_str().unwrap()).unwrap();
        let good = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("admin:s3cret")
        );
        let bad = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("admin:nope")
        );
        assert!(auth.check(Some(&good)).is_ok());
        assert!(auth.check(Some(&good)).is_ok(), "cached");
        assert_eq!(auth.check(Some(&bad)).unwrap_err().status.as_u16(), 401);
        assert!(auth.check(None).is_err());
        assert!(auth.check(Some("Basic !!!")).is_err());
    }

    #[test]
    fn rejects_non_bcrypt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        std::fs::write(&path, "admin:$apr1$abc$def\n").unwrap();
        assert!(BasicAuth::load(path.to_str().unwrap()).is_err());
    }
}
