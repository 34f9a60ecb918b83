//! IPMI Serial-over-LAN, spoken natively over RMCP+ (no ipmitool): [`open`] establishes
//! a session, deactivates any stale SOL payload, activates SOL and hands back a pair of
//! byte channels; a task per session moves bytes, acks, retransmits and keeps it alive.
//! Files: `crypto` (keys, integrity, AES), `packet` (wire formats), `session` (RMCP+
//! handshake and commands), `state` (the SOL sequencing state machine).

mod crypto;
mod packet;
mod session;
mod state;

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::bmc::ipmi::IpmiError;
use crypto::Suite;
use packet::{SolPacket, PAYLOAD_IPMI, PAYLOAD_SOL};
use session::Session;
use state::SolState;

/// Where the BMC is. The password never appears in Debug output, errors or logs.
#[derive(Clone)]
pub struct SolTarget {
    pub address: String,
    pub port: u16,
    pub username: String,
    pub password: String,
    /// 3 or 17 to try first (the other is the fallback); None: 3 first.
    pub cipher_suite: Option<u8>,
    /// Session privilege (driver_info ipmi_priv_level): 4 administrator, 3 operator,
    /// 2 user, 1 callback. Asked for in RAKP and set once the session is up.
    pub privilege: u8,
}

impl std::fmt::Debug for SolTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SolTarget({}:{} user={:?} password=****** cipher_suite={:?})",
            self.address, self.port, self.username, self.cipher_suite
        )
    }
}

/// A live SOL session. `output` yields console bytes and ends (None) when the session
/// does; bytes sent to `input` go to the serial port. Dropping either ends the session:
/// the payload is deactivated and the RMCP+ session closed.
pub struct SolHandle {
    pub output: mpsc::Receiver<Bytes>,
    pub input: mpsc::Sender<Bytes>,
}

/// Keep-alive period: a Get Device ID so the BMC does not time the session out.
const KEEPALIVE: Duration = Duration::from_secs(10);
/// No authenticated packet from the BMC for this long (keep-alives answered included):
/// the session is gone.
const SILENCE_LIMIT: Duration = Duration::from_secs(40);
const TICK: Duration = Duration::from_millis(100);
const NETFN_APP: u8 = 0x06;
/// SOL payload, instance 1: the data of Activate / Deactivate Payload.
const SOL_INSTANCE_1: [u8; 2] = [PAYLOAD_SOL, 1];

/// Opens RMCP+, deactivates a stale SOL payload, activates SOL.
pub async fn open(target: SolTarget) -> Result<SolHandle, IpmiError> {
    let bmc = format!("{}:{}", target.address, target.port);
    let order = match target.cipher_suite {
        None | Some(3) => [Suite::Sha1, Suite::Sha256],
        Some(17) => [Suite::Sha256, Suite::Sha1],
        Some(other) => {
            return Err(IpmiError::Session {
                bmc,
                reason: format!("cipher suite {other} is not supported (3 or 17 are)"),
            })
        }
    };
    let mut s = match Session::open(&target, order[0]).await {
        // Only a refused Open Session (no matching algorithms) is worth the other suite.
        Err(IpmiError::Command {
            command: "Open Session",
            ..
        }) => Session::open(&target, order[1]).await?,
        r => r?,
    };
    match activate(&mut s).await {
        Ok(max_payload) => {
            let (out_tx, out_rx) = mpsc::channel(64);
            let (in_tx, in_rx) = mpsc::channel(64);
            tracing::info!(bmc = %s.bmc, cipher_suite = s.cipher_suite(), "SOL session active");
            tokio::spawn(run(s, SolState::new(max_payload), out_tx, in_rx));
            Ok(SolHandle {
                output: out_rx,
                input: in_tx,
            })
        }
        Err(e) => {
            s.close().await;
            Err(e)
        }
    }
}

/// Deactivate Payload (a stale SOL session, left by a crashed client or another tool,
/// otherwise makes activation fail with 0x80), then Activate Payload. Returns the largest
/// payload the BMC takes from us.
async fn activate(s: &mut Session) -> Result<usize, IpmiError> {
    let mut data = SOL_INSTANCE_1.to_vec();
    data.extend_from_slice(&[0, 0, 0, 0]);
    // 0x80: nothing was active.
    s.command_ok("Deactivate Payload", NETFN_APP, 0x49, &data, &[0x80])
        .await?;
    let mut act = SOL_INSTANCE_1.to_vec();
    // Encrypted and authenticated SOL; serial alerts deferred while SOL is active.
    act.extend_from_slice(&[0xc0 | 0x04, 0, 0, 0]);
    let r = s
        .command_ok("Activate Payload", NETFN_APP, 0x48, &act, &[])
        .await?;
    let mut rd = packet::Reader::new(&r.data);
    rd.take(4);
    // Absent or absurd sizes fall back to the smallest every BMC must take.
    let inbound = rd.u16().map(usize::from).filter(|n| *n >= 5).unwrap_or(64);
    Ok(inbound.min(255 + 4))
}

/// Typed input held for the BMC at most (a few SOL packets' worth).
const MAX_QUEUED_INPUT: usize = 4096;

async fn run(
    mut s: Session,
    mut st: SolState,
    out: mpsc::Sender<Bytes>,
    mut input: mpsc::Receiver<Bytes>,
) {
    let mut buf = vec![0u8; 2048];
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    let mut last_keepalive = Instant::now();
    let mut rq_seq: u8 = 0x20;
    let why = 'session: loop {
        tokio::select! {
            _ = out.closed() => break 'session "output dropped",
            inp = input.recv(), if st.queued() < MAX_QUEUED_INPUT => match inp {
                Some(b) => st.push_input(&b),
                None => break 'session "input dropped",
            },
            r = s.recv(&mut buf) => {
                let Ok(n) = r else { break 'session "socket error" };
                let Some(p) = s.accept(buf.get(..n).unwrap_or_default()) else {
                    continue;
                };
                last_heard = Instant::now();
                if p.payload_type != PAYLOAD_SOL {
                    continue; // keep-alive answers
                }
                let Some(sol) = SolPacket::decode(&p.payload) else { continue };
                let got = st.on_packet(&sol, Instant::now());
                if let Some(ack) = got.ack {
                    if s.send(PAYLOAD_SOL, &ack.encode()).await.is_err() {
                        break 'session "socket error";
                    }
                }
                if !got.output.is_empty() && out.send(Bytes::from(got.output)).await.is_err() {
                    break 'session "output dropped";
                }
                if got.deactivating {
                    break 'session "the BMC deactivated SOL";
                }
            }
            _ = tick.tick() => {
                let now = Instant::now();
                if now.duration_since(last_heard) > SILENCE_LIMIT {
                    break 'session "the BMC stopped answering";
                }
                if now.duration_since(last_keepalive) >= KEEPALIVE {
                    last_keepalive = now;
                    rq_seq = if rq_seq >= 0x3f { 0x20 } else { rq_seq + 1 };
                    // Get Device ID; its answer only refreshes `last_heard`.
                    let msg = packet::ipmi_request(NETFN_APP, 0x01, rq_seq, &[]);
                    if s.send(PAYLOAD_IPMI, &msg).await.is_err() {
                        break 'session "socket error";
                    }
                }
            }
        }
        while let Some(p) = st.poll_send(Instant::now()) {
            if s.send(PAYLOAD_SOL, &p.encode()).await.is_err() {
                break 'session "socket error";
            }
        }
    };
    if !st.idle() {
        tracing::debug!(bmc = %s.bmc, "SOL input still unsent at the end was dropped");
    }
    if st.dropped > 0 {
        tracing::warn!(bmc = %s.bmc, bytes = st.dropped, "SOL input the BMC never acknowledged was dropped");
    }
    tracing::info!(bmc = %s.bmc, reason = why, "SOL session ending");
    drop(out);
    // Deactivate only while the payload is still ours: a newer session may already have
    // taken it over (its open deactivated ours), and Deactivate Payload would end theirs.
    // Get Payload Instance Info names the owning session.
    let owner = s.command(NETFN_APP, 0x4b, &SOL_INSTANCE_1).await;
    if let Ok(r) = owner {
        if r.cc == 0 && r.data.get(..4) == Some(&s.bmc_session_id().to_le_bytes()[..]) {
            let mut data = SOL_INSTANCE_1.to_vec();
            data.extend_from_slice(&[0, 0, 0, 0]);
            let _ = s.command(NETFN_APP, 0x49, &data).await;
        }
    }
    // Closing the session also ends any payload it still owns.
    s.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_never_printed() {
        let t = SolTarget {
            address: "10.0.0.1".into(),
            port: 623,
            username: "admin".into(),
            password: "s3cret-pw".into(),
            cipher_suite: None,
            privilege: 4,
        };
        assert!(!format!("{t:?}").contains("s3cret"));
    }

    #[tokio::test]
    async fn unsupported_cipher_suite_is_a_clear_error() {
        let t = SolTarget {
            address: "127.0.0.1".into(),
            port: 9,
            username: "admin".into(),
            password: "x".into(),
            cipher_suite: Some(1),
            privilege: 4,
        };
        let e = open(t)
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("cipher suite 1 is not supported"), "{e}");
    }
}
