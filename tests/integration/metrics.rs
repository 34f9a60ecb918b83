//! `/metrics` through the real binary: after a fake-hardware lifecycle driven over the API
//! the transition counters, provision durations and node gauges match what was done; API
//! requests are counted by route pattern (never the raw path); both exposition formats;
//! `[metrics]` auth and `enabled = false`.

use base64::Engine;
use serde_json::json;

use crate::harness::Ironbox;

/// The value of the sample `name{labels}` (labels in any order; all must match), if any.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (n, rest) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            if n != name {
                return None;
            }
            let have: Vec<(String, String)> = split_labels(rest);
            let all = labels
                .iter()
                .all(|(k, v)| have.iter().any(|(hk, hv)| hk == k && hv == v));
            all.then(|| value.parse().ok()).flatten()
        })
}

/// `a="x",b="y, z"` → pairs (values may hold commas and escaped quotes).
fn split_labels(s: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut rest = s;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        value.push(n);
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        out.push((key.trim_start_matches(',').to_string(), value));
        rest = &after[end..];
    }
    out
}

/// `/metrics` as 0.0.4 text (the default without an OpenMetrics `Accept`).
pub fn scrape(ib: &Ironbox) -> String {
    let r = ib.req("GET", "/metrics", None, None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "{:?}",
        r.header("content-type")
    );
    r.body.as_str().expect("text body").to_string()
}

fn verb(ib: &Ironbox, node: &str, target: &str, want: &str) {
    let r = ib.put(
        &format!("/v1/nodes/{node}/states/provision"),
        json!({ "target": target }),
    );
    assert_eq!(r.status, 202, "{target}: {}", r.body);
    ib.wait_state(node, want, 60);
}

#[test]
fn lifecycle_counts_match_what_was_done() {
    let ib = Ironbox::start();
    let idle = ib.node(json!({"name": "idle"}));
    let n = ib.node(json!({"name": "worker"}));
    let u = n["uuid"].as_str().unwrap();
    verb(&ib, u, "manage", "manageable");
    verb(&ib, u, "provide", "available");
    verb(&ib, u, "active", "active");
    verb(&ib, u, "deleted", "available");
    assert_eq!(ib.get("/v1/nope").status, 404);

    let text = scrape(&ib);
    let t = |from, event, to| {
        sample(
            &text,
            "ironbox_provision_transitions_total",
            &[("from", from), ("event", event), ("to", to)],
        )
    };
    assert_eq!(t("enroll", "manage", "verifying"), Some(1.0), "{text}");
    assert_eq!(t("verifying", "done", "manageable"), Some(1.0));
    assert_eq!(t("manageable", "provide", "cleaning"), Some(1.0));
    assert_eq!(t("available", "deploy", "deploying"), Some(1.0));
    assert_eq!(t("active", "delete", "deleting"), Some(1.0));
    assert_eq!(t("deleting", "clean", "cleaning"), Some(1.0));
    // Cleaning ended twice (provide, undeploy) in available.
    assert_eq!(t("cleaning", "done", "available"), Some(2.0));
    let d = |verb, to| {
        sample(
            &text,
            "ironbox_provision_duration_seconds_count",
            &[("verb", verb), ("to", to)],
        )
    };
    assert_eq!(d("manage", "manageable"), Some(1.0), "{text}");
    assert_eq!(d("provide", "available"), Some(1.0));
    assert_eq!(d("deploy", "active"), Some(1.0));
    assert_eq!(d("delete", "available"), Some(1.0));
    // Gauges from the database: one node resting in each state.
    let g = |state| sample(&text, "ironbox_nodes", &[("provision_state", state)]);
    assert_eq!(g("enroll"), Some(1.0));
    assert_eq!(g("available"), Some(1.0));
    let powered: f64 = text
        .lines()
        .filter(|l| l.starts_with("ironbox_nodes_by_power_state{"))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum();
    assert_eq!(powered, 2.0, "{text}");
    // API requests under their route patterns, never the raw path or a node's UUID.
    let api = |route, method, status| {
        sample(
            &text,
            "ironbox_api_requests_total",
            &[("route", route), ("method", method), ("status", status)],
        )
    };
    assert_eq!(api("/v1/nodes", "POST", "201"), Some(2.0));
    assert_eq!(
        api("/v1/nodes/{node}/states/provision", "PUT", "202"),
        Some(4.0)
    );
    assert!(api("/v1/nodes/{node}", "GET", "200").unwrap() >= 4.0);
    assert_eq!(api("unmatched", "GET", "404"), Some(1.0));
    assert!(sample(
        &text,
        "ironbox_api_request_duration_seconds_count",
        &[("route", "/v1/nodes"), ("method", "POST")]
    )
    .is_some());
    assert!(!text.contains(u) && !text.contains(idle["uuid"].as_str().unwrap()));
    assert!(!text.contains("worker"), "node names never become labels");
    // Deploy steps were timed by interface and step.
    assert!(
        text.lines()
            .any(|l| l.starts_with("ironbox_step_duration_seconds_count{interface=\"deploy\"")),
        "{text}"
    );

    // OpenMetrics when asked for.
    let r = ib.req_h(
        "GET",
        "/metrics",
        None,
        None,
        &[(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        )],
    );
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/openmetrics-text"));
    assert!(r.body.as_str().unwrap().ends_with("# EOF\n"));
}

fn basic_auth_config(dir: &std::path::Path, metrics: &str) -> String {
    let htpasswd = dir.join("htpasswd");
    let hash = bcrypt::hash("s3cret", 4)
        .unwrap()
        .replacen("$2b$", "$2y$", 1);
    std::fs::write(&htpasswd, format!("admin:{hash}\n")).unwrap();
    format!(
        "[DEFAULT]\nauth_strategy = \"http_basic\"\nhttp_basic_auth_user_file = \"{}\"\n{metrics}",
        htpasswd.display()
    )
}

#[test]
fn metrics_obey_the_api_auth_unless_told_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let ib = Ironbox::start_with(&basic_auth_config(dir.path(), ""));
    let r = ib.req("GET", "/metrics", None, None);
    assert_eq!(r.status, 401, "{}", r.body);
    let good = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("admin:s3cret")
    );
    let r = ib.req_h("GET", "/metrics", None, None, &[("Authorization", &good)]);
    assert_eq!(r.status, 200);
    let text = r.body.as_str().unwrap();
    // The refused scrape was counted too, under its route.
    assert_eq!(
        sample(
            text,
            "ironbox_api_requests_total",
            &[("route", "/metrics"), ("status", "401")]
        ),
        Some(1.0),
        "{text}"
    );
    drop(ib);

    let open = Ironbox::start_with(&basic_auth_config(
        dir.path(),
        "[metrics]\nauth = \"none\"\n",
    ));
    assert_eq!(open.req("GET", "/metrics", None, None).status, 200);
    assert_eq!(
        open.req("GET", "/v1/nodes", Some("latest"), None).status,
        401,
        "only /metrics is opened"
    );
}

#[test]
fn disabled_metrics_are_not_found() {
    let ib = Ironbox::start_with("[metrics]\nenabled = false\n");
    let r = ib.req("GET", "/metrics", None, None);
    assert_eq!(r.status, 404);
    assert!(r.fault().contains("not found") || r.body["error_message"].is_string());
}
