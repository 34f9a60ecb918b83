//! The process itself: command line, configuration errors, zero-config start, signals,
//! crash recovery (SIGKILL then restart), online backup, authentication and TLS.

use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::harness::{bin, wait_until, Ironbox};

fn run(args: &[&str], cwd: Option<&std::path::Path>) -> (i32, String, String) {
    let mut c = Command::new(bin());
    c.args(args);
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    let out = c.output().expect("run ironbox");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn version_and_config_check() {
    let (code, out, _) = run(&["--version"], None);
    assert_eq!(code, 0);
    assert!(out.starts_with("ironbox "), "{out}");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/ironic.toml.example");
    let (code, out, err) = run(&["config", "check", example], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("OK"));

    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[api]\nport = \"six\"\n", "port"),
        (
            "[api]\nhost_ip = \"0.0.0.0\"\n",
            "refusing to serve the API without authentication",
        ),
        ("[DEFAULT]\nunknown_option = 1\n", "unknown_option"),
        (
            "[DEFAULT]\nenabled_power_interfaces = [\"ilo\"]\n",
            "[DEFAULT] enabled_power_interfaces",
        ),
        (
            "[DEFAULT]\nenabled_hardware_types = [\"ilo\"]\n",
            "unknown hardware type \"ilo\"",
        ),
        (
            "[DEFAULT]\nauth_strategy = \"keystone\"\n",
            "keystone is not supported",
        ),
        (
            "[database]\nconnection = \"postgresql://x\"\n",
            "[database] connection",
        ),
        ("this is not toml", "t.toml"),
    ];
    for (text, needle) in cases {
        let f = dir.path().join("t.toml");
        std::fs::write(&f, text).unwrap();
        let (code, _, err) = run(&["config", "check", f.to_str().unwrap()], None);
        assert_ne!(code, 0, "{text}");
        assert!(
            err.contains("t.toml") && err.contains(needle),
            "{text}: {err}"
        );
        // `serve` refuses the same file before binding anything.
        let (code, _, err) = run(&["serve", "--config", f.to_str().unwrap()], None);
        assert_ne!(code, 0);
        assert!(err.contains(needle), "{err}");
    }
    let (code, _, err) = run(&["config", "check", "/nonexistent/ironic.toml"], None);
    assert_ne!(code, 0);
    assert!(err.contains("cannot read"));
}

#[test]
fn zero_config_start_uses_loopback_and_local_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin())
        .arg("serve")
        .current_dir(dir.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let endpoints = dir.path().join("ironbox-data/endpoints.json");
    // Until it wrote its endpoints, or exited, within 5 s.
    let found = wait_until(Duration::from_secs(5), || {
        match std::fs::read_to_string(&endpoints) {
            Ok(t) => Some(Some(t)),
            Err(_) => child.try_wait().unwrap().map(|_| None),
        }
    })
    .flatten();
    let _ = child.kill();
    let _ = child.wait();
    let text =
        found.expect("ironbox serve with no config wrote endpoints.json (is port 6385 free?)");
    assert!(text.contains("http://127.0.0.1:6385"), "{text}");
    assert!(dir.path().join("ironbox-data/ironbox.sqlite").exists());
}

#[test]
fn sigterm_is_a_clean_stop() {
    let mut ib = Ironbox::start();
    ib.node(json!({"name": "a"}));
    assert_eq!(ib.terminate(), Some(0));
    assert!(
        !ib.data().join("endpoints.json").exists(),
        "endpoints.json removed on clean stop"
    );
    ib.spawn();
    assert_eq!(ib.get("/v1/nodes/a").status, 200);
}

#[test]
fn sigkill_loses_nothing() {
    let mut ib = Ironbox::start();
    let c = ib.post("/v1/chassis", json!({"description": "r1"})).body;
    let n = ib.node(json!({"name": "persist", "chassis_uuid": c["uuid"], "driver_info": {"ipmi_password": "p"}, "extra": {"k": [1, 2]}}));
    let u = n["uuid"].as_str().unwrap().to_string();
    ib.post(
        "/v1/ports",
        json!({"address": "52:54:00:00:00:aa", "node_uuid": u}),
    );
    ib.post("/v1/portgroups", json!({"node_uuid": u, "name": "pg"}));
    ib.put("/v1/nodes/persist/traits", json!({"traits": ["CUSTOM_X"]}));
    ib.put("/v1/nodes/persist/maintenance", json!({"reason": "r"}));
    // Every write answered before the kill must survive it.
    for i in 0..50 {
        assert_eq!(
            ib.post(
                "/v1/nodes",
                json!({"driver": "fake-hardware", "name": format!("bulk-{i}")})
            )
            .status,
            201
        );
    }
    let before = ib
        .get("/v1/nodes/detail")
        .body
        .to_string()
        .replace(&ib.url, "URL");
    ib.kill();
    ib.spawn();
    // Same content; only the port in the links differs across restarts.
    let after = ib
        .get("/v1/nodes/detail")
        .body
        .to_string()
        .replace(&ib.url, "URL");
    assert!(
        before == after,
        "node list changed across SIGKILL + restart"
    );
    assert_eq!(
        ib.get("/v1/nodes/persist/traits").body["traits"],
        json!(["CUSTOM_X"])
    );
    assert_eq!(
        ib.get("/v1/ports?node=persist").body["ports"][0]["address"],
        "52:54:00:00:00:aa"
    );
    assert_eq!(ib.get("/v1/portgroups/pg").status, 200);
    assert_eq!(
        ib.get("/v1/nodes/persist/history").body["history"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        ib.get("/v1/conductors/test-conductor").body["alive"],
        true,
        "re-registered after restart"
    );
}

#[test]
fn online_backup_is_a_consistent_copy() {
    let ib = Ironbox::start();
    ib.node(json!({"name": "b1"}));
    ib.node(json!({"name": "b2"}));
    let dest = ib.dir.path().join("backup.sqlite");
    let (code, out, err) = run(
        &[
            "db",
            "backup",
            dest.to_str().unwrap(),
            "--config",
            ib.config_path().to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("backup written"));
    // A second appliance started on the copy sees the same nodes.
    let copy = Ironbox::start_with(&format!(
        "[database]\nconnection = \"sqlite://{}\"\n",
        dest.display()
    ));
    let names: Vec<String> = copy.get("/v1/nodes").body["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["b1", "b2"]);
    let (code, _, err) = run(
        &[
            "db",
            "backup",
            dest.to_str().unwrap(),
            "--config",
            ib.config_path().to_str().unwrap(),
        ],
        None,
    );
    assert_ne!(code, 0, "refuses to overwrite");
    assert!(err.contains("exists"));
}

#[test]
fn http_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    let hash = bcrypt::hash("s3cret", 4)
        .unwrap()
        .replacen("$2b$", "$2y$", 1);
    std::fs::write(&htpasswd, format!("admin:{hash}\n")).unwrap();
    let ib = Ironbox::start_with(&format!(
        "[DEFAULT]\nauth_strategy = \"http_basic\"\nhttp_basic_auth_user_file = \"{}\"\n",
        htpasswd.display()
    ));
    let r = ib.req("GET", "/v1/nodes", Some("latest"), None);
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().starts_with("Basic"));
    assert!(r.header("x-openstack-ironic-api-maximum-version").is_some());
    assert_eq!(
        ib.req("GET", "/", None, None).status,
        200,
        "version discovery stays public"
    );
    assert_eq!(ib.req("GET", "/v1", None, None).status, 200);
    use base64::Engine;
    let good = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("admin:s3cret")
    );
    let bad = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("admin:wrong")
    );
    assert_eq!(
        ib.req_h(
            "GET",
            "/v1/nodes",
            Some("latest"),
            None,
            &[("Authorization", &good)]
        )
        .status,
        200
    );
    assert_eq!(
        ib.req_h(
            "GET",
            "/v1/nodes",
            Some("latest"),
            None,
            &[("Authorization", &bad)]
        )
        .status,
        401
    );
    assert_eq!(
        ib.req_h(
            "GET",
            "/v1/nodes",
            Some("latest"),
            None,
            &[("Authorization", "Basic ???")]
        )
        .status,
        401
    );
    assert!(
        !ib.log().contains("s3cret"),
        "passwords never reach the log"
    );
}

#[test]
fn tls_api() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is installed by the test setup");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let ib = Ironbox::start_with(&format!(
        "[api]\nenable_ssl_api = true\n[ssl]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        cert.display(),
        key.display()
    ));
    assert!(ib.url.starts_with("https://"), "{}", ib.url);
    let out = Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(&cert)
        .arg(format!("{}/v1/", ib.url))
        .output()
        .expect("curl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["id"], "v1");
    assert!(v["links"][0]["href"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
}
