//! What the Enroll form does: its fields mapped to the bodies of `POST /v1/nodes` and
//! `POST /v1/ports`, every item checked by the API's own create code before anything is
//! inserted, then the same conductor calls the API makes. A refusal is the API's own text,
//! attributed to the form field it is about.

use serde_json::{json, Map, Value};

use super::form_data::Form;
use crate::api::error::ApiError;
use crate::api::microversion::Version;
use crate::api::resource;
use crate::api::State;
use crate::conductor::ConductorError;
use crate::db::{Page, PortFilter};
use crate::model::node::Node;
use crate::model::port::Port;

/// A refusal shown on a form: the API's error, and the field it is about (if one).
#[derive(Debug)]
pub struct FormError {
    pub field: Option<&'static str>,
    pub error: ApiError,
}

impl FormError {
    pub fn at(field: &'static str, error: ApiError) -> Self {
        FormError {
            field: Some(field),
            error,
        }
    }
}

impl From<ApiError> for FormError {
    fn from(error: ApiError) -> Self {
        FormError { field: None, error }
    }
}

impl From<ConductorError> for FormError {
    fn from(e: ConductorError) -> Self {
        ApiError::from(e).into()
    }
}

/// The form's values, as typed (kept to re-render the form after a refusal; the password
/// is never rendered back).
#[derive(Debug, Default, Clone)]
pub struct EnrollForm {
    pub driver: String,
    pub bmc_address: String,
    pub bmc_port: String,
    pub bmc_username: String,
    pub bmc_password: String,
    pub redfish_system_id: String,
    pub macs: String,
    pub name: String,
    pub cpus: String,
    pub memory_mb: String,
    pub local_gb: String,
    pub cpu_arch: String,
    pub resource_class: String,
}

/// The form's inputs besides the shell's `_csrf` and `_nonce`.
pub const FIELDS: &[&str] = &[
    "driver",
    "bmc_address",
    "bmc_port",
    "bmc_username",
    "bmc_password",
    "redfish_system_id",
    "macs",
    "name",
    "cpus",
    "memory_mb",
    "local_gb",
    "cpu_arch",
    "resource_class",
];

impl EnrollForm {
    /// The values of a posted form (`macs` may be repeated inputs or one a line).
    pub fn from_form(f: &Form) -> Result<EnrollForm, ApiError> {
        let one = |k: &str| -> Result<String, ApiError> { Ok(f.one(k)?.unwrap_or("").into()) };
        Ok(EnrollForm {
            driver: one("driver")?,
            bmc_address: one("bmc_address")?,
            bmc_port: one("bmc_port")?,
            bmc_username: one("bmc_username")?,
            bmc_password: one("bmc_password")?,
            redfish_system_id: one("redfish_system_id")?,
            macs: f.lines("macs").join("\n"),
            name: one("name")?,
            cpus: one("cpus")?,
            memory_mb: one("memory_mb")?,
            local_gb: one("local_gb")?,
            cpu_arch: one("cpu_arch")?,
            resource_class: one("resource_class")?,
        })
    }

    fn macs(&self) -> Vec<&str> {
        self.macs
            .lines()
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .collect()
    }

    /// `driver_info` for the chosen hardware type: the BMC fields under its own keys.
    fn driver_info(&self) -> Result<Map<String, Value>, FormError> {
        let keys: [(&str, &str); 5] = match self.driver.as_str() {
            "ipmi" => [
                ("ipmi_address", &self.bmc_address),
                ("ipmi_port", &self.bmc_port),
                ("ipmi_username", &self.bmc_username),
                ("ipmi_password", &self.bmc_password),
                ("", &self.redfish_system_id),
            ],
            "redfish" => [
                ("redfish_address", &self.bmc_address),
                ("", &self.bmc_port),
                ("redfish_username", &self.bmc_username),
                ("redfish_password", &self.bmc_password),
                ("redfish_system_id", &self.redfish_system_id),
            ],
            // Other types (fake-hardware, manual-management, or a name the API will refuse)
            // have no BMC fields here.
            _ => [
                ("", &self.bmc_address),
                ("", &self.bmc_port),
                ("", &self.bmc_username),
                ("", &self.bmc_password),
                ("", &self.redfish_system_id),
            ],
        };
        let fields = [
            "bmc_address",
            "bmc_port",
            "bmc_username",
            "bmc_password",
            "redfish_system_id",
        ];
        let mut info = Map::new();
        for ((key, val), field) in keys.iter().zip(fields) {
            match (key.is_empty(), val.is_empty()) {
                (_, true) => {}
                (false, false) => {
                    info.insert(key.to_string(), json!(val));
                }
                (true, false) => {
                    return Err(FormError::at(
                        field,
                        ApiError::bad_request(format!(
                            "The {} hardware type does not take the field {field}.",
                            self.driver
                        )),
                    ))
                }
            }
        }
        Ok(info)
    }

    /// The `POST /v1/nodes` body, each key with the form field it came from.
    fn node_body(&self) -> Result<Vec<(&'static str, &'static str, Value)>, FormError> {
        let mut out = vec![("driver", "driver", json!(self.driver))];
        let info = self.driver_info()?;
        if !info.is_empty() {
            out.push(("driver_info", "bmc_address", Value::Object(info)));
        }
        if !self.name.is_empty() {
            out.push(("name", "name", json!(self.name)));
        }
        let mut props = Map::new();
        for (field, val) in [
            ("cpus", &self.cpus),
            ("memory_mb", &self.memory_mb),
            ("local_gb", &self.local_gb),
        ] {
            if val.is_empty() {
                continue;
            }
            let n: u64 = val.parse().map_err(|_| {
                FormError::at(
                    field,
                    ApiError::bad_request(format!(
                        "Invalid value for {field}: {val:?}. It must be a non-negative integer."
                    )),
                )
            })?;
            props.insert(field.into(), json!(n));
        }
        if !self.cpu_arch.is_empty() {
            props.insert("cpu_arch".into(), json!(self.cpu_arch));
        }
        if !props.is_empty() {
            out.push(("properties", "cpus", Value::Object(props)));
        }
        if !self.resource_class.is_empty() {
            out.push((
                "resource_class",
                "resource_class",
                json!(self.resource_class),
            ));
        }
        Ok(out)
    }
}

/// The version the UI speaks: the newest (names, resource classes ... all allowed).
const V: Version = Version::MAX;

/// Check the node as `POST /v1/nodes` does; a refusal is attributed to the field whose key
/// fails on its own.
async fn check_node(
    state: &State,
    parts: &[(&str, &'static str, Value)],
) -> Result<Node, FormError> {
    let body: Map<String, Value> = parts
        .iter()
        .map(|(k, _, v)| (k.to_string(), v.clone()))
        .collect();
    match resource::build::<Node>(state, V, &Value::Object(body)).await {
        Ok(n) => Ok(n),
        Err(e) => {
            for (key, field, val) in parts {
                let mut alone = Map::new();
                alone.insert("driver".into(), json!("x"));
                alone.insert(key.to_string(), val.clone());
                if resource::build::<Node>(state, V, &Value::Object(alone))
                    .await
                    .is_err()
                {
                    return Err(FormError::at(field, e));
                }
            }
            Err(e.into())
        }
    }
}

/// Check every MAC as `POST /v1/ports` does, and that none is given twice or already taken
/// (the port API's own message for a taken MAC).
async fn check_ports(
    state: &State,
    macs: &[&str],
    node_uuid: &str,
) -> Result<Vec<Port>, FormError> {
    let mut ports: Vec<Port> = Vec::new();
    for m in macs {
        // The port API's address check first, so a bad MAC reads exactly as it does there.
        let body = json!({"address": m, "node_uuid": node_uuid});
        let port = resource::build::<Port>(state, V, &body)
            .await
            .map_err(|e| FormError::at("macs", e))?;
        let taken = ports.iter().any(|p| p.address == port.address)
            || !state
                .store
                .port_list(
                    PortFilter {
                        address: Some(port.address.clone()),
                        ..Default::default()
                    },
                    Page::all(),
                )
                .await
                .map_err(ApiError::from)?
                .is_empty();
        if taken {
            return Err(FormError::at(
                "macs",
                ConductorError::MacAlreadyExists(port.address).into(),
            ));
        }
        ports.push(port);
    }
    Ok(ports)
}

/// Enroll: check the node and every port, then create the node and its ports with the
/// conductor calls of `POST /v1/nodes` and `POST /v1/ports`. Nothing is left behind when
/// a check fails; a port refused at insert (a MAC taken meanwhile) undoes the node.
pub async fn enroll(state: &State, form: &EnrollForm) -> Result<Node, FormError> {
    let parts = form.node_body()?;
    let node = check_node(state, &parts).await?;
    let ports = check_ports(state, &form.macs(), &node.uuid).await?;
    let node = state.conductor.node_create(node).await.map_err(|e| {
        let field = match &e {
            ConductorError::NoValidHost { .. } | ConductorError::DriverNotFound(_) => {
                Some("driver")
            }
            ConductorError::DuplicateName(_) => Some("name"),
            _ => None,
        };
        FormError {
            field,
            error: e.into(),
        }
    })?;
    let mut made: Vec<Port> = Vec::new();
    for p in ports {
        match state.conductor.port_create(p).await {
            Ok(p) => made.push(p),
            Err(e) => {
                for p in made {
                    let _ = state.conductor.port_delete(p).await;
                }
                let _ = state.conductor.node_delete(node).await;
                return Err(FormError::at("macs", e.into()));
            }
        }
    }
    Ok(node)
}

/// Each interface's result of `GET /v1/nodes/{id}/validate`, by the same conductor call,
/// reasons masked as the API masks them.
pub async fn validate(
    state: &State,
    node: &Node,
) -> Result<Vec<(String, bool, Option<String>)>, ApiError> {
    Ok(state
        .conductor
        .node_validate(node)
        .await?
        .into_iter()
        .map(|(kind, r)| {
            (
                kind.to_string(),
                r.ok,
                r.reason
                    .map(|s| crate::model::secrets::mask_text(&s).into_owned()),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(driver: &str) -> EnrollForm {
        EnrollForm {
            driver: driver.into(),
            bmc_address: "10.0.0.5".into(),
            bmc_username: "admin".into(),
            bmc_password: "s3cret".into(),
            ..Default::default()
        }
    }

    #[test]
    fn bmc_fields_map_to_each_drivers_keys() {
        let info = form("ipmi").driver_info().unwrap();
        assert_eq!(
            Value::Object(info),
            json!({"ipmi_address": "10.0.0.5", "ipmi_username": "admin", "ipmi_password": "s3cret"})
        );
        let mut f = form("redfish");
        f.redfish_system_id = "/redfish/v1/Systems/1".into();
        let info = f.driver_info().unwrap();
        assert_eq!(
            Value::Object(info),
            json!({"redfish_address": "10.0.0.5", "redfish_username": "admin",
                   "redfish_password": "s3cret", "redfish_system_id": "/redfish/v1/Systems/1"})
        );
        let e = form("fake-hardware").driver_info().unwrap_err();
        assert_eq!(e.field, Some("bmc_address"));
        let mut f = form("redfish");
        f.bmc_port = "623".into();
        assert_eq!(f.driver_info().unwrap_err().field, Some("bmc_port"));
        assert!(EnrollForm {
            driver: "fake-hardware".into(),
            ..Default::default()
        }
        .driver_info()
        .unwrap()
        .is_empty());
    }

    #[test]
    fn properties_are_integers() {
        let mut f = EnrollForm {
            driver: "fake-hardware".into(),
            cpus: "4".into(),
            memory_mb: "2048".into(),
            cpu_arch: "x86_64".into(),
            ..Default::default()
        };
        let parts = f.node_body().unwrap();
        let props = parts.iter().find(|(k, _, _)| *k == "properties").unwrap();
        assert_eq!(
            props.2,
            json!({"cpus": 4, "memory_mb": 2048, "cpu_arch": "x86_64"})
        );
        f.local_gb = "-1".into();
        let e = f.node_body().unwrap_err();
        assert_eq!(e.field, Some("local_gb"));
        assert_eq!(
            e.error.message,
            "Invalid value for local_gb: \"-1\". It must be a non-negative integer."
        );
    }

    #[test]
    fn macs_come_one_a_line() {
        let f = Form::parse(b"driver=fake-hardware&macs=52:54:00:00:00:01%0D%0A52:54:00:00:00:02&macs=52:54:00:00:00:03").unwrap();
        let e = EnrollForm::from_form(&f).unwrap();
        assert_eq!(
            e.macs(),
            [
                "52:54:00:00:00:01",
                "52:54:00:00:00:02",
                "52:54:00:00:00:03"
            ]
        );
    }
}
