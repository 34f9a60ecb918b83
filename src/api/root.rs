//! `GET /` and `GET /v1`: the version documents clients discover microversions from.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::microversion::Version;
use super::views::links;
use super::{base_url, State};

fn version_doc(base: &str) -> Value {
    json!({
        "id": "v1",
        "links": [{"href": format!("{base}/v1/"), "rel": "self"}],
        "status": "CURRENT",
        "min_version": Version::MIN.header_value(),
        "version": Version::MAX.header_value(),
    })
}

pub async fn root(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let base = base_url(&req, &state);
    HttpResponse::Ok().json(json!({
        "name": "OpenStack Ironic API",
        "description": "ironbox: a single-binary bare metal provisioning appliance speaking OpenStack Ironic's Bare Metal API.",
        "default_version": version_doc(&base),
        "versions": [version_doc(&base)],
    }))
}

/// Only collections ironbox serves are linked; each appears from the version that added it.
const COLLECTIONS: &[(&str, u32)] = &[
    ("chassis", 1),
    ("nodes", 1),
    ("ports", 1),
    ("drivers", 1),
    ("lookup", 22),
    ("heartbeat", 22),
    ("portgroups", 23),
    ("volume", 32),
    ("conductors", 49),
    ("allocations", 52),
    ("events", 54),
    ("deploy_templates", 55),
    ("shards", 82),
    ("continue_inspection", 84),
    ("runbooks", 92),
    ("inspection_rules", 96),
];

pub async fn v1(req: HttpRequest, state: web::Data<State>, v: Version) -> HttpResponse {
    let base = base_url(&req, &state);
    let mut m = Map::new();
    m.insert("id".into(), json!("v1"));
    m.insert("links".into(), json!([
        {"href": format!("{base}/v1/"), "rel": "self"},
        {"href": "https://docs.openstack.org/ironic/latest/contributor/webapi.html", "rel": "describedby", "type": "text/html"},
    ]));
    m.insert(
        "media_types".into(),
        json!({"base": "application/json", "type": "application/vnd.openstack.ironic.v1+json"}),
    );
    for (name, min) in COLLECTIONS {
        if v.at_least(*min) {
            m.insert(name.to_string(), links(&base, &format!("{name}/")));
        }
    }
    m.insert("version".into(), version_doc(&base));
    HttpResponse::Ok().json(Value::Object(m))
}

/// `GET /v1/shards` (1.82): shard names and how many nodes each holds.
pub async fn shards(
    state: web::Data<State>,
    v: Version,
) -> Result<HttpResponse, super::error::ApiError> {
    if !v.at_least(82) {
        return Err(super::error::ApiError::unsupported_version());
    }
    let counts = state.store.node_shard_counts().await?;
    let items: Vec<Value> = counts
        .into_iter()
        .map(|(name, count)| json!({"name": name, "count": count}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "shards": items })))
}
