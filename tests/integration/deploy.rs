//! The direct deploy through the agent protocol: lookup and heartbeat rules, and whole
//! deploy/clean cycles driven by the real `ironbox agent` on loopback, writing into a
//! file-backed disk (fake-hardware power: no VM needed here; QEMU runs are in e2e tests).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{wait_until, FileServer, Ironbox};

fn provision(ib: &Ironbox, uuid: &str, body: Value) {
    let r = ib.put(&format!("/v1/nodes/{uuid}/states/provision"), body);
    assert_eq!(r.status, 202, "{}", r.body);
}

/// A fake-hardware node with the direct deploy interface, one port, and a local image.
fn direct_node(ib: &Ironbox, mac: &str, image_url: &str, sha256: &str) -> String {
    let n = ib.node(json!({
        "deploy_interface": "direct",
        "instance_info": {"image_source": image_url, "image_checksum": sha256},
        "driver_info": {"deploy_kernel": "k", "deploy_ramdisk": "r"},
    }));
    let uuid = n["uuid"].as_str().unwrap().to_string();
    let p = ib.post("/v1/ports", json!({"address": mac, "node_uuid": uuid}));
    assert_eq!(p.status, 201, "{}", p.body);
    uuid
}

pub(crate) fn lookup(ib: &Ironbox, query: &str, version: &str) -> crate::harness::Resp {
    ib.req("GET", &format!("/v1/lookup?{query}"), Some(version), None)
}

pub(crate) fn heartbeat(
    ib: &Ironbox,
    uuid: &str,
    body: Value,
    version: &str,
) -> crate::harness::Resp {
    ib.req(
        "POST",
        &format!("/v1/heartbeat/{uuid}"),
        Some(version),
        Some(&body.to_string()),
    )
}

#[test]
fn lookup_and_heartbeat_follow_ironics_rules() {
    let ib = Ironbox::start_with("[conductor]\nautomated_clean = false\n");
    std::fs::write(ib.dir.path().join("disk.img"), vec![7u8; 4096]).unwrap();
    let images = FileServer::start(ib.dir.path());
    let mac = "52:54:00:aa:00:01";
    let url = format!("{}/disk.img", images.url);
    let u = direct_node(&ib, mac, &url, &"ab".repeat(32));

    // Not waiting for an agent: the same 404 as for an unknown MAC (nothing leaks).
    let r = lookup(&ib, &format!("addresses={mac}"), "1.62");
    assert_eq!(r.status, 404, "{}", r.body);
    let r = lookup(&ib, "addresses=52:54:00:ff:ff:ff", "1.62");
    assert_eq!(r.status, 404);
    // Neither a valid MAC nor a node UUID.
    for q in ["", "addresses=zz", "node_uuid=nope", "bogus=1"] {
        let r = lookup(&ib, q, "1.62");
        assert_eq!(r.status, 400, "{q}: {}", r.body);
    }
    // Below 1.22 the endpoints do not exist.
    assert_eq!(lookup(&ib, &format!("addresses={mac}"), "1.21").status, 404);

    provision(&ib, &u, json!({"target": "manage"}));
    ib.wait_entered(&u, "manageable", 10);
    provision(&ib, &u, json!({"target": "provide"}));
    ib.wait_entered(&u, "available", 10);
    // A remote image needs a checksum, in a form the agent can verify.
    for bad in [
        json!("abc"),
        json!(format!("crc32:{}", "a".repeat(8))),
        Value::Null,
    ] {
        let op = if bad.is_null() {
            json!({"op": "remove", "path": "/instance_info/image_checksum"})
        } else {
            json!({"op": "add", "path": "/instance_info/image_checksum", "value": bad})
        };
        assert_eq!(ib.patch(&format!("/v1/nodes/{u}"), json!([op])).status, 200);
        let r = ib.put(
            &format!("/v1/nodes/{u}/states/provision"),
            json!({"target": "active"}),
        );
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert!(r.fault().contains("checksum"), "{}", r.fault());
    }
    ib.patch(
        &format!("/v1/nodes/{u}"),
        json!([{"op": "add", "path": "/instance_info/image_checksum", "value": "ab".repeat(32)}]),
    );

    provision(&ib, &u, json!({"target": "active"}));
    let n = ib.wait_entered(&u, "wait call-back", 10);
    assert_eq!(n["driver_internal_info"].get("agent_secret_token"), None);

    // Below 1.62 no token is issued.
    let r = lookup(&ib, &format!("addresses=zz,{mac}"), "1.61");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["node"]["uuid"], u.as_str());
    assert!(r.body["config"].get("agent_token").is_none());
    // The token is shown once, then masked.
    let r = lookup(&ib, &format!("addresses={}", mac.to_uppercase()), "1.62");
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.body["config"]["agent_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(token.len() >= 32, "{token}");
    assert_eq!(r.body["config"]["agent_token_required"], true);
    let again = lookup(&ib, &format!("node_uuid={u}"), "1.62");
    assert_eq!(again.body["config"]["agent_token"], "******");
    assert_eq!(
        again.body["node"]["driver_internal_info"]["agent_secret_token"],
        "******"
    );
    let shown = ib.get(&format!("/v1/nodes/{u}")).body;
    assert_eq!(
        shown["driver_internal_info"]["agent_secret_token"],
        "******"
    );

    let good = json!({"callback_url": "http://127.0.0.1:9", "agent_token": token, "agent_version": "11.0.0"});
    // Wrong or missing token, bad URL, missing version, fields above the version.
    for (body, version) in [
        (
            json!({"callback_url": "http://127.0.0.1:9", "agent_token": "x".repeat(43), "agent_version": "1"}),
            "1.68",
        ),
        (
            json!({"callback_url": "http://127.0.0.1:9", "agent_version": "1"}),
            "1.68",
        ),
        (
            json!({"callback_url": "not a url", "agent_token": token, "agent_version": "1"}),
            "1.68",
        ),
        (
            json!({"callback_url": "ftp://127.0.0.1/", "agent_token": token, "agent_version": "1"}),
            "1.68",
        ),
        (
            json!({"callback_url": "http://127.0.0.1:9", "agent_token": token}),
            "1.68",
        ),
        (good.clone(), "1.61"),
        (
            json!({"callback_url": 5, "agent_token": token, "agent_version": "1"}),
            "1.68",
        ),
        (json!([1, 2]), "1.68"),
    ] {
        let r = heartbeat(&ib, &u, body.clone(), version);
        assert_eq!(r.status, 400, "{body} @ {version}: {}", r.body);
    }
    assert_eq!(
        heartbeat(&ib, "no-such-node", good.clone(), "1.68").status,
        404
    );
    assert_eq!(heartbeat(&ib, &u, good.clone(), "1.21").status, 404);
    let bad_token = heartbeat(
        &ib,
        &u,
        json!({"callback_url": "http://127.0.0.1:9", "agent_token": "y", "agent_version": "1"}),
        "1.68",
    );
    assert_eq!(
        bad_token.fault(),
        "Invalid or missing agent token received."
    );

    // A good heartbeat is accepted at once; the conductor then finds no agent listening at
    // the callback URL and fails the step with a clear error.
    let r = heartbeat(&ib, &u, good, "1.68");
    assert_eq!(r.status, 202, "{}", r.body);
    let n = ib.wait_entered(&u, "deploy failed", 20);
    let err = n["last_error"].as_str().unwrap_or_default();
    assert!(
        err.contains("deploy.deploy") && err.contains("unreachable"),
        "{err}"
    );
    // The agent token travels in the agent's URL; it must not reach last_error or the log.
    assert!(!err.contains(&token) && !ib.log().contains(&token), "{err}");
    let history = ib.get(&format!("/v1/nodes/{u}/history")).body;
    let kinds: Vec<&str> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["event"].as_str())
        .collect();
    assert!(
        kinds.iter().any(|e| e.contains("first heartbeat")),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|e| e.contains("token issued")),
        "{kinds:?}"
    );

    // An "agent" that answers garbage: the node fails with a clear reason.
    let garbage = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let garbage_url = format!("http://{}", garbage.local_addr().unwrap());
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut c in garbage.incoming().flatten() {
            let mut buf = [0u8; 65536];
            let _ = c.read(&mut buf);
            let _ = c.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nnot json",
            );
        }
    });
    provision(&ib, &u, json!({"target": "active"}));
    ib.wait_entered(&u, "wait call-back", 10);
    let r = lookup(&ib, &format!("addresses={mac}"), "1.62");
    let token = r.body["config"]["agent_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(token, "******", "a new boot gets a new token");
    let hb = json!({"callback_url": garbage_url, "agent_token": token, "agent_version": "11.0.0"});
    assert_eq!(heartbeat(&ib, &u, hb, "1.68").status, 202);
    let n = ib.wait_entered(&u, "deploy failed", 20);
    let err = n["last_error"].as_str().unwrap_or_default();
    assert!(
        err.contains("malformed answer") && err.contains("not json"),
        "{err}"
    );

    // An image URL that does not answer: refused before the machine is rebooted.
    ib.patch(&format!("/v1/nodes/{u}"), json!([{"op": "add", "path": "/instance_info/image_source", "value": "http://127.0.0.1:9/gone.img"}]));
    provision(&ib, &u, json!({"target": "active"}));
    let n = ib.wait_entered(&u, "deploy failed", 30);
    let err = n["last_error"].as_str().unwrap_or_default();
    assert!(
        err.contains("Validation of image href http://127.0.0.1:9/gone.img failed"),
        "{err}"
    );
    let missing = format!("{}/missing.img", images.url);
    ib.patch(
        &format!("/v1/nodes/{u}"),
        json!([{"op": "add", "path": "/instance_info/image_source", "value": missing}]),
    );
    provision(&ib, &u, json!({"target": "active"}));
    let mut last = Value::Null;
    let failed = wait_until(Duration::from_secs(20), || {
        let n = ib.get(&format!("/v1/nodes/{u}")).body;
        let err = n["last_error"].as_str().unwrap_or_default();
        if n["provision_state"] == "deploy failed" && err.contains("404") {
            return Some(());
        }
        last = n;
        None
    });
    assert!(failed.is_some(), "{last}");
    // /metrics counted every lookup and heartbeat by result.
    let text = crate::metrics::scrape(&ib);
    let count =
        |name, result| crate::metrics::sample(&text, name, &[("result", result)]).unwrap_or(0.0);
    let lookups = "ironbox_agent_lookups_total";
    let beats = "ironbox_agent_heartbeats_total";
    assert!(count(lookups, "accepted") >= 3.0, "{text}");
    assert!(count(lookups, "not_found") >= 3.0, "{text}");
    assert!(count(lookups, "bad_request") >= 1.0, "{text}");
    assert!(count(beats, "accepted") >= 2.0, "{text}");
    assert!(count(beats, "bad_request") >= 1.0, "{text}");
    assert!(count(beats, "not_found") >= 1.0, "{text}");
}

#[test]
fn in_band_inspection_stores_the_inventory() {
    let ib = Ironbox::start();
    let n = ib.node(json!({"inspect_interface": "agent", "driver_info": {"deploy_kernel": "k", "deploy_ramdisk": "r"}}));
    let u = n["uuid"].as_str().unwrap().to_string();
    let mac = "52:54:00:aa:00:02";
    assert_eq!(
        ib.post("/v1/ports", json!({"address": mac, "node_uuid": u}))
            .status,
        201
    );
    provision(&ib, &u, json!({"target": "manage"}));
    ib.wait_entered(&u, "manageable", 10);
    provision(&ib, &u, json!({"target": "inspect"}));
    ib.wait_entered(&u, "inspect wait", 10);
    let inventory = json!({
        "interfaces": [{"name": "eth0", "mac_address": mac}, {"name": "eth1", "mac_address": "52:54:00:aa:00:03"}],
        "cpu": {"architecture": "x86_64", "count": 1},
        "memory": {"total": 536870912u64, "physical_mb": 512},
        "disks": [{"name": "/dev/vda", "size": 10737418240u64}],
        "boot": {"current_boot_mode": "bios", "pxe_interface": "52:54:00:aa:00:03"},
    });
    let post = |body: Value, version: Option<&str>| {
        ib.req(
            "POST",
            "/v1/continue_inspection",
            version,
            Some(&body.to_string()),
        )
    };
    // Bad data is refused and the node keeps waiting.
    for bad in [
        json!({}),
        json!({"inventory": []}),
        json!({"inventory": {"interfaces": []}}),
        json!([1]),
    ] {
        let r = post(bad.clone(), None);
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    let stranger = json!({"inventory": {"interfaces": [{"mac_address": "52:54:00:ff:00:01"}]}});
    assert_eq!(post(stranger, None).status, 404);
    assert_eq!(
        post(json!({"inventory": inventory}), Some("1.50")).status,
        404
    );
    assert_eq!(
        ib.get(&format!("/v1/nodes/{u}")).body["provision_state"],
        "inspect wait"
    );
    // IPA sends no version header: Ironic's inspector-style answer.
    let r = post(
        json!({"inventory": inventory, "root_disk": {"name": "/dev/vda"}}),
        None,
    );
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body, json!({"uuid": u}));
    let n = ib.wait_entered(&u, "manageable", 10);
    assert_eq!(n["properties"]["cpu_arch"], "x86_64");
    assert_eq!(n["properties"]["memory_mb"], 512);
    assert_eq!(n["properties"]["local_gb"], 9);
    assert!(n["inspection_finished_at"].is_string());
    let stored = ib.get(&format!("/v1/nodes/{u}/inventory")).body;
    assert_eq!(stored["inventory"]["cpu"]["architecture"], "x86_64");
    assert_eq!(stored["plugin_data"]["root_disk"]["name"], "/dev/vda");
    // The port it booted from was added.
    let ports = ib.get(&format!("/v1/nodes/{u}/ports")).body;
    assert_eq!(ports["ports"].as_array().unwrap().len(), 2, "{ports}");
    // Not waiting any more: the same data is refused.
    assert_eq!(post(json!({"inventory": inventory}), None).status, 404);
}

/// `ironbox agent` on loopback, treating a sparse file as the machine's only disk.
struct Agent(std::process::Child, std::path::PathBuf);

impl Agent {
    fn start(ib: &Ironbox, mac: &str, disk: &std::path::Path) -> Agent {
        let log = ib.dir.path().join(format!(
            "agent-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let child = std::process::Command::new(crate::harness::bin())
            .args([
                "agent",
                "--api-url",
                &ib.url,
                "--mac",
                mac,
                "--listen",
                "127.0.0.1:0",
                "--no-power",
                // A BIOS machine whatever the host is: never the host's UEFI NVRAM.
                "--efivars",
                "/nonexistent/efivars",
                "--disk",
            ])
            .arg(disk)
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
            .spawn()
            .expect("ironbox agent");
        Agent(child, log)
    }
    fn log(&self) -> String {
        std::fs::read_to_string(self.1.with_extension("err")).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

#[test]
fn direct_deploy_and_cleaning_with_the_built_in_agent() {
    let ib = Ironbox::start_with(
        "[agent]\npost_deploy_get_power_state_retries = 3\npost_deploy_get_power_state_retry_interval_ms = 100\n",
    );
    // The user's image: 3 MiB of noise, with a boot signature to be erased later.
    let mut image: Vec<u8> = (0..3 << 20)
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    image[510] = 0x55;
    image[511] = 0xaa;
    std::fs::write(ib.dir.path().join("os.img"), &image).unwrap();
    let images = FileServer::start(ib.dir.path());
    // The machine's disk: 5 GiB, sparse, holding old data.
    let disk = ib.dir.path().join("disk0");
    let f = std::fs::File::create(&disk).unwrap();
    f.set_len(5 << 30).unwrap();
    std::fs::write(&disk, vec![0xee; 1 << 20]).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&disk)
        .unwrap()
        .set_len(5 << 30)
        .unwrap();
    let mac = "52:54:00:aa:00:10";
    let u = direct_node(
        &ib,
        mac,
        &format!("{}/os.img", images.url),
        &sha256_hex(&image),
    );

    provision(&ib, &u, json!({"target": "manage"}));
    ib.wait_entered(&u, "manageable", 10);
    // provide: automated cleaning boots the agent and erases the disk's metadata.
    provision(&ib, &u, json!({"target": "provide"}));
    ib.wait_entered(&u, "clean wait", 10);
    let agent = Agent::start(&ib, mac, &disk);
    let n = ib.wait_entered(&u, "available", 60);
    assert_eq!(n["last_error"], Value::Null, "{}", agent.log());
    let head = std::fs::read(&disk).map(|b| b[..1 << 20].to_vec()).unwrap();
    assert!(
        head.iter().all(|b| *b == 0),
        "old data left at the start of the disk"
    );
    drop(agent);

    // deploy: the agent writes the image; the node ends active and powered on.
    let t = Instant::now();
    provision(&ib, &u, json!({"target": "active"}));
    ib.wait_entered(&u, "wait call-back", 10);
    let agent = Agent::start(&ib, mac, &disk);
    let n = ib.wait_entered(&u, "active", 60);
    eprintln!(
        "deploy through the agent: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(n["power_state"], "power on");
    assert_eq!(n["last_error"], Value::Null);
    let dii = &n["driver_internal_info"];
    assert!(
        dii.get("agent_url").is_none() && dii.get("agent_secret_token").is_none(),
        "{dii}"
    );
    let written = std::fs::read(&disk).unwrap();
    assert!(
        written[..image.len()] == image[..],
        "the disk does not hold the image"
    );
    let _ = agent.0.id();
    drop(agent);
    let events: Vec<String> = ib.get(&format!("/v1/nodes/{u}/history")).body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["event"].as_str().unwrap_or_default().to_string())
        .collect();
    for want in [
        "deploy.write_image",
        "deploy.tear_down_agent",
        "first heartbeat",
        "erase_devices_metadata",
    ] {
        assert!(
            events.iter().any(|e| e.contains(want)),
            "{want}: {events:#?}"
        );
    }

    // undeploy: tear down, then cleaning erases the image's partition table and signature.
    provision(&ib, &u, json!({"target": "deleted"}));
    ib.wait_entered(&u, "clean wait", 10);
    let agent = Agent::start(&ib, mac, &disk);
    ib.wait_entered(&u, "available", 60);
    let after = std::fs::read(&disk).unwrap();
    assert!(after[..512].iter().all(|b| *b == 0), "{}", agent.log());
    drop(agent);

    // A wrong checksum: the agent refuses the image and the node fails with the reason.
    // (undeploy cleared instance_info, as Ironic does)
    ib.patch(
        &format!("/v1/nodes/{u}"),
        json!([{"op": "add", "path": "/instance_info", "value": {
        "image_source": format!("{}/os.img", images.url), "image_checksum": "0".repeat(64)}}]),
    );
    provision(&ib, &u, json!({"target": "active"}));
    ib.wait_entered(&u, "wait call-back", 10);
    let _agent = Agent::start(&ib, mac, &disk);
    let n = ib.wait_entered(&u, "deploy failed", 60);
    let err = n["last_error"].as_str().unwrap_or_default();
    assert!(
        err.contains("write_image") && err.to_lowercase().contains("checksum"),
        "{err}"
    );
    let after = std::fs::read(&disk).unwrap();
    assert!(
        after[..512].iter().all(|b| *b == 0),
        "a half-written image must not boot"
    );
}

/// A scripted agent on loopback: `reply(n, command)` answers the n-th `POST /v1/commands/`
/// (from 1), and `GET /v1/commands/` lists `listed`. Records the commands it was sent.
pub(crate) fn scripted_agent(
    reply: impl Fn(usize, &str) -> (&'static str, Value) + Send + 'static,
    listed: Value,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        let mut posts = 0;
        for c in l.incoming().flatten() {
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut line = String::new();
            let _ = r.read_line(&mut line);
            let mut len = 0;
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; len];
            let _ = r.read_exact(&mut body);
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let (status, answer) = if line.starts_with("POST") {
                posts += 1;
                log.lock().unwrap().push(body.clone());
                reply(posts, body["name"].as_str().unwrap_or(""))
            } else {
                ("200 OK", json!({ "commands": listed }))
            };
            let text = answer.to_string();
            let mut w = c;
            let _ = write!(w, "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}", text.len());
        }
    });
    (url, seen)
}

/// Wait until the scripted agent has been sent `n` commands.
pub(crate) fn wait_sent(seen: &std::sync::Mutex<Vec<Value>>, n: usize, ib: &Ironbox) {
    let sent = wait_until(Duration::from_secs(10), || {
        (seen.lock().unwrap().len() >= n).then_some(())
    });
    assert!(sent.is_some(), "{:?}\n{}", seen.lock().unwrap(), ib.log());
}

/// A well-behaved agent's answer to `name` (`extension.command`) with `result`.
pub(crate) fn answer(id: usize, name: &str, status: &str, result: Value) -> (&'static str, Value) {
    let short = name.split('.').nth(1).unwrap_or("");
    (
        "200 OK",
        json!({"id": id.to_string(), "command_name": short, "command_status": status,
               "command_error": null, "command_result": result}),
    )
}

/// Answers 409 "Agent is busy" to the 1st and 3rd command, then what a well-behaved
/// agent says. Records the commands' names.
fn busy_agent() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    scripted_agent(
        |n, name| match (n, name) {
            (1 | 3, _) => (
                "409 Conflict",
                json!({"faultcode": "Client", "faultstring": "Agent is busy: executing command x"}),
            ),
            (_, "deploy.get_deploy_steps") => answer(
                n,
                name,
                "SUCCEEDED",
                json!({"deploy_steps": {"GenericHardwareManager": [{"interface": "deploy", "step": "write_image", "priority": 0}]}}),
            ),
            (_, "deploy.execute_deploy_step") => answer(n, name, "RUNNING", Value::Null),
            _ => answer(n, name, "SUCCEEDED", json!({})),
        },
        json!([{"id": "2", "command_name": "execute_deploy_step", "command_status": "SUCCEEDED", "command_error": null, "command_result": {}}]),
    )
}

/// Manual cleaning with a step only the agent knows (as IPA offers burn-in and more):
/// checked against the agent's own list once it is up, then run in the agent; a step
/// neither offers fails with the list of what is supported.
#[test]
fn manual_cleaning_runs_steps_only_the_agent_offers() {
    let ib = Ironbox::start();
    let mac = "52:54:00:aa:00:30";
    let u = direct_node(&ib, mac, "file:///dev/null", &"cd".repeat(32));
    provision(&ib, &u, json!({"target": "manage"}));
    ib.wait_entered(&u, "manageable", 10);
    let (agent, seen) = scripted_agent(
        |n, name| match name {
            "clean.get_clean_steps" => answer(
                n,
                name,
                "SUCCEEDED",
                json!({"clean_steps": {"GenericHardwareManager": [
                {"interface": "deploy", "step": "erase_devices_metadata", "priority": 99},
                {"interface": "deploy", "step": "burnin_disk", "priority": 0}]}}),
            ),
            "clean.execute_clean_step" => answer(n, name, "RUNNING", Value::Null),
            _ => answer(n, name, "SUCCEEDED", json!({})),
        },
        json!([{"id": "2", "command_name": "execute_clean_step", "command_status": "SUCCEEDED", "command_error": null, "command_result": {"clean_step": {"step": "burnin_disk"}}}]),
    );
    // Each boot of the agent looks up once (a second lookup gets the token masked).
    let token = |ib: &Ironbox| {
        let r = lookup(ib, &format!("addresses={mac}"), "1.62");
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["config"]["agent_token"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let beat = |ib: &Ironbox, token: &str| {
        let hb = json!({"callback_url": agent, "agent_token": token, "agent_version": "13.0.0"});
        assert_eq!(heartbeat(ib, &u, hb, "1.68").status, 202);
    };
    let steps = json!([{"interface": "deploy", "step": "burnin_disk", "args": {"runtime": 1}}]);
    provision(&ib, &u, json!({"target": "clean", "clean_steps": steps}));
    ib.wait_entered(&u, "clean wait", 10);
    let t = token(&ib);
    beat(&ib, &t); // the agent is up: its steps are asked for, then burnin_disk is sent
    wait_sent(&seen, 2, &ib);
    // Sent: the node waits for the agent again (under load this takes a moment).
    let n = ib.wait_entered(&u, "clean wait", 20);
    assert_eq!(n["clean_step"]["step"], "burnin_disk", "{n}");
    beat(&ib, &t); // the step has finished
    let n = ib.wait_entered(&u, "manageable", 20);
    assert_eq!(n["last_error"], Value::Null, "{n}");
    let sent = seen.lock().unwrap().clone();
    let exec = sent
        .iter()
        .find(|c| c["name"] == "clean.execute_clean_step")
        .unwrap_or_else(|| panic!("{sent:?}"));
    assert_eq!(exec["params"]["step"]["step"], "burnin_disk", "{exec}");
    assert_eq!(exec["params"]["step"]["args"]["runtime"], 1, "{exec}");

    let steps = json!([{"interface": "deploy", "step": "no_such_step"}]);
    provision(&ib, &u, json!({"target": "clean", "clean_steps": steps}));
    ib.wait_entered(&u, "clean wait", 10);
    beat(&ib, &token(&ib));
    let n = ib.wait_entered(&u, "clean failed", 20);
    let err = n["last_error"].as_str().unwrap_or_default();
    assert!(
        err.contains("deploy.no_such_step is not supported") && err.contains("deploy.burnin_disk"),
        "{err}"
    );
}

#[test]
fn a_busy_agent_is_asked_again_on_its_next_heartbeat() {
    let ib = Ironbox::start_with(
        "[agent]\npost_deploy_get_power_state_retries = 2\npost_deploy_get_power_state_retry_interval_ms = 50\n",
    );
    std::fs::write(ib.dir.path().join("disk.img"), vec![1u8; 4096]).unwrap();
    let images = FileServer::start(ib.dir.path());
    let mac = "52:54:00:aa:00:20";
    let u = direct_node(
        &ib,
        mac,
        &format!("{}/disk.img", images.url),
        &"cd".repeat(32),
    );
    let mut n = ib.get(&format!("/v1/nodes/{u}")).body;
    for (verb, state) in [
        ("manage", "manageable"),
        ("provide", "available"),
        ("active", "wait call-back"),
    ] {
        if verb == "provide" {
            // No cleaning here: this test is about the deploy's agent commands.
            ib.patch(
                &format!("/v1/nodes/{u}"),
                json!([{"op": "add", "path": "/automated_clean", "value": false}]),
            );
        }
        provision(&ib, &u, json!({"target": verb}));
        n = ib.wait_entered(&u, state, 10);
    }
    let _ = n;
    let token = lookup(&ib, &format!("addresses={mac}"), "1.62").body["config"]["agent_token"]
        .as_str()
        .unwrap()
        .to_string();
    let (agent, seen) = busy_agent();
    let beat = || {
        let r = heartbeat(
            &ib,
            &u,
            json!({"callback_url": agent, "agent_token": token, "agent_version": "11.0.0"}),
            "1.68",
        );
        assert_eq!(r.status, 202, "{}", r.body);
    };
    // Sent, and the conductor is done with the agent's answer: the node is unlocked again.
    let settled = |want: usize| {
        wait_sent(&seen, want, &ib);
        let unlocked = wait_until(Duration::from_secs(10), || {
            let n = ib.get(&format!("/v1/nodes/{u}")).body;
            n["reservation"].is_null().then_some(())
        });
        assert!(
            unlocked.is_some(),
            "the heartbeat never finished\n{}",
            ib.log()
        );
    };
    beat(); // get_deploy_steps: busy
    settled(1);
    assert_eq!(
        ib.get(&format!("/v1/nodes/{u}")).body["provision_state"],
        "wait call-back"
    );
    beat(); // get_deploy_steps, then write_image: busy
    settled(3);
    let n = ib.get(&format!("/v1/nodes/{u}")).body;
    assert_eq!(n["provision_state"], "wait call-back", "{n}");
    assert!(
        !n["driver_internal_info"].to_string().contains("image_info"),
        "no command parameters kept: {n}"
    );
    beat(); // write_image again: running
    settled(4);
    beat(); // write_image done: the deploy finishes
    let n = ib.wait_entered(&u, "active", 20);
    assert_eq!(n["last_error"], Value::Null);
    let sent: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        sent[..4],
        [
            "deploy.get_deploy_steps",
            "deploy.get_deploy_steps",
            "deploy.execute_deploy_step",
            "deploy.execute_deploy_step"
        ],
        "{sent:?}"
    );
    assert!(sent.contains(&"standby.power_off".to_string()), "{sent:?}");
}

/// An agent that never calls back: the periodic check fails the node once the configured
/// callback timeout has passed, with Ironic's message (deploy: `wait call-back`; cleaning:
/// `clean wait`).
#[test]
fn callback_timeouts_fail_nodes_whose_agent_never_calls() {
    let ib = Ironbox::start_with(
        "[conductor]\ndeploy_callback_timeout = 2\nclean_callback_timeout = 2\ncheck_provision_state_interval = 1\n",
    );
    std::fs::write(ib.dir.path().join("disk.img"), vec![7u8; 4096]).unwrap();
    let images = FileServer::start(ib.dir.path());
    let url = format!("{}/disk.img", images.url);
    let cleaning = direct_node(&ib, "52:54:00:aa:00:40", &url, &"ab".repeat(32));
    let deploying = direct_node(&ib, "52:54:00:aa:00:41", &url, &"ab".repeat(32));
    ib.patch(
        &format!("/v1/nodes/{deploying}"),
        json!([{"op": "add", "path": "/automated_clean", "value": false}]),
    );
    for u in [&cleaning, &deploying] {
        provision(&ib, u, json!({"target": "manage"}));
        ib.wait_entered(u, "manageable", 10);
        provision(&ib, u, json!({"target": "provide"}));
    }
    ib.wait_entered(&cleaning, "clean wait", 10);
    ib.wait_entered(&deploying, "available", 10);
    provision(&ib, &deploying, json!({"target": "active"}));
    ib.wait_entered(&deploying, "wait call-back", 10);

    for (u, waiting, failed) in [
        (&cleaning, "clean wait", "clean failed"),
        (&deploying, "wait call-back", "deploy failed"),
    ] {
        let n = ib.wait_entered(u, failed, 20);
        assert_eq!(
            n["last_error"],
            format!("Timeout reached while waiting for callback for node {u} (state \"{waiting}\", 2 s)"),
            "{n}"
        );
    }
}
