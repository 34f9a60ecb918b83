//! BootIntent: what a node should network-boot next. Boot interfaces set it (in
//! `driver_internal_info["boot_intent"]`); the HTTP boot server turns it into an iPXE script
//! when the machine asks. State in the database, rendered on request: no files written.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BootIntent {
    /// Boot a kernel + ramdisk (deploy/rescue/inspection ramdisk, or a ramdisk instance).
    /// `kernel`/`ramdisk`: http(s) URLs, or names of files under `[pxe] http_root`.
    Ramdisk {
        purpose: String,
        kernel: String,
        ramdisk: String,
        append: String,
    },
    /// Boot from the local disk.
    Local,
}

impl BootIntent {
    pub fn of(dii: &super::JsonObject) -> Option<BootIntent> {
        dii.get(super::dii::BOOT_INTENT)
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
    }
}
