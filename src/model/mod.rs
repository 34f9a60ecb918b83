//! Plain domain types shared by every layer: no I/O, no async.
//! Field names are Ironic's, so a reader can map them to the api-ref one to one.

pub mod allocation;
pub mod bios;
pub mod boot;
pub mod chassis;
pub mod conductor;
pub mod deploy_template;
pub mod dii;
pub mod firmware;
pub mod hints;
pub mod history;
pub mod indicator;
pub mod inspection_rule;
pub mod ipxe;
pub mod lldp;
pub mod mac;
pub mod netlog;
pub mod node;
pub mod port;
pub mod portgroup;
pub mod raid;
pub mod rate;
pub mod rescue_password;
pub mod runbook;
pub mod secrets;
pub mod states;
pub mod step;
pub mod timeline;
pub mod validate;
pub mod vif;
pub mod vmedia;
pub mod volume;

/// A JSON object blob (driver_info, properties, extra, ...).
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

/// Current time in the format Ironic emits: ISO 8601, microseconds, explicit `+00:00`.
/// Fixed width, so the TEXT columns sort chronologically.
pub fn now() -> String {
    format_time(chrono::Utc::now())
}

pub fn format_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

/// A fresh random UUID in canonical lower-case form.
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}
