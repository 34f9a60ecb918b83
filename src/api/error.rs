//! ApiError and the ONE place that turns any error into an HTTP response in Ironic's shape:
//! `{"error_message": "<JSON string>"}`, the inner JSON being either a fault
//! (`faultcode`/`faultstring`/`debuginfo`) or, for routing and version errors, the
//! `code`/`title`/`description` form Ironic's framework emits. python-ironicclient and
//! openstacksdk decode the inner string, so the double encoding is load-bearing.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::conductor::ConductorError;
use crate::db::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Routing/version errors use the framework shape (code/title/description).
    pub framework: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            framework: false,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    /// A field, parameter or endpoint newer than the requested microversion.
    pub fn not_acceptable() -> Self {
        Self::new(StatusCode::NOT_ACCEPTABLE, "Request not acceptable.")
    }
    /// An endpoint that does not exist at the requested microversion.
    pub fn unsupported_version() -> Self {
        Self::not_found("The API is not supported for this version")
    }
    pub fn framework(status: StatusCode, description: impl Into<String>) -> Self {
        ApiError {
            status,
            message: description.into(),
            framework: true,
        }
    }
    /// A path no route has (webob's text, which Ironic's framework answers with).
    pub fn unknown_path() -> Self {
        Self::framework(StatusCode::NOT_FOUND, "The resource could not be found.")
    }
    pub fn method_not_allowed() -> Self {
        Self::framework(
            StatusCode::METHOD_NOT_ALLOWED,
            "The method is not allowed for this resource.",
        )
    }
    /// A method the resource does not have (webob's text).
    pub fn method_not_allowed_for(method: &str) -> Self {
        Self::framework(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("The method {method} is not allowed for this resource."),
        )
    }
    pub fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request body is too large. Please contact the service administrator.",
        )
    }
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        // The detail goes to the log, never to the client.
        tracing::error!(error = %detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    }

    /// The JSON body, Ironic's double-encoded shape.
    pub fn body(&self) -> String {
        let inner = if self.framework {
            serde_json::json!({
                "code": self.status.as_u16(),
                "title": self.status.canonical_reason().unwrap_or(""),
                "description": self.message,
            })
        } else {
            let code = if self.status.is_server_error() {
                "Server"
            } else {
                "Client"
            };
            serde_json::json!({"faultcode": code, "faultstring": self.message, "debuginfo": null})
        };
        serde_json::json!({ "error_message": python_json(&inner) }).to_string()
    }

    // Ironic's recurring texts for resources, each written once.

    /// A sort key that is no field or column (Ironic's database layer quotes it).
    pub fn invalid_sort_key(key: &str) -> Self {
        Self::bad_request(format!(
            "The sort_key value \"{key}\" is an invalid field for sorting"
        ))
    }
    /// A field in the resource's `invalid_sort_key_list` (Ironic's API layer does not quote it).
    pub fn unsortable_key(key: &str) -> Self {
        Self::bad_request(format!(
            "The sort_key value {key} is an invalid field for sorting"
        ))
    }
    /// `?fields=` naming fields the resource does not have.
    pub fn invalid_fields(unknown: &[&str]) -> Self {
        Self::bad_request(format!("Field(s) \"{}\" are not valid", unknown.join(", ")))
    }
    /// `kind` as Ironic capitalizes it: "Port", "Deploy template".
    pub fn resource_not_found(kind: &str, ident: &str) -> Self {
        Self::not_found(format!("{kind} {ident} could not be found."))
    }
    pub fn expected_uuid_or_name(what: &str, ident: &str) -> Self {
        Self::bad_request(format!("Expected UUID or name for {what}: {ident}"))
    }
    pub fn expected_uuid(what: &str, ident: &str) -> Self {
        Self::bad_request(format!("Expected UUID for {what}: {ident}"))
    }
    /// `verb` is "create" or "update", `kind` "node", "portgroup", "allocation".
    pub fn invalid_name(verb: &str, kind: &str, name: &str) -> Self {
        Self::bad_request(format!("Cannot {verb} {kind} with invalid name '{name}'"))
    }
    /// A JSON schema rejecting a key of a request body for resource `res`.
    pub fn unexpected(res: &str, key: &str) -> Self {
        Self::bad_request(format!(
            "Schema error for {res}: Additional properties are not allowed ('{key}' was unexpected)"
        ))
    }
    pub fn required(res: &str, key: &str) -> Self {
        Self::bad_request(format!(
            "Schema error for {res}: '{key}' is a required property"
        ))
    }

    // Ironic's texts for refused requests, each written once.

    /// A body or query key the endpoint does not take.
    pub fn unknown_argument(key: &str) -> Self {
        Self::bad_request(format!("Unknown argument: \"{key}\""))
    }
    /// A required body key that is absent.
    pub fn missing_argument(key: &str) -> Self {
        Self::bad_request(format!("Missing argument: \"{key}\""))
    }
    /// A verb (provision or power target) that cannot apply to a node in `state`; the
    /// conductor refuses a transition with the same text.
    pub fn invalid_state_requested(action: &str, node: &str, state: &str) -> Self {
        Self::from(ConductorError::InvalidStateRequested {
            action: action.into(),
            node: node.into(),
            state: state.into(),
        })
    }
    /// A provision request key that only goes with some verbs.
    pub fn only_valid_with_target(key: &str, verbs: &str) -> Self {
        Self::bad_request(format!(
            "\"{key}\" is only valid when setting target provision state to {verbs}"
        ))
    }
}

/// JSON text as Python's json.dumps writes it (`", "` and `": "` separators, keys in
/// the order given), which is what clients see inside `error_message`.
fn python_json(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(m) => {
            let parts: Vec<String> = [
                "faultcode",
                "faultstring",
                "debuginfo",
                "code",
                "title",
                "description",
            ]
            .iter()
            .filter_map(|k| {
                m.get(*k)
                    .map(|val| format!("\"{k}\": {}", python_json(val)))
            })
            .collect();
            format!("{{{}}}", parts.join(", "))
        }
        other => other.to_string(),
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status);
        resp.content_type("application/json");
        if self.status == StatusCode::UNAUTHORIZED {
            resp.insert_header(("WWW-Authenticate", "Basic realm=\"Baremetal API\""));
        }
        resp.body(self.body())
    }
}

impl From<ConductorError> for ApiError {
    fn from(e: ConductorError) -> Self {
        use ConductorError as C;
        let status = match &e {
            C::NodeNotFound(_)
            | C::NotFound(_)
            | C::PortNotFound(_)
            | C::PortgroupNotFound(_)
            | C::ChassisNotFound(_)
            | C::ConductorNotFound(_)
            | C::NodeTraitNotFound { .. }
            | C::HistoryNotFound(_)
            | C::DriverNotFound(_)
            | C::AllocationNotFound(_)
            | C::DeployTemplateNotFound(_) => StatusCode::NOT_FOUND,
            C::InvalidParameterValue(_)
            | C::MissingParameterValue(_)
            | C::NoValidHost { .. }
            | C::InvalidStateRequested { .. }
            | C::NodeInMaintenance { .. }
            | C::NodeIsRetired { .. }
            | C::DriverError(_)
            | C::Unsupported { .. }
            | C::ChassisNotEmpty(_)
            | C::PortgroupNotEmpty(_)
            | C::NoFreePhysicalPorts(_)
            | C::VifNotAttached { .. } => StatusCode::BAD_REQUEST,
            C::DuplicateName(_)
            | C::NodeAlreadyExists(_)
            | C::MacAlreadyExists(_)
            | C::PortAlreadyExists(_)
            | C::PortDuplicateName(_)
            | C::PortgroupAlreadyExists(_)
            | C::PortgroupDuplicateName(_)
            | C::PortgroupMacAlreadyExists(_)
            | C::ChassisAlreadyExists(_)
            | C::NodeAssociated { .. }
            | C::InstanceAssociated { .. }
            | C::InvalidState(_)
            | C::NodeLocked { .. }
            | C::AllocationDuplicateName(_)
            | C::AllocationAlreadyExists(_)
            | C::DeployTemplateDuplicateName(_)
            | C::DeployTemplateAlreadyExists(_)
            | C::RunbookDuplicateName(_)
            | C::RunbookAlreadyExists(_)
            | C::InspectionRuleAlreadyExists(_)
            | C::VifAlreadyAttached(_)
            | C::VolumeConnectorAlreadyExists(_)
            | C::VolumeConnectorTypeAndIdAlreadyExists { .. }
            | C::VolumeTargetAlreadyExists(_)
            | C::VolumeTargetBootIndexAlreadyExists(_) => StatusCode::CONFLICT,
            C::NodeProtected(_) => StatusCode::FORBIDDEN,
            C::NoFreeConductorWorker | C::DiscoveryRateLimited | C::TemporaryFailure(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            C::Store(inner) => return ApiError::from_store(inner),
        };
        let message = match &e {
            C::NoValidHost { .. } => format!("{e} Ensure the driver is valid and enabled."),
            _ => e.to_string(),
        };
        ApiError::new(status, message)
    }
}

impl ApiError {
    fn from_store(e: &StoreError) -> Self {
        match e {
            StoreError::NotFound { what, id } => {
                ApiError::not_found(format!("{what} {id} could not be found."))
            }
            StoreError::Worker(w) if w.contains("cancelled") => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Service is shutting down")
            }
            e if e.is_busy() => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is busy; please retry.",
            ),
            other => ApiError::internal(other),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::from_store(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_body_is_double_encoded() {
        let e = ApiError::bad_request("Limit must be positive");
        let outer: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
        let inner = outer["error_message"].as_str().unwrap();
        assert_eq!(
            inner,
            r#"{"faultcode": "Client", "faultstring": "Limit must be positive", "debuginfo": null}"#
        );
    }

    #[test]
    fn framework_body() {
        let e = ApiError::method_not_allowed();
        let outer: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
        assert_eq!(
            outer["error_message"],
            r#"{"code": 405, "title": "Method Not Allowed", "description": "The method is not allowed for this resource."}"#
        );
    }

    #[test]
    fn conductor_errors_map_to_ironic_codes() {
        let cases: Vec<(ConductorError, u16)> = vec![
            (ConductorError::NodeNotFound("x".into()), 404),
            (ConductorError::MacAlreadyExists("m".into()), 409),
            (ConductorError::ChassisNotEmpty("c".into()), 400),
            (ConductorError::NodeProtected("n".into()), 403),
            (
                ConductorError::NodeLocked {
                    node: "n".into(),
                    host: "h".into(),
                },
                409,
            ),
        ];
        for (e, code) in cases {
            assert_eq!(ApiError::from(e).status.as_u16(), code);
        }
    }
}
