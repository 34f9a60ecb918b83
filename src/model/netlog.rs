//! The boot network's recent events (DHCP answers and drops with their reason, TFTP and
//! HTTP fetches) in a bounded in-memory ring. A neutral type: the boot servers push into
//! it, the network page reads it, and neither knows the other. Lost on restart by design.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// How many events the ring keeps.
pub const CAPACITY: usize = 500;

#[derive(Debug, Clone, PartialEq)]
pub struct NetEvent {
    /// Increasing: the page asks for what is newer than what it shows.
    pub seq: u64,
    pub at: String,
    /// `dhcp`, `tftp` or `http`.
    pub proto: &'static str,
    /// The client: a MAC for DHCP, an address for TFTP and HTTP.
    pub client: String,
    /// `answered`, `served`, `dropped` or `failed`.
    pub result: &'static str,
    /// What happened, e.g. `Discover → Offer 10.0.0.5 (PXE)` or the file name.
    pub text: String,
    /// Why a packet was dropped (the DHCP decision's named reason), or what failed.
    pub reason: Option<String>,
    /// DHCP option 12, as the client sent it (untrusted: shown escaped).
    pub hostname: Option<String>,
}

#[derive(Debug, Default)]
pub struct NetLog {
    ring: Mutex<VecDeque<NetEvent>>,
    seq: AtomicU64,
}

impl NetLog {
    /// Append (the oldest event falls out when full). `seq` and `at` are set here.
    pub fn push(&self, mut e: NetEvent) {
        e.seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        e.at = super::now();
        // A poisoned lock only means a panic elsewhere mid-push; the ring is still valid.
        let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        if ring.len() >= CAPACITY {
            ring.pop_front();
        }
        ring.push_back(e);
    }

    /// The newest `n` events, newest first.
    pub fn recent(&self, n: usize) -> Vec<NetEvent> {
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        ring.iter().rev().take(n).cloned().collect()
    }

    /// The sequence number of the newest event (0: none yet).
    pub fn last_seq(&self) -> u64 {
        self.seq.load(Ordering::Relaxed)
    }
}

impl NetEvent {
    pub fn new(proto: &'static str, client: String, result: &'static str, text: String) -> Self {
        NetEvent {
            seq: 0,
            at: String::new(),
            proto,
            client,
            result,
            text,
            reason: None,
            hostname: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_is_bounded_and_newest_first() {
        let log = NetLog::default();
        for i in 0..CAPACITY + 10 {
            log.push(NetEvent::new(
                "dhcp",
                format!("c{i}"),
                "dropped",
                String::new(),
            ));
        }
        let all = log.recent(usize::MAX);
        assert_eq!(all.len(), CAPACITY);
        assert_eq!(all[0].client, format!("c{}", CAPACITY + 9));
        assert_eq!(all[0].seq, (CAPACITY + 10) as u64);
        assert_eq!(all[CAPACITY - 1].client, "c10");
        assert_eq!(log.recent(3).len(), 3);
        assert_eq!(log.last_seq(), (CAPACITY + 10) as u64);
    }
}
