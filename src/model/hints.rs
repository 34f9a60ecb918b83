//! Root device hints (`properties.root_device` / `instance_info.root_device`) with Ironic's
//! grammar: `size` in GiB with numeric operators (`==`, `!=`, `>=`, `<=`, `>`, `<`, `=`
//! meaning "at least", `<or>`), strings compared lower-cased with `s==`, `s!=`, `s>=`,
//! `s<=`, `s>`, `s<`, `<in>` (substring), `<all-in>`, `<or>`, and `rotational` as a boolean.
//! Without hints the smallest disk of at least 4 GiB is chosen, as IPA does.

use serde_json::{Map, Value};

/// One block device, in IPA's `BlockDevice` fields (size in bytes).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Disk {
    pub name: String,
    pub model: String,
    pub size: u64,
    pub rotational: bool,
    pub wwn: Option<String>,
    pub serial: Option<String>,
    pub vendor: Option<String>,
    pub wwn_with_extension: Option<String>,
    pub wwn_vendor_extension: Option<String>,
    pub hctl: Option<String>,
    pub by_path: Option<String>,
    pub logical_sectors: Option<u64>,
    pub physical_sectors: Option<u64>,
    pub tran: Option<String>,
}

/// IPA's smallest install disk when no hints are given.
pub const MIN_DISK: u64 = 4 << 30;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum HintError {
    #[error("invalid root device hints: {0}")]
    Invalid(String),
    #[error("no disk matches the root device hints {hints}; disks: {disks}")]
    NoMatch { hints: String, disks: String },
    #[error("no root device hints were given and no disk is at least {min} bytes; disks: {disks}")]
    NoneBigEnough { min: u64, disks: String },
}

const STRING_HINTS: &[&str] = &[
    "model",
    "wwn",
    "serial",
    "vendor",
    "wwn_with_extension",
    "wwn_vendor_extension",
    "name",
    "hctl",
    "by_path",
    "tran",
];

#[derive(Debug, Clone, PartialEq)]
enum Hint {
    Size {
        op: String,
        values: Vec<f64>,
    },
    Str {
        field: String,
        op: String,
        values: Vec<String>,
    },
    Rotational(bool),
}

const NUM_OPS: &[&str] = &["==", "!=", ">=", "<=", ">", "<", "=", "<or>"];
const STR_OPS: &[&str] = &[
    "s==", "s!=", "s>=", "s<=", "s>", "s<", "<in>", "<all-in>", "<or>",
];

/// Split `"<op> v1 [<op> v2 ...]"` into (op, values); no operator ⇒ `default`.
fn split_expr(expr: &str, ops: &[&str], default: &str) -> Result<(String, Vec<String>), String> {
    let e = expr.trim().to_lowercase();
    if e.is_empty() {
        return Err("empty expression".into());
    }
    // Longest operator first so `s==` is not read as `=`.
    let mut sorted: Vec<&&str> = ops.iter().collect();
    sorted.sort_by_key(|o| std::cmp::Reverse(o.len()));
    let Some(op) = sorted.into_iter().find(|o| e.starts_with(**o)) else {
        let v = e.split_whitespace().collect::<Vec<_>>().join(" ");
        return Ok((default.to_string(), vec![v]));
    };
    let values: Vec<String> = e[op.len()..]
        .split(*op)
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|v| !v.is_empty())
        .collect();
    if values.is_empty() {
        return Err(format!("operator {op} without a value"));
    }
    if *op != "<or>" && *op != "<all-in>" && values.len() > 1 {
        return Err(format!("operator {op} takes one value"));
    }
    Ok((op.to_string(), values))
}

fn parse_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_lowercase().as_str() {
            "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
            "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
            _ => None,
        },
        Value::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn with_dev(name: &str) -> String {
    if name.starts_with('/') {
        name.to_string()
    } else {
        format!("/dev/{name}")
    }
}

fn parse(hints: &Map<String, Value>) -> Result<Vec<Hint>, HintError> {
    let mut out = vec![];
    for (k, v) in hints {
        let bad = |why: String| HintError::Invalid(format!("{k}: {why}"));
        if k == "size" {
            let text = match v {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                _ => return Err(bad("must be an integer or an expression".into())),
            };
            let (op, values) = split_expr(&text, NUM_OPS, "==").map_err(bad)?;
            let mut nums = vec![];
            for v in values {
                let n: i64 = v
                    .parse()
                    .map_err(|_| bad(format!("{v:?} is not an integer (GiB)")))?;
                if n <= 0 {
                    return Err(bad(format!("{n} is not a positive size")));
                }
                nums.push(n as f64);
            }
            out.push(Hint::Size { op, values: nums });
        } else if k == "rotational" {
            let b = parse_bool(v).ok_or_else(|| bad(format!("{v} is not a boolean")))?;
            out.push(Hint::Rotational(b));
        } else if STRING_HINTS.contains(&k.as_str()) {
            let Value::String(s) = v else {
                return Err(bad("must be a string".into()));
            };
            let (op, mut values) = split_expr(s, STR_OPS, "s==").map_err(bad)?;
            if k == "name" && op != "<in>" && op != "<all-in>" {
                values = values.iter().map(|v| with_dev(v)).collect();
            }
            out.push(Hint::Str {
                field: k.clone(),
                op,
                values,
            });
        } else {
            return Err(HintError::Invalid(format!(
                "unknown hint {k:?} (valid: size, rotational, {})",
                STRING_HINTS.join(", ")
            )));
        }
    }
    Ok(out)
}

fn str_field(d: &Disk, field: &str) -> Option<String> {
    let v = match field {
        "model" => Some(d.model.clone()),
        "name" => Some(d.name.clone()),
        "wwn" => d.wwn.clone(),
        "serial" => d.serial.clone(),
        "vendor" => d.vendor.clone(),
        "wwn_with_extension" => d.wwn_with_extension.clone(),
        "wwn_vendor_extension" => d.wwn_vendor_extension.clone(),
        "hctl" => d.hctl.clone(),
        "by_path" => d.by_path.clone(),
        "tran" => d.tran.clone(),
        _ => None,
    }?;
    let v = v
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    (!v.is_empty()).then_some(v)
}

fn matches(d: &Disk, hint: &Hint) -> bool {
    match hint {
        Hint::Rotational(b) => d.rotational == *b,
        Hint::Size { op, values } => {
            let gib = d.size as f64 / (1u64 << 30) as f64;
            let Some(&v) = values.first() else {
                return false;
            };
            match op.as_str() {
                "==" => gib == v,
                "!=" => gib != v,
                ">=" | "=" => gib >= v,
                "<=" => gib <= v,
                ">" => gib > v,
                "<" => gib < v,
                "<or>" => values.contains(&gib),
                _ => false,
            }
        }
        Hint::Str { field, op, values } => {
            // A disk without the attribute never matches (IPA skips it too).
            let Some(x) = str_field(d, field) else {
                return false;
            };
            let Some(v) = values.first() else {
                return false;
            };
            match op.as_str() {
                "s==" => x == *v,
                "s!=" => x != *v,
                "s>=" => x >= *v,
                "s<=" => x <= *v,
                "s>" => x > *v,
                "s<" => x < *v,
                "<in>" => x.contains(v.as_str()),
                "<all-in>" => values.iter().all(|v| x.contains(v.as_str())),
                "<or>" => values.contains(&x),
                _ => false,
            }
        }
    }
}

fn describe(disks: &[Disk]) -> String {
    if disks.is_empty() {
        return "none found".into();
    }
    disks
        .iter()
        .map(|d| {
            format!(
                "{} ({} bytes, model {:?}, serial {:?}, wwn {:?})",
                d.name,
                d.size,
                d.model,
                d.serial.as_deref().unwrap_or(""),
                d.wwn.as_deref().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Validate hints without choosing a disk (used to fail a command before it starts).
pub fn validate(hints: &Map<String, Value>) -> Result<(), HintError> {
    parse(hints).map(|_| ())
}

/// The install disk: the first disk (in name order) matching every hint, or without
/// hints the smallest disk of at least `min` bytes (IPA: [`MIN_DISK`]; ties broken by name).
pub fn choose(
    disks: &[Disk],
    hints: Option<&Map<String, Value>>,
    min: u64,
) -> Result<Disk, HintError> {
    match hints.filter(|h| !h.is_empty()) {
        Some(h) => {
            let parsed = parse(h)?;
            let mut sorted = disks.to_vec();
            sorted.sort_by(|a, b| a.name.cmp(&b.name));
            sorted
                .into_iter()
                .find(|d| parsed.iter().all(|p| matches(d, p)))
                .ok_or_else(|| HintError::NoMatch {
                    hints: Value::Object(h.clone()).to_string(),
                    disks: describe(disks),
                })
        }
        None => {
            let mut sorted = disks.to_vec();
            sorted.sort_by(|a, b| (a.size, &a.name).cmp(&(b.size, &b.name)));
            sorted
                .into_iter()
                .find(|d| d.size >= min)
                .ok_or_else(|| HintError::NoneBigEnough {
                    min,
                    disks: describe(disks),
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn disk(name: &str, gib: u64, rotational: bool, model: &str, serial: Option<&str>) -> Disk {
        Disk {
            name: name.into(),
            model: model.into(),
            size: gib << 30,
            rotational,
            wwn: Some(format!("0x5000{gib}")),
            serial: serial.map(str::to_string),
            vendor: Some("ATA".into()),
            wwn_with_extension: None,
            wwn_vendor_extension: None,
            hctl: Some(format!("{gib}:0:0:0")),
            by_path: Some(format!("/dev/disk/by-path/pci-{name}")),
            logical_sectors: Some(512),
            physical_sectors: Some(512),
            tran: None,
        }
    }

    fn disks() -> Vec<Disk> {
        vec![
            disk("/dev/sda", 100, true, "Big HDD", Some("S-A")),
            disk("/dev/sdb", 20, false, "Fast SSD", Some("S-B")),
            disk("/dev/sdc", 2, false, "Tiny Flash", None),
            disk("/dev/nvme0n1", 20, false, "NVMe Drive X", Some("S-N")),
        ]
    }

    fn pick(h: Value) -> Result<String, HintError> {
        let m = h.as_object().cloned().unwrap();
        choose(&disks(), Some(&m), MIN_DISK).map(|d| d.name)
    }

    #[test]
    fn table() {
        let cases: &[(Value, &str)] = &[
            (json!({"size": 100}), "/dev/sda"),
            (json!({"size": "100"}), "/dev/sda"),
            (json!({"size": "== 20"}), "/dev/nvme0n1"),
            (json!({"size": ">= 50"}), "/dev/sda"),
            (json!({"size": "> 20"}), "/dev/sda"),
            (json!({"size": "< 20"}), "/dev/sdc"),
            (json!({"size": "<= 2"}), "/dev/sdc"),
            (json!({"size": "!= 20"}), "/dev/sda"),
            (json!({"size": "= 50"}), "/dev/sda"),
            (json!({"size": "<or> 2 <or> 3"}), "/dev/sdc"),
            (
                json!({"size": 20, "rotational": false, "serial": "s-b"}),
                "/dev/sdb",
            ),
            (json!({"name": "sdb"}), "/dev/sdb"),
            (json!({"name": "/dev/sdb"}), "/dev/sdb"),
            (json!({"name": "s== /dev/sdc"}), "/dev/sdc"),
            (json!({"name": "<or> sdc <or> sdb"}), "/dev/sdb"),
            (json!({"model": "<in> ssd"}), "/dev/sdb"),
            (json!({"model": "nvme  drive x"}), "/dev/nvme0n1"),
            (json!({"model": "s!= big hdd", "size": 20}), "/dev/nvme0n1"),
            (
                json!({"model": "<all-in> nvme <all-in> drive"}),
                "/dev/nvme0n1",
            ),
            (json!({"rotational": true}), "/dev/sda"),
            (json!({"rotational": "false", "size": 2}), "/dev/sdc"),
            (json!({"hctl": "100:0:0:0"}), "/dev/sda"),
            (json!({"wwn": "0x50002"}), "/dev/sdc"),
            (
                json!({"by_path": "/dev/disk/by-path/pci-/dev/sdb"}),
                "/dev/sdb",
            ),
            (json!({"vendor": "ata", "size": 100}), "/dev/sda"),
        ];
        for (h, want) in cases {
            assert_eq!(pick(h.clone()).as_deref(), Ok(*want), "hints {h}");
        }
    }

    #[test]
    fn a_disk_without_the_attribute_does_not_match() {
        // sdc has no serial; s!= must not pick it.
        assert_eq!(pick(json!({"serial": "s!= s-a", "size": 2})).ok(), None);
    }

    #[test]
    fn no_match_lists_disks() {
        let e = pick(json!({"serial": "nope"})).unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, HintError::NoMatch { .. }));
        assert!(text.contains("/dev/sda (107374182400 bytes"), "{text}");
        assert!(text.contains("/dev/nvme0n1"), "{text}");
    }

    #[test]
    fn invalid_hints() {
        for h in [
            json!({"size": "big"}),
            json!({"size": -1}),
            json!({"size": "> 1 > 2"}),
            json!({"rotational": "maybe"}),
            json!({"colour": "red"}),
            json!({"model": 5}),
            json!({"model": "   "}),
            json!({"model": "<in>"}),
        ] {
            assert!(
                matches!(pick(h.clone()), Err(HintError::Invalid(_))),
                "hints {h} should be invalid"
            );
        }
    }

    #[test]
    fn default_is_smallest_of_at_least_4_gib() {
        // sdb and nvme0n1 are both 20 GiB: the name breaks the tie; sdc (2 GiB) is too small.
        assert_eq!(
            choose(&disks(), None, MIN_DISK).unwrap().name,
            "/dev/nvme0n1"
        );
        assert_eq!(
            choose(&disks(), Some(&Map::new()), MIN_DISK).unwrap().name,
            "/dev/nvme0n1"
        );
        let small = vec![disk("/dev/sdc", 2, false, "Tiny", None)];
        let e = choose(&small, None, MIN_DISK).unwrap_err();
        assert!(e.to_string().contains("/dev/sdc"), "{e}");
        assert!(matches!(
            choose(&[], None, MIN_DISK),
            Err(HintError::NoneBigEnough { .. })
        ));
    }
}
