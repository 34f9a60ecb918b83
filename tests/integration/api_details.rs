//! Details clients trip over: repeated query parameters (merged or refused as Ironic does)
//! and `?fields=` on drivers (1.77).

use crate::harness::Ironbox;

#[test]
fn repeated_query_parameters_and_driver_fields() {
    let ib = Ironbox::start();
    ib.node(serde_json::json!({"driver": "fake-hardware", "name": "n1"}));
    // `fields` repeated: merged, on lists and on one item.
    let list = ib.get("/v1/nodes?fields=uuid&fields=name").body;
    let mut keys: Vec<&str> = list["nodes"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["links", "name", "uuid"]);
    let one = ib.get("/v1/nodes/n1?fields=uuid&fields=driver,name").body;
    assert_eq!(
        (one["driver"].as_str(), one["name"].as_str()),
        (Some("fake-hardware"), Some("n1"))
    );
    assert!(one.get("power_state").is_none());
    // Anything else repeated is refused with the text Ironic gives.
    for (qs, text) in [
        ("limit=1&limit=5", "Expected an integer for limit: ['1', '5']"),
        ("driver=fake-hardware&driver=ipmi", "Expected string for driver: ['fake-hardware', 'ipmi']"),
        ("sort_key=name&sort_key=uuid", "Expected string for sort_key: ['name', 'uuid']"),
        ("detail=true&detail=false", "Invalid detail: Unrecognized value '['true', 'false']', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'"),
    ] {
        let r = ib.get(&format!("/v1/nodes?{qs}"));
        assert_eq!((r.status, r.fault()), (400, text.to_string()), "{qs}");
    }

    // Drivers: `fields` from 1.77; `links` always kept; detail fields only on detail views.
    let d = ib.get("/v1/drivers?fields=name").body;
    let first = d["drivers"][0].as_object().unwrap();
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["links", "name"]);
    let r = ib.req("GET", "/v1/drivers?fields=name", Some("1.76"), None);
    assert_eq!(r.status, 406);
    let r = ib.req(
        "GET",
        "/v1/drivers/fake-hardware?fields=name",
        Some("1.76"),
        None,
    );
    assert_eq!(r.status, 406);
    let r = ib.get("/v1/drivers?fields=name,bogus");
    assert!(r.fault().starts_with("Schema error: 'bogus' is not one of ['hosts', 'links', 'name', 'default_boot_interface',"), "{}", r.fault());
    let r = ib.get("/v1/drivers?fields=default_boot_interface");
    assert_eq!(
        (r.status, r.fault()),
        (
            400,
            "Field(s) \"default_boot_interface\" are not valid".to_string()
        )
    );
    let r = ib.get("/v1/drivers?fields=name&detail=true");
    assert_eq!(
        r.fault(),
        "Can not specify ?detail=True and fields in the same request."
    );
    let one = ib
        .get("/v1/drivers/fake-hardware?fields=name,default_boot_interface")
        .body;
    let mut keys: Vec<&str> = one
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["default_boot_interface", "links", "name"]);
    assert!(one["default_boot_interface"].is_string(), "{one}");
}
