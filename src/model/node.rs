//! The node: Ironic's central object, one row of `nodes`.

use super::JsonObject;

/// Every node field Ironic exposes, stored as-is. `chassis_uuid`, `traits` and
/// `allocation_uuid` are resolved by the store from their own tables.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Node {
    pub id: i64,
    pub uuid: String,
    pub name: Option<String>,
    pub chassis_uuid: Option<String>,
    pub driver: String,
    pub driver_info: JsonObject,
    pub driver_internal_info: JsonObject,
    pub properties: JsonObject,
    pub instance_info: JsonObject,
    pub instance_uuid: Option<String>,
    pub instance_name: Option<String>,
    pub extra: JsonObject,
    pub power_state: Option<String>,
    pub target_power_state: Option<String>,
    pub provision_state: String,
    pub target_provision_state: Option<String>,
    pub provision_updated_at: Option<String>,
    pub maintenance: bool,
    pub maintenance_reason: Option<String>,
    pub fault: Option<String>,
    pub last_error: Option<String>,
    pub reservation: Option<String>,
    pub console_enabled: bool,
    pub raid_config: JsonObject,
    pub target_raid_config: JsonObject,
    pub clean_step: JsonObject,
    pub deploy_step: JsonObject,
    pub service_step: JsonObject,
    pub inspection_started_at: Option<String>,
    pub inspection_finished_at: Option<String>,
    pub resource_class: Option<String>,
    pub interfaces: Interfaces,
    pub conductor_group: String,
    pub automated_clean: Option<bool>,
    pub protected: bool,
    pub protected_reason: Option<String>,
    pub owner: Option<String>,
    pub lessee: Option<String>,
    pub description: Option<String>,
    pub allocation_uuid: Option<String>,
    pub retired: bool,
    pub retired_reason: Option<String>,
    pub network_data: JsonObject,
    pub boot_mode: Option<String>,
    pub secure_boot: Option<bool>,
    pub shard: Option<String>,
    pub parent_node: Option<String>,
    pub disable_power_off: bool,
    pub health: Option<String>,
    pub traits: Vec<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

/// The hardware interfaces Ironic lets a node choose, in its order.
pub const INTERFACE_KINDS: [&str; 13] = [
    "bios",
    "boot",
    "console",
    "deploy",
    "firmware",
    "inspect",
    "management",
    "network",
    "power",
    "raid",
    "rescue",
    "storage",
    "vendor",
];

/// A node's chosen implementation per interface kind (None until resolved).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Interfaces(pub [Option<String>; 13]);

impl Interfaces {
    pub fn get(&self, kind: &str) -> Option<&str> {
        let (_, value) = INTERFACE_KINDS
            .iter()
            .zip(&self.0)
            .find(|(k, _)| **k == kind)?;
        value.as_deref()
    }

    pub fn set(&mut self, kind: &str, value: Option<String>) {
        if let Some((_, slot)) = INTERFACE_KINDS
            .iter()
            .zip(&mut self.0)
            .find(|(k, _)| **k == kind)
        {
            *slot = value;
        }
    }
}
