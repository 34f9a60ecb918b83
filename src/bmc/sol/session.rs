//! RMCP+ session establishment (IPMI 2.0 §13.15–13.24): Get Channel Authentication
//! Capabilities, Open Session, RAKP 1–4, Set Session Privilege Level; then protected
//! commands and payloads, with every inbound packet's integrity and session sequence
//! number checked.

use std::time::Duration;

use tokio::net::UdpSocket;

use super::crypto::{user_key, Keys, Suite};
use super::packet::{self, Inbound, Reader};
use super::SolTarget;
use crate::bmc::ipmi::IpmiError;

/// Per-try wait for an answer, and tries per request.
const ANSWER_WAIT: Duration = Duration::from_secs(1);
const TRIES: u32 = 3;
/// RAKP's requested role: the target's privilege, the user looked up by name only (as
/// ipmitool does).
fn role(t: &SolTarget) -> u8 {
    (t.privilege & 0x0f) | 0x10
}
const NETFN_APP: u8 = 0x06;

pub struct Session {
    sock: UdpSocket,
    pub bmc: String,
    keys: Keys,
    /// The BMC's ID for this session (goes in our packets) and ours (in its packets).
    bmc_sid: u32,
    our_sid: u32,
    out_seq: u32,
    window: SeqWindow,
    rq_seq: u8,
}

/// Replay protection for inbound session sequence numbers: a number is accepted once,
/// and only if it is newer than, or at most 16 behind, the highest seen (§6.12.13).
#[derive(Debug, Default)]
pub struct SeqWindow {
    highest: u32,
    /// Bit i set: `highest - i` was seen.
    seen: u32,
}

impl SeqWindow {
    pub fn accept(&mut self, seq: u32) -> bool {
        if seq == 0 {
            return false;
        }
        if seq > self.highest {
            let shift = seq - self.highest;
            self.seen = if shift >= 32 { 0 } else { self.seen << shift };
            self.seen |= 1;
            self.highest = seq;
            return true;
        }
        let back = self.highest - seq;
        if back >= 16 || self.seen & (1 << back) != 0 {
            return false;
        }
        self.seen |= 1 << back;
        true
    }
}

fn session_err(bmc: &str, reason: impl Into<String>) -> IpmiError {
    IpmiError::Session {
        bmc: bmc.to_string(),
        reason: reason.into(),
    }
}

fn protocol(bmc: &str, reason: impl Into<String>) -> IpmiError {
    IpmiError::Protocol {
        bmc: bmc.to_string(),
        reason: reason.into(),
    }
}

/// A RAKP 2 or 4 message's header (tag, status, reserved, our session ID) checked; the
/// reader is left at the message's body.
fn rakp_reply<'a>(
    resp: &'a [u8],
    bmc: &str,
    our_sid: u32,
    name: &str,
) -> Result<Reader<'a>, IpmiError> {
    let mut r = Reader::new(resp);
    let (_tag, status) = (r.u8(), r.u8());
    if status != Some(0) {
        let code = status.unwrap_or(0xff);
        return Err(session_err(
            bmc,
            format!("{name} refused: {} (0x{code:02x})", status_text(code)),
        ));
    }
    let bad = |what: &str| protocol(bmc, format!("malformed {name}{what}"));
    r.take(2).ok_or_else(|| bad(""))?;
    if r.u32() != Some(our_sid) {
        return Err(bad(" (session ID)"));
    }
    Ok(r)
}

/// RMCP+ status codes (IPMI 2.0 table 13-15) in words.
fn status_text(code: u8) -> &'static str {
    match code {
        0x01 => "insufficient resources to create a session",
        0x02 => "invalid session ID",
        0x04 => "invalid role",
        0x05 => "unauthorized role or privilege level requested",
        0x06 => "insufficient resources for the requested role",
        0x09 => "invalid authentication algorithm",
        0x0a => "invalid integrity algorithm",
        0x0d => "unauthorized name (unknown user)",
        0x0f => "invalid integrity check value",
        0x10 => "invalid confidentiality algorithm",
        0x11 => "no cipher suite match with proposed security algorithms",
        0x12 => "illegal or unrecognized parameter",
        _ => "error",
    }
}

async fn exchange(
    sock: &UdpSocket,
    bmc: &str,
    req: &[u8],
    mut accept: impl FnMut(&[u8]) -> Option<Vec<u8>>,
) -> Result<Vec<u8>, IpmiError> {
    let mut buf = vec![0u8; 2048];
    for _ in 0..TRIES {
        sock.send(req).await.map_err(|e| IpmiError::Unreachable {
            bmc: bmc.to_string(),
            reason: e.to_string(),
        })?;
        let deadline = tokio::time::Instant::now() + ANSWER_WAIT;
        loop {
            match tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
                Err(_) => break,
                Ok(Err(e)) => {
                    return Err(IpmiError::Unreachable {
                        bmc: bmc.to_string(),
                        reason: e.to_string(),
                    })
                }
                Ok(Ok(n)) => {
                    if let Some(got) = accept(buf.get(..n).unwrap_or_default()) {
                        return Ok(got);
                    }
                }
            }
        }
    }
    Err(IpmiError::Timeout {
        bmc: bmc.to_string(),
        secs: (ANSWER_WAIT * TRIES).as_secs(),
    })
}

/// A pre-session RMCP+ exchange: send `payload` of type `ptype`, await type `want`
/// carrying our message tag and session ID.
async fn handshake(
    sock: &UdpSocket,
    bmc: &str,
    ptype: u8,
    payload: &[u8],
    want: u8,
) -> Result<Vec<u8>, IpmiError> {
    let tag = payload.first().copied();
    let req = packet::encode(ptype, 0, 0, payload, None, [0; 16]);
    exchange(sock, bmc, &req, |b| {
        let p = packet::decode(b, None).ok()?;
        (p.payload_type == want && p.payload.first().copied() == tag).then_some(p.payload)
    })
    .await
}

impl Session {
    pub async fn open(t: &SolTarget, suite: Suite) -> Result<Session, IpmiError> {
        let bmc = format!("{}:{}", t.address, t.port);
        let sock = connect(t, &bmc).await?;
        let unreachable = |e: IpmiError| match e {
            IpmiError::Timeout { bmc, secs } => IpmiError::Unreachable {
                bmc,
                reason: format!("no answer to Get Channel Authentication Capabilities in {secs} s"),
            },
            e => e,
        };
        // Get Channel Authentication Capabilities (channel: this one, IPMI 2.0 data).
        let req = packet::v15_request(&packet::ipmi_request(
            NETFN_APP,
            0x38,
            0,
            &[0x8e, t.privilege & 0x0f],
        ));
        let caps = exchange(&sock, &bmc, &req, |b| {
            packet::v15_response(b)
                .ok()
                .filter(|r| r.cmd == 0x38)
                .map(|r| r.data)
        })
        .await
        .map_err(unreachable)?;
        // Byte 2 bit 7: IPMI 2.0 extended capabilities present.
        if caps.get(1).is_some_and(|b| b & 0x80 == 0) {
            return Err(session_err(&bmc, "the BMC does not speak IPMI 2.0 (RMCP+)"));
        }

        let our_sid: u32 = rand::random::<u32>() | 1;
        let (auth, integ, conf) = suite.algorithms();
        let mut open = vec![1, 0, 0, 0];
        open.extend_from_slice(&our_sid.to_le_bytes());
        open.extend_from_slice(&[0x00, 0, 0, 0x08, auth, 0, 0, 0]);
        open.extend_from_slice(&[0x01, 0, 0, 0x08, integ, 0, 0, 0]);
        open.extend_from_slice(&[0x02, 0, 0, 0x08, conf, 0, 0, 0]);
        let resp = handshake(
            &sock,
            &bmc,
            packet::OPEN_SESSION_REQ,
            &open,
            packet::OPEN_SESSION_RESP,
        )
        .await?;
        let mut r = Reader::new(&resp);
        let (_tag, status) = (r.u8(), r.u8());
        if status != Some(0) {
            let code = status.unwrap_or(0xff);
            return Err(IpmiError::Command {
                bmc,
                command: "Open Session",
                cc: code,
                meaning: status_text(code),
            });
        }
        let bad = |what: &str| protocol(&bmc, format!("malformed {what}"));
        r.take(2).ok_or_else(|| bad("Open Session response"))?;
        if r.u32() != Some(our_sid) {
            return Err(bad("Open Session response (session ID)"));
        }
        let bmc_sid = r.u32().ok_or_else(|| bad("Open Session response"))?;

        // RAKP 1 / 2.
        let user = t.username.as_bytes();
        if user.len() > 16 {
            return Err(session_err(&bmc, "user name longer than 16 bytes"));
        }
        let rm: [u8; 16] = rand::random();
        let mut rakp1 = vec![2, 0, 0, 0];
        rakp1.extend_from_slice(&bmc_sid.to_le_bytes());
        rakp1.extend_from_slice(&rm);
        rakp1.extend_from_slice(&[role(t), 0, 0, user.len() as u8]);
        rakp1.extend_from_slice(user);
        let resp = handshake(&sock, &bmc, packet::RAKP1, &rakp1, packet::RAKP2).await?;
        let mut r = rakp_reply(&resp, &bmc, our_sid, "RAKP 2")?;
        let rc = r.take(16).ok_or_else(|| bad("RAKP 2"))?;
        let guid = r.take(16).ok_or_else(|| bad("RAKP 2"))?;
        let code = r.take(suite.mac_len()).ok_or_else(|| bad("RAKP 2"))?;
        let kuid = user_key(&t.password);
        let ulen = [user.len() as u8];
        let expect = suite.hmac(
            &kuid,
            &[
                &our_sid.to_le_bytes(),
                &bmc_sid.to_le_bytes(),
                &rm,
                rc,
                guid,
                &[role(t)],
                &ulen,
                user,
            ],
        );
        let mut rakp3 = vec![3, 0, 0, 0];
        rakp3.extend_from_slice(&bmc_sid.to_le_bytes());
        if !bool::from(subtle::ConstantTimeEq::ct_eq(expect.as_slice(), code)) {
            // Tell the BMC (status 0x0f, invalid integrity check value), so it frees the
            // half-open session at once.
            let mut refuse = vec![3, 0x0f, 0, 0];
            refuse.extend_from_slice(&bmc_sid.to_le_bytes());
            let _ = sock
                .send(&packet::encode(packet::RAKP3, 0, 0, &refuse, None, [0; 16]))
                .await;
            return Err(session_err(
                &bmc,
                "authentication failed: wrong user name or password",
            ));
        }
        let code3 = suite.hmac(
            &kuid,
            &[rc, &our_sid.to_le_bytes(), &[role(t)], &ulen, user],
        );
        rakp3.extend_from_slice(&code3);
        let resp = handshake(&sock, &bmc, packet::RAKP3, &rakp3, packet::RAKP4).await?;
        let mut r = rakp_reply(&resp, &bmc, our_sid, "RAKP 4")?;
        let icv = r.take(suite.icv_len()).ok_or_else(|| bad("RAKP 4"))?;
        let keys = Keys::derive(suite, &kuid, &rm, rc, role(t), user);
        let mut want = suite.hmac(&keys.sik, &[&rm, &bmc_sid.to_le_bytes(), guid]);
        want.truncate(suite.icv_len());
        if !bool::from(subtle::ConstantTimeEq::ct_eq(want.as_slice(), icv)) {
            return Err(session_err(&bmc, "RAKP 4 integrity check value is wrong"));
        }

        let mut s = Session {
            sock,
            bmc,
            keys,
            bmc_sid,
            our_sid,
            out_seq: 0,
            window: SeqWindow::default(),
            rq_seq: 0,
        };
        // Set Session Privilege Level: the target's. Refused: close the session now rather
        // than leave one of the BMC's few slots taken until its timeout (we retry soon).
        if let Err(e) = s
            .command_ok(
                "Set Session Privilege Level",
                NETFN_APP,
                0x3b,
                &[t.privilege & 0x0f],
                &[],
            )
            .await
        {
            s.close().await;
            return Err(e);
        }
        Ok(s)
    }

    /// The BMC's ID of this session.
    pub fn bmc_session_id(&self) -> u32 {
        self.bmc_sid
    }

    pub fn cipher_suite(&self) -> u8 {
        self.keys.suite.id()
    }

    /// Sends one protected payload.
    pub async fn send(&mut self, ptype: u8, payload: &[u8]) -> Result<(), IpmiError> {
        self.out_seq = self.out_seq.wrapping_add(1).max(1);
        let p = packet::encode(
            ptype,
            self.bmc_sid,
            self.out_seq,
            payload,
            Some(&self.keys),
            rand::random(),
        );
        self.sock
            .send(&p)
            .await
            .map(|_| ())
            .map_err(|e| IpmiError::Unreachable {
                bmc: self.bmc.clone(),
                reason: e.to_string(),
            })
    }

    /// Checks a datagram from the BMC: ours, intact, and not a replay. Anything else is
    /// dropped (None).
    pub fn accept(&mut self, buf: &[u8]) -> Option<Inbound> {
        let p = packet::decode(buf, Some(&self.keys)).ok()?;
        if p.session_id != self.our_sid || !self.window.accept(p.seq) {
            return None;
        }
        Some(p)
    }

    pub async fn recv(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.sock.recv(buf).await
    }

    /// Sends an IPMI request; returns its response message (packet sequence number
    /// matched). Other packets arriving meanwhile (SOL data) are dropped.
    pub async fn command(
        &mut self,
        netfn: u8,
        cmd: u8,
        data: &[u8],
    ) -> Result<packet::IpmiResponse, IpmiError> {
        self.rq_seq = (self.rq_seq + 1) & 0x3f;
        let rq = self.rq_seq;
        let msg = packet::ipmi_request(netfn, cmd, rq, data);
        let mut buf = vec![0u8; 2048];
        for _ in 0..TRIES {
            self.send(packet::PAYLOAD_IPMI, &msg).await?;
            let deadline = tokio::time::Instant::now() + ANSWER_WAIT;
            while let Ok(n) = tokio::time::timeout_at(deadline, self.sock.recv(&mut buf)).await {
                let n = n.map_err(|e| IpmiError::Unreachable {
                    bmc: self.bmc.clone(),
                    reason: e.to_string(),
                })?;
                let Some(p) = self.accept(buf.get(..n).unwrap_or_default()) else {
                    continue;
                };
                if p.payload_type != packet::PAYLOAD_IPMI {
                    continue;
                }
                if let Ok(r) = packet::ipmi_response(&p.payload) {
                    if r.rq_seq == rq && r.cmd == cmd {
                        return Ok(r);
                    }
                }
            }
        }
        Err(IpmiError::Timeout {
            bmc: self.bmc.clone(),
            secs: (ANSWER_WAIT * TRIES).as_secs(),
        })
    }

    /// A command whose completion code must be 0 or one of `also_ok`.
    pub async fn command_ok(
        &mut self,
        name: &'static str,
        netfn: u8,
        cmd: u8,
        data: &[u8],
        also_ok: &[u8],
    ) -> Result<packet::IpmiResponse, IpmiError> {
        let r = self.command(netfn, cmd, data).await?;
        if r.cc != 0 && !also_ok.contains(&r.cc) {
            return Err(IpmiError::Command {
                bmc: self.bmc.clone(),
                command: name,
                cc: r.cc,
                meaning: sol_meaning(r.cc),
            });
        }
        Ok(r)
    }

    /// Close Session; best effort (the BMC times the session out anyway).
    pub async fn close(&mut self) {
        let id = self.bmc_sid.to_le_bytes();
        let _ = self.command(NETFN_APP, 0x3c, &id).await;
    }
}

/// Completion codes of the payload commands (IPMI 2.0 §24) and the common ones.
fn sol_meaning(cc: u8) -> &'static str {
    match cc {
        0x80 => "payload already active on another session",
        0x81 => "payload type is disabled",
        0x82 => "payload activation limit reached",
        0x83 => "cannot activate payload with encryption",
        0x84 => "cannot activate payload without encryption",
        0xc1 => "invalid command",
        0xcc => "invalid data field",
        0xd4 => "insufficient privilege",
        _ => "error",
    }
}

async fn connect(t: &SolTarget, bmc: &str) -> Result<UdpSocket, IpmiError> {
    let unreachable = |e: std::io::Error| IpmiError::Unreachable {
        bmc: bmc.to_string(),
        reason: e.to_string(),
    };
    let addr = tokio::net::lookup_host((t.address.as_str(), t.port))
        .await
        .map_err(unreachable)?
        .next()
        .ok_or_else(|| IpmiError::Unreachable {
            bmc: bmc.to_string(),
            reason: "the address resolves to nothing".into(),
        })?;
    let local: std::net::SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(local).await.map_err(unreachable)?;
    sock.connect(addr).await.map_err(unreachable)?;
    Ok(sock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_window_refuses_replays_and_old_numbers() {
        let mut w = SeqWindow::default();
        assert!(!w.accept(0));
        assert!(w.accept(1));
        assert!(!w.accept(1));
        assert!(w.accept(5));
        assert!(w.accept(3), "late but inside the window");
        assert!(!w.accept(3));
        assert!(w.accept(100));
        assert!(!w.accept(84), "too old");
        assert!(w.accept(85));
        assert!(!w.accept(5));
        assert!(w.accept(u32::MAX));
        assert!(!w.accept(u32::MAX));
    }
}
