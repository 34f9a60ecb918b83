//! Native IPMI Serial-over-LAN (`ironbox::bmc::sol`) against OpenIPMI's ipmi_sim on
//! loopback. ipmi_sim's `sol "tcp:HOST:PORT"` device connects to a TCP listener this test
//! owns, so the test is the serial port: what it writes must come out of `open()`'s
//! output, and what goes into the input must reach it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ironbox::bmc::ipmi::IpmiError;
use ironbox::bmc::sol::{self, SolHandle, SolTarget};

use crate::ipmi::IpmiSim;

struct Serial {
    conn: TcpStream,
}

impl Serial {
    /// Waits for ipmi_sim to connect to the serial listener.
    fn accept(l: &TcpListener) -> Serial {
        l.set_nonblocking(false).unwrap();
        let (conn, _) = l.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Serial { conn }
    }

    fn read_until(&mut self, want: &[u8], secs: u64) -> Vec<u8> {
        let end = Instant::now() + Duration::from_secs(secs);
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while Instant::now() < end {
            if let Ok(n) = self.conn.read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
                if got.windows(want.len()).any(|w| w == want) {
                    return got;
                }
            }
        }
        panic!(
            "serial side never saw {:?}; got {:?}",
            String::from_utf8_lossy(want),
            String::from_utf8_lossy(&got)
        );
    }
}

fn target(sim: &IpmiSim, password: &str) -> SolTarget {
    SolTarget {
        address: "127.0.0.1".into(),
        port: sim.port,
        username: "admin".into(),
        password: password.into(),
        cipher_suite: None,
    }
}

/// Reads console output until `want` shows up.
async fn output_until(h: &mut SolHandle, want: &str, secs: u64) -> String {
    let mut got = Vec::new();
    let end = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !String::from_utf8_lossy(&got).contains(want) {
        match tokio::time::timeout_at(end, h.output.recv()).await {
            Ok(Some(b)) => got.extend_from_slice(&b),
            Ok(None) => panic!(
                "SOL session ended before {want:?}; got {:?}",
                String::from_utf8_lossy(&got)
            ),
            Err(_) => panic!(
                "no {want:?} within {secs} s; got {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Output written on the serial side while a session is active arrives; a few lines
/// in case the first bytes raced the activation.
async fn check_output(h: &mut SolHandle, serial: &mut Serial, tag: &str) {
    let want = format!("{tag} done");
    for i in 0..5 {
        serial
            .conn
            .write_all(format!("{tag} line {i}\r\n").as_bytes())
            .unwrap();
    }
    serial
        .conn
        .write_all(format!("{want}\r\n").as_bytes())
        .unwrap();
    output_until(h, &want, 10).await;
}

#[test]
fn sol_carries_bytes_both_ways_and_replaces_stale_sessions() {
    let serial_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let serial_port = serial_listener.local_addr().unwrap().port();
    let sim = IpmiSim::start_with(&format!("  sol \"tcp:127.0.0.1:{serial_port}\" 115200\n"));
    let mut serial = Serial::accept(&serial_listener);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let t0 = Instant::now();
        let mut h = sol::open(target(&sim, "password")).await.unwrap();
        eprintln!("SOL open took {:?}", t0.elapsed());
        check_output(&mut h, &mut serial, "first").await;

        // Input: typed bytes reach the serial port, a long paste in order.
        h.input.send(Bytes::from_static(b"root\r")).await.unwrap();
        serial.read_until(b"root\r", 10);
        let paste: String = (0..40).map(|i| format!("echo {i:03};")).collect();
        h.input.send(Bytes::from(paste.clone())).await.unwrap();
        serial.read_until(paste.as_bytes(), 15);

        // A second open while the first is still active: the stale payload is
        // deactivated and the new session works.
        let t1 = Instant::now();
        let mut h2 = sol::open(target(&sim, "password")).await.unwrap();
        eprintln!("SOL open over an active session took {:?}", t1.elapsed());
        check_output(&mut h2, &mut serial, "second").await;
        // The replaced session ends (the BMC deactivated it) or at least carries nothing.
        drop(h);

        // Dropping the handle ends the session; a new one is accepted at once.
        drop(h2);
        let t2 = Instant::now();
        let mut h3 = sol::open(target(&sim, "password")).await.unwrap();
        eprintln!("SOL reopen after drop took {:?}", t2.elapsed());
        check_output(&mut h3, &mut serial, "third").await;
        h3.input.send(Bytes::from_static(b"after\r")).await.unwrap();
        serial.read_until(b"after\r", 10);

        // Cipher suite 17 asked for first: served by 17 or by the fallback to 3.
        drop(h3);
        let mut t17 = target(&sim, "password");
        t17.cipher_suite = Some(17);
        let mut h4 = sol::open(t17).await.unwrap();
        check_output(&mut h4, &mut serial, "fourth").await;
    });
}

#[test]
fn sol_wrong_password_is_a_clear_error() {
    let sim = IpmiSim::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let e = sol::open(target(&sim, "not-the-password"))
            .await
            .err()
            .expect("a wrong password must fail");
        assert!(matches!(e, IpmiError::Session { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains("wrong user name or password"), "{msg}");
        assert!(!msg.contains("not-the-password"), "{msg}");
        // Nothing listening: unreachable within the retry budget, not a hang.
        let mut t = target(&sim, "password");
        t.port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let t0 = Instant::now();
        let e = sol::open(t).await.err().expect("nobody answers");
        assert!(matches!(e, IpmiError::Unreachable { .. }), "{e:?}");
        assert!(t0.elapsed() < Duration::from_secs(10));
    });
}
