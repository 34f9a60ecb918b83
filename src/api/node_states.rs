//! Node actions: `/states/provision`, `/states/power`, `/states/console`, `/states/raid`,
//! `/states/boot_mode`, `/states/secure_boot`, `/management/*` and vendor passthru. Each
//! checks the request as Ironic's API does, then hands the work to the conductor.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::nodes::find;
use super::params::provision::{provision_body, runbook, ProvisionRequest};
use super::params::{json_body, object_with, Query};
use super::resource::body;
use super::views::Reader;
use super::{base_url, State};

/// A JSON body under the API's general size limit.
/// A body that is `{key: value}` and nothing else; the value (null when absent).
async fn single_arg(
    req: &HttpRequest,
    state: &State,
    payload: web::Payload,
    key: &str,
) -> Result<Value, ApiError> {
    let body = body(req, payload, state).await?;
    let obj = object_with(&body, &[key])?;
    Ok(obj.get(key).cloned().unwrap_or(Value::Null))
}

/// 202 pointing at the node's states, for a change the conductor has started.
fn accepted_states(req: &HttpRequest, state: &State, uuid: &str) -> HttpResponse {
    let base = base_url(req, state);
    HttpResponse::Accepted()
        .insert_header(("Location", format!("{base}/v1/nodes/{uuid}/states")))
        .finish()
}

/// `PUT /v1/nodes/{id}/states/provision`
pub async fn provision(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let api = &state.config.api;
    let body = json_body(
        &req,
        payload,
        api.max_json_body_size_provision,
        api.max_json_body_depth,
    )
    .await?;
    let obj = provision_body(&body)?;
    let node = find(&state, &path, v).await?;
    let mut request = ProvisionRequest::parse(obj, v, &node)?;
    if let Some(rb) = runbook(obj, v)? {
        // Ironic resolves a runbook after the state check: a request that cannot start
        // is refused for that first.
        crate::conductor::provision::precheck(
            &node,
            request.target.verb,
            request.target.event,
            state.config.conductor.allow_provisioning_in_maintenance,
        )?;
        super::runbooks::apply_to(&state, v, &node, rb, &mut request).await?;
    }
    let ProvisionRequest { target, args } = request;
    let uuid = node.uuid.clone();
    state
        .conductor
        .node_set_provision_state(node, target.verb, target.event, args)
        .await?;
    Ok(accepted_states(&req, &state, &uuid))
}

/// `PUT /v1/nodes/{id}/states/power`
pub async fn power(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = body(&req, payload, &state).await?;
    let obj = object_with(&body, &["target", "timeout"])?;
    let node = find(&state, &path, v).await?;
    let target = obj
        .get("target")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::missing_argument("target"))?;
    if !crate::model::states::POWER_TARGETS.contains(&target) {
        let power = node.power_state.as_deref().unwrap_or("None");
        return Err(ApiError::invalid_state_requested(target, &node.uuid, power));
    }
    if target.starts_with("soft") && !v.at_least(27) {
        return Err(ApiError::not_acceptable());
    }
    let timeout = match obj.get("timeout") {
        None | Some(Value::Null) => None,
        Some(_) if !v.at_least(27) => return Err(ApiError::not_acceptable()),
        Some(t) => match t.as_u64() {
            Some(n) if n >= 1 => Some(n),
            _ => {
                return Err(ApiError::bad_request(format!(
                "Invalid timeout value {}. The timeout must be an integer of at least 1 second.",
                t
            )))
            }
        },
    };
    let uuid = node.uuid.clone();
    state
        .conductor
        .node_set_power_state(node, target, timeout)
        .await?;
    Ok(accepted_states(&req, &state, &uuid))
}

/// `GET/PUT /v1/nodes/{id}/management/boot_device`
pub async fn boot_device_get(
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let node = find(&state, &path, v).await?;
    let (dev, persistent) = state.conductor.node_get_boot_device(node).await?;
    Ok(HttpResponse::Ok().json(json!({"boot_device": dev, "persistent": persistent})))
}

pub async fn boot_device_set(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = body(&req, payload, &state).await?;
    let obj = object_with(&body, &["boot_device", "persistent"])?;
    let q = Query::parse(&req)?;
    let device = obj
        .get("boot_device")
        .and_then(Value::as_str)
        .or_else(|| q.get("boot_device"))
        .ok_or_else(|| ApiError::missing_argument("boot_device"))?
        .to_string();
    let persistent = match obj.get("persistent") {
        None | Some(Value::Null) => false,
        Some(p) => Reader { res: "body" }.bool("persistent", p)?,
    };
    let node = find(&state, &path, v).await?;
    state
        .conductor
        .node_set_boot_device(node, device, persistent)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn boot_device_supported(
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let node = find(&state, &path, v).await?;
    let list = state.conductor.node_supported_boot_devices(node).await?;
    Ok(HttpResponse::Ok().json(json!({ "supported_boot_devices": list })))
}

/// `PUT /v1/nodes/{id}/management/inject_nmi` (1.29)
pub async fn inject_nmi(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    super::resource::optional_body(&req, payload, &state).await?;
    if !v.at_least(29) {
        return Err(ApiError::unsupported_version());
    }
    let node = find(&state, &path, v).await?;
    state.conductor.node_inject_nmi(node).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `PUT /v1/nodes/{id}/states/boot_mode` (1.76)
pub async fn boot_mode(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(76) {
        return Err(ApiError::unsupported_version());
    }
    let mode = match single_arg(&req, &state, payload, "target").await?.as_str() {
        Some(m @ ("uefi" | "bios")) => m.to_string(),
        _ => {
            return Err(ApiError::bad_request(
                "Invalid boot mode target; expected \"uefi\" or \"bios\"",
            ))
        }
    };
    let node = find(&state, &path, v).await?;
    let uuid = node.uuid.clone();
    state.conductor.node_set_boot_mode(node, mode).await?;
    Ok(accepted_states(&req, &state, &uuid))
}

/// `PUT /v1/nodes/{id}/states/secure_boot` (1.76)
pub async fn secure_boot(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(76) {
        return Err(ApiError::unsupported_version());
    }
    let on = single_arg(&req, &state, payload, "target")
        .await?
        .as_bool()
        .ok_or_else(|| {
            ApiError::bad_request("Invalid secure boot target; expected true or false")
        })?;
    let node = find(&state, &path, v).await?;
    let uuid = node.uuid.clone();
    state.conductor.node_set_secure_boot(node, on).await?;
    Ok(accepted_states(&req, &state, &uuid))
}

/// `GET/PUT /v1/nodes/{id}/states/console`
pub async fn console_get(
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let node = find(&state, &path, v).await?;
    Ok(HttpResponse::Ok().json(state.conductor.node_console_info(node).await?))
}

pub async fn console_set(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let enabled = single_arg(&req, &state, payload, "enabled").await?;
    if enabled.is_null() {
        return Err(ApiError::missing_argument("enabled"));
    }
    let enabled = Reader { res: "body" }.bool("enabled", &enabled)?;
    let node = find(&state, &path, v).await?;
    let uuid = node.uuid.clone();
    state.conductor.node_set_console(node, enabled).await?;
    Ok(accepted_states(&req, &state, &uuid))
}

/// `PUT /v1/nodes/{id}/states/raid` (1.12): store the target RAID configuration.
pub async fn raid(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(12) {
        return Err(ApiError::not_acceptable());
    }
    let body = body(&req, payload, &state).await?;
    // The schema is the conductor's to check (after the node and its RAID interface).
    let obj = body
        .as_object()
        .cloned()
        .ok_or_else(|| Reader { res: "body" }.not_object(&body))?;
    let node = find(&state, &path, v).await?;
    state.conductor.node_set_target_raid(node, obj).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /v1/nodes/{id}/vendor_passthru/methods`
pub async fn vendor_methods(
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let node = find(&state, &path, v).await?;
    let mut out = Map::new();
    for m in state.conductor.node_vendor_methods(&node)? {
        out.insert(
            m.name.into(),
            json!({"async": m.is_async, "attach": false, "description": m.description,
            "http_methods": m.http_methods, "require_exclusive_lock": true}),
        );
    }
    Ok(HttpResponse::Ok().json(out))
}

/// `<ANY> /v1/nodes/{id}/vendor_passthru?method=X`
pub async fn vendor_passthru(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let q = Query::parse(&req)?;
    let method = q
        .get("method")
        .filter(|m| !m.is_empty())
        .ok_or_else(|| ApiError::bad_request("Method not specified"))?
        .to_string();
    let args = super::resource::optional_body(&req, payload, &state)
        .await?
        .unwrap_or_else(|| json!({}));
    let node = find(&state, &path, v).await?;
    let (is_async, out) = state
        .conductor
        .node_vendor_passthru(node, method, req.method().as_str().to_string(), args)
        .await?;
    Ok(if is_async {
        HttpResponse::Accepted().finish()
    } else {
        HttpResponse::Ok().json(out)
    })
}
