//! What the boot network did for enrolled machines (DHCP replies, TFTP and HTTP fetches),
//! written to their node history so a deploy's timeline shows the whole boot. The servers
//! only hand an event to a bounded channel (never blocking a packet: when it is full the
//! event is dropped); one task resolves the machine and writes.

use std::collections::HashMap;
use std::net::IpAddr;

use tokio::sync::mpsc;

use crate::db::Store;
use crate::model::history::{HistoryEvent, SEVERITY_INFO};

/// Who an event is about: a MAC (DHCP, per-MAC scripts) or an address the machine got
/// from our DHCP server (TFTP and HTTP fetches).
#[derive(Debug)]
enum Who {
    Mac(String),
    Ip(IpAddr),
}

#[derive(Debug)]
struct Event {
    who: Who,
    /// An address just handed to this MAC, remembered for later fetches.
    leased: Option<IpAddr>,
    text: String,
}

/// A cheap handle the DHCP, TFTP and HTTP servers share.
#[derive(Clone)]
pub struct BootEvents {
    tx: mpsc::Sender<Event>,
}

impl BootEvents {
    /// Start the writer (on the current tokio runtime). `keep`: history entries per node.
    pub fn spawn(store: Store, keep: u32) -> BootEvents {
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(write(store, keep, rx));
        BootEvents { tx }
    }

    /// A DHCP reply to `mac` (lower-case, `:`-separated), which now has `ip`.
    pub fn dhcp(&self, mac: String, ip: Option<IpAddr>, text: String) {
        self.send(Event {
            who: Who::Mac(mac),
            leased: ip,
            text,
        });
    }

    /// Something served to the machine with `mac`.
    pub fn to_mac(&self, mac: String, text: String) {
        self.send(Event {
            who: Who::Mac(mac),
            leased: None,
            text,
        });
    }

    /// Something served to `ip` (recorded when our DHCP server gave that address out).
    pub fn to_ip(&self, ip: IpAddr, text: String) {
        self.send(Event {
            who: Who::Ip(ip),
            leased: None,
            text,
        });
    }

    fn send(&self, e: Event) {
        let _ = self.tx.try_send(e);
    }
}

async fn write(store: Store, keep: u32, mut rx: mpsc::Receiver<Event>) {
    let mut owner_of_ip: HashMap<IpAddr, String> = HashMap::new();
    while let Some(e) = rx.recv().await {
        let mac = match e.who {
            Who::Mac(m) => {
                if let Some(ip) = e.leased {
                    owner_of_ip.insert(ip, m.clone());
                }
                m
            }
            Who::Ip(ip) => match owner_of_ip.get(&ip) {
                Some(m) => m.clone(),
                None => continue,
            },
        };
        let Ok(Some(owner)) = store.mac_owner(mac.clone()).await else {
            continue;
        };
        let ev = HistoryEvent {
            uuid: crate::model::new_uuid(),
            node_uuid: owner.node_uuid.clone(),
            severity: SEVERITY_INFO.into(),
            event_type: "boot_network".into(),
            event: format!("{} ({mac})", e.text),
            conductor: None,
            user: None,
            state: Some(owner.provision_state),
            target_provision_state: None,
            duration_seconds: None,
            created_at: crate::model::now(),
        };
        if let Err(err) = store.history_add(ev, keep).await {
            tracing::debug!(node = %owner.node_uuid, error = %err, "boot event not recorded");
        }
    }
}
