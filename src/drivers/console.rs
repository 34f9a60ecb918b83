//! Console interfaces: `fake` (a made-up, readable boot log that echoes what is typed) and
//! `ipmitool-socat` (Ironic's name, kept for clients that set it; here IPMI Serial-over-LAN
//! spoken natively through `bmc::sol`, no ipmitool or socat). A console interface does not
//! run sessions: it checks driver_info and hands the conductor a [`ConsoleSource`] to open
//! (and reopen) the upstream byte stream; the conductor shares it among viewers and serves
//! it on a TCP port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::*;

/// One open upstream console: bytes from the machine; bytes typed to it. The stream has
/// ended when `output` yields `None`; dropping both ends closes it.
pub struct ConsoleStream {
    pub output: mpsc::Receiver<Bytes>,
    pub input: mpsc::Sender<Bytes>,
}

/// What opens a node's console (again after a drop). Holds its own copy of what it needs
/// (credentials included), so it outlives the task that built it.
#[async_trait]
pub trait ConsoleSource: Send + Sync {
    async fn open(&self) -> Result<ConsoleStream, DriverError>;
}

/// Where the conductor serves an enabled console.
#[derive(Debug, Clone)]
pub struct ConsoleEndpoint {
    /// The raw TCP port (`[console] socat_address` and the node's port).
    pub tcp: SocketAddr,
    /// The node's console page in the web UI, when the API's address is known.
    pub ui: Option<String>,
}

impl ConsoleEndpoint {
    pub fn socat(&self) -> Value {
        json!({"type": "socat", "url": format!("tcp://{}", self.tcp)})
    }
}

/// `console_info` of a fake console: the UI page if known, else the TCP port.
pub fn fake_info(at: &ConsoleEndpoint) -> Value {
    match &at.ui {
        Some(url) => json!({"type": "web", "url": url}),
        None => at.socat(),
    }
}

/// `driver_info.ipmi_terminal_port`: the TCP port this node's console must use (Ironic's key).
pub fn terminal_port(ctx: &TaskContext<'_>) -> Result<Option<u16>, DriverError> {
    let v = match ctx.node.driver_info.get("ipmi_terminal_port") {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => v,
    };
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match n.and_then(|n| u16::try_from(n).ok()).filter(|p| *p > 0) {
        Some(p) => Ok(Some(p)),
        None => Err(DriverError::InvalidParameterValue(format!(
            "Invalid ipmi_terminal_port {v}; it must be a TCP port number (1-65535)"
        ))),
    }
}

// ---------------------------------------------------------------------------------------
// fake

/// The `fake` console of fake-hardware.
pub struct FakeConsole;

#[async_trait]
impl StepInterface for FakeConsole {
    async fn validate(&self, _: &TaskContext<'_>) -> Result<(), DriverError> {
        Ok(())
    }
}

#[async_trait]
impl ConsoleInterface for FakeConsole {
    fn source(&self, ctx: &TaskContext<'_>) -> Result<Arc<dyn ConsoleSource>, DriverError> {
        Ok(Arc::new(FakeLog {
            host: host_name(ctx.node.name.as_deref().unwrap_or("localhost")),
        }))
    }
    fn console_info(&self, _: &TaskContext<'_>, at: &ConsoleEndpoint) -> Value {
        fake_info(at)
    }
}

/// A node name as a host name in the fake log (it is only ever text, but keep it tidy).
fn host_name(name: &str) -> String {
    let h: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .take(63)
        .collect();
    if h.is_empty() {
        "localhost".into()
    } else {
        h
    }
}

struct FakeLog {
    host: String,
}

/// (milliseconds to wait before the line, the line): about three seconds in all.
const FAKE_BOOT: &[(u64, &str)] = &[
    (0, "\x1b[2J\x1b[HFakeBIOS 2.7.1 (ironbox fake-hardware)"),
    (80, "CPU: Fake(R) Xeon(R) CPU @ 2.40GHz, 4 cores"),
    (80, "Memory test: 16384M OK"),
    (120, "Booting from NIC 0 (PXE)..."),
    (
        150,
        "iPXE 1.21.1 -- Open Source Network Boot Firmware -- https://ipxe.org",
    ),
    (120, "net0: 52:54:00:12:34:56 using virtio-net on 0000:00:03.0"),
    (150, "DHCP (net0 52:54:00:12:34:56)... ok"),
    (80, "net0: 192.0.2.10/255.255.255.0 gw 192.0.2.1"),
    (100, "http://192.0.2.1:8080/boot.ipxe... ok"),
    (120, "vmlinuz... ok"),
    (120, "initramfs... ok"),
    (150, "[    0.000000] Linux version 6.1.0-ironbox (fake@ironbox) (gcc 12.2.0) #1 SMP PREEMPT_DYNAMIC"),
    (40, "[    0.000000] Command line: console=ttyS0,115200n8 ipa-api-url=http://192.0.2.1:6385"),
    (40, "[    0.000000] BIOS-provided physical RAM map:"),
    (40, "[    0.004120] DMI: ironbox fake-hardware/Fake Board, BIOS 2.7.1 01/01/2026"),
    (60, "[    0.212345] Memory: 16239876K/16776728K available"),
    (60, "[    0.401002] smpboot: CPU0: Fake(R) Xeon(R) CPU @ 2.40GHz (family: 0x6)"),
    (80, "[    0.812113] virtio_net virtio0 enp0s3: renamed from eth0"),
    (80, "[    1.020304] Freeing unused kernel image (initmem) memory: 2468K"),
    (80, "[    1.100000] Run /init as init process"),
    (150, "[  OK  ] Reached target Local File Systems."),
    (100, "[  OK  ] Started Journal Service."),
    (100, "[  OK  ] Started Network Configuration."),
    (100, "[  OK  ] Reached target Network is Online."),
    (150, "[  OK  ] Started ironbox deploy agent."),
    (100, "[  OK  ] Started Serial Getty on ttyS0."),
    (80, "[  OK  ] Reached target Multi-User System."),
    (120, ""),
    (0, "Debian GNU/Linux 12 {host} ttyS0"),
    (0, ""),
];

#[async_trait]
impl ConsoleSource for FakeLog {
    async fn open(&self) -> Result<ConsoleStream, DriverError> {
        let (out_tx, output) = mpsc::channel(64);
        let (input, in_rx) = mpsc::channel(64);
        tokio::spawn(fake_session(self.host.clone(), out_tx, in_rx));
        Ok(ConsoleStream { output, input })
    }
}

/// Plays the boot log, then a login prompt that refuses every login, echoing what is typed.
/// Ends when the reader or the writer goes away.
async fn fake_session(host: String, out: mpsc::Sender<Bytes>, mut input: mpsc::Receiver<Bytes>) {
    let prompt = format!("{host} login: ");
    let send = |s: String| {
        let out = out.clone();
        async move { out.send(Bytes::from(s)).await.is_ok() }
    };
    for (wait, line) in FAKE_BOOT {
        tokio::time::sleep(Duration::from_millis(*wait)).await;
        if !send(format!("{}\r\n", line.replace("{host}", &host))).await {
            return;
        }
    }
    if !send(prompt.clone()).await {
        return;
    }
    let mut line = Vec::new();
    while let Some(typed) = input.recv().await {
        let mut echo = Vec::with_capacity(typed.len());
        for &b in typed.iter() {
            match b {
                b'\r' | b'\n' => {
                    echo.extend_from_slice(b"\r\n");
                    if !line.is_empty() {
                        echo.extend_from_slice(b"\r\nLogin incorrect\r\n");
                    }
                    echo.extend_from_slice(prompt.as_bytes());
                    line.clear();
                }
                0x7f | 0x08 if line.pop().is_some() => echo.extend_from_slice(b"\x08 \x08"),
                b if b >= 0x20 => {
                    line.push(b);
                    echo.push(b);
                }
                _ => {}
            }
        }
        if !echo.is_empty() && out.send(Bytes::from(echo)).await.is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------
// ipmitool-socat

/// `ipmitool-socat` of the ipmi hardware type: Serial-over-LAN through `bmc::sol`.
pub struct IpmiSocatConsole;

#[async_trait]
impl StepInterface for IpmiSocatConsole {
    async fn validate(&self, ctx: &TaskContext<'_>) -> Result<(), DriverError> {
        super::ipmitool::target(ctx)?;
        terminal_port(ctx)?;
        Ok(())
    }
}

#[async_trait]
impl ConsoleInterface for IpmiSocatConsole {
    fn source(&self, ctx: &TaskContext<'_>) -> Result<Arc<dyn ConsoleSource>, DriverError> {
        Ok(Arc::new(sol::SolSource {
            target: super::ipmitool::target(ctx)?,
        }))
    }
    fn console_info(&self, _: &TaskContext<'_>, at: &ConsoleEndpoint) -> Value {
        at.socat()
    }
}

/// The adapter to `bmc::sol`, the one place that knows its API.
mod sol {
    use super::*;
    use crate::bmc::ipmi::Target;
    use crate::bmc::sol::{self as bmc_sol, SolTarget};

    pub struct SolSource {
        pub target: Target,
    }

    #[async_trait]
    impl ConsoleSource for SolSource {
        async fn open(&self) -> Result<ConsoleStream, DriverError> {
            let t = &self.target;
            let h = bmc_sol::open(SolTarget {
                address: t.host.clone(),
                port: t.port,
                username: t.username.clone().unwrap_or_default(),
                password: t.password.clone().unwrap_or_default(),
                // ipmitool::target accepts only suite 3 (or none), which SOL tries first.
                cipher_suite: None,
                privilege: t.privilege,
            })
            .await
            .map_err(DriverError::client)?;
            Ok(ConsoleStream {
                output: h.output,
                input: h.input,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_until(s: &mut ConsoleStream, want: &str) -> String {
        let mut got = String::new();
        while !got.contains(want) {
            let b = tokio::time::timeout(Duration::from_secs(10), s.output.recv())
                .await
                .expect("in time")
                .expect("open");
            got.push_str(&String::from_utf8_lossy(&b));
        }
        got
    }

    #[tokio::test]
    async fn fake_log_boots_to_a_login_prompt_and_echoes() {
        let src = FakeLog {
            host: host_name("<node 1>"),
        };
        let mut s = src.open().await.unwrap();
        let log = read_until(&mut s, "node1 login: ").await;
        assert!(log.contains("Linux version"), "{log}");
        assert!(log.contains("iPXE"), "{log}");
        s.input.send(Bytes::from_static(b"root\r")).await.unwrap();
        let more = read_until(&mut s, "Login incorrect").await;
        assert!(more.starts_with("root"), "{more}");
    }

    #[test]
    fn terminal_port_is_checked() {
        let cfg = crate::config::Config::defaults().unwrap();
        let mut n = crate::model::node::Node::default();
        for (v, want) in [
            (json!(9000), Ok(Some(9000))),
            (json!("9001"), Ok(Some(9001))),
            (json!(0), Err(())),
            (json!("x"), Err(())),
            (json!(70000), Err(())),
        ] {
            n.driver_info.insert("ipmi_terminal_port".into(), v.clone());
            let ctx = TaskContext::new(&mut n, &[], &cfg);
            assert_eq!(terminal_port(&ctx).map_err(|_| ()), want, "{v}");
        }
    }
}
