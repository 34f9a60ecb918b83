//! The `redfish` inspect interface (Ironic's redfish/inspect.py): out-of-band inventory
//! from the ComputerSystem and its collections into node properties and NIC MACs.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::*;

/// cpu_arch from a Processor's InstructionSet, else its ProcessorArchitecture. (Ironic
/// reads only the architecture, so an ARM system becomes "arm"; the instruction set
/// tells aarch64 apart.)
pub fn cpu_arch(architecture: Option<&str>, instruction_set: Option<&str>) -> Option<&'static str> {
    let by_set = match instruction_set {
        Some("x86-64") => Some("x86_64"),
        Some("x86") => Some("i686"),
        Some("ARM-A64") => Some("aarch64"),
        Some("ARM-A32") => Some("arm"),
        Some("IA-64") => Some("ia64"),
        Some("MIPS64") => Some("mips64"),
        Some("MIPS32") => Some("mips"),
        Some("PowerISA") => Some("ppc64le"),
        _ => None,
    };
    by_set.or(match architecture {
        Some("x86") => Some("x86_64"),
        Some("IA-64") => Some("ia64"),
        Some("ARM") => Some("aarch64"),
        Some("MIPS") => Some("mips"),
        Some("Power") => Some("ppc64le"),
        _ => None,
    })
}

const GIB: u64 = 1 << 30;

/// Ironic's local_gb: of each source (SimpleStorage devices; Storage volumes, else
/// drives) the first disk of at least 4 GiB; the smaller of the two when both have one;
/// in GiB, minus 1 (a margin for partitioning), never below 0.
pub fn local_gb(simple: &[u64], storage: &[u64]) -> u64 {
    let first_big = |sizes: &[u64]| sizes.iter().copied().find(|s| *s >= 4 * GIB).unwrap_or(0);
    let (a, b) = (first_big(simple), first_big(storage));
    let bytes = if a > 0 && b > 0 { a.min(b) } else { a.max(b) };
    (bytes / GIB).saturating_sub(1)
}

/// `capabilities` ("k:v,k2:v2") with `key` set to `value` unless already present.
pub fn with_capability(caps: &str, key: &str, value: &str) -> String {
    let has = caps
        .split(',')
        .filter_map(|kv| kv.split_once(':'))
        .any(|(k, _)| k.trim() == key);
    match (caps.trim().is_empty(), has) {
        (_, true) => caps.to_string(),
        (true, false) => format!("{key}:{value}"),
        (false, false) => format!("{caps},{key}:{value}"),
    }
}

/// At most this many members of any collection are read (a hostile BMC cannot make an
/// inspection run forever).
const MAX_MEMBERS: usize = 64;

fn sizes_of(v: &Value) -> Option<u64> {
    v["CapacityBytes"].as_u64()
}

async fn collection_members(c: &Client, link: &Value) -> Vec<Value> {
    let Some(path) = link["@odata.id"].as_str() else {
        return vec![];
    };
    let Ok(ids) = crate::metrics::bmc_timed("redfish", "inspect_list", c.members(path)).await
    else {
        return vec![];
    };
    let mut out = vec![];
    for id in ids.into_iter().take(MAX_MEMBERS) {
        if let Ok(v) = crate::metrics::bmc_timed("redfish", "inspect_get", c.get(&id)).await {
            out.push(v);
        }
    }
    out
}

pub struct RedfishInspect;

#[async_trait]
impl StepInterface for RedfishInspect {
    async fn validate(&self, ctx: &TaskContext<'_>) -> Result<(), DriverError> {
        endpoint(ctx).map(|_| ())
    }
}

#[async_trait]
impl InspectInterface for RedfishInspect {
    /// Out-of-band inventory into node properties (memory_mb, cpus, cpu_arch, local_gb,
    /// boot_mode capability) and the enabled NICs' MACs for the conductor to make ports.
    async fn inspect_hardware(&self, ctx: &mut TaskContext<'_>) -> Result<Progress, DriverError> {
        let c = client(ctx)?;
        let (_, sys) = system(&c).await?;
        let mut props = ctx.node.properties.clone();
        // An inventory in the agent's shape, as Ironic's redfish inspection stores it.
        let mut inventory = serde_json::Map::new();
        if let Some(gib) = sys
            .pointer("/MemorySummary/TotalSystemMemoryGiB")
            .and_then(Value::as_f64)
        {
            if gib > 0.0 {
                let mb = (gib * 1024.0).round() as u64;
                props.insert("memory_mb".into(), json!(mb));
                inventory.insert("memory".into(), json!({ "physical_mb": mb }));
            }
        }
        let processors = collection_members(&c, field(&sys, "Processors")).await;
        let count = sys
            .pointer("/ProcessorSummary/Count")
            .and_then(Value::as_u64)
            .filter(|n| *n > 0)
            .or((!processors.is_empty()).then_some(processors.len() as u64));
        let mut cpu = serde_json::Map::new();
        if let Some(n) = count {
            props.insert("cpus".into(), json!(n));
            cpu.insert("count".into(), json!(n));
        }
        if let Some(p) = processors.first() {
            if let Some(arch) = cpu_arch(
                p.get("ProcessorArchitecture").and_then(Value::as_str),
                p.get("InstructionSet").and_then(Value::as_str),
            ) {
                props.insert("cpu_arch".into(), json!(arch));
                cpu.insert("architecture".into(), json!(arch));
            }
            if let Some(m) = p.get("Model").and_then(Value::as_str) {
                cpu.insert("model_name".into(), json!(m));
            }
            if let Some(f) = p.get("MaxSpeedMHz").and_then(Value::as_u64) {
                cpu.insert("frequency".into(), json!(f));
            }
        }
        if !cpu.is_empty() {
            inventory.insert("cpu".into(), Value::Object(cpu));
        }
        let (mut simple, mut disks) = (vec![], vec![]);
        for s in collection_members(&c, field(&sys, "SimpleStorage")).await {
            for d in s
                .get("Devices")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(size) = sizes_of(d) {
                    simple.push(size);
                    disks.push(json!({"name": field(d, "Name"), "size": size}));
                }
            }
        }
        let (mut volumes, mut drives) = (vec![], vec![]);
        for s in collection_members(&c, field(&sys, "Storage")).await {
            for v in collection_members(&c, field(&s, "Volumes")).await {
                volumes.extend(sizes_of(&v));
            }
            for d in redfish::member_links(field(&s, "Drives"))
                .into_iter()
                .take(MAX_MEMBERS)
            {
                if let Ok(v) = crate::metrics::bmc_timed("redfish", "inspect_get", c.get(&d)).await
                {
                    if let Some(size) = sizes_of(&v) {
                        drives.push(size);
                        disks.push(json!({"name": field(&v, "Name"), "size": size}));
                    }
                }
            }
        }
        inventory.insert("disks".into(), json!(disks));
        simple.sort_unstable();
        let mut storage = if volumes.is_empty() { drives } else { volumes };
        storage.sort_unstable();
        props.insert(
            "local_gb".into(),
            json!(local_gb(&simple, &storage).to_string()),
        );
        let mode = match sys
            .pointer("/Boot/BootSourceOverrideMode")
            .and_then(Value::as_str)
        {
            Some("UEFI") => Some("uefi"),
            Some("Legacy") => Some("bios"),
            _ => None,
        };
        if let Some(m) = mode {
            let caps = props
                .get("capabilities")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            props.insert(
                "capabilities".into(),
                json!(with_capability(&caps, "boot_mode", m)),
            );
            inventory.insert("boot".into(), json!({ "current_boot_mode": m }));
        }
        let missing: Vec<&str> = ["memory_mb", "cpu_arch", "local_gb"]
            .into_iter()
            .filter(|k| !props.contains_key(*k))
            .collect();
        if !missing.is_empty() {
            return Err(DriverError::Failed(format!(
                "Failed to discover the following properties: {} on node {}",
                missing.join(", "),
                ctx.node.uuid
            )));
        }
        let mut macs = vec![];
        for nic in collection_members(&c, field(&sys, "EthernetInterfaces")).await {
            let enabled = nic
                .pointer("/Status/State")
                .and_then(Value::as_str)
                .is_none_or(|s| s == "Enabled");
            let mac = nic
                .get("MACAddress")
                .and_then(Value::as_str)
                .or(nic.get("PermanentMACAddress").and_then(Value::as_str))
                .filter(|m| !m.is_empty());
            if let (true, Some(mac)) = (enabled, mac) {
                macs.push(mac.to_lowercase());
            }
        }
        inventory.insert(
            "interfaces".into(),
            json!(macs
                .iter()
                .map(|m| json!({ "mac_address": m }))
                .collect::<Vec<_>>()),
        );
        let mut vendor = serde_json::Map::new();
        for (key, field) in [
            ("product_name", "Model"),
            ("serial_number", "SerialNumber"),
            ("manufacturer", "Manufacturer"),
        ] {
            if let Some(v) = sys
                .get(field)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
            {
                vendor.insert(key.into(), json!(v));
            }
        }
        if !vendor.is_empty() {
            inventory.insert("system_vendor".into(), Value::Object(vendor));
        }
        ctx.node.properties = props;
        ctx.discovered = Discovered {
            inventory: Some(Value::Object(inventory)),
            plugin_data: None,
            macs,
        };
        Ok(Progress::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_helpers() {
        assert_eq!(cpu_arch(Some("x86"), Some("x86-64")), Some("x86_64"));
        assert_eq!(cpu_arch(Some("ARM"), None), Some("aarch64"));
        assert_eq!(cpu_arch(None, None), None);
        // 20 GiB and 2 GiB simple storage, no Storage: the first >= 4 GiB, minus 1.
        assert_eq!(local_gb(&[2 * GIB, 20 * GIB], &[]), 19);
        assert_eq!(local_gb(&[20 * GIB], &[10 * GIB]), 9);
        assert_eq!(local_gb(&[GIB], &[]), 0);
        assert_eq!(with_capability("", "boot_mode", "uefi"), "boot_mode:uefi");
        assert_eq!(
            with_capability("a:b", "boot_mode", "uefi"),
            "a:b,boot_mode:uefi"
        );
        assert_eq!(
            with_capability("boot_mode:bios", "boot_mode", "uefi"),
            "boot_mode:bios"
        );
    }
}
