//! Tests of the config drive: built from JSON and read back as ISO9660/Rock Ridge/Joliet.

use super::*;
use iso9660_forensic::IsoReader;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Cursor;

fn sample() -> Value {
    json!({
        "meta_data": {"uuid": "1be26c0b-03f2-4d2e-ae87-c02d7f33c123", "hostname": "node-1",
                      "public_keys": {"0": "ssh-ed25519 AAAA test"}},
        "user_data": "#cloud-config\nhostname: node-1\n",
        "network_data": {"links": [], "networks": [], "services": []},
        "vendor_data": {"static": {"x": 1}}
    })
}

/// Every file of the image by its Rock Ridge path, as an independent reader sees it.
fn files_of(iso: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut r = IsoReader::open(Cursor::new(iso.to_vec())).expect("opens as ISO9660");
    assert!(r.has_rock_ridge() && r.has_joliet());
    assert_eq!(r.volume_label(), LABEL);
    let mut out = BTreeMap::new();
    for e in r.walk().expect("walk") {
        if !e.record.is_dir() {
            let data = r.read_file_entry(&e.record).expect("read");
            out.insert(e.path, data);
        }
    }
    out
}

#[test]
fn builds_the_layout_ironic_builds() {
    let iso = build(&sample()).expect("build");
    let files = files_of(&iso);
    let mut want = BTreeMap::new();
    for v in VERSIONS {
        want.insert(
            format!("openstack/{v}/meta_data.json"),
            sample()["meta_data"].to_string().into_bytes(),
        );
        want.insert(
            format!("openstack/{v}/user_data"),
            b"#cloud-config\nhostname: node-1\n".to_vec(),
        );
        want.insert(
            format!("openstack/{v}/network_data.json"),
            sample()["network_data"].to_string().into_bytes(),
        );
        want.insert(
            format!("openstack/{v}/vendor_data2.json"),
            sample()["vendor_data"].to_string().into_bytes(),
        );
    }
    assert_eq!(files, want);
    // Joliet names carry the same tree for Windows.
    let mut r = IsoReader::open(Cursor::new(iso.clone())).expect("open");
    let joliet: Vec<String> = r
        .walk_joliet()
        .expect("joliet")
        .iter()
        .map(|e| e.record.joliet_name())
        .collect();
    assert!(
        joliet.contains(&"meta_data.json;1".to_string()),
        "{joliet:?}"
    );
    assert!(joliet.contains(&"2012-08-10".to_string()), "{joliet:?}");
    let audit = iso9660_forensic::analyse(&mut Cursor::new(iso.clone())).expect("analyse");
    assert!(audit.anomalies.is_empty(), "{:?}", audit.anomalies);
    assert!(r.audit_both_endian().expect("audit").is_empty());
}

#[test]
fn blkid_sees_a_config_2_iso() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cd.iso");
    std::fs::write(
        &path,
        build(&json!({"meta_data": {"uuid": "u"}})).expect("build"),
    )
    .expect("write");
    let out = std::process::Command::new("blkid")
        .args(["-p", "-o", "export"])
        .arg(&path)
        .output()
        .expect("blkid runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("TYPE=iso9660"), "{text}");
    assert!(text.lines().any(|l| l == "LABEL=config-2"), "{text}");
}

#[test]
fn user_data_forms_and_bad_input() {
    let iso = build(&json!({"user_data": {"a": [1, 2]}})).expect("build");
    let files = files_of(&iso);
    assert_eq!(files["openstack/latest/user_data"], br#"{"a":[1,2]}"#);
    assert_eq!(files["openstack/latest/meta_data.json"], b"{}");
    assert!(!files.contains_key("openstack/latest/network_data.json"));
    for bad in [
        json!("text"),
        json!({"meta_data": "x"}),
        json!({"user_data": 5}),
        json!({"extra": {}}),
    ] {
        assert!(
            matches!(build(&bad), Err(ImageError::ConfigDrive(_))),
            "{bad}"
        );
    }
    let big = "x".repeat(MAX_SIZE);
    assert!(matches!(
        build(&json!({"user_data": big})),
        Err(ImageError::TooBig { .. })
    ));
}

#[test]
fn encode_decode_round_trip() {
    let iso = build(&sample()).expect("build");
    let enc = encode(&iso);
    assert_eq!(decode(&enc).expect("decode"), iso);
    // Line-wrapped and plain (not gzipped) base64 are accepted too.
    let wrapped: String = enc
        .as_bytes()
        .chunks(76)
        .map(|c| format!("{}\n", String::from_utf8_lossy(c)))
        .collect();
    assert_eq!(decode(&wrapped).expect("decode"), iso);
    let plain = base64::engine::general_purpose::STANDARD.encode(&iso);
    assert_eq!(decode(&plain).expect("decode"), iso);
    for garbage in ["not base64!", "aGVsbG8gd29ybGQ=", &encode(b"hello world")] {
        assert!(
            matches!(decode(garbage), Err(ImageError::ConfigDrive(_))),
            "{garbage}"
        );
    }
}
