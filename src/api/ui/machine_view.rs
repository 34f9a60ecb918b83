//! What the Machine page shows, as pure functions of a node: the actions valid now (the
//! provision verbs from the state machine table, power, maintenance, delete by Ironic's
//! rules) and a hardware summary of its stored inspection inventory.

use serde_json::Value;

use crate::conductor::fsm;
use crate::model::node::Node;
use crate::model::states::{ENROLL, POWER_OFF, POWER_ON};

/// One button of the header.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// The form's `verb`: a provision verb, or `power-on`, `power-off`, `reboot`,
    /// `maintenance-on`, `maintenance-off`, `delete`.
    pub verb: &'static str,
    pub label: &'static str,
    /// Asks for confirmation in the page first.
    pub destructive: bool,
    /// A verb that needs a form of its own (deploy): a link there instead of a POST.
    pub link: Option<String>,
}

/// Older spellings the table also accepts; the page offers only the current verb.
const ALIASES: &[&str] = &["active", "deleted"];
/// Verbs that need input a button cannot give (a rescue password, service steps).
const NEEDS_INPUT: &[&str] = &["rescue", "service"];
/// Verbs that lose data or cut a running machine off.
pub const DESTRUCTIVE: &[&str] = &["undeploy", "rebuild", "clean", "delete", "power-off"];

fn label(verb: &str) -> &'static str {
    match verb {
        "manage" => "Manage",
        "provide" => "Provide",
        "inspect" => "Inspect",
        "abort" => "Abort",
        "clean" => "Clean",
        "adopt" => "Adopt",
        "deploy" => "Deploy…",
        "enroll-bmc" => "Enroll with BMC credentials…",
        "rebuild" => "Rebuild",
        "undeploy" => "Undeploy",
        "unrescue" => "Unrescue",
        "unhold" => "Unhold",
        "power-on" => "Power on",
        "power-off" => "Power off",
        "reboot" => "Reboot",
        "maintenance-on" => "Maintenance on",
        "maintenance-off" => "Maintenance off",
        "delete" => "Delete",
        _ => "?",
    }
}

fn action(verb: &'static str, node: &Node) -> Action {
    Action {
        verb,
        label: label(verb),
        destructive: DESTRUCTIVE.contains(&verb),
        link: match verb {
            "deploy" => Some(format!("/ui/machines/{}/deploy", node.uuid)),
            "enroll-bmc" => Some(format!("/ui/machines/{}/bmc", node.uuid)),
            _ => None,
        },
    }
}

/// The actions valid for `node` now: a discovered machine in enroll first gets the form
/// that gives it BMC credentials, then the provision verbs.
pub fn actions(node: &Node, allow_deleting_available: bool) -> Vec<Action> {
    let mut out: Vec<Action> = Vec::new();
    if node.provision_state == ENROLL && super::discovered::is_discovered(node, None) {
        out.push(action("enroll-bmc", node));
    }
    out.extend(
        fsm::verbs_from(&node.provision_state)
            .into_iter()
            .filter(|v| !ALIASES.contains(v) && !NEEDS_INPUT.contains(v))
            .map(|v| action(v, node)),
    );
    let power = node.power_state.as_deref();
    if power != Some(POWER_ON) {
        out.push(action("power-on", node));
    }
    if power != Some(POWER_OFF) {
        out.push(action("power-off", node));
    }
    if power == Some(POWER_ON) {
        out.push(action("reboot", node));
    }
    out.push(action(
        if node.maintenance {
            "maintenance-off"
        } else {
            "maintenance-on"
        },
        node,
    ));
    if crate::conductor::delete_refusal(node, allow_deleting_available).is_none() {
        out.push(action("delete", node));
    }
    out
}

/// The hardware an inspection found, as the page lists it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Hardware {
    pub vendor: String,
    pub model: String,
    pub serial: String,
    pub cpu: String,
    pub memory: String,
    /// (name, size, model)
    pub disks: Vec<(String, String, String)>,
    /// (name, MAC, speed)
    pub nics: Vec<(String, String, String)>,
}

fn s(v: &Value, path: &[&str]) -> String {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(next) => cur = next,
            None => return String::new(),
        }
    }
    match cur {
        Value::String(x) => x.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// 21474836480 → `20.0 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    let u = UNITS.get(unit).copied().unwrap_or("B");
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {u}")
    }
}

/// The summary of an IPA-shaped inventory (`system_vendor`, `cpu`, `memory`, `disks`,
/// `interfaces`); missing parts stay empty.
pub fn hardware(inv: &Value) -> Hardware {
    let cpu_model = s(inv, &["cpu", "model_name"]);
    let count = s(inv, &["cpu", "count"]);
    let arch = s(inv, &["cpu", "architecture"]);
    let cpu = [
        (!count.is_empty()).then(|| format!("{count} ×")),
        (!cpu_model.is_empty()).then_some(cpu_model),
        (!arch.is_empty()).then(|| format!("({arch})")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let memory = match inv.pointer("/memory/physical_mb").and_then(Value::as_u64) {
        Some(mb) => bytes(mb.saturating_mul(1024 * 1024)),
        None => inv
            .pointer("/memory/total")
            .and_then(Value::as_u64)
            .map(bytes)
            .unwrap_or_default(),
    };
    let list = |k: &str| {
        inv.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    Hardware {
        vendor: s(inv, &["system_vendor", "manufacturer"]),
        model: s(inv, &["system_vendor", "product_name"]),
        serial: s(inv, &["system_vendor", "serial_number"]),
        cpu,
        memory,
        disks: list("disks")
            .iter()
            .map(|d| {
                (
                    s(d, &["name"]),
                    d.get("size")
                        .and_then(Value::as_u64)
                        .map(bytes)
                        .unwrap_or_default(),
                    s(d, &["model"]),
                )
            })
            .collect(),
        nics: list("interfaces")
            .iter()
            .map(|i| {
                let speed = s(i, &["speed_mbps"]);
                (
                    s(i, &["name"]),
                    s(i, &["mac_address"]),
                    if speed.is_empty() {
                        speed
                    } else {
                        format!("{speed} Mb/s")
                    },
                )
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::states::*;
    use serde_json::json;

    fn node(state: &str, power: Option<&str>) -> Node {
        Node {
            uuid: "u".into(),
            provision_state: state.into(),
            power_state: power.map(str::to_string),
            ..Default::default()
        }
    }

    fn verbs(n: &Node) -> Vec<&'static str> {
        actions(n, true).into_iter().map(|a| a.verb).collect()
    }

    #[test]
    fn every_state_offers_exactly_its_table_verbs_plus_power_maintenance_delete() {
        for s in ALL_PROVISION_STATES {
            let n = node(s, Some(POWER_OFF));
            let got = verbs(&n);
            for v in fsm::verbs_from(s) {
                let offered = !ALIASES.contains(&v) && !NEEDS_INPUT.contains(&v);
                assert_eq!(got.contains(&v), offered, "{s}: {v}");
            }
            assert!(
                got.contains(&"power-on") && !got.contains(&"power-off"),
                "{s}"
            );
            assert!(got.contains(&"maintenance-on"));
            let deletable = crate::conductor::delete_refusal(&n, true).is_none();
            assert_eq!(got.contains(&"delete"), deletable, "{s}");
        }
        assert_eq!(
            verbs(&node(ENROLL, None)),
            [
                "manage",
                "power-on",
                "power-off",
                "maintenance-on",
                "delete"
            ]
        );
        assert_eq!(
            verbs(&node(ACTIVE, Some(POWER_ON))),
            [
                "rebuild",
                "undeploy",
                "power-off",
                "reboot",
                "maintenance-on"
            ]
        );
        let mut found = node(ENROLL, None);
        found
            .driver_internal_info
            .insert("auto_discovered".into(), json!(true));
        let first = actions(&found, true).into_iter().next();
        assert_eq!(
            first.and_then(|a| a.link),
            Some("/ui/machines/u/bmc".to_string())
        );
        found.provision_state = MANAGEABLE.into();
        assert!(!verbs(&found).contains(&"enroll-bmc"));
        let avail = actions(&node(AVAILABLE, Some(POWER_OFF)), false);
        let deploy = avail.iter().find(|a| a.verb == "deploy");
        assert_eq!(
            deploy.and_then(|a| a.link.as_deref()),
            Some("/ui/machines/u/deploy")
        );
        assert!(!avail.iter().any(|a| a.verb == "delete"));
        let mut m = node(ACTIVE, Some(POWER_ON));
        m.maintenance = true;
        assert!(verbs(&m).contains(&"maintenance-off") && verbs(&m).contains(&"delete"));
        let undeploy = actions(&node(ACTIVE, None), true);
        assert!(undeploy
            .iter()
            .any(|a| a.verb == "undeploy" && a.destructive));
    }

    #[test]
    fn hardware_from_an_ipa_inventory() {
        let inv = json!({
            "system_vendor": {"manufacturer": "QEMU", "product_name": "Standard PC", "serial_number": "S1"},
            "cpu": {"model_name": "Xeon", "count": 4, "architecture": "x86_64"},
            "memory": {"total": 2147483648u64, "physical_mb": 2048},
            "disks": [{"name": "/dev/sda", "size": 21474836480u64, "model": "QEMU HARDDISK"}],
            "interfaces": [{"name": "eth0", "mac_address": "52:54:00:12:34:56", "speed_mbps": 1000}]
        });
        let h = hardware(&inv);
        assert_eq!(h.vendor, "QEMU");
        assert_eq!(h.serial, "S1");
        assert_eq!(h.cpu, "4 × Xeon (x86_64)");
        assert_eq!(h.memory, "2.0 GiB");
        assert_eq!(
            h.disks,
            [("/dev/sda".into(), "20.0 GiB".into(), "QEMU HARDDISK".into())]
        );
        assert_eq!(
            h.nics,
            [(
                "eth0".into(),
                "52:54:00:12:34:56".into(),
                "1000 Mb/s".into()
            )]
        );
        assert_eq!(hardware(&json!(null)), Hardware::default());
        assert_eq!(bytes(512), "512 B");
    }
}
