//! Inventory writes: create, update and delete of nodes, ports, portgroups and chassis,
//! with Ironic's rules on drivers, interfaces, states and uniqueness.

use super::task::Wait;
use super::{Conductor, ConductorError as E, Result};
use crate::db::StoreError;
use crate::drivers::hardware_types;
use crate::model::chassis::Chassis;
use crate::model::node::{Node, INTERFACE_KINDS};
use crate::model::port::Port;
use crate::model::portgroup::Portgroup;
use crate::model::states;
use crate::model::vif;

/// Translate a UNIQUE violation into the Ironic exception for that column.
fn duplicate(e: StoreError, node: Option<&Node>, port: Option<&Port>, pg: Option<&Portgroup>) -> E {
    let StoreError::Duplicate { column } = &e else {
        return match e {
            StoreError::NotFound {
                what: "Chassis",
                id,
            } => E::InvalidParameterValue(format!("Chassis {id} could not be found.")),
            StoreError::NotFound { what: "Node", id } => {
                E::InvalidParameterValue(format!("Node {id} could not be found."))
            }
            StoreError::NotFound {
                what: "Portgroup",
                id,
            } => E::InvalidParameterValue(format!("Portgroup {id} could not be found.")),
            other => E::Store(other),
        };
    };
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    match (column.as_str(), node, port, pg) {
        ("nodes.uuid", Some(n), _, _) => E::NodeAlreadyExists(n.uuid.clone()),
        ("nodes.name", Some(n), _, _) => E::DuplicateName(opt(&n.name)),
        ("nodes.instance_uuid", Some(n), _, _) => E::InstanceAssociated {
            instance: opt(&n.instance_uuid),
            node: n.uuid.clone(),
        },
        ("ports.address", _, Some(p), _) => E::MacAlreadyExists(p.address.clone()),
        ("ports.uuid", _, Some(p), _) => E::PortAlreadyExists(p.uuid.clone()),
        ("ports.name", _, Some(p), _) => E::PortDuplicateName(opt(&p.name)),
        ("portgroups.uuid", _, _, Some(g)) => E::PortgroupAlreadyExists(g.uuid.clone()),
        ("portgroups.name", _, _, Some(g)) => E::PortgroupDuplicateName(opt(&g.name)),
        ("portgroups.address", _, _, Some(g)) => E::PortgroupMacAlreadyExists(opt(&g.address)),
        _ => E::Store(e),
    }
}

/// Why Ironic refuses to delete `node` now, if it does (the UI offers delete only when
/// this is `None`).
pub fn delete_refusal(node: &Node, allow_deleting_available: bool) -> Option<E> {
    if let Some(inst) = &node.instance_uuid {
        if !node.maintenance {
            return Some(E::NodeAssociated {
                node: node.uuid.clone(),
                instance: inst.clone(),
            });
        }
    }
    if node.protected {
        return Some(E::NodeProtected(node.uuid.clone()));
    }
    let mut allowed: Vec<&str> = states::DELETE_ALLOWED_STATES.to_vec();
    if !allow_deleting_available {
        allowed.retain(|s| *s != states::AVAILABLE);
    }
    if !node.maintenance && !allowed.contains(&node.provision_state.as_str()) {
        return Some(E::InvalidState(format!(
            "Can not delete node \"{}\" while it is in provision state \"{}\". Valid provision states to start deletion are {:?}, in addition to any node in maintenance mode",
            node.uuid, node.provision_state, allowed
        )));
    }
    None
}

impl Conductor {
    /// Fill unset interfaces with defaults and check set ones, for the node's driver.
    /// `keep` names interfaces the caller set explicitly (others reset when `reset` is true).
    pub(super) fn resolve_interfaces(
        &self,
        node: &mut Node,
        reset: bool,
        keep: &[String],
    ) -> Result<()> {
        let hw = hardware_types::find(&node.driver)
            .filter(|h| self.registry.is_enabled_type(h.name))
            .ok_or_else(|| E::NoValidHost {
                driver: node.driver.clone(),
                group: node.conductor_group.clone(),
            })?;
        for kind in INTERFACE_KINDS {
            let explicit = keep.iter().any(|k| k == &format!("{kind}_interface"));
            let current = node.interfaces.get(kind).map(str::to_string);
            match current {
                Some(name) if explicit || !reset => self
                    .registry
                    .check(hw, kind, &name)
                    .map_err(|e| E::InvalidParameterValue(e.to_string()))?,
                _ => {
                    let d = self
                        .registry
                        .default_for(hw, kind)
                        .map_err(|e| E::InvalidParameterValue(e.to_string()))?;
                    node.interfaces.set(kind, Some(d));
                }
            }
        }
        Ok(())
    }

    pub(super) fn check_conductor_group(&self, node: &Node) -> Result<()> {
        if node.conductor_group != self.config.conductor.conductor_group
            || !self.registry.is_enabled_type(&node.driver)
        {
            return Err(E::NoValidHost {
                driver: node.driver.clone(),
                group: node.conductor_group.clone(),
            });
        }
        Ok(())
    }

    async fn resolve_parent(&self, node: &mut Node) -> Result<()> {
        if let Some(p) = node.parent_node.clone() {
            let parent =
                self.store.node_get(p.clone()).await?.ok_or_else(|| {
                    E::InvalidParameterValue(format!("Node {p} could not be found."))
                })?;
            if parent.uuid == node.uuid {
                return Err(E::InvalidParameterValue(
                    "A node cannot be its own parent".into(),
                ));
            }
            node.parent_node = Some(parent.uuid);
        }
        Ok(())
    }

    pub async fn node_create(&self, mut node: Node) -> Result<Node> {
        self.check_conductor_group(&node)?;
        sync_instance_name(&mut node);
        self.resolve_interfaces(&mut node, false, &[])?;
        if node.resource_class.is_none() {
            node.resource_class = self.config.default.default_resource_class.clone();
        }
        self.resolve_parent(&mut node).await?;
        node.created_at = crate::model::now();
        node.updated_at = None;
        let probe = node.clone();
        self.store
            .node_create(node)
            .await
            .map_err(|e| duplicate(e, Some(&probe), None, None))
    }

    /// Save `new` over `old` (both full nodes; `new` is `old` with the request's changes).
    /// `changed` lists the top-level fields the request touched.
    pub async fn node_update(
        &self,
        old: Node,
        mut new: Node,
        changed: &[String],
        reset_interfaces: bool,
    ) -> Result<Node> {
        let touched = |f: &str| changed.iter().any(|c| c == f);
        let lone_instance_removal = changed.len() == 1
            && touched("instance_uuid")
            && new.instance_uuid.is_none()
            && old.maintenance;
        if old.target_provision_state.is_some()
            && !states::PATCH_WHILE_TRANSITIONING.contains(&old.provision_state.as_str())
            && !lone_instance_removal
        {
            return Err(E::InvalidState(format!(
                "Node {} can not be updated while a state transition is in progress.",
                old.uuid
            )));
        }
        let state_ok = states::UPDATE_ALLOWED_STATES.contains(&old.provision_state.as_str())
            || old.maintenance;
        let not_allowed = |field: &str| {
            E::InvalidState(format!(
            "Node {} can not have {field} updated unless it is in one of allowed ({}) states or in maintenance mode.",
            old.uuid, states::UPDATE_ALLOWED_STATES.join(", ")
        ))
        };
        let driver_changed = new.driver != old.driver;
        if driver_changed && old.console_enabled {
            return Err(E::InvalidState(format!("Node {} can not update the driver while the console is enabled. Please stop the console first.", old.uuid)));
        }
        for kind in INTERFACE_KINDS {
            let field = format!("{kind}_interface");
            if touched(&field) && new.interfaces.get(kind) != old.interfaces.get(kind) && !state_ok
            {
                return Err(not_allowed(&field));
            }
        }
        if driver_changed && !state_ok {
            return Err(not_allowed("driver"));
        }
        if new.resource_class != old.resource_class
            && old.resource_class.as_deref().is_some_and(|r| !r.is_empty())
            && !state_ok
        {
            return Err(not_allowed("resource_class"));
        }
        if reset_interfaces && !driver_changed {
            return Err(E::InvalidParameterValue(
                "The reset_interfaces parameter can only be used when changing the node's driver."
                    .into(),
            ));
        }
        if driver_changed || new.driver_changed_interfaces(&old) || touched("conductor_group") {
            self.check_conductor_group(&new)?;
        }
        self.resolve_interfaces(&mut new, reset_interfaces, changed)?;
        if let (Some(a), Some(b)) = (&old.instance_uuid, &new.instance_uuid) {
            if a != b {
                return Err(E::NodeAssociated {
                    node: old.uuid.clone(),
                    instance: a.clone(),
                });
            }
        }
        // Protected and retired: reasons need the flag; clearing the flag clears the reason.
        if new.protected
            && !old.protected
            && !matches!(
                old.provision_state.as_str(),
                states::ACTIVE | states::RESCUE
            )
        {
            return Err(E::InvalidState(format!(
                "Node {} can only be made protected in provision states '{}' or '{}', the current state is '{}'",
                old.uuid, states::ACTIVE, states::RESCUE, old.provision_state
            )));
        }
        if !new.protected {
            if touched("protected_reason") && new.protected_reason.is_some() {
                return Err(E::InvalidParameterValue(
                    "The protected_reason field can only be set when protected is True".into(),
                ));
            }
            new.protected_reason = None;
        }
        if new.retired && !old.retired && old.provision_state == states::AVAILABLE {
            return Err(E::InvalidState(format!(
                "Cannot set retired=True for node {} in state {}",
                old.uuid, old.provision_state
            )));
        }
        if !new.retired {
            if touched("retired_reason") && new.retired_reason.is_some() {
                return Err(E::InvalidParameterValue(
                    "The retired_reason field can only be set when retired is True".into(),
                ));
            }
            new.retired_reason = None;
        }
        if old.maintenance && !new.maintenance {
            new.maintenance_reason = None;
            new.fault = None;
        }
        self.resolve_parent(&mut new).await?;
        if !touched("instance_name") {
            sync_instance_name(&mut new);
        }
        // Write under the node's lock, and only if nobody changed it since the API read it
        // (the patch was computed on that copy).
        let mut task = self.acquire(&old.uuid, Wait::Configured).await?;
        if task.node.updated_at != old.updated_at
            || task.node.provision_state != old.provision_state
        {
            task.release().await;
            return Err(E::NodeLocked {
                node: old.uuid.clone(),
                host: self.host().to_string(),
            });
        }
        new.reservation = task.node.reservation.clone();
        task.node = new;
        let probe = task.node.clone();
        let saved_result = task.save().await;
        let saved = task.node.clone();
        task.release().await;
        let mut saved = saved_result.map(|_| saved).map_err(|e| match e {
            E::Store(se) => duplicate(se, Some(&probe), None, None),
            other => other,
        })?;
        saved.reservation = None;
        if old.maintenance != saved.maintenance {
            let what = if saved.maintenance { "set" } else { "unset" };
            self.record(crate::model::history::HistoryEvent {
                node_uuid: saved.uuid.clone(),
                severity: crate::model::history::SEVERITY_INFO.into(),
                event_type: "maintenance".into(),
                event: format!("Maintenance {what}"),
                state: Some(saved.provision_state.clone()),
                target_provision_state: saved.target_provision_state.clone(),
                ..Default::default()
            })
            .await?;
        }
        Ok(saved)
    }

    pub async fn node_delete(&self, node: Node) -> Result<()> {
        let task = self.acquire(&node.uuid, Wait::Configured).await?;
        let node = task.node.clone();
        if let Some(e) = delete_refusal(&node, self.config.conductor.allow_deleting_available_nodes)
        {
            return Err(e);
        }
        self.store.node_delete(node.id).await?;
        crate::metrics::node_deleted(&node.uuid);
        self.heartbeats_noted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&node.uuid);
        // Ironic stops the console of a node it deletes.
        self.console_forget(&node.uuid);
        drop(task);
        Ok(())
    }

    /// PUT/DELETE /maintenance. A new reason replaces the old; turning it off clears reason and fault.
    pub async fn node_set_maintenance(
        &self,
        node: Node,
        on: bool,
        reason: Option<String>,
    ) -> Result<Node> {
        let mut new = node.clone();
        new.maintenance = on;
        new.maintenance_reason = if on { reason } else { None };
        if !on {
            new.fault = None;
        }
        self.node_update(
            node,
            new,
            &["maintenance".into(), "maintenance_reason".into()],
            false,
        )
        .await
    }

    pub async fn node_set_traits(&self, node: &Node, traits: Vec<String>) -> Result<()> {
        self.store
            .node_set_traits(node.id, traits, crate::model::now())
            .await?;
        Ok(())
    }

    pub async fn node_add_trait(&self, node: &Node, t: String) -> Result<()> {
        if !self
            .store
            .node_add_trait(node.id, t.clone(), MAX_TRAITS, crate::model::now())
            .await?
        {
            return Err(E::InvalidParameterValue(format!(
                "Could not add trait {t} to node {}: a node can have at most {MAX_TRAITS} traits",
                node.uuid
            )));
        }
        Ok(())
    }

    pub async fn node_remove_trait(&self, node: &Node, t: Option<String>) -> Result<()> {
        let n = self
            .store
            .node_remove_traits(node.id, t.clone(), crate::model::now())
            .await?;
        if let (Some(name), 0) = (t, n) {
            return Err(E::NodeTraitNotFound {
                node: node.uuid.clone(),
                name,
            });
        }
        Ok(())
    }

    pub async fn port_create(&self, mut port: Port) -> Result<Port> {
        self.check_port_portgroup(&port).await?;
        port.created_at = crate::model::now();
        port.updated_at = None;
        let probe = port.clone();
        self.store
            .port_create(port)
            .await
            .map_err(|e| duplicate(e, None, Some(&probe), None))
    }

    /// Record what an out-of-band inspection found: its inventory, and ports for the MACs
    /// `existing` lacks (Ironic's create_ports_if_not_exist): PXE-enabled; a MAC another
    /// node owns is skipped with a warning, as Ironic does.
    pub(crate) async fn inspection_found(
        &self,
        node: &Node,
        existing: &[Port],
        found: crate::drivers::Discovered,
    ) -> Result<()> {
        if let Some(inv) = found.inventory {
            self.store
                .inventory_save(
                    node.id,
                    inv,
                    found.plugin_data.unwrap_or_else(|| serde_json::json!({})),
                    crate::model::now(),
                )
                .await?;
        }
        for mac in &found.macs {
            let mac = mac.to_lowercase();
            if existing
                .iter()
                .any(|p| p.address.eq_ignore_ascii_case(&mac))
            {
                continue;
            }
            let port = Port {
                uuid: crate::model::new_uuid(),
                address: mac.clone(),
                node_uuid: node.uuid.clone(),
                pxe_enabled: true,
                ..Default::default()
            };
            match self.port_create(port).await {
                Ok(p) => {
                    tracing::info!(node = %node.uuid, port = %p.uuid, %mac, "port created by inspection")
                }
                Err(e) => {
                    tracing::warn!(node = %node.uuid, %mac, error = %e, "inspection could not create a port")
                }
            }
        }
        Ok(())
    }

    async fn check_port_portgroup(&self, port: &Port) -> Result<()> {
        if let Some(pg) = &port.portgroup_uuid {
            let group = self.store.portgroup_get(pg.clone()).await?.ok_or_else(|| {
                E::InvalidParameterValue(format!("Portgroup {pg} could not be found."))
            })?;
            if group.node_uuid != port.node_uuid {
                return Err(E::InvalidParameterValue(format!(
                    "Port with uuid {} cannot be added to portgroup {pg} as they belong to different nodes.", port.uuid
                )));
            }
        }
        Ok(())
    }

    pub async fn port_update(&self, old: Port, mut new: Port) -> Result<Port> {
        let node = self
            .store
            .node_get(old.node_uuid.clone())
            .await?
            .ok_or_else(|| E::NodeNotFound(old.node_uuid.clone()))?;
        if let Some(host) = &node.reservation {
            return Err(E::NodeLocked {
                node: node.uuid.clone(),
                host: host.clone(),
            });
        }
        if new.node_uuid != old.node_uuid {
            let target = self.store.node_get(new.node_uuid.clone()).await?;
            if target.is_none() {
                return Err(E::InvalidParameterValue(format!(
                    "Unable to apply the requested node_uuid '{}'. Requested value was invalid.",
                    new.node_uuid
                )));
            }
        }
        let busy = !node.maintenance
            && matches!(
                node.provision_state.as_str(),
                states::ACTIVE
                    | states::DEPLOYING
                    | states::WAIT_CALLBACK
                    | states::CLEANING
                    | states::CLEAN_WAIT
            );
        if busy && (new.address != old.address || new.node_uuid != old.node_uuid) {
            return Err(E::InvalidState(format!(
                "Cannot update hardware address or node of port {} as node {} is in state {} and not in maintenance mode.",
                old.uuid, node.uuid, node.provision_state
            )));
        }
        self.check_port_portgroup(&new).await?;
        new.updated_at = Some(crate::model::now());
        let probe = new.clone();
        self.store
            .port_save(new)
            .await
            .map_err(|e| duplicate(e, None, Some(&probe), None))
    }

    pub async fn port_delete(&self, port: Port) -> Result<()> {
        let node = self.store.node_get(port.node_uuid.clone()).await?;
        if let Some(host) = node.as_ref().and_then(|n| n.reservation.clone()) {
            return Err(E::NodeLocked {
                node: port.node_uuid.clone(),
                host,
            });
        }
        // Ironic keeps a port a VIF is bound to, unless the node is in maintenance.
        let keeps = node.as_ref().is_some_and(|n| {
            !n.maintenance && vif::keeps_vifs(n.interfaces.get("network").unwrap_or(""))
        });
        if let Some(v) = vif::attached(&port.internal_info).filter(|_| keeps) {
            return Err(E::InvalidState(format!(
                "Cannot delete the port {} as it is bound to VIF {v} for use.",
                port.uuid
            )));
        }
        self.store.port_delete(port.id).await?;
        Ok(())
    }

    pub async fn portgroup_create(&self, mut pg: Portgroup) -> Result<Portgroup> {
        if pg.mode.is_none() {
            pg.mode = Some(self.config.default.default_portgroup_mode.clone());
        }
        pg.created_at = crate::model::now();
        pg.updated_at = None;
        let probe = pg.clone();
        self.store
            .portgroup_create(pg)
            .await
            .map_err(|e| duplicate(e, None, None, Some(&probe)))
    }

    pub async fn portgroup_update(&self, old: Portgroup, mut new: Portgroup) -> Result<Portgroup> {
        if new.node_uuid != old.node_uuid {
            if self.store.node_get(new.node_uuid.clone()).await?.is_none() {
                return Err(E::InvalidParameterValue(format!(
                    "Unable to apply the requested node_uuid '{}'. Requested value was invalid.",
                    new.node_uuid
                )));
            }
            if self.store.portgroup_port_count(old.id).await? > 0 {
                return Err(E::PortgroupNotEmpty(old.uuid.clone()));
            }
        }
        if new.mode.is_none() {
            new.mode = Some(self.config.default.default_portgroup_mode.clone());
        }
        new.updated_at = Some(crate::model::now());
        let probe = new.clone();
        self.store
            .portgroup_save(new)
            .await
            .map_err(|e| duplicate(e, None, None, Some(&probe)))
    }

    pub async fn portgroup_delete(&self, pg: Portgroup) -> Result<()> {
        if self.store.portgroup_port_count(pg.id).await? > 0 {
            return Err(E::PortgroupNotEmpty(pg.uuid.clone()));
        }
        self.store.portgroup_delete(pg.id).await?;
        Ok(())
    }

    pub async fn chassis_create(&self, mut c: Chassis) -> Result<Chassis> {
        c.created_at = crate::model::now();
        c.updated_at = None;
        let uuid = c.uuid.clone();
        self.store.chassis_create(c).await.map_err(|e| match e {
            StoreError::Duplicate { .. } => E::ChassisAlreadyExists(uuid),
            other => E::Store(other),
        })
    }

    pub async fn chassis_update(&self, mut c: Chassis) -> Result<Chassis> {
        c.updated_at = Some(crate::model::now());
        Ok(self.store.chassis_save(c).await?)
    }

    pub async fn chassis_delete(&self, c: Chassis) -> Result<()> {
        if !self.store.chassis_delete(c.id).await? {
            return Err(E::ChassisNotEmpty(c.uuid));
        }
        Ok(())
    }
}

/// `instance_name` follows `instance_info.display_name` unless set explicitly.
fn sync_instance_name(node: &mut Node) {
    if node.instance_name.is_none() {
        if let Some(name) = node
            .instance_info
            .get("display_name")
            .and_then(|v| v.as_str())
        {
            node.instance_name = Some(name.chars().take(255).collect());
        }
    }
}

/// Ironic's limit on traits per node.
pub const MAX_TRAITS: usize = 50;

impl Node {
    /// True when any interface differs (they are validated against the driver again).
    fn driver_changed_interfaces(&self, old: &Node) -> bool {
        self.interfaces != old.interfaces
    }
}
