//! The ramdisk agent's side of the conversation (`GET /v1/lookup`, `POST /v1/heartbeat`):
//! who the agent is, its one-time token, and heartbeats that move a waiting node on at
//! once. The protocol is ironic-python-agent's, so the stock IPA ramdisk and ironbox's
//! built-in agent are driven by the same code.

use base64::Engine;
use rand::RngCore;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::fsm::Event;
use super::inspection::{AUTO_DISCOVERED, POWER_OFF_PENDING};
use super::provision;
use super::task::{NodeTask, Wait};
use super::{Conductor, ConductorError as E, Result};
use crate::drivers::agent_client::AgentClient;
use crate::drivers::Progress;
use crate::model::dii::{
    AGENT_LAST_HEARTBEAT, AGENT_TOKEN, AGENT_URL, AGENT_VERIFY_CA, AGENT_VERSION,
};
use crate::model::history::SEVERITY_INFO;
use crate::model::node::Node;
use crate::model::states::*;
use crate::model::step::StepKind;

/// States in which an agent may look its node up (Ironic's, without fast-track).
const LOOKUP_STATES: &[&str] = &[
    DEPLOYING,
    WAIT_CALLBACK,
    CLEANING,
    CLEAN_WAIT,
    INSPECTING,
    INSPECT_WAIT,
    RESCUING,
    RESCUE_WAIT,
    SERVICE_WAIT,
];

/// A successful lookup: the node and the token to hand out (`******` when one was given
/// out before: the token is shown once).
pub struct LookupResult {
    pub node: Node,
    pub token: Option<String>,
}

/// What an agent sends with a heartbeat.
#[derive(Debug, Clone, Default)]
pub struct AgentHeartbeat {
    pub callback_url: String,
    pub agent_token: Option<String>,
    pub agent_version: Option<String>,
    pub agent_verify_ca: Option<String>,
}

pub(super) fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The agent's calls can race the flow that is just saving the node (it looked up or
/// reported a command done right away): wait a moment for the lock rather than answer
/// 409, which makes an agent back off for 5-30 s.
const AGENT_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl Conductor {
    /// `GET /v1/lookup`: the node owning one of `macs` (or `node_uuid`), if an agent may
    /// talk to it now. With `issue_token` (API ≥ 1.62) the node gets its agent token.
    pub async fn agent_lookup(
        &self,
        macs: &[String],
        node_uuid: Option<&str>,
        issue_token: bool,
    ) -> Result<LookupResult> {
        let not_found = || E::NotFound("Resource could not be found.".into());
        let mut uuid = node_uuid.map(str::to_string);
        if uuid.is_none() {
            for mac in macs {
                let filter = crate::db::PortFilter {
                    address: Some(mac.clone()),
                    ..Default::default()
                };
                let page = crate::db::Page {
                    limit: 1,
                    ..crate::db::Page::all()
                };
                if let Some(p) = self.store.port_list(filter, page).await?.into_iter().next() {
                    uuid = Some(p.node_uuid);
                    break;
                }
            }
        }
        let uuid = uuid.ok_or_else(not_found)?;
        let node = self
            .store
            .node_get(uuid.clone())
            .await?
            .ok_or_else(not_found)?;
        // A discovered machine's agent may look its node up (it is told to power off at
        // its first heartbeat), as Ironic's fast track lets an enroll node's agent in.
        let discovered = self.config.auto_discovery.enabled
            && node.provision_state == ENROLL
            && node.driver_internal_info.get(AUTO_DISCOVERED) == Some(&json!(true));
        // The same answer as for an unknown node: a lookup must not reveal which exist.
        if !LOOKUP_STATES.contains(&node.provision_state.as_str()) && !discovered {
            return Err(not_found());
        }
        if !issue_token {
            return Ok(LookupResult { node, token: None });
        }
        let mut task = self.acquire(&node.uuid, Wait::Up(AGENT_LOCK_WAIT)).await?;
        let token = if task.node.driver_internal_info.contains_key(AGENT_TOKEN) {
            "******".to_string()
        } else {
            let t = new_token();
            task.node
                .driver_internal_info
                .insert(AGENT_TOKEN.into(), json!(t));
            task.save().await?;
            t
        };
        let _ = task
            .history(
                SEVERITY_INFO,
                "agent_lookup",
                format!(
                    "Agent looked the node up (MACs {}){}",
                    macs.join(", "),
                    if token == "******" {
                        "; a token was issued before"
                    } else {
                        "; token issued"
                    }
                ),
            )
            .await;
        let node = task.node.clone();
        task.release().await;
        Ok(LookupResult {
            node,
            token: Some(token),
        })
    }

    /// `POST /v1/heartbeat/{node}`: check the token, record where the agent listens, and
    /// if the node waits for this agent, carry on in the background right away.
    pub async fn agent_heartbeat(&self, ident: &str, hb: AgentHeartbeat) -> Result<()> {
        let node = self
            .store
            .node_get(ident.to_string())
            .await?
            .ok_or_else(|| E::NodeNotFound(ident.to_string()))?;
        if hb.agent_version.is_none() {
            return Err(E::InvalidParameterValue(
                "Missing agent_version in the heartbeat".into(),
            ));
        }
        if self.config.agent.require_tls && !hb.callback_url.starts_with("https://") {
            return Err(E::InvalidParameterValue(format!(
                "TLS is required by configuration ([agent] require_tls), the agent's callback URL {} is not https",
                hb.callback_url
            )));
        }
        let mut task = self.acquire(&node.uuid, Wait::Up(AGENT_LOCK_WAIT)).await?;
        let stored = task
            .node
            .driver_internal_info
            .get(AGENT_TOKEN)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let given = hb.agent_token.clone().unwrap_or_default();
        if stored.is_empty() || !bool::from(stored.as_bytes().ct_eq(given.as_bytes())) {
            task.release().await;
            return Err(E::InvalidParameterValue(
                "Invalid or missing agent token received.".into(),
            ));
        }
        let dii = &mut task.node.driver_internal_info;
        let first = dii.get(AGENT_URL).and_then(Value::as_str) != Some(hb.callback_url.as_str());
        dii.insert(AGENT_URL.into(), json!(hb.callback_url));
        if let Some(v) = &hb.agent_version {
            dii.insert(AGENT_VERSION.into(), json!(v));
        }
        match &hb.agent_verify_ca {
            Some(ca) => dii.insert(AGENT_VERIFY_CA.into(), json!(ca)),
            None => dii.remove(AGENT_VERIFY_CA),
        };
        dii.insert(AGENT_LAST_HEARTBEAT.into(), json!(crate::model::now()));
        if let Err(e) = task.save().await {
            task.release().await;
            return Err(e);
        }
        let state = task.node.provision_state.clone();
        // Where the node is: its state and the step it runs.
        let n = &task.node;
        let place = format!(
            "{state}|{:?}|{:?}|{:?}",
            n.deploy_step.get("step"),
            n.clean_step.get("step"),
            n.service_step.get("step")
        );
        if heartbeat_noteworthy(self, &n.uuid, &place, first) {
            let _ = task
                .history(
                    SEVERITY_INFO,
                    "agent_heartbeat",
                    format!(
                        "Agent {} {} from {} in \"{state}\"",
                        hb.agent_version.as_deref().unwrap_or("?"),
                        if first {
                            "first heartbeat"
                        } else {
                            "heartbeat"
                        },
                        hb.callback_url,
                    ),
                )
                .await;
        }
        if task
            .node
            .driver_internal_info
            .contains_key(POWER_OFF_PENDING)
        {
            power_off_discovered(task).await;
            return Ok(());
        }
        if state == RESCUE_WAIT && !task.node.maintenance {
            let slot = match self.workers.reserve() {
                Ok(s) => s,
                Err(e) => {
                    task.release().await;
                    return Err(e);
                }
            };
            self.workers
                .run(slot, super::rescue::finish_after_heartbeat(task));
            return Ok(());
        }
        let Some(kind) = StepKind::waiting_in(&state).filter(|_| !task.node.maintenance) else {
            task.release().await;
            return Ok(());
        };
        let slot = match self.workers.reserve() {
            Ok(s) => s,
            Err(e) => {
                task.release().await;
                return Err(e);
            }
        };
        self.workers.run(slot, continue_after_heartbeat(task, kind));
        Ok(())
    }
}

/// `[inspector] power_off` for a discovered machine (no BMC credentials yet): ask its
/// agent to power off, once, and forget the agent.
async fn power_off_discovered(mut task: NodeTask) {
    let timeout = task.conductor.config.agent.command_timeout;
    let sent = match AgentClient::for_node(&task.node.driver_internal_info, timeout) {
        Ok(c) => c
            .execute("standby.power_off", json!({}), false)
            .await
            .map(drop),
        Err(e) => Err(e),
    };
    let text = match &sent {
        Ok(()) => "Discovered machine powered off through its agent".to_string(),
        Err(e) => format!("Could not power the discovered machine off through its agent: {e}"),
    };
    tracing::info!(node = %task.node.uuid, outcome = %text, "inspection power-off");
    let dii = &mut task.node.driver_internal_info;
    dii.remove(POWER_OFF_PENDING);
    crate::model::dii::forget_agent(dii);
    let _ = task.save().await;
    let _ = task.history(SEVERITY_INFO, "inspection", text).await;
    task.release().await;
}

/// A heartbeat goes to history when it is the agent's first, when the node's `place` (its
/// state and current step) changed since the last one recorded, or `HEARTBEAT_NOTE_EVERY`
/// after it: an agent beating every few seconds through an hour-long step must not push
/// the rest of the history out.
fn heartbeat_noteworthy(c: &Conductor, node: &str, place: &str, first: bool) -> bool {
    let now = std::time::Instant::now();
    let mut noted = c.heartbeats_noted.lock().unwrap_or_else(|p| p.into_inner());
    let due = first
        || noted
            .get(node)
            .is_none_or(|(at, s)| s != place || now.duration_since(*at) >= HEARTBEAT_NOTE_EVERY);
    if due {
        noted.insert(node.to_string(), (now, place.to_string()));
    }
    due
}

const HEARTBEAT_NOTE_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

/// The waiting node's agent is alive: see whether the step it runs has finished, and if
/// so go on with the plan (which may send the next command and wait again).
async fn continue_after_heartbeat(mut task: NodeTask, kind: StepKind) {
    let (driver, mut ctx) = task.ctx();
    let outcome = driver.deploy.heartbeat(&driver, &mut ctx).await;
    let result = match outcome {
        Ok(Progress::Wait) | Ok(Progress::Hold) => task.save().await.map_err(|e| e.to_string()),
        Ok(Progress::Done) => match task.process_event(Event::Resume, None).await {
            Ok(()) => provision::continue_plan(&mut task, kind).await,
            Err(e) => Err(e.to_string()),
        },
        Err(e) => {
            let current = task.node.current_step(kind);
            let name = format!(
                "{}.{}",
                current
                    .get("interface")
                    .and_then(Value::as_str)
                    .unwrap_or("deploy"),
                current.get("step").and_then(Value::as_str).unwrap_or("?")
            );
            Err(format!(
                "Agent returned error for {} step {name} on node {}: {e}",
                kind.name(),
                task.node.uuid
            ))
        }
    };
    if let Err(msg) = result {
        provision::fail(&mut task, msg).await;
    }
    task.release().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn heartbeats_reach_history_when_the_node_moves_not_on_every_beat() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = crate::config::Config::parse(
            &format!("[DEFAULT]\nstate_path = \"{}\"\n", dir.path().display()),
            "t",
        )
        .unwrap();
        let reg = crate::drivers::Registry::from_config(&cfg).unwrap();
        let store = crate::db::Store::open(&cfg.database.connection, 5000, 2).unwrap();
        let c = Conductor::new(store, std::sync::Arc::new(reg), std::sync::Arc::new(cfg));
        let noted = |place: &str, first: bool| heartbeat_noteworthy(&c, "n1", place, first);
        assert!(noted("wait call-back|deploy", true));
        assert!(!noted("wait call-back|deploy", false));
        assert!(!noted("wait call-back|deploy", false));
        assert!(noted("wait call-back|write_image", false));
        assert!(!noted("wait call-back|write_image", false));
        assert!(heartbeat_noteworthy(
            &c,
            "n2",
            "wait call-back|write_image",
            false
        ));
        // An old note is due again.
        let Some(old) = std::time::Instant::now().checked_sub(HEARTBEAT_NOTE_EVERY) else {
            return; // a clock younger than the interval: nothing older to fake
        };
        if let Some(e) = c.heartbeats_noted.lock().unwrap().get_mut("n1") {
            e.0 = old;
        }
        assert!(noted("wait call-back|write_image", false));
    }
}
