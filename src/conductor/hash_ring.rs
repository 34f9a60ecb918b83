//! Consistent hash ring mapping nodes to conductors, as Ironic's: each conductor owns
//! 2^partition_exponent points on the ring; a node belongs to the first `replicas`
//! distinct conductors clockwise from its hash. Adding or removing a conductor moves only
//! the nodes that land on its points. With no peers configured the ring has one member.

use sha2::{Digest, Sha256};

pub struct HashRing {
    /// (position, host), sorted by position.
    points: Vec<(u64, String)>,
    hosts: usize,
}

fn position(data: &[u8]) -> u64 {
    // The digest's first 8 bytes, big-endian.
    Sha256::digest(data)
        .iter()
        .take(8)
        .fold(0, |acc, b| acc << 8 | u64::from(*b))
}

impl HashRing {
    pub fn new<S: AsRef<str>>(hosts: &[S], partition_exponent: u32) -> HashRing {
        let per_host = 1usize << partition_exponent.min(16);
        let mut points = Vec::with_capacity(hosts.len() * per_host);
        for h in hosts {
            let h = h.as_ref();
            for p in 0..per_host {
                points.push((position(format!("{h}-{p}").as_bytes()), h.to_string()));
            }
        }
        points.sort();
        points.dedup_by(|a, b| a.0 == b.0);
        let mut distinct: Vec<&str> = hosts.iter().map(AsRef::as_ref).collect();
        distinct.sort_unstable();
        distinct.dedup();
        HashRing {
            points,
            hosts: distinct.len(),
        }
    }

    /// The conductors for `key` (a node uuid), primary first.
    pub fn get_hosts(&self, key: &str, replicas: usize) -> Vec<&str> {
        let mut out: Vec<&str> = vec![];
        if self.points.is_empty() {
            return out;
        }
        let want = replicas.clamp(1, self.hosts);
        let start = self
            .points
            .partition_point(|(p, _)| *p < position(key.as_bytes()));
        // Clockwise from `start`, wrapping once round the ring.
        let ring = self
            .points
            .iter()
            .skip(start)
            .chain(self.points.iter().take(start));
        for (_, host) in ring {
            let host = host.as_str();
            if !out.contains(&host) {
                out.push(host);
                if out.len() == want {
                    break;
                }
            }
        }
        out
    }

    pub fn primary(&self, key: &str) -> Option<&str> {
        self.get_hosts(key, 1).first().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn keys(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("node-{i:06}")).collect()
    }

    #[test]
    fn one_member_owns_everything() {
        let r = HashRing::new(&["only"], 5);
        assert!(keys(100).iter().all(|k| r.primary(k) == Some("only")));
        assert!(HashRing::new::<&str>(&[], 5).primary("x").is_none());
    }

    #[test]
    fn spread_is_even() {
        let hosts: Vec<String> = (0..10).map(|i| format!("conductor-{i}")).collect();
        let r = HashRing::new(&hosts, 7);
        let mut count: HashMap<&str, usize> = HashMap::new();
        let ks = keys(20_000);
        for k in &ks {
            *count.entry(r.primary(k).unwrap()).or_default() += 1;
        }
        let expected = ks.len() / hosts.len();
        for (h, c) in count {
            assert!(
                (c as f64 - expected as f64).abs() < expected as f64 * 0.25,
                "{h} owns {c}, expected ~{expected}"
            );
        }
    }

    #[test]
    fn membership_changes_move_few_keys() {
        let hosts: Vec<String> = (0..8).map(|i| format!("c{i}")).collect();
        let before = HashRing::new(&hosts, 6);
        let mut more = hosts.clone();
        more.push("c8".into());
        let after = HashRing::new(&more, 6);
        let ks = keys(10_000);
        let moved = ks
            .iter()
            .filter(|k| before.primary(k) != after.primary(k))
            .count();
        // Ideal is 1/9 of the keys; everything that moved went to the new member.
        assert!(moved < ks.len() * 2 / 9, "{moved} moved");
        assert!(ks
            .iter()
            .filter(|k| before.primary(k) != after.primary(k))
            .all(|k| after.primary(k) == Some("c8")));
        let fewer = HashRing::new(&hosts[1..], 6);
        let moved = ks
            .iter()
            .filter(|k| before.primary(k) != fewer.primary(k))
            .count();
        let owned_by_c0 = ks
            .iter()
            .filter(|k| before.primary(k) == Some("c0"))
            .count();
        assert_eq!(moved, owned_by_c0, "only the leaving member's keys move");
    }

    #[test]
    fn replicas_are_distinct() {
        let r = HashRing::new(&["a", "b", "c"], 5);
        let h = r.get_hosts("node-1", 2);
        assert_eq!(h.len(), 2);
        assert_ne!(h[0], h[1]);
        assert_eq!(r.get_hosts("node-1", 10).len(), 3);
    }
}
