//! The enabled drivers: which hardware types and interface implementations this conductor
//! loads (from `[DEFAULT] enabled_*`), and how a node's interfaces are chosen and checked.

use std::collections::BTreeMap;

use super::hardware_types::{self, HardwareType, AVAILABLE};
use crate::config::{Config, ConfigError};
use crate::model::node::INTERFACE_KINDS;

#[derive(Debug, Clone)]
pub struct Registry {
    /// Enabled hardware types, in configured order.
    pub hardware_types: Vec<&'static str>,
    /// Enabled implementations per interface kind.
    enabled: BTreeMap<&'static str, Vec<String>>,
    /// Configured `default_<kind>_interface`.
    defaults: BTreeMap<&'static str, Option<String>>,
    /// `[deploy] erase_devices_priority`, `erase_devices_metadata_priority`.
    erase_priorities: (i64, i64),
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum InterfaceError {
    #[error("Could not find the following interface in the 'ironic.hardware.interfaces.{kind}' entrypoint: {name}. Valid interfaces are {valid}.")]
    NotEnabled {
        kind: String,
        name: String,
        valid: String,
    },
    #[error("Hardware type '{hw}' does not support {kind} interface '{name}'. Supported interfaces are: {valid}.")]
    Unsupported {
        hw: String,
        kind: String,
        name: String,
        valid: String,
    },
    #[error("No default value found for {kind} interface for hardware type {hw}.")]
    NoDefault { hw: String, kind: String },
}

fn enabled_list<'a>(
    c: &'a crate::config::DefaultSection,
    kind: &str,
) -> (
    &'a Vec<String>,
    &'a Option<String>,
    &'static str,
    &'static str,
) {
    match kind {
        "bios" => (
            &c.enabled_bios_interfaces,
            &c.default_bios_interface,
            "enabled_bios_interfaces",
            "default_bios_interface",
        ),
        "boot" => (
            &c.enabled_boot_interfaces,
            &c.default_boot_interface,
            "enabled_boot_interfaces",
            "default_boot_interface",
        ),
        "console" => (
            &c.enabled_console_interfaces,
            &c.default_console_interface,
            "enabled_console_interfaces",
            "default_console_interface",
        ),
        "deploy" => (
            &c.enabled_deploy_interfaces,
            &c.default_deploy_interface,
            "enabled_deploy_interfaces",
            "default_deploy_interface",
        ),
        "firmware" => (
            &c.enabled_firmware_interfaces,
            &c.default_firmware_interface,
            "enabled_firmware_interfaces",
            "default_firmware_interface",
        ),
        "inspect" => (
            &c.enabled_inspect_interfaces,
            &c.default_inspect_interface,
            "enabled_inspect_interfaces",
            "default_inspect_interface",
        ),
        "management" => (
            &c.enabled_management_interfaces,
            &c.default_management_interface,
            "enabled_management_interfaces",
            "default_management_interface",
        ),
        "network" => (
            &c.enabled_network_interfaces,
            &c.default_network_interface,
            "enabled_network_interfaces",
            "default_network_interface",
        ),
        "power" => (
            &c.enabled_power_interfaces,
            &c.default_power_interface,
            "enabled_power_interfaces",
            "default_power_interface",
        ),
        "raid" => (
            &c.enabled_raid_interfaces,
            &c.default_raid_interface,
            "enabled_raid_interfaces",
            "default_raid_interface",
        ),
        "rescue" => (
            &c.enabled_rescue_interfaces,
            &c.default_rescue_interface,
            "enabled_rescue_interfaces",
            "default_rescue_interface",
        ),
        "storage" => (
            &c.enabled_storage_interfaces,
            &c.default_storage_interface,
            "enabled_storage_interfaces",
            "default_storage_interface",
        ),
        _ => (
            &c.enabled_vendor_interfaces,
            &c.default_vendor_interface,
            "enabled_vendor_interfaces",
            "default_vendor_interface",
        ),
    }
}

fn available(kind: &str) -> &'static [&'static str] {
    AVAILABLE
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(&[], |(_, v)| v)
}

impl Registry {
    /// Check the `[DEFAULT] enabled_*` options against what this build provides, and that
    /// every enabled hardware type can load (each kind has an enabled supported implementation).
    pub fn from_config(cfg: &Config) -> Result<Registry, ConfigError> {
        let d = &cfg.default;
        let bad = |key: &'static str, reason: String| ConfigError::Invalid {
            path: cfg.source.clone(),
            section: "DEFAULT",
            key,
            reason,
        };
        let mut enabled = BTreeMap::new();
        let mut defaults = BTreeMap::new();
        for kind in INTERFACE_KINDS {
            let (list, default, key, dkey) = enabled_list(d, kind);
            if list.is_empty() {
                return Err(bad(key, "at least one interface must be enabled".into()));
            }
            for name in list {
                if !available(kind).contains(&name.as_str()) {
                    return Err(bad(
                        key,
                        format!(
                            "unknown {kind} interface {name:?}; available: {}",
                            available(kind).join(", ")
                        ),
                    ));
                }
            }
            if let Some(dflt) = default {
                if !list.contains(dflt) {
                    return Err(bad(dkey, format!("{dflt:?} is not in {key}")));
                }
            }
            enabled.insert(kind, list.clone());
            defaults.insert(kind, default.clone());
        }
        let mut hardware_types = Vec::new();
        for name in &d.enabled_hardware_types {
            let hw = hardware_types::find(name).ok_or_else(|| {
                bad(
                    "enabled_hardware_types",
                    format!(
                        "unknown hardware type {name:?}; available: {}",
                        hardware_types::HARDWARE_TYPES
                            .iter()
                            .map(|h| h.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
            hardware_types.push(hw.name);
        }
        let reg = Registry {
            hardware_types,
            enabled,
            defaults,
            erase_priorities: (
                cfg.deploy.erase_devices_priority,
                cfg.deploy.erase_devices_metadata_priority,
            ),
        };
        for name in &reg.hardware_types {
            for kind in INTERFACE_KINDS {
                if let Some(hw) = hardware_types::find(name) {
                    reg.default_for(hw, kind)
                        .map_err(|e| bad("enabled_hardware_types", e.to_string()))?;
                }
            }
        }
        Ok(reg)
    }

    pub fn is_enabled_type(&self, name: &str) -> bool {
        self.hardware_types.contains(&name)
    }

    pub fn enabled(&self, kind: &str) -> &[String] {
        self.enabled.get(kind).map_or(&[], |v| v.as_slice())
    }

    /// What `kind` may be for `hw`: enabled ∩ supported (fake-hardware: anything enabled).
    pub fn usable(&self, hw: &HardwareType, kind: &str) -> Vec<String> {
        let enabled = self.enabled(kind);
        if hw.accepts_any_enabled {
            return enabled.to_vec();
        }
        hw.supported(kind)
            .iter()
            .filter(|s| enabled.iter().any(|e| e == *s))
            .map(|s| s.to_string())
            .collect()
    }

    /// Ironic's default: `default_<kind>_interface` if usable, else the first supported
    /// implementation that is enabled.
    pub fn default_for(&self, hw: &HardwareType, kind: &str) -> Result<String, InterfaceError> {
        let usable = self.usable(hw, kind);
        if let Some(Some(d)) = self.defaults.get(kind) {
            if usable.contains(d) {
                return Ok(d.clone());
            }
        }
        hw.supported(kind)
            .iter()
            .find(|s| usable.iter().any(|u| u == *s))
            .map(|s| s.to_string())
            .ok_or_else(|| InterfaceError::NoDefault {
                hw: hw.name.into(),
                kind: kind.into(),
            })
    }

    /// Check an explicitly requested implementation for a hardware type.
    pub fn check(&self, hw: &HardwareType, kind: &str, name: &str) -> Result<(), InterfaceError> {
        let enabled = self.enabled(kind);
        if !enabled.iter().any(|e| e == name) {
            // Quoted as a Python list, as Ironic prints it.
            let valid = format!(
                "[{}]",
                enabled
                    .iter()
                    .map(|e| format!("'{e}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return Err(InterfaceError::NotEnabled {
                kind: kind.into(),
                name: name.into(),
                valid,
            });
        }
        let usable = self.usable(hw, kind);
        if !usable.iter().any(|u| u == name) {
            return Err(InterfaceError::Unsupported {
                hw: hw.name.into(),
                kind: kind.into(),
                name: name.into(),
                valid: usable.join(", "),
            });
        }
        Ok(())
    }
}

impl Registry {
    /// Build the node's driver from its (already validated) interface names.
    pub fn build(
        &self,
        node: &crate::model::node::Node,
    ) -> Result<super::Driver, super::DriverError> {
        use super::{fake, noop};
        use std::sync::Arc;
        let name = |kind: &str| node.interfaces.get(kind).unwrap_or("").to_string();
        let missing = |kind: &str| {
            super::DriverError::InvalidParameterValue(format!(
                "{kind} interface {:?} is not available for node {}",
                name(kind),
                node.uuid
            ))
        };
        let power: Arc<dyn super::PowerInterface> = match name("power").as_str() {
            "fake" => Arc::new(fake::FakePower),
            "ipmitool" => Arc::new(super::ipmitool::IpmiPower),
            "redfish" | "idrac-redfish" => Arc::new(super::redfish::RedfishPower),
            _ => return Err(missing("power")),
        };
        let management: Arc<dyn super::ManagementInterface> = match name("management").as_str() {
            "fake" => Arc::new(fake::FakeManagement),
            "noop" => Arc::new(noop::NoopManagement),
            "ipmitool" => Arc::new(super::ipmitool::IpmiManagement),
            "redfish" | "idrac-redfish" => Arc::new(super::redfish::RedfishManagement),
            _ => return Err(missing("management")),
        };
        // One value per kind that is both a StepInterface and the kind's own trait.
        macro_rules! pick {
            ($kind:literal, $tr:path) => {{
                let n = name($kind);
                let v: Arc<dyn $tr> = if n == "fake" {
                    Arc::new(fake::FakeSteps::new($kind))
                } else if n.starts_with("no-") {
                    Arc::new(noop::Unsupported { kind: $kind })
                } else {
                    return Err(missing($kind));
                };
                v
            }};
        }
        let deploy: Arc<dyn super::DeployInterface> = match name("deploy").as_str() {
            "fake" => Arc::new(fake::FakeSteps::new("deploy")),
            "ramdisk" => Arc::new(super::ramdisk::RamdiskDeploy),
            "direct" => Arc::new(super::direct::DirectDeploy {
                erase_devices_priority: self.erase_priorities.0,
                erase_devices_metadata_priority: self.erase_priorities.1,
            }),
            "custom-agent" => Arc::new(super::custom_agent::CustomAgentDeploy {
                direct: super::direct::DirectDeploy {
                    erase_devices_priority: self.erase_priorities.0,
                    erase_devices_metadata_priority: self.erase_priorities.1,
                },
            }),
            _ => return Err(missing("deploy")),
        };
        let boot: Arc<dyn super::BootInterface> = match name("boot").as_str() {
            "fake" => Arc::new(fake::FakeSteps::new("boot")),
            "ipxe" | "pxe" | "http" | "http-ipxe" => Arc::new(super::pxe::NetBoot),
            "redfish-virtual-media" | "idrac-redfish-virtual-media" => {
                Arc::new(super::redfish::RedfishVirtualMediaBoot)
            }
            _ => return Err(missing("boot")),
        };
        let mut others: Vec<(&'static str, Arc<dyn super::StepInterface>)> = vec![];
        for kind in ["bios", "firmware", "network", "raid", "storage"] {
            let n = name(kind);
            let i: Arc<dyn super::StepInterface> = match (kind, n.as_str()) {
                ("bios", "redfish" | "idrac-redfish") => Arc::new(super::redfish::RedfishBios),
                ("firmware", "redfish") => Arc::new(super::redfish::RedfishFirmware),
                (_, n) => match n {
                    "fake" => Arc::new(fake::FakeSteps::new(kind)),
                    "noop" | "flat" => Arc::new(noop::Noop),
                    x if x.starts_with("no-") => Arc::new(noop::Unsupported { kind }),
                    _ => return Err(missing(kind)),
                },
            };
            others.push((kind, i));
        }
        Ok(super::Driver {
            name: node.driver.clone(),
            power,
            management,
            boot,
            deploy,
            inspect: match name("inspect").as_str() {
                "agent" => Arc::new(super::agent_inspect::AgentInspect),
                "redfish" | "idrac-redfish" => Arc::new(super::redfish::RedfishInspect),
                _ => pick!("inspect", super::InspectInterface),
            },
            rescue: match name("rescue").as_str() {
                "agent" => Arc::new(super::agent_rescue::AgentRescue),
                _ => pick!("rescue", super::RescueInterface),
            },
            console: match name("console").as_str() {
                "fake" => Arc::new(super::console::FakeConsole),
                "ipmitool-socat" => Arc::new(super::console::IpmiSocatConsole),
                x if x.starts_with("no-") => Arc::new(noop::Unsupported { kind: "console" }),
                _ => return Err(missing("console")),
            },
            vendor: match name("vendor").as_str() {
                "redfish" | "idrac-redfish" => Arc::new(super::redfish::RedfishVendor),
                _ => pick!("vendor", super::VendorInterface),
            },
            others,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_for_fake_hardware() {
        let reg = Registry::from_config(&Config::defaults().unwrap()).unwrap();
        let hw = hardware_types::find("fake-hardware").unwrap();
        assert_eq!(reg.default_for(hw, "power").unwrap(), "fake");
        assert_eq!(reg.default_for(hw, "network").unwrap(), "noop");
        assert_eq!(reg.default_for(hw, "storage").unwrap(), "noop");
        assert!(
            reg.check(hw, "management", "noop").is_ok(),
            "fake-hardware accepts any enabled"
        );
        assert!(matches!(
            reg.check(hw, "power", "ilo"),
            Err(InterfaceError::NotEnabled { .. })
        ));
    }

    #[test]
    fn unknown_names_are_config_errors() {
        let c = Config::parse("[DEFAULT]\nenabled_power_interfaces = [\"bogus\"]", "t").unwrap();
        let e = Registry::from_config(&c).unwrap_err().to_string();
        assert!(
            e.contains("enabled_power_interfaces") && e.contains("bogus"),
            "{e}"
        );
        let c = Config::parse("[DEFAULT]\nenabled_hardware_types = [\"nope\"]", "t").unwrap();
        assert!(Registry::from_config(&c).is_err());
        let c = Config::parse("[DEFAULT]\ndefault_power_interface = \"x\"", "t").unwrap();
        assert!(Registry::from_config(&c).is_err());
    }
}
