//! The resource model every collection of the API shares: a table of fields with the
//! microversion that introduced each, Ironic's rules for `sort_key` and `?fields=`, paging
//! and the `next` link, and the one generic list, show and view. A new resource is an
//! `impl Resource` (its fields, its filters, its store call), not a copy of another file.
//! Writes share their shape too (`Update`, `Create`, `Delete`); each resource supplies its
//! field setter, its own checks as hooks and its conductor call.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::params::{json_body, ListParams, Query};
use super::views::{select, Links, Reader};
use super::{base_url, State};
use crate::db::{Page, StoreError};
use crate::model::{secrets, validate};

/// What a view needs besides the item: the state (for computed fields such as a node's
/// `conductor` or a conductor's `alive`), the negotiated version and the link base.
pub struct Ctx<'a> {
    pub state: &'a State,
    pub v: Version,
    pub base: &'a str,
}

/// One API collection (`/v1/<COLLECTION>`).
pub trait Resource: Sized {
    /// The path under `/v1` (`ports`, `volume/connectors`).
    const COLLECTION: &'static str;
    /// The key of a list body: the path itself unless nested (`connectors`).
    const LIST_KEY: &'static str = Self::COLLECTION;
    /// Every field with the microversion that introduced it.
    const FIELDS: &'static [(&'static str, u32)];
    /// The microversion the collection appeared in (404 below it).
    const MIN_VERSION: u32 = 1;
    /// Ironic's `invalid_sort_key_list`: fields the API refuses as sort keys (its message
    /// names the key unquoted).
    const UNSORTABLE: &'static [&'static str] = &[];
    /// Fields the store cannot sort by: refused as an unknown key is (quoted), as Ironic's
    /// database layer does for what is not a column.
    const NOT_SORT_COLUMNS: &'static [&'static str] = &[];
    /// What a list shows without `detail` or `fields`; `None`: every field.
    const LIST_FIELDS: Option<&'static [&'static str]>;
    /// The microversion `?detail=` is accepted from.
    const DETAIL_VERSION: u32 = 43;
    /// Sub-collections a full view links to, with the microversion of each.
    const SUB_LINKS: &'static [(&'static str, u32)] = &[];

    /// The store's filter; a nested list (`/nodes/{id}/ports`) presets it.
    type Filter: Default;

    /// The identity in links and paging markers (a uuid; a conductor's hostname).
    fn ident(&self) -> &str;

    /// Every field's value, unmasked and without links (also what a PATCH applies to);
    /// views keep the fields visible at the requested version.
    fn row(&self, cx: &Ctx) -> Map<String, Value>;

    /// Resolve a path's `{ident}`, with the resource's rules for names and UUIDs.
    async fn find(state: &State, ident: &str, v: Version) -> Result<Self, ApiError>;

    /// The resource's own query filters (`?address=`, `?node=` ...), parsed into `f`.
    async fn filter(
        state: &State,
        q: &Query,
        v: Version,
        f: &mut Self::Filter,
    ) -> Result<(), ApiError> {
        let _ = (state, q, v, f);
        Ok(())
    }

    /// The store's list call.
    async fn list(state: &State, f: Self::Filter, page: Page) -> Result<Vec<Self>, StoreError>;

    /// One page of items written as JSON, by default the store's list and then each
    /// item's view; nodes read only the columns of `lc.fields` and write each row as it is
    /// stepped.
    async fn page_json(
        state: &State,
        f: Self::Filter,
        page: Page,
        lc: ListCtx,
    ) -> Result<PageJson, ApiError> {
        let items = Self::list(state, f, page).await?;
        let cx = Ctx {
            state,
            v: lc.v,
            base: &lc.base,
        };
        let mut pj = PageJson::default();
        for item in &items {
            pj.push(
                &Row {
                    item,
                    cx: &cx,
                    fields: lc.fields.as_deref(),
                },
                item.ident(),
            )
            .map_err(ApiError::internal)?;
        }
        Ok(pj)
    }

    /// Whether a full page gets a `next` link.
    fn pages(q: &Query) -> bool {
        let _ = q;
        true
    }

    /// Write the view of one item; nodes override this to write straight from the node.
    fn serialize_view<S: serde::Serializer>(
        &self,
        cx: &Ctx,
        fields: Option<&[String]>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        view_value(self, cx, fields).serialize(s)
    }

    /// The view as a JSON value (create and update responses).
    fn view(&self, cx: &Ctx, fields: Option<&[String]>) -> Value {
        serde_json::to_value(Row {
            item: self,
            cx,
            fields,
        })
        .unwrap_or(Value::Null)
    }
}

pub fn field_version<R: Resource>(name: &str) -> Option<u32> {
    R::FIELDS.iter().find(|(f, _)| *f == name).map(|(_, v)| *v)
}

pub fn visible<R: Resource>(name: &str, v: Version) -> bool {
    field_version::<R>(name).is_some_and(|min| v.at_least(min))
}

/// 404 for a collection newer than the requested microversion.
pub fn gate<R: Resource>(v: Version) -> Result<(), ApiError> {
    if v.at_least(R::MIN_VERSION) {
        Ok(())
    } else {
        Err(ApiError::unsupported_version())
    }
}

/// The fields visible at `cx.v`.
fn visible_row<R: Resource>(item: &R, cx: &Ctx) -> Map<String, Value> {
    item.row(cx)
        .into_iter()
        .filter(|(k, _)| visible::<R>(k, cx.v))
        .collect()
}

/// The document a PATCH applies to: the fields visible at `v`, unmasked, no links.
pub fn document<R: Resource>(item: &R, state: &State, v: Version) -> Map<String, Value> {
    visible_row(item, &Ctx { state, v, base: "" })
}

/// The fields visible at `cx.v`, secrets masked, links, and (without `fields`) the
/// sub-collection links.
pub fn view_value<R: Resource>(item: &R, cx: &Ctx, fields: Option<&[String]>) -> Value {
    let mut m = visible_row(item, cx);
    // The row is a copy already: mask it in place (`extra`, step args, error text).
    m.values_mut().for_each(secrets::mask_in_place);
    let id = item.ident();
    m.insert("links".into(), links(cx.base, &[R::COLLECTION, "/", id]));
    if let Some(f) = fields {
        return select(m, f);
    }
    for (sub, min) in R::SUB_LINKS {
        if cx.v.at_least(*min) {
            m.insert(
                sub.to_string(),
                links(cx.base, &[R::COLLECTION, "/", id, "/", sub]),
            );
        }
    }
    Value::Object(m)
}

fn links(base: &str, path: &[&str]) -> Value {
    Links { base, path }.value()
}

/// One item's view, serialized by its resource.
struct Row<'a, R> {
    item: &'a R,
    cx: &'a Ctx<'a>,
    fields: Option<&'a [String]>,
}

impl<R: Resource> Serialize for Row<'_, R> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.item.serialize_view(self.cx, self.fields, s)
    }
}

/// What a page's writer needs, owned: it may run on the store's thread.
pub struct ListCtx {
    pub v: Version,
    pub base: String,
    /// The fields each item shows (`None`: its full view).
    pub fields: Option<Vec<String>>,
}

/// A page's items as JSON, comma-separated (the list body brackets them), how many, and
/// the last one's ident (its `next` marker).
#[derive(Default)]
pub struct PageJson {
    pub items: Vec<u8>,
    pub count: usize,
    pub last: Option<String>,
}

impl PageJson {
    /// Append one item's view.
    pub fn push<T: Serialize>(&mut self, view: &T, ident: &str) -> serde_json::Result<()> {
        if self.count > 0 {
            self.items.push(b',');
        }
        serde_json::to_writer(&mut self.items, view)?;
        self.count += 1;
        self.last = Some(ident.to_string());
        Ok(())
    }

    /// `{"<key>": [<items>], "next": "..."}`, the bytes `serde_json` would write for it.
    fn body(self, key: &str, next: Option<&str>) -> serde_json::Result<Vec<u8>> {
        let mut out =
            Vec::with_capacity(self.items.len() + key.len() + 16 + next.map_or(0, str::len));
        out.push(b'{');
        serde_json::to_writer(&mut out, key)?;
        out.extend_from_slice(b":[");
        out.extend_from_slice(&self.items);
        out.push(b']');
        if let Some(n) = next {
            out.extend_from_slice(b",\"next\":");
            serde_json::to_writer(&mut out, n)?;
        }
        out.push(b'}');
        Ok(out)
    }
}

/// 200 with a JSON body serialized in one pass.
pub fn json_response<T: Serialize>(body: &T) -> Result<HttpResponse, ApiError> {
    let bytes = serde_json::to_vec(body).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(bytes))
}

/// `sort_key`: `id`, or a field visible at `v` the resource can sort by.
pub fn check_sort_key<R: Resource>(key: &str, v: Version) -> Result<(), ApiError> {
    if key == "id" {
        return Ok(());
    }
    match field_version::<R>(key) {
        None => Err(ApiError::invalid_sort_key(key)),
        Some(_) if R::UNSORTABLE.contains(&key) => Err(ApiError::unsortable_key(key)),
        Some(_) if R::NOT_SORT_COLUMNS.contains(&key) => Err(ApiError::invalid_sort_key(key)),
        Some(min) if !v.at_least(min) => Err(ApiError::not_acceptable()),
        Some(_) => Ok(()),
    }
}

/// `?fields=`: every name must be a field (400 naming the unknown ones) visible at `v` (406).
pub fn check_fields<R: Resource>(fields: &[String], v: Version) -> Result<(), ApiError> {
    let unknown: Vec<&str> = fields
        .iter()
        .map(String::as_str)
        .filter(|f| field_version::<R>(f).is_none())
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::invalid_fields(&unknown));
    }
    if fields.iter().any(|f| !visible::<R>(f, v)) {
        return Err(ApiError::not_acceptable());
    }
    Ok(())
}

/// `?fields=` of a single-item GET (1.8).
fn fields_param(q: &Query, v: Version) -> Result<Option<Vec<String>>, ApiError> {
    Ok(q.gated("fields", v, 8)?.map(|f| {
        f.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }))
}

/// `next` link: present only when the page is full. It repeats the query (with the
/// effective sort and fields) so the client's filters carry over.
pub fn next_link(
    base: &str,
    path: &str,
    q: &Query,
    p: &ListParams,
    count: usize,
    last: Option<&str>,
    fields: Option<&[String]>,
) -> Option<String> {
    let last = last?;
    if count < p.limit as usize {
        return None;
    }
    let mut pairs: Vec<(String, String)> = vec![
        ("sort_key".into(), p.sort_key.clone()),
        ("sort_dir".into(), p.sort_dir.clone()),
    ];
    if let Some(f) = fields {
        pairs.push(("fields".into(), f.join(",")));
    }
    for (k, val) in q.pairs() {
        if !matches!(
            k.as_str(),
            "sort_key" | "sort_dir" | "fields" | "limit" | "marker"
        ) && !pairs.iter().any(|(pk, _)| pk == k)
        {
            pairs.push((k.clone(), val.clone()));
        }
    }
    pairs.push(("limit".into(), p.limit.to_string()));
    pairs.push(("marker".into(), last.to_string()));
    let qs = serde_urlencoded::to_string(&pairs)
        .ok()?
        .replace("%2C", ",");
    Some(format!("{base}/v1/{path}?{qs}"))
}

/// A list of `R` at `path` (for its `next` link), `scope` preset by a parent collection.
/// `detail_path` is true for the `/detail` sub-path.
pub async fn list_in<R: Resource>(
    req: &HttpRequest,
    state: &State,
    v: Version,
    detail_path: bool,
    mut scope: R::Filter,
    path: &str,
) -> Result<HttpResponse, ApiError> {
    gate::<R>(v)?;
    let q = Query::parse(req)?;
    let max = state.config.api.max_limit;
    let p = ListParams::parse_with(&q, v, max, detail_path, R::DETAIL_VERSION)?;
    check_sort_key::<R>(&p.sort_key, v)?;
    if let Some(f) = &p.fields {
        check_fields::<R>(f, v)?;
    }
    R::filter(state, &q, v, &mut scope).await?;
    let page = Page {
        limit: p.limit,
        marker: p.marker.clone(),
        sort_key: p.sort_key.clone(),
        descending: p.descending(),
    };
    let base = base_url(req, state);
    let fields = match R::LIST_FIELDS {
        _ if p.detail => None,
        None => p.fields.clone(),
        Some(default) => Some(p.fields.clone().unwrap_or_else(|| {
            default
                .iter()
                .filter(|f| visible::<R>(f, v))
                .map(|f| f.to_string())
                .collect()
        })),
    };
    let lc = ListCtx {
        v,
        base: base.clone(),
        fields: fields.clone(),
    };
    let pj = R::page_json(state, scope, page, lc).await?;
    let next = if R::pages(&q) {
        next_link(
            &base,
            path,
            &q,
            &p,
            pj.count,
            pj.last.as_deref(),
            fields.as_deref(),
        )
    } else {
        None
    };
    let body = pj
        .body(R::LIST_KEY, next.as_deref())
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

/// `GET /v1/<collection>`.
pub async fn list<R: Resource>(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
) -> Result<HttpResponse, ApiError> {
    list_in::<R>(&req, &state, v, false, R::Filter::default(), R::COLLECTION).await
}

/// `GET /v1/<collection>/detail`.
pub async fn list_detail<R: Resource>(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
) -> Result<HttpResponse, ApiError> {
    let path = format!("{}/detail", R::COLLECTION);
    list_in::<R>(&req, &state, v, true, R::Filter::default(), &path).await
}

/// `GET /v1/<collection>/{ident}`.
pub async fn show<R: Resource>(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    gate::<R>(v)?;
    let q = Query::parse(&req)?;
    let fields = fields_param(&q, v)?;
    if let Some(f) = &fields {
        check_fields::<R>(f, v)?;
    }
    let item = R::find(&state, &path, v).await?;
    let base = base_url(&req, &state);
    let cx = Ctx {
        state: &state,
        v,
        base: &base,
    };
    json_response(&Row {
        item: &item,
        cx: &cx,
        fields: fields.as_deref(),
    })
}

/// A resource clients may delete.
pub trait Delete: Resource {
    /// Hand `item` to the conductor for deletion.
    async fn delete(state: &State, item: Self) -> Result<(), ApiError>;
}

/// `DELETE /v1/<collection>/{ident}`.
pub async fn delete<R: Delete>(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    optional_body(&req, payload, &state).await?;
    gate::<R>(v)?;
    let item = R::find(&state, &path, v).await?;
    R::delete(&state, item).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A JSON request body within `[api]`'s size and depth limits.
pub async fn body(
    req: &HttpRequest,
    payload: web::Payload,
    state: &State,
) -> Result<Value, ApiError> {
    json_body(
        req,
        payload,
        state.config.api.max_json_body_size,
        state.config.api.max_json_body_depth,
    )
    .await
}

/// A JSON request body that may be absent (see `params::optional_json_body`): a body that is
/// there must still be JSON, within the same limits.
pub async fn optional_body(
    req: &HttpRequest,
    payload: web::Payload,
    state: &State,
) -> Result<Option<Value>, ApiError> {
    super::params::optional_json_body(
        req,
        payload,
        state.config.api.max_json_body_size,
        state.config.api.max_json_body_depth,
    )
    .await
}

/// A path's `{ident}` as the store looks it up: a UUID (normalized) or, where `names` are
/// allowed, a logical name; anything else is Ironic's "Expected UUID or name for <what>".
pub fn uuid_or_name(ident: &str, names: bool, what: &str) -> Result<String, ApiError> {
    if validate::is_uuid_like(ident) || (names && validate::is_valid_logical_name(ident)) {
        Ok(validate::normalize_uuid(ident).unwrap_or_else(|| ident.to_string()))
    } else {
        Err(ApiError::expected_uuid_or_name(what, ident))
    }
}

/// A list nested under a parent (`nodes/<uuid>/ports`): whether the request is for its
/// `/detail` form, and the path its `next` link uses.
pub fn nested(req: &HttpRequest, path: String) -> (bool, String) {
    if req.path().trim_end_matches('/').ends_with("/detail") {
        (true, path + "/detail")
    } else {
        (false, path)
    }
}

/// PATCH `old`: the JSON patch applied to its document (roots in `allowed`, visible at `v`),
/// then each changed root set through `set`. The new item and the roots that changed.
pub fn patched<R: Resource + Clone>(
    old: &R,
    state: &State,
    v: Version,
    body: &Value,
    allowed: &[&str],
    mut set: impl FnMut(&mut R, &str, &Value) -> Result<(), ApiError>,
) -> Result<(R, Vec<String>), ApiError> {
    let doc = document(old, state, v);
    let (after, changed) = super::patch::apply(doc, body, allowed, |root| visible::<R>(root, v))?;
    let mut new = old.clone();
    for k in &changed {
        set(&mut new, k, after.get(k).unwrap_or(&Value::Null))?;
    }
    Ok((new, changed))
}

/// 201 with `Location` and the new item's view.
pub fn created<R: Resource>(
    req: &HttpRequest,
    state: &State,
    v: Version,
    item: &R,
) -> HttpResponse {
    let base = base_url(req, state);
    let cx = Ctx {
        state,
        v,
        base: &base,
    };
    super::created(
        &format!("{base}/v1/{}/{}", R::COLLECTION, item.ident()),
        item.view(&cx, None),
    )
}

/// 200 with an item's full view.
pub fn one<R: Resource>(
    req: &HttpRequest,
    state: &State,
    v: Version,
    item: &R,
) -> Result<HttpResponse, ApiError> {
    let base = base_url(req, state);
    let cx = Ctx {
        state,
        v,
        base: &base,
    };
    json_response(&Row {
        item,
        cx: &cx,
        fields: None,
    })
}

/// What a PATCH request carries besides its body: Ironic's `?reset_interfaces` (nodes).
#[derive(Default)]
pub struct PatchQuery {
    pub reset_interfaces: bool,
}

/// A resource clients may PATCH.
pub trait Update: Resource + Clone {
    /// The schema name in Ironic's messages ("Schema error for <RES>").
    const RES: &'static str;

    /// The roots a PATCH may touch at `v`.
    fn patchable(v: Version) -> &'static [&'static str];

    /// Set one field from its JSON value; `verb` ("create"/"update") names the write in errors.
    fn set_field(&mut self, key: &str, val: &Value, v: Version, verb: &str)
        -> Result<(), ApiError>;

    /// What a PATCH checks before reading its body: the collection's version by default.
    fn patch_query(req: &HttpRequest, v: Version) -> Result<PatchQuery, ApiError> {
        let _ = req;
        gate::<Self>(v)?;
        Ok(PatchQuery::default())
    }

    /// Hand the patched item to the conductor; `changed` are the roots the patch touched.
    async fn save(
        state: &State,
        old: Self,
        new: Self,
        changed: &[String],
        q: PatchQuery,
    ) -> Result<Self, ApiError>;
}

/// `PATCH /v1/<collection>/{ident}`.
pub async fn update<R: Update>(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let q = R::patch_query(&req, v)?;
    let body = body(&req, payload, &state).await?;
    let old = R::find(&state, &path, v).await?;
    let (new, changed) = patched(&old, &state, v, &body, R::patchable(v), |item, k, val| {
        item.set_field(k, val, v, "update")
    })?;
    let item = R::save(&state, old, new, &changed, q).await?;
    one(&req, &state, v, &item)
}

/// A resource clients create with the common shape: the body's checks, the fields set one
/// by one, the conductor's insert. Allocations and deploy templates keep their own create.
pub trait Create: Update {
    /// Body keys that are not fields, resolved by the hooks instead (`node_ident`).
    const NOT_FIELDS: &'static [&'static str] = &[];

    /// The item a create starts from (its defaults, a fresh uuid).
    fn new_default(v: Version) -> Self;

    /// Checks of the body before any field is set: unknown keys, versions, required keys.
    fn check_create(obj: &Map<String, Value>, body: &Value, v: Version) -> Result<(), ApiError> {
        let _ = (obj, body, v);
        Ok(())
    }

    /// Resource-specific resolution before the fields are set.
    async fn before_fields(
        &mut self,
        state: &State,
        obj: &Map<String, Value>,
        body: &Value,
        v: Version,
    ) -> Result<(), ApiError> {
        let _ = (state, obj, body, v);
        Ok(())
    }

    /// Resource-specific resolution after the fields are set.
    async fn after_fields(
        &mut self,
        state: &State,
        obj: &Map<String, Value>,
        v: Version,
    ) -> Result<(), ApiError> {
        let _ = (state, obj, v);
        Ok(())
    }

    /// Hand the new item to the conductor.
    async fn insert(state: &State, item: Self) -> Result<Self, ApiError>;
}

/// `POST /v1/<collection>`.
pub async fn create<R: Create>(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    gate::<R>(v)?;
    let body = body(&req, payload, &state).await?;
    let item = build::<R>(&state, v, &body).await?;
    let item = R::insert(&state, item).await?;
    Ok(created(&req, &state, v, &item))
}

/// A create's body checked and turned into the new item, not yet inserted: what
/// `POST /v1/<collection>` does before its conductor call (the UI's forms check every item
/// of a multi-item create with it before inserting any).
pub async fn build<R: Create>(state: &State, v: Version, body: &Value) -> Result<R, ApiError> {
    let r = Reader { res: R::RES };
    let obj = body.as_object().ok_or_else(|| r.not_object(body))?;
    R::check_create(obj, body, v)?;
    let mut item = R::new_default(v);
    item.before_fields(state, obj, body, v).await?;
    for (k, val) in obj {
        if !R::NOT_FIELDS.contains(&k.as_str()) {
            item.set_field(k, val, v, "create")?;
        }
    }
    item.after_fields(state, obj, v).await?;
    Ok(item)
}
