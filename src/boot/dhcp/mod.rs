//! The DHCPv4 server: receive on the provisioning interface, decode, look the MAC up,
//! `decide`, build and send the reply. A bad packet is a logged drop; the loop never stops.
//! Ports: 67 (and 4011 for PXE ROMs asking the proxy again in proxy mode).

pub mod decide;
pub mod options;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;

use dhcproto::v4::{self, DhcpOption, Message, MessageType, Opcode};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use decide::{Decision, Facts, Ignore, Lookup, Mode, Plan};
use options::Fetch;

use super::{BootError, Net};
use crate::db::Store;

/// Seconds an offered address is held for the client's REQUEST.
const OFFER_HOLD: i64 = 60;

pub struct DhcpServer {
    pub store: Store,
    pub net: Net,
    pub mode: Mode,
    pub range: Option<(Ipv4Addr, Ipv4Addr)>,
    pub lease_time: u32,
    pub router: Option<Ipv4Addr>,
    pub dns: Vec<Ipv4Addr>,
    pub allow_unknown: bool,
    pub http_port: u16,
}

/// A UDP socket bound to `port` on `iface` only (SO_BINDTODEVICE), able to broadcast.
fn bind(iface: &str, addr: SocketAddrV4) -> Result<UdpSocket, BootError> {
    let err = |what: &str, e: std::io::Error| BootError::Bind {
        what: format!("DHCP {what} on {iface} {addr}"),
        source: e,
    };
    let s = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )
    .map_err(|e| err("socket", e))?;
    s.set_reuse_address(true)
        .map_err(|e| err("SO_REUSEADDR", e))?;
    s.set_broadcast(true).map_err(|e| err("SO_BROADCAST", e))?;
    s.bind_device(Some(iface.as_bytes()))
        .map_err(|e| err("SO_BINDTODEVICE", e))?;
    s.set_nonblocking(true).map_err(|e| err("nonblocking", e))?;
    s.bind(&SocketAddr::V4(addr).into())
        .map_err(|e| err("bind", e))?;
    UdpSocket::from_std(s.into()).map_err(|e| err("register", e))
}

fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl DhcpServer {
    /// Serve until cancelled. Returns the bound addresses.
    pub async fn start(self, cancel: CancellationToken) -> Result<Vec<SocketAddr>, BootError> {
        let me = Arc::new(self);
        let mut bound = vec![];
        let mut ports = vec![67u16];
        if me.mode == Mode::Proxy {
            ports.push(4011);
        }
        for port in ports {
            let addr = if port == 67 {
                SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)
            } else {
                SocketAddrV4::new(me.net.ip, port)
            };
            let sock = Arc::new(bind(&me.net.iface, addr)?);
            bound.push(SocketAddr::V4(addr));
            let (me, cancel) = (me.clone(), cancel.clone());
            // Packets are handled concurrently (each waits on the store), up to a bound.
            let in_flight = Arc::new(tokio::sync::Semaphore::new(64));
            tokio::spawn(async move {
                let mut buf = vec![0u8; 1500];
                loop {
                    let (len, from) = tokio::select! {
                        _ = cancel.cancelled() => return,
                        r = sock.recv_from(&mut buf) => match r {
                            Ok(x) => x,
                            Err(e) => {
                                tracing::warn!(error = %e, "DHCP receive failed");
                                continue;
                            }
                        },
                    };
                    let packet = buf.get(..len).unwrap_or_default().to_vec();
                    let Ok(permit) = in_flight.clone().acquire_owned().await else {
                        return;
                    };
                    let (me, sock) = (me.clone(), sock.clone());
                    tokio::spawn(async move {
                        if let Some((reply, to)) = me.handle(&packet, from, port).await {
                            if let Err(e) = sock.send_to(&reply, to).await {
                                tracing::warn!(error = %e, to = %to, "DHCP send failed");
                            }
                        }
                        drop(permit);
                    });
                }
            });
        }
        Ok(bound)
    }

    /// One packet in, maybe one reply out (bytes, destination). Never panics.
    pub async fn handle(
        &self,
        packet: &[u8],
        from: SocketAddr,
        port: u16,
    ) -> Option<(Vec<u8>, SocketAddr)> {
        // RUST_LOG=ironbox::boot::dhcp=trace dumps every packet (for bug reports and fixtures).
        if tracing::enabled!(tracing::Level::TRACE) {
            let hex: String = packet.iter().map(|b| format!("{b:02x}")).collect();
            tracing::trace!(from = %from, port, len = packet.len(), hex = %hex, "DHCP packet received");
        }
        // dhcproto asserts on some malformed option lengths (debug_assert!): contain it, a
        // bad packet must never take the server down.
        let msg = match std::panic::catch_unwind(|| Message::decode(&mut Decoder::new(packet))) {
            Ok(Ok(m)) => m,
            Ok(Err(e)) => {
                tracing::debug!(from = %from, error = %e, "DHCP packet dropped: cannot decode");
                return None;
            }
            Err(_) => {
                tracing::debug!(from = %from, "DHCP packet dropped: malformed options");
                return None;
            }
        };
        let facts = match decide::facts(&msg) {
            Ok(f) => f,
            Err(why) => {
                tracing::debug!(from = %from, reason = %why, "DHCP packet dropped");
                return None;
            }
        };
        let mac = mac_text(&facts.mac);
        let lookup = match self.lookup(&facts, &mac).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(mac = %mac, error = %e, "DHCP lookup failed; packet dropped");
                return None;
            }
        };
        match decide::decide(&facts, self.mode, &lookup, self.net.ip, self.allow_unknown) {
            Decision::Ignore(why) => {
                if matches!(why, Ignore::Release | Ignore::Decline) {
                    tracing::info!(mac = %mac, reason = %why, "DHCP");
                } else {
                    tracing::debug!(mac = %mac, kind = ?facts.kind, client = ?facts.client, reason = %why, "DHCP packet ignored");
                }
                None
            }
            Decision::Reply(plan) => {
                tracing::info!(mac = %mac, kind = ?facts.kind, client = ?facts.client, reply = ?plan.kind, ip = ?plan.yiaddr,
                    boot = ?plan.boot, reason = plan.reason, "DHCP reply");
                let reply = self.build(&msg, &facts, &plan);
                let mut out = Vec::with_capacity(400);
                reply.encode(&mut Encoder::new(&mut out)).ok()?;
                Some((out, self.destination(&msg, from, port)))
            }
        }
    }

    /// What the store knows about this MAC, and (full mode) its address.
    async fn lookup(&self, f: &Facts, mac: &str) -> Result<Lookup, crate::db::StoreError> {
        let owner = self.store.mac_owner(mac.to_string()).await?;
        let mut l = Lookup {
            known: owner.is_some(),
            ..Default::default()
        };
        let (Mode::Full, Some((first, last))) = (self.mode, self.range) else {
            return Ok(l);
        };
        if !l.known && !self.allow_unknown {
            return Ok(l);
        }
        let now = chrono::Utc::now().timestamp();
        match f.kind {
            MessageType::Discover => {
                l.address = self
                    .store
                    .lease_offer(mac.into(), first, last, now, OFFER_HOLD)
                    .await?
            }
            MessageType::Request => {
                let want = match f.requested {
                    Some(ip) => Some(ip),
                    None => {
                        self.store
                            .lease_offer(mac.into(), first, last, now, OFFER_HOLD)
                            .await?
                    }
                };
                if let Some(ip) = want {
                    if self
                        .store
                        .lease_bind(mac.into(), ip, first, last, now, self.lease_time as i64)
                        .await?
                    {
                        l.address = Some(ip);
                    } else {
                        l.conflict = true;
                    }
                }
            }
            MessageType::Release => self.store.lease_release(mac.into()).await?,
            MessageType::Decline => {
                if let Some(ip) = f.requested {
                    self.store
                        .lease_decline(ip, now, self.lease_time as i64)
                        .await?;
                }
            }
            _ => {}
        }
        Ok(l)
    }

    fn build(&self, req: &Message, f: &Facts, plan: &Plan) -> Message {
        let mut m = Message::default();
        m.set_opcode(Opcode::BootReply)
            .set_htype(req.htype())
            .set_xid(req.xid())
            .set_flags(req.flags())
            .set_giaddr(req.giaddr())
            .set_chaddr(req.chaddr())
            .set_siaddr(self.net.ip);
        if let Some(ip) = plan.yiaddr {
            m.set_yiaddr(ip);
        }
        if plan.kind == MessageType::Ack && plan.yiaddr.is_none() && !req.ciaddr().is_unspecified()
        {
            m.set_ciaddr(req.ciaddr());
        }
        let o = m.opts_mut();
        o.insert(DhcpOption::MessageType(plan.kind));
        o.insert(DhcpOption::ServerIdentifier(self.net.ip));
        if plan.yiaddr.is_some() {
            o.insert(DhcpOption::AddressLeaseTime(self.lease_time));
            o.insert(DhcpOption::SubnetMask(self.net.netmask));
            if let Some(r) = self.router {
                o.insert(DhcpOption::Router(vec![r]));
            }
            if !self.dns.is_empty() {
                o.insert(DhcpOption::DomainNameServer(self.dns.clone()));
            }
        }
        if let Some(vc) = plan.vendor_class {
            o.insert(DhcpOption::ClassIdentifier(vc.as_bytes().to_vec()));
        }
        if let Some(boot) = &plan.boot {
            let file = match boot {
                Fetch::Tftp(name) => {
                    o.insert(DhcpOption::TFTPServerName(
                        self.net.ip.to_string().into_bytes(),
                    ));
                    name.to_string()
                }
                Fetch::Http(path) => format!("http://{}:{}{}", self.net.ip, self.http_port, path),
            };
            o.insert(DhcpOption::BootfileName(file.clone().into_bytes()));
            m.set_fname_str(&file);
            if self.mode == Mode::Proxy {
                // PXE discovery control 8: the boot file is right here, skip server discovery.
                m.opts_mut()
                    .insert(DhcpOption::VendorExtensions(vec![6, 1, 8, 255]));
            }
        }
        // PXE clients expect their machine UUID (option 97) echoed.
        if let Some(DhcpOption::ClientMachineIdentifier(id)) =
            req.opts().get(v4::OptionCode::ClientMachineIdentifier)
        {
            m.opts_mut()
                .insert(DhcpOption::ClientMachineIdentifier(id.clone()));
        }
        let _ = f;
        m
    }

    /// Where the reply goes: relays get it on 67; 4011 requests are answered in place;
    /// everything else is broadcast (the client has no address we could ARP for yet).
    fn destination(&self, req: &Message, from: SocketAddr, port: u16) -> SocketAddr {
        if !req.giaddr().is_unspecified() {
            return SocketAddr::V4(SocketAddrV4::new(req.giaddr(), 67));
        }
        if port == 4011 {
            return from;
        }
        if !req.ciaddr().is_unspecified() {
            return SocketAddr::V4(SocketAddrV4::new(req.ciaddr(), 68));
        }
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::BROADCAST, 68))
    }
}

#[cfg(test)]
mod fuzz {
    //! Mutation fuzzing of the whole packet path (decode → facts → lookup → decide →
    //! encode) against a real store: no input may panic it. Seeded, bounded, repeatable.

    use super::*;

    fn seeds() -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dhcp");
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| {
                let t = std::fs::read_to_string(e.path()).unwrap_or_default();
                let h: String = t.chars().filter(|c| c.is_ascii_hexdigit()).collect();
                (0..h.len() / 2)
                    .filter_map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).ok())
                    .collect()
            })
            .collect()
    }

    #[tokio::test]
    async fn mutated_packets_never_panic() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite"), 1000, 2).unwrap();
        let net = Net {
            iface: "test0".into(),
            ip: Ipv4Addr::new(10, 99, 0, 1),
            netmask: Ipv4Addr::new(255, 255, 255, 0),
        };
        let server = |mode| DhcpServer {
            store: store.clone(),
            net: net.clone(),
            mode,
            range: Some((Ipv4Addr::new(10, 99, 0, 100), Ipv4Addr::new(10, 99, 0, 110))),
            lease_time: 600,
            router: None,
            dns: vec![],
            allow_unknown: true,
            http_port: 8080,
        };
        let servers = [server(Mode::Full), server(Mode::Proxy)];
        let seeds = seeds();
        assert!(!seeds.is_empty());
        let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let from: SocketAddr = "10.99.0.50:68".parse().unwrap();
        let mut replies = 0;
        for i in 0..4000 {
            let mut p = seeds[(next() as usize) % seeds.len()].clone();
            match next() % 4 {
                0 => {
                    for _ in 0..(1 + next() % 8) {
                        let at = (next() as usize) % p.len().max(1);
                        if let Some(b) = p.get_mut(at) {
                            *b ^= 1 << (next() % 8);
                        }
                    }
                }
                1 => p.truncate((next() as usize) % (p.len() + 1)),
                2 => {
                    let at = 240.min(p.len());
                    for _ in 0..(next() % 64) {
                        p.insert(at, next() as u8);
                    }
                }
                _ => p = (0..(next() % 600)).map(|_| next() as u8).collect(),
            }
            if servers[i % 2].handle(&p, from, 67).await.is_some() {
                replies += 1;
            }
        }
        // Some mutants stay valid requests and must still be answered.
        assert!(replies > 0);
    }
}
