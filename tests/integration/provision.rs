//! The conductor through the real binary: every (state, verb) pair answered as the state
//! table says, the lifecycle, concurrency (one winner, refusals are 409), crash safety
//! (SIGKILL during deploys), power and management.

use std::time::Duration;

use ironbox::conductor::fsm;
use serde_json::{json, Value};

use crate::harness::{wait_until, Ironbox, Resp};

fn verb(ib: &Ironbox, node: &str, body: Value) -> Resp {
    ib.put(&format!("/v1/nodes/{node}/states/provision"), body)
}

fn go(ib: &Ironbox, node: &str, body: Value, want: &str) -> Value {
    let r = verb(ib, node, body.clone());
    assert_eq!(r.status, 202, "{body} -> {}", r.body);
    ib.wait_state(node, want, 30)
}

/// Bring a fresh node into `state` using only public verbs.
fn node_in(ib: &Ironbox, state: &str) -> String {
    let n = ib.node(json!({}));
    let u = n["uuid"].as_str().unwrap().to_string();
    let hold = json!([{"interface": "deploy", "step": "hold"}]);
    let steps = |kind: &str| {
        json!([{"interface": "raid", "step": "create_configuration"}])
            .as_array()
            .map(|_| kind.to_string())
    };
    let _ = steps;
    match state {
        "enroll" => {}
        "manageable" => {
            go(ib, &u, json!({"target": "manage"}), "manageable");
        }
        "available" => {
            go(ib, &u, json!({"target": "manage"}), "manageable");
            go(ib, &u, json!({"target": "provide"}), "available");
        }
        "active" => {
            node_to(ib, &u, "available");
            go(ib, &u, json!({"target": "active"}), "active");
        }
        "rescue" => {
            node_to(ib, &u, "active");
            go(
                ib,
                &u,
                json!({"target": "rescue", "rescue_password": "pw"}),
                "rescue",
            );
        }
        "clean hold" => {
            node_to(ib, &u, "manageable");
            go(
                ib,
                &u,
                json!({"target": "clean", "clean_steps": hold}),
                "clean hold",
            );
        }
        "clean failed" => {
            node_to(ib, &u, "clean hold");
            go(ib, &u, json!({"target": "abort"}), "clean failed");
        }
        "deploy hold" => {
            node_to(ib, &u, "available");
            go(
                ib,
                &u,
                json!({"target": "active", "deploy_steps": [{"interface": "deploy", "step": "hold", "priority": 150, "args": {}}]}),
                "deploy hold",
            );
        }
        "deploy failed" => {
            node_to(ib, &u, "deploy hold");
            go(ib, &u, json!({"target": "abort"}), "deploy failed");
        }
        "service hold" => {
            node_to(ib, &u, "active");
            go(
                ib,
                &u,
                json!({"target": "service", "service_steps": hold}),
                "service hold",
            );
        }
        "service failed" => {
            node_to(ib, &u, "service hold");
            go(ib, &u, json!({"target": "abort"}), "service failed");
        }
        other => panic!("no recipe for {other}"),
    }
    u
}

fn node_to(ib: &Ironbox, u: &str, state: &str) {
    // Reuse the recipes on an existing node by replaying them from its current state.
    let cur = ib.get(&format!("/v1/nodes/{u}")).body["provision_state"]
        .as_str()
        .unwrap()
        .to_string();
    let hold = json!([{"interface": "deploy", "step": "hold"}]);
    let path: Vec<(Value, &str)> = match state {
        "manageable" => vec![(json!({"target": "manage"}), "manageable")],
        "available" => vec![
            (json!({"target": "manage"}), "manageable"),
            (json!({"target": "provide"}), "available"),
        ],
        "active" => vec![
            (json!({"target": "manage"}), "manageable"),
            (json!({"target": "provide"}), "available"),
            (json!({"target": "active"}), "active"),
        ],
        "clean hold" => vec![
            (json!({"target": "manage"}), "manageable"),
            (
                json!({"target": "clean", "clean_steps": hold}),
                "clean hold",
            ),
        ],
        "deploy hold" => vec![
            (json!({"target": "manage"}), "manageable"),
            (json!({"target": "provide"}), "available"),
            (
                json!({"target": "active", "deploy_steps": [{"interface": "deploy", "step": "hold", "priority": 150, "args": {}}]}),
                "deploy hold",
            ),
        ],
        "service hold" => vec![
            (json!({"target": "manage"}), "manageable"),
            (json!({"target": "provide"}), "available"),
            (json!({"target": "active"}), "active"),
            (
                json!({"target": "service", "service_steps": hold}),
                "service hold",
            ),
        ],
        other => panic!("no path to {other}"),
    };
    let start = path
        .iter()
        .position(|(_, s)| *s == cur)
        .map_or(0, |i| i + 1);
    for (body, want) in &path[start..] {
        go(ib, u, body.clone(), want);
    }
}

fn verb_body(v: &str) -> Value {
    match v {
        "clean" => {
            json!({"target": "clean", "clean_steps": [{"interface": "raid", "step": "create_configuration"}]})
        }
        "service" => {
            json!({"target": "service", "service_steps": [{"interface": "raid", "step": "create_configuration"}]})
        }
        "rescue" => json!({"target": "rescue", "rescue_password": "pw"}),
        other => json!({"target": other}),
    }
}

#[test]
fn every_state_and_verb_answers_as_the_table_says() {
    let ib = Ironbox::start();
    let states = [
        "enroll",
        "manageable",
        "available",
        "active",
        "rescue",
        "clean hold",
        "clean failed",
        "deploy hold",
        "deploy failed",
        "service hold",
        "service failed",
    ];
    let mut failures = vec![];
    let mut checked = 0;
    for state in states {
        for (name, event, _) in fsm::VERBS {
            let u = node_in(&ib, state);
            let r = verb(&ib, &u, verb_body(name));
            checked += 1;
            let allowed = fsm::next(state, *event).is_some();
            let ok = if allowed {
                r.status == 202
            } else {
                r.status == 400 && r.fault() == format!("The requested action \"{name}\" can not be performed on node \"{u}\" while it is in state \"{state}\".")
            };
            if !ok {
                failures.push(format!(
                    "{state} + {name}: expected {}, got {} {}",
                    if allowed { "202" } else { "400" },
                    r.status,
                    r.body
                ));
            }
            // Whatever was started must finish without leaving the node locked.
            let unlocked = wait_until(Duration::from_secs(20), || {
                let n = ib.get(&format!("/v1/nodes/{u}")).body;
                n["reservation"].is_null().then_some(())
            });
            assert!(unlocked.is_some(), "{state} + {name}: node stayed locked");
            ib.delete(&format!("/v1/nodes/{u}/maintenance"));
        }
    }
    assert!(checked >= 150);
    assert!(
        failures.is_empty(),
        "{} of {checked} pairs wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn lifecycle_and_history() {
    let ib = Ironbox::start();
    let u = node_in(&ib, "manageable");
    let n = go(&ib, &u, json!({"target": "inspect"}), "manageable");
    assert!(n["inspection_finished_at"].is_string());
    go(&ib, &u, json!({"target": "provide"}), "available");
    let n = go(
        &ib,
        &u,
        json!({"target": "deploy", "configdrive": {"meta_data": {"hostname": "web-1"}}}),
        "active",
    );
    assert_eq!(
        n["instance_info"]["configdrive"], "******",
        "configdrive is a secret"
    );
    go(&ib, &u, json!({"target": "rebuild"}), "active");
    go(
        &ib,
        &u,
        json!({"target": "rescue", "rescue_password": "pw"}),
        "rescue",
    );
    go(&ib, &u, json!({"target": "unrescue"}), "active");
    let n = go(&ib, &u, json!({"target": "undeploy"}), "available");
    assert_eq!(
        n["instance_info"],
        json!({}),
        "tear-down forgets the instance"
    );
    go(&ib, &u, json!({"target": "manage"}), "manageable");
    go(&ib, &u, json!({"target": "adopt"}), "active");
    let events: Vec<String> = ib
        .get(&format!("/v1/nodes/{u}/history?detail=true&limit=1000"))
        .body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap().to_string())
        .collect();
    for e in [
        "provision_manage",
        "provision_inspect",
        "provision_provide",
        "provision_deploy",
        "provision_rebuild",
        "provision_rescue",
        "provision_delete",
        "provision_adopt",
    ] {
        assert!(events.iter().any(|x| x == e), "{e} missing from {events:?}");
    }
    // Hold, unhold, abort.
    let m = node_in(&ib, "clean hold");
    assert_eq!(
        ib.get(&format!("/v1/nodes/{m}")).body["clean_step"]["step"],
        "hold"
    );
    go(&ib, &m, json!({"target": "unhold"}), "manageable");
    let d = node_in(&ib, "deploy failed");
    let n = ib.get(&format!("/v1/nodes/{d}")).body;
    assert!(n["last_error"].as_str().unwrap().contains("aborted"), "{n}");
    go(&ib, &d, json!({"target": "deleted"}), "available");
    // BIOS steps record settings; factory_reset clears them.
    let b = node_in(&ib, "manageable");
    go(
        &ib,
        &b,
        json!({"target": "clean", "clean_steps": [{"interface": "bios", "step": "apply_configuration",
        "args": {"settings": [{"name": "ProcVirtualization", "value": "Enabled"}, {"name": "BootMode", "value": "Uefi"}]}}]}),
        "manageable",
    );
    let bios = ib.get(&format!("/v1/nodes/{b}/bios")).body;
    assert_eq!(bios["bios"].as_array().unwrap().len(), 2, "{bios}");
    assert_eq!(
        ib.get(&format!("/v1/nodes/{b}/bios/ProcVirtualization"))
            .body["ProcVirtualization"]["value"],
        "Enabled"
    );
    assert_eq!(ib.get(&format!("/v1/nodes/{b}/bios/Nope")).status, 404);
    go(
        &ib,
        &b,
        json!({"target": "clean", "clean_steps": [{"interface": "bios", "step": "factory_reset"}]}),
        "manageable",
    );
    assert_eq!(
        ib.get(&format!("/v1/nodes/{b}/bios")).body["bios"],
        json!([])
    );
    // An unknown clean step is accepted, then fails the cleaning (as in Ironic); manage
    // keeps the explanation.
    let r = verb(
        &ib,
        &m,
        json!({"target": "clean", "clean_steps": [{"interface": "raid", "step": "nope"}]}),
    );
    assert_eq!(r.status, 202);
    let n = ib.wait_state(&m, "clean failed", 30);
    assert!(
        n["last_error"]
            .as_str()
            .unwrap()
            .contains("raid.nope is not supported"),
        "{n}"
    );
    assert_eq!(n["target_provision_state"], "manageable");
    let n = go(&ib, &m, json!({"target": "manage"}), "manageable");
    assert!(
        n["last_error"].as_str().unwrap().contains("raid.nope"),
        "{n}"
    );
    // The core deploy step cannot be overridden.
    let a = node_in(&ib, "available");
    let r = verb(
        &ib,
        &a,
        json!({"target": "active", "deploy_steps": [{"interface": "deploy", "step": "deploy", "priority": 100, "args": {}}]}),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.fault()
            .contains("is a core step and cannot be overridden"),
        "{}",
        r.fault()
    );
}

#[test]
fn refusals_are_ironic_errors() {
    let ib = Ironbox::start();
    let u = node_in(&ib, "available");
    // Verb newer than the requested version: 406.
    assert_eq!(
        ib.req(
            "PUT",
            &format!("/v1/nodes/{u}/states/provision"),
            Some("1.72"),
            Some(r#"{"target": "deploy"}"#)
        )
        .status,
        406
    );
    assert_eq!(
        ib.req(
            "PUT",
            &format!("/v1/nodes/{u}/states/provision"),
            Some("1.3"),
            Some(r#"{"target": "manage"}"#)
        )
        .status,
        406
    );
    let r = verb(&ib, &u, json!({"target": "bogus"}));
    assert_eq!(r.status, 400);
    assert!(r
        .fault()
        .starts_with("The requested action \"bogus\" can not be performed"));
    ib.put(
        &format!("/v1/nodes/{u}/maintenance"),
        json!({"reason": "x"}),
    );
    let r = verb(&ib, &u, json!({"target": "active"}));
    assert_eq!(r.status, 400);
    assert!(r.fault().contains("maintenance mode"), "{}", r.fault());
    ib.delete(&format!("/v1/nodes/{u}/maintenance"));
    let r = verb(
        &ib,
        &u,
        json!({"target": "manage", "configdrive": "http://x/cd.iso"}),
    );
    assert_eq!(r.status, 400);
    go(&ib, &u, json!({"target": "manage"}), "manageable");
    let r = verb(&ib, &u, json!({"target": "clean"}));
    assert_eq!((r.status, r.fault().contains("clean_steps")), (400, true));
    let r = verb(
        &ib,
        &u,
        json!({"target": "clean", "clean_steps": [{"interface": "raid"}]}),
    );
    assert_eq!(r.status, 400);
    let r = verb(
        &ib,
        &u,
        json!({"target": "clean", "clean_steps": [{"interface": "deploy", "step": "wait"}]}),
    );
    assert_eq!(r.status, 400, "wait needs seconds");
    let r = verb(&ib, &u, json!({"target": "manage", "clean_steps": []}));
    assert_eq!((r.status, r.fault().contains("only valid")), (400, true));
    // Protected nodes cannot be undeployed; retired ones cannot be provided.
    let a = node_in(&ib, "active");
    assert_eq!(
        ib.patch(
            &format!("/v1/nodes/{a}"),
            json!([{"op": "replace", "path": "/protected", "value": true}])
        )
        .status,
        200
    );
    assert_eq!(verb(&ib, &a, json!({"target": "deleted"})).status, 403);
    let m = node_in(&ib, "manageable");
    ib.patch(
        &format!("/v1/nodes/{m}"),
        json!([{"op": "replace", "path": "/retired", "value": true}]),
    );
    let r = verb(&ib, &m, json!({"target": "provide"}));
    assert_eq!((r.status, r.fault().contains("retired")), (400, true));
    let r = verb(&ib, &m, json!({"target": "rescue"}));
    assert_eq!(r.status, 400);
    // Interfaces and driver cannot change on an active node (outside maintenance).
    let r = ib.patch(
        &format!("/v1/nodes/{a}"),
        json!([{"op": "replace", "path": "/bios_interface", "value": "no-bios"}]),
    );
    assert_eq!(r.status, 409);
    // Active nodes cannot be deleted.
    ib.patch(
        &format!("/v1/nodes/{a}"),
        json!([{"op": "replace", "path": "/protected", "value": false}]),
    );
    let r = ib.delete(&format!("/v1/nodes/{a}"));
    assert_eq!(r.status, 409);
    assert!(r.fault().contains("Can not delete node"));
}

#[test]
fn power_and_management() {
    let ib = Ironbox::start();
    let u = node_in(&ib, "manageable");
    let p = |t: &str| ib.put(&format!("/v1/nodes/{u}/states/power"), json!({"target": t}));
    let power = || {
        ib.get(&format!("/v1/nodes/{u}/states")).body["power_state"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(p("power on").status, 202);
    ib.wait_state(&u, "manageable", 30);
    assert_eq!(power(), "power on");
    assert_eq!(p("soft power off").status, 202);
    ib.wait_state(&u, "manageable", 30);
    assert_eq!(power(), "power off");
    assert_eq!(p("rebooting").status, 202);
    ib.wait_state(&u, "manageable", 30);
    assert_eq!(power(), "power on");
    assert_eq!(
        ib.req(
            "PUT",
            &format!("/v1/nodes/{u}/states/power"),
            Some("1.26"),
            Some(r#"{"target": "soft rebooting"}"#)
        )
        .status,
        406
    );
    assert_eq!(
        ib.put(
            &format!("/v1/nodes/{u}/states/power"),
            json!({"target": "power on", "timeout": 0})
        )
        .status,
        400
    );
    let r = p("warp speed");
    assert_eq!(r.status, 400);
    assert!(r.fault().contains("\"warp speed\" can not be performed"));
    ib.patch(
        &format!("/v1/nodes/{u}"),
        json!([{"op": "replace", "path": "/disable_power_off", "value": true}]),
    );
    assert_eq!(p("power off").status, 409);

    // Ironic's fake management: PXE only, no NMI.
    assert_eq!(
        ib.get(&format!("/v1/nodes/{u}/management/boot_device/supported"))
            .body["supported_boot_devices"],
        json!(["pxe"])
    );
    let r = ib.put(
        &format!("/v1/nodes/{u}/management/boot_device"),
        json!({"boot_device": "pxe", "persistent": true}),
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        ib.get(&format!("/v1/nodes/{u}/management/boot_device"))
            .body,
        json!({"boot_device": "pxe", "persistent": true})
    );
    let r = ib.put(
        &format!("/v1/nodes/{u}/management/boot_device"),
        json!({"boot_device": "disk"}),
    );
    assert_eq!(
        (r.status, r.fault()),
        (400, "Invalid boot device disk specified.".to_string())
    );
    let r = ib.put(&format!("/v1/nodes/{u}/management/inject_nmi"), json!({}));
    assert_eq!(
        (r.status, r.fault()),
        (
            400,
            "Driver fake-hardware does not support inject_nmi (disabled or not implemented)."
                .to_string()
        )
    );
    assert_eq!(
        ib.req(
            "PUT",
            &format!("/v1/nodes/{u}/management/inject_nmi"),
            Some("1.28"),
            Some("{}")
        )
        .status,
        404
    );
    assert_eq!(
        ib.put(
            &format!("/v1/nodes/{u}/states/boot_mode"),
            json!({"target": "uefi"})
        )
        .status,
        202
    );
    assert_eq!(ib.get(&format!("/v1/nodes/{u}")).body["boot_mode"], "uefi");
    assert_eq!(
        ib.put(
            &format!("/v1/nodes/{u}/states/secure_boot"),
            json!({"target": true})
        )
        .status,
        202
    );
    assert_eq!(ib.get(&format!("/v1/nodes/{u}")).body["secure_boot"], true);
    assert_eq!(
        ib.put(
            &format!("/v1/nodes/{u}/states/console"),
            json!({"enabled": true})
        )
        .status,
        202
    );
    assert_eq!(
        ib.get(&format!("/v1/nodes/{u}/states/console")).body["console_enabled"],
        true
    );
    let raid =
        json!({"logical_disks": [{"size_gb": 100, "raid_level": "1", "is_root_volume": true}]});
    assert_eq!(
        ib.put(&format!("/v1/nodes/{u}/states/raid"), raid.clone())
            .status,
        204
    );
    assert_eq!(
        ib.get(&format!("/v1/nodes/{u}")).body["target_raid_config"],
        raid
    );
    assert_eq!(
        ib.put(
            &format!("/v1/nodes/{u}/states/raid"),
            json!({"logical_disks": [{"raid_level": "7"}]})
        )
        .status,
        400
    );
    let m = ib
        .get(&format!("/v1/nodes/{u}/vendor_passthru/methods"))
        .body;
    assert_eq!(m["first_method"]["http_methods"], json!(["POST"]));
    let r = ib.req(
        "POST",
        &format!("/v1/nodes/{u}/vendor_passthru?method=first_method"),
        Some("latest"),
        Some(r#"{"x": 1}"#),
    );
    assert_eq!((r.status, r.body["args"]["x"].clone()), (200, json!(1)));
    assert_eq!(
        ib.req(
            "POST",
            &format!("/v1/nodes/{u}/vendor_passthru?method=nope"),
            Some("latest"),
            Some("{}")
        )
        .status,
        400
    );
}

#[test]
fn concurrent_verbs_have_one_winner_and_409s() {
    // A slow fake BMC keeps each node locked while it is verified; no lock retries.
    let ib = Ironbox::start_with(
        "[conductor]\nnode_locked_retry_attempts = 0\n[fake]\npower_delay = 1\n",
    );
    let nodes: Vec<String> = (0..50)
        .map(|_| ib.node(json!({}))["uuid"].as_str().unwrap().to_string())
        .collect();
    let results = std::sync::Mutex::new(vec![]);
    std::thread::scope(|s| {
        for n in &nodes {
            for _ in 0..4 {
                let (ib, n, results) = (&ib, n.clone(), &results);
                s.spawn(move || {
                    let r = verb(ib, &n, json!({"target": "manage"}));
                    results.lock().unwrap().push((n, r.status));
                });
            }
        }
    });
    let results = results.into_inner().unwrap();
    assert_eq!(results.len(), 200);
    for n in &nodes {
        let codes: Vec<u16> = results
            .iter()
            .filter(|(u, _)| u == n)
            .map(|(_, c)| *c)
            .collect();
        assert_eq!(
            codes.iter().filter(|c| **c == 202).count(),
            1,
            "{n}: {codes:?}"
        );
        assert!(
            codes.iter().all(|c| *c == 202 || *c == 409),
            "{n}: every refusal is a 409: {codes:?}"
        );
    }
    for n in &nodes {
        ib.wait_state(n, "manageable", 30);
        let h = ib.get(&format!("/v1/nodes/{n}/history?detail=true")).body;
        let manages = h["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event_type"] == "provision_manage")
            .count();
        assert_eq!(manages, 1, "no double transition on {n}");
    }
}

#[test]
fn sigkill_during_deploys_loses_nothing() {
    let mut ib = Ironbox::start_with("[fake]\ndeploy_delay = 5\n");
    let nodes: Vec<String> = (0..100)
        .map(|_| {
            let r = ib.req(
                "POST",
                "/v1/nodes",
                Some("1.10"),
                Some(r#"{"driver": "fake-hardware"}"#),
            );
            assert_eq!(r.status, 201);
            r.body["uuid"].as_str().unwrap().to_string()
        })
        .collect();
    std::thread::scope(|s| {
        for chunk in nodes.chunks(10) {
            let ib = &ib;
            s.spawn(move || {
                for n in chunk {
                    assert_eq!(verb(ib, n, json!({"target": "active"})).status, 202);
                }
            });
        }
    });
    // Each node is "deploying" once its 202 is back, for deploy_delay (5 s).
    let count = || {
        ib.get("/v1/nodes?provision_state=deploying&limit=1000")
            .body["nodes"]
            .as_array()
            .unwrap()
            .len()
    };
    let deploying = wait_until(Duration::from_secs(3), || Some(count()).filter(|n| *n > 50))
        .unwrap_or_else(count);
    assert!(
        deploying > 50,
        "most nodes should be mid-deploy when killed ({deploying})"
    );
    ib.kill();
    ib.spawn();
    let all = ib.get("/v1/nodes/detail?limit=1000").body["nodes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(all.len(), 100, "no node lost");
    for n in &all {
        let state = n["provision_state"].as_str().unwrap();
        assert!(
            state == "deploy failed" || state == "active",
            "{} left in {state}",
            n["uuid"]
        );
        assert!(n["reservation"].is_null(), "stale lock on {}", n["uuid"]);
        if state == "deploy failed" {
            assert!(
                n["last_error"].as_str().unwrap().contains("restarted"),
                "{}",
                n["last_error"]
            );
        }
    }
    // A failed deploy can be retried.
    let failed = all
        .iter()
        .find(|n| n["provision_state"] == "deploy failed")
        .expect("some deploys were interrupted");
    let u = failed["uuid"].as_str().unwrap();
    assert_eq!(verb(&ib, u, json!({"target": "deleted"})).status, 202);
}

#[test]
fn power_sync_records_unknown_power_states() {
    let ib = Ironbox::start_with("[conductor]\nsync_power_state_interval = 1\n");
    let r = ib.req(
        "POST",
        "/v1/nodes",
        Some("1.10"),
        Some(r#"{"driver": "fake-hardware"}"#),
    );
    let u = r.body["uuid"].as_str().unwrap().to_string();
    assert_eq!(r.body["power_state"], Value::Null);
    // Nodes in maintenance are left alone.
    let m = ib
        .req(
            "POST",
            "/v1/nodes",
            Some("1.10"),
            Some(r#"{"driver": "fake-hardware", "maintenance": true}"#),
        )
        .body["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let synced = wait_until(Duration::from_secs(10), || {
        let n = ib.get(&format!("/v1/nodes/{u}")).body;
        (!n["power_state"].is_null()).then_some(())
    });
    assert!(
        synced.is_some(),
        "power sync never recorded the power state"
    );
    assert_eq!(
        ib.get(&format!("/v1/nodes/{u}")).body["power_state"],
        "power off"
    );
    let h = ib.get(&format!("/v1/nodes/{u}/history?detail=true")).body;
    assert!(
        h["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event_type"] == "power_sync"),
        "{h}"
    );
    assert_eq!(
        ib.get(&format!("/v1/nodes/{m}")).body["power_state"],
        Value::Null
    );
}

#[test]
fn full_worker_pool_refuses_with_503_and_leaves_the_node_alone() {
    let ib = Ironbox::start_with("[conductor]\nworkers_pool_size = 1\n[fake]\ndeploy_delay = 3\n");
    let a = node_in(&ib, "available");
    let b = node_in(&ib, "available");
    assert_eq!(verb(&ib, &a, json!({"target": "active"})).status, 202);
    let r = verb(&ib, &b, json!({"target": "active"}));
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.fault().contains("lack of free conductor workers"));
    let n = ib.get(&format!("/v1/nodes/{b}")).body;
    assert_eq!(
        (
            n["provision_state"].clone(),
            n["reservation"].clone(),
            n["last_error"].clone()
        ),
        (json!("available"), Value::Null, Value::Null)
    );
    ib.wait_state(&a, "active", 30);
    // With the worker free again, the same request goes through.
    go(&ib, &b, json!({"target": "active"}), "active");
}
