//! The request parsers that need no database, gathered for the fuzz targets under `fuzz/`
//! (not an API): create bodies and PATCH documents through each resource's `Create` and
//! `Update`, list query strings, and the provision body.

use serde_json::{Map, Value};

use super::microversion::Version;
use super::resource::{self, Create};
use crate::model::{chassis::Chassis, node::Node, port::Port, portgroup::Portgroup};

pub use super::error::ApiError;
pub use super::params::provision::{provision_body, ProvisionRequest};
pub use super::params::{ListParams, Query};

/// The collections whose create and PATCH parsing is reachable here.
pub const COLLECTIONS: &[&str] = &["nodes", "ports", "portgroups", "chassis"];

/// `POST /v1/<collection>` up to the conductor: the body's checks and every field set on
/// the new item, as `resource::create` does before its database hooks.
pub fn create(collection: &str, body: &Value, v: Version) -> Result<(), ApiError> {
    fn run<R: Create>(body: &Value, v: Version) -> Result<(), ApiError> {
        let r = super::views::Reader { res: R::RES };
        let obj = body.as_object().ok_or_else(|| r.not_object(body))?;
        R::check_create(obj, body, v)?;
        let mut item = R::new_default(v);
        for (k, val) in obj {
            if !R::NOT_FIELDS.contains(&k.as_str()) {
                item.set_field(k, val, v, "create")?;
            }
        }
        Ok(())
    }
    match collection {
        "nodes" => run::<Node>(body, v),
        "ports" => run::<Port>(body, v),
        "portgroups" => run::<Portgroup>(body, v),
        _ => run::<Chassis>(body, v),
    }
}

/// `PATCH /v1/<collection>/{ident}` up to the conductor: `ops` applied to `doc` (the item
/// as the client sees it), then each changed root set on a default item. Returns the
/// patched document and the roots that changed.
pub fn patch(
    collection: &str,
    doc: Map<String, Value>,
    ops: &Value,
    v: Version,
) -> Result<(Map<String, Value>, Vec<String>), ApiError> {
    fn run<R: Create>(
        doc: Map<String, Value>,
        ops: &Value,
        v: Version,
    ) -> Result<(Map<String, Value>, Vec<String>), ApiError> {
        let (after, changed) = super::patch::apply(doc, ops, R::patchable(v), |root| {
            resource::visible::<R>(root, v)
        })?;
        let mut item = R::new_default(v);
        for k in &changed {
            item.set_field(k, after.get(k).unwrap_or(&Value::Null), v, "update")?;
        }
        Ok((after, changed))
    }
    match collection {
        "nodes" => run::<Node>(doc, ops, v),
        "ports" => run::<Port>(doc, ops, v),
        "portgroups" => run::<Portgroup>(doc, ops, v),
        _ => run::<Chassis>(doc, ops, v),
    }
}

/// A list request's query string up to the store call: the common parameters, the sort
/// key and `fields` checked against the collection, and the `next` link of a full page.
pub fn list_query(
    collection: &str,
    qs: &str,
    v: Version,
    max_limit: u32,
) -> Result<Option<String>, ApiError> {
    fn run<R: resource::Resource>(
        qs: &str,
        v: Version,
        max_limit: u32,
        path: &str,
    ) -> Result<Option<String>, ApiError> {
        let q = Query::parse_str(qs)?;
        let p = ListParams::parse_max(&q, v, max_limit, false)?;
        resource::check_sort_key::<R>(&p.sort_key, v)?;
        if let Some(f) = &p.fields {
            resource::check_fields::<R>(f, v)?;
        }
        // Paging and filters a handler reads (values only; the store is not reached).
        let _ = (
            q.bool("maintenance"),
            q.list("shard"),
            q.gated("owner", v, 50),
        );
        Ok(resource::next_link(
            "http://127.0.0.1:6385",
            path,
            &q,
            &p,
            p.limit as usize,
            Some("1be26c0b-03f2-4d2e-ae87-c02d7f33c123"),
            p.fields.as_deref(),
        ))
    }
    match collection {
        "nodes" => run::<Node>(qs, v, max_limit, collection),
        "ports" => run::<Port>(qs, v, max_limit, collection),
        "portgroups" => run::<Portgroup>(qs, v, max_limit, collection),
        _ => run::<Chassis>(qs, v, max_limit, "chassis"),
    }
}

/// `PUT /v1/nodes/{id}/states/provision` for a node in `node.provision_state`.
pub fn provision(body: &Value, v: Version, node: &Node) -> Result<ProvisionRequest, ApiError> {
    ProvisionRequest::parse(provision_body(body)?, v, node)
}
