//! Malformed requests: each must get a 4xx in Ironic's error shape with a clear message —
//! never a 500, a panic or a dropped connection. One table, one row per case.

use serde_json::Value;

use crate::harness::Ironbox;

const N: &str = "11111111-2222-3333-4444-555555555555"; // a node created by the test
const J: &str = "application/json";

/// (method, path, version header, body, content-type, status, text the message contains)
type Case = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    u16,
    &'static str,
);

const CASES: &[Case] = &[
    // Microversions
    ("GET", "/v1/nodes", Some("abc"), None, J, 406, "Invalid value for X-OpenStack-Ironic-API-Version header"),
    ("GET", "/v1/nodes", Some("1.999"), None, J, 406, "minor version is not supported"),
    ("GET", "/v1/nodes", Some("2.1"), None, J, 406, "Mutually exclusive versions requested"),
    ("GET", "/v1/nodes", Some("1.0"), None, J, 406, "The supported version range is: [1.1,"),
    ("GET", "/v1/nodes", Some("1."), None, J, 406, "Invalid value"),
    ("GET", "/v1/nodes", Some("1.1.1"), None, J, 406, "Invalid value"),
    // Query strings
    ("GET", "/v1/nodes?limit=0", Some("latest"), None, J, 400, "Limit must be positive"),
    ("GET", "/v1/nodes?limit=-1", Some("latest"), None, J, 400, "Limit must be positive"),
    ("GET", "/v1/nodes?limit=abc", Some("latest"), None, J, 400, "Expected an integer for limit: abc"),
    ("GET", "/v1/nodes?limit=99999999999999999999999", Some("latest"), None, J, 400, "Expected an integer for limit"),
    ("GET", "/v1/nodes?sort_dir=up", Some("latest"), None, J, 400, "Invalid sort direction: up."),
    ("GET", "/v1/nodes?sort_key=properties", Some("latest"), None, J, 400, "The sort_key value properties is an invalid field for sorting"),
    ("GET", "/v1/nodes?sort_key=bogus", Some("latest"), None, J, 400, "The sort_key value \"bogus\" is an invalid field for sorting"),
    ("GET", "/v1/nodes?sort_key=owner", Some("1.49"), None, J, 406, "Request not acceptable."),
    ("GET", "/v1/nodes?provision_state=bogus", Some("latest"), None, J, 400, "Provision state \"bogus\" is not valid"),
    ("GET", "/v1/nodes?maintenance=notbool", Some("latest"), None, J, 400, "Invalid maintenance: Unrecognized value 'notbool'"),
    ("GET", "/v1/nodes?associated=maybe", Some("latest"), None, J, 400, "Invalid associated"),
    ("GET", "/v1/nodes?fields=bogus", Some("latest"), None, J, 400, "Field(s) \"bogus\" are not valid"),
    ("GET", "/v1/nodes?fields=uuid&detail=true", Some("latest"), None, J, 400, "Can not specify ?detail=True and fields in the same request."),
    ("GET", "/v1/nodes?detail=true", Some("1.42"), None, J, 400, "Invalid query parameter ?detail=True received."),
    ("GET", "/v1/nodes?fields=owner", Some("1.49"), None, J, 406, "Request not acceptable."),
    ("GET", "/v1/nodes?fields=uuid", Some("1.7"), None, J, 406, "Request not acceptable."),
    ("GET", "/v1/nodes?marker=11111111-0000-0000-0000-000000000000", Some("latest"), None, J, 404, "Node 11111111-0000-0000-0000-000000000000 could not be found."),
    ("GET", "/v1/nodes?fault=bogus", Some("latest"), None, J, 400, "Unknown fault: bogus"),
    ("GET", "/v1/nodes?instance_uuid=not-a-uuid", Some("latest"), None, J, 400, "Expected UUID for instance_uuid"),
    ("GET", "/v1/nodes?%zz=1", Some("latest"), None, J, 200, ""),
    ("GET", "/v1/ports?address=bad", Some("latest"), None, J, 400, "Expected valid MAC address for address: bad"),
    ("GET", "/v1/ports?node=nope", Some("latest"), None, J, 404, "Node nope could not be found."),
    // Paths and methods
    ("GET", "/v1/bogus", Some("latest"), None, J, 404, ""),
    ("GET", "/bogus", Some("latest"), None, J, 404, ""),
    ("PUT", "/v1/nodes/11111111-2222-3333-4444-555555555555", Some("latest"), Some("{}"), J, 405, ""),
    ("DELETE", "/v1/nodes", Some("latest"), None, J, 405, ""),
    ("POST", "/v1", Some("latest"), Some("{}"), J, 405, ""),
    ("GET", "/v1/nodes/bad%20ident", Some("latest"), None, J, 400, "Expected UUID or name for node: bad ident"),
    ("GET", "/v1/nodes/nonexistent", Some("latest"), None, J, 404, "Node nonexistent could not be found."),
    ("GET", "/v1/nodes/11111111-2222-3333-4444-555555555555/bogus", Some("latest"), None, J, 400, "Field bogus is not a valid field."),
    ("GET", "/v1/chassis/c1", Some("latest"), None, J, 400, "Expected UUID for chassis_uuid: c1"),
    ("GET", "/v1/ports/52:54:00:12:34:56", Some("latest"), None, J, 400, "Expected UUID or name for port_ident"),
    ("GET", "/v1/nodes/11111111-2222-3333-4444-555555555555/traits", Some("1.36"), None, J, 406, "Request not acceptable."),
    // Node create bodies
    ("POST", "/v1/nodes", Some("latest"), Some("{\"driver\": "), J, 400, "Malformed JSON"),
    ("POST", "/v1/nodes", Some("latest"), Some("not json at all"), J, 400, "Malformed JSON"),
    ("POST", "/v1/nodes", Some("latest"), Some(""), J, 400, "request body is empty"),
    ("POST", "/v1/nodes", Some("latest"), Some("[{\"driver\": \"fake-hardware\"}]"), J, 400, "is not of type 'object'"),
    ("POST", "/v1/nodes", Some("latest"), Some("{}"), J, 400, "Schema error for node: 'driver' is a required property"),
    ("POST", "/v1/nodes", Some("latest"), Some("{\"driver\": \"nope\"}"), J, 400, "No valid host was found. Reason: No conductor service registered which supports driver nope for conductor group \"\"."),
    ("POST", "/v1/nodes", Some("latest"), Some("{\"driver\": \"fake-hardware\", \"foo\": 1}"), J, 400, "Additional properties are not allowed ('foo' was unexpected)"),
    ("POST", "/v1/nodes", Some("latest"), Some("{\"driver\": \"fake-hardware\", \"provision_state\": \"active\"}"), J, 400, "('provision_state' was unexpected)"),
    ("POST", "/v1/nodes", Some("latest"), Some("{\"driver\": \"fake-hardware\", \"uuid\": \"not-a-uuid\"}"), J, 400, "Expected UUID for uuid: not-a-uuid"),
    ("POST", "/v1/nodes", Some("latest"), Some("{\"driver\": \"fake-hardware\", \"name\": \"has space\"}"), J, 400, "Cannot create node with invalid name 'has space'"),
    ("POST", "/v1/nodes", Some("latest"), Some("{\"driver\": \"fake-hardware\", \"name\": \"7f1a6f3e-2b9c-4d3e-8f1a-0123456789ab\"}"), J, 400, "Cannot create node with invalid name"),
    ("POST", "/v1/nodes", Some("latest"), Some("{\"driver\": \"fake-hardware\", \"driver_info\": \"str\"}"), J, 400, "Schema error for node: '******' is not of type 'object', 'null'"),
    ("POST", "/v1/nodes", Some("latest"), Some("{\"driver\": \"fake-hardware\", \"maintenance\": 5}"), J, 400, "5 is not of type 'string', 'boolean'"),
    ("POST", "/v1/nodes", Some("latest"), Some("{\"driver\": \"fake-hardware\", \"maintenance\": \"perhaps\"}"), J, 400, "Invalid maintenance"),
    ("POST", "/v1/nodes", Some("latest"), Some("{\"driver\": 7}"), J, 400, "7 is not of type 'string'"),
    ("POST", "/v1/nodes", Some("latest"), Some("{\"driver\": \"fake-hardware\", \"power_interface\": \"bogus\"}"), J, 400, "'ironic.hardware.interfaces.power' entrypoint: bogus. Valid interfaces are ['fake', 'ipmitool', 'redfish', 'idrac-redfish']."),
    ("POST", "/v1/nodes", Some("latest"), Some("{\"driver\": \"fake-hardware\", \"resource_class\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}"), J, 400, "is too long"),
    ("POST", "/v1/nodes", Some("latest"), Some("{\"driver\": \"fake-hardware\", \"conductor_group\": \"bad group!\"}"), J, 400, "does not match"),
    ("POST", "/v1/nodes", Some("latest"), Some("{\"driver\": \"fake-hardware\", \"conductor_group\": \"other\"}"), J, 400, "No valid host was found"),
    ("POST", "/v1/nodes", Some("1.49"), Some("{\"driver\": \"fake-hardware\", \"owner\": \"x\"}"), J, 406, "Request not acceptable."),
    ("POST", "/v1/nodes", Some("1.4"), Some("{\"driver\": \"fake-hardware\", \"name\": \"x\"}"), J, 406, "Request not acceptable."),
    ("POST", "/v1/nodes", Some("latest"), Some("{\"driver\": \"fake-hardware\"}"), "text/plain", 415, "must be application/json"),
    ("POST", "/v1/nodes", Some("latest"), Some("{\"driver\": \"fake-hardware\", \"instance_uuid\": 12}"), J, 400, "is not of type 'string', 'null'"),
    // Node patch bodies
    ("PATCH", "/v1/nodes/11111111-2222-3333-4444-555555555555", Some("latest"), Some("{\"op\": \"replace\", \"path\": \"/name\", \"value\": \"x\"}"), J, 400, "Schema error for patch"),
    ("PATCH", "/v1/nodes/11111111-2222-3333-4444-555555555555", Some("latest"), Some("[{\"op\": \"frob\", \"path\": \"/name\"}]"), J, 400, "'frob' is not one of ['add', 'replace', 'remove']"),
    ("PATCH", "/v1/nodes/11111111-2222-3333-4444-555555555555", Some("latest"), Some("[{\"op\": \"move\", \"path\": \"/name\", \"from\": \"/extra\"}]"), J, 400, "('from' was unexpected)"),
    ("PATCH", "/v1/nodes/11111111-2222-3333-4444-555555555555", Some("latest"), Some("[{\"op\": \"replace\", \"path\": \"/name\"}]"), J, 400, "'value' is a required property"),
    ("PATCH", "/v1/nodes/11111111-2222-3333-4444-555555555555", Some("latest"), Some("[{\"op\": \"replace\", \"path\": \"/uuid\", \"value\": \"x\"}]"), J, 400, "Cannot patch /uuid. Only the following can be updated:"),
    ("PATCH", "/v1/nodes/11111111-2222-3333-4444-555555555555", Some("latest"), Some("[{\"op\": \"replace\", \"path\": \"/provision_state\", \"value\": \"active\"}]"), J, 400, "Cannot patch /provision_state"),
    ("PATCH", "/v1/nodes/11111111-2222-3333-4444-555555555555", Some("latest"), Some("[{\"op\": \"add\", \"path\": \"/traits\", \"value\": []}]"), J, 400, "Cannot patch /traits"),
    ("PATCH", "/v1/nodes/11111111-2222-3333-4444-555555555555", Some("latest"), Some("[{\"op\": \"remove\", \"path\": \"/extra/foo\"}]"), J, 400, "Couldn't apply patch"),
    ("PATCH", "/v1/nodes/11111111-2222-3333-4444-555555555555", Some("latest"), Some("[{\"op\": \"replace\", \"path\": \"/maintenance\", \"value\": 3}]"), J, 400, "3 is not of type 'string', 'boolean'"),
    ("PATCH", "/v1/nodes/11111111-2222-3333-4444-555555555555", Some("latest"), Some("[{\"op\": \"replace\", \"path\": \"/driver\", \"value\": \"bogus\"}]"), J, 400, "No valid host was found"),
    ("PATCH", "/v1/nodes/11111111-2222-3333-4444-555555555555", Some("latest"), Some("[{\"op\": \"replace\", \"path\": \"/name\", \"value\": \"bad name\"}]"), J, 400, "Cannot update node with invalid name 'bad name'"),
    ("PATCH", "/v1/nodes/11111111-2222-3333-4444-555555555555", Some("1.49"), Some("[{\"op\": \"replace\", \"path\": \"/owner\", \"value\": \"x\"}]"), J, 406, "Request not acceptable."),
    ("PATCH", "/v1/nodes/11111111-2222-3333-4444-555555555555", Some("latest"), Some("[{\"op\": \"replace\", \"path\": \"/extra\", \"value\": []}]"), J, 400, "is not of type 'object', 'null'"),
    ("PATCH", "/v1/nodes/11111111-2222-3333-4444-555555555555?reset_interfaces=true", Some("latest"), Some("[]"), J, 400, "reset_interfaces parameter can only be used"),
    ("PATCH", "/v1/nodes/11111111-2222-3333-4444-555555555555?reset_interfaces=true", Some("1.44"), Some("[]"), J, 406, "Request not acceptable."),
    // Traits, maintenance
    ("PUT", "/v1/nodes/11111111-2222-3333-4444-555555555555/traits/bad-trait", Some("latest"), None, J, 400, "does not match '^CUSTOM_[A-Z0-9_]+$'"),
    ("PUT", "/v1/nodes/11111111-2222-3333-4444-555555555555/traits", Some("latest"), Some("{\"traits\": [\"lower\"]}"), J, 400, "Schema error for body: 'lower' is not valid"),
    ("PUT", "/v1/nodes/11111111-2222-3333-4444-555555555555/traits", Some("latest"), Some("{\"traits\": \"CUSTOM_A\"}"), J, 400, "is not of type 'array'"),
    ("PUT", "/v1/nodes/11111111-2222-3333-4444-555555555555/traits", Some("latest"), Some("{\"trait\": []}"), J, 400, "('trait' was unexpected)"),
    ("PUT", "/v1/nodes/11111111-2222-3333-4444-555555555555/maintenance", Some("latest"), Some("{\"reason\": 5}"), J, 400, "is not of type 'string', 'null'"),
    ("PUT", "/v1/nodes/11111111-2222-3333-4444-555555555555/maintenance", Some("latest"), Some("{\"why\": \"x\"}"), J, 400, "Unknown argument: \"why\""),
    // Ports, portgroups, chassis
    ("POST", "/v1/ports", Some("latest"), Some("{\"address\": \"zz:zz\", \"node_uuid\": \"11111111-2222-3333-4444-555555555555\"}"), J, 400, "Expected valid MAC address for address: zz:zz"),
    ("POST", "/v1/ports", Some("latest"), Some("{\"address\": \"52-54-00-AB-CD-01\", \"node_uuid\": \"11111111-2222-3333-4444-555555555555\"}"), J, 400, "Expected valid MAC address"),
    ("POST", "/v1/ports", Some("latest"), Some("{\"address\": \"52:54:00:00:00:09\"}"), J, 400, "'node_ident' is a required property"),
    ("POST", "/v1/ports", Some("latest"), Some("{\"node_uuid\": \"11111111-2222-3333-4444-555555555555\"}"), J, 400, "Schema error for port: 'address' is a required property"),
    ("POST", "/v1/ports", Some("latest"), Some("{\"address\": \"52:54:00:00:00:09\", \"node_uuid\": \"11111111-0000-0000-0000-000000000000\"}"), J, 400, "Node 11111111-0000-0000-0000-000000000000 could not be found."),
    ("POST", "/v1/ports", Some("latest"), Some("{\"address\": \"52:54:00:00:00:09\", \"node_uuid\": \"11111111-2222-3333-4444-555555555555\", \"local_link_connection\": {\"foo\": 1}}"), J, 400, "('foo' was unexpected)"),
    ("POST", "/v1/ports", Some("latest"), Some("{\"address\": \"52:54:00:00:00:09\", \"node_uuid\": \"11111111-2222-3333-4444-555555555555\", \"pxe_enabled\": \"perhaps\"}"), J, 400, "Invalid pxe_enabled: Unrecognized value 'perhaps'"),
    ("POST", "/v1/ports", Some("1.33"), Some("{\"address\": \"52:54:00:00:00:09\", \"node_uuid\": \"11111111-2222-3333-4444-555555555555\", \"physical_network\": \"p\"}"), J, 406, "Request not acceptable."),
    ("POST", "/v1/portgroups", Some("1.22"), Some("{\"node_uuid\": \"11111111-2222-3333-4444-555555555555\"}"), J, 404, "The API is not supported for this version"),
    ("POST", "/v1/portgroups", Some("latest"), Some("{\"node_uuid\": \"11111111-2222-3333-4444-555555555555\", \"mode\": \"weird\"}"), J, 400, "Invalid portgroup mode weird"),
    ("POST", "/v1/portgroups", Some("latest"), Some("{\"name\": \"pg\"}"), J, 400, "'node_uuid' is a required property"),
    ("POST", "/v1/chassis", Some("latest"), Some("{\"description\": \"c\", \"foo\": 1}"), J, 400, "Schema error for chassis: Additional properties are not allowed ('foo' was unexpected)"),
    ("POST", "/v1/chassis", Some("latest"), Some("{\"description\": 12}"), J, 400, "is not of type 'string', 'null'"),
    ("GET", "/v1/drivers/nonexistent", Some("latest"), None, J, 404, "Could not find the following driver(s) or hardware type(s): nonexistent."),
    ("GET", "/v1/drivers?type=weird", Some("latest"), None, J, 400, "Invalid type: weird"),
    ("GET", "/v1/conductors/nope", Some("latest"), None, J, 404, "Conductor nope could not be found."),
    ("GET", "/v1/conductors?sort_key=alive", Some("latest"), None, J, 400, "invalid field for sorting"),
];

#[test]
fn malformed_requests_get_ironic_errors() {
    let ib = Ironbox::start();
    ib.node(serde_json::json!({"uuid": N}));
    assert!(CASES.len() >= 50);
    let mut failures = vec![];
    for (method, path, version, body, ctype, status, text) in CASES {
        let r = ib.req_h(method, path, *version, *body, &[("Content-Type", ctype)]);
        let shaped = r.status < 300
            || r.body
                .get("error_message")
                .and_then(Value::as_str)
                .is_some();
        if r.status != *status || !shaped || (!text.is_empty() && !r.fault().contains(text)) {
            failures.push(format!(
                "{method} {path} {body:?}: got {} {}",
                r.status, r.body
            ));
        }
        // Every response, error or not, carries the version headers.
        if r.header("x-openstack-ironic-api-maximum-version").is_none() {
            failures.push(format!("{method} {path}: no version headers"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
    // The server is still healthy and the node untouched.
    let n = ib.get(&format!("/v1/nodes/{N}"));
    assert_eq!(n.status, 200);
    assert_eq!(n.body["extra"], serde_json::json!({}));
}

#[test]
fn oversized_and_deep_bodies() {
    let ib = Ironbox::start();
    let big = format!(
        "{{\"driver\": \"fake-hardware\", \"extra\": {{\"blob\": \"{}\"}}}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let r = ib.req("POST", "/v1/nodes", Some("latest"), Some(&big));
    assert_eq!(r.status, 413);
    assert!(r.fault().contains("Request body is too large"));
    let deep = format!(
        "{{\"driver\": \"fake-hardware\", \"extra\": {}1{}}}",
        "{\"a\": ".repeat(40),
        "}".repeat(40)
    );
    let r = ib.req("POST", "/v1/nodes", Some("latest"), Some(&deep));
    assert_eq!(r.status, 400);
    assert!(
        r.fault().contains("nested more than 25 levels"),
        "{}",
        r.fault()
    );
    assert_eq!(
        ib.get("/v1/nodes").body["nodes"].as_array().unwrap().len(),
        0,
        "nothing was created"
    );
}
