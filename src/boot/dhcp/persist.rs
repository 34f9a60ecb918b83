//! Writes the lease table to SQLite in group commits, and sends the ACKs that wait for
//! them. The packet thread queues `LeaseWrite`s (under the table lock, so in order) and
//! then its ACK (`send_after`), and goes on to the next packet: it never waits for SQLite,
//! except when the reserve is empty (then for the very write that refills it, `wait`). A writer thread collects what arrives within `DELAY`
//! (at once for an urgent write), commits it as one durable transaction
//! (`synchronous = FULL`, see `db/mod.rs`), and only then sends the ACKs queued with it. So
//! a lease a client was ACKed survives a crash or a power cut; a failed commit sends no
//! ACK (the client asks again). OFFERs and NAKs promise nothing durable and go out at
//! once (an OFFER only holds, in memory, an address whose `reserved` row is already
//! durable: see `leases.rs`).

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::drops::{lost, Lost};
use super::leases::Leases;
use crate::db::{LeaseWrite, Store};

/// How long the writer waits for more writes before committing a batch.
const DELAY: Duration = Duration::from_millis(5);

/// Shared by the packet threads and the writer.
pub struct Shared {
    pub table: Mutex<Leases>,
    /// (sequence number of the last write committed or failed, last failed one).
    done: Mutex<(u64, u64)>,
    done_changed: Condvar,
}

enum Msg {
    Write {
        seq: u64,
        write: LeaseWrite,
    },
    /// Send once write `after` is durable.
    Reply {
        after: u64,
        reply: Deferred,
    },
}

/// A reply held until the writes it announces are durable.
pub struct Deferred {
    pub bytes: Vec<u8>,
    pub to: SocketAddr,
    pub sock: Arc<UdpSocket>,
}

/// The packet side: queue writes, wait for them when it must.
pub struct Writer {
    pub shared: Arc<Shared>,
    tx: Mutex<Option<(Sender<Msg>, u64)>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Writer {
    /// Start the writer thread for `table`, whose rows `store` holds.
    pub fn start(store: Store, table: Leases) -> std::io::Result<Writer> {
        let shared = Arc::new(Shared {
            table: Mutex::new(table),
            done: Mutex::new((0, 0)),
            done_changed: Condvar::new(),
        });
        let (tx, rx) = channel();
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("dhcp-leases".into())
            .spawn(move || run(store, s, rx))?;
        Ok(Writer {
            shared,
            tx: Mutex::new(Some((tx, 0))),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queue the table's pending writes (call with its lock held, so the order is the
    /// table's). `urgent` skips the batching delay. Returns the last sequence number.
    pub fn queue(&self, table: &mut Leases, urgent: bool) -> u64 {
        let Ok(mut guard) = self.tx.lock() else {
            return 0;
        };
        let Some((tx, seq)) = guard.as_mut() else {
            return 0;
        };
        for write in table.writes.drain(..) {
            *seq += 1;
            if tx.send(Msg::Write { seq: *seq, write }).is_err() {
                tracing::error!("DHCP lease writer is gone; lease changes are not saved");
            }
        }
        if urgent {
            if let Ok(t) = self.thread.lock() {
                if let Some(t) = t.as_ref() {
                    t.thread().unpark();
                }
            }
        }
        *seq
    }

    /// Have the writer send `reply` once write `after` is durable (right away if it is);
    /// never if its commit fails.
    pub fn send_after(&self, after: u64, reply: Deferred) {
        let to = reply.to;
        let sent = match self.tx.lock() {
            Ok(guard) => guard
                .as_ref()
                .is_some_and(|(tx, _)| tx.send(Msg::Reply { after, reply }).is_ok()),
            Err(_) => false,
        };
        if !sent {
            lost(Lost::WriterGone, 1, &format!("ACK to {to}"));
        }
    }

    /// Wait until write `seq` is committed, at most `timeout`: why not, if it was not.
    pub fn wait(&self, seq: u64, timeout: Duration) -> Result<(), Lost> {
        let deadline = Instant::now() + timeout;
        let Ok(mut done) = self.shared.done.lock() else {
            return Err(Lost::TableUnavailable);
        };
        while done.0 < seq {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Lost::WriterTimeout);
            }
            done = match self.shared.done_changed.wait_timeout(done, left) {
                Ok((d, _)) => d,
                Err(_) => return Err(Lost::TableUnavailable),
            };
        }
        if done.1 >= seq {
            return Err(Lost::NotSaved);
        }
        Ok(())
    }

    /// Flush everything, mark the session as ended cleanly, stop the thread.
    pub fn stop(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = thread {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(store: Store, shared: Arc<Shared>, rx: Receiver<Msg>) {
    while let Ok(first) = rx.recv() {
        // Wait for more (an urgent writer unparks us); writes queued meanwhile cost the
        // sender no wake-up. A reply alone has nothing to wait for.
        if matches!(first, Msg::Write { .. }) {
            std::thread::park_timeout(DELAY);
        }
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        let (mut writes, mut replies, mut last) = (vec![], vec![], 0);
        for m in batch {
            match m {
                Msg::Write { seq, write } => {
                    last = seq;
                    writes.push(write);
                }
                Msg::Reply { after, reply } => replies.push((after, reply)),
            }
        }
        if !writes.is_empty() {
            commit(&store, &shared, writes, last);
        }
        let done = shared.done.lock().map(|d| *d).unwrap_or((0, u64::MAX));
        for (after, r) in replies {
            // Replies follow their writes in the channel, so `after` is committed or failed.
            if after > done.0 || after <= done.1 {
                lost(Lost::NotSaved, 1, &format!("ACK to {}", r.to));
                continue;
            }
            if let Err(e) = r.sock.send_to(&r.bytes, r.to) {
                lost(Lost::SendFailed, 1, &format!("ACK to {}: {e}", r.to));
            }
        }
    }
    // Every sender is gone and every write applied: the next start needs no quarantine.
    if let Err(e) = store.lease_session_end_blocking() {
        tracing::warn!(error = %e, "cannot mark the DHCP lease session as ended");
    }
}

/// Commit `writes` (the last numbered `last`) durably, retrying once; record the outcome.
fn commit(store: &Store, shared: &Shared, writes: Vec<LeaseWrite>, last: u64) {
    let mut result = store.lease_apply_blocking(&writes);
    if let Err(e) = &result {
        tracing::warn!(error = %e, "DHCP lease write failed; retrying once");
        std::thread::sleep(Duration::from_millis(100));
        result = store.lease_apply_blocking(&writes);
    }
    let ok = match result {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, writes = writes.len(), "DHCP lease writes lost");
            false
        }
    };
    let reserved: Vec<Ipv4Addr> = writes
        .iter()
        .filter_map(|w| match w {
            LeaseWrite::Reserve { ip } => Some(*ip),
            _ => None,
        })
        .collect();
    if !reserved.is_empty() {
        if let Ok(mut t) = shared.table.lock() {
            t.reserved(&reserved, ok);
        }
    }
    if let Ok(mut done) = shared.done.lock() {
        done.0 = last;
        if !ok {
            done.1 = last;
        }
    }
    shared.done_changed.notify_all();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind(last: u8) -> LeaseWrite {
        LeaseWrite::Bind {
            ip: Ipv4Addr::new(10, 0, 0, last),
            mac: format!("02:00:00:00:00:{last:02x}"),
            expires_at: 100,
        }
    }

    fn state(conn: &rusqlite::Connection, last: u8) -> Option<String> {
        conn.query_row(
            "SELECT state FROM dhcp_leases WHERE ip = ?1",
            [format!("10.0.0.{last}")],
            |r| r.get(0),
        )
        .ok()
    }

    #[test]
    fn an_ack_leaves_only_after_its_lease_is_committed_and_never_if_that_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        // A short busy timeout, so a held lock fails the writer's commit quickly.
        let store = Store::open(&path, 50, 2).unwrap();
        let table = Leases::load(
            Ipv4Addr::new(10, 0, 0, 10),
            Ipv4Addr::new(10, 0, 0, 20),
            60,
            600,
            &[],
            true,
            0,
        );
        let w = Writer::start(store, table).unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        let wait = |ms| {
            client
                .set_read_timeout(Some(Duration::from_millis(ms)))
                .unwrap()
        };
        wait(10_000);
        let server = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        let ack = |last: u8, text: &[u8]| {
            let seq = {
                let mut t = w.shared.table.lock().unwrap();
                t.writes.push(bind(last));
                w.queue(&mut t, false)
            };
            w.send_after(
                seq,
                Deferred {
                    bytes: text.to_vec(),
                    to: client.local_addr().unwrap(),
                    sock: server.clone(),
                },
            );
        };
        let mut buf = [0u8; 16];
        let conn = rusqlite::Connection::open(&path).unwrap();

        ack(10, b"ack-10");
        let (n, _) = client.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"ack-10");
        assert_eq!(
            state(&conn, 10).as_deref(),
            Some("bound"),
            "committed first"
        );

        // The commit cannot take the lock: the lease is not saved, so no ACK goes.
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        ack(11, b"ack-11");
        wait(800); // the writer gives up after ~200 ms (two 50 ms tries, 100 ms apart)
        assert!(client.recv_from(&mut buf).is_err(), "ACK sent unsaved");
        wait(10_000);
        conn.execute_batch("COMMIT").unwrap();
        assert_eq!(state(&conn, 11), None);

        ack(12, b"ack-12");
        let (n, _) = client.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"ack-12");
        assert_eq!(state(&conn, 12).as_deref(), Some("bound"));
    }
}
