//! Read-only TFTP (async-tftp): the iPXE boot programs from `[pxe] ipxe_dir`, and
//! `boot.ipxe`. Only names in the table are served, so no path can escape; writes are
//! refused. blksize, tsize, timeout and windowsize are negotiated by async-tftp.
//!
//! async-tftp is vendored with a small patch (`third_party/async-tftp/IRONBOX-PATCH.md`):
//! each read transfer runs on its own thread with a blocking, connected socket, so a
//! lock-step block is a `read`, a `send` and a `recv` (dnsmasq needs five syscalls). Upstream
//! 0.4 set up a new timer and went through async-io's reactor for every block, which kept
//! lock-step throughput below dnsmasq's. async-tftp still does the rest: the listening
//! socket, request parsing, option negotiation, errors, and the `Handler` below. Patching
//! was preferred to a transfer loop of our own: ~100 changed lines, upstreamable. Because
//! a transfer holds a thread, at most `[pxe] tftp_max_transfers` run at once; one more
//! request gets a TFTP ERROR "server busy" (the patch's `max_read_transfers`).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use async_tftp::packet;
use async_tftp::server::{Handler, TftpServerBuilder};
use tokio_util::sync::CancellationToken;

use super::dhcp::options::{find_program, Program};
use super::{Boot, BootError};

type Reader = Box<dyn futures_lite::AsyncRead + Unpin + Send>;

/// Boot programs are small and page-cached: read them inline. A thread hand-off per
/// 1.4 KiB block (blocking::Unblock) halved throughput against dnsmasq in bench/.
struct InlineFile(std::fs::File);

impl futures_lite::AsyncRead for InlineFile {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        use std::io::Read;
        std::task::Poll::Ready(self.get_mut().0.read(buf))
    }
}

/// Counts what a transfer reads out (the file data sent) and, when async-tftp drops it,
/// records the transfer: `completed` if the whole file was read, else `aborted`.
struct Counted {
    inner: Reader,
    bytes: u64,
    eof: bool,
}

impl Counted {
    fn boxed(inner: Reader) -> Reader {
        Box::new(Counted {
            inner,
            bytes: 0,
            eof: false,
        })
    }
}

impl futures_lite::AsyncRead for Counted {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let me = self.get_mut();
        let r = std::pin::Pin::new(&mut me.inner).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = &r {
            me.bytes += *n as u64;
            me.eof |= *n == 0 && !buf.is_empty();
        }
        r
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let result = if self.eof { "completed" } else { "aborted" };
        crate::metrics::tftp_transfer(result, self.bytes);
    }
}

pub struct Files {
    boot: Boot,
}

impl Files {
    /// Resolve a requested name to what we serve. Anything not in the table is "not found".
    fn resolve(&self, path: &Path) -> Option<Program> {
        resolve(&self.boot.ipxe_dir, path)
    }

    /// Open `name` for reading: the size goes with it when known.
    fn open(
        &self,
        client: &SocketAddr,
        path: &Path,
        name: &str,
    ) -> Result<(Reader, Option<u64>), packet::Error> {
        if name == "boot.ipxe" {
            let script = super::templates::render("boot.ipxe", &[("base", &self.boot.base_url())])
                .map_err(|_| {
                    crate::metrics::tftp_transfer("not_found", 0);
                    packet::Error::FileNotFound
                })?;
            let len = script.len() as u64;
            tracing::info!(client = %client, file = %name, "TFTP read");
            return Ok((
                Counted::boxed(Box::new(futures_lite::io::Cursor::new(script.into_bytes()))),
                Some(len),
            ));
        }
        match self.resolve(path) {
            None => {
                tracing::info!(client = %client, file = %name, "TFTP read refused: not served");
                crate::metrics::tftp_transfer("not_found", 0);
                Err(packet::Error::FileNotFound)
            }
            Some(Program::Embedded(bytes)) => {
                tracing::info!(client = %client, file = %name, from = "embedded", "TFTP read");
                Ok((
                    Counted::boxed(Box::new(futures_lite::io::Cursor::new(bytes))),
                    Some(bytes.len() as u64),
                ))
            }
            Some(Program::File(file)) => {
                let f = std::fs::File::open(&file).map_err(|_| {
                    crate::metrics::tftp_transfer("not_found", 0);
                    packet::Error::FileNotFound
                })?;
                let len = f.metadata().map(|m| m.len()).ok();
                tracing::info!(client = %client, file = %name, from = %file.display(), "TFTP read");
                Ok((Counted::boxed(Box::new(InlineFile(f))), len))
            }
        }
    }
}

/// What a read request for `path` gets from `ipxe_dir`: only names in the table.
pub fn resolve(ipxe_dir: &Path, path: &Path) -> Option<Program> {
    let name = path.to_str()?.trim_start_matches('/');
    find_program(ipxe_dir, name)
}

impl Handler for Files {
    type Reader = Reader;
    type Writer = futures_lite::io::Sink;

    async fn read_req_open(
        &mut self,
        client: &SocketAddr,
        path: &Path,
    ) -> Result<(Self::Reader, Option<u64>), packet::Error> {
        let name = path.to_string_lossy().trim_start_matches('/').to_string();
        let opened = self.open(client, path, &name);
        let mut e = crate::model::netlog::NetEvent::new(
            "tftp",
            client.ip().to_string(),
            "served",
            format!("read of {name}"),
        );
        match &opened {
            Ok((_, len)) => {
                let size = len.map(|n| format!(", {n} bytes")).unwrap_or_default();
                e.text.push_str(&size);
                if let Some(ev) = &self.boot.events {
                    ev.to_ip(client.ip(), format!("TFTP read of {name}{size}"));
                }
            }
            Err(_) => {
                e.result = "failed";
                e.reason = Some("file not served".into());
            }
        }
        self.boot.store.netlog().push(e);
        opened
    }

    async fn write_req_open(
        &mut self,
        client: &SocketAddr,
        path: &Path,
        _: Option<u64>,
    ) -> Result<Self::Writer, packet::Error> {
        tracing::info!(client = %client, file = %path.display(), "TFTP write refused: read-only server");
        crate::metrics::tftp_transfer("write_refused", 0);
        Err(packet::Error::PermissionDenied)
    }
}

/// Read requests refused over `[pxe] tftp_max_transfers`: counted, and logged at most once
/// per `EVERY` seconds (a storm must not become a log storm).
struct Refusals {
    start: Instant,
    max: usize,
    /// Refused since the last message.
    pending: AtomicU64,
    /// Seconds after `start` of the last message, +1 (0 = never logged).
    logged_at: AtomicU64,
}

impl Refusals {
    const EVERY: u64 = 10;

    fn refused(&self, client: &SocketAddr) {
        crate::metrics::tftp_transfer("busy", 0);
        let n = self.pending.fetch_add(1, Ordering::Relaxed) + 1;
        let now = self.start.elapsed().as_secs() + 1;
        let last = self.logged_at.load(Ordering::Relaxed);
        if last != 0 && now < last + Self::EVERY {
            return;
        }
        if self
            .logged_at
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            let refused = self.pending.swap(0, Ordering::Relaxed).max(n);
            tracing::warn!(client = %client, refused_since_last_message = refused, max = self.max,
                "TFTP read refused with \"server busy\": [pxe] tftp_max_transfers downloads are running (logged at most every {}s)", Self::EVERY);
        }
    }
}

/// Sends of a block (or OACK) after the first before a silent client is given up on:
/// dnsmasq's 8 tries. async-tftp's default (100, at the client's timeout of up to 255 s)
/// let a vanished client hold a download slot and its thread for hours.
const SEND_RETRIES: u32 = 7;

/// Bind on the interface address and serve until cancelled; at most `max_transfers`
/// downloads at once.
pub async fn serve(
    boot: Boot,
    port: u16,
    max_transfers: usize,
    cancel: CancellationToken,
) -> Result<SocketAddr, BootError> {
    let addr = SocketAddr::new(boot.net.ip.into(), port);
    let refusals = Arc::new(Refusals {
        start: Instant::now(),
        max: max_transfers,
        pending: AtomicU64::new(0),
        logged_at: AtomicU64::new(0),
    });
    let server = TftpServerBuilder::with_handler(Files { boot })
        .bind(addr)
        .max_read_transfers(max_transfers, move |client| refusals.refused(client))
        .max_send_retries(SEND_RETRIES)
        .build()
        .await
        .map_err(|e| BootError::Bind {
            what: format!("TFTP on {addr}"),
            source: std::io::Error::other(e.to_string()),
        })?;
    let local = server.listen_addr().unwrap_or(addr);
    // async-tftp runs on async-io's reactor; driving it from its own thread (not a tokio
    // worker) saves a thread wake-up per block.
    std::thread::Builder::new()
        .name("tftp".into())
        .spawn(move || {
            let stopped = async {
                cancel.cancelled().await;
                Ok(())
            };
            if let Err(e) = async_io::block_on(futures_lite::future::or(server.serve(), stopped)) {
                tracing::error!(error = %e, "TFTP server stopped");
            }
        })
        .map_err(|e| BootError::Bind {
            what: format!("TFTP thread for {addr}"),
            source: e,
        })?;
    Ok(local)
}

#[cfg(test)]
mod tests {
    //! Hostile datagrams at a real server, then a real download must still work.

    use super::*;
    use std::net::Ipv4Addr;
    use std::time::Duration;

    async fn rrq(
        sock: &tokio::net::UdpSocket,
        server: SocketAddr,
        name: &str,
    ) -> Result<Vec<u8>, String> {
        let mut p = vec![0, 1];
        p.extend_from_slice(name.as_bytes());
        p.push(0);
        p.extend_from_slice(b"octet\0");
        sock.send_to(&p, server).await.map_err(|e| e.to_string())?;
        let mut out = vec![];
        let mut buf = vec![0u8; 1600];
        let mut want = 1u16;
        loop {
            let (n, from) = tokio::time::timeout(Duration::from_secs(3), sock.recv_from(&mut buf))
                .await
                .map_err(|_| "timeout".to_string())?
                .map_err(|e| e.to_string())?;
            let pkt = &buf[..n];
            match pkt.get(..2) {
                Some([0, 3]) if pkt.len() >= 4 => {
                    let block = u16::from_be_bytes([pkt[2], pkt[3]]);
                    if block == want {
                        out.extend_from_slice(&pkt[4..]);
                        want = want.wrapping_add(1);
                    }
                    sock.send_to(&[0, 4, pkt[2], pkt[3]], from)
                        .await
                        .map_err(|e| e.to_string())?;
                    if n - 4 < 512 {
                        return Ok(out);
                    }
                }
                Some([0, 5]) => {
                    return Err(format!(
                        "TFTP error {:?}",
                        String::from_utf8_lossy(&pkt[4..])
                    ))
                }
                _ => return Err("unexpected packet".into()),
            }
        }
    }

    /// Boot files served from `dir` on loopback, with a store in `dir`.
    fn loopback_boot(dir: &std::path::Path) -> Boot {
        Boot {
            store: crate::db::Store::open(&dir.join("t.sqlite"), 1000, 2).unwrap(),
            net: super::super::Net {
                iface: "lo".into(),
                ip: Ipv4Addr::LOCALHOST,
                netmask: Ipv4Addr::new(255, 0, 0, 0),
            },
            http_port: 8080,
            http_root: dir.into(),
            ipxe_dir: dir.into(),
            ipxe_timeout: 0,
            image_dir: dir.into(),
            events: None,
            discovery: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn survives_garbage_and_keeps_serving() {
        let dir = tempfile::tempdir().unwrap();
        let boot = loopback_boot(dir.path());
        let cancel = CancellationToken::new();
        let server = serve(boot, 0, 64, cancel.clone()).await.unwrap();
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut x: u32 = 12345;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        // RRQ (plain, with options, hostile name), WRQ, and the packets a transfer carries
        // (ACK, ERROR, DATA, OACK) arriving where no transfer is.
        let seeds: [&[u8]; 9] = [
            b"\x00\x01boot.ipxe\x00octet\x00",
            b"\x00\x01boot.ipxe\x00octet\x00blksize\x001468\x00windowsize\x004\x00",
            b"\x00\x01undionly.kpxe\x00octet\x00tsize\x000\x00timeout\x001\x00",
            b"\x00\x02up.bin\x00octet\x00",
            b"\x00\x01../../etc/passwd\x00octet\x00",
            b"\x00\x04\x00\x01",
            b"\x00\x05\x00\x01oops\x00",
            b"\x00\x03\x00\x01data",
            b"\x00\x06blksize\x00512\x00",
        ];
        for _ in 0..3000 {
            let mut p = seeds[(rnd() as usize) % seeds.len()].to_vec();
            match rnd() % 3 {
                0 => {
                    for _ in 0..(1 + rnd() % 4) {
                        let i = (rnd() as usize) % p.len();
                        p[i] ^= 1 << (rnd() % 8);
                    }
                }
                1 => p.truncate((rnd() as usize) % (p.len() + 1)),
                _ => p = (0..(rnd() % 700)).map(|_| rnd() as u8).collect(),
            }
            let _ = sock.send_to(&p, server).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let got = rrq(&client, server, "boot.ipxe")
            .await
            .expect("server still serves");
        assert!(got.starts_with(b"#!ipxe"));
        assert!(
            rrq(&client, server, "../../etc/passwd").await.is_err(),
            "traversal refused"
        );
        assert!(rrq(&client, server, "nope.bin").await.is_err());
        cancel.cancel();
    }

    async fn recv(sock: &tokio::net::UdpSocket, buf: &mut [u8]) -> (usize, SocketAddr) {
        tokio::time::timeout(Duration::from_secs(5), sock.recv_from(buf))
            .await
            .expect("server answers")
            .unwrap()
    }

    /// A lost ACK: the server sends the block again after the negotiated timeout, and
    /// garbage from the client on the transfer's port (bad ACKs, junk) changes nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lost_ack_gets_the_block_again() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(dir.path().join("undionly.kpxe"), &data).unwrap();
        let boot = loopback_boot(dir.path());
        let cancel = CancellationToken::new();
        let server = serve(boot, 0, 64, cancel.clone()).await.unwrap();
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        sock.send_to(
            b"\x00\x01undionly.kpxe\x00octet\x00blksize\x001024\x00tsize\x000\x00timeout\x001\x00",
            server,
        )
        .await
        .unwrap();
        let mut buf = [0u8; 2048];
        let (n, peer) = recv(&sock, &mut buf).await;
        let oack = buf[..n].to_vec();
        assert_eq!(&oack[..2], &[0, 6], "OACK");
        assert!(oack.windows(5).any(|w| w == b"3000\0"), "tsize in {oack:?}");
        sock.send_to(&[0, 4, 0, 0], peer).await.unwrap();
        let (n, _) = recv(&sock, &mut buf).await;
        let first = buf[..n].to_vec();
        assert_eq!(&first[..4], &[0, 3, 0, 1]);
        assert_eq!(first.len(), 4 + 1024);
        // Do not ACK; send junk and a wrong ACK instead. Block 1 must come again.
        let sent = std::time::Instant::now();
        for junk in [&[0u8, 4, 0, 7][..], b"\x00\x05\x00\x00x\x00junk", b"\xff"] {
            sock.send_to(junk, peer).await.unwrap();
        }
        let (n, _) = recv(&sock, &mut buf).await;
        assert_eq!(buf[..n], first[..], "block 1 retransmitted");
        assert!(
            sent.elapsed() >= Duration::from_millis(500),
            "{:?}",
            sent.elapsed()
        );
        let mut got = first[4..].to_vec();
        let mut block = 1u16;
        loop {
            sock.send_to(&[0, 4, (block >> 8) as u8, block as u8], peer)
                .await
                .unwrap();
            if got.len() == data.len() {
                break;
            }
            let (n, _) = recv(&sock, &mut buf).await;
            block += 1;
            assert_eq!(&buf[..4], &[0, 3, (block >> 8) as u8, block as u8]);
            got.extend_from_slice(&buf[4..n]);
        }
        assert_eq!(got, data);
        cancel.cancel();
    }

    /// Over `max_transfers` downloads at once, a read request gets an ERROR packet (not
    /// silence, not a thread); once a download ends, its slot serves the next client.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn transfers_over_the_cap_get_an_error_packet() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(dir.path().join("undionly.kpxe"), &data).unwrap();
        let boot = loopback_boot(dir.path());
        let cancel = CancellationToken::new();
        let server = serve(boot, 0, 2, cancel.clone()).await.unwrap();
        let req = b"\x00\x01undionly.kpxe\x00octet\x00blksize\x001024\x00timeout\x005\x00";
        let mut buf = [0u8; 2048];
        // Two downloads started and held open (OACK received, not acknowledged).
        let mut held = vec![];
        for _ in 0..2 {
            let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            sock.send_to(req, server).await.unwrap();
            let (n, peer) = recv(&sock, &mut buf).await;
            assert_eq!(&buf[..2], &[0, 6], "OACK, got {:?}", &buf[..n]);
            held.push((sock, peer));
        }
        // The third (and fourth) get an ERROR packet naming the reason.
        for _ in 0..2 {
            let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            sock.send_to(req, server).await.unwrap();
            let (n, _) = recv(&sock, &mut buf).await;
            assert_eq!(&buf[..2], &[0, 5], "ERROR, got {:?}", &buf[..n]);
            let msg = String::from_utf8_lossy(&buf[4..n]);
            assert!(msg.contains("busy"), "{msg}");
        }
        // Finish the first download; its slot frees and a new client is served in full.
        let (sock, peer) = held.remove(0);
        let mut got = vec![];
        let mut block = 0u16;
        loop {
            sock.send_to(&[0, 4, (block >> 8) as u8, block as u8], peer)
                .await
                .unwrap();
            if got.len() == data.len() {
                break;
            }
            let (n, _) = recv(&sock, &mut buf).await;
            block += 1;
            assert_eq!(&buf[..4], &[0, 3, (block >> 8) as u8, block as u8]);
            got.extend_from_slice(&buf[4..n]);
        }
        assert_eq!(got, data);
        let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut served = None;
        for _ in 0..50 {
            match rrq(&client, server, "undionly.kpxe").await {
                Ok(d) => {
                    served = Some(d);
                    break;
                }
                // The finished transfer's thread may not have ended yet.
                Err(e) if e.contains("busy") => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(served.as_deref(), Some(&data[..]));
        cancel.cancel();
    }

    /// A client that goes silent after its request is given up on after SEND_RETRIES
    /// resends, and its download slot serves the next client.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_silent_client_frees_its_slot() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("undionly.kpxe"), vec![7u8; 3000]).unwrap();
        let boot = loopback_boot(dir.path());
        let cancel = CancellationToken::new();
        let server = serve(boot, 0, 1, cancel.clone()).await.unwrap();
        let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        silent
            .send_to(
                b"\x00\x01undionly.kpxe\x00octet\x00timeout\x001\x00",
                server,
            )
            .await
            .unwrap();
        let mut buf = [0u8; 2048];
        let (mut oacks, mut gave_up) = (0, false);
        while let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_secs(3), silent.recv_from(&mut buf)).await
        {
            match &buf[..2] {
                [0, 6] if !gave_up => oacks += 1,
                [0, 5] if !gave_up => gave_up = true,
                _ => panic!("{:?}", &buf[..n]),
            }
        }
        assert!(gave_up, "an ERROR packet ends the transfer");
        assert_eq!(oacks, 1 + SEND_RETRIES);
        let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let got = rrq(&client, server, "undionly.kpxe")
            .await
            .expect("slot freed");
        assert_eq!(got.len(), 3000);
        cancel.cancel();
    }
}
