//! `ironbox config htpasswd`: a new `http_basic` user file with one user and a generated
//! password, for machines that configure themselves (the USB appliance's first boot has no
//! `htpasswd -B` to call).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rand::distributions::{Alphanumeric, DistString};

/// Generated passwords: 20 alphanumerics (~119 bits), easy to type from a screen.
const PASSWORD_LEN: usize = 20;
/// htpasswd -B's default cost.
const BCRYPT_COST: u32 = 10;

/// Creates `path` (mode 0600; an existing file is an error, so a password shown once is
/// never silently replaced) holding `user` with a new random password; returns the password.
pub fn create(path: &Path, user: &str) -> Result<String, String> {
    if user.is_empty() || user.contains(':') || user.chars().any(char::is_whitespace) {
        return Err(format!(
            "user {user:?}: must be non-empty, without ':' or spaces"
        ));
    }
    let password = Alphanumeric.sample_string(&mut rand::thread_rng(), PASSWORD_LEN);
    let hash = bcrypt::hash(&password, BCRYPT_COST).map_err(|e| format!("bcrypt: {e}"))?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(format!("{user}:{hash}\n").as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_file_the_api_accepts_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        let pw = create(&path, "admin").unwrap();
        assert_eq!(pw.len(), PASSWORD_LEN);
        let text = std::fs::read_to_string(&path).unwrap();
        let (user, hash) = text.trim_end().split_once(':').unwrap();
        assert_eq!(user, "admin");
        assert!(hash.starts_with("$2b$10$"));
        assert!(bcrypt::verify(&pw, hash).unwrap());
        assert!(!bcrypt::verify("wrong", hash).unwrap());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(create(&path, "admin").unwrap_err().contains("exists"));
        assert!(create(&dir.path().join("x"), "a:b").is_err());
        assert!(create(&dir.path().join("y"), "").is_err());
    }
}
