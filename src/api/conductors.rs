//! `/v1/conductors` (1.49): registered conductor services and whether they are alive.

use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::resource::{Ctx, Resource};
use super::State;
use crate::db::{Page, StoreError};
use crate::model::conductor::Conductor;

/// Alive = online and heard from within `[conductor] heartbeat_timeout`.
pub fn alive(c: &Conductor, timeout_s: u64) -> bool {
    c.alive_at(chrono::Utc::now(), timeout_s)
}

impl Resource for Conductor {
    const COLLECTION: &'static str = "conductors";
    const FIELDS: &'static [(&'static str, u32)] = &[
        ("hostname", 49),
        ("conductor_group", 49),
        ("alive", 49),
        ("drivers", 49),
        ("created_at", 49),
        ("updated_at", 49),
    ];
    const MIN_VERSION: u32 = 49;
    const UNSORTABLE: &'static [&'static str] = &["alive", "drivers"];
    const LIST_FIELDS: Option<&'static [&'static str]> =
        Some(&["hostname", "conductor_group", "alive"]);
    type Filter = ();

    /// Conductors have no uuid: links and paging use the hostname.
    fn ident(&self) -> &str {
        &self.hostname
    }

    fn row(&self, cx: &Ctx) -> Map<String, Value> {
        let timeout = cx.state.config.conductor.heartbeat_timeout.as_secs();
        let mut m = Map::new();
        m.insert("hostname".into(), json!(self.hostname));
        m.insert("conductor_group".into(), json!(self.conductor_group));
        m.insert("alive".into(), json!(alive(self, timeout)));
        m.insert("drivers".into(), json!(self.drivers));
        m.insert("created_at".into(), json!(self.created_at));
        m.insert("updated_at".into(), json!(self.updated_at));
        m
    }

    async fn find(state: &State, ident: &str, _: Version) -> Result<Conductor, ApiError> {
        state
            .store
            .conductor_get(ident.to_string())
            .await?
            .ok_or_else(|| ApiError::resource_not_found("Conductor", ident))
    }

    async fn list(state: &State, _: (), page: Page) -> Result<Vec<Conductor>, StoreError> {
        state.store.conductor_list(page).await
    }
}
