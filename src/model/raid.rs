//! A target RAID configuration checked as Ironic checks it (`raid_config_schema.json` through
//! jsonschema, then one root volume at most), with jsonschema's messages: the error it
//! picks as the best match is the shallowest, a plain one before an `anyOf`, the first of
//! equals. Every RAID interface validates against this before storing anything.

use serde_json::{Map, Value};

use super::inspection_rule::py_repr;

const LEVELS: &[&str] = &["JBOD", "0", "1", "2", "5", "6", "1+0", "5+0", "6+0"];
const DISK_KEYS: &[&str] = &[
    "raid_level",
    "size_gb",
    "volume_name",
    "is_root_volume",
    "share_physical_disks",
    "disk_type",
    "interface_type",
    "number_of_physical_disks",
    "controller",
    "physical_disks",
];

/// The schema's logical disk properties with their descriptions (Ironic's text).
pub const LOGICAL_DISK_PROPERTIES: &[(&str, &str)] = &[
    ("raid_level", "RAID level for the logical disk. Valid values are 'JBOD', '0', '1', '2', '5', '6', '1+0', '5+0' and '6+0'. Required."),
    ("size_gb", "Size in GiB (Integer) for the logical disk. Use 'MAX' as size_gb if this logical disk is supposed to use the rest of the space available. Required."),
    ("volume_name", "Name of the volume to be created. If this is not specified, it will be auto-generated. Optional."),
    ("is_root_volume", "Specifies whether this disk is a root volume. By default, this is False. Optional."),
    ("share_physical_disks", "Specifies whether other logical disks can share physical disks with this logical disk. By default, this is False. Optional."),
    ("disk_type", "The type of disk preferred. Valid values are 'hdd' and 'ssd'. If this is not specified, disk type will not be a selection criterion for choosing backing physical disks. Optional."),
    ("interface_type", "The interface type of disk. Valid values are 'sata', 'scsi' and 'sas'. If this is not specified, interface type will not be a selection criterion for choosing backing physical disks. Optional."),
    ("number_of_physical_disks", "Number of physical disks to use for this logical disk. By default, the driver uses the minimum number of disks required for that RAID level. Optional."),
    ("controller", "Controller to use for this logical disk. If not specified, the driver will choose a suitable RAID controller on the bare metal node. Optional."),
    ("physical_disks", "The physical disks to use for this logical disk. If not specified, the driver will choose suitable physical disks to use. Optional."),
];

/// One schema violation: how deep it is, whether it is an `anyOf` summary, its text.
struct Found {
    depth: usize,
    weak: bool,
    text: String,
}

fn list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    format!("[{}]", quoted.join(", "))
}

fn not_type(v: &Value, ty: &str) -> String {
    format!("{} is not of type '{ty}'", py_repr(v))
}

fn not_one_of(v: &Value, names: &[&str]) -> String {
    format!("{} is not one of {}", py_repr(v), list(names))
}

fn push(out: &mut Vec<Found>, depth: usize, text: String) {
    out.push(Found {
        depth,
        weak: false,
        text,
    });
}

/// `size_gb`: a non-negative integer or "MAX".
fn size_gb(v: &Value, depth: usize, out: &mut Vec<Found>) {
    match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => {
            if n.as_i64().is_some_and(|i| i < 0) {
                push(out, depth, format!("{n} is less than the minimum of 0"));
            }
        }
        Value::String(s) if s != "MAX" => push(out, depth, not_one_of(v, &["MAX"])),
        Value::String(_) => {}
        _ => out.push(Found {
            depth,
            weak: true,
            text: format!("{} is not valid under any of the given schemas", py_repr(v)),
        }),
    }
}

/// `physical_disks`: device names, or at least two device hint objects.
fn physical_disks(v: &Value, depth: usize, out: &mut Vec<Found>) {
    let Some(items) = v.as_array() else {
        out.push(Found {
            depth,
            weak: true,
            text: format!("{} is not valid under any of the given schemas", py_repr(v)),
        });
        return;
    };
    if items.iter().all(Value::is_string) {
        return;
    }
    if items.len() >= 2 && items.iter().all(Value::is_object) {
        return;
    }
    if let Some(bad) = items.iter().find(|i| !i.is_string()) {
        push(out, depth + 1, not_type(bad, "string"));
    }
}

fn logical_disk(d: &Value, depth: usize, out: &mut Vec<Found>) {
    let Some(o) = d.as_object() else {
        push(out, depth, not_type(d, "object"));
        return;
    };
    let inner = depth + 1;
    for (k, v) in o {
        match k.as_str() {
            "raid_level" => match v.as_str() {
                None => push(out, inner, not_type(v, "string")),
                Some(l) if !LEVELS.contains(&l) => push(out, inner, not_one_of(v, LEVELS)),
                Some(_) => {}
            },
            "size_gb" => size_gb(v, inner, out),
            "volume_name" | "controller" if !v.is_string() => {
                push(out, inner, not_type(v, "string"))
            }
            "is_root_volume" | "share_physical_disks" if !v.is_boolean() => {
                push(out, inner, not_type(v, "boolean"))
            }
            "disk_type" if !matches!(v.as_str(), Some("hdd" | "ssd")) => match v {
                Value::String(_) => push(out, inner, not_one_of(v, &["hdd", "ssd"])),
                _ => push(out, inner, not_type(v, "string")),
            },
            "interface_type" if !matches!(v.as_str(), Some("sata" | "scsi" | "sas")) => match v {
                Value::String(_) => push(out, inner, not_one_of(v, &["sata", "scsi", "sas"])),
                _ => push(out, inner, not_type(v, "string")),
            },
            "number_of_physical_disks" => match v.as_i64() {
                Some(n) if n <= 0 => push(
                    out,
                    inner,
                    format!("{n} is less than or equal to the minimum of 0"),
                ),
                Some(_) => {}
                None => push(out, inner, not_type(v, "integer")),
            },
            "physical_disks" => physical_disks(v, inner, out),
            _ => {}
        }
    }
    for r in ["raid_level", "size_gb"] {
        if !o.contains_key(r) {
            push(out, depth, format!("'{r}' is a required property"));
        }
    }
    if let Some(extra) = o.keys().find(|k| !DISK_KEYS.contains(&k.as_str())) {
        push(
            out,
            depth,
            format!("Additional properties are not allowed ('{extra}' was unexpected)"),
        );
    }
    if o.contains_key("physical_disks") && !o.contains_key("controller") {
        push(
            out,
            depth,
            "'controller' is a dependency of 'physical_disks'".into(),
        );
    }
}

/// Check a non-empty target RAID configuration; the error is Ironic's text.
pub fn validate(config: &Map<String, Value>) -> Result<(), String> {
    let mut out = vec![];
    if let Some(disks) = config.get("logical_disks") {
        match disks.as_array() {
            None => push(&mut out, 1, not_type(disks, "array")),
            Some(a) if a.is_empty() => push(&mut out, 1, "[] should be non-empty".into()),
            Some(a) => {
                for d in a {
                    logical_disk(d, 2, &mut out);
                }
            }
        }
    } else {
        push(&mut out, 0, "'logical_disks' is a required property".into());
    }
    if let Some(extra) = config.keys().find(|k| k.as_str() != "logical_disks") {
        push(
            &mut out,
            0,
            format!("Additional properties are not allowed ('{extra}' was unexpected)"),
        );
    }
    // jsonschema's best match: shallowest first, then a plain error before an anyOf one,
    // then the first found.
    let mut best: Option<&Found> = None;
    for f in &out {
        if best.is_none_or(|b| (f.depth, f.weak) < (b.depth, b.weak)) {
            best = Some(f);
        }
    }
    if let Some(b) = best {
        return Err(format!("RAID config validation error: {}", b.text));
    }
    let roots = config
        .get("logical_disks")
        .and_then(Value::as_array)
        .map_or(0, |a| {
            a.iter()
                .filter(|d| d.get("is_root_volume") == Some(&Value::Bool(true)))
                .count()
        });
    if roots > 1 {
        return Err(format!(
            "Raid config cannot have more than one root volume. {roots} root volumes were specified"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Each case with the message Ironic 39's jsonschema (4.26) gives for it.
    #[test]
    fn messages_are_jsonschemas() {
        let cases = [
            (json!({"logical_disks": []}), "[] should be non-empty"),
            (json!({"logical_disks": "x"}), "'x' is not of type 'array'"),
            (
                json!({"foo": 1, "logical_disks": [{"raid_level": "1", "size_gb": 10}]}),
                "Additional properties are not allowed ('foo' was unexpected)",
            ),
            (
                json!({"logical_disks": [{"size_gb": 10}]}),
                "'raid_level' is a required property",
            ),
            (
                json!({"logical_disks": [{"raid_level": "7", "size_gb": 10}]}),
                "'7' is not one of ['JBOD', '0', '1', '2', '5', '6', '1+0', '5+0', '6+0']",
            ),
            (
                json!({"logical_disks": [{"raid_level": 1, "size_gb": 10}]}),
                "1 is not of type 'string'",
            ),
            (
                json!({"logical_disks": [{"raid_level": "1", "size_gb": -1}]}),
                "-1 is less than the minimum of 0",
            ),
            (
                json!({"logical_disks": [{"raid_level": "1", "size_gb": "max"}]}),
                "'max' is not one of ['MAX']",
            ),
            (
                json!({"logical_disks": [{"raid_level": "1", "size_gb": 10, "bogus": true}]}),
                "Additional properties are not allowed ('bogus' was unexpected)",
            ),
            (
                json!({"logical_disks": [{"raid_level": "1", "size_gb": 10, "is_root_volume": "yes"}]}),
                "'yes' is not of type 'boolean'",
            ),
            (
                json!({"logical_disks": [{"raid_level": "1", "size_gb": 10, "disk_type": "nvme"}]}),
                "'nvme' is not one of ['hdd', 'ssd']",
            ),
            (
                json!({"logical_disks": [{"raid_level": "1", "size_gb": 10, "number_of_physical_disks": 0}]}),
                "0 is less than or equal to the minimum of 0",
            ),
            (
                json!({"logical_disks": [{"raid_level": "1", "size_gb": 10, "physical_disks": ["a", "b"]}]}),
                "'controller' is a dependency of 'physical_disks'",
            ),
            (
                json!({"logical_disks": [{"raid_level": "1", "size_gb": 10, "physical_disks": [{"size": ">= 1"}], "controller": "software"}]}),
                "{'size': '>= 1'} is not of type 'string'",
            ),
            (
                json!({"logical_disks": ["x"]}),
                "'x' is not of type 'object'",
            ),
            (
                json!({"logical_disks": [{"raid_level": "1", "size_gb": 10.5}]}),
                "10.5 is not valid under any of the given schemas",
            ),
            (
                json!({"logical_disks": [{"raid_level": "1", "size_gb": true}]}),
                "True is not valid under any of the given schemas",
            ),
        ];
        for (config, want) in cases {
            let e = validate(config.as_object().unwrap()).unwrap_err();
            assert_eq!(
                e,
                format!("RAID config validation error: {want}"),
                "{config}"
            );
        }
    }

    #[test]
    fn good_configs_pass_and_two_roots_do_not() {
        let full = json!({"logical_disks": [{"raid_level": "1", "size_gb": "MAX",
            "physical_disks": [{"size": ">= 1"}, {"name": "/dev/sdb"}], "controller": "software",
            "volume_name": "root", "is_root_volume": true, "share_physical_disks": false,
            "interface_type": "sas", "number_of_physical_disks": 2}]});
        assert_eq!(validate(full.as_object().unwrap()), Ok(()));
        let two = json!({"logical_disks": [
            {"raid_level": "1", "size_gb": 10, "is_root_volume": true},
            {"raid_level": "0", "size_gb": "MAX", "is_root_volume": true}]});
        assert_eq!(
            validate(two.as_object().unwrap()).unwrap_err(),
            "Raid config cannot have more than one root volume. 2 root volumes were specified"
        );
    }
}
