//! The node: Ironic's central object, one row of `nodes`.

use super::secrets::Masked;
use super::JsonObject;

/// Every node field Ironic exposes, stored as-is. `chassis_uuid`, `traits` and
/// `allocation_uuid` are resolved by the store from their own tables. Its `Debug` masks
/// secrets as the API does.
#[derive(Clone, Default, PartialEq)]
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

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let blob = |obj| Masked {
            obj,
            instance_info: false,
        };
        f.debug_struct("Node")
            .field("id", &self.id)
            .field("uuid", &self.uuid)
            .field("name", &self.name)
            .field("chassis_uuid", &self.chassis_uuid)
            .field("driver", &self.driver)
            .field("driver_info", &blob(&self.driver_info))
            .field("driver_internal_info", &blob(&self.driver_internal_info))
            .field("properties", &blob(&self.properties))
            .field(
                "instance_info",
                &Masked {
                    obj: &self.instance_info,
                    instance_info: true,
                },
            )
            .field("instance_uuid", &self.instance_uuid)
            .field("instance_name", &self.instance_name)
            .field("extra", &blob(&self.extra))
            .field("power_state", &self.power_state)
            .field("target_power_state", &self.target_power_state)
            .field("provision_state", &self.provision_state)
            .field("target_provision_state", &self.target_provision_state)
            .field("provision_updated_at", &self.provision_updated_at)
            .field("maintenance", &self.maintenance)
            .field("maintenance_reason", &self.maintenance_reason)
            .field("fault", &self.fault)
            .field("last_error", &self.last_error)
            .field("reservation", &self.reservation)
            .field("console_enabled", &self.console_enabled)
            .field("raid_config", &blob(&self.raid_config))
            .field("target_raid_config", &blob(&self.target_raid_config))
            .field("clean_step", &blob(&self.clean_step))
            .field("deploy_step", &blob(&self.deploy_step))
            .field("service_step", &blob(&self.service_step))
            .field("inspection_started_at", &self.inspection_started_at)
            .field("inspection_finished_at", &self.inspection_finished_at)
            .field("resource_class", &self.resource_class)
            .field("interfaces", &self.interfaces)
            .field("conductor_group", &self.conductor_group)
            .field("automated_clean", &self.automated_clean)
            .field("protected", &self.protected)
            .field("protected_reason", &self.protected_reason)
            .field("owner", &self.owner)
            .field("lessee", &self.lessee)
            .field("description", &self.description)
            .field("allocation_uuid", &self.allocation_uuid)
            .field("retired", &self.retired)
            .field("retired_reason", &self.retired_reason)
            .field("network_data", &blob(&self.network_data))
            .field("boot_mode", &self.boot_mode)
            .field("secure_boot", &self.secure_boot)
            .field("shard", &self.shard)
            .field("parent_node", &self.parent_node)
            .field("disable_power_off", &self.disable_power_off)
            .field("health", &self.health)
            .field("traits", &self.traits)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
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
