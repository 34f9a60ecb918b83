//! IPMI 2.0 (RMCP+) over ipmi-rs. ipmi-rs is blocking and has no chassis commands, so this
//! module wraps it once: each call runs on the blocking pool, serialized per BMC (BMCs
//! handle one session badly enough), under an overall deadline with retries and backoff.
//! Chassis commands are raw IPMI messages built here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use ipmi_rs::connection::{IpmiConnection, LogicalUnit, Message, Request, RequestTargetAddress};
use ipmi_rs::rmcp::Rmcp;

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum IpmiError {
    #[error("IPMI session with {bmc} could not be established: {reason}")]
    Session { bmc: String, reason: String },
    #[error("BMC {bmc} is not reachable: {reason}")]
    Unreachable { bmc: String, reason: String },
    #[error("BMC {bmc} did not answer within {secs} s")]
    Timeout { bmc: String, secs: u64 },
    #[error("BMC {bmc} rejected {command} with completion code 0x{cc:02x} ({meaning})")]
    Command {
        bmc: String,
        command: &'static str,
        cc: u8,
        meaning: &'static str,
    },
    #[error("BMC {bmc}: {reason}")]
    Protocol { bmc: String, reason: String },
}

impl IpmiError {
    /// Worth another attempt (the network or the BMC may recover).
    fn retryable(&self) -> bool {
        match self {
            IpmiError::Timeout { .. } | IpmiError::Unreachable { .. } => true,
            IpmiError::Session { .. } => false,
            IpmiError::Command { cc, .. } => matches!(cc, 0xc0 | 0xc3 | 0xff),
            IpmiError::Protocol { .. } => false,
        }
    }
}

fn meaning(cc: u8) -> &'static str {
    match cc {
        0xc0 => "node busy",
        0xc1 => "invalid command",
        0xc3 => "timeout",
        0xc9 => "parameter out of range",
        0xcc => "invalid data field",
        0xd4 => "insufficient privilege",
        0xd5 => "not supported in present state",
        _ => "error",
    }
}

/// Where and how to reach a BMC. The password never appears in Debug output or errors.
#[derive(Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Session privilege to raise to: 4 administrator, 3 operator, 2 user.
    pub privilege: u8,
    /// Per-attempt socket timeout; and the whole call's budget across retries.
    pub attempt_timeout: Duration,
    pub total_timeout: Duration,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Target({}:{} user={:?} password=******)",
            self.host, self.port, self.username
        )
    }
}

impl Target {
    fn name(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// Chassis Control actions (IPMI 2.0 §28.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chassis {
    PowerDown = 0,
    PowerUp = 1,
    PowerCycle = 2,
    HardReset = 3,
    DiagnosticInterrupt = 4,
    SoftShutdown = 5,
}

/// Boot devices of Set System Boot Options parameter 5 (device selector, bits 5:2).
pub const BOOT_DEVICES: &[(&str, u8)] = &[
    ("pxe", 0x04),
    ("disk", 0x08),
    ("safe", 0x0c),
    ("cdrom", 0x14),
    ("bios", 0x18),
    ("floppy", 0x3c),
];

/// One BMC at a time: a lock per host:port.
fn bmc_lock(key: &str) -> Arc<Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<String, Arc<Mutex<()>>>>> = OnceLock::new();
    lock_in(LOCKS.get_or_init(|| Mutex::new(HashMap::new())), key)
}

/// Locks kept before idle ones are dropped: without this, every BMC address ever used
/// (nodes deleted, addresses patched) kept its entry for the life of the process.
const IDLE_LOCKS_KEPT: usize = 64;

fn lock_in(map: &Mutex<HashMap<String, Arc<Mutex<()>>>>, key: &str) -> Arc<Mutex<()>> {
    let mut m = match map.lock() {
        Ok(m) => m,
        Err(p) => p.into_inner(),
    };
    if let Some(l) = m.get(key) {
        return l.clone();
    }
    if m.len() >= IDLE_LOCKS_KEPT {
        // Only the map holds an idle lock; one in use (or waited for) has other owners.
        m.retain(|_, l| Arc::strong_count(l) > 1);
    }
    m.entry(key.to_string())
        .or_insert_with(|| Arc::new(Mutex::new(())))
        .clone()
}

struct Session {
    conn: Rmcp,
    bmc: String,
}

impl Session {
    fn open(t: &Target) -> Result<Session, IpmiError> {
        let bmc = t.name();
        let mut conn =
            Rmcp::new(bmc.as_str(), t.attempt_timeout).map_err(|e| IpmiError::Session {
                bmc: bmc.clone(),
                reason: e.to_string(),
            })?;
        conn.activate(
            true,
            t.username.as_deref(),
            t.password.as_deref().map(str::as_bytes),
        )
        .map_err(|e| classify(&bmc, t, e))?;
        let mut s = Session { conn, bmc };
        // ipmi-rs asks for ADMINISTRATOR in RAKP1 but leaves the session at USER;
        // Set Session Privilege Level raises it (chassis commands need OPERATOR+).
        s.raw("Set Session Privilege Level", 0x06, 0x3b, vec![t.privilege])?;
        Ok(s)
    }

    fn raw(
        &mut self,
        command: &'static str,
        netfn: u8,
        cmd: u8,
        data: Vec<u8>,
    ) -> Result<Vec<u8>, IpmiError> {
        let mut req = Request::new(
            Message::new_raw(netfn, cmd, data),
            RequestTargetAddress::Bmc(LogicalUnit::Zero),
        );
        let resp = self.conn.send_recv(&mut req).map_err(|e| {
            let text = format!("{e:?}");
            if text.contains("WouldBlock")
                || text.contains("TimedOut")
                || text.to_lowercase().contains("timed out")
            {
                IpmiError::Timeout {
                    bmc: self.bmc.clone(),
                    secs: 0,
                }
            } else {
                IpmiError::Protocol {
                    bmc: self.bmc.clone(),
                    reason: format!("{command}: {text}"),
                }
            }
        })?;
        match resp.cc() {
            0 => Ok(resp.data().to_vec()),
            cc => Err(IpmiError::Command {
                bmc: self.bmc.clone(),
                command,
                cc,
                meaning: meaning(cc),
            }),
        }
    }
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    )
}

/// Session set-up failures by cause: network (retry), not a BMC, or credentials (final).
fn classify(bmc: &str, t: &Target, e: ipmi_rs::rmcp::ActivationError) -> IpmiError {
    use ipmi_rs::rmcp::ActivationError as A;
    let bmc = bmc.to_string();
    match e {
        A::BindSocket(io) | A::PingSend(io) | A::PongReceive(io) if timed_out(&io) => {
            IpmiError::Timeout {
                bmc,
                secs: t.attempt_timeout.as_secs(),
            }
        }
        A::BindSocket(io) | A::PingSend(io) | A::PongReceive(io) => IpmiError::Unreachable {
            bmc,
            reason: io.to_string(),
        },
        A::PongRead | A::IpmiNotSupported | A::NoSupportedIpmiLANVersions | A::RmcpError(_) => {
            IpmiError::Protocol {
                bmc,
                reason: "the host does not speak IPMI 2.0 over RMCP+".into(),
            }
        }
        A::GetChannelAuthenticationCapabilities(e) => IpmiError::Protocol {
            bmc,
            reason: format!("Get Channel Authentication Capabilities failed: {e:?}"),
        },
        other => {
            let text = format!("{other:?}");
            if text.contains("TimedOut") || text.contains("WouldBlock") {
                IpmiError::Timeout {
                    bmc,
                    secs: t.attempt_timeout.as_secs(),
                }
            } else {
                // RAKP failures: wrong user or password, or a cipher suite the BMC refuses.
                IpmiError::Session { bmc, reason: format!("authentication failed (check ipmi_username, ipmi_password and the BMC's cipher suites): {text}") }
            }
        }
    }
}

/// Run `f` in a session with `t`: serialized per BMC, off the async runtime, retried with
/// backoff within `t.total_timeout`.
async fn with_session<T, F>(t: &Target, f: F) -> Result<T, IpmiError>
where
    T: Send + 'static,
    F: Fn(&mut Session) -> Result<T, IpmiError> + Send + Sync + 'static,
{
    let t = t.clone();
    let bmc = t.name();
    let job = tokio::task::spawn_blocking(move || {
        let lock = bmc_lock(&bmc);
        let _held = match lock.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let deadline = Instant::now() + t.total_timeout;
        let mut backoff = Duration::from_millis(200);
        loop {
            let attempt = Session::open(&t).and_then(|mut s| f(&mut s));
            match attempt {
                Ok(v) => return Ok(v),
                Err(e) if e.retryable() && Instant::now() + backoff < deadline => {
                    tracing::debug!(bmc = %bmc, error = %e, "IPMI attempt failed; retrying");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(IpmiError::Timeout { bmc, .. }) => {
                    return Err(IpmiError::Timeout {
                        bmc,
                        secs: t.total_timeout.as_secs(),
                    })
                }
                Err(e) => return Err(e),
            }
        }
    });
    job.await.map_err(|e| IpmiError::Protocol {
        bmc: "unknown".into(),
        reason: format!("IPMI worker failed: {e}"),
    })?
}

/// Chassis power: true when on (Get Chassis Status, byte 1 bit 0).
pub async fn power_status(t: &Target) -> Result<bool, IpmiError> {
    with_session(t, |s| {
        let d = s.raw("Get Chassis Status", 0x00, 0x01, vec![])?;
        d.first()
            .map(|b| b & 1 == 1)
            .ok_or_else(|| IpmiError::Protocol {
                bmc: s.bmc.clone(),
                reason: "empty Get Chassis Status reply".into(),
            })
    })
    .await
}

pub async fn chassis_control(t: &Target, action: Chassis) -> Result<(), IpmiError> {
    with_session(t, move |s| {
        s.raw("Chassis Control", 0x00, 0x02, vec![action as u8])
            .map(|_| ())
    })
    .await
}

/// Set System Boot Options parameter 5: device, persistence, EFI boot.
pub async fn set_boot_device(
    t: &Target,
    device: &str,
    persistent: bool,
    uefi: bool,
) -> Result<(), IpmiError> {
    let selector = BOOT_DEVICES
        .iter()
        .find(|(n, _)| *n == device)
        .map(|(_, s)| *s)
        .ok_or_else(|| IpmiError::Protocol {
            bmc: t.name(),
            reason: format!("unknown boot device {device}"),
        })?;
    let data1 = 0x80 | if persistent { 0x40 } else { 0 } | if uefi { 0x20 } else { 0 };
    with_session(t, move |s| {
        s.raw(
            "Set System Boot Options",
            0x00,
            0x08,
            vec![0x05, data1, selector, 0, 0, 0],
        )
        .map(|_| ())
    })
    .await
}

/// Get System Boot Options parameter 5 → (device, persistent); None when the BMC reports
/// no valid override.
pub async fn get_boot_device(t: &Target) -> Result<(Option<String>, Option<bool>), IpmiError> {
    with_session(t, |s| {
        let d = s.raw(
            "Get System Boot Options",
            0x00,
            0x09,
            vec![0x05, 0x00, 0x00],
        )?;
        // [parameter version, parameter selector, data1, data2, ...]
        let (Some(data1), Some(data2)) = (d.get(2), d.get(3)) else {
            return Err(IpmiError::Protocol {
                bmc: s.bmc.clone(),
                reason: "short Get System Boot Options reply".into(),
            });
        };
        let device = BOOT_DEVICES
            .iter()
            .find(|(_, sel)| *sel == data2 & 0x3c)
            .map(|(n, _)| n.to_string());
        Ok((device, Some(data1 & 0x40 != 0)))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bmc_locks_do_not_pile_up() {
        let map = Mutex::new(HashMap::new());
        let held = lock_in(&map, "10.0.0.1:623");
        let guard = held.lock().unwrap();
        for i in 0..1000 {
            drop(lock_in(&map, &format!("10.1.{}.{}:623", i / 250, i % 250)));
        }
        let n = map.lock().unwrap().len();
        assert!(n <= IDLE_LOCKS_KEPT, "{n} locks kept");
        // The lock in use survived: the same BMC still serializes on it.
        assert!(Arc::ptr_eq(&held, &lock_in(&map, "10.0.0.1:623")));
        drop(guard);
    }

    #[test]
    fn password_never_printed() {
        let t = Target {
            host: "h".into(),
            port: 623,
            username: Some("u".into()),
            password: Some("hunter2".into()),
            privilege: 4,
            attempt_timeout: Duration::from_secs(1),
            total_timeout: Duration::from_secs(1),
        };
        assert!(!format!("{t:?}").contains("hunter2"));
    }

    #[tokio::test]
    async fn unreachable_bmc_fails_within_its_budget() {
        // A UDP port on loopback with nobody listening.
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = sock.local_addr().unwrap().port();
        drop(sock);
        let t = Target {
            host: "127.0.0.1".into(),
            port,
            username: Some("u".into()),
            password: Some("p".into()),
            privilege: 4,
            attempt_timeout: Duration::from_millis(300),
            total_timeout: Duration::from_secs(2),
        };
        let start = Instant::now();
        let r = power_status(&t).await;
        assert!(r.is_err(), "{r:?}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "took {:?}",
            start.elapsed()
        );
    }
}
