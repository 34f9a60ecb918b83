//! `POST /v1/continue_inspection`: find the node the ramdisk's data belongs to (by node
//! UUID, MACs, BMC addresses, as Ironic's lookup does), or enroll it when auto-discovery
//! is on; run the hooks (`hooks.rs`) and the inspection rules on a copy in memory; then
//! save node, ports, inventory and plugin_data in one transaction. A failing hook or rule
//! changes nothing but `last_error` and the inspection's state.

mod discovery;
mod hooks;

use serde_json::{json, Value};

use super::agent::{new_token, LookupResult};
use super::fsm::Event;
use super::provision;
use super::task::{NodeTask, Wait};
use super::{Conductor, ConductorError as E, Result};
use crate::db::InspectionSaved;
use crate::model::dii::AGENT_TOKEN;
use crate::model::history::SEVERITY_INFO;
use crate::model::mac::Mac;
use crate::model::node::Node;
use crate::model::states::{ENROLL, INSPECT_WAIT};

pub use discovery::{identity_uuid, AUTO_DISCOVERED};

/// `driver_internal_info` flag: power the discovered machine off through its agent at
/// its next heartbeat (`[inspector] power_off`; a discovered node has no BMC credentials).
pub const POWER_OFF_PENDING: &str = "inspection_power_off_pending";

/// How long a post waits for its node's lock (racing posts of one machine queue here).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

fn not_found() -> E {
    E::NotFound("Resource could not be found.".into())
}

/// The inventory's valid MACs (invalid ones are ignored, as Ironic does; so are the
/// loopback's and the all-zero MAC, which every machine shares).
fn inventory_macs(inventory: &Value) -> Vec<String> {
    let mut macs: Vec<String> = inventory
        .get("interfaces")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|i| i.get("name").and_then(Value::as_str) != Some("lo"))
        .filter_map(|i| i.get("mac_address").and_then(Value::as_str))
        .filter_map(Mac::parse_strict)
        .filter(|m| m.0 != [0; 6])
        .map(|m| m.to_string())
        .collect();
    macs.sort();
    macs.dedup();
    macs
}

/// `bmc_address` and `bmc_v6address`, when set and not "0.0.0.0"/"::/0" (IPA's "none").
fn inventory_bmc(inventory: &Value) -> Vec<String> {
    ["bmc_address", "bmc_v6address"]
        .iter()
        .filter_map(|k| inventory.get(*k).and_then(Value::as_str))
        .map(str::trim)
        .filter(|a| !a.is_empty() && !matches!(*a, "0.0.0.0" | "::/0" | "::"))
        .map(str::to_lowercase)
        .collect()
}

impl Conductor {
    /// The node the data names: `node_uuid`, else the owner of the MACs, checked against
    /// the owner of the BMC addresses (two different nodes: not found, as Ironic, since
    /// updating either could be wrong), else a machine discovered before without ports.
    async fn inspection_lookup(
        &self,
        macs: &[String],
        bmc: &[String],
        node_uuid: Option<&str>,
    ) -> Result<Option<Node>> {
        if let Some(u) = node_uuid {
            return self
                .store
                .node_get(u.to_string())
                .await?
                .map(Some)
                .ok_or_else(not_found);
        }
        let mut owners: Vec<String> = vec![];
        for mac in macs {
            if let Some(o) = self.store.mac_owner(mac.clone()).await? {
                owners.push(o.node_uuid);
            }
        }
        owners.sort();
        owners.dedup();
        if owners.len() > 1 {
            tracing::error!(macs = %macs.join(", "), nodes = %owners.join(", "), "inspection lookup: the MACs belong to several nodes");
            return Err(not_found());
        }
        if !bmc.is_empty() {
            let by_bmc = self.store.node_uuids_by_bmc(bmc.to_vec()).await?;
            match (owners.first(), by_bmc.as_slice()) {
                (Some(m), [b]) if m != b => {
                    tracing::error!(mac_node = %m, bmc_node = %b, "inspection lookup: MACs and BMC address name different nodes");
                    return Err(not_found());
                }
                (None, [b]) => owners.push(b.clone()),
                (None, [_, _, ..]) => {
                    tracing::error!(bmc = %bmc.join(", "), "inspection lookup: the BMC address belongs to several nodes");
                    return Err(not_found());
                }
                _ => {}
            }
        }
        let uuid = match owners.first() {
            Some(u) => u.clone(),
            None => match identity_uuid(macs, bmc) {
                Some(u) => u,
                None => return Ok(None),
            },
        };
        Ok(self.store.node_get(uuid).await?)
    }

    /// `POST /v1/continue_inspection`: process what the ramdisk found on its node (a
    /// node waiting in `inspect wait`, or with auto-discovery one in `enroll`, created
    /// here when no lookup knows the machine).
    pub async fn continue_inspection(
        &self,
        mut data: Value,
        node_uuid: Option<&str>,
        issue_token: bool,
    ) -> Result<LookupResult> {
        let inventory = data
            .get("inventory")
            .cloned()
            .filter(Value::is_object)
            .ok_or_else(|| {
                E::InvalidParameterValue("Inspection data has no inventory object".into())
            })?;
        if !inventory.get("interfaces").is_some_and(Value::is_array) {
            return Err(E::InvalidParameterValue(
                "Invalid inventory: interfaces must be a list".into(),
            ));
        }
        let macs = inventory_macs(&inventory);
        let bmc = inventory_bmc(&inventory);
        if macs.is_empty() && bmc.is_empty() && node_uuid.is_none() {
            return Err(E::InvalidParameterValue(
                "No lookup information provided".into(),
            ));
        }
        if let Some(o) = data.as_object_mut() {
            o.remove("inventory");
        }
        let discovery = self.config.auto_discovery.enabled;
        let (node, created) = match self.inspection_lookup(&macs, &bmc, node_uuid).await? {
            Some(n) => (n, false),
            None if discovery && node_uuid.is_none() => self.discover(&macs, &bmc).await?,
            None => return Err(not_found()),
        };
        let mut task = self.acquire(&node.uuid, Wait::Up(LOCK_WAIT)).await?;
        let state = task.node.provision_state.clone();
        // An enroll node is updated only if discovery made it (an operator's enroll
        // node is not waiting for inspection data).
        let rediscovered = state == ENROLL
            && discovery
            && task.node.driver_internal_info.get(AUTO_DISCOVERED) == Some(&json!(true));
        if state != INSPECT_WAIT && !rediscovered {
            tracing::error!(node = %task.node.uuid, %state, macs = %macs.join(", "), "inspection data for a node that is not waiting for it");
            task.release().await;
            return Err(not_found());
        }
        if created || rediscovered {
            if let Some(o) = data.as_object_mut() {
                o.insert(AUTO_DISCOVERED.into(), json!(true));
            }
        }
        let result = process(&mut task, inventory, data, issue_token).await;
        match result {
            Ok(token) => {
                let node = task.node.clone();
                task.release().await;
                Ok(LookupResult { node, token })
            }
            Err(msg) => {
                if task.node.provision_state == ENROLL {
                    // No state to fail in: record why, as Ironic's error handler does.
                    task.node.last_error = Some(msg.clone());
                    let _ = task.save().await;
                } else {
                    provision::fail(&mut task, msg.clone()).await;
                }
                task.release().await;
                Err(E::InvalidParameterValue(msg))
            }
        }
    }
}

/// Hooks and rules on a copy, then one transaction; then the inspection finishes (an
/// `inspect wait` node through its driver and the FSM; a discovered one stays in
/// `enroll`, its agent told to power off at its next heartbeat).
async fn process(
    task: &mut NodeTask,
    inventory: Value,
    mut plugin_data: Value,
    issue_token: bool,
) -> std::result::Result<Option<String>, String> {
    let c = task.conductor.clone();
    let mut node = task.node.clone();
    let mut ports = task.ports.clone();
    hooks::run(
        &c.config.inspector,
        &mut node,
        &mut ports,
        &inventory,
        &mut plugin_data,
    )?;
    // Rules see (and may change) what the hooks made; an error discards the whole copy.
    c.apply_inspection_rules(&mut super::RuleScope {
        node: &mut node,
        ports: &mut ports,
        inventory: &inventory,
        plugin_data: &mut plugin_data,
    })
    .await?;
    // Logs can be large and are not part of the stored data (as Ironic).
    if let Some(o) = plugin_data.as_object_mut() {
        o.remove("logs");
    }
    let now = crate::model::now();
    node.last_error = None;
    node.inspection_finished_at = Some(now.clone());
    node.updated_at = Some(now.clone());
    let discovered = node.provision_state == ENROLL;
    if discovered && c.config.inspector.power_off {
        node.driver_internal_info
            .insert(POWER_OFF_PENDING.into(), json!(true));
    }
    let token = if issue_token {
        let t = new_token();
        node.driver_internal_info
            .insert(AGENT_TOKEN.into(), json!(t));
        Some(t)
    } else {
        None
    };
    let summary = format!(
        "Inspection data received: {} interfaces, {} ports, properties {}",
        plugin_data
            .get("all_interfaces")
            .and_then(Value::as_object)
            .map_or(0, |m| m.len()),
        ports.len(),
        ["cpus", "cpu_arch", "memory_mb", "local_gb"]
            .iter()
            .filter_map(|k| node.properties.get(*k).map(|v| format!("{k}={v}")))
            .collect::<Vec<_>>()
            .join(" ")
    );
    save(task, node, ports, inventory, plugin_data, now).await?;
    let _ = task.history(SEVERITY_INFO, "inspection", summary).await;
    if discovered {
        return Ok(token);
    }
    let (driver, mut ctx) = task.ctx();
    driver
        .inspect
        .finish_inspection(&driver, &mut ctx)
        .await
        .map_err(|e| format!("Failed to finish inspection: {e}"))?;
    // Finishing forgets the agent; the one that sent this data keeps its new token.
    if let Some(t) = &token {
        task.node
            .driver_internal_info
            .insert(AGENT_TOKEN.into(), json!(t));
    }
    task.process_event(Event::Done, None)
        .await
        .map_err(|e| e.to_string())?;
    Ok(token)
}

/// What an out-of-band inspection (`redfish`) found, treated as Ironic does: a PXE-enabled
/// port for each MAC the node lacks (create_ports_if_not_exist), then the inspection
/// rules on a copy, then node, traits, ports and inventory in one transaction. A failing
/// rule saves nothing; the caller fails the inspection with its message.
pub(super) async fn out_of_band(
    task: &mut NodeTask,
    found: crate::drivers::Discovered,
) -> std::result::Result<(), String> {
    let c = task.conductor.clone();
    let Some(inventory) = found.inventory else {
        // Nothing to run rules on: ports only.
        let found = crate::drivers::Discovered {
            inventory: None,
            ..found
        };
        return c
            .inspection_found(&task.node, &task.ports, found)
            .await
            .map_err(|e| e.to_string());
    };
    let mut node = task.node.clone();
    let mut ports = task.ports.clone();
    for mac in &found.macs {
        let mac = mac.to_lowercase();
        if !ports.iter().any(|p| p.address.eq_ignore_ascii_case(&mac)) {
            ports.push(crate::model::port::Port {
                uuid: crate::model::new_uuid(),
                address: mac,
                node_uuid: node.uuid.clone(),
                pxe_enabled: true,
                ..Default::default()
            });
        }
    }
    let mut plugin_data = found.plugin_data.unwrap_or_else(|| json!({}));
    c.apply_inspection_rules(&mut super::RuleScope {
        node: &mut node,
        ports: &mut ports,
        inventory: &inventory,
        plugin_data: &mut plugin_data,
    })
    .await?;
    let now = crate::model::now();
    node.updated_at = Some(now.clone());
    save(task, node, ports, inventory, plugin_data, now).await
}

/// Node, traits, ports and inventory in one transaction under the node's lock; the task
/// then holds what was saved. A port whose MAC another node owns is skipped, as Ironic does.
async fn save(
    task: &mut NodeTask,
    node: Node,
    ports: Vec<crate::model::port::Port>,
    inventory: Value,
    plugin_data: Value,
    now: String,
) -> std::result::Result<(), String> {
    let c = task.conductor.clone();
    let saved = c
        .store
        .inspection_save(
            node,
            c.host().to_string(),
            ports,
            inventory,
            plugin_data,
            now,
        )
        .await
        .map_err(|e| format!("Failed to save inspection data: {e}"))?;
    match saved {
        InspectionSaved::LockLost => {
            Err("Failed to save inspection data: the node's lock was lost".into())
        }
        InspectionSaved::Saved {
            node,
            ports,
            skipped,
        } => {
            for mac in skipped {
                tracing::warn!(node = %node.uuid, %mac, "inspection did not add a port: another node has this MAC");
            }
            task.node = *node;
            task.ports = ports;
            Ok(())
        }
    }
}
