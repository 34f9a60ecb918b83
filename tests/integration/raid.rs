//! `PUT /v1/nodes/{id}/states/raid` (1.12): the target RAID configuration checked against
//! Ironic's RAID schema with jsonschema's messages, nothing stored when refused, `{}`
//! clearing it.

use serde_json::json;

use crate::harness::Ironbox;

#[test]
fn target_raid_config_is_checked_as_ironic_checks_it() {
    let ib = Ironbox::start();
    let u = ib.node(json!({"raid_interface": "fake"}))["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v1/nodes/{u}/states/raid");
    let good = json!({"logical_disks": [
        {"size_gb": "MAX", "raid_level": "1", "is_root_volume": true,
         "controller": "software", "physical_disks": [{"size": ">= 10"}, {"size": ">= 10"}]}]});
    assert_eq!(ib.put(&path, good.clone()).status, 204);
    for (bad, want) in [
        (json!({"logical_disks": []}), "[] should be non-empty"),
        (
            json!({"logical_disks": [{"raid_level": "1"}]}),
            "'size_gb' is a required property",
        ),
        (
            json!({"logical_disks": [{"raid_level": "10", "size_gb": 5}]}),
            "'10' is not one of",
        ),
        (
            json!({"logical_disks": [{"raid_level": "1", "size_gb": 5, "x": 1}]}),
            "Additional properties are not allowed ('x' was unexpected)",
        ),
        (
            json!({"logical_disks": [{"raid_level": "1", "size_gb": 5, "physical_disks": ["sda"]}]}),
            "'controller' is a dependency of 'physical_disks'",
        ),
        (
            json!({"logical_disks": [{"raid_level": "1", "size_gb": 5, "is_root_volume": true},
                                  {"raid_level": "0", "size_gb": 5, "is_root_volume": true}]}),
            "Raid config cannot have more than one root volume. 2 root volumes were specified",
        ),
        (json!(["not", "an", "object"]), ""),
    ] {
        let r = ib.put(&path, bad.clone());
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert!(r.fault().contains(want), "{bad}: {}", r.fault());
        let n = ib.get(&format!("/v1/nodes/{u}")).body;
        assert_eq!(n["target_raid_config"], good, "nothing stored for {bad}");
    }
    let r = ib.req("PUT", &path, Some("1.11"), Some(&good.to_string()));
    assert_eq!(r.status, 406, "{}", r.body);
    // An empty configuration clears the target.
    assert_eq!(ib.put(&path, json!({})).status, 204);
    let n = ib.get(&format!("/v1/nodes/{u}")).body;
    assert_eq!(n["target_raid_config"], json!({}));
    // A node without RAID support is refused whatever it sends.
    let plain = ib.node(json!({"raid_interface": "no-raid"}))["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let r = ib.put(&format!("/v1/nodes/{plain}/states/raid"), good);
    assert!(r.status >= 400 && r.status < 500, "{}", r.body);
}

#[test]
fn logical_disk_properties_are_ironics() {
    let ib = Ironbox::start();
    let p = ib.get("/v1/drivers/fake-hardware/raid/logical_disk_properties");
    assert_eq!(p.status, 200, "{}", p.body);
    // Ironic 39's keys, each with its description (from its RAID schema).
    let keys: Vec<&str> = p
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = vec![
        "controller",
        "disk_type",
        "interface_type",
        "is_root_volume",
        "number_of_physical_disks",
        "physical_disks",
        "raid_level",
        "share_physical_disks",
        "size_gb",
        "volume_name",
    ];
    want.sort_unstable();
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(keys, want);
    assert_eq!(
        p.body["raid_level"],
        "RAID level for the logical disk. Valid values are 'JBOD', '0', '1', '2', '5', '6', '1+0', '5+0' and '6+0'. Required."
    );
    // Every driver answers, no-raid ones too (Ironic's NoRAID has the same schema).
    let r = ib.get("/v1/drivers/ipmi/raid/logical_disk_properties");
    assert_eq!((r.status, &r.body), (200, &p.body));
    let r = ib.req(
        "GET",
        "/v1/drivers/fake-hardware/raid/logical_disk_properties",
        Some("1.11"),
        None,
    );
    assert_eq!(r.status, 406, "{}", r.body);
    let r = ib.get("/v1/drivers/nope/raid/logical_disk_properties");
    assert_eq!(r.status, 404, "{}", r.body);
}
