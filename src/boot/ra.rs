//! IPv6 router advertisements on the provisioning interface (`[dhcp] ipv6_ra`). iPXE
//! builds with IPv6 wait ~13 s for one before they go on with their DHCPv4 results. We
//! advertise no default route and no prefixes: the RA only ends that wait.

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::BootError;

/// ICMPv6 type 134, hop limit 64 suggested, no flags, router lifetime 0 (not a default
/// router), reachable/retrans unspecified. The kernel fills in the checksum.
const RA: [u8; 16] = [134, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

pub fn serve(iface: &str, cancel: CancellationToken) -> Result<(), BootError> {
    let err = |what: &str, e: std::io::Error| BootError::Bind {
        what: format!("IPv6 RA {what} on {iface}"),
        source: e,
    };
    let s = socket2::Socket::new(
        socket2::Domain::IPV6,
        socket2::Type::RAW,
        Some(socket2::Protocol::ICMPV6),
    )
    .map_err(|e| err("socket", e))?;
    s.bind_device(Some(iface.as_bytes()))
        .map_err(|e| err("SO_BINDTODEVICE", e))?;
    // Receivers drop RAs that did not come with hop limit 255 (RFC 4861).
    s.set_multicast_hops_v6(255)
        .map_err(|e| err("hop limit", e))?;
    s.set_unicast_hops_v6(255)
        .map_err(|e| err("hop limit", e))?;
    let index = if_index(iface).ok_or_else(|| {
        err(
            "interface index",
            std::io::Error::other("unknown interface"),
        )
    })?;
    s.set_multicast_if_v6(index)
        .map_err(|e| err("multicast interface", e))?;
    let all_nodes = SocketAddr::V6(SocketAddrV6::new(
        Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1),
        0,
        0,
        index,
    ));
    let iface = iface.to_string();
    std::thread::Builder::new()
        .name("ipv6-ra".into())
        .spawn(move || {
            // Every second at first (machines are booting), then every 3 s, until cancelled.
            let mut sent = 0u32;
            while !cancel.is_cancelled() {
                if let Err(e) = s.send_to(&RA, &all_nodes.into()) {
                    tracing::debug!(interface = %iface, error = %e, "IPv6 RA not sent");
                }
                sent += 1;
                std::thread::sleep(Duration::from_secs(if sent < 3 { 1 } else { 3 }));
            }
        })
        .map_err(|e| err("thread", e))?;
    Ok(())
}

fn if_index(iface: &str) -> Option<u32> {
    let name = std::ffi::CString::new(iface).ok()?;
    // SAFETY: if_nametoindex only reads the NUL-terminated name.
    let i = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (i != 0).then_some(i)
}
