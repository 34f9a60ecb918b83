//! A node's volume connectors (its storage initiators: iqn, wwpn, ...) and volume targets
//! (the volumes it boots from or attaches), as Ironic keeps them for boot-from-volume.

use super::JsonObject;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct VolumeConnector {
    pub id: i64,
    pub uuid: String,
    pub node_uuid: String,
    /// `iqn`, `ip`, `mac`, `wwnn`, `wwpn`, `portal` by convention; Ironic stores any string.
    pub connector_type: String,
    pub connector_id: String,
    pub extra: JsonObject,
    pub created_at: String,
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct VolumeTarget {
    pub id: i64,
    pub uuid: String,
    pub node_uuid: String,
    pub volume_type: String,
    /// Connection details (may hold credentials: masked in views).
    pub properties: JsonObject,
    /// Unique per node; 0 is the boot volume.
    pub boot_index: i64,
    pub volume_id: String,
    pub extra: JsonObject,
    pub created_at: String,
    pub updated_at: Option<String>,
}
