//! The full-mode lease table, in memory and authoritative; SQLite is written from it in
//! group commits (`persist.rs`), and an ACK leaves only once its `Bind` is durable. Pure
//! logic: every change it makes is queued in `writes` for the caller to hand to the
//! writer in order.
//!
//! Never one address for two MACs, also across a crash or a power cut:
//! - An address goes to a *new* MAC only from the reserve: addresses whose `reserved` row
//!   was durably written ahead of use (a batch at a time, off the packet path). OFFERs are
//!   held in memory only, so an OFFER needs no write and goes out at once.
//! - Binding an address that is neither reserved nor already this MAC's (a REQUEST for an
//!   address we never offered, or one whose lease expired under another MAC) is flushed
//!   at once (`Request::BoundDurable`) rather than within the writer's batching delay.
//! - A start after a crash (the session marker was left behind) quarantines every
//!   `reserved` row for one lease time: it is offered to nobody, but a client that asks
//!   for it by name (RENEW or INIT-REBOOT) gets it. Bound rows count as held for at least
//!   one more lease time. Since ACKs wait for their commit no ACKed lease can be lost;
//!   this still covers storage that lost a flushed write, or an old database written
//!   behind.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::Ipv4Addr;

use crate::db::{LeaseRow, LeaseWrite};
use crate::model::mac::Mac;

/// Keep at least this many addresses reserved (or being reserved) ahead of use.
const RESERVE_LOW: usize = 8;
/// Reserve this many at a time.
const RESERVE_BATCH: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// Durable `reserved` row: free, may go to anyone.
    Reserved,
    /// A `Reserve` write is queued, not yet durable: not usable yet.
    Pending,
    /// Offered to `mac` (memory only; the row is still `reserved`).
    Offered {
        mac: Mac,
        until: i64,
    },
    Bound {
        mac: Mac,
        expires: i64,
    },
    Declined {
        expires: i64,
    },
    /// After a crash: possibly someone's lost lease. Only a client naming it gets it.
    Quarantined,
}

/// What a DISCOVER (or a REQUEST without an address) gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    Address(Ipv4Addr),
    /// Nothing free in the range.
    Exhausted,
    /// The reserve is empty but a batch is being written: wait for the writer, then retry.
    Wait,
}

/// What a REQUEST gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// ACK now (its row may be written behind).
    Bound(Ipv4Addr),
    /// ACK only once the queued writes are durable.
    BoundDurable(Ipv4Addr),
    /// NAK: not this client's to take.
    Conflict,
    Exhausted,
    Wait,
}

pub struct Leases {
    first: u32,
    last: u32,
    hold: i64,
    entries: HashMap<u32, Entry>,
    by_mac: HashMap<Mac, u32>,
    reserve: BTreeSet<u32>,
    pending: usize,
    /// Offer holds in time order (holds all last `hold`, so a queue suffices).
    offers: VecDeque<(i64, u32)>,
    /// When the quarantine of a start after a crash ends.
    quarantine_until: Option<i64>,
    /// The last second a refill scan found the range full (don't rescan within it).
    full_at: Option<i64>,
    /// Changes to persist, in order.
    pub writes: Vec<LeaseWrite>,
}

impl Leases {
    /// The table for [first, last] from the stored rows. `clean` = the last session ended
    /// cleanly (nothing was lost); otherwise quarantine as described above.
    pub fn load(
        first: Ipv4Addr,
        last: Ipv4Addr,
        hold: i64,
        lease_time: i64,
        rows: &[LeaseRow],
        clean: bool,
        now: i64,
    ) -> Leases {
        let mut t = Leases {
            first: first.into(),
            last: last.into(),
            hold,
            entries: HashMap::new(),
            by_mac: HashMap::new(),
            reserve: BTreeSet::new(),
            pending: 0,
            offers: VecDeque::new(),
            quarantine_until: None,
            full_at: None,
            writes: vec![],
        };
        for r in rows {
            let Ok(ip) = r.ip.parse::<Ipv4Addr>() else {
                continue;
            };
            let ip = u32::from(ip);
            if !t.in_range(ip) {
                continue;
            }
            let entry = match (r.state.as_str(), Mac::parse_strict(&r.mac)) {
                ("reserved", _) if clean => {
                    t.reserve.insert(ip);
                    Entry::Reserved
                }
                ("reserved", _) => {
                    t.quarantine_until = Some(now + lease_time);
                    Entry::Quarantined
                }
                ("bound", Some(mac)) => {
                    let expires = if clean {
                        r.expires_at
                    } else {
                        r.expires_at.max(now + lease_time)
                    };
                    t.by_mac.insert(mac, ip);
                    Entry::Bound { mac, expires }
                }
                ("declined", _) => Entry::Declined {
                    expires: r.expires_at,
                },
                // Offers of older versions were only holds; anything else is unknown.
                _ => continue,
            };
            t.entries.insert(ip, entry);
        }
        t
    }

    fn in_range(&self, ip: u32) -> bool {
        (self.first..=self.last).contains(&ip)
    }

    /// Expire offer holds and the quarantine.
    fn tick(&mut self, now: i64) {
        while let Some(&(until, ip)) = self.offers.front() {
            if until > now {
                break;
            }
            self.offers.pop_front();
            if let Some(&Entry::Offered { mac, until: u }) = self.entries.get(&ip) {
                if u == until {
                    self.entries.insert(ip, Entry::Reserved);
                    self.reserve.insert(ip);
                    if self.by_mac.get(&mac) == Some(&ip) {
                        self.by_mac.remove(&mac);
                    }
                }
            }
        }
        if self.quarantine_until.is_some_and(|q| q <= now) {
            self.quarantine_until = None;
            for (ip, e) in self.entries.iter_mut() {
                if *e == Entry::Quarantined {
                    *e = Entry::Reserved;
                    self.reserve.insert(*ip);
                }
            }
        }
    }

    /// Queue `Reserve` writes for free addresses when the reserve runs low.
    fn refill(&mut self, now: i64) {
        if self.reserve.len() + self.pending >= RESERVE_LOW || self.full_at == Some(now) {
            return;
        }
        // Never-used addresses first: an expired lease stays its client's while it can.
        let mut picked = vec![];
        for expired in [false, true] {
            for ip in self.first..=self.last {
                if picked.len() >= RESERVE_BATCH {
                    break;
                }
                let free = match self.entries.get(&ip) {
                    None => !expired,
                    Some(Entry::Bound { expires, .. }) | Some(Entry::Declined { expires }) => {
                        expired && *expires < now
                    }
                    _ => false,
                };
                if free {
                    picked.push(ip);
                }
            }
        }
        if picked.is_empty() {
            self.full_at = Some(now);
        }
        for ip in picked {
            if let Some(Entry::Bound { mac, .. }) = self.entries.get(&ip) {
                if self.by_mac.get(mac) == Some(&ip) {
                    self.by_mac.remove(mac);
                }
            }
            self.entries.insert(ip, Entry::Pending);
            self.pending += 1;
            self.writes.push(LeaseWrite::Reserve { ip: ip.into() });
        }
    }

    /// Whether the reserve is empty (the caller should flush the writer right away).
    pub fn starved(&self) -> bool {
        self.reserve.is_empty()
    }

    /// The writer made these `Reserve` writes durable (`ok`) or failed to.
    pub fn reserved(&mut self, ips: &[Ipv4Addr], ok: bool) {
        for ip in ips {
            let ip = u32::from(*ip);
            self.pending = self.pending.saturating_sub(1);
            if self.entries.get(&ip) == Some(&Entry::Pending) {
                if ok {
                    self.entries.insert(ip, Entry::Reserved);
                    self.reserve.insert(ip);
                } else {
                    self.entries.remove(&ip);
                }
            }
        }
        if !ok {
            self.full_at = None;
        }
    }

    /// DISCOVER: the client's address (held, bound or offered), else a reserved one, held
    /// for it in memory.
    pub fn offer(&mut self, mac: Mac, now: i64) -> Offer {
        self.tick(now);
        if let Some(&ip) = self.by_mac.get(&mac) {
            match self.entries.get_mut(&ip) {
                Some(Entry::Bound { mac: m, .. }) if *m == mac => {
                    return Offer::Address(ip.into());
                }
                Some(Entry::Offered { mac: m, until }) if *m == mac => {
                    *until = now + self.hold;
                    self.offers.push_back((now + self.hold, ip));
                    return Offer::Address(ip.into());
                }
                _ => {
                    self.by_mac.remove(&mac);
                }
            }
        }
        let got = match self.reserve.pop_first() {
            Some(ip) => {
                self.entries.insert(
                    ip,
                    Entry::Offered {
                        mac,
                        until: now + self.hold,
                    },
                );
                self.by_mac.insert(mac, ip);
                self.offers.push_back((now + self.hold, ip));
                Offer::Address(ip.into())
            }
            None if self.pending > 0 => Offer::Wait,
            None => Offer::Exhausted,
        };
        self.refill(now);
        if got == Offer::Exhausted && self.pending > 0 {
            return Offer::Wait;
        }
        got
    }

    /// REQUEST for `requested` (or, without one, what `offer` gives) for `secs`.
    pub fn request(
        &mut self,
        mac: Mac,
        requested: Option<Ipv4Addr>,
        now: i64,
        secs: i64,
    ) -> Request {
        self.tick(now);
        let ip = match requested {
            Some(ip) => u32::from(ip),
            None => match self.offer(mac, now) {
                Offer::Address(ip) => u32::from(ip),
                Offer::Exhausted => return Request::Exhausted,
                Offer::Wait => return Request::Wait,
            },
        };
        if !self.in_range(ip) {
            return Request::Conflict;
        }
        // Whether a crash after this bind keeps the address out of other hands without
        // writing first: it has a durable row that is reserved or already this MAC's.
        let covered = match self.entries.get(&ip) {
            None => false,
            Some(Entry::Bound { mac: m, expires }) => {
                if *m == mac {
                    true
                } else if *expires >= now {
                    return Request::Conflict;
                } else {
                    false
                }
            }
            Some(Entry::Offered { mac: m, until }) => {
                if *m != mac && *until > now {
                    return Request::Conflict;
                }
                true
            }
            Some(Entry::Reserved) | Some(Entry::Quarantined) => true,
            Some(Entry::Pending) => return Request::Conflict,
            Some(Entry::Declined { expires }) => {
                if *expires >= now {
                    return Request::Conflict;
                }
                false
            }
        };
        // The client moves: what it held before is let go.
        if let Some(&old) = self.by_mac.get(&mac) {
            if old != ip {
                match self.entries.get(&old) {
                    Some(Entry::Offered { mac: m, .. }) if *m == mac => {
                        self.entries.insert(old, Entry::Reserved);
                        self.reserve.insert(old);
                    }
                    Some(Entry::Bound { mac: m, .. }) if *m == mac => {
                        self.entries.remove(&old);
                        self.writes.push(LeaseWrite::Free { ip: old.into() });
                    }
                    _ => {}
                }
            }
        }
        if let Some(Entry::Offered { mac: m, .. }) | Some(Entry::Bound { mac: m, .. }) =
            self.entries.get(&ip)
        {
            if *m != mac && self.by_mac.get(m) == Some(&ip) {
                let m = *m;
                self.by_mac.remove(&m);
            }
        }
        self.reserve.remove(&ip);
        self.entries.insert(
            ip,
            Entry::Bound {
                mac,
                expires: now + secs,
            },
        );
        self.by_mac.insert(mac, ip);
        self.writes.push(LeaseWrite::Bind {
            ip: ip.into(),
            mac: mac.to_string(),
            expires_at: now + secs,
        });
        self.refill(now);
        if covered {
            Request::Bound(ip.into())
        } else {
            Request::BoundDurable(ip.into())
        }
    }

    /// RELEASE: the client's lease (or offer) ends now.
    pub fn release(&mut self, mac: Mac) {
        let Some(ip) = self.by_mac.remove(&mac) else {
            return;
        };
        match self.entries.get(&ip) {
            Some(Entry::Bound { mac: m, .. }) if *m == mac => {
                self.entries.remove(&ip);
                self.writes.push(LeaseWrite::Free { ip: ip.into() });
            }
            Some(Entry::Offered { mac: m, .. }) if *m == mac => {
                self.entries.insert(ip, Entry::Reserved);
                self.reserve.insert(ip);
            }
            _ => {}
        }
    }

    /// DECLINE: `ip` is in use by someone we do not know; keep it out for `secs`.
    pub fn decline(&mut self, ip: Ipv4Addr, now: i64, secs: i64) {
        let ip = u32::from(ip);
        if !self.in_range(ip) {
            return;
        }
        if let Some(Entry::Offered { mac, .. }) | Some(Entry::Bound { mac, .. }) =
            self.entries.get(&ip)
        {
            if self.by_mac.get(mac) == Some(&ip) {
                let mac = *mac;
                self.by_mac.remove(&mac);
            }
        }
        self.reserve.remove(&ip);
        let expires = now + secs;
        self.entries.insert(ip, Entry::Declined { expires });
        self.writes.push(LeaseWrite::Decline {
            ip: ip.into(),
            expires_at: expires,
        });
    }

    /// Queue the first reserve batch (at start).
    pub fn prime(&mut self, now: i64) {
        self.refill(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Mac = Mac([2, 0, 0, 0, 0, 0xa]);
    const B: Mac = Mac([2, 0, 0, 0, 0, 0xb]);
    const C: Mac = Mac([2, 0, 0, 0, 0, 0xc]);

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, last)
    }

    fn row(ip: &str, mac: &str, state: &str, expires_at: i64) -> LeaseRow {
        LeaseRow {
            ip: ip.into(),
            mac: mac.into(),
            state: state.into(),
            expires_at,
        }
    }

    /// A table over .10–.13 whose reserve writes are made durable at once.
    fn table(rows: &[LeaseRow], clean: bool) -> Leases {
        let mut t = Leases::load(ip(10), ip(13), 60, 600, rows, clean, 1000);
        t.prime(1000);
        durable(&mut t);
        t
    }

    fn durable(t: &mut Leases) {
        let ips: Vec<Ipv4Addr> = t
            .writes
            .drain(..)
            .filter_map(|w| match w {
                LeaseWrite::Reserve { ip } => Some(ip),
                _ => None,
            })
            .collect();
        t.reserved(&ips, true);
    }

    #[test]
    fn dora_renew_release() {
        let mut t = table(&[], true);
        assert_eq!(t.offer(A, 1000), Offer::Address(ip(10)));
        assert_eq!(t.offer(B, 1000), Offer::Address(ip(11)), "offers are held");
        assert_eq!(t.request(B, Some(ip(10)), 1000, 600), Request::Conflict);
        assert_eq!(
            t.request(A, Some(ip(10)), 1000, 600),
            Request::Bound(ip(10))
        );
        assert_eq!(t.offer(A, 1001), Offer::Address(ip(10)), "its own lease");
        assert_eq!(
            t.request(A, Some(ip(10)), 1300, 600),
            Request::Bound(ip(10))
        );
        t.release(A);
        assert!(t.writes.contains(&LeaseWrite::Free { ip: ip(10) }));
        // B's hold has expired; a released address is reused only once reserved again.
        assert_eq!(t.offer(C, 1301), Offer::Address(ip(11)));
        assert_eq!(t.offer(B, 1301), Offer::Address(ip(12)));
    }

    #[test]
    fn offer_holds_expire_and_the_pool_runs_out() {
        let mut t = table(&[], true);
        for (i, m) in [A, B, C, Mac([9; 6])].iter().enumerate() {
            assert_eq!(t.offer(*m, 1000), Offer::Address(ip(10 + i as u8)));
        }
        assert_eq!(t.offer(Mac([8; 6]), 1000), Offer::Exhausted);
        assert_eq!(
            t.offer(Mac([8; 6]), 1060),
            Offer::Address(ip(10)),
            "holds expired"
        );
    }

    #[test]
    fn binding_an_unreserved_address_is_written_through() {
        let mut t = Leases::load(ip(10), ip(13), 60, 600, &[], true, 1000);
        // INIT-REBOOT for an address never reserved: ACK only once durable.
        assert_eq!(
            t.request(A, Some(ip(13)), 1000, 600),
            Request::BoundDurable(ip(13))
        );
        assert_eq!(t.request(A, Some(ip(20)), 1000, 600), Request::Conflict);
        // Taking over another MAC's expired lease is written through too.
        let rows = [row("10.0.0.10", "02:00:00:00:00:0a", "bound", 900)];
        let mut t = Leases::load(ip(10), ip(13), 60, 600, &rows, true, 1000);
        assert_eq!(
            t.request(B, Some(ip(10)), 1000, 600),
            Request::BoundDurable(ip(10))
        );
        assert_eq!(t.offer(A, 1000), Offer::Wait, "reserve being written");
        durable(&mut t);
        assert_eq!(t.offer(A, 1000), Offer::Address(ip(11)));
    }

    #[test]
    fn a_start_after_a_crash_hands_no_address_to_a_second_mac() {
        // The crash lost A's bind of .11 (its row is still "reserved") and C's renewal of
        // .12 (its row says it expired).
        let rows = [
            row("10.0.0.10", "", "reserved", 0),
            row("10.0.0.11", "", "reserved", 0),
            row("10.0.0.12", "02:00:00:00:00:0c", "bound", 990),
        ];
        let mut t = table(&rows, false);
        assert_eq!(t.offer(B, 1000), Offer::Address(ip(13)), "never .10-.12");
        assert_eq!(t.offer(Mac([7; 6]), 1000), Offer::Exhausted);
        // A comes back for its address and gets it; C keeps its own.
        assert_eq!(
            t.request(A, Some(ip(11)), 1001, 600),
            Request::Bound(ip(11))
        );
        assert_eq!(t.request(B, Some(ip(12)), 1001, 600), Request::Conflict);
        assert_eq!(t.offer(C, 1001), Offer::Address(ip(12)));
        // After one lease time the quarantined address is free again.
        assert_eq!(t.offer(Mac([7; 6]), 1600), Offer::Address(ip(10)));
        // A clean start trusts the rows as they are.
        let mut t = table(&rows, true);
        assert_eq!(t.offer(B, 1000), Offer::Address(ip(10)));
    }

    #[test]
    fn decline_keeps_the_address_out() {
        let mut t = table(&[], true);
        assert_eq!(t.offer(A, 1000), Offer::Address(ip(10)));
        t.decline(ip(10), 1000, 600);
        assert_eq!(t.request(A, Some(ip(10)), 1000, 600), Request::Conflict);
        assert_eq!(t.offer(A, 1000), Offer::Address(ip(11)));
    }
}
