//! `/v1/nodes/{id}/vmedia` (Ironic's NodeVmediaController): attach (POST) and detach
//! (DELETE) from 1.89, what is attached (GET) from 1.93. The body is checked as Ironic's
//! JSON schema does, with its messages; the conductor does the work.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::nodes::find;
use super::params::Query;
use super::views::py_repr;
use super::State;
use crate::model::vmedia::{self, DownloadSource, VmediaDevice, VMEDIA_DEVICES};

/// Below 1.89 the path does not exist (Ironic's router answers before any handler).
fn gate(v: Version) -> Result<(), ApiError> {
    if v.at_least(89) {
        Ok(())
    } else {
        Err(ApiError::unknown_path())
    }
}

fn schema_error(detail: String) -> ApiError {
    ApiError::bad_request(format!("Schema error for vmedia: {detail}"))
}

fn device_names() -> [&'static str; 3] {
    VMEDIA_DEVICES.map(VmediaDevice::name)
}

/// The attach body as Ironic's VMEDIA_ATTACH_VALIDATOR checks it.
fn attach_request(body: &Value) -> Result<(VmediaDevice, String, DownloadSource), ApiError> {
    let obj = body
        .as_object()
        .ok_or_else(|| schema_error(format!("{} is not of type 'object'", py_repr(body))))?;
    const KEYS: [&str; 3] = ["device_type", "image_url", "image_download_source"];
    if let Some(k) = obj.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(ApiError::unexpected("vmedia", k));
    }
    let string = |key: &str| -> Result<Option<&str>, ApiError> {
        match obj.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(schema_error(format!(
                "{} is not of type 'string'",
                py_repr(other)
            ))),
        }
    };
    let one_of = |s: &str, names: &[&str]| {
        schema_error(format!(
            "{} is not one of {}",
            py_repr(&json!(s)),
            vmedia::py_list(names)
        ))
    };
    let device =
        string("device_type")?.ok_or_else(|| ApiError::required("vmedia", "device_type"))?;
    let url = string("image_url")?.ok_or_else(|| ApiError::required("vmedia", "image_url"))?;
    let device = VmediaDevice::parse(device).ok_or_else(|| one_of(device, &device_names()))?;
    let source = match string("image_download_source")? {
        None => DownloadSource::Local,
        Some(s) => DownloadSource::parse(s).ok_or_else(|| one_of(s, &DownloadSource::NAMES))?,
    };
    let scheme = vmedia::scheme(url);
    if !vmedia::URL_SCHEMES.contains(&scheme.as_str()) {
        return Err(ApiError::bad_request(format!(
            "Unsupported or missing URL scheme: {scheme}"
        )));
    }
    Ok((device, url.to_string(), source))
}

/// `GET /v1/nodes/{id}/vmedia` (1.93): `[{"media_types", "inserted", "image"}]`.
pub async fn get(
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    gate(v)?;
    if !v.at_least(93) {
        return Err(ApiError::not_found("The resource could not be found."));
    }
    let node = find(&state, &path, v).await?;
    Ok(HttpResponse::Ok().json(state.conductor.node_vmedia_get(node).await?))
}

/// `POST /v1/nodes/{id}/vmedia` (1.89): 204, the BMC is told on a worker.
pub async fn attach(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    gate(v)?;
    // No body is an empty object: the schema then names the first missing key.
    let body = super::resource::optional_body(&req, payload, &state)
        .await?
        .unwrap_or_else(|| json!({}));
    let (device, url, source) = attach_request(&body)?;
    let node = find(&state, &path, v).await?;
    state
        .conductor
        .node_vmedia_attach(node, device, url, source)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The device types to detach, from the query string or a JSON object body (openstacksdk
/// sends `{"device_types": "a,b"}`; the body wins, as Ironic merges them). A body that is
/// no JSON object is ignored, as Ironic ignores it. None: every device.
fn detach_request(q: &Query, body: Option<&Value>) -> Result<Option<Vec<VmediaDevice>>, ApiError> {
    let mut args: Vec<(String, Value)> = q
        .pairs()
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    if let Some(Value::Object(o)) = body {
        args.extend(o.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let mut extra: Vec<&str> = args
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| *k != "device_types")
        .collect();
    extra.dedup();
    if !extra.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Unexpected arguments: {}",
            extra.join(", ")
        )));
    }
    let names: Vec<String> = match args.iter().rev().find(|(k, _)| k == "device_types") {
        None => return Ok(None),
        Some((_, Value::String(s))) => s.split(',').map(|n| n.trim().to_string()).collect(),
        Some((_, Value::Array(a))) => a
            .iter()
            .map(|n| n.as_str().map_or_else(|| py_repr(n), str::to_string))
            .collect(),
        Some((_, other)) => vec![py_repr(other)],
    };
    let names: Vec<String> = names.into_iter().filter(|n| !n.is_empty()).collect();
    let invalid: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| VmediaDevice::parse(n).is_none())
        .collect();
    if !invalid.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Invalid device type(s) {} (valid are {})",
            invalid.join(", "),
            device_names().join(", ")
        )));
    }
    Ok(Some(
        names
            .iter()
            .filter_map(|n| VmediaDevice::parse(n))
            .collect(),
    ))
}

/// `DELETE /v1/nodes/{id}/vmedia[?device_types=a,b]` (1.89): 204, ejected on a worker.
pub async fn detach(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    gate(v)?;
    let q = Query::parse(&req)?;
    let body = super::resource::optional_body(&req, payload, &state)
        .await
        .ok()
        .flatten();
    let devices = detach_request(&q, body.as_ref())?;
    let node = find(&state, &path, v).await?;
    state.conductor.node_vmedia_detach(node, devices).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(body: Value) -> String {
        attach_request(&body)
            .err()
            .map(|e| e.message)
            .unwrap_or_default()
    }

    #[test]
    fn attach_bodies_are_checked_as_ironics_schema_does() {
        let ok = attach_request(&json!({"device_type": "cdrom", "image_url": "http://x/a.iso"}));
        assert_eq!(
            ok.ok(),
            Some((
                VmediaDevice::Cdrom,
                "http://x/a.iso".into(),
                DownloadSource::Local
            ))
        );
        let cases = [
            (json!({"device_type": "usb", "image_url": "http://x"}),
             "Schema error for vmedia: 'usb' is not one of ['disk', 'cdrom', 'floppy']"),
            (json!({"device_type": "cdrom"}),
             "Schema error for vmedia: 'image_url' is a required property"),
            (json!({}), "Schema error for vmedia: 'device_type' is a required property"),
            (json!({"device_type": "cdrom", "image_url": "ftp://x/a.iso"}),
             "Unsupported or missing URL scheme: ftp"),
            (json!({"device_type": "cdrom", "image_url": "a.iso"}),
             "Unsupported or missing URL scheme: "),
            (json!({"device_type": "cdrom", "image_url": "http://x", "foo": 1}),
             "Schema error for vmedia: Additional properties are not allowed ('foo' was unexpected)"),
            (json!({"device_type": "cdrom", "image_url": "http://x", "image_download_source": "nfs"}),
             "Schema error for vmedia: 'nfs' is not one of ['http', 'local', 'swift']"),
            (json!([]), "Schema error for vmedia: [] is not of type 'object'"),
            (json!({"device_type": "cdrom", "image_url": 5}),
             "Schema error for vmedia: 5 is not of type 'string'"),
        ];
        for (body, want) in cases {
            assert_eq!(refusal(body.clone()), want, "{body}");
        }
    }

    #[test]
    fn detach_takes_device_types_from_the_query_or_the_body() {
        let q = |s: &str| Query::parse_str(s).unwrap();
        let names = |r: Result<Option<Vec<VmediaDevice>>, ApiError>| {
            r.map(|o| o.map(|v| v.iter().map(|d| d.name()).collect::<Vec<_>>()))
                .map_err(|e| e.message)
        };
        assert_eq!(names(detach_request(&q(""), None)), Ok(None));
        assert_eq!(
            names(detach_request(&q("device_types=cdrom,floppy"), None)),
            Ok(Some(vec!["cdrom", "floppy"]))
        );
        let body = json!({"device_types": "cdrom, disk"});
        assert_eq!(
            names(detach_request(&q("device_types=floppy"), Some(&body))),
            Ok(Some(vec!["cdrom", "disk"]))
        );
        let body = json!({"device_types": ["cdrom", "usb"]});
        assert_eq!(
            names(detach_request(&q(""), Some(&body))),
            Err("Invalid device type(s) usb (valid are disk, cdrom, floppy)".into())
        );
        assert_eq!(
            names(detach_request(&q("foo=1"), Some(&json!({"bar": 2})))),
            Err("Unexpected arguments: foo, bar".into())
        );
        // Not an object: ignored.
        assert_eq!(names(detach_request(&q(""), Some(&json!([])))), Ok(None));
    }
}
