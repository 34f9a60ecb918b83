//! Packets the DHCP server meant to answer but could not, and replies it could not send:
//! one named reason each, counted in `ironbox_dhcp_drops_total{reason}` and logged. A
//! packet the server chose not to answer (unknown MAC, another server's REQUEST…) is not
//! a drop here: `decide.rs` names those and `ironbox_dhcp_packets_total` counts them.

/// Why a packet (or its reply) was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lost {
    /// The lease writer did not make the needed address or lease durable in time.
    WriterTimeout,
    /// The lease write failed, so the ACK that announces it is withheld.
    NotSaved,
    /// The lease writer thread is gone (stopping, or it died).
    WriterGone,
    /// The lease table's lock is poisoned (a thread panicked holding it).
    TableUnavailable,
    /// The store could not say whether the MAC is enrolled.
    LookupFailed,
    /// The reply could not be encoded.
    EncodeFailed,
    /// The reply could not be sent.
    SendFailed,
    /// Receiving from the socket failed.
    ReceiveFailed,
    /// The kernel dropped packets because the socket's receive queue was full.
    SocketOverflow,
}

impl Lost {
    pub const ALL: [Lost; 9] = [
        Lost::WriterTimeout,
        Lost::NotSaved,
        Lost::WriterGone,
        Lost::TableUnavailable,
        Lost::LookupFailed,
        Lost::EncodeFailed,
        Lost::SendFailed,
        Lost::ReceiveFailed,
        Lost::SocketOverflow,
    ];

    /// The metric label and log field.
    pub fn name(self) -> &'static str {
        match self {
            Lost::WriterTimeout => "lease_writer_timeout",
            Lost::NotSaved => "lease_not_saved",
            Lost::WriterGone => "lease_writer_gone",
            Lost::TableUnavailable => "lease_table_unavailable",
            Lost::LookupFailed => "lookup_failed",
            Lost::EncodeFailed => "encode_failed",
            Lost::SendFailed => "send_failed",
            Lost::ReceiveFailed => "receive_failed",
            Lost::SocketOverflow => "socket_overflow",
        }
    }
}

impl std::fmt::Display for Lost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Lost::WriterTimeout => "the lease writer did not save the address in time",
            Lost::NotSaved => "the lease could not be saved",
            Lost::WriterGone => "the lease writer is gone",
            Lost::TableUnavailable => "the lease table is unavailable",
            Lost::LookupFailed => "the MAC lookup failed",
            Lost::EncodeFailed => "the reply could not be encoded",
            Lost::SendFailed => "the reply could not be sent",
            Lost::ReceiveFailed => "receiving failed",
            Lost::SocketOverflow => "the socket's receive queue overflowed",
        })
    }
}

/// Create every reason's series at zero, so a scrape shows them before the first drop.
pub fn register() {
    for why in Lost::ALL {
        crate::metrics::dhcp_drops(why.name(), 0);
    }
}

/// Count and log `count` packets lost for `why`; `detail` says which (a MAC, an address,
/// an error).
pub fn lost(why: Lost, count: u64, detail: &str) {
    crate::metrics::dhcp_drops(why.name(), count);
    tracing::warn!(
        reason = why.name(),
        count,
        detail,
        "DHCP packet dropped: {why}"
    );
}

/// How many packets the kernel has dropped for `sock` (its receive queue was full, or a
/// checksum was bad): `SO_MEMINFO`'s drop count, if the kernel gives it.
pub fn kernel_drops(sock: &std::net::UdpSocket) -> Option<u32> {
    use std::os::fd::AsRawFd;
    // The asm-generic value (x86_64, aarch64 and most others); elsewhere the call fails.
    const SO_MEMINFO: libc::c_int = 55;
    let mut info = [0u32; 16];
    let mut len = std::mem::size_of_val(&info) as libc::socklen_t;
    // SAFETY: `info` is writable for `len` bytes, and the kernel writes at most `len`.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_MEMINFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    let at = usize::try_from(libc::SK_MEMINFO_DROPS).ok()?;
    if rc != 0 || (len as usize) < (at + 1) * 4 {
        return None;
    }
    info.get(at).copied()
}

/// Counts what the kernel dropped on one socket since the last look.
pub struct Overflow {
    seen: Option<u32>,
}

impl Overflow {
    pub fn new(sock: &std::net::UdpSocket) -> Overflow {
        Overflow {
            seen: kernel_drops(sock),
        }
    }

    /// Count (and log) the drops since the last call.
    pub fn check(&mut self, sock: &std::net::UdpSocket, port: u16) {
        let now = kernel_drops(sock);
        if let (Some(before), Some(now)) = (self.seen, now) {
            let n = now.wrapping_sub(before);
            if n > 0 {
                lost(Lost::SocketOverflow, n.into(), &format!("port {port}"));
            }
        }
        self.seen = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_drop_count_of_a_full_socket_is_seen() {
        let rx = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
        rx.set_recv_buffer_size(4096).unwrap();
        rx.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        let rx: std::net::UdpSocket = rx.into();
        let before = kernel_drops(&rx).unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for _ in 0..200 {
            tx.send_to(&[0u8; 1000], rx.local_addr().unwrap()).unwrap();
        }
        let after = kernel_drops(&rx).unwrap();
        assert!(after > before, "{before} → {after}");
    }

    #[test]
    fn every_reason_has_its_own_name() {
        let mut names: Vec<_> = Lost::ALL.iter().map(|l| l.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Lost::ALL.len());
    }
}
