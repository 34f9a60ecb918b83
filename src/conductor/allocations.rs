//! Allocations (pick an available node by resource class and traits, bind it) and deploy
//! templates (named step lists merged into a deploy when the instance traits name them).

use serde_json::json;

use super::task::Wait;
use super::{Conductor, ConductorError as E, Result};
use crate::db::{AllocationFilter, NodeFilter, Page, StoreError};
use crate::model::allocation::{self as alloc, Allocation};
use crate::model::deploy_template::DeployTemplate;
use crate::model::node::Node;
use crate::model::states::{ACTIVE, AVAILABLE};

fn dup_allocation(e: StoreError, a: &Allocation) -> E {
    match &e {
        StoreError::Duplicate { column } if column == "allocations.name" => {
            E::AllocationDuplicateName(a.name.clone().unwrap_or_default())
        }
        StoreError::Duplicate { column } if column == "allocations.uuid" => {
            E::AllocationAlreadyExists(a.uuid.clone())
        }
        _ => E::Store(e),
    }
}

impl Conductor {
    /// Create an allocation, answered `allocating` and processed by a background worker
    /// as Ironic's conductor does (clients poll until `active` or `error`). With
    /// `backfill`, bind the given (deployed) node directly.
    pub async fn allocation_create(
        &self,
        mut a: Allocation,
        backfill: Option<Node>,
    ) -> Result<Allocation> {
        a.created_at = crate::model::now();
        a.state = alloc::ALLOCATING.into();
        if let Some(node) = backfill {
            return self.allocation_backfill(a, node).await;
        }
        // The worker first: a full pool refuses the request with nothing created.
        let slot = self.workers.reserve()?;
        let a = self
            .store
            .allocation_create(a.clone())
            .await
            .map_err(|e| dup_allocation(e, &a))?;
        self.workers
            .run(slot, self.clone().allocation_job(a.clone()));
        Ok(a)
    }

    /// The background job of one `allocating` allocation.
    async fn allocation_job(self, a: Allocation) {
        let uuid = a.uuid.clone();
        if let Err(e) = self.allocation_process(a.clone()).await {
            tracing::warn!(allocation = %uuid, error = %e, "allocation failed");
            self.allocation_failed(a, &e.to_string()).await;
        }
    }

    /// On start: allocations a restart caught `allocating` are processed again, as
    /// Ironic's conductor resumes them.
    pub(crate) async fn allocations_resume(&self) -> Result<usize> {
        let filter = AllocationFilter {
            state: Some(alloc::ALLOCATING.into()),
            ..Default::default()
        };
        let pending = self.store.allocation_list(filter, Page::all()).await?;
        let count = pending.len();
        for a in pending {
            let slot = self.workers.reserve()?;
            self.workers.run(slot, self.clone().allocation_job(a));
        }
        Ok(count)
    }

    /// Record a processing failure that was not a plain "no node matched" on `a`.
    async fn allocation_failed(&self, mut a: Allocation, why: &str) {
        a.state = alloc::ERROR.into();
        a.last_error = Some(format!("Failed to process allocation {}: {why}", a.uuid));
        a.updated_at = Some(crate::model::now());
        if let Err(e) = self.store.allocation_save(a).await {
            tracing::warn!(error = %e, "cannot record the allocation's failure");
        }
    }

    async fn allocation_backfill(&self, mut a: Allocation, node: Node) -> Result<Allocation> {
        if let Some(existing) = &node.allocation_uuid {
            return Err(E::InvalidState(format!(
                "Node {} already has allocation {existing}",
                node.uuid
            )));
        }
        if let Some(inst) = &node.instance_uuid {
            if *inst != a.uuid {
                return Err(E::NodeAssociated {
                    node: node.uuid.clone(),
                    instance: inst.clone(),
                });
            }
        }
        if let Some(rc) = &a.resource_class {
            if node.resource_class.as_ref() != Some(rc) {
                return Err(E::InvalidParameterValue(format!("Cannot create allocation with resource class {rc} for node {} with resource class {}", node.uuid, node.resource_class.as_deref().unwrap_or("None"))));
            }
        }
        if let Some(t) = a.traits.iter().find(|t| !node.traits.contains(t)) {
            return Err(E::InvalidParameterValue(format!(
                "Cannot create allocation with trait {t} for node {} that does not have it",
                node.uuid
            )));
        }
        a.resource_class = node.resource_class.clone();
        let mut task = self.acquire(&node.uuid, Wait::Configured).await?;
        a.state = alloc::ACTIVE.into();
        a.node_uuid = Some(node.uuid.clone());
        let created = self
            .store
            .allocation_create(a.clone())
            .await
            .map_err(|e| dup_allocation(e, &a));
        if created.is_ok() {
            task.node.instance_uuid = Some(a.uuid.clone());
            let _ = task.save().await;
        }
        task.release().await;
        created
    }

    /// Pick a node for an `allocating` allocation (Ironic's rules), or record why not.
    async fn allocation_process(&self, mut a: Allocation) -> Result<Allocation> {
        let filter = NodeFilter {
            provision_state: Some(AVAILABLE.into()),
            maintenance: Some(false),
            associated: Some(false),
            resource_class: a.resource_class.clone(),
            conductor_groups: Some(vec![self.config.conductor.conductor_group.clone()]),
            ..Default::default()
        };
        let page = Page::all();
        let mut candidates: Vec<Node> = self
            .store
            .node_list(filter, page)
            .await?
            .into_iter()
            .filter(|n| n.power_state.is_some() && n.reservation.is_none())
            .filter(|n| a.traits.iter().all(|t| n.traits.contains(t)))
            .filter(|n| a.candidate_nodes.is_empty() || a.candidate_nodes.contains(&n.uuid))
            .collect();
        // A node named like the allocation goes first (1.79).
        if let Some(name) = &a.name {
            candidates.sort_by_key(|n| n.name.as_ref() != Some(name));
        }
        for node in candidates {
            let Ok(mut task) = self.acquire(&node.uuid, Wait::No).await else {
                continue;
            };
            if task.node.instance_uuid.is_some()
                || task.node.provision_state != AVAILABLE
                || task.node.maintenance
            {
                task.release().await;
                continue;
            }
            task.node.instance_uuid = Some(a.uuid.clone());
            task.node
                .instance_info
                .insert("traits".into(), json!(a.traits));
            let saved = task.save().await;
            task.release().await;
            saved?;
            a.node_uuid = Some(node.uuid.clone());
            a.state = alloc::ACTIVE.into();
            a.last_error = None;
            a.updated_at = Some(crate::model::now());
            return Ok(self.store.allocation_save(a).await?);
        }
        a.state = alloc::ERROR.into();
        let mut why = format!(
            "no available nodes match the resource class {}",
            a.resource_class.as_deref().unwrap_or("None")
        );
        if !a.traits.is_empty() {
            why.push_str(&format!(" and traits {}", a.traits.join(", ")));
        }
        if !a.candidate_nodes.is_empty() {
            why.push_str(" among the candidate nodes");
        }
        a.last_error = Some(format!("Failed to process allocation {}: {why}.", a.uuid));
        a.updated_at = Some(crate::model::now());
        Ok(self.store.allocation_save(a).await?)
    }

    pub async fn allocation_update(&self, mut a: Allocation) -> Result<Allocation> {
        a.updated_at = Some(crate::model::now());
        let probe = a.clone();
        self.store
            .allocation_save(a)
            .await
            .map_err(|e| dup_allocation(e, &probe))
    }

    /// Delete an allocation, unbinding its node (refused while the node is deployed and
    /// not in maintenance).
    pub async fn allocation_delete(&self, a: Allocation) -> Result<()> {
        if let Some(node_uuid) = &a.node_uuid {
            let mut task = self.acquire(node_uuid, Wait::Configured).await?;
            if task.node.provision_state == ACTIVE && !task.node.maintenance {
                task.release().await;
                return Err(E::InvalidState(format!(
                    "Cannot remove allocation {} as node {node_uuid} is in state active and not in maintenance mode", a.uuid
                )));
            }
            if task.node.instance_uuid.as_deref() == Some(a.uuid.as_str()) {
                task.node.instance_uuid = None;
                task.node.instance_info.remove("traits");
            }
            let saved = task.save().await;
            task.release().await;
            saved?;
        }
        self.store.allocation_delete(a.id).await?;
        Ok(())
    }

    /// After tear-down the node's allocation goes with its instance (as in Ironic).
    pub(crate) async fn allocation_drop_for(&self, node_uuid: &str) -> Result<()> {
        if let Some(a) = self.store.allocation_of_node(node_uuid.to_string()).await? {
            self.store.allocation_delete(a.id).await?;
        }
        Ok(())
    }

    pub async fn deploy_template_create(&self, mut t: DeployTemplate) -> Result<DeployTemplate> {
        t.created_at = crate::model::now();
        t.updated_at = None;
        let (name, uuid) = (t.name.clone(), t.uuid.clone());
        self.store
            .deploy_template_create(t)
            .await
            .map_err(|e| match e {
                StoreError::Duplicate { column } if column.ends_with("name") => {
                    E::DeployTemplateDuplicateName(name)
                }
                StoreError::Duplicate { .. } => E::DeployTemplateAlreadyExists(uuid),
                other => E::Store(other),
            })
    }

    pub async fn deploy_template_update(&self, mut t: DeployTemplate) -> Result<DeployTemplate> {
        t.updated_at = Some(crate::model::now());
        let name = t.name.clone();
        self.store
            .deploy_template_save(t)
            .await
            .map_err(|e| match e {
                StoreError::Duplicate { .. } => E::DeployTemplateDuplicateName(name),
                other => E::Store(other),
            })
    }

    pub async fn deploy_template_delete(&self, t: DeployTemplate) -> Result<()> {
        Ok(self.store.deploy_template_delete(t.id).await?)
    }

    /// Steps of the deploy templates named by the node's `instance_info.traits`.
    pub(crate) async fn template_steps(&self, node: &Node) -> Result<Vec<serde_json::Value>> {
        let traits: Vec<String> = node
            .instance_info
            .get("traits")
            .and_then(|t| t.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let templates = self.store.deploy_templates_named(traits).await?;
        Ok(templates.into_iter().flat_map(|t| t.steps).collect())
    }
}
