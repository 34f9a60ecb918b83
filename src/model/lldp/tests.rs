//! Table tests of the LLDP parser: a switch's full LLDPDU, each TLV kind, and truncated or
//! garbage input (which must add nothing and never panic).

use super::*;

/// One TLV on the wire: 7-bit type, 9-bit length, value.
fn wire(kind: u8, value: &[u8]) -> Vec<u8> {
    let header = (u16::from(kind) << 9) | (value.len() as u16);
    let mut out = header.to_be_bytes().to_vec();
    out.extend_from_slice(value);
    out
}

fn org(oui: [u8; 3], subtype: u8, rest: &[u8]) -> Vec<u8> {
    let mut v = oui.to_vec();
    v.push(subtype);
    v.extend_from_slice(rest);
    v
}

/// What a typical top-of-rack switch sends.
fn switch_pdu() -> Vec<u8> {
    let mut pdu = vec![];
    pdu.extend(wire(1, &[4, 0x00, 0x1c, 0x73, 0xaa, 0xbb, 0xcc]));
    pdu.extend(wire(2, b"\x05Ethernet1/7"));
    pdu.extend(wire(3, &[0, 120]));
    pdu.extend(wire(4, b"to rack-3 node-7"));
    pdu.extend(wire(5, b"tor-3.example"));
    pdu.extend(wire(6, b"Arista Networks EOS version 4.30"));
    // supported: bridge + router (0x0014), enabled: bridge (0x0004)
    pdu.extend(wire(7, &[0x00, 0x14, 0x00, 0x04]));
    // management address: length 5, IPv4 192.0.2.3, then interface numbering
    pdu.extend(wire(8, &[5, 1, 192, 0, 2, 3, 2, 0, 0, 0, 1, 0]));
    pdu.extend(wire(127, &org(OUI_802_1, 1, &[0x00, 0x66])));
    pdu.extend(wire(127, &org(OUI_802_1, 3, b"\x00\x65\x07vlan101")));
    pdu.extend(wire(127, &org(OUI_802_1, 3, b"\x00\x66\x07vlan102")));
    pdu.extend(wire(127, &org(OUI_802_1, 7, &[0x03, 0, 0, 0, 9])));
    // MAC/PHY: autoneg supported+enabled, 1000BASE-T fdx + 100BASE-TX fdx, MAU 30
    pdu.extend(wire(127, &org(OUI_802_3, 1, &[0x03, 0x04, 0x01, 0x00, 30])));
    pdu.extend(wire(127, &org(OUI_802_3, 4, &[0x23, 0x00])));
    pdu.extend(wire(0, &[]));
    pdu
}

#[test]
fn a_switch_pdu_gives_ironics_names() {
    let tlvs = split_lldpdu(&switch_pdu());
    assert_eq!(tlvs.len(), 15);
    assert_eq!(tlvs.last(), Some(&(TLV_END, vec![])));
    let p = parse_tlvs(&tlvs);
    let expected = json!({
        "switch_chassis_id": "00:1c:73:aa:bb:cc",
        "switch_port_id": "Ethernet1/7",
        "switch_port_description": "to rack-3 node-7",
        "switch_system_name": "tor-3.example",
        "switch_system_description": "Arista Networks EOS version 4.30",
        "switch_capabilities_support": ["Bridge", "Router"],
        "switch_capabilities_enabled": ["Bridge"],
        "switch_mgmt_addresses": ["192.0.2.3"],
        "switch_port_untagged_vlan_id": 102,
        "switch_port_vlans": [{"id": 101, "name": "vlan101"}, {"id": 102, "name": "vlan102"}],
        "switch_port_link_aggregation_enabled": true,
        "switch_port_link_aggregation_support": true,
        "switch_port_link_aggregation_id": 9,
        "switch_port_autonegotiation_enabled": true,
        "switch_port_autonegotiation_support": true,
        "switch_port_physical_capabilities": ["1000BASE-T fdx", "100BASE-TX fdx"],
        "switch_port_mau_type": "1000BASE-T full duplex",
        "switch_port_mtu": 8960,
    });
    assert_eq!(p.to_json(), expected);
    let llc = Value::Object(p.local_link_connection());
    assert_eq!(
        llc,
        json!({"switch_id": "00:1c:73:aa:bb:cc", "port_id": "Ethernet1/7"})
    );
}

#[test]
fn ipa_json_round_trip() {
    let tlvs = split_lldpdu(&switch_pdu());
    let as_json = tlvs_to_json(&tlvs);
    assert_eq!(as_json[0], json!([1, "04001c73aabbcc"]));
    assert_eq!(tlvs_from_json(&as_json), tlvs);
    assert_eq!(parse_json(&as_json), parse_tlvs(&tlvs));
    // Upper-case hex, as some tools write it, is hex too.
    assert_eq!(
        tlvs_from_json(&json!([[5, "4142"], [5, "4a4B"]])),
        vec![(5, b"AB".to_vec()), (5, b"JK".to_vec())]
    );
}

#[test]
fn chassis_and_port_id_subtypes() {
    let cases: &[(&[u8], Option<&str>, bool)] = &[
        (b"\x01chassis-alias", Some("chassis-alias"), false),
        (b"\x02if-alias", Some("if-alias"), false),
        (b"\x03port-alias", Some("port-alias"), false),
        (&[4, 1, 2, 3, 4, 5, 6], Some("01:02:03:04:05:06"), true),
        (&[5, 1, 10, 0, 0, 1], Some("10.0.0.1"), false),
        (
            &[
                5, 2, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
            ],
            Some("2001:db8::1"),
            false,
        ),
        (
            &[5, 6, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff],
            Some("aa:bb:cc:dd:ee:ff"),
            false,
        ),
        (b"\x06ifname0", Some("ifname0"), false),
        (b"\x07local", Some("local"), false),
        // reserved subtypes, short addresses, unknown family, bad UTF-8
        (b"\x00zero", None, false),
        (b"\x08eight", None, false),
        (&[4, 1, 2, 3, 4, 5], None, false),
        (&[5, 1, 10, 0, 0], None, false),
        (&[5, 9, 10, 0, 0, 1], None, false),
        (&[7, 0xff, 0xfe], None, false),
        (&[], None, false),
    ];
    for (data, want, is_switch_id) in cases {
        let p = parse_tlvs(&[(TLV_CHASSIS_ID, data.to_vec())]);
        assert_eq!(
            p.fields().get("switch_chassis_id").and_then(Value::as_str),
            *want,
            "chassis {data:?}"
        );
        let llc = p.local_link_connection();
        assert_eq!(llc.contains_key("switch_id"), *is_switch_id, "{data:?}");
    }
    let ports: &[(&[u8], Option<&str>)] = &[
        (b"\x01alias", Some("alias")),
        (b"\x02ent", Some("ent")),
        (&[3, 1, 2, 3, 4, 5, 6], Some("01:02:03:04:05:06")),
        (&[4, 1, 192, 0, 2, 1], Some("192.0.2.1")),
        (b"\x05swp1", Some("swp1")),
        (b"\x06circuit", None),
        (b"\x07local-7", Some("local-7")),
        (&[3, 1, 2], None),
        (&[1, 0xc3, 0x28], None),
    ];
    for (data, want) in ports {
        let p = parse_tlvs(&[(TLV_PORT_ID, data.to_vec())]);
        assert_eq!(
            p.fields().get("switch_port_id").and_then(Value::as_str),
            *want,
            "port {data:?}"
        );
        let llc = p.local_link_connection();
        assert_eq!(llc.get("port_id").and_then(Value::as_str), *want);
    }
}

#[test]
fn first_value_wins_and_lists_append() {
    let p = parse_tlvs(&[
        (TLV_SYSTEM_NAME, b"first".to_vec()),
        (TLV_SYSTEM_NAME, b"second".to_vec()),
        (TLV_MANAGEMENT_ADDRESS, vec![5, 1, 10, 0, 0, 1]),
        (TLV_MANAGEMENT_ADDRESS, vec![7, 6, 1, 2, 3, 4, 5, 6]),
        (TLV_MANAGEMENT_ADDRESS, vec![2, 9, 1]),
        (TLV_ORG_SPECIFIC, org(OUI_802_1, 2, &[0x06, 0x00, 0x0a])),
        (TLV_ORG_SPECIFIC, org(OUI_802_1, 2, &[0x00, 0x00, 0x0b])),
        (TLV_ORG_SPECIFIC, org(OUI_802_1, 4, &[2, 0x88, 0x8e])),
        (TLV_ORG_SPECIFIC, org(OUI_802_1, 6, &[0x00, 0x05])),
    ]);
    assert_eq!(
        p.to_json(),
        json!({
            "switch_system_name": "first",
            "switch_mgmt_addresses": ["10.0.0.1", "01:02:03:04:05:06"],
            "switch_port_protocol_vlan_enabled": true,
            "switch_port_protocol_vlan_support": true,
            "switch_port_protocol_vlan_ids": [10, 11],
            "switch_protocol_identities": ["888e"],
            "switch_port_management_vlan_id": 5,
        })
    );
}

#[test]
fn the_link_follows_the_first_chassis_and_port_id() {
    let p = parse_tlvs(&[
        (TLV_CHASSIS_ID, b"\x07sw-local".to_vec()),
        (TLV_CHASSIS_ID, vec![4, 1, 2, 3, 4, 5, 6]),
        (TLV_PORT_ID, vec![5]),
        (TLV_PORT_ID, b"\x05swp1".to_vec()),
    ]);
    assert_eq!(p.fields()["switch_chassis_id"], "sw-local");
    assert_eq!(p.fields()["switch_port_id"], "");
    // not a MAC chassis ID, and an empty port ID: nothing to link
    assert!(p.local_link_connection().is_empty());
}

#[test]
fn vlan_names_are_padded_strings() {
    let p = parse_tlvs(&[
        (
            TLV_ORG_SPECIFIC,
            org(OUI_802_1, 3, b"\x00\x0a\x06ten\x00\x00\x00"),
        ),
        // length past the end: dropped
        (TLV_ORG_SPECIFIC, org(OUI_802_1, 3, b"\x00\x0b\x09short")),
        (TLV_ORG_SPECIFIC, org(OUI_802_1, 3, b"\x00\x0c\x00")),
    ]);
    assert_eq!(
        p.fields()["switch_port_vlans"],
        json!([{"id": 10, "name": "ten"}, {"id": 12, "name": ""}])
    );
}

#[test]
fn fixed_length_tlvs_with_the_wrong_length_add_nothing() {
    let bad: Vec<Tlv> = vec![
        (TLV_SYSTEM_CAPABILITIES, vec![0, 4, 0]),
        (TLV_SYSTEM_CAPABILITIES, vec![0, 4, 0, 4, 0]),
        (TLV_ORG_SPECIFIC, org(OUI_802_1, 1, &[0x01])),
        (TLV_ORG_SPECIFIC, org(OUI_802_1, 2, &[0x06, 0x00])),
        (TLV_ORG_SPECIFIC, org(OUI_802_1, 7, &[3, 0, 0, 0])),
        (TLV_ORG_SPECIFIC, org(OUI_802_3, 1, &[3, 0, 1, 0, 30, 0])),
        // MAU type past the table makes the whole MAC/PHY TLV invalid
        (TLV_ORG_SPECIFIC, org(OUI_802_3, 1, &[3, 0, 1, 0, 54])),
        (TLV_ORG_SPECIFIC, org(OUI_802_3, 3, &[3, 0, 0, 0])),
        (TLV_ORG_SPECIFIC, org(OUI_802_3, 4, &[0x05])),
        (TLV_ORG_SPECIFIC, org([0x00, 0x01, 0x02], 1, &[0x00, 0x05])),
        (TLV_ORG_SPECIFIC, vec![0x00, 0x80, 0xc2]),
        (TLV_ORG_SPECIFIC, org(OUI_802_1, 4, &[5, 1])),
        (TLV_MANAGEMENT_ADDRESS, vec![]),
        (TLV_PORT_DESCRIPTION, vec![0xff]),
        (42, b"unknown type".to_vec()),
    ];
    for tlv in &bad {
        let p = parse_tlvs(std::slice::from_ref(tlv));
        assert!(p.is_empty(), "{tlv:?} gave {:?}", p.to_json());
    }
    // 802.3 link aggregation reads as the 802.1 one
    let p = parse_tlvs(&[(TLV_ORG_SPECIFIC, org(OUI_802_3, 3, &[0x01, 0, 0, 1, 0]))]);
    assert_eq!(p.fields()["switch_port_link_aggregation_enabled"], false);
    assert_eq!(p.fields()["switch_port_link_aggregation_support"], true);
    assert_eq!(p.fields()["switch_port_link_aggregation_id"], 256);
}

#[test]
fn split_stops_at_end_and_survives_truncation() {
    let mut pdu = wire(5, b"name");
    pdu.extend(wire(0, &[]));
    pdu.extend(wire(5, b"after end"));
    assert_eq!(split_lldpdu(&pdu), vec![(5, b"name".to_vec()), (0, vec![])]);
    // header says 10 bytes, 3 present: keep the 3 (as IPA's slice does)
    assert_eq!(
        split_lldpdu(&[0x0a, 0x0a, b'a', b'b', b'c']),
        vec![(5, b"abc".to_vec())]
    );
    assert_eq!(split_lldpdu(&[0x0a]), vec![]);
    assert_eq!(split_lldpdu(&[]), vec![]);
    // every prefix of a real PDU splits and parses without panicking
    let full = switch_pdu();
    for n in 0..=full.len() {
        let part = full.get(..n).unwrap_or_default();
        let _ = parse_tlvs(&split_lldpdu(part));
    }
}

#[test]
fn bad_json_is_dropped_entry_by_entry() {
    let cases = json!([
        [1, "04001c73aabbcc"],
        [2, "0"],          // odd length
        [2, "zz"],         // not hex
        [2, "+1"],         // sign is not a digit
        [128, "00"],       // type past 7 bits
        [-1, "00"],
        ["2", "0541"],
        [2],
        [2, "05", "extra"],
        {"type": 2},
        null,
        [2, "0541"],
    ]);
    assert_eq!(
        tlvs_from_json(&cases),
        vec![
            (1, vec![4, 0x00, 0x1c, 0x73, 0xaa, 0xbb, 0xcc]),
            (2, vec![5, b'A'])
        ]
    );
    assert_eq!(tlvs_from_json(&json!({"a": 1})), vec![]);
    assert_eq!(tlvs_from_json(&json!("0102")), vec![]);
    // a value longer than 511 bytes cannot come off the wire
    let long = "41".repeat(MAX_TLV_LEN + 1);
    assert_eq!(tlvs_from_json(&json!([[5, long]])), vec![]);
    // a flood is capped
    let many: Vec<Value> = (0..5000).map(|_| json!([5, "41"])).collect();
    assert_eq!(tlvs_from_json(&Value::Array(many)).len(), MAX_TLVS);
}

#[test]
fn garbage_bytes_never_panic() {
    // A small deterministic generator: every TLV kind with every short length and pattern.
    let mut seed: u32 = 0x1234_5678;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    for kind in [0u8, 1, 2, 3, 4, 5, 6, 7, 8, 127, 126] {
        for len in 0..40usize {
            for _ in 0..20 {
                let mut data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                if kind == 127 && len >= 3 && next() % 2 == 0 {
                    let oui = if next() % 2 == 0 {
                        OUI_802_1
                    } else {
                        OUI_802_3
                    };
                    data.splice(0..3, oui);
                    if let Some(sub) = data.get_mut(3) {
                        *sub %= 8;
                    }
                }
                let p = parse_tlvs(&[(kind, data.clone())]);
                let _ = p.local_link_connection();
                let _ = split_lldpdu(&data);
            }
        }
    }
}

#[test]
fn ironics_choice_between_lldp_raw_and_the_interface() {
    let iface = json!({"name": "eth0", "lldp": [[5, "6966"]]});
    let raw = json!({"lldp_raw": {"eth0": [[5, "7261"]], "eth1": []}});
    assert_eq!(interface_tlvs(&raw, &iface), Some(&json!([[5, "7261"]])));
    // an empty lldp_raw entry falls through to the interface (Python's `or`)
    let eth1 = json!({"name": "eth1", "lldp": [[5, "6966"]]});
    assert_eq!(interface_tlvs(&raw, &eth1), Some(&json!([[5, "6966"]])));
    // an interface that heard nothing keeps its empty list; null means no data at all
    let quiet = json!({"name": "eth2", "lldp": []});
    assert_eq!(interface_tlvs(&json!({}), &quiet), Some(&json!([])));
    let none = json!({"name": "eth3", "lldp": null});
    assert_eq!(interface_tlvs(&json!({}), &none), None);
    assert_eq!(interface_tlvs(&raw, &json!({"lldp": []})), None, "no name");
    assert_eq!(
        parse_json(interface_tlvs(&raw, &iface).unwrap()).fields()["switch_system_name"],
        "ra"
    );
}
