//! A network port (NIC) of a node; its MAC is what the boot servers recognise.

use super::JsonObject;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Port {
    pub id: i64,
    pub uuid: String,
    pub name: Option<String>,
    pub address: String,
    pub node_uuid: String,
    pub portgroup_uuid: Option<String>,
    pub local_link_connection: JsonObject,
    pub pxe_enabled: bool,
    pub physical_network: Option<String>,
    pub is_smartnic: bool,
    pub description: Option<String>,
    pub vendor: Option<String>,
    pub category: Option<String>,
    pub internal_info: JsonObject,
    pub extra: JsonObject,
    pub created_at: String,
    pub updated_at: Option<String>,
}
