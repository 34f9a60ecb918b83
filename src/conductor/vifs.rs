//! VIF attach, list and detach (Ironic's vif_attach/vif_list/vif_detach), under the node's
//! lock. The `flat` network interface keeps VIFs on the node's ports and portgroups
//! (`model::vif` picks which); `noop` accepts and forgets them, as Ironic's does.

use super::power::driver_err;
use super::task::Wait;
use super::{Conductor, ConductorError as E, Result};
use crate::model::history::SEVERITY_ERROR;
use crate::model::node::Node;
use crate::model::portgroup::Portgroup;
use crate::model::vif::{self, Attach, Slot, VifError};

impl From<VifError> for E {
    fn from(e: VifError) -> Self {
        match e {
            VifError::AlreadyAttached { .. } => E::VifAlreadyAttached(e.to_string()),
            VifError::NoFreePorts(_) => E::NoFreePhysicalPorts(e.to_string()),
            // Ironic answers 500 here; a request about a bad portgroup is a client's 400.
            VifError::PhysnetInconsistent { .. } => E::InvalidParameterValue(e.to_string()),
        }
    }
}

impl Conductor {
    async fn portgroups_of(&self, node_uuid: &str) -> Result<Vec<Portgroup>> {
        let filter = crate::db::PortgroupFilter {
            node_uuid: Some(node_uuid.to_string()),
            ..Default::default()
        };
        Ok(self
            .store
            .portgroup_list(filter, crate::db::Page::all())
            .await?)
    }

    fn keeps_vifs(node: &Node) -> bool {
        vif::keeps_vifs(node.interfaces.get("network").unwrap_or(""))
    }

    /// The VIF ids attached to the node's ports and portgroups.
    pub async fn node_vif_list(&self, node: Node) -> Result<Vec<String>> {
        if !Self::keeps_vifs(&node) {
            return Ok(vec![]);
        }
        let ports = self.ports_of(&node.uuid).await?;
        let groups = self.portgroups_of(&node.uuid).await?;
        Ok(vif::list(&ports, &groups))
    }

    /// Attach `req.id` to a free port or portgroup of the node.
    pub async fn node_vif_attach(&self, node: Node, req: Attach) -> Result<()> {
        let task = self.acquire(&node.uuid, Wait::Configured).await?;
        let r = self
            .vif_attach_locked(&task.node, &task.ports, &task.driver, &req)
            .await;
        match &r {
            Ok(()) => {
                tracing::info!(node = %task.node.uuid, vif = %req.id, "VIF attached")
            }
            Err(e) => {
                let text = format!(
                    "Failed to attach VIF {} to node {}. Error: {e}",
                    req.id, task.node.uuid
                );
                let kind = task.node.provision_state.clone();
                if let Err(h) = task.history(SEVERITY_ERROR, &kind, text).await {
                    tracing::warn!(node = %task.node.uuid, error = %h, "could not record VIF failure");
                }
            }
        }
        task.release().await;
        r
    }

    async fn vif_attach_locked(
        &self,
        node: &Node,
        ports: &[crate::model::port::Port],
        driver: &crate::drivers::Driver,
        req: &Attach,
    ) -> Result<()> {
        self.validate_network(node, ports, driver).await?;
        if !Self::keeps_vifs(node) {
            return Ok(());
        }
        let mut groups = self.portgroups_of(&node.uuid).await?;
        let mut ports = ports.to_vec();
        match vif::choose(&ports, &groups, req)? {
            Slot::Port(i) => {
                if let Some(p) = ports.get_mut(i) {
                    p.internal_info
                        .insert(vif::TENANT_VIF_KEY.into(), req.id.clone().into());
                    self.store.port_save(p.clone()).await?;
                }
            }
            Slot::Portgroup(i) => {
                if let Some(g) = groups.get_mut(i) {
                    g.internal_info
                        .insert(vif::TENANT_VIF_KEY.into(), req.id.clone().into());
                    self.store.portgroup_save(g.clone()).await?;
                }
            }
        }
        Ok(())
    }

    /// Detach `vif_id`; Ironic's VifNotAttached when no port or portgroup has it.
    pub async fn node_vif_detach(&self, node: Node, vif_id: String) -> Result<()> {
        let task = self.acquire(&node.uuid, Wait::Configured).await?;
        let r = self
            .vif_detach_locked(&task.node, &task.ports, &task.driver, &vif_id)
            .await;
        match &r {
            Ok(()) => tracing::info!(node = %task.node.uuid, vif = %vif_id, "VIF detached"),
            Err(e) => {
                let text = format!(
                    "Failed to detach VIF {vif_id} from node {}, Error: {e}",
                    task.node.uuid
                );
                let kind = task.node.provision_state.clone();
                if let Err(h) = task.history(SEVERITY_ERROR, &kind, text).await {
                    tracing::warn!(node = %task.node.uuid, error = %h, "could not record VIF failure");
                }
            }
        }
        task.release().await;
        r
    }

    async fn vif_detach_locked(
        &self,
        node: &Node,
        ports: &[crate::model::port::Port],
        driver: &crate::drivers::Driver,
        vif_id: &str,
    ) -> Result<()> {
        self.validate_network(node, ports, driver).await?;
        if !Self::keeps_vifs(node) {
            return Ok(());
        }
        let groups = self.portgroups_of(&node.uuid).await?;
        let clear = |info: &mut crate::model::JsonObject, extra: &mut crate::model::JsonObject| {
            info.remove(vif::TENANT_VIF_KEY);
            extra.remove(vif::LEGACY_VIF_KEY);
        };
        match vif::holder(ports, &groups, vif_id) {
            Some(Slot::Portgroup(i)) => {
                if let Some(mut g) = groups.get(i).cloned() {
                    clear(&mut g.internal_info, &mut g.extra);
                    self.store.portgroup_save(g).await?;
                }
            }
            Some(Slot::Port(i)) => {
                if let Some(mut p) = ports.get(i).cloned() {
                    clear(&mut p.internal_info, &mut p.extra);
                    self.store.port_save(p).await?;
                }
            }
            None => {
                return Err(E::VifNotAttached {
                    vif: vif_id.to_string(),
                    node: node.uuid.clone(),
                })
            }
        }
        Ok(())
    }

    /// The network interface's validate, as Ironic runs it before a VIF change.
    async fn validate_network(
        &self,
        node: &Node,
        ports: &[crate::model::port::Port],
        driver: &crate::drivers::Driver,
    ) -> Result<()> {
        let Some(net) = driver.step_interface("network") else {
            return Ok(());
        };
        let mut n = node.clone();
        let ctx = crate::drivers::TaskContext::new(&mut n, ports, &self.config);
        net.validate(&ctx).await.map_err(driver_err)
    }
}
