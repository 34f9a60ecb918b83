//! Request inputs: JSON bodies (size and depth limits, content type) and query strings
//! (Ironic's boolean spellings, list parameters), each failure an `ApiError` in Ironic's words.

pub mod provision;

use actix_web::{web, HttpRequest};
use futures_util::StreamExt;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::views::Reader;
use super::State;

/// Read a JSON body of at most `limit_kib` KiB; refuse oversize bodies with 413 before
/// parsing, malformed or too deeply nested JSON with 400.
pub async fn json_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit_kib: u32,
    max_depth: u32,
) -> Result<Value, ApiError> {
    read_json(req, payload, limit_kib, max_depth, false)
        .await?
        .ok_or_else(empty_body)
}

/// A body that may be absent (no bytes at all): `None` then. Any bytes must be JSON, as for
/// Ironic's `method.body`, which parses any non-empty body: a mutating request with a body
/// that is not JSON is refused even where the body is optional.
pub async fn optional_json_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit_kib: u32,
    max_depth: u32,
) -> Result<Option<Value>, ApiError> {
    read_json(req, payload, limit_kib, max_depth, true).await
}

fn empty_body() -> ApiError {
    ApiError::bad_request("The request body is empty; a JSON document is required.")
}

async fn read_json(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit_kib: u32,
    max_depth: u32,
    optional: bool,
) -> Result<Option<Value>, ApiError> {
    let limit = limit_kib as usize * 1024;
    if let Some(len) = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > limit {
            return Err(ApiError::too_large());
        }
    }
    // A required body's type is checked before reading it; an optional one only if present.
    if !optional {
        check_content_type(req)?;
    }
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Incomplete(_) => ApiError::bad_request(
                "The request body is incomplete: it ended before its Content-Length, or its chunked framing is invalid.",
            ),
            e => ApiError::bad_request(format!("Could not read the request body: {e}")),
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    if optional {
        if buf.is_empty() {
            return Ok(None);
        }
        check_content_type(req)?;
    } else if buf.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(empty_body());
    }
    let value: Value = serde_json::from_slice(&buf)
        .map_err(|e| ApiError::bad_request(format!("Malformed JSON in request body: {e}")))?;
    if depth(&value) > max_depth as usize {
        return Err(ApiError::bad_request(format!(
            "JSON body is nested more than {max_depth} levels deep."
        )));
    }
    Ok(Some(value))
}

/// A body must be JSON (`application/json` or a `+json` type) when its type is given.
fn check_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    if let Some(ct) = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
    {
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !mime.is_empty() && mime != "application/json" && !mime.ends_with("+json") {
            return Err(ApiError::new(
                actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "Unsupported Content-Type {mime:?}; the request body must be application/json"
                ),
            ));
        }
    }
    Ok(())
}

/// Nesting depth, computed without recursion (a hostile body cannot blow the stack here).
fn depth(v: &Value) -> usize {
    let mut max = 0;
    let mut stack = vec![(v, 1usize)];
    while let Some((v, d)) = stack.pop() {
        max = max.max(d);
        match v {
            Value::Array(a) => stack.extend(a.iter().map(|x| (x, d + 1))),
            Value::Object(o) => stack.extend(o.values().map(|x| (x, d + 1))),
            _ => {}
        }
    }
    max
}

/// Parameters Ironic reads as comma-separated lists: repeated, their values are merged.
const LIST_PARAMS: &[&str] = &[
    "fields",
    "shard",
    "conductor_groups",
    "addresses",
    "device_types",
];
/// Parameters Ironic reads as integers or booleans (their refusal of a repeat says so).
const INT_PARAMS: &[&str] = &["limit", "timeout"];
const BOOL_PARAMS: &[&str] = &[
    "associated",
    "console_enabled",
    "detail",
    "disable_power_off",
    "enabled",
    "include_children",
    "is_smartnic",
    "maintenance",
    "persistent",
    "project",
    "protected",
    "pxe_enabled",
    "reset_interfaces",
    "retired",
    "sharded",
];

/// A parsed query string. A repeated list parameter (`fields=a&fields=b`) is merged into
/// one comma-separated value; any other repeated parameter is refused, as Ironic refuses
/// the list its framework makes of it.
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(req: &HttpRequest) -> Result<Query, ApiError> {
        Self::parse_str(req.query_string())
    }

    pub fn parse_str(qs: &str) -> Result<Query, ApiError> {
        let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(qs)
            .map_err(|e| ApiError::bad_request(format!("Invalid query string: {e}")))?;
        let mut merged: Vec<(String, String)> = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            let Some(i) = merged.iter().position(|(mk, _)| *mk == k) else {
                merged.push((k, v));
                continue;
            };
            let Some((_, first)) = merged.get_mut(i) else {
                continue;
            };
            if !LIST_PARAMS.contains(&k.as_str()) {
                return Err(repeated(&k, &[first.as_str(), v.as_str()]));
            }
            first.push(',');
            first.push_str(&v);
        }
        Ok(Query(merged))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// A boolean in any spelling oslo's strutils accepts.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        self.get(key).map(|v| parse_bool(key, v)).transpose()
    }

    /// A comma-separated list (`?shard=a,b`).
    pub fn list(&self, key: &str) -> Option<Vec<String>> {
        self.get(key).map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
    }

    /// A parameter only valid from microversion `min`: 406 below it.
    pub fn gated(&self, key: &str, v: Version, min: u32) -> Result<Option<&str>, ApiError> {
        match self.get(key) {
            Some(_) if !v.at_least(min) => Err(ApiError::not_acceptable()),
            other => Ok(other),
        }
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// 400 for any parameter not in `allowed`.
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.0.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            Some((k, _)) => Err(ApiError::unknown_argument(k)),
            None => Ok(()),
        }
    }
}

/// A body that must be a JSON object holding no key outside `allowed`.
pub fn object_with<'a>(
    body: &'a Value,
    allowed: &[&str],
) -> Result<&'a Map<String, Value>, ApiError> {
    let obj = body
        .as_object()
        .ok_or_else(|| Reader { res: "body" }.not_object(body))?;
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ApiError::unknown_argument(k)),
        None => Ok(obj),
    }
}

pub fn parse_bool(key: &str, v: &str) -> Result<bool, ApiError> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "on" | "y" | "yes" => Ok(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "Invalid {key}: Unrecognized value '{v}', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'"
        ))),
    }
}

/// Ironic's refusal of a parameter given more than once (its value became a list); the
/// first two values are named.
fn repeated(key: &str, values: &[&str]) -> ApiError {
    let list = format!(
        "[{}]",
        values
            .iter()
            .map(|v| format!("'{v}'"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if INT_PARAMS.contains(&key) {
        return ApiError::bad_request(format!("Expected an integer for {key}: {list}"));
    }
    if BOOL_PARAMS.contains(&key) {
        return parse_bool(key, &list)
            .err()
            .unwrap_or_else(|| ApiError::bad_request(list));
    }
    ApiError::bad_request(format!("Expected string for {key}: {list}"))
}

/// The common list parameters: limit, marker, sort_key, sort_dir, fields, detail.
pub struct ListParams {
    pub limit: u32,
    pub marker: Option<String>,
    pub sort_key: String,
    pub sort_dir: String,
    pub fields: Option<Vec<String>>,
    pub detail: bool,
}

impl ListParams {
    /// `detail_path` is true for the deprecated `/detail` sub-path.
    pub fn parse(
        q: &Query,
        v: Version,
        state: &State,
        detail_path: bool,
    ) -> Result<ListParams, ApiError> {
        Self::parse_max(q, v, state.config.api.max_limit, detail_path)
    }

    /// `parse` with `[api] max_limit` given.
    pub fn parse_max(
        q: &Query,
        v: Version,
        max: u32,
        detail_path: bool,
    ) -> Result<ListParams, ApiError> {
        Self::parse_with(q, v, max, detail_path, 43)
    }

    /// `parse_max` for a collection that took `?detail=` from microversion `detail_min`
    /// (1.43 for most; volume had it from its start).
    pub fn parse_with(
        q: &Query,
        v: Version,
        max: u32,
        detail_path: bool,
        detail_min: u32,
    ) -> Result<ListParams, ApiError> {
        let limit = match q.get("limit") {
            None => max,
            Some(s) => {
                let n: i64 = s.trim().parse().map_err(|_| {
                    ApiError::bad_request(format!("Expected an integer for limit: {s}"))
                })?;
                if n <= 0 {
                    return Err(ApiError::bad_request("Limit must be positive"));
                }
                (n.min(max as i64)) as u32
            }
        };
        let sort_dir = q.get("sort_dir").unwrap_or("asc").to_string();
        if sort_dir != "asc" && sort_dir != "desc" {
            return Err(ApiError::bad_request(format!(
                "Invalid sort direction: {sort_dir}. Acceptable values are 'asc' or 'desc'"
            )));
        }
        let fields = match q.get("fields") {
            Some(_) if !v.at_least(8) => return Err(ApiError::not_acceptable()),
            Some(f) => Some(
                f.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>(),
            ),
            None => None,
        };
        let detail = match q.get("detail") {
            None => detail_path,
            Some(d) => {
                if detail_path {
                    return Err(ApiError::bad_request(
                        "Invalid query parameter ?detail=True received.",
                    ));
                }
                let b = parse_bool("detail", d)?;
                if !v.at_least(detail_min) {
                    return Err(ApiError::bad_request(format!(
                        "Invalid query parameter ?detail={} received.",
                        if b { "True" } else { "False" }
                    )));
                }
                b
            }
        };
        if detail && fields.is_some() {
            return Err(ApiError::bad_request(
                "Can not specify ?detail=True and fields in the same request.",
            ));
        }
        let marker = q.get("marker").map(str::to_string);
        Ok(ListParams {
            limit,
            marker,
            sort_key: q.get("sort_key").unwrap_or("id").to_string(),
            sort_dir,
            fields,
            detail,
        })
    }

    pub fn descending(&self) -> bool {
        self.sort_dir == "desc"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_levels() {
        assert_eq!(depth(&serde_json::json!(1)), 1);
        assert_eq!(depth(&serde_json::json!({"a": {"b": [1]}})), 4);
    }

    #[test]
    fn repeated_parameters_merge_or_are_refused_as_ironic_does() {
        let q = Query::parse_str("fields=uuid&limit=3&fields=name,driver").unwrap();
        assert_eq!(q.get("fields"), Some("uuid,name,driver"));
        assert_eq!(q.list("fields").unwrap(), vec!["uuid", "name", "driver"]);
        assert_eq!(q.get("limit"), Some("3"));
        let refusal = |qs: &str| Query::parse_str(qs).err().map(|e| e.message);
        assert_eq!(
            refusal("limit=1&limit=5").as_deref(),
            Some("Expected an integer for limit: ['1', '5']")
        );
        assert_eq!(
            refusal("driver=fake-hardware&driver=ipmi").as_deref(),
            Some("Expected string for driver: ['fake-hardware', 'ipmi']")
        );
        assert_eq!(
            refusal("detail=true&detail=false").as_deref(),
            Some("Invalid detail: Unrecognized value '['true', 'false']', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'")
        );
        assert!(Query::parse_str("shard=a&shard=b").is_ok());
    }

    #[test]
    fn bools() {
        assert!(parse_bool("x", "Yes").unwrap());
        assert!(!parse_bool("x", "off").unwrap());
        assert!(parse_bool("maintenance", "notbool")
            .unwrap_err()
            .message
            .starts_with("Invalid maintenance: Unrecognized value 'notbool'"));
    }
}
