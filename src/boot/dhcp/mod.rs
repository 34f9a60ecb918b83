//! The DHCPv4 server: receive on the provisioning interface, decode, look the MAC up,
//! `decide`, build and send the reply. A bad packet is a logged drop; the loop never stops.
//! Ports: 67 (and 4011 for PXE ROMs asking the proxy again in proxy mode).
//!
//! Each socket has its own thread that receives, answers and sends, like dnsmasq: no thread
//! hop and no SQLite round trip on the packet path. The MAC lookup is the store's in-memory
//! port set (reloaded after port writes), and full-mode leases live in an in-memory table
//! (`leases.rs`) written to SQLite in group commits by a writer thread (`persist.rs`),
//! which also sends each ACK once its lease is durable: the packet thread hands the ACK
//! over and moves on.

pub mod decide;
pub mod drops;
pub mod leases;
pub mod options;
mod persist;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use dhcproto::v4::{self, DhcpOption, Message, MessageType, Opcode, OptionCode};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};
use tokio_util::sync::CancellationToken;

use decide::{Decision, Facts, Ignore, Lookup, Mode, Plan};
use drops::{lost, Lost};
use leases::{Leases, Offer, Request};
use options::Fetch;
use persist::{Deferred, Writer};

use super::{BootError, Net};
use crate::db::Store;

/// Seconds an offered address is held for the client's REQUEST.
const OFFER_HOLD: i64 = 60;
/// How long a packet may wait for the lease writer (empty reserve; `handle`'s ACKs);
/// longer and it is counted as dropped (`Lost::WriterTimeout`).
const WRITE_WAIT: Duration = Duration::from_secs(1);
/// The socket's receive queue: a rack's DISCOVERs arriving at once (a queued packet costs
/// 1–4 KiB) while the thread waits for the lease writer or the store.
const RECV_BUFFER: usize = 4 << 20;
/// How often the socket threads look at the cancellation token.
const POLL: Duration = Duration::from_millis(250);

pub struct DhcpServer {
    pub store: Store,
    pub net: Net,
    pub mode: Mode,
    pub range: Option<(Ipv4Addr, Ipv4Addr)>,
    pub lease_time: u32,
    pub router: Option<Ipv4Addr>,
    pub dns: Vec<Ipv4Addr>,
    /// Answer unknown MACs: discovery is on for this network (or the deprecated
    /// `[dhcp] allow_unknown_clients`).
    pub allow_unknown: bool,
    /// `[auto_discovery] max_boots_per_minute`: DISCOVERs from unknown MACs answered.
    pub unknown_limit: std::sync::Arc<crate::model::rate::PerMinute>,
    pub http_port: u16,
    /// Replies to enrolled machines go to their node history.
    pub events: Option<super::events::BootEvents>,
    /// With several members on one segment: whether a node is this member's to answer.
    pub owns: Option<crate::model::conductor::OwnsNode>,
}

/// A reply and, for an ACK that binds a lease, the lease write to wait for.
struct Answer {
    bytes: Vec<u8>,
    to: SocketAddr,
    after: Option<u64>,
}

/// A running server's state: the configuration and (full mode) the lease table.
pub struct Dhcp {
    cfg: DhcpServer,
    leases: Option<Writer>,
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
    s.set_read_timeout(Some(POLL))
        .map_err(|e| err("SO_RCVTIMEO", e))?;
    receive_buffer(&s, iface);
    s.bind(&SocketAddr::V4(addr).into())
        .map_err(|e| err("bind", e))?;
    Ok(s.into())
}

/// Make the receive queue hold a burst (`RECV_BUFFER`): past the sysctl cap
/// (`net.core.rmem_max`) if the process may (CAP_NET_ADMIN), else up to it.
fn receive_buffer(s: &socket2::Socket, iface: &str) {
    use std::os::fd::AsRawFd;
    let size = libc::c_int::try_from(RECV_BUFFER).unwrap_or(libc::c_int::MAX);
    // SAFETY: a valid socket and an int option value of the size given.
    let forced = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            std::ptr::addr_of!(size).cast(),
            std::mem::size_of_val(&size) as libc::socklen_t,
        )
    } == 0;
    if !forced {
        let _ = s.set_recv_buffer_size(RECV_BUFFER);
    }
    // Linux reports twice the size asked for (the bookkeeping overhead it adds).
    let got = s.recv_buffer_size().unwrap_or(0) / 2;
    if got < RECV_BUFFER {
        tracing::warn!(iface, bytes = got, wanted = RECV_BUFFER,
            "DHCP receive buffer is smaller than wanted (raise net.core.rmem_max): a burst that overflows it is dropped by the kernel (counted as socket_overflow)");
    }
}

impl DhcpServer {
    /// Load the lease table (full mode) and start its writer.
    pub fn open(self) -> Result<Dhcp, BootError> {
        drops::register();
        let leases = match (self.mode, self.range) {
            (Mode::Full, Some((first, last))) => {
                let (rows, clean) = self.store.lease_session_begin_blocking()?;
                let now = chrono::Utc::now().timestamp();
                let mut table = Leases::load(
                    first,
                    last,
                    OFFER_HOLD,
                    self.lease_time.into(),
                    &rows,
                    clean,
                    now,
                );
                if !clean {
                    tracing::warn!("DHCP: the last run did not stop cleanly; addresses reserved then are held back for one lease time");
                }
                // The first reserve batch is written before the first packet.
                table.prime(now);
                let first_batch: Vec<_> = table.writes.drain(..).collect();
                self.store.lease_apply_blocking(&first_batch)?;
                let ips: Vec<Ipv4Addr> = first_batch
                    .iter()
                    .filter_map(|w| match w {
                        crate::db::LeaseWrite::Reserve { ip } => Some(*ip),
                        _ => None,
                    })
                    .collect();
                table.reserved(&ips, true);
                Some(
                    Writer::start(self.store.clone(), table).map_err(|e| BootError::Bind {
                        what: "DHCP lease writer thread".into(),
                        source: e,
                    })?,
                )
            }
            _ => None,
        };
        Ok(Dhcp { cfg: self, leases })
    }

    /// Serve until cancelled. Returns the bound addresses and the socket threads.
    pub async fn start(
        self,
        cancel: CancellationToken,
    ) -> Result<(Vec<SocketAddr>, Vec<std::thread::JoinHandle<()>>), BootError> {
        let mut ports = vec![67u16];
        if self.mode == Mode::Proxy {
            ports.push(4011);
        }
        let me = tokio::task::spawn_blocking(move || self.open())
            .await
            .map_err(|e| BootError::Bind {
                what: "DHCP lease table".into(),
                source: std::io::Error::other(e.to_string()),
            })??;
        let me = Arc::new(me);
        let (mut bound, mut threads) = (vec![], vec![]);
        for port in ports {
            let addr = if port == 67 {
                SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)
            } else {
                SocketAddrV4::new(me.cfg.net.ip, port)
            };
            let sock = Arc::new(bind(&me.cfg.net.iface, addr)?);
            bound.push(SocketAddr::V4(addr));
            let (me, cancel) = (me.clone(), cancel.clone());
            let t = std::thread::Builder::new()
                .name(format!("dhcp-{port}"))
                .spawn(move || me.serve(&sock, port, &cancel))
                .map_err(|e| BootError::Bind {
                    what: format!("DHCP thread for {addr}"),
                    source: e,
                })?;
            threads.push(t);
        }
        Ok((bound, threads))
    }
}

impl Dhcp {
    /// One socket's loop: receive, answer, send, until cancelled.
    fn serve(&self, sock: &Arc<UdpSocket>, port: u16, cancel: &CancellationToken) {
        let mut buf = [0u8; 1500];
        let mut overflow = drops::Overflow::new(sock);
        let mut received = 0u32;
        while !cancel.is_cancelled() {
            let (len, from) = match sock.recv_from(&mut buf) {
                Ok(x) => x,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    overflow.check(sock, port);
                    continue;
                }
                Err(e) => {
                    lost(Lost::ReceiveFailed, 1, &format!("port {port}: {e}"));
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            };
            // What the kernel dropped for a full queue: looked at when idle and every so
            // often under load (one syscall).
            received = received.wrapping_add(1);
            if received.is_multiple_of(256) {
                overflow.check(sock, port);
            }
            let packet = buf.get(..len).unwrap_or_default();
            let Some(a) = self.answer(packet, from, port) else {
                continue;
            };
            match (a.after, &self.leases) {
                (Some(after), Some(w)) => w.send_after(
                    after,
                    Deferred {
                        bytes: a.bytes,
                        to: a.to,
                        sock: sock.clone(),
                    },
                ),
                _ => {
                    if let Err(e) = sock.send_to(&a.bytes, a.to) {
                        lost(Lost::SendFailed, 1, &format!("to {}: {e}", a.to));
                    }
                }
            }
        }
    }

    /// One packet in, maybe one reply out (bytes, destination), an ACK only once its lease
    /// is durable (waiting for it here). Never panics.
    pub fn handle(
        &self,
        packet: &[u8],
        from: SocketAddr,
        port: u16,
    ) -> Option<(Vec<u8>, SocketAddr)> {
        let a = self.answer(packet, from, port)?;
        if let (Some(after), Some(w)) = (a.after, &self.leases) {
            if let Err(why) = w.wait(after, WRITE_WAIT) {
                lost(why, 1, &format!("ACK to {}", a.to));
                return None;
            }
        }
        Some((a.bytes, a.to))
    }

    /// The reply to one packet, with the lease write it must wait for. Never panics.
    fn answer(&self, packet: &[u8], from: SocketAddr, port: u16) -> Option<Answer> {
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
                crate::metrics::dhcp_packet("unknown", "dropped", "undecodable");
                let why = format!("cannot decode: {e}");
                self.log(
                    from.to_string(),
                    "dropped",
                    "packet".into(),
                    Some(why),
                    None,
                );
                return None;
            }
            Err(_) => {
                tracing::debug!(from = %from, "DHCP packet dropped: malformed options");
                crate::metrics::dhcp_packet("unknown", "dropped", "malformed_options");
                let why = Some("malformed options".to_string());
                self.log(from.to_string(), "dropped", "packet".into(), why, None);
                return None;
            }
        };
        let hostname = match msg.opts().get(OptionCode::Hostname) {
            Some(DhcpOption::Hostname(h)) => Some(h.clone()),
            _ => None,
        };
        let facts = match decide::facts(&msg) {
            Ok(f) => f,
            Err(why) => {
                tracing::debug!(from = %from, reason = %why, "DHCP packet dropped");
                crate::metrics::dhcp_packet("unknown", "dropped", why.name());
                // The source address: `chaddr()` panics on a bad hardware address length.
                self.log(
                    from.to_string(),
                    "dropped",
                    "packet".into(),
                    Some(why.to_string()),
                    hostname,
                );
                return None;
            }
        };
        let (mac, kind) = (facts.mac, decide::kind_name(facts.kind));
        let (lookup, bound) = match self.lookup(&facts) {
            Ok(l) => l,
            Err(why) => {
                lost(why, 1, &format!("{:?} from {mac}", facts.kind));
                crate::metrics::dhcp_packet(kind, "dropped", why.name());
                self.log(
                    mac.to_string(),
                    "dropped",
                    kind.to_string(),
                    Some(why.to_string()),
                    hostname,
                );
                return None;
            }
        };
        let c = &self.cfg;
        match decide::decide(&facts, c.mode, &lookup, c.net.ip, c.allow_unknown) {
            Decision::Ignore(why) => {
                let handled = matches!(why, Ignore::Release | Ignore::Decline);
                let result = if handled { "handled" } else { "dropped" };
                crate::metrics::dhcp_packet(kind, result, why.name());
                self.log(
                    mac.to_string(),
                    result,
                    format!("{:?}", facts.kind),
                    Some(why.to_string()),
                    hostname,
                );
                if handled {
                    tracing::info!(mac = %mac, reason = %why, "DHCP");
                } else {
                    tracing::debug!(mac = %mac, kind = ?facts.kind, client = ?facts.client, reason = %why, "DHCP packet ignored");
                }
                None
            }
            Decision::Reply(plan) => {
                crate::metrics::dhcp_packet(kind, "answered", plan.reason);
                tracing::info!(mac = %mac, kind = ?facts.kind, client = ?facts.client, reply = ?plan.kind, ip = ?plan.yiaddr,
                    boot = ?plan.boot, reason = plan.reason, "DHCP reply");
                let ip = plan.yiaddr.map(|a| format!(" {a}")).unwrap_or_default();
                let exchange = format!("{:?} → {:?}{ip}", facts.kind, plan.kind);
                self.log(
                    mac.to_string(),
                    "answered",
                    format!("{exchange} ({:?})", facts.client),
                    None,
                    hostname,
                );
                // Enrolled machines only: nothing is formatted or sent for anyone else.
                if let Some(ev) = self.cfg.events.as_ref().filter(|_| lookup.known) {
                    let what = match &plan.boot {
                        Some(super::dhcp::options::Fetch::Tftp(f)) => {
                            format!(", boot file {f} (TFTP)")
                        }
                        Some(super::dhcp::options::Fetch::Http(p)) => {
                            format!(", boot URL path {p}")
                        }
                        None => String::new(),
                    };
                    ev.dhcp(
                        mac.to_string(),
                        plan.yiaddr.map(std::net::IpAddr::V4),
                        format!("DHCP {exchange} (client: {:?}{what})", facts.client),
                    );
                }
                let reply = self.build(&msg, &plan);
                let mut out = Vec::with_capacity(400);
                if let Err(e) = reply.encode(&mut Encoder::new(&mut out)) {
                    lost(
                        Lost::EncodeFailed,
                        1,
                        &format!("{:?} to {mac}: {e}", plan.kind),
                    );
                    return None;
                }
                Some(Answer {
                    bytes: out,
                    to: self.destination(&msg, from, port),
                    after: bound.filter(|_| plan.kind == MessageType::Ack),
                })
            }
        }
    }

    /// One line for the network page's recent events.
    fn log(
        &self,
        client: String,
        result: &'static str,
        text: String,
        reason: Option<String>,
        hostname: Option<String>,
    ) {
        let mut e = crate::model::netlog::NetEvent::new("dhcp", client, result, text);
        e.reason = reason;
        e.hostname = hostname;
        self.cfg.store.netlog().push(e);
    }

    /// What the store knows about this MAC, (full mode) its address, and the lease write
    /// an ACK must wait for; or why the packet cannot be answered.
    fn lookup(&self, f: &Facts) -> Result<(Lookup, Option<u64>), Lost> {
        let c = &self.cfg;
        let known = c.store.mac_known_blocking(&f.mac).map_err(|e| {
            tracing::warn!(mac = %f.mac, error = %e, "DHCP MAC lookup failed");
            Lost::LookupFailed
        })?;
        let mut l = Lookup {
            known,
            ..Default::default()
        };
        if let (true, Some(owns)) = (known, &c.owns) {
            // Another member's machine: its owner answers (no lease is touched here).
            if let Ok(Some((uuid, group))) = c.store.mac_node_blocking(&f.mac) {
                if !owns(&group, &uuid) {
                    l.owned_elsewhere = true;
                    return Ok((l, None));
                }
            }
        }
        if !l.known
            && c.allow_unknown
            && f.kind == MessageType::Discover
            && !c.unknown_limit.allow()
        {
            l.throttled = true;
            crate::metrics::discovery_refused("boot");
            tracing::warn!(mac = %f.mac, "discovery boot refused: [auto_discovery] max_boots_per_minute reached");
            return Ok((l, None));
        }
        let Some(w) = &self.leases else {
            return Ok((l, None));
        };
        if !l.known && !c.allow_unknown {
            return Ok((l, None));
        }
        let secs = i64::from(c.lease_time);
        // An empty reserve waits for the write that refills it (queued at or before `seq`,
        // so `wait(seq)` covers it), then looks again; a failed refill queues another.
        let deadline = std::time::Instant::now() + WRITE_WAIT;
        loop {
            let now = chrono::Utc::now().timestamp();
            let mut t = w.shared.table.lock().map_err(|_| Lost::TableUnavailable)?;
            let mut bound = false;
            let starved = match f.kind {
                MessageType::Discover => match t.offer(f.mac, now) {
                    Offer::Address(ip) => {
                        l.address = Some(ip);
                        false
                    }
                    Offer::Exhausted => false,
                    Offer::Wait => true,
                },
                MessageType::Request => match t.request(f.mac, f.requested, now, secs) {
                    Request::Bound(ip) => {
                        l.address = Some(ip);
                        bound = true;
                        false
                    }
                    Request::BoundDurable(ip) => {
                        let seq = w.queue(&mut t, true);
                        drop(t);
                        l.address = Some(ip);
                        return Ok((l, Some(seq)));
                    }
                    Request::Conflict => {
                        l.conflict = true;
                        false
                    }
                    Request::Exhausted => false,
                    Request::Wait => true,
                },
                MessageType::Release => {
                    t.release(f.mac);
                    false
                }
                MessageType::Decline => {
                    if let Some(ip) = f.requested {
                        t.decline(ip, now, secs);
                    }
                    false
                }
                _ => false,
            };
            let urgent = t.starved();
            let seq = w.queue(&mut t, urgent);
            drop(t);
            if !starved {
                return Ok((l, bound.then_some(seq)));
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match w.wait(seq, left) {
                Ok(()) | Err(Lost::NotSaved) if !left.is_zero() => continue,
                Ok(()) | Err(Lost::NotSaved) => return Err(Lost::WriterTimeout),
                Err(e) => return Err(e),
            }
        }
    }

    fn build(&self, req: &Message, plan: &Plan) -> Message {
        let c = &self.cfg;
        let mut m = Message::default();
        m.set_opcode(Opcode::BootReply)
            .set_htype(req.htype())
            .set_xid(req.xid())
            .set_flags(req.flags())
            .set_giaddr(req.giaddr())
            .set_chaddr(req.chaddr())
            .set_siaddr(c.net.ip);
        if let Some(ip) = plan.yiaddr {
            m.set_yiaddr(ip);
        }
        if plan.kind == MessageType::Ack && plan.yiaddr.is_none() && !req.ciaddr().is_unspecified()
        {
            m.set_ciaddr(req.ciaddr());
        }
        let o = m.opts_mut();
        o.insert(DhcpOption::MessageType(plan.kind));
        o.insert(DhcpOption::ServerIdentifier(c.net.ip));
        if plan.yiaddr.is_some() {
            o.insert(DhcpOption::AddressLeaseTime(c.lease_time));
            o.insert(DhcpOption::SubnetMask(c.net.netmask));
            if let Some(r) = c.router {
                o.insert(DhcpOption::Router(vec![r]));
            }
            if !c.dns.is_empty() {
                o.insert(DhcpOption::DomainNameServer(c.dns.clone()));
            }
        }
        if let Some(vc) = plan.vendor_class {
            o.insert(DhcpOption::ClassIdentifier(vc.as_bytes().to_vec()));
        }
        if let Some(boot) = &plan.boot {
            let file = match boot {
                Fetch::Tftp(name) => {
                    o.insert(DhcpOption::TFTPServerName(
                        c.net.ip.to_string().into_bytes(),
                    ));
                    name.to_string()
                }
                Fetch::Http(path) => format!("http://{}:{}{}", c.net.ip, c.http_port, path),
            };
            o.insert(DhcpOption::BootfileName(file.clone().into_bytes()));
            m.set_fname_str(&file);
            if c.mode == Mode::Proxy {
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
            unknown_limit: Default::default(),
            http_port: 8080,
            events: None,
            owns: None,
        };
        let servers = [
            server(Mode::Full).open().unwrap(),
            server(Mode::Proxy).open().unwrap(),
        ];
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
            if servers[i % 2].handle(&p, from, 67).is_some() {
                replies += 1;
            }
        }
        // Some mutants stay valid requests and must still be answered.
        assert!(replies > 0);
    }
}

#[cfg(test)]
mod tests;
