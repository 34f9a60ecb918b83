//! Work reaches the owner: an API request that needs the conductor of a node another live
//! member owns is sent to that member as one JSON-RPC 2.0 call over HTTP (Ironic's
//! `[json_rpc]` transport), and the owner runs it through its own API. One door for every
//! conductor call: the API request itself, so the owner applies the same checks and rules.
//!
//! - [`forward`]: middleware on the API (and the boot server's agent routes) that picks the
//!   requests to forward and relays the owner's answer unchanged.
//! - [`server`]: the RPC listener (`[json_rpc] host_ip:port`, loopback by default), guarded
//!   by `[json_rpc] auth_strategy`; it replays a call into this member's API on loopback,
//!   marked so that it is never forwarded again.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine as _;
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::auth::BasicAuth;
use super::error::ApiError;
use super::State;
use crate::config::AuthStrategy;

/// Marks a request a member relays for another: the receiving API runs it here, whatever
/// the ring says (a member that just changed its mind must not bounce it back).
pub const FORWARDED_BY: &str = "x-ironbox-forwarded-by";
/// The one method: run this API request here.
const METHOD: &str = "api_request";
/// Request headers that travel with a forwarded request (what the API reads).
const HEADERS: &[&str] = &[
    "content-type",
    "accept",
    "authorization",
    "x-auth-token",
    "openstack-api-version",
    "x-openstack-ironic-api-version",
    "x-openstack-request-id",
];
/// Response headers relayed back (the API's version stamps, Location, request id).
const RESPONSE_HEADERS: &[&str] = &[
    "content-type",
    "location",
    "allow",
    "www-authenticate",
    "openstack-api-version",
    "x-openstack-ironic-api-version",
    "x-openstack-ironic-api-minimum-version",
    "x-openstack-ironic-api-maximum-version",
    "x-openstack-request-id",
];

/// Node sub-resources whose handlers call the conductor (a plain `GET .../states` reads
/// the store and stays local).
const CONDUCTOR_PATHS: &[&str] = &[
    "states",
    "management",
    "vendor_passthru",
    "vmedia",
    "vifs",
    "validate",
    "indicators",
    "maintenance",
    "traits",
];

/// What a request names for forwarding: the node it works on.
#[derive(Debug, PartialEq)]
enum Target {
    Node(String),
    /// An agent's lookup: its node is found from `node_uuid` or a MAC address.
    Lookup,
}

/// Which requests go to the owner (pure: method and path, `/v1` or unversioned).
fn target(method: &str, path: &str) -> Option<Target> {
    let p = path.strip_prefix("/v1").unwrap_or(path);
    let parts: Vec<&str> = p.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["heartbeat", node] => Some(Target::Node(node.to_string())),
        ["lookup"] => Some(Target::Lookup),
        ["nodes", node] if matches!(method, "PATCH" | "DELETE") => {
            Some(Target::Node(node.to_string()))
        }
        ["nodes", "detail" | "validate"] => None,
        ["nodes", _, "states"] => None,
        ["nodes", node, sub, ..] if CONDUCTOR_PATHS.contains(sub) => {
            Some(Target::Node(node.to_string()))
        }
        _ => None,
    }
}

/// Middleware: forward to the owner when another live member owns the request's node.
pub async fn forward(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<State>>().cloned() else {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    };
    let rpc = &state.config.json_rpc;
    let relayed = req.headers().contains_key(FORWARDED_BY);
    let owner = match (rpc.enabled && !relayed)
        .then(|| target(req.method().as_str(), req.path()))
        .flatten()
    {
        Some(t) => remote_owner(&state, &req, t).await,
        None => None,
    };
    let Some((host, address)) = owner else {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    };
    let (http, mut payload) = req.into_parts();
    let limit = body_limit(&state);
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > limit {
            let e = ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body is too large.".to_string(),
            );
            return Ok(ServiceResponse::new(
                http,
                actix_web::ResponseError::error_response(&e),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    let resp = match call_owner(&state, &http, &host, &address, &body).await {
        Ok(r) => r,
        Err(e) => actix_web::ResponseError::error_response(&e),
    };
    Ok(ServiceResponse::new(http, resp))
}

fn body_limit(state: &State) -> usize {
    let a = &state.config.api;
    a.max_json_body_size
        .max(a.max_json_body_size_provision)
        .max(a.max_json_body_size_inspection) as usize
        * 1024
}

/// The owner of the request's node when it is another live member that takes RPC.
async fn remote_owner(state: &State, req: &ServiceRequest, t: Target) -> Option<(String, String)> {
    let uuid = match t {
        Target::Node(ident) => ident,
        Target::Lookup => lookup_node(state, req.query_string()).await?,
    };
    let node = state.store.node_get(uuid).await.ok()??;
    state
        .conductor
        .remote_owner(&node.conductor_group, &node.uuid)
}

/// The node an agent's lookup names: `node_uuid`, else the first MAC a port has.
async fn lookup_node(state: &State, query: &str) -> Option<String> {
    let mut macs = vec![];
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query).ok()?;
    for (k, v) in pairs.into_inner() {
        match k.as_str() {
            "node_uuid" => return Some(v),
            "addresses" => macs.extend(
                v.split(',')
                    .filter_map(crate::model::mac::Mac::parse_strict)
                    .map(|m| m.to_string()),
            ),
            _ => {}
        }
    }
    for mac in macs {
        if let Ok(Some(owner)) = state.store.mac_owner(mac).await {
            return Some(owner.node_uuid);
        }
    }
    None
}

/// Send the request to `host` as a JSON-RPC call and turn its result back into a response.
async fn call_owner(
    state: &State,
    http: &HttpRequest,
    host: &str,
    address: &str,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    let headers: Vec<(String, String)> = HEADERS
        .iter()
        .filter_map(|h| {
            let v = http.headers().get(*h)?.to_str().ok()?;
            Some((h.to_string(), v.to_string()))
        })
        .collect();
    let path = match http.uri().query() {
        Some(q) => format!("{}?{q}", http.uri().path()),
        None => http.uri().path().to_string(),
    };
    let envelope = json!({
        "jsonrpc": "2.0",
        "id": uuid::Uuid::new_v4().to_string(),
        "method": METHOD,
        "params": {
            "from": state.conductor.host(),
            "method": http.method().as_str(),
            "path": path,
            "headers": headers,
            "body": base64::engine::general_purpose::STANDARD.encode(body),
        },
    });
    let rpc = &state.config.json_rpc;
    let mut call = client().post(format!("http://{address}/")).json(&envelope);
    if let Some((user, pass)) = &rpc.credentials {
        call = call.basic_auth(user, Some(pass));
    }
    let unreachable = |why: String| {
        tracing::warn!(owner = %host, error = %why, "forwarding to the node's conductor failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("The conductor {host} that manages this node could not be reached."),
        )
    };
    let resp = call
        .send()
        .await
        .map_err(|e| unreachable(e.without_url().to_string()))?;
    let status = resp.status();
    let answer: Value = resp
        .json()
        .await
        .map_err(|e| unreachable(format!("HTTP {status}: {}", e.without_url())))?;
    let result = match (answer.get("result"), answer.get("error")) {
        (Some(r), _) => r,
        (None, Some(e)) => return Err(unreachable(format!("JSON-RPC error {e}"))),
        _ => return Err(unreachable(format!("HTTP {status}: no result"))),
    };
    relayed_response(result).ok_or_else(|| unreachable("malformed result".into()))
}

fn relayed_response(result: &Value) -> Option<HttpResponse> {
    let status = StatusCode::from_u16(u16::try_from(result.get("status")?.as_u64()?).ok()?).ok()?;
    let body = base64::engine::general_purpose::STANDARD
        .decode(result.get("body")?.as_str()?)
        .ok()?;
    let mut out = HttpResponse::build(status);
    for pair in result.get("headers")?.as_array()? {
        if let (Some(k), Some(v)) = (
            pair.get(0).and_then(Value::as_str),
            pair.get(1).and_then(Value::as_str),
        ) {
            out.append_header((k.to_string(), v.to_string()));
        }
    }
    Some(out.body(body))
}

fn client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .unwrap_or_default()
    })
}

/// The RPC listener's state: who may call, and where this member's own API listens.
pub struct RpcState {
    basic: Option<BasicAuth>,
    /// Base URL of this member's API on loopback (where calls are replayed).
    api: String,
}

/// A JSON-RPC 2.0 error reply (the HTTP status is 200 for call errors, as JSON-RPC over
/// HTTP does, except authentication: 401).
fn rpc_error(status: StatusCode, id: Value, code: i64, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {"code": code, "message": message},
    }))
}

/// `POST /`: one JSON-RPC call.
async fn handle(req: HttpRequest, rs: web::Data<RpcState>, body: web::Bytes) -> HttpResponse {
    if let Some(b) = &rs.basic {
        let header = req
            .headers()
            .get("authorization")
            .and_then(|h| h.to_str().ok());
        if b.check(header).is_err() {
            let mut r = rpc_error(
                StatusCode::UNAUTHORIZED,
                Value::Null,
                -32001,
                "Authentication required: valid [json_rpc] username and password are needed.",
            );
            r.headers_mut().insert(
                actix_web::http::header::WWW_AUTHENTICATE,
                actix_web::http::header::HeaderValue::from_static(
                    "Basic realm=\"ironbox json-rpc\"",
                ),
            );
            return r;
        }
    }
    let call: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return rpc_error(
                StatusCode::OK,
                Value::Null,
                -32700,
                &format!("Parse error: {e}"),
            )
        }
    };
    let id = call.get("id").cloned().unwrap_or(Value::Null);
    if call.get("jsonrpc").and_then(Value::as_str) != Some("2.0") || !call.is_object() {
        return rpc_error(
            StatusCode::OK,
            id,
            -32600,
            "Invalid Request: not a JSON-RPC 2.0 call",
        );
    }
    match call.get("method").and_then(Value::as_str) {
        Some(METHOD) => {}
        Some(other) => {
            return rpc_error(
                StatusCode::OK,
                id,
                -32601,
                &format!("Method not found: {other}"),
            )
        }
        None => return rpc_error(StatusCode::OK, id, -32600, "Invalid Request: no method"),
    }
    let Some(params) = Forwarded::parse(call.get("params")) else {
        return rpc_error(
            StatusCode::OK,
            id,
            -32602,
            "Invalid params: method, path (under /), from, headers and a base64 body are required",
        );
    };
    match replay(&rs.api, params).await {
        Ok(result) => {
            HttpResponse::Ok().json(json!({"jsonrpc": "2.0", "id": id, "result": result}))
        }
        Err(e) => rpc_error(StatusCode::OK, id, -32603, &format!("Internal error: {e}")),
    }
}

/// A forwarded API request, checked.
struct Forwarded {
    from: String,
    method: reqwest::Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Forwarded {
    fn parse(p: Option<&Value>) -> Option<Forwarded> {
        let p = p?.as_object()?;
        let method = reqwest::Method::from_bytes(p.get("method")?.as_str()?.as_bytes()).ok()?;
        let path = p.get("path")?.as_str()?;
        // A path on this API only: never a URL that would send the replay elsewhere.
        if !path.starts_with('/') || path.starts_with("//") {
            return None;
        }
        let mut headers = vec![];
        for pair in p.get("headers")?.as_array()? {
            let k = pair.get(0)?.as_str()?.to_ascii_lowercase();
            let v = pair.get(1)?.as_str()?;
            if HEADERS.contains(&k.as_str()) {
                headers.push((k, v.to_string()));
            }
        }
        Some(Forwarded {
            from: p.get("from")?.as_str()?.to_string(),
            method,
            path: path.to_string(),
            headers,
            body: base64::engine::general_purpose::STANDARD
                .decode(p.get("body")?.as_str()?)
                .ok()?,
        })
    }
}

/// Run the request on this member's API and capture its answer.
async fn replay(api: &str, f: Forwarded) -> Result<Value, String> {
    tracing::debug!(from = %f.from, method = %f.method, path = %f.path, "running a request forwarded by another conductor");
    let mut call = client()
        .request(f.method, format!("{api}{}", f.path))
        .header(FORWARDED_BY, f.from)
        .body(f.body);
    for (k, v) in f.headers {
        call = call.header(k, v);
    }
    let resp = call.send().await.map_err(|e| e.without_url().to_string())?;
    let status = resp.status().as_u16();
    let headers: Vec<(String, String)> = RESPONSE_HEADERS
        .iter()
        .flat_map(|h| {
            resp.headers()
                .get_all(*h)
                .iter()
                .filter_map(|v| Some((h.to_string(), v.to_str().ok()?.to_string())))
                .collect::<Vec<_>>()
        })
        .collect();
    let body = resp
        .bytes()
        .await
        .map_err(|e| e.without_url().to_string())?;
    Ok(json!({
        "status": status,
        "headers": headers,
        "body": base64::engine::general_purpose::STANDARD.encode(&body),
    }))
}

/// The RPC listener: `POST /` takes JSON-RPC calls; anything else is a JSON-RPC error.
/// `api` is this member's API address as bound (an unspecified address becomes loopback).
pub fn server(
    config: &crate::config::Config,
    listener: std::net::TcpListener,
    api: std::net::SocketAddr,
) -> Result<actix_web::dev::Server, std::io::Error> {
    let rpc = &config.json_rpc;
    let basic = match rpc.auth_strategy {
        AuthStrategy::HttpBasic => Some(
            BasicAuth::load(&rpc.http_basic_auth_user_file.to_string_lossy()).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("[json_rpc] http_basic_auth_user_file: {e}"),
                )
            })?,
        ),
        AuthStrategy::Noauth => None,
    };
    let host = match api.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".to_string(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V4(ip) => ip.to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
    };
    if config.api.enable_ssl_api {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "[json_rpc]: forwarding to an API with TLS is not supported yet",
        ));
    }
    let state = web::Data::new(RpcState {
        basic,
        api: format!("http://{host}:{}", api.port()),
    });
    let limit = body_limit_of(config) * 2 + 64 * 1024;
    let make = move || {
        actix_web::App::new()
            .app_data(state.clone())
            .app_data(web::PayloadConfig::default().limit(limit))
            .route("/", web::post().to(handle))
            .default_service(web::to(|| async {
                rpc_error(
                    StatusCode::NOT_FOUND,
                    Value::Null,
                    -32600,
                    "Invalid Request: JSON-RPC calls are POSTed to /",
                )
            }))
    };
    let opts = crate::http::serve::Options {
        name: "json_rpc",
        workers: 2,
        shutdown_timeout: 10,
        tls: None,
        render: refusal,
        front: None,
    };
    crate::http::serve::server(listener, opts, make)
}

/// The framing gate's refusal as a JSON-RPC error.
fn refusal(r: &crate::http::framing::Rejection) -> Vec<u8> {
    let body = json!({"jsonrpc": "2.0", "id": null,
        "error": {"code": -32600, "message": format!("Invalid Request: {}", r.message)}});
    r.http_response("application/json", &[], body.to_string().as_bytes())
}

fn body_limit_of(config: &crate::config::Config) -> usize {
    let a = &config.api;
    a.max_json_body_size
        .max(a.max_json_body_size_provision)
        .max(a.max_json_body_size_inspection) as usize
        * 1024
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_that_need_the_conductor_go_to_the_owner() {
        let node = |s: &str| Some(Target::Node(s.into()));
        assert_eq!(target("PUT", "/v1/nodes/n1/states/provision"), node("n1"));
        assert_eq!(target("PUT", "/v1/nodes/n1/states/power"), node("n1"));
        assert_eq!(
            target("GET", "/v1/nodes/n1/management/boot_device"),
            node("n1")
        );
        assert_eq!(target("POST", "/v1/nodes/n1/vendor_passthru"), node("n1"));
        assert_eq!(
            target("POST", "/nodes/n1/vifs"),
            node("n1"),
            "unversioned too"
        );
        assert_eq!(target("PATCH", "/v1/nodes/n1"), node("n1"));
        assert_eq!(target("DELETE", "/v1/nodes/n1"), node("n1"));
        assert_eq!(target("POST", "/v1/heartbeat/n1"), node("n1"));
        assert_eq!(target("GET", "/v1/lookup"), Some(Target::Lookup));
    }

    #[test]
    fn reads_of_the_store_stay_local() {
        for (m, p) in [
            ("GET", "/v1/nodes"),
            ("GET", "/v1/nodes/n1"),
            ("GET", "/v1/nodes/detail"),
            ("GET", "/v1/nodes/n1/states"),
            ("GET", "/v1/nodes/n1/history"),
            ("GET", "/v1/nodes/n1/ports"),
            ("POST", "/v1/nodes"),
            ("GET", "/v1/conductors"),
            ("GET", "/v1/ports"),
        ] {
            assert_eq!(target(m, p), None, "{m} {p}");
        }
    }

    #[test]
    fn forwarded_params_are_checked() {
        let ok = json!({"from": "a", "method": "PUT", "path": "/v1/nodes/x/states/power",
            "headers": [["Content-Type", "application/json"], ["host", "evil"]], "body": ""});
        let f = Forwarded::parse(Some(&ok)).unwrap();
        assert_eq!(
            f.headers,
            [("content-type".to_string(), "application/json".to_string())]
        );
        for bad in [
            json!({"from": "a", "method": "PUT", "path": "http://elsewhere/", "headers": [], "body": ""}),
            json!({"from": "a", "method": "PUT", "path": "//elsewhere/x", "headers": [], "body": ""}),
            json!({"from": "a", "method": "PUT", "path": "/v1", "headers": [], "body": "***"}),
            json!({"method": "PUT", "path": "/v1", "headers": [], "body": ""}),
            json!("not an object"),
        ] {
            assert!(Forwarded::parse(Some(&bad)).is_none(), "{bad}");
        }
    }
}
