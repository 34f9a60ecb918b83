//! The SOL data state machine (IPMI 2.0 §15.9–15.10), free of I/O so it can be tested
//! with a clock in hand: our packet sequence numbers, acks of the BMC's data (and re-acks
//! of its retransmits without repeating the output), and retransmission of our unacked
//! input, resending only what the BMC did not accept.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::packet::{SolPacket, SOL_DEACTIVATING, SOL_NACK};

/// How long an unacked packet waits before it is sent again.
pub const RETRANSMIT_AFTER: Duration = Duration::from_millis(500);
/// After this many sends without an ack the data is dropped (the BMC is gone or the
/// session is; the keep-alive finds out which).
const MAX_SENDS: u32 = 8;

#[derive(Debug)]
struct Outstanding {
    seq: u8,
    data: Vec<u8>,
    sent_at: Instant,
    sends: u32,
}

#[derive(Debug)]
pub struct SolState {
    next_seq: u8,
    pending: Option<Outstanding>,
    queue: VecDeque<u8>,
    /// The last data packet from the BMC we acked: its sequence number and length.
    last_rx: Option<(u8, u8)>,
    /// Characters per packet we may send (the BMC's inbound payload size less the header).
    max_chunk: usize,
    /// Data dropped after too many retransmits, for the log.
    pub dropped: usize,
}

/// What one inbound SOL packet means for us.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Received {
    /// New console output, in order.
    pub output: Vec<u8>,
    /// An ack to send back at once.
    pub ack: Option<SolPacket>,
    /// The BMC is ending the payload.
    pub deactivating: bool,
}

impl SolState {
    pub fn new(max_payload: usize) -> SolState {
        SolState {
            next_seq: 1,
            pending: None,
            queue: VecDeque::new(),
            last_rx: None,
            max_chunk: max_payload.saturating_sub(4).clamp(1, 255),
            dropped: 0,
        }
    }

    fn take_seq(&mut self) -> u8 {
        let s = self.next_seq;
        self.next_seq = if s >= 15 { 1 } else { s + 1 };
        s
    }

    pub fn push_input(&mut self, data: &[u8]) {
        self.queue.extend(data);
    }

    /// Input taken but not yet sent (the session stops taking input past a bound, so a
    /// fast typist or a stalled BMC pushes back on the viewers instead of growing this).
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Nothing queued and nothing in flight.
    pub fn idle(&self) -> bool {
        self.pending.is_none() && self.queue.is_empty()
    }

    pub fn on_packet(&mut self, p: &SolPacket, now: Instant) -> Received {
        let mut out = Received {
            deactivating: p.status & SOL_DEACTIVATING != 0,
            ..Received::default()
        };
        // An ack (or nack) of what we sent.
        if p.ack_seq != 0 {
            if let Some(pend) = self.pending.as_mut() {
                if pend.seq == p.ack_seq {
                    if p.status & SOL_NACK != 0 {
                        // The BMC could not take it now: try again after the usual wait.
                        pend.sent_at = now;
                    } else {
                        let accepted = usize::from(p.accepted).min(pend.data.len());
                        let rest = pend.data.split_off(accepted);
                        self.pending = None;
                        // The unaccepted tail goes first in the next packet.
                        for b in rest.into_iter().rev() {
                            self.queue.push_front(b);
                        }
                    }
                }
            }
        }
        // Data from the BMC: ack it; a retransmit (our ack was lost) is acked again
        // without repeating its output.
        if p.seq != 0 && !p.data.is_empty() {
            let len = u8::try_from(p.data.len()).unwrap_or(u8::MAX);
            if self.last_rx != Some((p.seq, len)) {
                out.output.extend_from_slice(&p.data);
                self.last_rx = Some((p.seq, len));
            }
            out.ack = Some(SolPacket {
                seq: 0,
                ack_seq: p.seq,
                accepted: len,
                status: 0,
                data: Vec::new(),
            });
        }
        out
    }

    /// The next packet to put on the wire: a retransmit that is due, or new input.
    pub fn poll_send(&mut self, now: Instant) -> Option<SolPacket> {
        if let Some(pend) = self.pending.as_mut() {
            if now.saturating_duration_since(pend.sent_at) < RETRANSMIT_AFTER {
                return None;
            }
            if pend.sends >= MAX_SENDS {
                self.dropped += pend.data.len();
                self.pending = None;
            } else {
                pend.sends += 1;
                pend.sent_at = now;
                return Some(SolPacket {
                    seq: pend.seq,
                    ack_seq: 0,
                    accepted: 0,
                    status: 0,
                    data: pend.data.clone(),
                });
            }
        }
        if self.queue.is_empty() {
            return None;
        }
        let n = self.queue.len().min(self.max_chunk);
        let data: Vec<u8> = self.queue.drain(..n).collect();
        let seq = self.take_seq();
        self.pending = Some(Outstanding {
            seq,
            data: data.clone(),
            sent_at: now,
            sends: 1,
        });
        Some(SolPacket {
            seq,
            ack_seq: 0,
            accepted: 0,
            status: 0,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(seq: u8, d: &[u8]) -> SolPacket {
        SolPacket {
            seq,
            data: d.to_vec(),
            ..SolPacket::default()
        }
    }

    fn ack(ack_seq: u8, accepted: u8, status: u8) -> SolPacket {
        SolPacket {
            ack_seq,
            accepted,
            status,
            ..SolPacket::default()
        }
    }

    #[test]
    fn output_is_acked_and_retransmits_are_not_repeated() {
        let mut s = SolState::new(100);
        let t = Instant::now();
        let r = s.on_packet(&data(1, b"boot"), t);
        assert_eq!(r.output, b"boot");
        assert_eq!(r.ack, Some(ack(1, 4, 0)));
        let again = s.on_packet(&data(1, b"boot"), t);
        assert!(again.output.is_empty());
        assert_eq!(again.ack, Some(ack(1, 4, 0)));
        assert_eq!(s.on_packet(&data(2, b"ing"), t).output, b"ing");
        assert!(s.on_packet(&ack(0, 0, SOL_DEACTIVATING), t).deactivating);
    }

    #[test]
    fn input_is_chunked_sequenced_and_retransmitted_until_acked() {
        let mut s = SolState::new(4 + 3);
        let t = Instant::now();
        s.push_input(b"abcdefg");
        let p1 = s.poll_send(t).unwrap();
        assert_eq!((p1.seq, p1.data.as_slice()), (1, &b"abc"[..]));
        // One packet in flight at a time.
        assert_eq!(s.poll_send(t), None);
        let p1b = s.poll_send(t + RETRANSMIT_AFTER).unwrap();
        assert_eq!(p1b, p1);
        // Partial accept: the rest goes out again under a new number.
        s.on_packet(&ack(1, 2, 0), t);
        let p2 = s.poll_send(t).unwrap();
        assert_eq!((p2.seq, p2.data.as_slice()), (2, &b"cde"[..]));
        // A nack holds it back for the retransmit wait.
        s.on_packet(&ack(2, 0, SOL_NACK), t);
        assert_eq!(s.poll_send(t), None);
        assert_eq!(s.poll_send(t + RETRANSMIT_AFTER).unwrap().seq, 2);
        // A stale ack for another number changes nothing.
        s.on_packet(&ack(5, 3, 0), t);
        assert_eq!(s.poll_send(t), None);
        s.on_packet(&ack(2, 3, 0), t);
        let p3 = s.poll_send(t).unwrap();
        assert_eq!((p3.seq, p3.data.as_slice()), (3, &b"fg"[..]));
        s.on_packet(&ack(3, 2, 0), t);
        assert!(s.idle());
    }

    #[test]
    fn sequence_numbers_wrap_past_fifteen_skipping_zero() {
        let mut s = SolState::new(100);
        let t = Instant::now();
        let mut seen = Vec::new();
        for _ in 0..17 {
            s.push_input(b"x");
            let p = s.poll_send(t).unwrap();
            seen.push(p.seq);
            s.on_packet(&ack(p.seq, 1, 0), t);
        }
        assert_eq!(seen[14], 15);
        assert_eq!(seen[15], 1);
        assert!(!seen.contains(&0));
    }

    #[test]
    fn unacked_data_is_given_up_after_bounded_retries() {
        let mut s = SolState::new(100);
        let mut t = Instant::now();
        s.push_input(b"lost");
        let mut sends = 0;
        for _ in 0..20 {
            if s.poll_send(t).is_some() {
                sends += 1;
            }
            t += RETRANSMIT_AFTER;
        }
        assert_eq!(sends, MAX_SENDS);
        assert_eq!(s.dropped, 4);
        assert!(s.idle());
    }
}
