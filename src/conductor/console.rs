//! Serial console sessions: one upstream stream per enabled node (opened through the node's
//! console interface, reopened with backoff when it drops), shared by any number of viewers
//! (the node's raw TCP port from `[console] port_range`, and the web UI's WebSocket). Input
//! from any viewer goes upstream; the last [`REPLAY_BYTES`] of output are kept per node and
//! replayed to each new viewer. `console_enabled` lives on the node, so sessions (and, when
//! still free, their ports) come back at start.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use super::{Conductor, ConductorError as E, Result};
use crate::drivers::console::{ConsoleEndpoint, ConsoleSource};
use crate::model::node::Node;

/// Output kept per node for viewers that join later.
pub const REPLAY_BYTES: usize = 256 * 1024;
/// driver_internal_info key of the TCP port a console was given (Ironic's name).
pub const PORT_KEY: &str = "allocated_ipmi_terminal_port";
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Raw TCP viewers of one console at most.
const MAX_TCP_VIEWERS: usize = 16;
/// An upstream session that lasted this long was healthy: the next retry starts quickly.
const LASTED: Duration = Duration::from_secs(20);

/// A viewer's view of a session: what scrolled by, what comes next, where to type.
pub struct Viewer {
    pub replay: Bytes,
    pub output: broadcast::Receiver<Bytes>,
    pub input: mpsc::Sender<Bytes>,
}

/// What the pump, the TCP listener and the viewers share.
struct Shared {
    ring: Mutex<Ring>,
    tx: broadcast::Sender<Bytes>,
    input: mpsc::Sender<Bytes>,
}

#[derive(Default)]
struct Ring {
    bytes: VecDeque<u8>,
    /// Older output was dropped: the replay starts at a line boundary.
    cut: bool,
}

impl Shared {
    /// Keep and fan out one chunk. Under the ring's lock, so a viewer attaching meanwhile
    /// sees each byte exactly once: in its replay or on its receiver.
    fn publish(&self, b: Bytes) {
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        ring.bytes.extend(b.iter());
        let over = ring.bytes.len().saturating_sub(REPLAY_BYTES);
        if over > 0 {
            ring.bytes.drain(..over);
            ring.cut = true;
        }
        // No receivers is fine: nobody is watching.
        let _ = self.tx.send(b);
    }

    fn attach(&self) -> Viewer {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let (a, b) = ring.bytes.as_slices();
        let mut all = Vec::with_capacity(a.len() + b.len());
        all.extend_from_slice(a);
        all.extend_from_slice(b);
        if ring.cut {
            if let Some(nl) = all.iter().position(|c| *c == b'\n') {
                all.drain(..=nl);
            }
        }
        Viewer {
            replay: Bytes::from(all),
            output: self.tx.subscribe(),
            input: self.input.clone(),
        }
    }
}

/// One enabled console; its tasks end when it is dropped.
struct Session {
    shared: Arc<Shared>,
    addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Session {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The running sessions of this conductor, by node UUID.
#[derive(Default)]
pub struct Consoles {
    sessions: Mutex<HashMap<String, Session>>,
}

/// Which TCP port a console may take.
pub enum PortChoice {
    /// `driver_info.ipmi_terminal_port`: this one or fail.
    Fixed(u16),
    /// The one it had before if still free, else the first free one of the range.
    Any { had: Option<u16> },
}

impl Consoles {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Start (or restart) node `uuid`'s session: bind its TCP port, then open upstream.
    pub async fn start(
        &self,
        uuid: &str,
        source: Arc<dyn ConsoleSource>,
        ip: IpAddr,
        range: Option<(u16, u16)>,
        port: PortChoice,
    ) -> std::io::Result<SocketAddr> {
        // A restart frees the old port first so the session can keep it.
        self.stop(uuid);
        let listener = bind(ip, range, port).await?;
        let addr = listener.local_addr()?;
        let (input, input_rx) = mpsc::channel(64);
        let (tx, _) = broadcast::channel(1024);
        let shared = Arc::new(Shared {
            ring: Mutex::default(),
            tx,
            input,
        });
        let tasks = vec![
            tokio::spawn(pump(uuid.to_string(), source, shared.clone(), input_rx)),
            tokio::spawn(serve_tcp(uuid.to_string(), listener, shared.clone())),
        ];
        tracing::info!(node = %uuid, tcp = %addr, "console enabled");
        self.map().insert(
            uuid.to_string(),
            Session {
                shared,
                addr,
                tasks,
            },
        );
        Ok(addr)
    }

    /// Stop node `uuid`'s session: its port closes and its viewers see the end.
    pub fn stop(&self, uuid: &str) -> bool {
        let s = self.map().remove(uuid);
        if s.is_some() {
            tracing::info!(node = %uuid, "console stopped");
        }
        s.is_some()
    }

    pub fn attach(&self, uuid: &str) -> Option<Viewer> {
        self.map().get(uuid).map(|s| s.shared.attach())
    }

    pub fn addr(&self, uuid: &str) -> Option<SocketAddr> {
        self.map().get(uuid).map(|s| s.addr)
    }

    pub fn stop_all(&self) {
        self.map().clear();
    }
}

async fn bind(
    ip: IpAddr,
    range: Option<(u16, u16)>,
    port: PortChoice,
) -> std::io::Result<TcpListener> {
    let had = match port {
        PortChoice::Fixed(p) => return TcpListener::bind((ip, p)).await,
        PortChoice::Any { had } => had,
    };
    let Some((lo, hi)) = range else {
        if let Some(p) = had {
            if let Ok(l) = TcpListener::bind((ip, p)).await {
                return Ok(l);
            }
        }
        return TcpListener::bind((ip, 0)).await;
    };
    let preferred = had.filter(|p| (lo..=hi).contains(p));
    for p in preferred.into_iter().chain(lo..=hi) {
        if let Ok(l) = TcpListener::bind((ip, p)).await {
            return Ok(l);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        format!("no free port in [console] port_range {lo}:{hi} on {ip}"),
    ))
}

/// Keep one upstream stream open: output to the ring and viewers, viewers' input to it;
/// reopen with backoff when it ends.
async fn pump(
    node: String,
    source: Arc<dyn ConsoleSource>,
    shared: Arc<Shared>,
    mut input: mpsc::Receiver<Bytes>,
) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let started = Instant::now();
        let why = match source.open().await {
            Ok(mut s) => {
                // Typed bytes wait here until the upstream has room, while its output keeps
                // being read: awaiting the send inside the select would stop reading output,
                // and an upstream blocked on full output then never takes input (deadlock).
                let mut typed: Option<Bytes> = None;
                loop {
                    tokio::select! {
                        out = s.output.recv() => match out {
                            Some(b) => shared.publish(b),
                            None => break "the console session ended".to_string(),
                        },
                        t = input.recv(), if typed.is_none() => match t {
                            Some(b) => typed = Some(b),
                            None => return,
                        },
                        permit = s.input.reserve(), if typed.is_some() => match permit {
                            Ok(p) => {
                                if let Some(b) = typed.take() {
                                    p.send(b);
                                }
                            }
                            Err(_) => break "the console session ended".to_string(),
                        },
                    }
                }
            }
            Err(e) => crate::model::secrets::mask_text(&e.to_string()).into_owned(),
        };
        // Reset only after a session that lasted, so a BMC that drops us at once is not
        // hammered.
        if started.elapsed() >= LASTED {
            backoff = MIN_BACKOFF;
        }
        tracing::warn!(node = %node, reason = %why, retry_in = ?backoff, "console upstream lost");
        shared.publish(Bytes::from(format!(
            "\r\n[ironbox: {why}; reconnecting in {}s]\r\n",
            backoff.as_secs()
        )));
        let wake = tokio::time::sleep(backoff);
        tokio::pin!(wake);
        loop {
            tokio::select! {
                _ = &mut wake => break,
                // Typing into a closed console goes nowhere.
                typed = input.recv() => if typed.is_none() { return },
            }
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// The raw TCP port: each connection is a viewer (replay first), bytes in are input.
async fn serve_tcp(node: String, listener: TcpListener, shared: Arc<Shared>) {
    // Owned here so that stopping the session closes every connection.
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            acc = listener.accept() => match acc {
                Ok((sock, peer)) if conns.len() >= MAX_TCP_VIEWERS => {
                    // Each viewer holds a replay copy: refuse rather than grow without bound.
                    tracing::warn!(node = %node, %peer, "console viewer refused: {MAX_TCP_VIEWERS} already connected (tcp)");
                    drop(sock);
                }
                Ok((sock, peer)) => {
                    tracing::info!(node = %node, %peer, "console viewer connected (tcp)");
                    conns.spawn(tcp_viewer(sock, shared.attach()));
                }
                Err(e) => {
                    tracing::warn!(node = %node, error = %e, "console accept failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn tcp_viewer(sock: TcpStream, mut v: Viewer) {
    let (mut rd, mut wr) = sock.into_split();
    if wr.write_all(&v.replay).await.is_err() {
        return;
    }
    let mut buf = vec![0u8; 4096];
    loop {
        tokio::select! {
            out = v.output.recv() => match out {
                Ok(b) => if wr.write_all(&b).await.is_err() { return },
                // A slow reader misses what it could not keep up with.
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            n = rd.read(&mut buf) => match n {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let typed = Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
                    if v.input.send(typed).await.is_err() { return }
                }
            },
        }
    }
}

impl Conductor {
    fn console_endpoint(&self, uuid: &str, tcp: SocketAddr) -> ConsoleEndpoint {
        let api = self.urls.get().and_then(|u| u.api.clone());
        ConsoleEndpoint {
            tcp,
            ui: api.map(|a| format!("{}/ui/machines/{uuid}/console", a.trim_end_matches('/'))),
        }
    }

    /// `PUT /states/console`. Like Ironic: the interface is checked first (400), asking for
    /// the state the console is already in does nothing, and a start that fails is recorded
    /// in last_error with the console left disabled.
    pub async fn node_set_console(&self, node: Node, enabled: bool) -> Result<()> {
        let mut task = self
            .acquire(&node.uuid, super::task::Wait::Configured)
            .await?;
        let r = self.set_console_locked(&mut task, enabled).await;
        task.release().await;
        r
    }

    async fn set_console_locked(
        &self,
        task: &mut super::task::NodeTask,
        enabled: bool,
    ) -> Result<()> {
        let uuid = task.node.uuid.clone();
        let running = self.consoles.addr(&uuid).is_some();
        let (driver, ctx) = task.ctx();
        driver
            .console
            .validate(&ctx)
            .await
            .map_err(super::power::driver_err)?;
        // Both the stored flag and the live session must agree (a save that failed after a
        // start leaves a session running on a node stored as disabled).
        if enabled == ctx.node.console_enabled && enabled == running {
            tracing::info!(node = %uuid, enabled, "console already in the requested state");
            return Ok(());
        }
        if !enabled {
            self.consoles.stop(&uuid);
            task.node.console_enabled = false;
            task.node.driver_internal_info.remove(PORT_KEY);
            task.node.last_error = None;
            return task.save().await;
        }
        let source = driver
            .console
            .source(&ctx)
            .map_err(super::power::driver_err)?;
        let port =
            match crate::drivers::console::terminal_port(&ctx).map_err(super::power::driver_err)? {
                Some(p) => PortChoice::Fixed(p),
                None => PortChoice::Any {
                    had: stored_port(ctx.node),
                },
            };
        let c = &self.config.console;
        match self
            .consoles
            .start(&uuid, source, c.socat_address, c.port_range, port)
            .await
        {
            Ok(addr) => {
                task.node.console_enabled = true;
                task.node
                    .driver_internal_info
                    .insert(PORT_KEY.into(), json!(addr.port()));
                task.node.last_error = None;
            }
            Err(e) => {
                tracing::warn!(node = %uuid, error = %e, "console could not start");
                task.node.last_error = Some(format!(
                    "Failed to start console for node {uuid}: could not listen on {}: {e}",
                    c.socat_address
                ));
            }
        }
        task.save().await
    }

    /// `GET /states/console`: as Ironic, a disabled console is `{false, null}` whatever the
    /// interface (no-console included); an enabled one's interface is validated first.
    pub async fn node_console_info(&self, node: Node) -> Result<Value> {
        let mut n = node;
        let uuid = n.uuid.clone();
        let enabled = n.console_enabled;
        if !enabled {
            return Ok(json!({ "console_enabled": false, "console_info": null }));
        }
        let driver = self.driver_for(&n)?;
        let ctx = crate::drivers::TaskContext::new(&mut n, &[], &self.config);
        driver
            .console
            .validate(&ctx)
            .await
            .map_err(super::power::driver_err)?;
        let info = match (enabled, self.consoles.addr(&uuid)) {
            (true, Some(tcp)) => driver
                .console
                .console_info(&ctx, &self.console_endpoint(&uuid, tcp)),
            _ => Value::Null,
        };
        Ok(json!({ "console_enabled": enabled, "console_info": info }))
    }

    /// A new viewer of node `uuid`'s console (the web UI's terminal).
    pub fn console_attach(&self, uuid: &str) -> Result<Viewer> {
        self.consoles.attach(uuid).ok_or_else(|| {
            E::InvalidParameterValue(format!("Console access is not enabled on node {uuid}"))
        })
    }

    /// Stop a console whose node goes away.
    pub(crate) fn console_forget(&self, uuid: &str) {
        self.consoles.stop(uuid);
    }

    /// At start: reopen the consoles left enabled on nodes this conductor owns.
    pub async fn console_restore(&self) {
        let filter = crate::db::NodeFilter::default();
        let nodes = match super::periodic::all_nodes(self, filter).await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "could not list nodes to restore consoles");
                return;
            }
        };
        let group = self.config.conductor.conductor_group.clone();
        for node in nodes.into_iter().filter(|n| n.console_enabled) {
            if !self.owns(&group, &node.uuid) {
                continue;
            }
            let uuid = node.uuid.clone();
            let restored = match self.acquire(&uuid, super::task::Wait::Configured).await {
                Ok(mut task) => {
                    // Enabled in the database but not running: start it as PUT would.
                    let r = self.set_console_locked(&mut task, true).await;
                    task.release().await;
                    r
                }
                Err(e) => Err(e),
            };
            match restored {
                Ok(()) => tracing::info!(node = %uuid, "console restored"),
                Err(e) => tracing::warn!(node = %uuid, error = %e, "console not restored"),
            }
        }
    }
}

fn stored_port(n: &Node) -> Option<u16> {
    n.driver_internal_info
        .get(PORT_KEY)
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Shared {
        let (input, _) = mpsc::channel(1);
        Shared {
            ring: Mutex::default(),
            tx: broadcast::channel(16).0,
            input,
        }
    }

    #[test]
    fn the_ring_keeps_the_last_256_kib_from_a_line_start() {
        let s = shared();
        s.publish(Bytes::from(vec![b'a'; 1000]));
        assert_eq!(s.attach().replay.len(), 1000);
        let line = Bytes::from(format!("{}\r\n", "x".repeat(98)));
        for _ in 0..(REPLAY_BYTES / 100 + 10) {
            s.publish(line.clone());
        }
        let r = s.attach().replay;
        assert!(
            r.len() <= REPLAY_BYTES && r.len() > REPLAY_BYTES - 100,
            "{}",
            r.len()
        );
        assert!(r.starts_with(b"xxx"), "replay starts at a line");
    }

    #[test]
    fn a_viewer_sees_each_byte_once() {
        let s = shared();
        s.publish(Bytes::from_static(b"one "));
        let mut v = s.attach();
        s.publish(Bytes::from_static(b"two"));
        assert_eq!(&v.replay[..], b"one ");
        assert_eq!(&v.output.try_recv().unwrap()[..], b"two");
        assert!(v.output.try_recv().is_err());
    }

    /// Opens count themselves; each stream says hello and ends at once.
    struct Flaky(std::sync::atomic::AtomicUsize);

    #[async_trait::async_trait]
    impl ConsoleSource for Flaky {
        async fn open(
            &self,
        ) -> std::result::Result<crate::drivers::console::ConsoleStream, crate::drivers::DriverError>
        {
            let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let (tx, output) = mpsc::channel(4);
            let (input, _) = mpsc::channel(4);
            tx.send(Bytes::from(format!("hello {n}\r\n")))
                .await
                .unwrap();
            Ok(crate::drivers::console::ConsoleStream { output, input })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_upstream_is_reopened_with_growing_backoff() {
        let src = Arc::new(Flaky(Default::default()));
        let consoles = Consoles::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        consoles
            .start("n1", src.clone(), ip, None, PortChoice::Any { had: None })
            .await
            .unwrap();
        let opens = || src.0.load(std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(opens(), 1);
        // Retries after 1 s, then 2 s, then 4 s.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(opens(), 2);
        tokio::time::sleep(Duration::from_millis(2000)).await;
        assert_eq!(opens(), 3);
        tokio::time::sleep(Duration::from_millis(2000)).await;
        assert_eq!(opens(), 3, "the backoff doubled");
        let replay = consoles.attach("n1").unwrap().replay;
        let text = String::from_utf8_lossy(&replay);
        assert!(
            text.contains("hello 0") && text.contains("hello 2"),
            "{text}"
        );
        assert!(text.contains("reconnecting in 2s"), "{text}");
        assert!(consoles.stop("n1"));
        assert!(consoles.attach("n1").is_none());
    }

    #[tokio::test]
    async fn ports_come_from_the_range_and_prefer_the_old_one() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let a = bind(ip, None, PortChoice::Any { had: None }).await.unwrap();
        let pa = a.local_addr().unwrap().port();
        drop(a);
        let b = bind(ip, None, PortChoice::Any { had: Some(pa) })
            .await
            .unwrap();
        assert_eq!(b.local_addr().unwrap().port(), pa);
        // The range's only port is taken: a clear error.
        let e = bind(ip, Some((pa, pa)), PortChoice::Any { had: None })
            .await
            .unwrap_err();
        assert!(e.to_string().contains("port_range"), "{e}");
    }
}
