//! Runbooks: stored and changed here, so their name and uuid conflicts read as Ironic's.
//! Running one is a manual clean or service with its steps (the API resolves it).

use super::{Conductor, ConductorError as E, Result};
use crate::db::StoreError;
use crate::model::runbook::Runbook;

/// A UNIQUE failure on `runbooks.name` or `runbooks.uuid` in Ironic's words.
fn conflict(e: StoreError, rb: &Runbook) -> E {
    match e {
        StoreError::Duplicate { column } if column.ends_with("name") => {
            E::RunbookDuplicateName(rb.name.clone())
        }
        StoreError::Duplicate { .. } => E::RunbookAlreadyExists(rb.uuid.clone()),
        other => E::Store(other),
    }
}

impl Conductor {
    pub async fn runbook_create(&self, mut rb: Runbook) -> Result<Runbook> {
        rb.created_at = crate::model::now();
        rb.updated_at = None;
        let probe = rb.clone();
        self.store
            .runbook_create(rb)
            .await
            .map_err(|e| conflict(e, &probe))
    }

    pub async fn runbook_update(&self, mut rb: Runbook) -> Result<Runbook> {
        rb.updated_at = Some(crate::model::now());
        let probe = rb.clone();
        self.store
            .runbook_save(rb)
            .await
            .map_err(|e| conflict(e, &probe))
    }

    pub async fn runbook_delete(&self, rb: Runbook) -> Result<()> {
        Ok(self.store.runbook_delete(rb.id).await?)
    }
}
