//! The Machines view (`/ui/`, `/ui/machines`): every node with its states, current step,
//! addresses and age; search and filters as a bookmarkable GET form; counts by provision
//! state; keyset paging (`after=<uuid>`); and `/ui/machines/live`, the SSE stream that
//! pushes a changed node's row, a new node's row and new counts (never the whole table).
//!
//! Rows are built from the node's API view (`node_view::View`, secrets and URL passwords
//! masked as in API responses), not from a second serialization of the model.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use serde_json::Value;

use super::super::error::ApiError;
use super::super::microversion::Version;
use super::super::node_view::View;
use super::super::State;
use super::live::{self, Event, Update};
use super::{fragment, page, Chrome, UiUser};
use crate::db::{ChangeKind, NodeAddresses, NodeFilter, Page};
use crate::model::node::Node;

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

/// The list's query string: the filter form and the page marker. Empty fields mean "any".
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MachinesQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub driver: String,
    /// "", "yes" or "no".
    #[serde(default)]
    pub maintenance: String,
    #[serde(default)]
    pub resource_class: String,
    /// "", "yes" (enrolled by auto-discovery) or "no".
    #[serde(default)]
    pub discovered: String,
    /// UUID of the last node of the previous page.
    #[serde(default)]
    pub after: String,
    pub limit: Option<u32>,
    /// (Stream only) the highest row id the page was rendered with: rows up to it are
    /// already on the page when the stream opens.
    pub seen: Option<i64>,
}

fn some(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

impl MachinesQuery {
    fn filter(&self) -> Result<NodeFilter, ApiError> {
        let yes_no = |name: &str, v: &str| match v {
            "" => Ok(None),
            "yes" => Ok(Some(true)),
            "no" => Ok(Some(false)),
            other => Err(ApiError::bad_request(format!(
                "Invalid {name} filter \"{other}\": expected yes or no."
            ))),
        };
        Ok(NodeFilter {
            provision_state: some(&self.state),
            driver: some(&self.driver),
            maintenance: yes_no("maintenance", &self.maintenance)?,
            auto_discovered: yes_no("discovered", &self.discovered)?,
            resource_class: some(&self.resource_class),
            search: some(&self.q),
            ..Default::default()
        })
    }

    fn limit(&self) -> u32 {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }

    fn page(&self, limit: u32) -> Page {
        Page {
            limit,
            marker: some(&self.after),
            sort_key: "id".into(),
            descending: false,
        }
    }

    /// The query string of this filter (without the marker), for links and the stream.
    fn encoded(&self, after: Option<&str>) -> String {
        let mut pairs: Vec<(&str, String)> = [
            ("q", &self.q),
            ("state", &self.state),
            ("driver", &self.driver),
            ("maintenance", &self.maintenance),
            ("resource_class", &self.resource_class),
            ("discovered", &self.discovered),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.clone()))
        .collect();
        if let Some(a) = after {
            pairs.push(("after", a.to_string()));
        }
        if let Some(l) = self.limit {
            pairs.push(("limit", l.to_string()));
        }
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

/// One row of the table, as the template shows it.
#[derive(Clone, Default)]
pub struct MachineRow {
    /// The row id (keyset paging order; not shown).
    pub id: i64,
    pub uuid: String,
    pub name: Option<String>,
    pub power_state: String,
    pub target_power_state: Option<String>,
    pub provision_state: String,
    pub target_provision_state: Option<String>,
    /// `interface.step` of the running clean/deploy/service step.
    pub step: Option<String>,
    /// "2/5": the running step's place in its plan.
    pub progress: Option<String>,
    pub last_error: Option<String>,
    pub maintenance: bool,
    pub maintenance_reason: Option<String>,
    pub fault: Option<String>,
    /// Enrolled by auto-discovery (`driver_internal_info.auto_discovered`).
    pub discovered: bool,
    pub driver: String,
    pub resource_class: Option<String>,
    pub macs: Vec<String>,
    pub ips: Vec<String>,
    pub age: String,
    pub created_at: String,
    /// A CSS class for the provision state (stable/waiting/failed).
    pub state_class: &'static str,
    /// Why the row is shown greyed out ("deleted", "no longer matches the filter").
    pub gone: Option<&'static str>,
}

fn text(v: &Value, k: &str) -> Option<String> {
    match v.get(k) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// The running step of `kind` ("clean", "deploy", "service") and its place in the plan.
fn step_of(v: &Value, kind: &str) -> Option<(String, Option<String>)> {
    let step = v.get(format!("{kind}_step"))?.as_object()?;
    let name = step.get("step")?.as_str()?;
    let label = match step.get("interface").and_then(Value::as_str) {
        Some(i) => format!("{i}.{name}"),
        None => name.to_string(),
    };
    let dii = v.get("driver_internal_info");
    let index = dii
        .and_then(|d| d.get(format!("{kind}_step_index")))
        .and_then(Value::as_u64);
    let total = dii
        .and_then(|d| d.get(format!("{kind}_steps")))
        .and_then(Value::as_array)
        .map(Vec::len);
    let progress = match (index, total) {
        (Some(i), Some(n)) if n > 0 => Some(format!("{}/{n}", (i as usize + 1).min(n))),
        _ => None,
    };
    Some((label, progress))
}

fn age(created_at: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(created_at) else {
        return String::new();
    };
    let s = (now - t.with_timezone(&chrono::Utc)).num_seconds().max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

fn state_class(state: &str) -> &'static str {
    if state.ends_with("failed") || state == "error" {
        "state-failed"
    } else if state.ends_with("ing") || state.ends_with("wait") {
        "state-wait"
    } else if state == "active" {
        "state-active"
    } else {
        "state-stable"
    }
}

impl MachineRow {
    /// From the node's API view (latest microversion, masked as the API masks it).
    pub fn new(node: &Node, addrs: Option<&NodeAddresses>) -> MachineRow {
        let v = serde_json::to_value(View {
            node,
            v: Version::MAX,
            base: "",
            conductor: None,
            fields: None,
        })
        .unwrap_or(Value::Null);
        let provision_state = text(&v, "provision_state").unwrap_or_else(|| "enroll".into());
        let (step, progress) = ["deploy", "clean", "service"]
            .iter()
            .find_map(|k| step_of(&v, k))
            .map_or((None, None), |(s, p)| (Some(s), p));
        let created_at = text(&v, "created_at").unwrap_or_default();
        MachineRow {
            id: node.id,
            uuid: node.uuid.clone(),
            name: text(&v, "name"),
            power_state: text(&v, "power_state").unwrap_or_else(|| "None".into()),
            target_power_state: text(&v, "target_power_state"),
            state_class: state_class(&provision_state),
            provision_state,
            target_provision_state: text(&v, "target_provision_state"),
            step,
            progress,
            last_error: text(&v, "last_error"),
            maintenance: v
                .get("maintenance")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            maintenance_reason: text(&v, "maintenance_reason"),
            fault: text(&v, "fault"),
            discovered: v.pointer("/driver_internal_info/auto_discovered")
                == Some(&Value::Bool(true)),
            driver: text(&v, "driver").unwrap_or_default(),
            resource_class: text(&v, "resource_class"),
            macs: addrs.map(|a| a.macs.clone()).unwrap_or_default(),
            ips: addrs.map(|a| a.ips.clone()).unwrap_or_default(),
            age: age(&created_at, chrono::Utc::now()),
            created_at,
            gone: None,
        }
    }
}

#[derive(Template)]
#[template(path = "ui/machine_row.html")]
struct RowFragment<'a> {
    r: &'a MachineRow,
    /// Highlight the row briefly (it changed while the page was open).
    flash: bool,
}

#[derive(Template)]
#[template(path = "ui/machine_counts.html")]
struct CountsFragment<'a> {
    counts: &'a [(String, i64)],
    total: i64,
    current: &'a str,
    base: &'a str,
}

#[derive(Template)]
#[template(path = "ui/machines.html")]
struct MachinesPage<'a> {
    chrome: Chrome,
    q: &'a MachinesQuery,
    rows: Vec<MachineRow>,
    flash: bool,
    counts: &'a [(String, i64)],
    total: i64,
    current: &'a str,
    base: String,
    states: Vec<String>,
    drivers: Vec<String>,
    next: Option<String>,
    first: Option<String>,
    live: String,
    filtered: bool,
}

fn row_html(r: &MachineRow, flash: bool) -> Result<String, ApiError> {
    fragment(&RowFragment { r, flash })
}

/// Nodes per provision state, by state name.
type Counts = Arc<Vec<(String, i64)>>;

/// Counts shared by a worker's viewers: one query per burst of changes, however many
/// viewers there are.
#[derive(Default)]
pub struct CountsCache {
    inner: tokio::sync::Mutex<Option<(Instant, Counts)>>,
}

impl CountsCache {
    /// Counts read after `since` (so they include every write notified before it).
    async fn get(
        &self,
        state: &State,
        since: Instant,
    ) -> Result<Arc<Vec<(String, i64)>>, ApiError> {
        let mut c = self.inner.lock().await;
        if let Some((at, v)) = c.as_ref() {
            if *at >= since {
                return Ok(v.clone());
            }
        }
        let at = Instant::now();
        let v = Arc::new(state.store.node_counts_by_provision_state().await?);
        *c = Some((at, v.clone()));
        Ok(v)
    }
}

/// The query string the count links add `state=` to.
fn counts_base(q: &MachinesQuery) -> String {
    let mut base = q.clone();
    base.state = String::new();
    base.encoded(None)
}

fn counts_html(counts: &[(String, i64)], q: &MachinesQuery) -> Result<String, ApiError> {
    fragment(&CountsFragment {
        counts,
        total: counts.iter().map(|(_, n)| n).sum(),
        current: &q.state,
        base: &counts_base(q),
    })
}

/// One page of rows (and whether there is another after it).
async fn rows(
    state: &State,
    filter: NodeFilter,
    page: Page,
) -> Result<(Vec<MachineRow>, bool), ApiError> {
    let limit = page.limit as usize;
    let mut nodes = state
        .store
        .node_list(
            filter,
            Page {
                limit: page.limit + 1,
                ..page
            },
        )
        .await?;
    let more = nodes.len() > limit;
    nodes.truncate(limit);
    let addrs = state
        .store
        .node_addresses(nodes.iter().map(|n| n.uuid.clone()).collect())
        .await?;
    let rows = nodes
        .iter()
        .map(|n| MachineRow::new(n, addrs.get(&n.uuid)))
        .collect();
    Ok((rows, more))
}

async fn list(
    user: UiUser,
    state: web::Data<State>,
    cache: web::Data<CountsCache>,
    q: web::Query<MachinesQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let limit = q.limit();
    let counts = cache.get(&state, Instant::now()).await?;
    let (rows, more) = rows(&state, q.filter()?, q.page(limit)).await?;
    let next = match (more, rows.last()) {
        (true, Some(last)) => Some(format!("/ui/machines?{}", q.encoded(Some(&last.uuid)))),
        _ => None,
    };
    let first = (!q.after.is_empty()).then(|| format!("/ui/machines?{}", q.encoded(None)));
    let mut states: Vec<String> = counts.iter().map(|(s, _)| s.clone()).collect();
    if !q.state.is_empty() && !states.contains(&q.state) {
        states.push(q.state.clone());
    }
    let drivers = state.config.default.enabled_hardware_types.clone();
    let seen = rows.iter().map(|r| r.id).max().unwrap_or(0);
    let live = format!(
        "/ui/machines/live?{}&seen={seen}",
        q.encoded(some(&q.after).as_deref())
    );
    let filtered = [
        &q.q,
        &q.state,
        &q.driver,
        &q.maintenance,
        &q.resource_class,
        &q.discovered,
    ]
    .iter()
    .any(|s| !s.is_empty());
    Ok(page(
        StatusCode::OK,
        &MachinesPage {
            chrome: user.chrome("machines"),
            q: &q,
            rows,
            flash: false,
            counts: &counts,
            total: counts.iter().map(|(_, n)| n).sum(),
            current: &q.state,
            base: counts_base(&q),
            states,
            drivers,
            next,
            first,
            live,
            filtered,
        },
    ))
}

/// What one viewer's stream knows about its page.
struct Viewer {
    state: web::Data<State>,
    cache: web::Data<CountsCache>,
    q: MachinesQuery,
    filter: NodeFilter,
    limit: u32,
    /// Rows on the page and a hash of the HTML last sent for each (unchanged rows are not
    /// re-sent; a hash, not the HTML, so 100 viewers of 500 rows stay small).
    shown: HashMap<String, u64>,
    /// Whether the page had room at the end (the last page): new nodes are appended there.
    last_page: bool,
    /// Row id of the page marker: nodes at or before it belong to earlier pages.
    after_id: i64,
    /// See `MachinesQuery::seen` (0 after the first resync).
    seen: i64,
    /// Rows greyed out (deleted or filtered away) that are still on the page.
    greyed: HashSet<String>,
    counts: String,
}

impl Viewer {
    async fn render(&mut self, update: Update) -> Option<Vec<Event>> {
        let since = Instant::now();
        let result = match update {
            Update::Resync => self.resync().await,
            Update::Changes(changes) => {
                let structural = changes
                    .iter()
                    .any(|c| matches!(c.kind, ChangeKind::Node | ChangeKind::NodeDeleted));
                let mut touched: Vec<String> = Vec::new();
                let mut deleted = HashSet::new();
                // History rows are not shown here (the machine page's timeline has them).
                for c in changes.iter().filter(|c| c.kind != ChangeKind::History) {
                    let relevant = self.shown.contains_key(&c.node_uuid)
                        || (self.last_page && c.kind == ChangeKind::Node);
                    if c.kind == ChangeKind::NodeDeleted {
                        deleted.insert(c.node_uuid.clone());
                    }
                    if relevant && !touched.contains(&c.node_uuid) {
                        touched.push(c.node_uuid.clone());
                    }
                }
                self.changed(touched, &deleted, structural.then_some(since))
                    .await
            }
        };
        // A failed read (a busy database): the stream resyncs shortly (`live::stream`).
        match result {
            Ok(events) => Some(events),
            Err(e) => {
                tracing::warn!(error = %e.message, "machines view: live update failed; resyncing");
                None
            }
        }
    }

    async fn counts_event(&mut self, since: Instant) -> Result<Option<Event>, ApiError> {
        let counts = self.cache.get(&self.state, since).await?;
        let html = counts_html(&counts, &self.q)?;
        if html == self.counts {
            return Ok(None);
        }
        self.counts = html.clone();
        Ok(Some(Event::new("counts", html)))
    }

    fn row_event(&mut self, r: &MachineRow) -> Result<Option<Event>, ApiError> {
        // Compared without the highlight, which only says the row was pushed.
        let plain = row_html(r, false)?;
        let digest = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            plain.hash(&mut h);
            h.finish()
        };
        let name = format!("node-{}", r.uuid);
        let (name, flash) = match self.shown.get(&r.uuid) {
            Some(old) if *old == digest => return Ok(None),
            Some(_) => (name, true),
            // Rendered with the page: replace it in place, without a highlight.
            None if r.id <= self.seen => (name, false),
            // Greyed out earlier and back now: in place too.
            None if self.greyed.remove(&r.uuid) => (name, true),
            None => ("new-node".to_string(), true),
        };
        let html = if flash { row_html(r, true)? } else { plain };
        self.shown.insert(r.uuid.clone(), digest);
        Ok(Some(Event::new(name, html)))
    }

    /// Re-read the page; rows new to it are appended, rows gone from it greyed out.
    async fn resync(&mut self) -> Result<Vec<Event>, ApiError> {
        let mut events = Vec::new();
        let page = self.q.page(self.limit);
        let (rows, more) = rows(&self.state, self.filter.clone(), page).await?;
        self.last_page = !more;
        let now: HashSet<&str> = rows.iter().map(|r| r.uuid.as_str()).collect();
        let vanished: Vec<String> = self
            .shown
            .keys()
            .filter(|u| !now.contains(u.as_str()))
            .cloned()
            .collect();
        for r in &rows {
            events.extend(self.row_event(r)?);
        }
        // Only the first resync (at open) meets rows the page itself rendered.
        self.seen = 0;
        events.extend(self.vanished(vanished, &HashSet::new()).await?);
        events.extend(self.counts_event(Instant::now()).await?);
        Ok(events)
    }

    /// Rows that left the page: greyed, with the reason, and no longer followed.
    async fn vanished(
        &mut self,
        uuids: Vec<String>,
        deleted: &HashSet<String>,
    ) -> Result<Vec<Event>, ApiError> {
        if uuids.is_empty() {
            return Ok(Vec::new());
        }
        let found = rows(
            &self.state,
            NodeFilter {
                uuids: Some(uuids.clone()),
                include_children: true,
                ..Default::default()
            },
            Page {
                limit: uuids.len() as u32,
                marker: None,
                sort_key: "id".into(),
                descending: false,
            },
        )
        .await?
        .0;
        let mut events = Vec::new();
        for u in uuids {
            self.shown.remove(&u);
            self.greyed.insert(u.clone());
            let html = match found.iter().find(|r| r.uuid == u) {
                Some(r) if !deleted.contains(&u) => row_html(
                    &MachineRow::new_gone(r, "no longer matches the filter"),
                    true,
                )?,
                _ => row_html(&MachineRow::deleted(&u), true)?,
            };
            events.push(Event::new(format!("node-{u}"), html));
        }
        Ok(events)
    }

    async fn changed(
        &mut self,
        touched: Vec<String>,
        deleted: &HashSet<String>,
        counts_since: Option<Instant>,
    ) -> Result<Vec<Event>, ApiError> {
        let mut events = Vec::new();
        if !touched.is_empty() {
            let mut filter = self.filter.clone();
            filter.uuids = Some(touched.clone());
            let page = Page {
                limit: touched.len() as u32,
                marker: None,
                sort_key: "id".into(),
                descending: false,
            };
            let (found, _) = rows(&self.state, filter, page).await?;
            let mut vanished = Vec::new();
            for u in &touched {
                match found.iter().find(|r| &r.uuid == u) {
                    Some(r) if self.shown.contains_key(u) => events.extend(self.row_event(r)?),
                    // Before this page: not ours.
                    Some(r) if r.id <= self.after_id => {}
                    // New to this page (created, or now matching the filter): appended while
                    // the page has room, else it belongs on a later page ("next").
                    Some(r) if (self.shown.len() as u32) < self.limit => {
                        events.extend(self.row_event(r)?)
                    }
                    Some(_) => self.last_page = false,
                    None if self.shown.contains_key(u) => vanished.push(u.clone()),
                    None => {}
                }
            }
            events.extend(self.vanished(vanished, deleted).await?);
        }
        if let Some(since) = counts_since {
            events.extend(self.counts_event(since).await?);
        }
        Ok(events)
    }
}

impl MachineRow {
    fn new_gone(r: &MachineRow, why: &'static str) -> MachineRow {
        MachineRow {
            gone: Some(why),
            ..r.clone()
        }
    }

    fn deleted(uuid: &str) -> MachineRow {
        MachineRow {
            uuid: uuid.to_string(),
            state_class: "state-stable",
            gone: Some("deleted"),
            ..Default::default()
        }
    }
}

/// `GET /ui/machines/live?<the page's query>`: the page's updates as SSE.
async fn live_stream(
    _user: UiUser,
    state: web::Data<State>,
    cache: web::Data<CountsCache>,
    q: web::Query<MachinesQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    // Subscribe before the first read, so nothing committed in between is missed.
    let rx = state.store.subscribe();
    let after_id = match some(&q.after) {
        Some(u) => state.store.node_get(u).await?.map_or(0, |n| n.id),
        None => 0,
    };
    let viewer = Viewer {
        after_id,
        seen: q.seen.unwrap_or(0),
        greyed: HashSet::new(),
        filter: q.filter()?,
        limit: q.limit(),
        state,
        cache,
        q,
        shown: HashMap::new(),
        last_page: true,
        counts: String::new(),
    };
    let viewer = Arc::new(tokio::sync::Mutex::new(viewer));
    Ok(live::stream(rx, true, move |u| {
        let viewer = viewer.clone();
        async move { viewer.lock().await.render(u).await }
    }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::Data::new(CountsCache::default()))
        .service(web::resource(["", "/machines"]).route(web::get().to(list)))
        .service(web::resource("/machines/live").route(web::get().to(live_stream)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_show_their_place_in_the_plan() {
        let v = serde_json::json!({
            "deploy_step": {"interface": "deploy", "step": "write_image", "priority": 80},
            "driver_internal_info": {"deploy_step_index": 1, "deploy_steps": [{}, {}, {}]},
        });
        assert_eq!(
            step_of(&v, "deploy"),
            Some(("deploy.write_image".into(), Some("2/3".into())))
        );
        assert_eq!(step_of(&v, "clean"), None);
    }

    #[test]
    fn ages_read_at_a_glance() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-07T12:00:00+00:00")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(age("2026-12-07T11:59:30+00:00", now), "30s");
        assert_eq!(age("2026-12-07T09:00:00+00:00", now), "3h");
        assert_eq!(age("2026-12-01T12:00:00+00:00", now), "6d");
        assert_eq!(age("garbage", now), "");
    }

    #[test]
    fn the_filter_form_becomes_a_node_filter() {
        let q = MachinesQuery {
            q: " 52:54 ".into(),
            maintenance: "yes".into(),
            ..Default::default()
        };
        let f = q.filter().unwrap();
        assert_eq!(f.search.as_deref(), Some("52:54"));
        assert_eq!(f.maintenance, Some(true));
        let bad = MachinesQuery {
            maintenance: "maybe".into(),
            ..Default::default()
        };
        assert_eq!(bad.filter().unwrap_err().status.as_u16(), 400);
        let found = MachinesQuery {
            discovered: "yes".into(),
            ..Default::default()
        };
        assert_eq!(found.filter().unwrap().auto_discovered, Some(true));
        let bad = MachinesQuery {
            discovered: "true".into(),
            ..Default::default()
        };
        assert_eq!(
            bad.filter().unwrap_err().message,
            "Invalid discovered filter \"true\": expected yes or no."
        );
        assert_eq!(
            q.encoded(Some("u1")),
            "q=+52%3A54+&maintenance=yes&after=u1"
        );
    }
}
