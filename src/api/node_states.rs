//! Node actions: `/states/provision`, `/states/power`, `/states/console`, `/states/raid`,
//! `/states/boot_mode`, `/states/secure_boot`, `/management/*` and vendor passthru. Each
//! checks the request as Ironic's API does, then hands the work to the conductor.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::nodes::find;
use super::params::{json_body, Query};
use super::views::{py_repr, Reader};
use super::{base_url, State};
use crate::conductor::fsm::{self, Event};
use crate::conductor::provision::ProvisionArgs;
use crate::model::states;

fn object<'a>(body: &'a Value, res: &str) -> Result<&'a Map<String, Value>, ApiError> {
    body.as_object()
        .ok_or_else(|| Reader { res }.not_object(body))
}

fn only(obj: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ApiError::bad_request(format!("Unknown argument: \"{k}\""))),
        None => Ok(()),
    }
}

/// A body that is `{key: value}` and nothing else; the value (null when absent).
async fn single_arg(
    req: &HttpRequest,
    state: &State,
    payload: web::Payload,
    key: &str,
) -> Result<Value, ApiError> {
    let api = &state.config.api;
    let body = json_body(
        req,
        payload,
        api.max_json_body_size,
        api.max_json_body_depth,
    )
    .await?;
    let obj = object(&body, "body")?;
    only(obj, &[key])?;
    Ok(obj.get(key).cloned().unwrap_or(Value::Null))
}

fn accepted_states(base: &str, uuid: &str) -> HttpResponse {
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
    let obj = object(&body, "body")?;
    only(
        obj,
        &[
            "target",
            "configdrive",
            "clean_steps",
            "deploy_steps",
            "service_steps",
            "rescue_password",
            "disable_ramdisk",
            "runbook",
        ],
    )?;
    let node = find(&state, &path, v).await?;
    let verb = obj
        .get("target")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("Missing argument: \"target\""))?;
    let bad_verb = || {
        ApiError::bad_request(format!(
        "The requested action \"{verb}\" can not be performed on node \"{}\" while it is in state \"{}\".", node.uuid, node.provision_state
    ))
    };
    let (event, min) = fsm::verb(verb).ok_or_else(bad_verb)?;
    if !v.at_least(min) {
        return Err(ApiError::not_acceptable());
    }
    if obj.contains_key("runbook") {
        return Err(ApiError::not_acceptable());
    }
    let deploying = matches!(event, Event::Deploy | Event::Rebuild);
    let only_with = |key: &str, ok: bool, verbs: &str| -> Result<(), ApiError> {
        if obj.contains_key(key) && !ok {
            return Err(ApiError::bad_request(format!(
                "\"{key}\" is only valid when setting target provision state to {verbs}"
            )));
        }
        Ok(())
    };
    only_with("clean_steps", event == Event::Clean, "clean")?;
    only_with("service_steps", event == Event::Service, "service")?;
    only_with("deploy_steps", deploying, "active, deploy or rebuild")?;
    only_with("rescue_password", event == Event::Rescue, "rescue")?;
    only_with(
        "disable_ramdisk",
        matches!(event, Event::Clean | Event::Service),
        "clean or service",
    )?;
    if obj.contains_key("configdrive") && !deploying {
        return Err(ApiError::bad_request("Adding a config drive is only supported when setting provision state to active, deploy or rebuild"));
    }
    if obj.contains_key("deploy_steps") && !v.at_least(69) {
        return Err(ApiError::not_acceptable());
    }
    if obj.contains_key("disable_ramdisk")
        && !v.at_least(if event == Event::Service { 108 } else { 70 })
    {
        return Err(ApiError::not_acceptable());
    }
    if event == Event::Rebuild && obj.contains_key("configdrive") && !v.at_least(35) {
        return Err(ApiError::not_acceptable());
    }
    if event == Event::Abort {
        let needs = match node.provision_state.as_str() {
            states::INSPECT_WAIT => 41,
            states::WAIT_CALLBACK => 110,
            _ => 1,
        };
        if !v.at_least(needs) {
            return Err(ApiError::not_acceptable());
        }
    }
    let configdrive = match obj.get("configdrive") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(json!(s)),
        Some(Value::Object(o)) if v.at_least(56) => {
            let allowed: &[&str] = if v.at_least(59) { &["meta_data", "network_data", "user_data", "vendor_data"] } else { &["meta_data", "network_data", "user_data"] };
            if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
                return Err(ApiError::bad_request(format!("Invalid configdrive: unexpected key '{k}'; allowed keys are {}", allowed.join(", "))));
            }
            for k in ["meta_data", "network_data", "vendor_data"] {
                if o.get(k).is_some_and(|x| !x.is_object() && !x.is_null()) {
                    return Err(ApiError::bad_request(format!("Invalid configdrive: {k} must be a JSON object")));
                }
            }
            Some(Value::Object(o.clone()))
        }
        Some(other) => return Err(ApiError::bad_request(format!("Invalid configdrive {}: expected a base64-encoded gzipped ISO9660 image or a URL (or, from 1.56, a JSON object)", py_repr(other)))),
    };
    let rescue_password = match obj.get("rescue_password") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Schema error for body: {} is not of type 'string'",
                py_repr(other)
            )))
        }
    };
    let disable_ramdisk = obj
        .get("disable_ramdisk")
        .map(|d| Reader { res: "body" }.bool("disable_ramdisk", d))
        .transpose()?;
    let args = ProvisionArgs {
        configdrive,
        clean_steps: obj.get("clean_steps").cloned(),
        deploy_steps: obj.get("deploy_steps").cloned(),
        service_steps: obj.get("service_steps").cloned(),
        rescue_password,
        disable_ramdisk,
    };
    let uuid = node.uuid.clone();
    state
        .conductor
        .node_set_provision_state(node, verb, event, args)
        .await?;
    Ok(accepted_states(&base_url(&req, &state), &uuid))
}

/// `PUT /v1/nodes/{id}/states/power`
pub async fn power(
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
        api.max_json_body_size,
        api.max_json_body_depth,
    )
    .await?;
    let obj = object(&body, "body")?;
    only(obj, &["target", "timeout"])?;
    let node = find(&state, &path, v).await?;
    let target = obj
        .get("target")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("Missing argument: \"target\""))?;
    if !crate::conductor::POWER_TARGETS.contains(&target) {
        return Err(ApiError::bad_request(format!(
            "The requested action \"{target}\" can not be performed on node \"{}\" while it is in state \"{}\".",
            node.uuid, node.power_state.as_deref().unwrap_or("None")
        )));
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
    Ok(accepted_states(&base_url(&req, &state), &uuid))
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
    let api = &state.config.api;
    let body = json_body(
        &req,
        payload,
        api.max_json_body_size,
        api.max_json_body_depth,
    )
    .await?;
    let obj = object(&body, "body")?;
    only(obj, &["boot_device", "persistent"])?;
    let q = Query::parse(&req)?;
    let device = obj
        .get("boot_device")
        .and_then(Value::as_str)
        .or_else(|| q.get("boot_device"))
        .ok_or_else(|| ApiError::bad_request("Missing argument: \"boot_device\""))?
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
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
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
    Ok(accepted_states(&base_url(&req, &state), &uuid))
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
    Ok(accepted_states(&base_url(&req, &state), &uuid))
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
        return Err(ApiError::bad_request("Missing argument: \"enabled\""));
    }
    let enabled = Reader { res: "body" }.bool("enabled", &enabled)?;
    let node = find(&state, &path, v).await?;
    let uuid = node.uuid.clone();
    state.conductor.node_set_console(node, enabled).await?;
    Ok(accepted_states(&base_url(&req, &state), &uuid))
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
    let api = &state.config.api;
    let body = json_body(
        &req,
        payload,
        api.max_json_body_size,
        api.max_json_body_depth,
    )
    .await?;
    let obj = object(&body, "body")?.clone();
    if !obj.is_empty() {
        only(&obj, &["logical_disks"])?;
        let disks = obj.get("logical_disks").and_then(Value::as_array)
            .ok_or_else(|| ApiError::bad_request("RAID config validation error: 'logical_disks' is a required property and must be a list"))?;
        for d in disks {
            let d = d.as_object().ok_or_else(|| {
                ApiError::bad_request(
                    "RAID config validation error: each logical disk must be an object",
                )
            })?;
            let size_ok = d
                .get("size_gb")
                .is_some_and(|s| s.as_u64().is_some() || s.as_str() == Some("MAX"));
            let levels = ["JBOD", "0", "1", "2", "5", "6", "1+0", "5+0", "6+0"];
            let level_ok = d
                .get("raid_level")
                .and_then(Value::as_str)
                .is_some_and(|l| levels.contains(&l));
            if !size_ok || !level_ok {
                return Err(ApiError::bad_request("RAID config validation error: each logical disk needs size_gb (integer or \"MAX\") and raid_level (JBOD, 0, 1, 2, 5, 6, 1+0, 5+0, 6+0)"));
            }
        }
    }
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
    let api = &state.config.api;
    let has_body = req
        .headers()
        .get("content-length")
        .and_then(|l| l.to_str().ok())
        .is_some_and(|l| l != "0");
    let args = if has_body {
        json_body(
            &req,
            payload,
            api.max_json_body_size,
            api.max_json_body_depth,
        )
        .await?
    } else {
        json!({})
    };
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
