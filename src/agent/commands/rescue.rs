//! The `rescue` extension (IPA's extensions/rescue.py): `finalize_rescue` keeps the hashed
//! rescue password where IPA keeps it (/etc/ipa-rescue-config/ipa-rescue-password), marks
//! the machine rescued (/etc/.rescued) and gives the `rescue` user that password, so the
//! console (and SSH, where the ramdisk has it) accepts the login once the agent has gone.

use std::path::Path;

use serde_json::{Map, Value};

use super::{CmdError, Context, Event, RequestError, Spec};
use crate::model::rescue_password::{crypt, is_crypt_hash, CryptMethod};

pub(super) const COMMANDS: &[Spec] = &[Spec {
    ext: "rescue",
    name: "finalize_rescue",
    is_async: false,
    required: &["rescue_password"],
    optional: &["hashed"],
    open: false,
    validate: Some(check),
    run: finalize_rescue,
    after: Some(Event::Rescued),
}];

/// The rescue user: uid 0, as IPA's ramdisks give it passwordless sudo and this ramdisk
/// has none; the home is the ramdisk's /tmp.
const RESCUE_PASSWD: &str = "rescue:x:0:0:rescue:/tmp:/bin/sh";

/// A password that is empty, or "hashed" text that is not a crypt(3) hash (it would go into
/// /etc/shadow as it is), is refused before anything is written.
fn check(_: &Context, p: &Map<String, Value>) -> Result<(), RequestError> {
    let hashed = match p.get("hashed") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(RequestError::InvalidParams(
                "hashed must be a boolean".into(),
            ))
        }
    };
    match p.get("rescue_password") {
        Some(Value::String(s)) if !s.is_empty() => {
            if hashed && !is_crypt_hash(s) {
                return Err(RequestError::InvalidParams(
                    "rescue_password is not a crypt(3) hash".into(),
                ));
            }
            Ok(())
        }
        _ => Err(RequestError::InvalidParams(
            "rescue_password must be a non-empty string".into(),
        )),
    }
}

fn finalize_rescue(ctx: &Context, p: &Map<String, Value>) -> Result<Value, CmdError> {
    let given = p
        .get("rescue_password")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // As IPA: a plain password (older conductors) is hashed here with SHA-256.
    let hashed = if p.get("hashed") == Some(&Value::Bool(true)) {
        given.to_string()
    } else {
        crypt(given, CryptMethod::Sha256).map_err(CmdError::exec)?
    };
    write_rescue(&ctx.rescue_root, &hashed).map_err(|e| {
        CmdError::exec(format!(
            "Rescue Operation failed when writing the hashed rescue password to the password file. Error {e}"
        ))
    })?;
    tracing::info!("rescue password set for the rescue user");
    Ok(Value::Null)
}

/// Write the password file, the marker, and the rescue user into `root`'s /etc.
fn write_rescue(root: &Path, hashed: &str) -> std::io::Result<()> {
    let etc = root.join("etc");
    let conf = etc.join("ipa-rescue-config");
    std::fs::create_dir_all(&conf)?;
    write_private(&conf.join("ipa-rescue-password"), hashed)?;
    std::fs::write(etc.join(".rescued"), b"")?;
    let passwd = etc.join("passwd");
    let old = std::fs::read_to_string(&passwd).unwrap_or_default();
    std::fs::write(&passwd, with_line(&old, "rescue", RESCUE_PASSWD))?;
    let shadow = etc.join("shadow");
    let old = std::fs::read_to_string(&shadow).unwrap_or_default();
    // Fields: name, hash, last change (days; 1 = long ago), min, max, warn, ...
    let line = format!("rescue:{hashed}:1:0:99999:7:::");
    write_private(&shadow, &with_line(&old, "rescue", &line))
}

/// `text` with the line for `user` replaced by `line` (or added).
fn with_line(text: &str, user: &str, line: &str) -> String {
    let prefix = format!("{user}:");
    let mut out: Vec<&str> = text.lines().filter(|l| !l.starts_with(&prefix)).collect();
    out.push(line);
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// A file only root reads (shadow, the password file).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // The mode above only applies to a new file.
    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    f.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_rescue_user_gets_the_hash_and_nothing_else_changes() {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(etc.join("passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
        std::fs::write(
            etc.join("shadow"),
            "root:*:1:0:99999:7:::\nrescue:old:1::::::\n",
        )
        .unwrap();
        let h = crypt("pw", CryptMethod::Sha512).unwrap();
        write_rescue(dir.path(), &h).unwrap();
        let shadow = std::fs::read_to_string(etc.join("shadow")).unwrap();
        assert_eq!(
            shadow,
            format!("root:*:1:0:99999:7:::\nrescue:{h}:1:0:99999:7:::\n")
        );
        let passwd = std::fs::read_to_string(etc.join("passwd")).unwrap();
        assert_eq!(
            passwd,
            format!("root:x:0:0:root:/root:/bin/sh\n{RESCUE_PASSWD}\n")
        );
        let kept = std::fs::read_to_string(etc.join("ipa-rescue-config/ipa-rescue-password"));
        assert_eq!(kept.unwrap(), h);
        assert!(etc.join(".rescued").exists());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(etc.join("shadow"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn bad_parameters_are_refused_before_anything_is_written() {
        let (cmds, _rx) = super::super::tests::commands(vec![]);
        for (params, want) in [
            (json!({}), "missing the parameter"),
            (json!({"rescue_password": ""}), "non-empty"),
            (json!({"rescue_password": 5}), "non-empty"),
            (json!({"rescue_password": "x", "hashed": "yes"}), "boolean"),
            (
                json!({"rescue_password": "pw\nroot::0:0", "hashed": true}),
                "crypt(3)",
            ),
            (
                json!({"rescue_password": "x", "extra": 1}),
                "unexpected parameter",
            ),
        ] {
            let p = params.as_object().unwrap().clone();
            let e = cmds.execute("rescue.finalize_rescue", p).unwrap_err();
            assert_eq!(e.status(), 400, "{e}");
            assert!(e.to_string().contains(want), "{params}: {e}");
        }
        assert_eq!(cmds.list()["commands"], json!([]));
    }
}
