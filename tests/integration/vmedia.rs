//! `/v1/nodes/{id}/vmedia` (1.89 attach/detach, 1.93 GET): on the `redfish` management
//! interface against sushy-tools (what the emulator's VirtualMedia devices say after each
//! call), on the fake one, and the refusals: body checks with Ironic's messages,
//! microversions, unknown nodes, locked nodes, interfaces without virtual media, power
//! failure, and an image the BMC cannot fetch.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{wait_until, Ironbox, Resp};
use crate::redfish::{last_error, redfish_node, serve_file, verb, Sushy, SYSTEM};

fn vmedia(
    ib: &Ironbox,
    method: &str,
    u: &str,
    query: &str,
    ver: &str,
    body: Option<Value>,
) -> Resp {
    let body = body.map(|b| b.to_string());
    ib.req(
        method,
        &format!("/v1/nodes/{u}/vmedia{query}"),
        Some(ver),
        body.as_deref(),
    )
}

fn attach(ib: &Ironbox, u: &str, body: Value) -> Resp {
    vmedia(ib, "POST", u, "", "1.89", Some(body))
}

/// The GET list, once `done` holds for it (the work runs after the 204).
fn wait_vmedia(ib: &Ironbox, u: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let mut last = vec![];
    let seen = wait_until(Duration::from_secs(20), || {
        let r = vmedia(ib, "GET", u, "", "1.93", None);
        assert_eq!(r.status, 200, "{}", r.body);
        last = r.body.as_array().cloned().unwrap_or_default();
        done(&last).then(|| last.clone())
    });
    seen.unwrap_or_else(|| panic!("vmedia never reached the wanted state: {last:?}"))
}

fn holding<'a>(list: &'a [Value], media_type: &str) -> &'a Value {
    list.iter()
        .find(|d| {
            d["media_types"]
                .as_array()
                .unwrap()
                .contains(&json!(media_type))
        })
        .unwrap_or_else(|| panic!("no {media_type} device in {list:?}"))
}

#[test]
fn redfish_attach_get_and_detach_reach_the_bmc() {
    let bmc = Sushy::start(false);
    let ib = Ironbox::start();
    let port = serve_file(b"an image the emulator only stores");
    let (iso, img) = (
        format!("http://127.0.0.1:{port}/data.iso"),
        format!("http://127.0.0.1:{port}/data.img"),
    );
    let u = redfish_node(&ib, json!({"driver_info": bmc.driver_info()}));
    let device = |id: &str| bmc.get(&format!("/redfish/v1/Systems/{SYSTEM}/VirtualMedia/{id}"));

    // BMO's DataImage attach: device_type and image_url only, at 1.89.
    let r = attach(&ib, &u, json!({"device_type": "cdrom", "image_url": iso}));
    assert_eq!(r.status, 204, "{}", r.body);
    let list = wait_vmedia(&ib, &u, |l| holding(l, "CD")["inserted"] == true);
    assert_eq!(holding(&list, "CD")["image"], iso.as_str(), "{list:?}");
    assert_eq!(holding(&list, "Floppy")["inserted"], false, "{list:?}");
    let cd = device("Cd");
    assert_eq!(
        (cd["Inserted"].clone(), cd["Image"].clone()),
        (json!(true), json!(iso))
    );

    // A USB stick goes into the device whose MediaTypes has USBStick.
    let r = attach(
        &ib,
        &u,
        json!({"device_type": "disk", "image_url": img, "image_download_source": "http"}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    wait_vmedia(&ib, &u, |l| holding(l, "USBStick")["inserted"] == true);
    assert_eq!(device("Floppy")["Image"], img.as_str());
    // A second CD replaces the first.
    let iso2 = format!("http://127.0.0.1:{port}/other.iso");
    assert_eq!(
        attach(&ib, &u, json!({"device_type": "cdrom", "image_url": iso2})).status,
        204
    );
    wait_vmedia(&ib, &u, |l| holding(l, "CD")["image"] == iso2.as_str());

    // Detach only the CD: the stick stays.
    let r = vmedia(&ib, "DELETE", &u, "?device_types=cdrom", "1.89", None);
    assert_eq!(r.status, 204, "{}", r.body);
    let list = wait_vmedia(&ib, &u, |l| holding(l, "CD")["inserted"] == false);
    assert_eq!(holding(&list, "USBStick")["inserted"], true, "{list:?}");
    assert_eq!(device("Cd")["Inserted"], false);
    assert_eq!(device("Floppy")["Inserted"], true);
    // Detach everything.
    assert_eq!(vmedia(&ib, "DELETE", &u, "", "1.89", None).status, 204);
    wait_vmedia(&ib, &u, |l| l.iter().all(|d| d["inserted"] == false));
    assert_eq!(device("Floppy")["Inserted"], false);
    let ejects = bmc
        .requests()
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .unwrap_or_default()
                .ends_with("EjectMedia")
        })
        .count();
    assert!(ejects >= 3, "{:?}", bmc.requests());
    assert_eq!(last_error(&ib, &u), "");

    // An image the BMC cannot fetch: 204, then last_error and the history say why.
    // Its URL carries credentials, which no error text keeps.
    let dead = format!("http://user:hunter2@127.0.0.1:{}/gone.iso", free_port());
    assert_eq!(
        attach(&ib, &u, json!({"device_type": "cdrom", "image_url": dead})).status,
        204
    );
    let err = wait_until(Duration::from_secs(20), || {
        Some(last_error(&ib, &u)).filter(|e| !e.is_empty())
    })
    .expect("the failed attach reaches last_error");
    assert!(
        err.starts_with(&format!("Could not attach device cdrom to node {u}: ")),
        "{err}"
    );
    let h = ib.get(&format!("/v1/nodes/{u}/history")).body;
    assert!(
        h["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["severity"] == "ERROR"
                && e["event"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("Could not attach device cdrom")),
        "{h}"
    );
    assert!(
        !err.contains("hunter2") && !h.to_string().contains("hunter2"),
        "{err} {h}"
    );
    assert_eq!(device("Cd")["Inserted"], false);
    // The next request clears the old error.
    assert_eq!(vmedia(&ib, "DELETE", &u, "", "1.89", None).status, 204);
    assert_eq!(last_error(&ib, &u), "");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_node_with_a_power_failure_is_refused_with_503() {
    let bmc = Sushy::start(false);
    let ib = Ironbox::start_with(
        "[conductor]\nsync_power_state_interval = 1\npower_state_sync_max_retries = 1\n[redfish]\nconnection_attempts = 1\n",
    );
    let u = redfish_node(&ib, json!({"driver_info": bmc.driver_info()}));
    // Enrolled nodes are not power-synced: manage it, then take the BMC away.
    verb(&ib, &u, "manage", "manageable");
    drop(bmc);
    let faulted = wait_until(Duration::from_secs(30), || {
        let n = ib.get(&format!("/v1/nodes/{u}")).body;
        (n["fault"] == "power failure").then_some(n)
    });
    let n = faulted.expect("the power sync puts the node in maintenance");
    assert_eq!(n["maintenance"], true);
    let r = attach(
        &ib,
        &u,
        json!({"device_type": "cdrom", "image_url": "http://127.0.0.1:9/a.iso"}),
    );
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(
        r.fault(),
        format!("Unable to attach virtual media for node {u} due to power failure state")
    );
    let r = vmedia(&ib, "DELETE", &u, "", "1.89", None);
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(
        r.fault().starts_with("Unable to detach virtual media"),
        "{}",
        r.fault()
    );
}

#[test]
fn fake_vmedia_and_every_refusal() {
    let ib = Ironbox::start_with(
        "[conductor]\nnode_locked_retry_attempts = 0\n[fake]\nmanagement_delay = 2\n",
    );
    let u = ib.node(json!({"name": "vm-1"}))["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let url = "http://192.0.2.1/x.iso";

    // Microversions: no path below 1.89, no GET below 1.93.
    let r = vmedia(
        &ib,
        "POST",
        &u,
        "",
        "1.88",
        Some(json!({"device_type": "cdrom", "image_url": url})),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(vmedia(&ib, "DELETE", &u, "", "1.88", None).status, 404);
    let r = vmedia(&ib, "GET", &u, "", "1.92", None);
    assert_eq!(
        (r.status, r.fault()),
        (404, "The resource could not be found.".to_string())
    );
    // Methods the path does not have.
    assert_eq!(
        vmedia(&ib, "PUT", &u, "", "1.93", Some(json!({}))).status,
        405
    );

    // Bodies, with Ironic's texts.
    let cases = [
        (json!({"device_type": "usb", "image_url": url}),
         "Schema error for vmedia: 'usb' is not one of ['disk', 'cdrom', 'floppy']"),
        (json!({"device_type": "cdrom"}), "Schema error for vmedia: 'image_url' is a required property"),
        (json!({"device_type": "cdrom", "image_url": "ftp://x/a.iso"}), "Unsupported or missing URL scheme: ftp"),
        (json!({"device_type": "cdrom", "image_url": url, "username": "u"}),
         "Schema error for vmedia: Additional properties are not allowed ('username' was unexpected)"),
        (json!({"device_type": "cdrom", "image_url": "nfs://h/x.iso"}),
         "image_download_source is set to 'local' but the image URL nfs://h/x.iso uses the nfs protocol which cannot be downloaded by the conductor. Set image_download_source to 'http' or remove it to use the default."),
    ];
    for (body, want) in cases {
        let r = attach(&ib, &u, body.clone());
        assert_eq!((r.status, r.fault()), (400, want.to_string()), "{body}");
    }
    let r = ib.req(
        "POST",
        &format!("/v1/nodes/{u}/vmedia"),
        Some("1.89"),
        Some("{nope"),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let r = vmedia(&ib, "DELETE", &u, "?device_types=cdrom,usb", "1.89", None);
    assert_eq!(
        (r.status, r.fault()),
        (
            400,
            "Invalid device type(s) usb (valid are disk, cdrom, floppy)".to_string()
        )
    );
    let r = vmedia(&ib, "DELETE", &u, "?foo=1", "1.89", None);
    assert_eq!(
        (r.status, r.fault()),
        (400, "Unexpected arguments: foo".to_string())
    );
    // None of that reached the node.
    let n = ib.get(&format!("/v1/nodes/{u}")).body;
    assert_eq!(
        (n["last_error"].clone(), n["reservation"].clone()),
        (Value::Null, Value::Null)
    );

    // Unknown nodes.
    let r = attach(
        &ib,
        "nope",
        json!({"device_type": "cdrom", "image_url": url}),
    );
    assert_eq!(
        (r.status, r.fault()),
        (404, "Node nope could not be found.".to_string())
    );
    assert_eq!(vmedia(&ib, "GET", "nope", "", "1.93", None).status, 404);
    assert_eq!(vmedia(&ib, "DELETE", "nope", "", "1.89", None).status, 404);

    // The fake keeps what is attached; by name too. While it works (2 s), the node is
    // locked: a second request is NodeLocked.
    let r = attach(
        &ib,
        "vm-1",
        json!({"device_type": "cdrom", "image_url": url}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let r = attach(&ib, &u, json!({"device_type": "floppy", "image_url": url}));
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.fault().contains("is locked by host"), "{}", r.fault());
    let list = wait_vmedia(&ib, &u, |l| holding(l, "CD")["inserted"] == true);
    assert_eq!(holding(&list, "CD")["image"], url);
    assert_eq!(holding(&list, "Floppy")["inserted"], false);
    wait_until(Duration::from_secs(10), || {
        ib.get(&format!("/v1/nodes/{u}")).body["reservation"]
            .is_null()
            .then_some(())
    })
    .expect("the lock is given back");
    // Any provision state: also in manageable.
    let r = ib.put(
        &format!("/v1/nodes/{u}/states/provision"),
        json!({"target": "manage"}),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    ib.wait_state(&u, "manageable", 20);
    assert_eq!(
        vmedia(&ib, "DELETE", &u, "?device_types=cdrom", "1.89", None).status,
        204
    );
    wait_vmedia(&ib, &u, |l| l.iter().all(|d| d["inserted"] == false));

    // A management interface without virtual media: Ironic's UnsupportedDriverExtension.
    let ipmi = ib.post(
        "/v1/nodes",
        json!({"driver": "ipmi", "driver_info": {"ipmi_address": "127.0.0.1"}}),
    );
    assert_eq!(ipmi.status, 201, "{}", ipmi.body);
    let p = ipmi.body["uuid"].as_str().unwrap();
    for (method, body, ext) in [
        (
            "POST",
            Some(json!({"device_type": "cdrom", "image_url": url})),
            "attach_virtual_media",
        ),
        ("DELETE", None, "detach_virtual_media"),
        ("GET", None, "get_virtual_media"),
    ] {
        let r = vmedia(&ib, method, p, "", "1.93", body);
        assert_eq!(
            (r.status, r.fault()),
            (
                400,
                format!("Driver ipmi does not support {ext} (disabled or not implemented).")
            )
        );
    }
}
