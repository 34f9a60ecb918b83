//! The UI's Enroll and Deploy POST handlers over plain HTTP (no browser): what a form
//! creates, that a refused form creates nothing and says what the JSON API says, that a
//! form is spent once, that CSRF is checked, and that a BMC password never comes back.

use serde_json::{json, Value};

use crate::harness::{Ironbox, Resp};

/// A fresh form's CSRF token and one-shot nonce, read from its page.
fn tokens(ib: &Ironbox, path: &str) -> (String, String) {
    let page = ib.req("GET", path, None, None);
    assert_eq!(page.status, 200);
    let html = page.body.as_str().expect("an HTML page").to_string();
    let grab = |marker: &str| {
        let at = html
            .find(marker)
            .unwrap_or_else(|| panic!("{marker} in the page"))
            + marker.len();
        html[at..].split('"').next().unwrap().to_string()
    };
    (grab("data-csrf=\""), grab("name=\"_nonce\" value=\""))
}

fn post_form(ib: &Ironbox, path: &str, pairs: &[(&str, &str)]) -> Resp {
    post_form_h(ib, path, pairs, &[])
}

fn post_form_h(ib: &Ironbox, path: &str, pairs: &[(&str, &str)], extra: &[(&str, &str)]) -> Resp {
    let body = serde_urlencoded::to_string(pairs).unwrap();
    let mut h = vec![
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Origin", ib.url.as_str()),
    ];
    h.extend_from_slice(extra);
    ib.req_h("POST", path, None, Some(&body), &h)
}

fn html(r: &Resp) -> &str {
    r.body.as_str().unwrap_or_default()
}

fn node_count(ib: &Ironbox) -> usize {
    ib.get("/v1/nodes").body["nodes"].as_array().unwrap().len()
}

#[test]
fn enroll_creates_the_node_and_its_ports_once() {
    let ib = Ironbox::start();
    let (csrf, nonce) = tokens(&ib, "/ui/enroll");
    let form = [
        ("_csrf", csrf.as_str()),
        ("_nonce", nonce.as_str()),
        ("driver", "fake-hardware"),
        ("name", "enrolled-by-form"),
        ("macs", "52:54:00:00:10:01\r\n52:54:00:00:10:02"),
        ("local_gb", "40"),
    ];
    // As htmx sends it (the harness's client follows a plain POST's 303): 200, HX-Redirect.
    let r = post_form_h(&ib, "/ui/enroll", &form, &[("HX-Request", "true")]);
    assert_eq!(r.status, 200, "{:?}", r.body);
    let to = r.header("hx-redirect").unwrap().to_string();
    let uuid = to.strip_prefix("/ui/machines/").unwrap();
    let node = ib.get(&format!("/v1/nodes/{uuid}")).body;
    assert_eq!(node["name"], "enrolled-by-form");
    assert_eq!(node["properties"], json!({"local_gb": 40}));
    let ports = ib.get(&format!("/v1/nodes/{uuid}/ports")).body;
    let mut macs: Vec<&str> = ports["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["address"].as_str().unwrap())
        .collect();
    macs.sort();
    assert_eq!(macs, ["52:54:00:00:10:01", "52:54:00:00:10:02"]);
    // The same form again (a double submit, a replay): refused, nothing created.
    let again = post_form(&ib, "/ui/enroll", &form);
    assert_eq!(again.status, 409);
    assert_eq!(node_count(&ib), 1);
}

#[test]
fn a_refused_enroll_creates_nothing_and_says_what_the_api_says() {
    let ib = Ironbox::start();
    let api_says = |path: &str, body: Value| ib.post(path, body).fault();
    let cases = [
        (
            vec![
                ("driver", "fake-hardware"),
                ("macs", "52:54:00:00:20:01\n52-54-00-00-20-02"),
            ],
            api_says(
                "/v1/ports",
                json!({"address": "52-54-00-00-20-02", "node_uuid": "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"}),
            ),
            "macs",
        ),
        (
            vec![("driver", "warp-drive"), ("macs", "52:54:00:00:20:03")],
            api_says("/v1/nodes", json!({"driver": "warp-drive"})),
            "driver",
        ),
        (
            vec![("driver", "fake-hardware"), ("name", "bad name!")],
            api_says(
                "/v1/nodes",
                json!({"driver": "fake-hardware", "name": "bad name!"}),
            ),
            "name",
        ),
    ];
    for (fields, message, field) in cases {
        let (csrf, nonce) = tokens(&ib, "/ui/enroll");
        let mut form = vec![("_csrf", csrf.as_str()), ("_nonce", nonce.as_str())];
        form.extend(fields);
        let r = post_form(&ib, "/ui/enroll", &form);
        assert!(
            r.status == 400 || r.status == 409,
            "{}: {}",
            r.status,
            html(&r)
        );
        // askama escapes quotes; the API's text is otherwise verbatim, next to its field.
        let escaped = message.replace('\'', "&#39;").replace('"', "&#34;");
        let shown = format!("data-field=\"{field}\">{escaped}</p>");
        assert!(html(&r).contains(&shown), "{shown} in {}", html(&r));
    }
    assert_eq!(node_count(&ib), 0, "nothing half-enrolled");
    assert!(ib.get("/v1/ports").body["ports"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn the_bmc_password_is_stored_but_never_sent_back() {
    let ib = Ironbox::start();
    let (csrf, nonce) = tokens(&ib, "/ui/enroll");
    let secret = "pw-9f3b1c-never-echoed";
    let r = post_form(
        &ib,
        "/ui/enroll",
        &[
            ("_csrf", &csrf),
            ("_nonce", &nonce),
            ("driver", "redfish"),
            ("bmc_address", "https://192.0.2.20"),
            ("bmc_username", "root"),
            ("bmc_password", secret),
            ("redfish_system_id", "/redfish/v1/Systems/1"),
            ("macs", "not-a-mac"),
        ],
    );
    assert_eq!(r.status, 400);
    assert!(!html(&r).contains(secret));
    assert!(html(&r).contains("value=\"https://192.0.2.20\""));
}

#[test]
fn posts_without_the_token_or_from_elsewhere_are_refused() {
    let ib = Ironbox::start();
    let (_, nonce) = tokens(&ib, "/ui/enroll");
    let body = format!("_nonce={nonce}&driver=fake-hardware");
    for headers in [
        vec![("Origin", ib.url.as_str())],
        vec![("Origin", "http://evil.example")],
    ] {
        let mut h = vec![("Content-Type", "application/x-www-form-urlencoded")];
        h.extend(headers);
        let r = ib.req_h("POST", "/ui/enroll", None, Some(&body), &h);
        assert_eq!(r.status, 403);
    }
    assert_eq!(node_count(&ib), 0);
}

#[test]
fn deploy_in_a_state_that_cannot_deploy_is_refused_before_anything_changes() {
    let ib = Ironbox::start();
    let node = ib.node(json!({"driver": "fake-hardware"}));
    let uuid = node["uuid"].as_str().unwrap();
    let path = format!("/ui/machines/{uuid}/deploy");
    let (csrf, nonce) = tokens(&ib, &path);
    let r = post_form(
        &ib,
        &path,
        &[
            ("_csrf", &csrf),
            ("_nonce", &nonce),
            ("image_source", "http://127.0.0.1:9/disk.raw"),
            ("hostname", "h1"),
        ],
    );
    assert_eq!(r.status, 400, "{}", html(&r));
    let msg = format!(
        "The requested action &#34;active&#34; can not be performed on node &#34;{uuid}&#34; while it is in state &#34;enroll&#34;."
    );
    assert!(html(&r).contains(&msg), "{}", html(&r));
    let ii = &ib.get(&format!("/v1/nodes/{uuid}")).body["instance_info"];
    assert_eq!(ii, &json!({}));
}

#[test]
fn deploy_from_an_image_the_cache_holds() {
    let mut ib = Ironbox::start();
    let node = ib.node(json!({"driver": "fake-hardware", "name": "from-cache"}));
    let uuid = node["uuid"].as_str().unwrap().to_string();
    for verb in ["manage", "provide"] {
        let r = ib.put(
            &format!("/v1/nodes/{uuid}/states/provision"),
            json!({ "target": verb }),
        );
        assert_eq!(r.status, 202);
        let want = if verb == "manage" {
            "manageable"
        } else {
            "available"
        };
        ib.wait_state(&uuid, want, 30);
    }
    // An entry as an earlier deploy leaves it (record and file), read at start.
    ib.terminate();
    let images = ib.data().join("images");
    std::fs::create_dir_all(&images).unwrap();
    let source = "http://127.0.0.1:9/cached-disk.raw";
    let checksum = format!("sha256:{}", "ab".repeat(32));
    std::fs::write(images.join("0123456789abcdef.img"), vec![0u8; 4096]).unwrap();
    let record = json!({"source": source, "size": 4096, "format": "raw",
                        "sha256": "cd".repeat(32), "checksum": checksum});
    std::fs::write(images.join("0123456789abcdef.json"), record.to_string()).unwrap();
    ib.spawn();
    let path = format!("/ui/machines/{uuid}/deploy");
    let page = ib.req("GET", &path, None, None);
    assert!(
        html(&page).contains(&format!("<option value=\"{source}\"")),
        "{}",
        html(&page)
    );
    let (csrf, nonce) = tokens(&ib, &path);
    let r = post_form_h(
        &ib,
        &path,
        &[
            ("_csrf", &csrf),
            ("_nonce", &nonce),
            ("cached", source),
            ("hostname", "from-cache"),
        ],
        &[("HX-Request", "true")],
    );
    assert_eq!(r.status, 200, "{}", html(&r));
    assert_eq!(
        r.header("hx-redirect"),
        Some(format!("/ui/machines/{uuid}").as_str())
    );
    let n = ib.wait_state(&uuid, "active", 30);
    assert_eq!(n["instance_info"]["image_source"], source);
    assert_eq!(n["instance_info"]["image_checksum"], json!(checksum));
}
