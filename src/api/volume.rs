//! `/v1/volume` (1.32): volume connectors and targets, at `/v1/volume/{connectors,targets}`
//! and listed under `/v1/nodes/{node}/volume/`. Both are a table of fields plus Ironic's
//! rules; the writes' node-state rules live in `conductor::volume`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::params::Query;
use super::resource::{self, Ctx, Resource};
use super::views::{links, Reader};
use super::{base_url, State};
use crate::conductor::Volume;
use crate::db::{Page, StoreError, VolumeFilter};
use crate::model::validate;
use crate::model::volume::{VolumeConnector, VolumeTarget};

/// The microversion volume appeared in.
const VOLUME: u32 = 32;

/// What both resources share beyond `Resource`: their names in Ironic's messages and the
/// keys a create requires.
pub trait VolumeResource: Resource<Filter = VolumeFilter> + Volume {
    /// The schema name of a create body ("Schema error for connector").
    const BODY: &'static str;
    /// The path parameter name in "Expected UUID for connector_uuid".
    const IDENT: &'static str;
    /// Keys a create must carry, in Ironic's schema order.
    const REQUIRED: &'static [&'static str];
    const PATCHABLE: &'static [&'static str];

    /// Its uuid and node_uuid, the fields both set alike.
    fn ids_mut(&mut self) -> (&mut String, &mut String);

    /// Set one of the resource's own fields (not uuid or node_uuid).
    fn set_own(&mut self, key: &str, val: &Value, r: &Reader) -> Result<(), ApiError>;
}

/// `{"links", "connectors", "targets"}` of a volume root at `path`.
fn root_doc(base: &str, path: &str) -> Value {
    json!({
        "links": links(base, &format!("{path}/")),
        "connectors": links(base, &format!("{path}/connectors")),
        "targets": links(base, &format!("{path}/targets")),
    })
}

/// `GET /v1/volume`.
pub async fn root(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
) -> Result<HttpResponse, ApiError> {
    gate(v)?;
    Ok(HttpResponse::Ok().json(root_doc(&base_url(&req, &state), "volume")))
}

/// `GET /v1/nodes/{node}/volume`.
pub async fn node_root(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    gate(v)?;
    let n = super::nodes::find(&state, &path, v).await?;
    let at = format!("nodes/{}/volume", n.uuid);
    Ok(HttpResponse::Ok().json(root_doc(&base_url(&req, &state), &at)))
}

fn gate(v: Version) -> Result<(), ApiError> {
    if v.at_least(VOLUME) {
        Ok(())
    } else {
        Err(ApiError::unsupported_version())
    }
}

/// `GET /v1/nodes/{node}/volume/{connectors,targets}`.
pub async fn list_for_node<R: VolumeResource>(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    gate(v)?;
    let n = super::nodes::find(&state, &path, v).await?;
    let at = format!("nodes/{}/{}", n.uuid, R::COLLECTION);
    let f = VolumeFilter {
        node_uuid: Some(n.uuid),
    };
    resource::list_in::<R>(&req, &state, v, false, f, &at).await
}

/// Writes and single items under a node's volume collections: Ironic answers them
/// "Malformed request URI." (they exist only at `/v1/volume/...`).
pub async fn malformed(v: Version) -> Result<HttpResponse, ApiError> {
    gate(v)?;
    Err(ApiError::bad_request("Malformed request URI."))
}

/// The list query Ironic's schema allows; anything else is refused by name.
fn check_query(q: &Query) -> Result<(), ApiError> {
    const ALLOWED: &[&str] = &[
        "node", "detail", "fields", "limit", "marker", "sort_key", "sort_dir",
    ];
    let unexpected: Vec<&str> = q
        .pairs()
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !ALLOWED.contains(k))
        .collect();
    if unexpected.is_empty() {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "Unexpected arguments: {}",
            unexpected.join(", ")
        )))
    }
}

/// `?node=` (UUID or name); a node's nested list keeps its own node, as Ironic's does.
async fn node_filter(
    state: &State,
    q: &Query,
    v: Version,
    f: &mut VolumeFilter,
) -> Result<(), ApiError> {
    check_query(q)?;
    if let (None, Some(ident)) = (&f.node_uuid, q.get("node")) {
        f.node_uuid = Some(super::nodes::find(state, ident, v).await?.uuid);
    }
    Ok(())
}

/// A path's `{uuid}`: connectors and targets have no names.
async fn find_by_uuid<R: VolumeResource>(state: &State, ident: &str) -> Result<R, ApiError> {
    let uuid =
        validate::normalize_uuid(ident).ok_or_else(|| ApiError::expected_uuid(R::IDENT, ident))?;
    state
        .store
        .volume_get::<R>(uuid)
        .await?
        .ok_or_else(|| ApiError::resource_not_found(R::WHAT, ident))
}

/// The columns shared by both rows' views.
fn common_row(
    uuid: &str,
    node_uuid: &str,
    extra: &crate::model::JsonObject,
    created: &str,
    updated: &Option<String>,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("uuid".into(), json!(uuid));
    m.insert("created_at".into(), json!(created));
    m.insert("updated_at".into(), json!(updated));
    m.insert("node_uuid".into(), json!(node_uuid));
    m.insert("extra".into(), Value::Object(extra.clone()));
    m
}

impl Resource for VolumeConnector {
    const COLLECTION: &'static str = "volume/connectors";
    const LIST_KEY: &'static str = "connectors";
    const MIN_VERSION: u32 = VOLUME;
    const DETAIL_VERSION: u32 = VOLUME;
    const FIELDS: &'static [(&'static str, u32)] = &[
        ("uuid", VOLUME),
        ("created_at", VOLUME),
        ("updated_at", VOLUME),
        ("node_uuid", VOLUME),
        ("type", VOLUME),
        ("connector_id", VOLUME),
        ("extra", VOLUME),
    ];
    const UNSORTABLE: &'static [&'static str] = &["extra"];
    const NOT_SORT_COLUMNS: &'static [&'static str] = &["node_uuid"];
    const LIST_FIELDS: Option<&'static [&'static str]> =
        Some(&["uuid", "node_uuid", "type", "connector_id"]);
    type Filter = VolumeFilter;

    fn ident(&self) -> &str {
        &self.uuid
    }

    fn row(&self, _: &Ctx) -> Map<String, Value> {
        let mut m = common_row(
            &self.uuid,
            &self.node_uuid,
            &self.extra,
            &self.created_at,
            &self.updated_at,
        );
        m.insert("type".into(), json!(self.connector_type));
        m.insert("connector_id".into(), json!(self.connector_id));
        m
    }

    async fn find(state: &State, ident: &str, _: Version) -> Result<Self, ApiError> {
        find_by_uuid(state, ident).await
    }

    async fn filter(
        state: &State,
        q: &Query,
        v: Version,
        f: &mut VolumeFilter,
    ) -> Result<(), ApiError> {
        node_filter(state, q, v, f).await
    }

    async fn list(state: &State, f: VolumeFilter, page: Page) -> Result<Vec<Self>, StoreError> {
        state.store.volume_list(f, page).await
    }
}

impl VolumeResource for VolumeConnector {
    const BODY: &'static str = "connector";
    const IDENT: &'static str = "connector_uuid";
    const REQUIRED: &'static [&'static str] = &["connector_id", "node_uuid", "type"];
    const PATCHABLE: &'static [&'static str] = &["connector_id", "extra", "node_uuid", "type"];

    fn ids_mut(&mut self) -> (&mut String, &mut String) {
        (&mut self.uuid, &mut self.node_uuid)
    }

    fn set_own(&mut self, key: &str, val: &Value, r: &Reader) -> Result<(), ApiError> {
        match key {
            // Ironic's column widths.
            "type" => self.connector_type = r.str(val, 32)?,
            "connector_id" => self.connector_id = r.str(val, 255)?,
            "extra" => self.extra = r.obj(val)?,
            other => return Err(r.unexpected(other)),
        }
        Ok(())
    }
}

impl Resource for VolumeTarget {
    const COLLECTION: &'static str = "volume/targets";
    const LIST_KEY: &'static str = "targets";
    const MIN_VERSION: u32 = VOLUME;
    const DETAIL_VERSION: u32 = VOLUME;
    const FIELDS: &'static [(&'static str, u32)] = &[
        ("uuid", VOLUME),
        ("created_at", VOLUME),
        ("updated_at", VOLUME),
        ("node_uuid", VOLUME),
        ("volume_type", VOLUME),
        ("properties", VOLUME),
        ("boot_index", VOLUME),
        ("volume_id", VOLUME),
        ("extra", VOLUME),
    ];
    const UNSORTABLE: &'static [&'static str] = &["extra", "properties"];
    const NOT_SORT_COLUMNS: &'static [&'static str] = &["node_uuid"];
    const LIST_FIELDS: Option<&'static [&'static str]> = Some(&[
        "uuid",
        "node_uuid",
        "volume_type",
        "boot_index",
        "volume_id",
    ]);
    type Filter = VolumeFilter;

    fn ident(&self) -> &str {
        &self.uuid
    }

    fn row(&self, _: &Ctx) -> Map<String, Value> {
        let mut m = common_row(
            &self.uuid,
            &self.node_uuid,
            &self.extra,
            &self.created_at,
            &self.updated_at,
        );
        m.insert("volume_type".into(), json!(self.volume_type));
        // Masked in views like every object (iSCSI CHAP secrets live here).
        m.insert("properties".into(), Value::Object(self.properties.clone()));
        m.insert("boot_index".into(), json!(self.boot_index));
        m.insert("volume_id".into(), json!(self.volume_id));
        m
    }

    async fn find(state: &State, ident: &str, _: Version) -> Result<Self, ApiError> {
        find_by_uuid(state, ident).await
    }

    async fn filter(
        state: &State,
        q: &Query,
        v: Version,
        f: &mut VolumeFilter,
    ) -> Result<(), ApiError> {
        node_filter(state, q, v, f).await
    }

    async fn list(state: &State, f: VolumeFilter, page: Page) -> Result<Vec<Self>, StoreError> {
        state.store.volume_list(f, page).await
    }
}

impl VolumeResource for VolumeTarget {
    const BODY: &'static str = "target";
    const IDENT: &'static str = "target_uuid";
    const REQUIRED: &'static [&'static str] =
        &["boot_index", "node_uuid", "volume_id", "volume_type"];
    const PATCHABLE: &'static [&'static str] = &[
        "boot_index",
        "extra",
        "node_uuid",
        "properties",
        "volume_id",
        "volume_type",
    ];

    fn ids_mut(&mut self) -> (&mut String, &mut String) {
        (&mut self.uuid, &mut self.node_uuid)
    }

    fn set_own(&mut self, key: &str, val: &Value, r: &Reader) -> Result<(), ApiError> {
        match key {
            "volume_type" => self.volume_type = r.str(val, 64)?,
            "volume_id" => self.volume_id = r.str(val, 255)?,
            "properties" => self.properties = r.obj(val)?,
            "extra" => self.extra = r.obj(val)?,
            "boot_index" => {
                // JSON integers only: no strings, booleans or fractions.
                self.boot_index = val.as_i64().filter(|_| !val.is_boolean()).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "Schema error for {}: {} is not of type 'integer'",
                        r.res,
                        super::views::py_repr(val)
                    ))
                })?
            }
            other => return Err(r.unexpected(other)),
        }
        Ok(())
    }
}

/// One field of a create (`verb` "create") or of a patched item ("update"): Ironic checks
/// the patched object against the create schema, naming it "patch" in its messages.
fn set_field<R: VolumeResource>(
    item: &mut R,
    key: &str,
    val: &Value,
    verb: &str,
) -> Result<(), ApiError> {
    let update = verb == "update";
    let r = Reader {
        res: if update { "patch" } else { R::BODY },
    };
    if update && val.is_null() && R::REQUIRED.contains(&key) {
        return Err(r.required(key));
    }
    match key {
        "uuid" => {
            let uuid = r.opt_uuid("uuid", val)?;
            *item.ids_mut().0 = uuid.unwrap_or_else(crate::model::new_uuid);
        }
        "node_uuid" => {
            let s = r.str(val, 36)?;
            let uuid = validate::normalize_uuid(&s).ok_or_else(|| {
                ApiError::bad_request(if update {
                    format!("Expected a UUID for node_uuid, but received {s}.")
                } else {
                    format!("Expected UUID for node_uuid: {s}")
                })
            })?;
            *item.ids_mut().1 = uuid;
        }
        other => item.set_own(other, val, &r)?,
    }
    Ok(())
}

/// A create's body: an object of known keys carrying the required ones (Ironic's schema
/// order: unknown keys first, then the first missing required key).
fn check_create<R: VolumeResource>(obj: &Map<String, Value>) -> Result<(), ApiError> {
    let r = Reader { res: R::BODY };
    if let Some(k) = obj
        .keys()
        .find(|k| *k != "uuid" && !R::PATCHABLE.contains(&k.as_str()))
    {
        return Err(r.unexpected(k));
    }
    match R::REQUIRED.iter().find(|k| !obj.contains_key(**k)) {
        Some(k) => Err(r.required(k)),
        None => Ok(()),
    }
}

/// A create naming a node that does not exist: Ironic's InvalidInput (400).
async fn check_node<R: VolumeResource>(state: &State, item: &R) -> Result<(), ApiError> {
    let node = item.node_uuid().to_string();
    if state.store.node_get(node.clone()).await?.is_none() {
        return Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute node_uuid. Value: '{node}'. "
        )));
    }
    Ok(())
}

/// Update, Create and Delete of a volume resource: the shared shape above.
macro_rules! volume_writes {
    ($t:ty) => {
        impl resource::Update for $t {
            const RES: &'static str = <$t as VolumeResource>::BODY;

            fn patchable(_: Version) -> &'static [&'static str] {
                <$t as VolumeResource>::PATCHABLE
            }

            fn set_field(
                &mut self,
                key: &str,
                val: &Value,
                _: Version,
                verb: &str,
            ) -> Result<(), ApiError> {
                set_field(self, key, val, verb)
            }

            async fn save(
                state: &State,
                old: Self,
                new: Self,
                _: &[String],
                _: resource::PatchQuery,
            ) -> Result<Self, ApiError> {
                Ok(state.conductor.volume_update(old, new).await?)
            }
        }

        impl resource::Create for $t {
            fn new_default(_: Version) -> Self {
                let mut item = Self::default();
                *item.ids_mut().0 = crate::model::new_uuid();
                item
            }

            fn check_create(
                obj: &Map<String, Value>,
                _: &Value,
                _: Version,
            ) -> Result<(), ApiError> {
                check_create::<$t>(obj)
            }

            async fn after_fields(
                &mut self,
                state: &State,
                _: &Map<String, Value>,
                _: Version,
            ) -> Result<(), ApiError> {
                check_node(state, self).await
            }

            async fn insert(state: &State, item: Self) -> Result<Self, ApiError> {
                Ok(state.conductor.volume_create(item).await?)
            }
        }

        impl resource::Delete for $t {
            async fn delete(state: &State, item: Self) -> Result<(), ApiError> {
                Ok(state.conductor.volume_delete(item).await?)
            }
        }
    };
}

volume_writes!(VolumeConnector);
volume_writes!(VolumeTarget);
