//! Per-node driver options every BMC driver honours the same way (Metal3 sets them):
//! `force_persistent_boot_device` and `kernel_append_params` with its `%default%` marker.

use serde_json::Value;

use super::DriverError;
use crate::model::node::Node;

/// Ironic's `node_set_boot_device`: `Always`/`Never` override what the caller asked,
/// `Default` (or unset) keeps it; a boolean-looking value from older clients that is
/// true means `Always`.
pub fn boot_device_persistence(node: &Node, asked: bool) -> Result<bool, DriverError> {
    match node.driver_info.get("force_persistent_boot_device") {
        None | Some(Value::Null) => Ok(asked),
        Some(Value::Bool(b)) => Ok(asked || *b),
        Some(Value::String(s)) => match s.as_str() {
            "Default" => Ok(asked),
            "Always" => Ok(true),
            "Never" => Ok(false),
            other if truthy(other) => Ok(true),
            other if falsy(other) => Ok(asked),
            other => Err(bad_persistence(other)),
        },
        Some(other) => Err(bad_persistence(&other.to_string())),
    }
}

fn bad_persistence(value: &str) -> DriverError {
    DriverError::InvalidParameterValue(format!(
        "Invalid value {value} for driver_info/force_persistent_boot_device. \
         Allowed values are Default, Always, Never."
    ))
}

fn truthy(s: &str) -> bool {
    matches!(
        s.to_ascii_lowercase().as_str(),
        "1" | "t" | "true" | "on" | "y" | "yes"
    )
}

fn falsy(s: &str) -> bool {
    matches!(
        s.to_ascii_lowercase().as_str(),
        "0" | "f" | "false" | "off" | "n" | "no"
    )
}

/// The kernel command line for a ramdisk: `kernel_append_params` from instance_info, then
/// driver_info, else `default`; a `%default%` inside it stands for `default`.
pub fn kernel_append_params(node: &Node, default: &str) -> String {
    for source in [&node.instance_info, &node.driver_info] {
        if let Some(v) = source.get("kernel_append_params").and_then(Value::as_str) {
            return v.replace("%default%", default);
        }
    }
    default.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(di: Value, ii: Value) -> Node {
        Node {
            driver_info: di.as_object().cloned().unwrap_or_default(),
            instance_info: ii.as_object().cloned().unwrap_or_default(),
            ..Default::default()
        }
    }

    #[test]
    fn persistence_follows_the_override() {
        let p = |v: Value, asked| boot_device_persistence(&node(v, json!({})), asked);
        let k = "force_persistent_boot_device";
        let cases = [
            (json!({}), false, false),
            (json!({}), true, true),
            (json!({k: "Default"}), true, true),
            (json!({k: "Always"}), false, true),
            (json!({k: "Never"}), true, false),
            (json!({k: "true"}), false, true),
            (json!({k: "False"}), true, true),
            (json!({k: true}), false, true),
        ];
        for (v, asked, want) in cases {
            assert_eq!(p(v.clone(), asked).unwrap(), want, "{v} {asked}");
        }
        let e = p(json!({k: "Sometimes"}), true).unwrap_err().to_string();
        assert!(
            e.contains("force_persistent_boot_device") && e.contains("Sometimes"),
            "{e}"
        );
        assert!(p(json!({k: 3}), true).is_err());
    }

    #[test]
    fn default_marker_expands() {
        let k = |di: Value, ii: Value| kernel_append_params(&node(di, ii), "nofb vga=normal");
        assert_eq!(k(json!({}), json!({})), "nofb vga=normal");
        assert_eq!(
            k(
                json!({"kernel_append_params": "%default% console=ttyS0"}),
                json!({})
            ),
            "nofb vga=normal console=ttyS0"
        );
        assert_eq!(
            k(json!({"kernel_append_params": "quiet"}), json!({})),
            "quiet"
        );
        // instance_info wins over driver_info.
        assert_eq!(
            k(
                json!({"kernel_append_params": "a"}),
                json!({"kernel_append_params": "b %default%"})
            ),
            "b nofb vga=normal"
        );
    }
}
