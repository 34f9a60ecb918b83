//! A group of ports bonded together on one node.

use super::JsonObject;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Portgroup {
    pub id: i64,
    pub uuid: String,
    pub name: Option<String>,
    pub node_uuid: String,
    pub address: Option<String>,
    pub standalone_ports_supported: bool,
    pub mode: Option<String>,
    pub properties: JsonObject,
    pub physical_network: Option<String>,
    pub category: Option<String>,
    pub internal_info: JsonObject,
    pub extra: JsonObject,
    pub created_at: String,
    pub updated_at: Option<String>,
}
