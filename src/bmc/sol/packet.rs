//! Wire formats: RMCP / IPMI 1.5 (pre-session only) and RMCP+ session packets with
//! integrity and confidentiality, IPMI request/response messages, and SOL payloads.
//! Decoding never indexes: every field is read through [`Reader`], so a short or
//! malformed datagram is an error, not a panic.

use super::crypto::Keys;

pub const PAYLOAD_IPMI: u8 = 0x00;
pub const PAYLOAD_SOL: u8 = 0x01;
pub const OPEN_SESSION_REQ: u8 = 0x10;
pub const OPEN_SESSION_RESP: u8 = 0x11;
pub const RAKP1: u8 = 0x12;
pub const RAKP2: u8 = 0x13;
pub const RAKP3: u8 = 0x14;
pub const RAKP4: u8 = 0x15;

const RMCP_HEADER: [u8; 4] = [0x06, 0x00, 0xff, 0x07];
const FORMAT_RMCP_PLUS: u8 = 0x06;
const ENCRYPTED: u8 = 0x80;
const AUTHENTICATED: u8 = 0x40;
/// IPMI addresses: the BMC and us (software ID 0x81, as ipmitool uses).
const BMC_ADDR: u8 = 0x20;
const CONSOLE_ADDR: u8 = 0x81;

/// Bounds-checked little-endian reads over a byte slice.
pub struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Reader(b)
    }
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    pub fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }
    pub fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_le_bytes([*b.first()?, *b.get(1)?]))
    }
    pub fn u32(&mut self) -> Option<u32> {
        let b: [u8; 4] = self.take(4)?.try_into().ok()?;
        Some(u32::from_le_bytes(b))
    }
    pub fn rest(self) -> &'a [u8] {
        self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketError {
    Truncated,
    NotRmcpPlus,
    /// In a session, every packet must be authenticated and encrypted.
    NotProtected,
    BadIntegrity,
    BadEncryption,
    BadChecksum,
}

/// An RMCP+ packet after its integrity was checked and its payload decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub payload_type: u8,
    pub session_id: u32,
    pub seq: u32,
    pub payload: Vec<u8>,
}

/// One RMCP+ packet. With keys, the payload is encrypted with a fresh `iv` and the
/// packet carries an AuthCode (IPMI 2.0 §13.6).
pub fn encode(
    payload_type: u8,
    session_id: u32,
    seq: u32,
    payload: &[u8],
    keys: Option<&Keys>,
    iv: [u8; 16],
) -> Vec<u8> {
    let body = match keys {
        Some(k) => k.encrypt(iv, payload),
        None => payload.to_vec(),
    };
    let mut p = RMCP_HEADER.to_vec();
    p.push(FORMAT_RMCP_PLUS);
    let flags = if keys.is_some() {
        ENCRYPTED | AUTHENTICATED
    } else {
        0
    };
    p.push(flags | (payload_type & 0x3f));
    p.extend_from_slice(&session_id.to_le_bytes());
    p.extend_from_slice(&seq.to_le_bytes());
    p.extend_from_slice(&(body.len() as u16).to_le_bytes());
    p.extend_from_slice(&body);
    if let Some(k) = keys {
        // Integrity pad: AuthType through Next Header is a multiple of 4 bytes.
        let covered = p.len() - 4 + 2;
        let pad = (4 - covered % 4) % 4;
        p.extend(std::iter::repeat_n(0xff, pad));
        p.push(pad as u8);
        p.push(0x07);
        let code = k.auth_code(p.get(4..).unwrap_or_default());
        p.extend_from_slice(&code);
    }
    p
}

/// Parse an RMCP+ packet. With keys (in a session), unprotected packets and packets
/// whose AuthCode does not verify are refused.
pub fn decode(buf: &[u8], keys: Option<&Keys>) -> Result<Inbound, PacketError> {
    let mut r = Reader::new(buf);
    let head = r.take(4).ok_or(PacketError::Truncated)?;
    if head.first() != Some(&0x06) || head.get(3) != Some(&0x07) {
        return Err(PacketError::NotRmcpPlus);
    }
    if r.u8().ok_or(PacketError::Truncated)? != FORMAT_RMCP_PLUS {
        return Err(PacketError::NotRmcpPlus);
    }
    let pt = r.u8().ok_or(PacketError::Truncated)?;
    let session_id = r.u32().ok_or(PacketError::Truncated)?;
    let seq = r.u32().ok_or(PacketError::Truncated)?;
    let len = usize::from(r.u16().ok_or(PacketError::Truncated)?);
    let body = r.take(len).ok_or(PacketError::Truncated)?;
    let trailer = r.rest();
    let payload_type = pt & 0x3f;
    let Some(k) = keys else {
        return Ok(Inbound {
            payload_type,
            session_id,
            seq,
            payload: body.to_vec(),
        });
    };
    if pt & (ENCRYPTED | AUTHENTICATED) != ENCRYPTED | AUTHENTICATED {
        return Err(PacketError::NotProtected);
    }
    let n = k.suite.icv_len();
    if trailer.len() < n + 2 {
        return Err(PacketError::Truncated);
    }
    let (covered_end, code) = buf.split_at(buf.len() - n);
    let covered = covered_end.get(4..).ok_or(PacketError::Truncated)?;
    let pad = trailer.len() - n - 2;
    let mut t = Reader::new(trailer);
    let pad_bytes = t.take(pad).ok_or(PacketError::Truncated)?;
    let pad_len = t.u8().ok_or(PacketError::Truncated)?;
    let next = t.u8().ok_or(PacketError::Truncated)?;
    if usize::from(pad_len) != pad || next != 0x07 || pad_bytes.iter().any(|&b| b != 0xff) {
        return Err(PacketError::BadIntegrity);
    }
    if !k.verify(covered, code) {
        return Err(PacketError::BadIntegrity);
    }
    let payload = k.decrypt(body).ok_or(PacketError::BadEncryption)?;
    Ok(Inbound {
        payload_type,
        session_id,
        seq,
        payload,
    })
}

fn checksum(b: &[u8]) -> u8 {
    b.iter().fold(0u8, |a, x| a.wrapping_add(*x)).wrapping_neg()
}

/// An IPMI request message to the BMC (IPMI 2.0 §13.8).
pub fn ipmi_request(netfn: u8, cmd: u8, rq_seq: u8, data: &[u8]) -> Vec<u8> {
    let head = [BMC_ADDR, netfn << 2];
    let mut m = head.to_vec();
    m.push(checksum(&head));
    let tail_start = m.len();
    m.extend_from_slice(&[CONSOLE_ADDR, (rq_seq & 0x3f) << 2, cmd]);
    m.extend_from_slice(data);
    let c = checksum(m.get(tail_start..).unwrap_or_default());
    m.push(c);
    m
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpmiResponse {
    pub netfn: u8,
    pub rq_seq: u8,
    pub cmd: u8,
    pub cc: u8,
    pub data: Vec<u8>,
}

pub fn ipmi_response(m: &[u8]) -> Result<IpmiResponse, PacketError> {
    let mut r = Reader::new(m);
    let head = r.take(3).ok_or(PacketError::Truncated)?;
    let rest = r.rest();
    if rest.len() < 5 {
        return Err(PacketError::Truncated);
    }
    if checksum(head) != 0 || checksum(rest) != 0 {
        return Err(PacketError::BadChecksum);
    }
    let netfn = head.get(1).ok_or(PacketError::Truncated)? >> 2;
    let mut r = Reader::new(rest);
    let _rq_addr = r.u8().ok_or(PacketError::Truncated)?;
    let rq_seq = r.u8().ok_or(PacketError::Truncated)? >> 2;
    let cmd = r.u8().ok_or(PacketError::Truncated)?;
    let cc = r.u8().ok_or(PacketError::Truncated)?;
    let data = r.rest();
    let data = data.get(..data.len().saturating_sub(1)).unwrap_or_default();
    Ok(IpmiResponse {
        netfn,
        rq_seq,
        cmd,
        cc,
        data: data.to_vec(),
    })
}

/// A session-less IPMI 1.5 packet: only Get Channel Authentication Capabilities uses it.
pub fn v15_request(msg: &[u8]) -> Vec<u8> {
    let mut p = RMCP_HEADER.to_vec();
    p.push(0x00); // auth type none
    p.extend_from_slice(&[0; 8]); // sequence and session ID
    p.push(msg.len() as u8);
    p.extend_from_slice(msg);
    p
}

pub fn v15_response(buf: &[u8]) -> Result<IpmiResponse, PacketError> {
    let mut r = Reader::new(buf);
    let head = r.take(4).ok_or(PacketError::Truncated)?;
    if head.first() != Some(&0x06) || head.get(3) != Some(&0x07) {
        return Err(PacketError::NotRmcpPlus);
    }
    if r.u8().ok_or(PacketError::Truncated)? != 0x00 {
        return Err(PacketError::NotRmcpPlus);
    }
    r.take(8).ok_or(PacketError::Truncated)?;
    let len = usize::from(r.u8().ok_or(PacketError::Truncated)?);
    ipmi_response(r.take(len).ok_or(PacketError::Truncated)?)
}

/// SOL payload (IPMI 2.0 §15.9). Sequence numbers run 1..=15; 0 means "no data" (for
/// `seq`) or "acknowledges nothing" (for `ack_seq`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SolPacket {
    pub seq: u8,
    pub ack_seq: u8,
    pub accepted: u8,
    pub status: u8,
    pub data: Vec<u8>,
}

/// Operation/status bits.
pub const SOL_NACK: u8 = 0x40;
/// From the BMC: the SOL payload is being deactivated.
pub const SOL_DEACTIVATING: u8 = 0x10;

impl SolPacket {
    pub fn encode(&self) -> Vec<u8> {
        let mut v = vec![
            self.seq & 0x0f,
            self.ack_seq & 0x0f,
            self.accepted,
            self.status,
        ];
        v.extend_from_slice(&self.data);
        v
    }

    pub fn decode(b: &[u8]) -> Option<SolPacket> {
        let mut r = Reader::new(b);
        Some(SolPacket {
            seq: r.u8()? & 0x0f,
            ack_seq: r.u8()? & 0x0f,
            accepted: r.u8()?,
            status: r.u8()?,
            data: r.rest().to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::crypto::{user_key, Suite};
    use super::*;

    fn keys(suite: Suite) -> Keys {
        Keys::derive(suite, &user_key("pw"), &[1; 16], &[2; 16], 0x14, b"admin")
    }

    #[test]
    fn session_packets_round_trip_with_both_suites() {
        for suite in [Suite::Sha1, Suite::Sha256] {
            let k = keys(suite);
            for n in 0..40usize {
                let payload: Vec<u8> = (0..n).map(|i| i as u8).collect();
                let p = encode(PAYLOAD_SOL, 0xdeadbeef, 7, &payload, Some(&k), [9; 16]);
                // AuthType through Next Header is 4-aligned.
                assert_eq!((p.len() - 4 - suite.icv_len()) % 4, 0);
                let got = decode(&p, Some(&k)).unwrap();
                assert_eq!(
                    got,
                    Inbound {
                        payload_type: PAYLOAD_SOL,
                        session_id: 0xdeadbeef,
                        seq: 7,
                        payload
                    }
                );
            }
        }
        let plain = encode(OPEN_SESSION_REQ, 0, 0, b"abc", None, [0; 16]);
        assert_eq!(decode(&plain, None).unwrap().payload, b"abc");
    }

    #[test]
    fn tampered_or_unprotected_packets_are_refused() {
        let k = keys(Suite::Sha1);
        let p = encode(PAYLOAD_SOL, 5, 9, b"hello", Some(&k), [4; 16]);
        for i in 4..p.len() {
            let mut q = p.clone();
            q[i] ^= 0x01;
            assert!(decode(&q, Some(&k)).is_err(), "flip at {i} accepted");
        }
        let plain = encode(PAYLOAD_SOL, 5, 9, b"hello", None, [0; 16]);
        assert_eq!(decode(&plain, Some(&k)), Err(PacketError::NotProtected));
        let other = keys(Suite::Sha256);
        assert!(decode(&p, Some(&other)).is_err());
    }

    #[test]
    fn truncated_and_garbage_packets_are_errors_not_panics() {
        let k = keys(Suite::Sha1);
        let p = encode(PAYLOAD_SOL, 5, 9, b"hello world", Some(&k), [4; 16]);
        for n in 0..p.len() {
            assert!(decode(&p[..n], Some(&k)).is_err());
            let _ = decode(&p[..n], None);
            let _ = v15_response(&p[..n]);
            let _ = ipmi_response(&p[..n]);
            let _ = SolPacket::decode(&p[..n]);
        }
        // A pseudo-random spray.
        let mut x: u32 = 12345;
        for len in 0..200usize {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1103515245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            let _ = decode(&buf, Some(&k));
            let _ = decode(&buf, None);
            let _ = v15_response(&buf);
            let _ = ipmi_response(&buf);
        }
        // A header that claims more payload than arrived.
        let mut q = encode(OPEN_SESSION_RESP, 0, 0, b"abc", None, [0; 16]);
        q[14] = 0xff;
        assert_eq!(decode(&q, None), Err(PacketError::Truncated));
    }

    #[test]
    fn ipmi_messages_round_trip_with_checksums() {
        let req = ipmi_request(0x06, 0x3b, 5, &[0x04]);
        assert_eq!(req, vec![0x20, 0x18, 0xc8, 0x81, 0x14, 0x3b, 0x04, 0x2c]);
        // A response as the BMC frames it: rqSA, netFn|rqLUN, cksum, rsSA, seq, cmd, cc, data, cksum.
        let mut resp = vec![0x81, 0x07 << 2];
        resp.push(checksum(&resp));
        let tail = [0x20, 5 << 2, 0x3b, 0x00, 0x04];
        resp.extend_from_slice(&tail);
        resp.push(checksum(&tail));
        let r = ipmi_response(&resp).unwrap();
        assert_eq!(
            (r.netfn, r.rq_seq, r.cmd, r.cc, r.data),
            (7, 5, 0x3b, 0, vec![4])
        );
        let mut bad = resp.clone();
        bad[6] ^= 1;
        assert_eq!(ipmi_response(&bad), Err(PacketError::BadChecksum));
        let v15 = v15_request(&resp);
        assert_eq!(v15_response(&v15).unwrap().cmd, 0x3b);
    }

    #[test]
    fn sol_packets_round_trip() {
        let p = SolPacket {
            seq: 3,
            ack_seq: 2,
            accepted: 10,
            status: SOL_NACK,
            data: b"login:".to_vec(),
        };
        assert_eq!(SolPacket::decode(&p.encode()), Some(p));
        assert_eq!(SolPacket::decode(&[1, 2, 3]), None);
        assert_eq!(SolPacket::decode(&[0xf1, 0, 0, 0]).map(|p| p.seq), Some(1));
    }
}
