//! Firmware components (Ironic's firmware_information): what a firmware interface read
//! from the hardware, what the conductor stored, and the `firmware.update` step's
//! `settings` argument with Ironic's rules for it.

use serde_json::Value;

/// Component names Ironic knows besides `nic:<id>`.
pub const BIOS: &str = "bios";
pub const BMC: &str = "bmc";
pub const NIC_PREFIX: &str = "nic:";

/// One component as read from the hardware.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Component {
    pub component: String,
    pub current_version: String,
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
}

/// One stored component (`GET /v1/nodes/{id}/firmware`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ComponentRow {
    pub component: String,
    pub initial_version: String,
    pub current_version: Option<String>,
    pub last_version_flashed: Option<String>,
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

/// One entry of `firmware.update`'s `settings`.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateSetting {
    pub component: String,
    pub url: String,
    /// Seconds to wait after this component's update finished.
    pub wait: Option<u64>,
}

/// The longest `wait` ironbox accepts (a step holds its node's lock while it waits).
pub const MAX_WAIT: u64 = 3600;

/// Parse `settings` by Ironic's schema: a non-empty list of `{component, url[, wait]}`,
/// component `bios`, `bmc` or `nic:...`, url non-empty, wait a positive integer.
pub fn parse_update_settings(settings: Option<&Value>) -> Result<Vec<UpdateSetting>, String> {
    let shown = settings.map_or("None".to_string(), Value::to_string);
    let bad = |why: String| format!("Invalid firmware update {shown}. Errors: {why}");
    let list = match settings {
        Some(Value::Array(a)) if !a.is_empty() => a,
        Some(Value::Array(_)) => return Err(bad("[] should be non-empty".into())),
        Some(other) => return Err(bad(format!("{other} is not of type 'array'"))),
        None => return Err(bad("'settings' is a required argument".into())),
    };
    list.iter()
        .map(|item| {
            let o = item
                .as_object()
                .ok_or_else(|| bad(format!("{item} is not of type 'object'")))?;
            if let Some(k) = o
                .keys()
                .find(|k| !["component", "url", "wait"].contains(&k.as_str()))
            {
                return Err(bad(format!(
                    "Additional properties are not allowed ('{k}' was unexpected)"
                )));
            }
            let component = match o.get("component") {
                Some(Value::String(c)) if c == BIOS || c == BMC || c.starts_with(NIC_PREFIX) => {
                    c.clone()
                }
                Some(c) => {
                    return Err(bad(format!(
                        "{c} is not valid: component must be \"bios\", \"bmc\" or \"nic:<id>\""
                    )))
                }
                None => return Err(bad("'component' is a required property".into())),
            };
            let url = match o.get("url") {
                Some(Value::String(u)) if !u.is_empty() => u.clone(),
                Some(u) => return Err(bad(format!("{u} is not a non-empty string"))),
                None => return Err(bad("'url' is a required property".into())),
            };
            let wait = match o.get("wait") {
                None => None,
                Some(w) => match w.as_u64() {
                    Some(n) if (1..=MAX_WAIT).contains(&n) => Some(n),
                    _ => {
                        return Err(bad(format!(
                            "{w} is not an integer between 1 and {MAX_WAIT}"
                        )))
                    }
                },
            };
            Ok(UpdateSetting {
                component,
                url,
                wait,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_follow_ironics_schema() {
        let ok = parse_update_settings(Some(&json!([
            {"component": "bios", "url": "http://x/bios.bin"},
            {"component": "nic:NIC.1", "url": "http://x/nic.bin", "wait": 30}
        ])))
        .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[1].wait, Some(30));
        for bad in [
            json!([]),
            json!({"component": "bios"}),
            json!([{"component": "disk", "url": "http://x"}]),
            json!([{"component": "bios"}]),
            json!([{"component": "bios", "url": ""}]),
            json!([{"component": "bios", "url": "http://x", "wait": 0}]),
            json!([{"component": "bios", "url": "http://x", "checksum": "abc"}]),
        ] {
            let e = parse_update_settings(Some(&bad)).unwrap_err();
            assert!(e.starts_with("Invalid firmware update "), "{e}");
        }
        assert!(parse_update_settings(None).is_err());
    }
}
