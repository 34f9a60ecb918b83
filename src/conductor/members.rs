//! Members: the live conductors, read from the conductors table at each heartbeat, one hash
//! ring per conductor group built from them, and takeover of the nodes a dead member held.
//! Ironic's `_sync_local_state`/`_check_orphan_nodes`, run on the heartbeat's tick.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::RwLock;

use super::fsm::{self, Event};
use super::hash_ring::HashRing;
use super::task::Wait;
use super::{Conductor, Result};
use crate::model::conductor::Conductor as ConductorRow;

/// Points per member on the ring (2^5, Ironic's default `hash_partition_exponent`).
const PARTITION_EXPONENT: u32 = 5;

/// One reading of the conductors table: who is alive, where they take RPC, and the rings.
pub struct View {
    /// Live members by hostname: (group, rpc address).
    live: BTreeMap<String, (String, Option<String>)>,
    /// Registered members found dead (silent for `heartbeat_timeout`, or signed off).
    dead: BTreeSet<String>,
    rings: BTreeMap<String, HashRing>,
}

impl View {
    /// A view from conductor rows: `me` always counts as alive in its own group (a slow
    /// heartbeat write must not make a member give its own nodes away).
    pub fn build(
        rows: &[ConductorRow],
        me: (&str, &str),
        now: chrono::DateTime<chrono::Utc>,
        timeout_s: u64,
    ) -> View {
        let mut live: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
        let mut dead = BTreeSet::new();
        for r in rows {
            if r.hostname == me.0 || r.alive_at(now, timeout_s) {
                live.insert(
                    r.hostname.clone(),
                    (r.conductor_group.clone(), r.rpc_address.clone()),
                );
            } else {
                dead.insert(r.hostname.clone());
            }
        }
        live.entry(me.0.to_string())
            .or_insert_with(|| (me.1.to_string(), None));
        let mut groups: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (host, (group, _)) in &live {
            groups.entry(group.clone()).or_default().push(host);
        }
        let rings = groups
            .into_iter()
            .map(|(g, hosts)| (g, HashRing::new(&hosts, PARTITION_EXPONENT)))
            .collect();
        View { live, dead, rings }
    }

    /// The member that owns node `uuid` of conductor group `group` (None: no live member
    /// serves that group).
    pub fn owner(&self, group: &str, uuid: &str) -> Option<&str> {
        self.rings.get(group)?.primary(uuid)
    }

    /// Where a live member takes RPC.
    pub fn rpc_address(&self, host: &str) -> Option<&str> {
        self.live.get(host)?.1.as_deref()
    }

    pub fn is_dead(&self, host: &str) -> bool {
        self.dead.contains(host)
    }

    /// Live member names, sorted (what the ring is made of; compared to see a change).
    pub fn live_hosts(&self) -> Vec<&str> {
        self.live.keys().map(String::as_str).collect()
    }
}

/// The current view, swapped whole at each refresh.
pub struct Members {
    view: RwLock<View>,
}

impl Members {
    /// Before the first refresh: this member alone.
    pub fn alone(host: &str, group: &str) -> Members {
        Members {
            view: RwLock::new(View::build(&[], (host, group), chrono::Utc::now(), 1)),
        }
    }

    /// Run `f` on the current view.
    pub fn with<T>(&self, f: impl FnOnce(&View) -> T) -> T {
        let v = self.view.read().unwrap_or_else(|p| p.into_inner());
        f(&v)
    }

    fn set(&self, v: View) {
        *self.view.write().unwrap_or_else(|p| p.into_inner()) = v;
    }
}

/// What one refresh found.
#[derive(Debug, Default, PartialEq)]
pub struct Refresh {
    pub joined: Vec<String>,
    pub left: Vec<String>,
    /// Nodes taken over from dead members: locks broken, and of those, nodes failed.
    pub taken_over: usize,
    pub failed: usize,
}

impl Conductor {
    /// Re-read the members, rebuild the rings, and take over what dead members held.
    pub async fn members_refresh(&self) -> Result<Refresh> {
        let rows = self.store.conductor_list_all().await?;
        let timeout = self.config.conductor.heartbeat_timeout.as_secs();
        let group = self.config.conductor.conductor_group.clone();
        let view = View::build(&rows, (self.host(), &group), chrono::Utc::now(), timeout);
        let mut out = Refresh::default();
        let (before, dead): (BTreeSet<String>, Vec<String>) = (
            self.members
                .with(|v| v.live_hosts().iter().map(|h| h.to_string()).collect()),
            view.dead.iter().cloned().collect(),
        );
        let after: BTreeSet<String> = view.live_hosts().iter().map(|h| h.to_string()).collect();
        out.joined = after.difference(&before).cloned().collect();
        out.left = before.difference(&after).cloned().collect();
        self.members.set(view);
        if !out.joined.is_empty() || !out.left.is_empty() {
            tracing::info!(joined = ?out.joined, left = ?out.left, members = ?after, "conductor group membership changed; hash ring rebuilt");
        }
        let (taken, failed) = self.take_over(dead).await?;
        out.taken_over = taken;
        out.failed = failed;
        Ok(out)
    }

    /// Nodes of our group that dead members held locked and that are now ours: break the
    /// lock; abort a pending power change; a node caught in a working (non-wait) state
    /// fails, as Ironic's `_check_orphan_nodes` does. Nodes in `*wait` states carry on:
    /// the agent's next heartbeat reaches us. Boot answers (iPXE script, DHCP) are built
    /// from the shared store per request, so ours are right as soon as the ring is.
    async fn take_over(&self, dead: Vec<String>) -> Result<(usize, usize)> {
        let held = self.store.nodes_held_by(dead).await?;
        let (mut taken, mut failed) = (0, 0);
        for h in held {
            if self.owner_of(&h.conductor_group, &h.uuid).as_deref() != Some(self.host()) {
                continue;
            }
            if !self
                .store
                .node_break_lock(h.uuid.clone(), h.holder.clone())
                .await?
            {
                continue;
            }
            taken += 1;
            tracing::warn!(node = %h.uuid, old = %h.holder, "forcibly removed the reservation of a conductor that went offline");
            let Ok(mut task) = self.acquire(&h.uuid, Wait::Configured).await else {
                continue;
            };
            if task.node.target_power_state.take().is_some() {
                task.node.last_error =
                    Some("Pending power operation was aborted due to conductor take over".into());
                let _ = task.save().await;
            }
            let state = task.node.provision_state.clone();
            if fsm::FAIL_ON_RESTART.contains(&state.as_str()) {
                let msg = format!(
                    "Operation was aborted due to conductor take over: conductor {} went offline while node {} was in \"{state}\".",
                    h.holder, h.uuid
                );
                match task.process_event(Event::Fail, Some(msg)).await {
                    Ok(()) => failed += 1,
                    Err(e) => {
                        tracing::error!(node = %h.uuid, error = %e, "could not fail a node taken over")
                    }
                }
            }
            task.release().await;
        }
        Ok((taken, failed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        host: &str,
        group: &str,
        secs_ago: i64,
        now: chrono::DateTime<chrono::Utc>,
    ) -> ConductorRow {
        ConductorRow {
            hostname: host.into(),
            conductor_group: group.into(),
            online: true,
            created_at: crate::model::format_time(now - chrono::Duration::seconds(secs_ago)),
            rpc_address: Some(format!("{host}:8089")),
            ..Default::default()
        }
    }

    #[test]
    fn rings_are_made_of_live_members_per_group() {
        let now = chrono::Utc::now();
        let rows = [
            row("a", "", 1, now),
            row("b", "", 2, now),
            row("c", "", 100, now),
            row("d", "rack2", 1, now),
        ];
        let v = View::build(&rows, ("a", ""), now, 30);
        assert_eq!(v.live_hosts(), ["a", "b", "d"]);
        assert!(v.is_dead("c"));
        let uuids: Vec<String> = (0..300).map(|i| format!("node-{i}")).collect();
        let mut count: BTreeMap<&str, usize> = BTreeMap::new();
        for u in &uuids {
            *count.entry(v.owner("", u).unwrap()).or_default() += 1;
            assert_eq!(
                v.owner("rack2", u),
                Some("d"),
                "the other group has its own ring"
            );
        }
        assert_eq!(count.keys().copied().collect::<Vec<_>>(), ["a", "b"]);
        assert!(count.values().all(|n| *n > 50), "{count:?}");
        assert!(v.owner("nobody-serves-this", "node-1").is_none());
        assert_eq!(v.rpc_address("b"), Some("b:8089"));
        assert_eq!(v.rpc_address("c"), None, "dead members take no calls");
    }

    #[test]
    fn a_member_that_dies_hands_only_its_nodes_over() {
        let now = chrono::Utc::now();
        let all = [
            row("a", "", 1, now),
            row("b", "", 1, now),
            row("c", "", 1, now),
        ];
        let before = View::build(&all, ("a", ""), now, 30);
        let later = now + chrono::Duration::seconds(31);
        let c_silent = [
            row("a", "", -30, now),
            row("b", "", -30, now),
            row("c", "", 1, now),
        ];
        let after = View::build(&c_silent, ("a", ""), later, 30);
        assert!(after.is_dead("c"));
        for i in 0..300 {
            let u = format!("node-{i}");
            let (was, is) = (before.owner("", &u).unwrap(), after.owner("", &u).unwrap());
            assert_ne!(is, "c");
            if was != "c" {
                assert_eq!(was, is, "{u} moved though its owner lives");
            }
        }
    }

    #[test]
    fn this_member_is_alive_in_its_own_eyes() {
        let now = chrono::Utc::now();
        let v = View::build(&[row("a", "", 1000, now)], ("a", ""), now, 30);
        assert_eq!(v.owner("", "x"), Some("a"));
        let v = View::build(&[], ("a", "g"), now, 30);
        assert_eq!(v.owner("g", "x"), Some("a"));
    }
}
