//! A DHCP storm against the real binary in full mode: 20,000 DORA exchanges from unique
//! MACs at 1, 8, 32 and 128 in flight, from a fast client (dhcproto, one UDP socket) in a
//! client namespace joined to the server's namespace by a veth. Not one DISCOVER or
//! REQUEST may go unanswered: the client counts its retransmits (zero allowed) and the
//! server's drop counter must stay at zero. Needs root and `bash tests/lab/setup.sh`.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant};

use dhcproto::v4::{DhcpOption, Flags, Message, MessageType, Opcode, OptionCode};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};

use crate::harness::{sh, Ironbox, Netns};
use crate::metrics::sample;

/// (in flight, exchanges): 20,000 in all.
/// One in flight is slow (each ACK waits for its lease's commit), so it gets the fewest.
const RUNS: [(usize, usize); 4] = [(1, 500), (8, 3_500), (32, 6_000), (128, 10_000)];
/// A client that heard nothing for this long sends again. A PXE ROM waits 4 s; issue #19's
/// load kit 1 s. 2 s: a drop is never answered whatever the wait, and a CI machine's
/// fsync (an ACK waits for its lease's commit) may stall past 1 s without any bug.
const RETRANSMIT: Duration = Duration::from_secs(2);
/// Give up on a run that makes no progress for this long.
const STUCK: Duration = Duration::from_secs(30);

/// The client's end: `vcl1` moved into a namespace of its own with 10.99.0.2/16, so a
/// plain UDP socket can broadcast (in the server's namespace its source would be local).
struct ClientNs {
    name: String,
}

impl ClientNs {
    fn up(server: &Netns) -> ClientNs {
        let name = format!("{}c", server.name);
        let run = |args: &[&str]| {
            let (ok, out) = sh(Command::new("ip").args(args));
            assert!(ok, "ip {args:?}: {out}");
        };
        let c = ClientNs { name };
        run(&["netns", "add", &c.name]);
        run(&["-n", &server.name, "link", "set", "vcl1", "netns", &c.name]);
        run(&["-n", &c.name, "addr", "add", "10.99.0.2/16", "dev", "vcl1"]);
        run(&["-n", &c.name, "link", "set", "vcl1", "up"]);
        // The server's subnet grows to a /16, so 20,000 unique MACs each get an address.
        run(&[
            "-n",
            &server.name,
            "addr",
            "del",
            "10.99.0.1/24",
            "dev",
            "br0",
        ]);
        run(&[
            "-n",
            &server.name,
            "addr",
            "add",
            "10.99.0.1/16",
            "dev",
            "br0",
        ]);
        c
    }

    /// A UDP socket on 0.0.0.0:68 inside the client namespace (made on a thread that
    /// joins it; the socket stays in it).
    fn socket(&self) -> UdpSocket {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let ns = std::fs::File::open(&path).unwrap();
            // SAFETY: a valid namespace fd; setns only moves this thread.
            let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            let s = socket2::Socket::new(
                socket2::Domain::IPV4,
                socket2::Type::DGRAM,
                Some(socket2::Protocol::UDP),
            )
            .unwrap();
            s.set_reuse_address(true).unwrap();
            s.set_broadcast(true).unwrap();
            s.bind_device(Some(b"vcl1")).unwrap();
            // Room for every reply in flight: a client-side drop would look like a retransmit.
            s.set_recv_buffer_size(8 << 20).unwrap();
            s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, 68)).into())
                .unwrap();
            let s: UdpSocket = s.into();
            s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
            s
        })
        .join()
        .unwrap()
    }
}

impl Drop for ClientNs {
    fn drop(&mut self) {
        let _ = sh(Command::new("ip").args(["netns", "del", &self.name]));
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Stage {
    Discover,
    Request(Ipv4Addr),
}

struct Slot {
    mac: [u8; 6],
    xid: u32,
    stage: Stage,
    sent: Instant,
    began: Instant,
}

#[derive(Default, Debug)]
struct Tally {
    acks: usize,
    discovers: usize,
    retransmits: usize,
    naks: usize,
    /// Replies for an exchange that had already moved on (answers to a retransmit's
    /// original, or duplicates).
    stale: usize,
    /// The slowest exchange, DISCOVER sent to ACK received.
    slowest: Duration,
}

fn packet(kind: MessageType, mac: [u8; 6], xid: u32, requested: Option<Ipv4Addr>) -> Vec<u8> {
    let mut m = Message::default();
    m.set_opcode(Opcode::BootRequest)
        .set_xid(xid)
        .set_flags(Flags::default().set_broadcast())
        .set_chaddr(&mac);
    m.opts_mut().insert(DhcpOption::MessageType(kind));
    if let Some(ip) = requested {
        m.opts_mut().insert(DhcpOption::RequestedIpAddress(ip));
        m.opts_mut()
            .insert(DhcpOption::ServerIdentifier(Ipv4Addr::new(10, 99, 0, 1)));
    }
    let mut out = vec![];
    m.encode(&mut Encoder::new(&mut out)).unwrap();
    out
}

/// `total` DORA exchanges, `in_flight` at a time, MACs numbered from `first`.
fn storm(sock: &UdpSocket, in_flight: usize, total: usize, first: u32) -> Tally {
    let server = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::BROADCAST, 67));
    let mut t = Tally::default();
    let (mut started, mut slots, mut by_xid) = (0usize, Vec::<Slot>::new(), HashMap::new());
    let send = |s: &Slot| {
        let (kind, ip) = match s.stage {
            Stage::Discover => (MessageType::Discover, None),
            Stage::Request(ip) => (MessageType::Request, Some(ip)),
        };
        sock.send_to(&packet(kind, s.mac, s.xid, ip), server)
            .unwrap();
    };
    let begin = |started: &mut usize, t: &mut Tally| {
        let n = first + *started as u32;
        *started += 1;
        t.discovers += 1;
        let [a, b, c, d] = n.to_be_bytes();
        let s = Slot {
            mac: [0x02, 0x5a, a, b, c, d],
            xid: n.wrapping_mul(2_654_435_761),
            stage: Stage::Discover,
            sent: Instant::now(),
            began: Instant::now(),
        };
        send(&s);
        s
    };
    while slots.len() < in_flight && started < total {
        let s = begin(&mut started, &mut t);
        by_xid.insert(s.xid, slots.len());
        slots.push(s);
    }
    let mut buf = [0u8; 1500];
    let mut progress = Instant::now();
    while t.acks < total {
        assert!(
            progress.elapsed() < STUCK,
            "no progress for {STUCK:?}: {t:?}"
        );
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            let Ok(m) = Message::decode(&mut Decoder::new(&buf[..n])) else {
                continue;
            };
            let kind = match m.opts().get(OptionCode::MessageType) {
                Some(DhcpOption::MessageType(k)) => *k,
                _ => continue,
            };
            let Some(&i) = by_xid.get(&m.xid()) else {
                t.stale += 1;
                continue;
            };
            let slot = &mut slots[i];
            assert_eq!(&m.chaddr()[..6], &slot.mac[..], "reply for another MAC");
            match (kind, slot.stage) {
                (MessageType::Offer, Stage::Discover) => {
                    slot.stage = Stage::Request(m.yiaddr());
                    slot.sent = Instant::now();
                    send(slot);
                }
                (MessageType::Ack, Stage::Request(ip)) => {
                    assert_eq!(m.yiaddr(), ip, "ACK for another address");
                    t.acks += 1;
                    t.slowest = t.slowest.max(slot.began.elapsed());
                    progress = Instant::now();
                    by_xid.remove(&slot.xid);
                    if started < total {
                        *slot = begin(&mut started, &mut t);
                        by_xid.insert(slot.xid, i);
                    } else {
                        slot.xid = 0;
                    }
                }
                (MessageType::Nak, _) => t.naks += 1,
                _ => t.stale += 1,
            }
        }
        for s in slots.iter_mut().filter(|s| s.xid != 0) {
            if s.sent.elapsed() >= RETRANSMIT {
                t.retransmits += 1;
                s.sent = Instant::now();
                send(s);
            }
        }
    }
    t
}

#[test]
fn twenty_thousand_dora_exchanges_without_a_retransmit_or_a_drop() {
    let ns = Netns::up(0);
    let client = ClientNs::up(&ns);
    let ib = Ironbox::start_in_netns(
        &ns.name,
        "[dhcp]\ninterface = \"br0\"\nmode = \"full\"\nrange_start = \"10.99.1.0\"\nrange_end = \"10.99.255.254\"\nlease_time = 3600\nallow_unknown_clients = true\n[auto_discovery]\nmax_boots_per_minute = 0\n",
    );
    let sock = client.socket();
    let (mut first, mut total) = (1u32, 0usize);
    let mut retransmits = 0;
    for (in_flight, n) in RUNS {
        let began = Instant::now();
        let t = storm(&sock, in_flight, n, first);
        eprintln!(
            "{in_flight:>3} in flight: {n} DORA in {:.2} s ({:.0}/s), {t:?}",
            began.elapsed().as_secs_f64(),
            n as f64 / began.elapsed().as_secs_f64()
        );
        assert_eq!(t.naks, 0, "NAKs at {in_flight} in flight: {t:?}");
        retransmits += t.retransmits;
        first += n as u32;
        total += n;
    }
    let r = ib.req("GET", "/metrics", None, None);
    assert_eq!(r.status, 200, "{}", r.body);
    let text = r.body.as_str().unwrap_or_default().to_string();
    let drops: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("ironbox_dhcp_drops_total{"))
        .collect();
    assert!(drops.len() >= 9, "every drop reason is exported: {text}");
    for l in &drops {
        assert!(l.ends_with(" 0"), "the server dropped packets: {l}");
    }
    let dropped: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("ironbox_dhcp_packets_total{") && l.contains("\"dropped\""))
        .collect();
    assert!(dropped.is_empty(), "packets dropped: {dropped:?}");
    assert_eq!(retransmits, 0, "client retransmits");
    let answered = |kind, reason| {
        sample(
            &text,
            "ironbox_dhcp_packets_total",
            &[
                ("message_type", kind),
                ("result", "answered"),
                ("reason", reason),
            ],
        )
        .unwrap_or(0.0)
    };
    assert_eq!(answered("discover", "address offered"), total as f64);
    assert_eq!(answered("request", "lease granted"), total as f64);
    assert!(total >= 20_000);
}
