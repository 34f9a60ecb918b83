//! Which firmware mode a node deploys in, by Ironic's rules (`boot_mode_utils`).

use serde_json::Value;

use super::{DriverError, TaskContext};
use crate::config::BootMode;

/// One capability from a `capabilities` value: Ironic's "k1:v1,k2:v2" string, or an
/// object (as `instance_info.capabilities` may be).
pub fn capability(caps: Option<&Value>, key: &str) -> Option<String> {
    match caps? {
        Value::String(s) => s
            .split(',')
            .filter_map(|kv| kv.split_once(':'))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().to_string()),
        Value::Object(m) => m.get(key).and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
    .filter(|v| !v.is_empty())
}

/// The boot mode of a deploy (Ironic's `get_boot_mode`): requested secure boot, else
/// `instance_info.capabilities`, `instance_info.deploy_boot_mode`, the node's `boot_mode`
/// capability, the mode the BMC reports (Ironic syncs that into `deploy_boot_mode`), and
/// last `[deploy] default_boot_mode`. A request that contradicts the node's capability is
/// refused, as Ironic does.
pub fn deploy_boot_mode(ctx: &TaskContext<'_>) -> Result<BootMode, DriverError> {
    let node = &*ctx.node;
    let secure = capability(node.instance_info.get("capabilities"), "secure_boot");
    if secure
        .as_deref()
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return Ok(BootMode::Uefi);
    }
    let cap = capability(node.properties.get("capabilities"), "boot_mode");
    let chosen = capability(node.instance_info.get("capabilities"), "boot_mode")
        .or_else(|| {
            node.instance_info
                .get("deploy_boot_mode")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .or_else(|| cap.clone())
        .or_else(|| node.boot_mode.clone().filter(|m| !m.is_empty()));
    let Some(chosen) = chosen.map(|m| m.to_ascii_lowercase()) else {
        return Ok(ctx.config.deploy.default_boot_mode);
    };
    if let Some(cap) = cap.map(|c| c.to_ascii_lowercase()) {
        if cap != chosen {
            return Err(DriverError::InvalidParameterValue(format!(
                "Node {} boot mode {chosen} violates node properties/capabilities {cap}",
                node.uuid
            )));
        }
    }
    BootMode::parse(&chosen).ok_or_else(|| {
        DriverError::InvalidParameterValue(format!(
            "Node {}: invalid boot mode {chosen}; expected bios or uefi",
            node.uuid
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::model::node::Node;
    use serde_json::json;

    fn mode(node: serde_json::Value, boot_mode: Option<&str>) -> Result<BootMode, DriverError> {
        let config = Config::defaults().expect("defaults");
        let mut n = Node {
            uuid: "1be26c0b-03f2-4d2e-ae87-c02d7f33c123".into(),
            boot_mode: boot_mode.map(str::to_string),
            ..Node::default()
        };
        for (k, field) in [
            ("properties", &mut n.properties),
            ("instance_info", &mut n.instance_info),
        ] {
            if let Some(o) = node.get(k).and_then(|v| v.as_object()) {
                *field = o.clone();
            }
        }
        deploy_boot_mode(&TaskContext::new(&mut n, &[], &config))
    }

    #[test]
    fn ironic_precedence_and_default() {
        assert_eq!(
            mode(json!({}), None).unwrap(),
            BootMode::Uefi,
            "[deploy] default"
        );
        assert_eq!(
            mode(json!({}), Some("bios")).unwrap(),
            BootMode::Bios,
            "the BMC's mode"
        );
        let cap = json!({"properties": {"capabilities": "cpu_vt:true,boot_mode:bios"}});
        assert_eq!(mode(cap, Some("uefi")).unwrap(), BootMode::Bios);
        let inst = json!({"instance_info": {"capabilities": {"boot_mode": "bios"}}});
        assert_eq!(mode(inst, None).unwrap(), BootMode::Bios);
        let old = json!({"instance_info": {"deploy_boot_mode": "BIOS"}});
        assert_eq!(mode(old, None).unwrap(), BootMode::Bios);
        let secure = json!({"instance_info": {"capabilities": "secure_boot:true"},
                            "properties": {"capabilities": "boot_mode:uefi"}});
        assert_eq!(mode(secure, None).unwrap(), BootMode::Uefi);
    }

    #[test]
    fn a_request_against_the_capability_or_garbage_is_refused() {
        let clash = json!({"instance_info": {"capabilities": {"boot_mode": "bios"}},
                           "properties": {"capabilities": "boot_mode:uefi"}});
        let e = mode(clash, None).unwrap_err().to_string();
        assert!(
            e.contains("violates node properties/capabilities uefi"),
            "{e}"
        );
        let bad = json!({"instance_info": {"deploy_boot_mode": "efi"}});
        assert!(mode(bad, None)
            .unwrap_err()
            .to_string()
            .contains("invalid boot mode efi"));
    }
}
