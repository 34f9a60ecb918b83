//! What "Enroll with BMC credentials" does for a machine that auto-discovery enrolled: the
//! BMC address its inspection recorded plus the credentials typed into the form become
//! `driver_info` through the API's own JSON-patch code (`PATCH /v1/nodes/{id}`), then the
//! `manage` verb runs as `PUT /v1/nodes/{id}/states/provision` runs it (verifying →
//! manageable). A refusal is the API's own text, attributed to the field it is about.

use serde_json::{json, Map, Value};

use super::enroll::FormError;
use super::form_data::Form;
use crate::api::error::ApiError;
use crate::api::microversion::Version;
use crate::api::params::provision::{provision_body, ProvisionRequest};
use crate::api::resource::{self, Update};
use crate::api::State;
use crate::conductor::fsm::Event;
use crate::conductor::ConductorError;
use crate::model::node::Node;
use crate::model::states::ENROLL;

/// The form's values, as typed (the password is never rendered back).
#[derive(Debug, Default, Clone)]
pub struct BmcForm {
    pub driver: String,
    pub bmc_username: String,
    pub bmc_password: String,
    pub bmc_port: String,
    pub redfish_system_id: String,
    /// "https" (default) or "http": how the Redfish service is reached.
    pub redfish_scheme: String,
}

/// The form's inputs besides the shell's `_csrf` and `_nonce`.
pub const FIELDS: &[&str] = &[
    "driver",
    "bmc_username",
    "bmc_password",
    "bmc_port",
    "redfish_system_id",
    "redfish_scheme",
];

/// The hardware types this form can fill `driver_info` for.
pub const DRIVERS: &[&str] = &["ipmi", "redfish"];

/// Whether auto-discovery enrolled `node`: the flag in its `driver_internal_info`, or in
/// the stored inspection data (`plugin_data`) when given.
pub fn is_discovered(node: &Node, plugin_data: Option<&Value>) -> bool {
    let flag = |v: Option<&Value>| v.and_then(Value::as_bool) == Some(true);
    flag(node.driver_internal_info.get("auto_discovered"))
        || flag(plugin_data.and_then(|p| p.get("auto_discovered")))
}

/// The BMC address the inspection recorded: the inventory's `bmc_address`, else its
/// `bmc_v6address`. IPA reports "no BMC" as `0.0.0.0` and `::/0`; those, and anything that
/// is not an IP address, count as none.
pub fn recorded_bmc(inventory: &Value) -> Option<String> {
    let v4 = inventory
        .get("bmc_address")
        .and_then(Value::as_str)
        .and_then(|s| s.trim().parse::<std::net::Ipv4Addr>().ok())
        .filter(|a| !a.is_unspecified());
    if let Some(a) = v4 {
        return Some(a.to_string());
    }
    inventory
        .get("bmc_v6address")
        .and_then(Value::as_str)
        .map(|s| s.trim().split('/').next().unwrap_or(""))
        .and_then(|s| s.parse::<std::net::Ipv6Addr>().ok())
        .filter(|a| !a.is_unspecified())
        .map(|a| a.to_string())
}

impl BmcForm {
    pub fn from_form(f: &Form) -> Result<BmcForm, ApiError> {
        let one = |k: &str| -> Result<String, ApiError> {
            Ok(f.one(k)?.unwrap_or("").trim().to_string())
        };
        Ok(BmcForm {
            driver: one("driver")?,
            bmc_username: one("bmc_username")?,
            // A password may start or end with a space: taken as typed.
            bmc_password: f.one("bmc_password")?.unwrap_or("").to_string(),
            bmc_port: one("bmc_port")?,
            redfish_system_id: one("redfish_system_id")?,
            redfish_scheme: one("redfish_scheme")?,
        })
    }

    fn port(&self) -> Result<Option<u16>, FormError> {
        if self.bmc_port.is_empty() {
            return Ok(None);
        }
        match self.bmc_port.parse::<u16>() {
            Ok(p) if p > 0 => Ok(Some(p)),
            _ => Err(FormError::at(
                "bmc_port",
                ApiError::bad_request(format!(
                    "Invalid port {:?}: a number from 1 to 65535.",
                    self.bmc_port
                )),
            )),
        }
    }

    /// `driver_info` for the chosen hardware type, the BMC reached at `address`.
    pub fn driver_info(&self, address: &str) -> Result<Map<String, Value>, FormError> {
        let port = self.port()?;
        let mut info = Map::new();
        let mut put = |k: &str, v: &str| {
            if !v.is_empty() {
                info.insert(k.into(), json!(v));
            }
        };
        match self.driver.as_str() {
            "ipmi" => {
                if !self.redfish_system_id.is_empty() {
                    return Err(FormError::at(
                        "redfish_system_id",
                        ApiError::bad_request(
                            "The ipmi hardware type does not take the field redfish_system_id.",
                        ),
                    ));
                }
                put("ipmi_address", address);
                put("ipmi_username", &self.bmc_username);
                put("ipmi_password", &self.bmc_password);
                if let Some(p) = port {
                    info.insert("ipmi_port".into(), json!(p));
                }
            }
            "redfish" => {
                let scheme = match self.redfish_scheme.as_str() {
                    "" | "https" => "https",
                    "http" => "http",
                    other => {
                        return Err(FormError::at(
                            "redfish_scheme",
                            ApiError::bad_request(format!(
                                "Invalid scheme {other:?}: https or http."
                            )),
                        ))
                    }
                };
                // An IPv6 address goes in brackets inside a URL.
                let host = if address.contains(':') {
                    format!("[{address}]")
                } else {
                    address.to_string()
                };
                let url = match port {
                    Some(p) => format!("{scheme}://{host}:{p}"),
                    None => format!("{scheme}://{host}"),
                };
                put("redfish_address", &url);
                put("redfish_username", &self.bmc_username);
                put("redfish_password", &self.bmc_password);
                put("redfish_system_id", &self.redfish_system_id);
            }
            other => {
                return Err(FormError::at(
                    "driver",
                    ApiError::bad_request(format!(
                        "Enrolling with BMC credentials takes the ipmi or redfish hardware type, not {other:?}."
                    )),
                ))
            }
        }
        Ok(info)
    }

    /// The `PATCH /v1/nodes/{id}` body: the driver, then each driver_info key (`add`
    /// replaces a key a rule may have set already).
    fn patch(&self, node: &Node, address: &str) -> Result<Value, FormError> {
        let mut ops = Vec::new();
        if node.driver != self.driver {
            ops.push(json!({"op": "replace", "path": "/driver", "value": self.driver}));
        }
        for (k, v) in self.driver_info(address)? {
            ops.push(json!({"op": "add", "path": format!("/driver_info/{k}"), "value": v}));
        }
        Ok(Value::Array(ops))
    }
}

/// The version the UI speaks: the newest.
const V: Version = Version::MAX;

/// Why the form cannot be used on `node` now, in the words of a 409.
pub fn refusal(node: &Node, plugin_data: Option<&Value>) -> Option<String> {
    if !is_discovered(node, plugin_data) {
        return Some(format!(
            "Node {} was not enrolled by auto-discovery: set its driver_info with PATCH /v1/nodes/{}.",
            node.uuid, node.uuid
        ));
    }
    (node.provision_state != ENROLL).then(|| {
        format!(
            "Node {} is in state \"{}\": BMC credentials are given to a discovered machine in enroll.",
            node.uuid, node.provision_state
        )
    })
}

/// Give `node` its BMC: checks first (the form, the node's state, the `manage` verb against
/// the state table), so a refusal changes nothing; then the patch as `PATCH` saves it, then
/// `manage` as the provision API runs it.
pub async fn enroll_with_bmc(
    state: &State,
    node: Node,
    plugin_data: Option<&Value>,
    inventory: Option<&Value>,
    form: &BmcForm,
) -> Result<(), FormError> {
    if let Some(why) = refusal(&node, plugin_data) {
        return Err(ApiError::conflict(why).into());
    }
    let address = inventory.and_then(recorded_bmc).ok_or_else(|| {
        FormError::from(ApiError::conflict(format!(
            "The inspection of node {} recorded no BMC address (inventory bmc_address or bmc_v6address): set driver_info with PATCH /v1/nodes/{}.",
            node.uuid, node.uuid
        )))
    })?;
    let body = form.patch(&node, &address)?;
    let provision = json!({"target": "manage"});
    ProvisionRequest::parse(provision_body(&provision)?, V, &node)?;
    crate::conductor::provision::precheck(
        &node,
        "manage",
        Event::Manage,
        state.config.conductor.allow_provisioning_in_maintenance,
    )?;
    let (new, changed) =
        resource::patched(&node, state, V, &body, Node::patchable(V), |n, k, v| {
            n.set_field(k, v, V, "update")
        })?;
    // A new hardware type brings its own default interfaces, as `?reset_interfaces` does.
    let reset = changed.iter().any(|c| c == "driver");
    let node = state
        .conductor
        .node_update(node, new, &changed, reset)
        .await
        .map_err(|e| {
            let field = match &e {
                ConductorError::NoValidHost { .. } | ConductorError::DriverNotFound(_) => {
                    Some("driver")
                }
                _ => None,
            };
            FormError {
                field,
                error: e.into(),
            }
        })?;
    let ProvisionRequest { target, args } =
        ProvisionRequest::parse(provision_body(&provision)?, V, &node)?;
    state
        .conductor
        .node_set_provision_state(node, target.verb, target.event, args)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(driver: &str) -> BmcForm {
        BmcForm {
            driver: driver.into(),
            bmc_username: "admin".into(),
            bmc_password: "s3cret".into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_recorded_address_is_v4_then_v6_never_ipas_none() {
        let inv = json!({"bmc_address": "10.0.0.7", "bmc_v6address": "fd00::7"});
        assert_eq!(recorded_bmc(&inv).as_deref(), Some("10.0.0.7"));
        let inv = json!({"bmc_address": "0.0.0.0", "bmc_v6address": "fd00::7/64"});
        assert_eq!(recorded_bmc(&inv).as_deref(), Some("fd00::7"));
        let inv = json!({"bmc_address": "0.0.0.0", "bmc_v6address": "::/0"});
        assert_eq!(recorded_bmc(&inv), None);
        for junk in [
            json!({"bmc_address": "bmc; rm -rf /"}),
            json!({"bmc_address": 7}),
            json!(null),
            json!([]),
        ] {
            assert_eq!(recorded_bmc(&junk), None, "{junk}");
        }
    }

    #[test]
    fn each_driver_gets_its_own_keys() {
        let mut f = form("ipmi");
        f.bmc_port = "6230".into();
        assert_eq!(
            Value::Object(f.driver_info("10.0.0.7").unwrap()),
            json!({"ipmi_address": "10.0.0.7", "ipmi_username": "admin",
                   "ipmi_password": "s3cret", "ipmi_port": 6230})
        );
        let mut f = form("redfish");
        f.redfish_system_id = "/redfish/v1/Systems/1".into();
        assert_eq!(
            Value::Object(f.driver_info("fd00::7").unwrap()),
            json!({"redfish_address": "https://[fd00::7]", "redfish_username": "admin",
                   "redfish_password": "s3cret", "redfish_system_id": "/redfish/v1/Systems/1"})
        );
        f.redfish_scheme = "http".into();
        f.bmc_port = "8000".into();
        let info = f.driver_info("10.0.0.7").unwrap();
        assert_eq!(
            info.get("redfish_address"),
            Some(&json!("http://10.0.0.7:8000"))
        );
    }

    #[test]
    fn bad_values_name_their_field() {
        for (port, ok) in [("0", false), ("65536", false), ("x", false), ("623", true)] {
            let mut f = form("ipmi");
            f.bmc_port = port.into();
            let r = f.driver_info("10.0.0.7");
            assert_eq!(r.is_ok(), ok, "{port}");
            if let Err(e) = r {
                assert_eq!(e.field, Some("bmc_port"));
            }
        }
        let mut f = form("ipmi");
        f.redfish_system_id = "/x".into();
        assert_eq!(
            f.driver_info("a").unwrap_err().field,
            Some("redfish_system_id")
        );
        let mut f = form("redfish");
        f.redfish_scheme = "ftp".into();
        assert_eq!(
            f.driver_info("a").unwrap_err().field,
            Some("redfish_scheme")
        );
        assert_eq!(
            form("fake-hardware").driver_info("a").unwrap_err().field,
            Some("driver")
        );
    }

    #[test]
    fn only_a_discovered_machine_in_enroll_qualifies() {
        let mut n = Node {
            uuid: "u".into(),
            provision_state: ENROLL.into(),
            ..Default::default()
        };
        assert!(refusal(&n, None).is_some());
        assert!(refusal(&n, Some(&json!({"auto_discovered": true}))).is_none());
        assert!(refusal(&n, Some(&json!({"auto_discovered": "yes"}))).is_some());
        n.driver_internal_info
            .insert("auto_discovered".into(), json!(true));
        assert!(refusal(&n, None).is_none());
        n.provision_state = "manageable".into();
        assert!(refusal(&n, None).unwrap().contains("manageable"));
    }
}
