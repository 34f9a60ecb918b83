//! The rescue password as the rescue ramdisk's /etc/shadow takes it: crypt(3) SHA-256 or
//! SHA-512 (`$5$`/`$6$`), made by the conductor (Ironic's `hash_password`) and checked by
//! the built-in agent before it writes it.

use rand::Rng;

/// `[conductor] rescue_password_hash_algorithm`'s methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptMethod {
    Sha256,
    Sha512,
}

/// crypt(3)'s salt alphabet.
const SALT_CHARS: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The password as crypt(3) `$5$salt$hash` or `$6$salt$hash` (16 random salt characters,
/// the default 5000 rounds): what Ironic's `hash_password` makes and an agent writes to
/// /etc/shadow as it is.
pub fn crypt(password: &str, method: CryptMethod) -> Result<String, String> {
    let mut rng = rand::thread_rng();
    let salt: String = (0..16)
        .map(|_| {
            let i = rng.gen_range(0..SALT_CHARS.len());
            SALT_CHARS.get(i).map_or('.', |b| char::from(*b))
        })
        .collect();
    let err = |e: sha_crypt::CryptError| format!("hashing the rescue password failed: {e:?}");
    match method {
        CryptMethod::Sha256 => {
            let p = sha_crypt::Sha256Params::new(sha_crypt::ROUNDS_DEFAULT).map_err(err)?;
            let h = sha_crypt::sha256_crypt_b64(password.as_bytes(), salt.as_bytes(), &p)
                .map_err(err)?;
            Ok(format!("$5${salt}${h}"))
        }
        CryptMethod::Sha512 => {
            let p = sha_crypt::Sha512Params::new(sha_crypt::ROUNDS_DEFAULT).map_err(err)?;
            let h = sha_crypt::sha512_crypt_b64(password.as_bytes(), salt.as_bytes(), &p)
                .map_err(err)?;
            Ok(format!("$6${salt}${h}"))
        }
    }
}

/// Whether `s` is a crypt(3) SHA or a legacy hash an /etc/shadow line can hold as it is:
/// `$id$` then only crypt's alphabet (so no `:` or newline can add a field or a line).
pub fn is_crypt_hash(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('$') else {
        return false;
    };
    let id_ok = rest
        .split('$')
        .next()
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()));
    id_ok
        && s.len() <= 512
        && s.bytes()
            .all(|b| SALT_CHARS.contains(&b) || b == b'$' || b == b'=' || b == b',')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The salt and the crypt(3) text recomputed from it.
    fn recompute(password: &str, hashed: &str) -> String {
        let parts: Vec<&str> = hashed.split('$').collect();
        let (id, salt) = (parts[1], parts[2]);
        let h = match id {
            "5" => sha_crypt::sha256_crypt_b64(
                password.as_bytes(),
                salt.as_bytes(),
                &sha_crypt::Sha256Params::new(5000).unwrap(),
            ),
            _ => sha_crypt::sha512_crypt_b64(
                password.as_bytes(),
                salt.as_bytes(),
                &sha_crypt::Sha512Params::new(5000).unwrap(),
            ),
        };
        format!("${id}${salt}${}", h.unwrap())
    }

    #[test]
    fn hashes_are_crypt_sha_with_a_fresh_salt() {
        let a = crypt("s3cret", CryptMethod::Sha256).unwrap();
        let b = crypt("s3cret", CryptMethod::Sha256).unwrap();
        assert!(a.starts_with("$5$") && a.len() == 3 + 16 + 1 + 43, "{a}");
        assert_ne!(a, b, "a new salt each time");
        assert_eq!(recompute("s3cret", &a), a);
        assert_ne!(recompute("other", &a), a);
        let c = crypt("s3cret", CryptMethod::Sha512).unwrap();
        assert!(c.starts_with("$6$") && c.len() == 3 + 16 + 1 + 86, "{c}");
        assert_eq!(recompute("s3cret", &c), c);
        assert!(!a.contains("s3cret") && !c.contains("s3cret"));
    }

    #[test]
    fn only_crypt_text_counts_as_a_hash() {
        assert!(is_crypt_hash(&crypt("pw", CryptMethod::Sha256).unwrap()));
        assert!(is_crypt_hash("$6$rounds=6000$abc$def"));
        for bad in [
            "",
            "plain",
            "$",
            "$$x",
            "$5$a:b$c",
            "$5$a\nroot::0",
            "$5$ab c",
        ] {
            assert!(!is_crypt_hash(bad), "{bad:?}");
        }
    }

    #[test]
    fn matches_glibc_crypt() {
        // Python's crypt.crypt('Hello world!', '$5$saltstring') (glibc) on this machine.
        assert_eq!(
            recompute("Hello world!", "$5$saltstring$"),
            "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"
        );
    }
}
