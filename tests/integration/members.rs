//! Several ironbox members on one SQLite file (WAL, across processes): the live hash ring
//! spreads nodes over them, work sent to any member runs on the owner (JSON-RPC between
//! members), a member killed with SIGKILL is taken over, and a returning one rejoins. The
//! agent's lookup and heartbeat are sent by hand to a member that does not own the node.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{wait_until, FileServer, Ironbox};

const HEARTBEAT_TIMEOUT: u64 = 4;

/// Member `i` of a cluster sharing the database at `db`; `rpc` goes under `[json_rpc]`,
/// `extra` (whole sections) at the end.
fn member(db: &Path, i: usize, rpc: &str, extra: &str) -> Ironbox {
    Ironbox::start_with(&format!(
        "[DEFAULT]\nhost = \"member-{i}\"\nrpc_transport = \"json-rpc\"\n\
         [database]\nconnection = \"sqlite://{}\"\n\
         [json_rpc]\nport = 0\n{rpc}\
         [conductor]\nheartbeat_interval = 1\nheartbeat_timeout = {HEARTBEAT_TIMEOUT}\n\
         check_provision_state_interval = 1\nautomated_clean = false\n\
         sync_power_state_interval = 0\n{extra}",
        db.display()
    ))
}

/// Wait until `ib` sees exactly `hosts` alive, in the table and on its ring (its log
/// names the members each time it rebuilds the ring).
fn wait_alive(ib: &Ironbox, hosts: &[&str], secs: u64) {
    wait_table(ib, hosts, secs);
    let mut last = String::new();
    let ok = wait_until(Duration::from_secs(secs), || {
        let log = ib.log();
        last = log
            .lines()
            .rfind(|l| l.contains("hash ring rebuilt"))
            .unwrap_or_default()
            .to_string();
        let ring = last.rsplit("members").next().unwrap_or_default();
        let on_ring = ring.matches("\"member-").count();
        (on_ring == hosts.len() && hosts.iter().all(|h| ring.contains(h))).then_some(())
    });
    assert!(ok.is_some(), "ring never had {hosts:?}: {last}");
}

fn wait_table(ib: &Ironbox, hosts: &[&str], secs: u64) {
    let mut last = Value::Null;
    let ok = wait_until(Duration::from_secs(secs), || {
        let r = ib.req("GET", "/v1/conductors?detail=true", Some("1.49"), None);
        let mut alive: Vec<String> = r.body["conductors"]
            .as_array()?
            .iter()
            .filter(|c| c["alive"] == true)
            .map(|c| c["hostname"].as_str().unwrap_or_default().to_string())
            .collect();
        alive.sort();
        last = r.body;
        (alive == hosts).then_some(())
    });
    assert!(ok.is_some(), "never saw {hosts:?} alive: {last}");
}

/// Every node's owner as `ib` shows it (`conductor`, 1.49), by uuid.
fn owners(ib: &Ironbox) -> BTreeMap<String, Value> {
    let r = ib.req(
        "GET",
        "/v1/nodes?fields=uuid,conductor,provision_state,reservation,last_error&limit=1000",
        Some("1.49"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["uuid"].as_str().unwrap().to_string(), n.clone()))
        .collect()
}

fn per_member(nodes: &BTreeMap<String, Value>) -> BTreeMap<String, usize> {
    let mut count = BTreeMap::new();
    for n in nodes.values() {
        *count
            .entry(n["conductor"].as_str().unwrap_or("none").to_string())
            .or_default() += 1;
    }
    count
}

/// The conductor named by the node's newest history entry.
fn last_history_conductor(ib: &Ironbox, uuid: &str) -> String {
    let r = ib.req(
        "GET",
        &format!("/v1/nodes/{uuid}/history?detail=true"),
        Some("1.78"),
        None,
    );
    let events = r.body["history"].as_array().cloned().unwrap_or_default();
    events
        .last()
        .and_then(|e| e["conductor"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[test]
fn three_members_spread_nodes_forward_verbs_and_take_over_a_dead_one() {
    let shared = tempfile::tempdir().unwrap();
    let db = shared.path().join("ironbox.sqlite");
    // Fake deploys take a while, so the kill below catches some mid-deploy.
    let extra = "[fake]\ndeploy_delay = 8\n";
    let mut members: Vec<Ironbox> = (0..3).map(|i| member(&db, i, "", extra)).collect();
    let hosts = ["member-0", "member-1", "member-2"];
    for m in &members {
        wait_alive(m, &hosts, 10);
    }

    // 300 nodes, enrolled through member-0: the ring spreads them over all three.
    let m0 = &members[0];
    for i in 0..300 {
        let r = m0.post(
            "/v1/nodes",
            json!({"name": format!("n{i:03}"), "driver": "fake-hardware"}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let seen = owners(m0);
    assert_eq!(seen.len(), 300);
    let count = per_member(&seen);
    println!("nodes per member: {count:?}");
    for h in hosts {
        assert!(
            count.get(h).copied().unwrap_or(0) > 0,
            "{h} owns nothing: {count:?}"
        );
    }
    // Every member computes the same owners.
    for m in &members[1..] {
        let other = owners(m);
        for (u, n) in &seen {
            assert_eq!(other[u]["conductor"], n["conductor"], "{u}");
        }
    }

    // Verbs sent to member-0 run on each node's owner (its name is on the history entry).
    let uuids: Vec<String> = seen.keys().take(100).cloned().collect();
    for u in &uuids {
        let r = m0.put(
            &format!("/v1/nodes/{u}/states/provision"),
            json!({"target": "manage"}),
        );
        assert_eq!(r.status, 202, "{}", r.body);
    }
    for u in &uuids {
        m0.wait_state(u, "manageable", 30);
        let owner = seen[u]["conductor"].as_str().unwrap();
        assert_eq!(
            last_history_conductor(m0, u),
            owner,
            "{u}: manage ran elsewhere"
        );
        let r = m0.put(
            &format!("/v1/nodes/{u}/states/provision"),
            json!({"target": "provide"}),
        );
        assert_eq!(r.status, 202, "{}", r.body);
    }
    for u in &uuids {
        m0.wait_state(u, "available", 30);
    }
    // A bad verb from the owner comes back through the forwarding member unchanged.
    let remote = uuids
        .iter()
        .find(|u| seen[*u]["conductor"] != "member-0")
        .unwrap();
    let r = m0.put(
        &format!("/v1/nodes/{remote}/states/provision"),
        json!({"target": "adopt"}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.fault().contains("adopt"), "{}", r.fault());
    assert!(r.header("x-openstack-ironic-api-version").is_some());

    // 100 deploys, then member-2 is killed while its share is mid-deploy.
    for u in &uuids {
        let r = m0.put(
            &format!("/v1/nodes/{u}/states/provision"),
            json!({"target": "active"}),
        );
        assert_eq!(r.status, 202, "{}", r.body);
    }
    let on_2: Vec<&String> = uuids
        .iter()
        .filter(|u| seen[*u]["conductor"] == "member-2")
        .collect();
    assert!(!on_2.is_empty());
    members[2].kill();
    let killed = Instant::now();
    // Within heartbeat_timeout plus one heartbeat (the sync) the others own everything and
    // no lock of member-2's is left.
    let m0 = &members[0];
    let mut last = BTreeMap::new();
    let owned = wait_until(Duration::from_secs(HEARTBEAT_TIMEOUT + 5), || {
        last = owners(m0);
        last.values()
            .all(|n| n["conductor"] != "member-2" && n["reservation"] != "member-2")
            .then_some(())
    });
    assert!(
        owned.is_some(),
        "member-2's nodes not taken over {:?} after the kill: {:?}",
        killed.elapsed(),
        last.values()
            .filter(|n| n["conductor"] == "member-2" || n["reservation"] == "member-2")
            .take(3)
            .collect::<Vec<_>>()
    );
    println!("taken over {:?} after the kill", killed.elapsed());
    // The deploys of the live members run on; none is left stuck.
    let settled = wait_until(Duration::from_secs(30), || {
        last = owners(m0);
        last.values()
            .all(|n| n["reservation"].is_null() && n["provision_state"] != "deploying")
            .then_some(())
    });
    assert!(
        settled.is_some(),
        "stuck: {:?}",
        last.values()
            .filter(|n| !n["reservation"].is_null() || n["provision_state"] == "deploying")
            .take(3)
            .collect::<Vec<_>>()
    );
    let count = per_member(&last);
    println!(
        "nodes per member after member-2 died: {count:?} (settled {:?} after the kill)",
        killed.elapsed()
    );
    assert_eq!(count.get("member-2"), None);
    let mut failed = 0;
    for u in &uuids {
        let n = &last[u];
        match n["provision_state"].as_str().unwrap() {
            "active" => {}
            "deploy failed" => {
                failed += 1;
                assert!(on_2.contains(&u), "{u} of a live member failed: {n}");
                let e = n["last_error"].as_str().unwrap_or_default();
                assert!(
                    e.contains("conductor take over") && e.contains("member-2"),
                    "{e}"
                );
            }
            other => panic!("{u} ended in {other}: {n}"),
        }
    }
    println!(
        "deploys interrupted by the kill: {failed} of {}",
        on_2.len()
    );
    assert!(failed > 0, "the kill caught no deploy");
    let alive: Vec<&str> = hosts[..2].to_vec();
    wait_alive(m0, &alive, 5);

    // member-2 comes back: it rejoins and the ring gives it its share again.
    members[2].spawn();
    wait_alive(&members[0], &hosts, 10);
    let back = per_member(&owners(&members[0]));
    println!("nodes per member after member-2 rejoined: {back:?}");
    assert_eq!(
        back,
        per_member(&seen),
        "the ring rebalances to the same spread"
    );

    // The real CLI against member-0 for a node member-1 owns: power runs on member-1.
    let theirs = owners(&members[0])
        .into_iter()
        .find(|(u, n)| n["conductor"] == "member-1" && !uuids.contains(u))
        .map(|(u, _)| u)
        .unwrap();
    members[0].cli_ok(&["node", "power", "on", &theirs]);
    let on = wait_until(Duration::from_secs(20), || {
        let n = members[0].get(&format!("/v1/nodes/{theirs}")).body;
        (n["power_state"] == "power on" && n["target_power_state"].is_null()).then_some(n)
    });
    assert!(on.is_some(), "power on through member-0 never happened");
    assert_eq!(last_history_conductor(&members[0], &theirs), "member-1");
    let shown = members[0].cli_json(&["node", "show", &theirs, "--fields", "uuid", "conductor"]);
    assert_eq!(shown["conductor"], "member-1");
}

/// The agent's lookup and heartbeat reach the owner whichever member they arrive at.
#[test]
fn agent_calls_reach_the_owner() {
    let shared = tempfile::tempdir().unwrap();
    let db = shared.path().join("ironbox.sqlite");
    let members: Vec<Ironbox> = (0..2).map(|i| member(&db, i, "", "")).collect();
    std::fs::write(shared.path().join("disk.img"), vec![7u8; 4096]).unwrap();
    let images = FileServer::start(shared.path());
    let image = format!("{}/disk.img", images.url);
    wait_alive(&members[0], &["member-0", "member-1"], 10);
    // Nodes until one is owned by member-1: the agent then talks to member-0.
    let mut found = None;
    for i in 0..40 {
        let n = members[0].node(json!({
            "name": format!("agent-{i}"),
            "deploy_interface": "direct",
            "instance_info": {"image_source": image, "image_checksum": "ab".repeat(32)},
            "driver_info": {"deploy_kernel": "k", "deploy_ramdisk": "r"},
        }));
        let u = n["uuid"].as_str().unwrap().to_string();
        let owner = members[0]
            .req("GET", &format!("/v1/nodes/{u}"), Some("1.49"), None)
            .body["conductor"]
            .clone();
        if owner == "member-1" {
            found = Some(u);
            break;
        }
    }
    let u = found.expect("one of 40 nodes is member-1's");
    let mac = "52:54:00:bb:00:01";
    let p = members[0].post("/v1/ports", json!({"address": mac, "node_uuid": u}));
    assert_eq!(p.status, 201, "{}", p.body);
    let m0 = &members[0];
    for target in ["manage", "provide", "active"] {
        let r = m0.put(
            &format!("/v1/nodes/{u}/states/provision"),
            json!({"target": target}),
        );
        assert_eq!(r.status, 202, "{}", r.body);
        if target != "active" {
            m0.wait_state(
                &u,
                if target == "manage" {
                    "manageable"
                } else {
                    "available"
                },
                20,
            );
        }
    }
    m0.wait_entered(&u, "wait call-back", 20);
    let r = m0.req(
        "GET",
        &format!("/v1/lookup?addresses={mac}"),
        Some("1.62"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["node"]["uuid"], u.as_str());
    let token = r.body["config"]["agent_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(token, "******");
    let body = json!({"callback_url": "http://127.0.0.1:9", "agent_token": token, "agent_version": "11.0.0"});
    let r = m0.req(
        "POST",
        &format!("/v1/heartbeat/{u}"),
        Some("1.68"),
        Some(&body.to_string()),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let noted = wait_until(Duration::from_secs(10), || {
        let h = m0
            .req(
                "GET",
                &format!("/v1/nodes/{u}/history?detail=true"),
                Some("1.78"),
                None,
            )
            .body;
        h["history"]
            .as_array()?
            .iter()
            .find(|e| e["event_type"] == "agent_heartbeat")
            .cloned()
    })
    .expect("the heartbeat reached history");
    assert_eq!(noted["conductor"], "member-1", "{noted}");
    // A wrong token is refused by the owner, through member-0, in Ironic's shape.
    let bad = json!({"callback_url": "http://127.0.0.1:9", "agent_token": "x".repeat(43), "agent_version": "11.0.0"});
    let r = m0.req(
        "POST",
        &format!("/v1/heartbeat/{u}"),
        Some("1.68"),
        Some(&bad.to_string()),
    );
    assert_eq!(r.status, 400, "{}", r.body);
}

/// The RPC listener: credentials required with http_basic; malformed calls get JSON-RPC
/// errors, never a 500.
#[test]
fn rpc_refuses_bad_callers_and_bad_calls() {
    let shared = tempfile::tempdir().unwrap();
    let htpasswd = shared.path().join("htpasswd-json-rpc");
    let hash = bcrypt::hash("rpc-s3cret", 4)
        .unwrap()
        .replacen("$2b$", "$2y$", 1);
    std::fs::write(&htpasswd, format!("ironbox:{hash}\n")).unwrap();
    let db = shared.path().join("ironbox.sqlite");
    let extra = format!(
        "auth_strategy = \"http_basic\"\nhttp_basic_auth_user_file = \"{}\"\nusername = \"ironbox\"\npassword = \"rpc-s3cret\"\n",
        htpasswd.display()
    );
    let ib = member(&db, 0, &extra, "");
    let endpoints: Value =
        serde_json::from_str(&std::fs::read_to_string(ib.data().join("endpoints.json")).unwrap())
            .unwrap();
    let rpc = endpoints["json_rpc"].as_str().unwrap().to_string();
    let client = reqwest::blocking::Client::new();
    let call = |auth: Option<(&str, &str)>, body: &str| {
        let mut r = client.post(format!("{rpc}/")).body(body.to_string());
        if let Some((u, p)) = auth {
            r = r.basic_auth(u, Some(p));
        }
        let r = r.send().unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    let good = json!({"jsonrpc": "2.0", "id": 1, "method": "api_request", "params": {
        "from": "test", "method": "GET", "path": "/v1/nodes", "headers": [], "body": ""}})
    .to_string();
    let (s, b) = call(None, &good);
    assert_eq!(s, 401, "{b}");
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Authentication"));
    let (s, _) = call(Some(("ironbox", "wrong")), &good);
    assert_eq!(s, 401);
    let ok = Some(("ironbox", "rpc-s3cret"));
    let (s, b) = call(ok, &good);
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["result"]["status"], 200, "{b}");
    for (body, code) in [
        ("{not json", -32700),
        (
            r#"{"jsonrpc": "1.0", "id": 2, "method": "api_request"}"#,
            -32600,
        ),
        (
            r#"{"jsonrpc": "2.0", "id": 3, "method": "do_provisioning_action"}"#,
            -32601,
        ),
        (
            r#"{"jsonrpc": "2.0", "id": 4, "method": "api_request", "params": {"path": "http://elsewhere/"}}"#,
            -32602,
        ),
    ] {
        let (s, b) = call(ok, body);
        assert_eq!(s, 200, "{body}: {b}");
        assert_eq!(b["error"]["code"], code, "{body}: {b}");
    }
    let log = ib.log();
    assert!(
        !log.contains("rpc-s3cret"),
        "the RPC password reached the log"
    );
}
