//! The `agent` rescue interface through the real binary: rescue → the agent's heartbeat →
//! `rescue.finalize_rescue` with the crypt(3) hash → rescue → unrescue → active, with a
//! scripted agent and with the real `ironbox agent` (which gives the rescue user that
//! password); failures, timeouts and bad requests; the password never shown anywhere.

use std::time::Duration;

use serde_json::{json, Value};

use crate::deploy::{answer, heartbeat, lookup, scripted_agent, wait_sent};
use crate::harness::{wait_until, Ironbox};

const PASSWORD: &str = "Rescue-Me-7f3a";

fn verb(ib: &Ironbox, u: &str, body: Value) -> crate::harness::Resp {
    ib.put(&format!("/v1/nodes/{u}/states/provision"), body)
}

/// An active fake-hardware node with the agent rescue interface and one port.
fn active_node(ib: &Ironbox, mac: &str) -> String {
    let n = ib.node(json!({"rescue_interface": "agent"}));
    let u = n["uuid"].as_str().unwrap().to_string();
    let p = ib.post("/v1/ports", json!({"address": mac, "node_uuid": u}));
    assert_eq!(p.status, 201, "{}", p.body);
    for (target, state) in [
        ("manage", "manageable"),
        ("provide", "available"),
        ("active", "active"),
    ] {
        let r = verb(ib, &u, json!({"target": target}));
        assert_eq!(r.status, 202, "{}", r.body);
        ib.wait_state(&u, state, 30);
    }
    u
}

/// The agent's token from its (first) lookup.
fn token(ib: &Ironbox, mac: &str) -> String {
    let r = lookup(ib, &format!("addresses={mac}"), "1.62");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.body.to_string().contains(PASSWORD), "{}", r.body);
    assert!(!r.body.to_string().contains("$5$"), "{}", r.body);
    r.body["config"]["agent_token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The hash recomputed for `password` with the salt of `hashed` (`$5$salt$...`).
fn recrypt(password: &str, hashed: &str) -> String {
    let salt = hashed.split('$').nth(2).unwrap();
    let p = sha_crypt::Sha256Params::new(5000).unwrap();
    let h = sha_crypt::sha256_crypt_b64(password.as_bytes(), salt.as_bytes(), &p).unwrap();
    format!("$5${salt}${h}")
}

/// Nothing the API shows about the node holds the password or its hash.
fn assert_never_shown(ib: &Ironbox, u: &str) {
    for path in [
        format!("/v1/nodes/{u}"),
        format!("/v1/nodes/{u}/history?detail=true&limit=1000"),
        "/v1/nodes/detail".to_string(),
        format!("/v1/nodes/{u}/validate"),
    ] {
        let body = ib.get(&path).body.to_string();
        assert!(!body.contains(PASSWORD), "{path}: {body}");
        assert!(!body.contains("$5$"), "{path}: {body}");
    }
    assert!(!ib.log().contains(PASSWORD), "the log shows the password");
}

#[test]
fn rescue_through_a_scripted_agent_and_back() {
    let ib = Ironbox::start();
    let mac = "52:54:00:ac:00:01";
    let u = active_node(&ib, mac);

    // Bad requests change nothing.
    let r = ib.req(
        "PUT",
        &format!("/v1/nodes/{u}/states/provision"),
        Some("1.37"),
        Some(&json!({"target": "rescue", "rescue_password": PASSWORD}).to_string()),
    );
    assert_eq!(r.status, 406, "rescue is 1.38: {}", r.body);
    let r = verb(&ib, &u, json!({"target": "rescue"}));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.fault()
            .contains("A non-empty value is required when setting rescue_password"),
        "{}",
        r.body
    );
    let r = verb(&ib, &u, json!({"target": "unrescue"}));
    assert_eq!(r.status, 400, "unrescue from active: {}", r.body);
    let r = verb(
        &ib,
        &u,
        json!({"target": "rescue", "rescue_password": {"a": PASSWORD}}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(!r.body.to_string().contains(PASSWORD), "{}", r.body);
    let n = ib.get(&format!("/v1/nodes/{u}")).body;
    assert_eq!(n["provision_state"], "active");
    assert!(n["instance_info"].get("rescue_password").is_none(), "{n}");

    // Rescue: the rescue ramdisk boots and the node waits for its agent.
    let r = verb(
        &ib,
        &u,
        json!({"target": "rescue", "rescue_password": PASSWORD}),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let n = ib.wait_state(&u, "rescue wait", 30);
    assert_eq!(n["instance_info"]["rescue_password"], "******", "{n}");
    assert_eq!(
        n["instance_info"]["hashed_rescue_password"], "******",
        "{n}"
    );
    assert_eq!(n["target_provision_state"], "rescue", "{n}");
    assert_never_shown(&ib, &u);

    let (agent, seen) = scripted_agent(
        |n, name| answer(n, name, "SUCCEEDED", Value::Null),
        json!([]),
    );
    let t = token(&ib, mac);
    let hb = json!({"callback_url": agent, "agent_token": t, "agent_version": "11.0.0"});
    assert_eq!(heartbeat(&ib, &u, hb, "1.68").status, 202);
    let n = ib.wait_state(&u, "rescue", 30);
    assert_eq!(n["last_error"], Value::Null, "{n}");
    assert!(
        n["instance_info"].get("rescue_password").is_none()
            && n["instance_info"].get("hashed_rescue_password").is_none(),
        "the password is forgotten once the agent has it: {n}"
    );
    wait_sent(&seen, 1, &ib);
    let sent = seen.lock().unwrap()[0].clone();
    assert_eq!(sent["name"], "rescue.finalize_rescue", "{sent}");
    assert_eq!(sent["params"]["hashed"], true, "{sent}");
    let hashed = sent["params"]["rescue_password"].as_str().unwrap();
    assert!(hashed.starts_with("$5$"), "{hashed}");
    assert_eq!(
        recrypt(PASSWORD, hashed),
        hashed,
        "the hash is the password's"
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "only finalize_rescue was sent"
    );

    // Unrescue: back to the instance.
    let r = verb(&ib, &u, json!({"target": "unrescue"}));
    assert_eq!(r.status, 202, "{}", r.body);
    let n = ib.wait_state(&u, "active", 30);
    assert_eq!(n["last_error"], Value::Null, "{n}");
    assert_eq!(n["power_state"], "power on", "{n}");
    assert_never_shown(&ib, &u);
}

#[test]
fn a_refused_finalize_and_a_silent_agent_fail_the_rescue_and_undo_it() {
    let ib = Ironbox::start_with(
        "[conductor]\nrescue_callback_timeout = 2\ncheck_provision_state_interval = 1\nrescue_password_hash_algorithm = \"sha512\"\n",
    );
    let mac = "52:54:00:ac:00:02";
    let u = active_node(&ib, mac);
    let r = verb(
        &ib,
        &u,
        json!({"target": "rescue", "rescue_password": PASSWORD}),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    ib.wait_state(&u, "rescue wait", 30);
    let (agent, seen) = scripted_agent(
        |n, name| {
            let (s, mut v) = answer(n, name, "FAILED", Value::Null);
            v["command_error"] = json!({"type": "CommandExecutionError", "code": 500,
                "message": "Command execution failed", "details": "disk full"});
            (s, v)
        },
        json!([]),
    );
    let t = token(&ib, mac);
    let hb = json!({"callback_url": agent, "agent_token": t, "agent_version": "11.0.0"});
    assert_eq!(heartbeat(&ib, &u, hb, "1.68").status, 202);
    let n = ib.wait_state(&u, "rescue failed", 30);
    let err = n["last_error"].as_str().unwrap_or_default();
    assert!(
        err.contains("Agent returned bad result for command finalize_rescue: disk full"),
        "{n}"
    );
    assert!(n["instance_info"].get("rescue_password").is_none(), "{n}");
    assert_eq!(n["power_state"], "power off", "{n}");
    let sent = seen.lock().unwrap()[0].clone();
    let hashed = sent["params"]["rescue_password"].as_str().unwrap();
    assert!(hashed.starts_with("$6$"), "sha512 as configured: {hashed}");

    // Again from rescue failed, and no agent ever calls: the timeout fails it.
    let r = verb(
        &ib,
        &u,
        json!({"target": "rescue", "rescue_password": PASSWORD}),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    ib.wait_entered(&u, "rescue wait", 30);
    let n = ib.wait_state(&u, "rescue failed", 30);
    assert!(
        n["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("Timeout reached while waiting for callback"),
        "{n}"
    );
    assert!(n["instance_info"].get("rescue_password").is_none(), "{n}");
    assert!(n["driver_internal_info"].get("agent_url").is_none(), "{n}");
    assert_eq!(n["power_state"], "power off", "{n}");

    // And an abort from rescue wait undoes it too.
    let r = verb(
        &ib,
        &u,
        json!({"target": "rescue", "rescue_password": PASSWORD}),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    ib.wait_state(&u, "rescue wait", 30);
    let r = verb(&ib, &u, json!({"target": "abort"}));
    assert_eq!(r.status, 202, "{}", r.body);
    let n = ib.wait_state(&u, "rescue failed", 30);
    assert!(n["instance_info"].get("rescue_password").is_none(), "{n}");
    assert!(
        n["instance_info"].get("hashed_rescue_password").is_none(),
        "{n}"
    );
    assert_never_shown(&ib, &u);
}

/// The real `ironbox agent` on loopback: it looks up, heartbeats, is sent
/// `finalize_rescue`, gives the rescue user the password (in a directory standing for /),
/// stops serving and exits.
#[test]
fn the_built_in_agent_gives_the_rescue_user_the_password() {
    let ib = Ironbox::start();
    let mac = "52:54:00:ac:00:03";
    let u = active_node(&ib, mac);
    let r = verb(
        &ib,
        &u,
        json!({"target": "rescue", "rescue_password": PASSWORD}),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    ib.wait_state(&u, "rescue wait", 30);

    let root = ib.dir.path().join("rescue-root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(root.join("etc/shadow"), "root:*:1:0:99999:7:::\n").unwrap();
    let disk = ib.dir.path().join("disk0");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let log = ib.dir.path().join("rescue-agent.log");
    let mut child = std::process::Command::new(crate::harness::bin())
        .args(["agent", "--api-url", &ib.url, "--mac", mac])
        .args(["--listen", "127.0.0.1:0", "--no-power"])
        .args(["--efivars", "/nonexistent/efivars", "--disk"])
        .arg(&disk)
        .arg("--rescue-root")
        .arg(&root)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("ironbox agent");
    let agent_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let exited = wait_until(Duration::from_secs(60), || child.try_wait().unwrap());
    if exited.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let status = exited.unwrap_or_else(|| panic!("the agent did not exit:\n{}", agent_log()));
    assert!(status.success(), "{status}: {}", agent_log());
    assert!(!agent_log().contains(PASSWORD), "{}", agent_log());

    let n = ib.wait_state(&u, "rescue", 30);
    assert_eq!(n["last_error"], Value::Null, "{n}");
    let shadow = std::fs::read_to_string(root.join("etc/shadow")).unwrap();
    let line = shadow
        .lines()
        .find(|l| l.starts_with("rescue:"))
        .unwrap_or_else(|| panic!("{shadow}"));
    let hashed = line.split(':').nth(1).unwrap();
    assert_eq!(recrypt(PASSWORD, hashed), hashed, "{line}");
    assert!(shadow.starts_with("root:*:"), "root stays locked: {shadow}");
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(passwd.contains("\nrescue:x:"), "{passwd}");
    let kept = std::fs::read_to_string(root.join("etc/ipa-rescue-config/ipa-rescue-password"));
    assert_eq!(kept.unwrap(), hashed, "where IPA keeps it");
    assert!(root.join("etc/.rescued").exists());

    let r = verb(&ib, &u, json!({"target": "unrescue"}));
    assert_eq!(r.status, 202, "{}", r.body);
    let n = ib.wait_state(&u, "active", 30);
    assert_eq!(n["last_error"], Value::Null, "{n}");
    assert_never_shown(&ib, &u);
}
