//! LLDP capture for inspection, as IPA's `ipa-collect-lldp=1`: one raw AF_PACKET socket per
//! NIC (link brought up, promiscuous while it is open), the first LLDP frame each NIC hears
//! within `ipa-lldp-timeout` kept as its TLVs; a NIC that heard nothing gets an empty list.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::model::lldp::{split_lldpdu, Tlv};

/// IPA's `ipa-lldp-timeout` default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

const ETH_P_LLDP: u16 = 0x88cc;
const ETH_HEADER: usize = 14;
/// `<linux/if_packet.h>`: the kernel ABI, stable since 2.2.
const SOL_PACKET: libc::c_int = 263;
const PACKET_ADD_MEMBERSHIP: libc::c_int = 1;
const PACKET_MR_PROMISC: libc::c_ushort = 1;
const PACKET_OUTGOING: u8 = 4;

#[repr(C)]
struct PacketMreq {
    ifindex: libc::c_int,
    kind: libc::c_ushort,
    alen: libc::c_ushort,
    address: [u8; 8],
}

/// A socket listening for LLDP on one interface.
struct Listener {
    name: String,
    fd: OwnedFd,
}

fn last_error(what: &str, name: &str) -> String {
    format!("{what} on {name}: {}", std::io::Error::last_os_error())
}

impl Listener {
    fn open(name: &str) -> Result<Listener, String> {
        let cname = CString::new(name).map_err(|_| format!("bad interface name {name:?}"))?;
        if cname.as_bytes().len() >= libc::IFNAMSIZ {
            return Err(format!("interface name too long: {name}"));
        }
        // SAFETY: if_nametoindex reads a NUL-terminated string we own.
        let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
        let index = libc::c_int::try_from(index)
            .ok()
            .filter(|i| *i > 0)
            .ok_or_else(|| last_error("if_nametoindex", name))?;
        // SAFETY: plain socket(2); the fd is owned at once.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                libc::c_int::from(ETH_P_LLDP.to_be()),
            )
        };
        if raw < 0 {
            return Err(last_error("AF_PACKET socket", name));
        }
        // SAFETY: raw is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        bring_up(&fd, &cname, name)?;
        // Promiscuous through a membership: the kernel drops it when the socket closes.
        let mreq = PacketMreq {
            ifindex: index,
            kind: PACKET_MR_PROMISC,
            alen: 0,
            address: [0; 8],
        };
        // SAFETY: mreq is a live packet_mreq of the size passed.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                SOL_PACKET,
                PACKET_ADD_MEMBERSHIP,
                std::ptr::addr_of!(mreq).cast(),
                std::mem::size_of::<PacketMreq>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(last_error("promiscuous mode", name));
        }
        // SAFETY: an all-zero sockaddr_ll is valid; the fields that matter are set below.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as libc::c_ushort;
        addr.sll_protocol = ETH_P_LLDP.to_be();
        addr.sll_ifindex = index;
        // SAFETY: addr is a live sockaddr_ll of the size passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                std::ptr::addr_of!(addr).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(last_error("bind", name));
        }
        Ok(Listener {
            name: name.to_string(),
            fd,
        })
    }

    /// One pending frame's TLVs: `None` for nothing usable (short, or our own outgoing).
    fn read(&self) -> Option<Vec<Tlv>> {
        let mut buf = [0u8; 1600];
        // SAFETY: an all-zero sockaddr_ll is valid to be filled in.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut from_len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: buf and from are live buffers of the lengths passed.
        let n = unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
                std::ptr::addr_of_mut!(from).cast(),
                &mut from_len,
            )
        };
        let n = usize::try_from(n).ok()?;
        if from.sll_pkttype == PACKET_OUTGOING {
            return None;
        }
        let pdu = buf.get(ETH_HEADER..n)?;
        Some(split_lldpdu(pdu))
    }
}

/// Set IFF_UP (the ramdisk only brings up the PXE NIC): no frames reach a down link.
fn bring_up(fd: &OwnedFd, cname: &CString, name: &str) -> Result<(), String> {
    // SAFETY: an all-zero ifreq is valid; the name fits (checked by the caller).
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(cname.as_bytes()) {
        *dst = *src as libc::c_char;
    }
    // SAFETY: req is a live ifreq; SIOCGIFFLAGS fills ifru_flags.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut req) } != 0 {
        return Err(last_error("SIOCGIFFLAGS", name));
    }
    // SAFETY: SIOCGIFFLAGS just wrote the flags member of the union.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    let up = libc::IFF_UP as libc::c_short;
    if flags & up == 0 {
        req.ifr_ifru.ifru_flags = flags | up;
        // SAFETY: req is a live ifreq with the name and new flags set.
        if unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCSIFFLAGS as _, &req) } != 0 {
            return Err(last_error("SIOCSIFFLAGS", name));
        }
    }
    Ok(())
}

/// Listen on `names` until each has heard one LLDP frame or `timeout` has passed. An
/// interface whose socket could not be set up is left out (its `lldp` stays null, as when
/// IPA's capture fails); one that heard nothing maps to an empty list.
pub fn collect(names: &[String], timeout: Duration) -> BTreeMap<String, Vec<Tlv>> {
    let mut out = BTreeMap::new();
    let mut waiting: Vec<Listener> = names
        .iter()
        .filter_map(|n| match Listener::open(n) {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(error = %e, "LLDP capture not possible");
                None
            }
        })
        .collect();
    let deadline = Instant::now() + timeout;
    while !waiting.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let mut fds: Vec<libc::pollfd> = waiting
            .iter()
            .map(|l| libc::pollfd {
                fd: l.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let ms = libc::c_int::try_from(left.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
        // SAFETY: fds is a live array of the length passed.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            tracing::warn!(error = %e, "LLDP capture: poll failed");
            break;
        }
        let mut still = vec![];
        for (l, p) in waiting.into_iter().zip(&fds) {
            if p.revents == 0 {
                still.push(l);
                continue;
            }
            match l.read() {
                Some(tlvs) => {
                    tracing::info!(interface = %l.name, tlvs = tlvs.len(), "LLDP frame received");
                    out.insert(l.name.clone(), tlvs);
                }
                // A socket the kernel calls invalid would wake poll forever: give it up.
                None if p.revents & libc::POLLNVAL != 0 => {
                    tracing::warn!(interface = %l.name, "LLDP socket invalid");
                    out.insert(l.name.clone(), vec![]);
                }
                None => still.push(l),
            }
        }
        waiting = still;
    }
    for l in waiting {
        tracing::warn!(interface = %l.name, ?timeout, "no LLDP frame before the timeout");
        out.insert(l.name, vec![]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::lldp::{parse_tlvs, TLV_CHASSIS_ID, TLV_END, TLV_PORT_ID};

    fn frame() -> Vec<u8> {
        let mut f = vec![0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e]; // nearest-bridge group
        f.extend([0x02, 0, 0, 0, 0, 0x01]);
        f.extend(ETH_P_LLDP.to_be_bytes());
        for (kind, value) in [
            (TLV_CHASSIS_ID, &[4u8, 0x02, 0, 0, 0, 0, 0x01][..]),
            (TLV_PORT_ID, b"\x05swp7"),
            (3, &[0, 120]),
            (TLV_END, &[]),
        ] {
            let header = (u16::from(kind) << 9) | value.len() as u16;
            f.extend(header.to_be_bytes());
            f.extend_from_slice(value);
        }
        f
    }

    /// Send `frame()` out of `nic` every 50 ms until `stop` is set.
    fn sender(nic: &str, stop: std::sync::Arc<std::sync::atomic::AtomicBool>) {
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
        assert!(raw >= 0, "{}", std::io::Error::last_os_error());
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let lo = CString::new(nic).unwrap();
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as libc::c_ushort;
        addr.sll_protocol = ETH_P_LLDP.to_be();
        addr.sll_ifindex = unsafe { libc::if_nametoindex(lo.as_ptr()) } as libc::c_int;
        addr.sll_halen = 6;
        let f = frame();
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            let n = unsafe {
                libc::sendto(
                    fd.as_raw_fd(),
                    f.as_ptr().cast(),
                    f.len(),
                    0,
                    std::ptr::addr_of!(addr).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                )
            };
            // Before collect() brings lo up the send fails (ENETDOWN): keep trying.
            let _ = n;
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Real sockets on the loopback of a network namespace made for this test: lo starts
    /// down there, so this also proves collect() brings the link up.
    #[test]
    fn captures_a_frame_on_a_private_loopback() {
        let got = std::thread::spawn(|| {
            // This thread only (and the sender it spawns) moves to a new namespace.
            let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "unshare: {}", std::io::Error::last_os_error());
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let s = {
                let stop = stop.clone();
                std::thread::spawn(move || sender("lo", stop))
            };
            let got = collect(
                &["lo".to_string(), "no-such-nic0".to_string()],
                Duration::from_secs(10),
            );
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            s.join().unwrap();
            got
        })
        .join()
        .unwrap();
        assert_eq!(got.keys().collect::<Vec<_>>(), vec!["lo"], "{got:?}");
        let parsed = parse_tlvs(&got["lo"]);
        assert_eq!(
            Value::Object(parsed.local_link_connection()),
            serde_json::json!({"switch_id": "02:00:00:00:00:01", "port_id": "swp7"})
        );
        assert_eq!(got["lo"].last(), Some(&(TLV_END, vec![])));
    }

    /// A veth pair in a namespace made for this test: the far end sends, the near end
    /// (down until collect() brings it up) hears it, as a NIC cabled to a switch would.
    #[test]
    fn captures_a_frame_across_a_veth_pair() {
        let got = std::thread::spawn(|| {
            assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0);
            // Children inherit this thread's namespace.
            let ip = |args: &[&str]| {
                let st = std::process::Command::new("ip").args(args).status();
                assert!(st.is_ok_and(|s| s.success()), "ip {args:?}");
            };
            ip(&[
                "link",
                "add",
                "lldp-near",
                "type",
                "veth",
                "peer",
                "name",
                "lldp-far",
            ]);
            ip(&["link", "set", "lldp-far", "up"]);
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let s = {
                let stop = stop.clone();
                std::thread::spawn(move || sender("lldp-far", stop))
            };
            let got = collect(&["lldp-near".to_string()], Duration::from_secs(10));
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            s.join().unwrap();
            got
        })
        .join()
        .unwrap();
        let tlvs = got.get("lldp-near").expect("captured");
        assert_eq!(
            parse_tlvs(tlvs).fields().get("switch_port_id"),
            Some(&serde_json::json!("swp7"))
        );
    }

    #[test]
    fn silence_gives_an_empty_list_after_the_timeout() {
        let got = std::thread::spawn(|| {
            assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0);
            let start = Instant::now();
            let got = collect(&["lo".to_string()], Duration::from_millis(300));
            (got, start.elapsed())
        })
        .join()
        .unwrap();
        assert_eq!(got.0.get("lo"), Some(&vec![]));
        assert!(got.1 >= Duration::from_millis(300), "{:?}", got.1);
    }

    use serde_json::Value;
}
