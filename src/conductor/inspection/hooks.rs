//! Ironic's inspection hooks (validate-interfaces, ports, architecture, cpus, memory,
//! root-device, boot-mode, parse-lldp, local-link-connection) as functions over the node,
//! its ports, the inventory and plugin_data in memory: nothing here touches the store, so
//! a failing hook or rule leaves the saved node as it was.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use crate::config::{AddPorts, InspectorSection, KeepPorts};
use crate::model::hints::{self, Disk, HintError};
use crate::model::mac::Mac;
use crate::model::node::Node;
use crate::model::port::Port;

const GIB: u64 = 1 << 30;

/// Why processing stopped, in Ironic's `InvalidNodeInventory` words.
fn invalid(node: &Node, reason: impl std::fmt::Display) -> String {
    format!("Inventory for node {} is invalid: {reason}", node.uuid)
}

/// Every hook in Ironic's order. `Err` is the message for `last_error`.
pub fn run(
    cfg: &InspectorSection,
    node: &mut Node,
    ports: &mut Vec<Port>,
    inventory: &Value,
    plugin_data: &mut Value,
) -> Result<(), String> {
    if !plugin_data.is_object() {
        *plugin_data = json!({});
    }
    validate_interfaces(cfg, node, inventory, plugin_data)?;
    ports_hook(cfg, node, ports, plugin_data);
    properties(cfg, node, inventory, plugin_data)?;
    boot_mode(node, inventory);
    Ok(())
}

/// `boot.pxe_interface`, also in pxelinux's `01-aa-bb-…` form.
pub fn pxe_mac(inventory: &Value) -> Option<String> {
    let raw = inventory.pointer("/boot/pxe_interface")?.as_str()?;
    let raw = match raw.split_once('-') {
        Some((_, rest)) if raw.len() == 20 => rest,
        _ => raw,
    };
    Mac::parse_lenient(raw).map(|m| m.to_string())
}

fn is_loopback(ip: &str) -> bool {
    ip.parse::<std::net::IpAddr>()
        .is_ok_and(|a| a.is_loopback())
}

/// validate-interfaces: `plugin_data.all_interfaces` (every named interface with a valid
/// MAC, `pxe_enabled` on the boot one), `valid_interfaces` (those `add_ports` selects, no
/// loopback) and `macs` (theirs).
pub fn validate_interfaces(
    cfg: &InspectorSection,
    node: &Node,
    inventory: &Value,
    plugin_data: &mut Value,
) -> Result<(), String> {
    let list = inventory
        .get("interfaces")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(node, "no interfaces present in inventory"))?;
    let pxe = pxe_mac(inventory);
    let mut all = Map::new();
    for iface in list {
        let Some(obj) = iface.as_object() else {
            continue;
        };
        let Some(name) = obj
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        else {
            tracing::warn!(node = %node.uuid, "malformed interface record (no name) skipped");
            continue;
        };
        let Some(mac) = obj
            .get("mac_address")
            .and_then(Value::as_str)
            .and_then(Mac::parse_strict)
            .map(|m| m.to_string())
        else {
            continue;
        };
        let mut out = obj.clone();
        // An IPv6 address may carry its scope (fe80::1%eth0).
        if let Some(v6) = obj.get("ipv6_address").and_then(Value::as_str) {
            let bare = v6.split('%').next().unwrap_or(v6);
            out.insert("ipv6_address".into(), json!(bare));
        }
        out.insert("mac_address".into(), json!(mac));
        out.insert("pxe_enabled".into(), json!(Some(&mac) == pxe.as_ref()));
        all.insert(name.to_string(), Value::Object(out));
    }
    if all.is_empty() {
        return Err(invalid(node, "no valid network interfaces"));
    }
    let mut valid = Map::new();
    for (name, iface) in &all {
        let ip = ["ipv4_address", "ipv6_address"].iter().find_map(|k| {
            iface
                .get(*k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        });
        if name == "lo" || ip.is_some_and(is_loopback) {
            continue;
        }
        let booted = iface.get("pxe_enabled") == Some(&json!(true));
        match cfg.add_ports {
            AddPorts::Pxe if pxe.is_some() && !booted => continue,
            AddPorts::Active if ip.is_none() => continue,
            _ => {}
        }
        valid.insert(name.clone(), iface.clone());
    }
    if valid.is_empty() {
        return Err(invalid(
            node,
            format!(
                "no network interfaces match the configuration (add_ports set to \"{}\")",
                cfg.add_ports
            ),
        ));
    }
    let macs: Vec<Value> = valid
        .values()
        .filter_map(|i| i.get("mac_address").cloned())
        .collect();
    if let Some(pd) = plugin_data.as_object_mut() {
        pd.insert("all_interfaces".into(), Value::Object(all));
        pd.insert("valid_interfaces".into(), Value::Object(valid));
        pd.insert("macs".into(), Value::Array(macs));
    }
    Ok(())
}

fn interfaces<'a>(plugin_data: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    plugin_data
        .get(key)
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.values())
}

fn mac_of(iface: &Value) -> Option<String> {
    iface
        .get("mac_address")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// ports: a port per valid interface (`add_ports`), existing ports dropped per
/// `keep_ports`, `pxe_enabled` and `extra.client-id` brought in line with the inventory.
/// New ports have `id` 0; the caller inserts them (skipping MACs another node owns).
pub fn ports_hook(cfg: &InspectorSection, node: &Node, ports: &mut Vec<Port>, plugin_data: &Value) {
    if cfg.add_ports != AddPorts::Disabled {
        for iface in interfaces(plugin_data, "valid_interfaces") {
            let Some(mac) = mac_of(iface) else { continue };
            if ports.iter().any(|p| p.address.eq_ignore_ascii_case(&mac)) {
                continue;
            }
            let mut extra = Map::new();
            if let Some(c) = iface.get("client_id").filter(|c| c.is_string()) {
                extra.insert("client-id".into(), c.clone());
            }
            ports.push(Port {
                uuid: crate::model::new_uuid(),
                address: mac,
                node_uuid: node.uuid.clone(),
                pxe_enabled: iface.get("pxe_enabled") == Some(&json!(true)),
                extra,
                ..Default::default()
            });
        }
    }
    let expected: Option<BTreeSet<String>> = match cfg.keep_ports {
        KeepPorts::All => None,
        KeepPorts::Present => Some(
            interfaces(plugin_data, "all_interfaces")
                .filter_map(mac_of)
                .collect(),
        ),
        KeepPorts::Added => Some(
            plugin_data
                .get("macs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|m| m.as_str().map(str::to_string))
                .collect(),
        ),
    };
    if let Some(keep) = expected.filter(|e| !e.is_empty()) {
        ports.retain(|p| keep.contains(&p.address.to_lowercase()));
    }
    let all: BTreeMap<String, &Value> = interfaces(plugin_data, "all_interfaces")
        .filter_map(|i| mac_of(i).map(|m| (m, i)))
        .collect();
    for p in ports.iter_mut() {
        let iface = all.get(&p.address.to_lowercase());
        if cfg.update_pxe_enabled {
            p.pxe_enabled = iface.is_some_and(|i| i.get("pxe_enabled") == Some(&json!(true)));
        }
        if let Some(c) = iface
            .and_then(|i| i.get("client_id"))
            .filter(|c| c.is_string())
        {
            p.extra.insert("client-id".into(), c.clone());
        }
    }
}

/// The root disk's size: the disk `properties.root_device` hints pick (IPA's grammar),
/// else `plugin_data.root_disk` (the agent's choice), else the smallest of at least 4 GiB.
fn root_disk(node: &Node, inventory: &Value, plugin_data: &Value) -> Result<Option<u64>, String> {
    let disks: Vec<Disk> = inventory
        .get("disks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| serde_json::from_value(d.clone()).ok())
        .collect();
    if let Some(h) = node.properties.get("root_device") {
        let Some(hints) = h.as_object() else {
            return Err(format!(
                "No disks could be found using root device hints {h} for node {} because they failed to validate. Error: the hints must be a JSON object",
                node.uuid
            ));
        };
        if !hints.is_empty() {
            return match hints::choose(&disks, Some(hints), 0) {
                Ok(d) => Ok(Some(d.size)),
                Err(HintError::Invalid(e)) => Err(format!(
                    "No disks could be found using root device hints {h} for node {} because they failed to validate. Error: {e}",
                    node.uuid
                )),
                Err(_) => Err(format!(
                    "No disks satisfied root device hints for node {}",
                    node.uuid
                )),
            };
        }
    }
    if let Some(s) = plugin_data
        .pointer("/root_disk/size")
        .and_then(Value::as_u64)
    {
        return Ok(Some(s));
    }
    Ok(hints::choose(&disks, None, hints::MIN_DISK)
        .ok()
        .map(|d| d.size))
}

/// architecture, cpus, memory and root-device: `cpu_arch`, `cpus`, `memory_mb`,
/// `local_gb` (0 when diskless), as Ironic's hooks set them.
pub fn properties(
    cfg: &InspectorSection,
    node: &mut Node,
    inventory: &Value,
    plugin_data: &mut Value,
) -> Result<(), String> {
    let props = &mut node.properties;
    if let Some(a) = inventory
        .pointer("/cpu/architecture")
        .and_then(Value::as_str)
    {
        props.insert("cpu_arch".into(), json!(a));
    }
    if let Some(n) = inventory
        .pointer("/cpu/count")
        .and_then(Value::as_u64)
        .filter(|n| *n > 0)
    {
        props.insert("cpus".into(), json!(n));
    }
    let mem = inventory
        .pointer("/memory/physical_mb")
        .and_then(Value::as_u64)
        .or_else(|| {
            inventory
                .pointer("/memory/total")
                .and_then(Value::as_u64)
                .map(|b| b / (1024 * 1024))
        });
    if let Some(m) = mem.filter(|m| *m > 0) {
        node.properties.insert("memory_mb".into(), json!(m));
    }
    let size = root_disk(node, inventory, plugin_data)?;
    let mut local_gb = size.map(|s| s / GIB).unwrap_or(0);
    if local_gb > 0 && cfg.disk_partitioning_spacing {
        local_gb -= 1;
    }
    node.properties.insert("local_gb".into(), json!(local_gb));
    if let Some(pd) = plugin_data.as_object_mut() {
        pd.insert("local_gb".into(), json!(local_gb));
    }
    Ok(())
}

/// boot-mode: `boot_mode:<mode>` in `properties.capabilities` ("k:v,k:v").
pub fn boot_mode(node: &mut Node, inventory: &Value) {
    let Some(mode) = inventory
        .pointer("/boot/current_boot_mode")
        .and_then(Value::as_str)
    else {
        return;
    };
    let caps = node
        .properties
        .get("capabilities")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut out: Vec<String> = caps
        .split(',')
        .filter(|c| !c.is_empty() && c.split(':').next() != Some("boot_mode"))
        .map(str::to_string)
        .collect();
    out.push(format!("boot_mode:{mode}"));
    node.properties
        .insert("capabilities".into(), json!(out.join(",")));
}

#[cfg(test)]
#[path = "hooks_tests.rs"]
mod tests;
