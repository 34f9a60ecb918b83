//! Power loss under load loses nothing acknowledged. A QEMU machine (TCG, like the rest of
//! the lab) boots a ramdisk holding the real `ironbox` (`ironbox ramdisk build` plus an
//! init of this test's) which mounts an ext4 disk and serves the API and full-mode DHCP
//! from it, on a network namespace the test made. The disk is an NBD export served by
//! this test that behaves like a drive with a volatile write cache: a write is durable
//! only once a FLUSH (or its own FUA flag) covered it. The test creates nodes and ports
//! over the API and runs DHCP DORAs from the namespace, recording every answer it got,
//! then at a random moment SIGKILLs QEMU (the guest's page cache is gone) and keeps the
//! durable disk plus a random half of the unflushed writes (the drive wrote some of its
//! cache before dying). The resulting image is fsck'd, the database and its WAL copied out
//! with debugfs, opened with SQLite (replaying the WAL), and must pass `PRAGMA
//! integrity_check` and hold every acknowledged node, port and lease. The seed of the
//! random choices is printed; `POWERLOSS_SEED` repeats it. Needs root, e2fsprogs and
//! tests/lab/setup.sh; about a minute (tests/lab/README.md).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dhcproto::v4::{self, DhcpOption, Message, MessageType, Opcode};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};
use serde_json::{json, Value};

use crate::harness::{bin, lab, sh, wait_until, Netns};

const DISK_MIB: usize = 64;
const VM_IP: &str = "10.99.0.2";

// ---- the disk: an NBD server with a volatile write cache ---------------------------------

/// What the guest sees (`live`), what would survive a power cut (`durable`), and the
/// writes in between, in order (`true` = FUA: durable by itself).
struct Disk {
    live: Vec<u8>,
    durable: Vec<u8>,
    unflushed: Vec<(usize, Vec<u8>, bool)>,
    writes: u64,
    flushes: u64,
}

impl Disk {
    fn flush(&mut self) {
        for (off, data, _) in self.unflushed.drain(..) {
            self.durable[off..off + data.len()].copy_from_slice(&data);
        }
        self.flushes += 1;
    }

    /// The platters after the power cut: the durable image plus the FUA writes and a
    /// random subset of the other unflushed ones, applied in order. (kept, dropped).
    fn cut(&mut self, rng: &mut impl FnMut() -> u64) -> (Vec<u8>, usize, usize) {
        let mut img = self.durable.clone();
        let (mut kept, mut dropped) = (0, 0);
        for (off, data, fua) in &self.unflushed {
            if *fua || rng() & 1 == 0 {
                img[*off..*off + data.len()].copy_from_slice(data);
                kept += 1;
            } else {
                dropped += 1;
            }
        }
        (img, kept, dropped)
    }
}

fn read_n(s: &mut impl Read, n: usize) -> std::io::Result<Vec<u8>> {
    let mut b = vec![0; n];
    s.read_exact(&mut b)?;
    Ok(b)
}

fn be64(b: &[u8]) -> u64 {
    u64::from_be_bytes(b[..8].try_into().unwrap())
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes(b[..4].try_into().unwrap())
}

/// Serve one NBD client (fixed newstyle, simple replies) until it disconnects or dies.
fn nbd_serve(listener: UnixListener, disk: Arc<Mutex<Disk>>) -> std::io::Result<()> {
    const IHAVEOPT: u64 = 0x4948_4156_454F_5054;
    const REPLY_MAGIC: u64 = 0x0003_e889_0455_65a9;
    // HAS_FLAGS | SEND_FLUSH | SEND_FUA
    const TFLAGS: u16 = 1 | 4 | 8;
    let (mut s, _) = listener.accept()?;
    let size = disk.lock().unwrap().live.len() as u64;
    s.write_all(b"NBDMAGIC")?;
    s.write_all(&IHAVEOPT.to_be_bytes())?;
    s.write_all(&3u16.to_be_bytes())?; // FIXED_NEWSTYLE | NO_ZEROES
    let client_flags = be32(&read_n(&mut s, 4)?);
    let reply = |s: &mut std::os::unix::net::UnixStream, opt: u32, kind: u32, data: &[u8]| {
        let mut m = REPLY_MAGIC.to_be_bytes().to_vec();
        m.extend(opt.to_be_bytes());
        m.extend(kind.to_be_bytes());
        m.extend((data.len() as u32).to_be_bytes());
        m.extend(data);
        s.write_all(&m)
    };
    loop {
        let h = read_n(&mut s, 16)?;
        assert_eq!(be64(&h), IHAVEOPT, "NBD client sent a bad option");
        let (opt, len) = (be32(&h[8..]), be32(&h[12..]) as usize);
        read_n(&mut s, len)?;
        match opt {
            // EXPORT_NAME: no reply header; transmission follows.
            1 => {
                s.write_all(&size.to_be_bytes())?;
                s.write_all(&TFLAGS.to_be_bytes())?;
                if client_flags & 2 == 0 {
                    s.write_all(&[0; 124])?;
                }
                break;
            }
            // INFO / GO: NBD_INFO_EXPORT, then ACK (GO then starts transmission).
            6 | 7 => {
                let mut info = 0u16.to_be_bytes().to_vec();
                info.extend(size.to_be_bytes());
                info.extend(TFLAGS.to_be_bytes());
                reply(&mut s, opt, 3, &info)?;
                reply(&mut s, opt, 1, &[])?;
                if opt == 7 {
                    break;
                }
            }
            2 => {
                reply(&mut s, opt, 1, &[])?;
                return Ok(());
            }
            _ => reply(&mut s, opt, 0x8000_0001, &[])?, // ERR_UNSUP
        }
    }
    loop {
        let h = read_n(&mut s, 28)?;
        assert_eq!(be32(&h), 0x2560_9513, "NBD client sent a bad request");
        let flags = u16::from_be_bytes([h[4], h[5]]);
        let kind = u16::from_be_bytes([h[6], h[7]]);
        let handle = &h[8..16];
        let (off, len) = (be64(&h[16..]) as usize, be32(&h[24..]) as usize);
        let mut out = 0x6744_6698u32.to_be_bytes().to_vec();
        let in_range = off.checked_add(len).is_some_and(|end| end as u64 <= size);
        let err: u32 = if in_range || kind == 2 || kind == 3 {
            0
        } else {
            22
        };
        out.extend(err.to_be_bytes());
        out.extend(handle);
        match kind {
            0 if err == 0 => out.extend(&disk.lock().unwrap().live[off..off + len]),
            1 => {
                let data = read_n(&mut s, len)?;
                if err == 0 {
                    let mut d = disk.lock().unwrap();
                    d.live[off..off + len].copy_from_slice(&data);
                    d.unflushed.push((off, data, flags & 1 != 0));
                    d.writes += 1;
                }
            }
            2 => return Ok(()),
            3 => disk.lock().unwrap().flush(),
            _ => {}
        }
        s.write_all(&out)?;
    }
}

// ---- the machine ---------------------------------------------------------------------

/// The VM's init: modules, the disk on /data, a fixed address, `ironbox serve`.
const INIT: &str = r#"#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp /run /data
mount -t tmpfs tmpfs /tmp
exec </dev/console >/dev/console 2>&1
dmesg -n 1
off() { echo "PL-FAIL: $*"; poweroff -f; sleep 30; }
for m in $(cat /etc/modules); do insmod "/lib/modules/$m.ko" 2>/dev/null; done
i=0
while { [ ! -b /dev/vda ] || [ ! -e /sys/class/net/eth0 ]; } && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
mount -t ext4 /dev/vda /data || off "mount /dev/vda"
ip link set lo up
ip addr add 10.99.0.2/16 dev eth0 || off "no eth0"
ip link set eth0 up
echo "PL-BOOTED $(cut -d' ' -f1 /proc/uptime)"
RUST_LOG=warn /bin/ironbox serve --config /etc/ironic.toml
off "ironbox exited: $?"
"#;

const CONFIG: &str = r#"[DEFAULT]
state_path = "/data/ironbox"
host = "powerloss"
[api]
host_ip = "0.0.0.0"
port = 6385
allow_noauth_on_public = true
[dhcp]
interface = "eth0"
mode = "full"
range_start = "10.99.1.1"
range_end = "10.99.15.254"
lease_time = 3600
allow_unknown_clients = true
"#;

/// The ironbox ramdisk with this test's init and config appended (a later cpio archive
/// in the same initramfs overrides files of an earlier one).
fn ramdisk(dir: &Path, labdir: &Path) -> PathBuf {
    let out = dir.join("rd");
    let (ok, text) = sh(Command::new(bin())
        .args(["ramdisk", "build", "--kernel"])
        .arg(labdir.join("kernel/vmlinuz"))
        .arg("--modules")
        .arg(labdir.join("kernel/modules"))
        .arg("--out")
        .arg(&out));
    assert!(ok, "ironbox ramdisk build: {text}");
    let mut extra = vec![];
    {
        let gz = flate2::write::GzEncoder::new(&mut extra, flate2::Compression::fast());
        let mut c = ironbox::agent::ramdisk::Cpio::new(gz);
        c.file("init", 0o755, INIT.as_bytes()).unwrap();
        c.file("etc/ironic.toml", 0o644, CONFIG.as_bytes()).unwrap();
        c.finish().unwrap().finish().unwrap();
    }
    let path = out.join("ironbox-agent.initramfs");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(&extra).unwrap();
    path
}

struct Vm(Child);

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Enter network namespace `ns` (this thread only: sockets it opens live there).
fn enter(ns: &str) {
    let f = std::fs::File::open(format!("/run/netns/{ns}")).expect("netns file");
    assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
}

// ---- the load ------------------------------------------------------------------------

#[derive(Default)]
struct Acked {
    nodes: Vec<String>,
    /// (uuid, address)
    ports: Vec<(String, String)>,
    /// (mac, ip)
    leases: Vec<(String, String)>,
}

fn http(
    agent: &ureq::Agent,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Option<(u16, Value)> {
    let r = agent
        .request(method, &format!("http://{VM_IP}:6385{path}"))
        .set("X-OpenStack-Ironic-API-Version", "latest");
    let res = match body {
        Some(b) => r.send_json(b),
        None => r.call(),
    };
    let resp = match res {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(_) => return None,
    };
    let status = resp.status();
    Some((status, resp.into_json().unwrap_or(Value::Null)))
}

/// Create nodes, each with a port, until `stop`; record what was answered 201.
fn api_load(ns: String, id: u64, stop: Arc<AtomicBool>, acked: Arc<Mutex<Acked>>) {
    enter(&ns);
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(5))
        .build();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let Some((201, node)) = http(
            &agent,
            "POST",
            "/v1/nodes",
            Some(json!({"driver": "fake-hardware", "name": format!("pl-{id}-{i}")})),
        ) else {
            continue;
        };
        let uuid = node["uuid"].as_str().unwrap().to_string();
        acked.lock().unwrap().nodes.push(uuid.clone());
        let mac = format!(
            "52:54:{id:02x}:{:02x}:{:02x}:{:02x}",
            (i >> 16) & 255,
            (i >> 8) & 255,
            i & 255
        );
        if let Some((201, port)) = http(
            &agent,
            "POST",
            "/v1/ports",
            Some(json!({"address": mac, "node_uuid": uuid})),
        ) {
            let p = port["uuid"].as_str().unwrap().to_string();
            acked.lock().unwrap().ports.push((p, mac));
        }
    }
}

fn dhcp_packet(
    kind: MessageType,
    xid: u32,
    mac: &[u8; 6],
    req: Option<(Ipv4Addr, Ipv4Addr)>,
) -> Vec<u8> {
    let mut m = Message::default();
    m.set_opcode(Opcode::BootRequest)
        .set_xid(xid)
        .set_flags(v4::Flags::default().set_broadcast())
        .set_chaddr(mac);
    m.opts_mut().insert(DhcpOption::MessageType(kind));
    if let Some((ip, server)) = req {
        m.opts_mut().insert(DhcpOption::RequestedIpAddress(ip));
        m.opts_mut().insert(DhcpOption::ServerIdentifier(server));
    }
    let mut out = vec![];
    m.encode(&mut Encoder::new(&mut out)).unwrap();
    out
}

/// The reply of type `want` to `xid`, if one comes within a second: (yiaddr, server).
fn dhcp_wait(sock: &UdpSocket, xid: u32, want: MessageType) -> Option<(Ipv4Addr, Ipv4Addr)> {
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut buf = [0u8; 1500];
    while Instant::now() < deadline {
        let Ok((n, _)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let Ok(m) = Message::decode(&mut Decoder::new(&buf[..n])) else {
            continue;
        };
        if m.xid() != xid || m.opcode() != Opcode::BootReply {
            continue;
        }
        let server = match m.opts().get(v4::OptionCode::ServerIdentifier) {
            Some(DhcpOption::ServerIdentifier(s)) => *s,
            _ => Ipv4Addr::UNSPECIFIED,
        };
        match m.opts().get(v4::OptionCode::MessageType) {
            Some(DhcpOption::MessageType(t)) if *t == want => return Some((m.yiaddr(), server)),
            Some(DhcpOption::MessageType(_)) => return None,
            _ => continue,
        }
    }
    None
}

/// DORA for new MACs until `stop`; record every ACK.
fn dhcp_load(ns: String, id: u8, stop: Arc<AtomicBool>, acked: Arc<Mutex<Acked>>) {
    enter(&ns);
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    s.set_reuse_address(true).unwrap();
    s.set_broadcast(true).unwrap();
    s.bind_device(Some(b"vcl1")).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    s.bind(&SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68)).into())
        .unwrap();
    let sock: UdpSocket = s.into();
    let to = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::BROADCAST, 67));
    let mut i = 0u32;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let mac = [0x02, 0xd0, id, (i >> 16) as u8, (i >> 8) as u8, i as u8];
        let xid = (u32::from(id) << 24) | i;
        let _ = sock.send_to(&dhcp_packet(MessageType::Discover, xid, &mac, None), to);
        let Some((ip, server)) = dhcp_wait(&sock, xid, MessageType::Offer) else {
            continue;
        };
        let _ = sock.send_to(
            &dhcp_packet(MessageType::Request, xid, &mac, Some((ip, server))),
            to,
        );
        if let Some((got, _)) = dhcp_wait(&sock, xid, MessageType::Ack) {
            let mac = mac
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":");
            acked.lock().unwrap().leases.push((mac, got.to_string()));
        }
    }
}

// ---- the test ------------------------------------------------------------------------

#[test]
fn power_cut_under_load_loses_nothing_acknowledged() {
    let started = Instant::now();
    let (ok, out) = sh(Command::new("bash").arg(lab("setup.sh")));
    assert!(ok, "tests/lab/setup.sh failed: {out}");
    let labdir = PathBuf::from(
        std::env::var("IRONBOX_LAB_DIR").unwrap_or_else(|_| "/tmp/ironbox-lab".into()),
    );
    let dir = tempfile::Builder::new()
        .prefix("ironbox-powerloss-")
        .tempdir()
        .unwrap();
    let d = dir.path();
    let seed = std::env::var("POWERLOSS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    let mut state = seed;
    let mut rng = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    eprintln!("powerloss: seed {seed} (POWERLOSS_SEED={seed} repeats this run's choices)");

    // The disk: ext4 made here, held by the NBD server.
    let img = d.join("disk.img");
    std::fs::write(&img, vec![0u8; DISK_MIB << 20]).unwrap();
    let (ok, out) = sh(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&img));
    assert!(ok, "mkfs.ext4: {out}");
    let fresh = std::fs::read(&img).unwrap();
    let disk = Arc::new(Mutex::new(Disk {
        live: fresh.clone(),
        durable: fresh,
        unflushed: vec![],
        writes: 0,
        flushes: 0,
    }));
    let sock_path = d.join("nbd.sock");
    let listener = UnixListener::bind(&sock_path).unwrap();
    let nbd = {
        let disk = disk.clone();
        std::thread::spawn(move || nbd_serve(listener, disk))
    };

    let t = Instant::now();
    let initrd = ramdisk(d, &labdir);
    eprintln!(
        "powerloss: ramdisk built in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let ns = Netns::up(1);
    let serial = d.join("serial.log");
    let t = Instant::now();
    let mut vm = Vm(Command::new("ip")
        .args(["netns", "exec", &ns.name, "qemu-system-x86_64"])
        // TCG, as in the rest of the lab: nested KVM here hangs the guest.
        .args(["-accel", "tcg"])
        .args(["-machine", "q35", "-m", "768", "-smp", "2"])
        .args([
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-no-reboot",
        ])
        .arg("-kernel")
        .arg(labdir.join("kernel/vmlinuz"))
        .arg("-initrd")
        .arg(&initrd)
        .args(["-append", "console=ttyS0,115200n8 panic=-1 quiet"])
        .arg("-serial")
        .arg(format!("file:{}", serial.display()))
        .arg("-drive")
        .arg(format!(
            "file=nbd+unix:///?socket={},format=raw,if=none,id=d0,cache=writeback",
            sock_path.display()
        ))
        .args(["-device", "virtio-blk-pci,drive=d0"])
        .args(["-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no"])
        .args(["-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(d.join("qemu.log")).unwrap())
        .spawn()
        .expect("qemu-system-x86_64"));
    let log = || {
        format!(
            "serial:\n{}\nqemu:\n{}",
            std::fs::read_to_string(&serial).unwrap_or_default(),
            std::fs::read_to_string(d.join("qemu.log")).unwrap_or_default()
        )
    };

    // Up when the API answers from inside the namespace (or QEMU is gone: not up).
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let ns = ns.name.clone();
        std::thread::spawn(move || {
            enter(&ns);
            let agent = ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(2))
                .build();
            let up = wait_until(Duration::from_secs(240), || {
                matches!(http(&agent, "GET", "/v1", None), Some((200, _))).then_some(())
            });
            let _ = tx.send(up.is_some());
        });
    }
    let up = wait_until(Duration::from_secs(250), || {
        if let Ok(up) = rx.try_recv() {
            return Some(up);
        }
        vm.0.try_wait().ok().flatten().map(|_| false)
    });
    assert!(
        up == Some(true),
        "the VM's ironbox never answered\n{}",
        log()
    );
    eprintln!(
        "powerloss: VM up (TCG) in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut load = vec![];
    for id in 0..2 {
        let (ns, stop, acked) = (ns.name.clone(), stop.clone(), acked.clone());
        load.push(std::thread::spawn(move || api_load(ns, id, stop, acked)));
    }
    for id in 0..2u8 {
        let (ns, stop, acked) = (ns.name.clone(), stop.clone(), acked.clone());
        load.push(std::thread::spawn(move || dhcp_load(ns, id, stop, acked)));
    }
    // The cut: at a random moment within 3 s once each kind of load has been answered a
    // few times (a loaded CI machine is slow under TCG).
    let load_start = Instant::now();
    let enough = wait_until(Duration::from_secs(120), || {
        let a = acked.lock().unwrap();
        (a.nodes.len() >= 5 && a.ports.len() >= 5 && a.leases.len() >= 5).then_some(())
    });
    std::thread::sleep(Duration::from_millis(rng() % 3000));
    let after = load_start.elapsed();
    vm.0.kill().unwrap();
    vm.0.wait().unwrap();
    let (image, kept, dropped) = disk.lock().unwrap().cut(&mut rng);
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.join().unwrap();
    }
    let _ = nbd.join();
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let (writes, flushes) = {
        let d = disk.lock().unwrap();
        (d.writes, d.flushes)
    };
    eprintln!(
        "powerloss: power cut {:.1} s into the load: {} nodes, {} ports, {} leases acknowledged; \
         disk saw {writes} writes, {flushes} flushes; of the unflushed writes {kept} kept, {dropped} lost",
        after.as_secs_f64(),
        acked.nodes.len(),
        acked.ports.len(),
        acked.leases.len()
    );
    assert!(
        enough.is_some(),
        "too little load to judge: {} nodes, {} ports, {} leases\n{}",
        acked.nodes.len(),
        acked.ports.len(),
        acked.leases.len(),
        log()
    );

    // What the stick holds: fsck (replays ext4's journal), then copy the database out.
    std::fs::write(&img, &image).unwrap();
    let (_, fsck) = sh(Command::new("e2fsck").args(["-f", "-y"]).arg(&img));
    let status = Command::new("e2fsck")
        .args(["-f", "-n"])
        .arg(&img)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "ext4 not clean after fsck:\n{fsck}");
    let db = d.join("db");
    std::fs::create_dir(&db).unwrap();
    for f in ["ironbox.sqlite", "ironbox.sqlite-wal"] {
        let (ok, out) = sh(Command::new("debugfs")
            .arg("-R")
            .arg(format!("dump /ironbox/{f} {}", db.join(f).display()))
            .arg(&img));
        assert!(ok, "debugfs dump {f}: {out}");
    }
    assert!(
        db.join("ironbox.sqlite").exists(),
        "no database on the disk"
    );

    let conn = rusqlite::Connection::open(db.join("ironbox.sqlite")).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok", "integrity_check");
    let set = |sql: &str| -> std::collections::HashSet<String> {
        let mut stmt = conn.prepare(sql).unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
        rows.map(Result::unwrap).collect()
    };
    let nodes = set("SELECT uuid FROM nodes");
    let ports = set("SELECT uuid || ' ' || address FROM ports");
    let leases = set("SELECT mac || ' ' || ip FROM dhcp_leases WHERE state = 'bound'");
    let lost_nodes: Vec<String> = acked
        .nodes
        .iter()
        .filter(|u| !nodes.contains(*u))
        .cloned()
        .collect();
    let lost_ports: Vec<String> = acked
        .ports
        .iter()
        .map(|(u, a)| format!("{u} {a}"))
        .filter(|p| !ports.contains(p))
        .collect();
    let lost_leases: Vec<String> = acked
        .leases
        .iter()
        .map(|(m, i)| format!("{m} {i}"))
        .filter(|l| !leases.contains(l))
        .collect();
    let few = |v: &[String]| v.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    assert!(
        lost_nodes.is_empty() && lost_ports.is_empty() && lost_leases.is_empty(),
        "acknowledged but lost (seed {seed}): {} of {} nodes, {} of {} ports, {} of {} leases \
         (e.g. nodes {}; ports {}; leases {})",
        lost_nodes.len(),
        acked.nodes.len(),
        lost_ports.len(),
        acked.ports.len(),
        lost_leases.len(),
        acked.leases.len(),
        few(&lost_nodes),
        few(&lost_ports),
        few(&lost_leases)
    );
    eprintln!(
        "powerloss: all acknowledged rows present ({} nodes, {} ports, {} bound leases on disk); {:.1} s in all",
        nodes.len(),
        ports.len(),
        leases.len(),
        started.elapsed().as_secs_f64()
    );
    drop(ns);
}
