//! The agent-facing endpoints (`/v1/lookup`, `/v1/heartbeat/{node}`), unauthenticated as in
//! Ironic: the agent token protects what matters. Served on the API and, so that a ramdisk
//! needs nothing but the boot network, on the boot network's HTTP server too.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::params::{json_body, Query};
use super::views::links;
use super::{base_url, State};
use crate::conductor::AgentHeartbeat;
use crate::model::secrets::Masked;

/// `?node_uuid=`, which must be a UUID when given.
fn node_uuid(q: &Query) -> Result<Option<String>, ApiError> {
    match q.get("node_uuid") {
        Some(u) if uuid::Uuid::parse_str(u).is_ok() => Ok(Some(u.to_string())),
        Some(u) => Err(ApiError::bad_request(format!(
            "Expected a UUID for node_uuid: {u}"
        ))),
        None => Ok(None),
    }
}

/// An agent call's result, as the metrics name it.
fn outcome(r: &Result<HttpResponse, ApiError>) -> &'static str {
    match r {
        Ok(_) => "accepted",
        Err(e) => match e.status.as_u16() {
            400 => "bad_request",
            401 | 403 => "refused",
            404 => "not_found",
            409 => "conflict",
            406 | 422 => "invalid",
            503 => "busy",
            _ => "error",
        },
    }
}

/// `GET /v1/lookup?addresses=<mac>,...&node_uuid=<uuid>` (1.22).
pub async fn lookup(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
) -> Result<HttpResponse, ApiError> {
    let r = lookup_node(req, state, v).await;
    crate::metrics::agent_lookup(outcome(&r));
    r
}

async fn lookup_node(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(22) {
        return Err(ApiError::unknown_path());
    }
    let q = Query::parse(&req)?;
    q.only(&["addresses", "node_uuid"])?;
    // Invalid MACs are ignored, as Ironic does (agents report every interface they see).
    let macs: Vec<String> = q
        .list("addresses")
        .unwrap_or_default()
        .iter()
        .filter_map(|m| crate::model::mac::Mac::parse_strict(m))
        .map(|m| m.to_string())
        .collect();
    let node_uuid = node_uuid(&q)?;
    if macs.is_empty() && node_uuid.is_none() {
        return Err(ApiError::bad_request(
            "One of 'addresses' and 'node_uuid' must be provided and valid",
        ));
    }
    let found = state
        .conductor
        .agent_lookup(&macs, node_uuid.as_deref(), v.at_least(62))
        .await?;
    let base = base_url(&req, &state);
    Ok(HttpResponse::Ok().json(lookup_body(&state, &base, &found)))
}

/// What an agent is told about its node and itself (lookup, and inspection since 1.84).
fn lookup_body(state: &State, base: &str, found: &crate::conductor::LookupResult) -> Value {
    let n = &found.node;
    let agent = &state.config.agent;
    let mut config = json!({
        "heartbeat_timeout": agent.heartbeat_timeout.as_secs(),
        "agent_md5_checksum_enable": agent.allow_md5_checksum,
        "permitted_image_formats": ["raw", "qcow2"],
        "disable_deep_image_inspection": false,
        "agent_skip_bmc_detect": false,
        "enable_bios_bootloader_install": false,
        "metrics": {"backend": "noop", "prepend_host": false, "prepend_uuid": false,
                    "prepend_host_reverse": true, "global_prefix": null},
        "metrics_statsd": {"statsd_host": "localhost", "statsd_port": 8125},
        "tls_min_version": "1.2",
        "tls_cipher_suites": "",
    });
    if let (Some(t), Some(c)) = (&found.token, config.as_object_mut()) {
        c.insert("agent_token".into(), json!(t));
        c.insert("agent_token_required".into(), json!(true));
    }
    json!({
        "node": {
            "uuid": n.uuid,
            "properties": Masked { obj: &n.properties, instance_info: false },
            "instance_info": Masked { obj: &n.instance_info, instance_info: true },
            "driver_internal_info": Masked { obj: &n.driver_internal_info, instance_info: false },
            "links": links(base, &format!("nodes/{}", n.uuid)),
        },
        "config": config,
    })
}

/// `POST /v1/heartbeat/{node}` (1.22): fields by version as Ironic gates them.
pub async fn heartbeat(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let r = heartbeat_node(req, state, v, path, payload).await;
    crate::metrics::agent_heartbeat(outcome(&r));
    r
}

async fn heartbeat_node(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(22) {
        return Err(ApiError::unknown_path());
    }
    let body = super::resource::body(&req, payload, &state).await?;
    let obj = body.as_object().ok_or_else(|| {
        ApiError::bad_request("Invalid heartbeat: the body must be a JSON object")
    })?;
    let gates = [
        ("callback_url", 22),
        ("agent_version", 36),
        ("agent_token", 62),
        ("agent_verify_ca", 68),
        ("agent_status", 72),
        ("agent_status_message", 72),
    ];
    for k in obj.keys() {
        match gates.iter().find(|(name, _)| name == k) {
            None => return Err(ApiError::unknown_argument(k)),
            Some((_, min)) if !v.at_least(*min) => {
                return Err(ApiError::bad_request(format!(
                    "Field \"{k}\" not recognised in this API version"
                )))
            }
            _ => {}
        }
    }
    let text = |k: &str| -> Result<Option<String>, ApiError> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::bad_request(format!("{k} must be a string"))),
        }
    };
    let callback_url = text("callback_url")?.unwrap_or_default();
    match reqwest::Url::parse(&callback_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        _ => {
            return Err(ApiError::bad_request(format!(
                "Invalid callback_url {callback_url:?}: an http(s) URL is required"
            )))
        }
    }
    let hb = AgentHeartbeat {
        callback_url,
        agent_token: text("agent_token")?,
        agent_version: text("agent_version")?,
        agent_verify_ca: text("agent_verify_ca")?,
    };
    if hb.agent_token.is_none() {
        return Err(ApiError::bad_request(
            "Invalid or missing agent token received.",
        ));
    }
    state.conductor.agent_heartbeat(&path, hb).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// `POST /v1/continue_inspection` (1.84; and at 1.1, which is what IPA sends: it puts no
/// version header on this call, and Ironic then answers the inspector-style `{"uuid"}`).
pub async fn continue_inspection(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let legacy = v.0 == 1;
    if !legacy && !v.at_least(84) {
        return Err(ApiError::unknown_path());
    }
    let q = Query::parse(&req)?;
    q.only(&["node_uuid"])?;
    if legacy && q.has("node_uuid") {
        return Err(ApiError::bad_request(
            "node_uuid needs API version 1.84 or later",
        ));
    }
    let node_uuid = node_uuid(&q)?;
    let api = &state.config.api;
    let body = json_body(
        &req,
        payload,
        api.max_json_body_size_inspection,
        api.max_json_body_depth,
    )
    .await?;
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "Inspection data must be a JSON object",
        ));
    }
    let found = state
        .conductor
        .continue_inspection(body, node_uuid.as_deref(), !legacy)
        .await?;
    if legacy {
        return Ok(HttpResponse::Accepted().json(json!({"uuid": found.node.uuid})));
    }
    let base = base_url(&req, &state);
    Ok(HttpResponse::Accepted().json(lookup_body(&state, &base, &found)))
}

/// The ramdisk endpoints, for mounting under `/v1` (and at the root, as Ironic routes
/// unversioned paths).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource!("/lookup"; GET => lookup))
        .service(resource!("/continue_inspection"; POST => continue_inspection))
        .service(resource!("/heartbeat/{node}"; POST => heartbeat));
}
