//! Native IPMI Serial-over-LAN (`ironbox::bmc::sol`) against OpenIPMI's ipmi_sim on
//! loopback. ipmi_sim's `sol "tcp:HOST:PORT"` device connects to a TCP listener this test
//! owns, so the test is the serial port: what it writes must come out of `open()`'s
//! output, and what goes into the input must reach it. (The `ipmitool-socat` console over
//! this, through the API, is in console.rs.)

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ironbox::bmc::ipmi::IpmiError;
use ironbox::bmc::sol::{self, SolHandle, SolTarget};

use crate::ipmi::IpmiSim;

/// The serial port's side. ipmi_sim connects when SOL is activated (and may connect
/// again for a later activation), so a thread accepts and the newest connection is used.
struct Serial {
    current: Arc<Mutex<Option<TcpStream>>>,
}

impl Serial {
    fn listen() -> (Serial, u16) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let current = Arc::new(Mutex::new(None));
        let c = current.clone();
        std::thread::spawn(move || {
            for conn in l.incoming().flatten() {
                conn.set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                *c.lock().unwrap() = Some(conn);
            }
        });
        (Serial { current }, port)
    }

    fn conn(&self) -> TcpStream {
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Some(c) = self.current.lock().unwrap().as_ref() {
                return c.try_clone().unwrap();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("ipmi_sim never connected to the serial side");
    }

    fn write(&self, b: &[u8]) {
        // A connection ipmi_sim already dropped is replaced by its next one.
        let _ = self.conn().write_all(b);
    }

    fn read_until(&self, want: &[u8], secs: u64) -> Vec<u8> {
        let end = Instant::now() + Duration::from_secs(secs);
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while Instant::now() < end {
            if let Ok(n) = self.conn().read(&mut buf) {
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

/// Get Payload Activation Status for SOL, as ipmitool prints it: capacity, then the
/// bitmask of active instances.
fn sol_active(sim: &IpmiSim) -> String {
    sim.ipmitool(&["raw", "0x06", "0x4a", "0x01"])
        .1
        .trim()
        .to_string()
}

fn target(sim: &IpmiSim, password: &str) -> SolTarget {
    SolTarget {
        address: "127.0.0.1".into(),
        port: sim.port,
        username: "admin".into(),
        password: password.into(),
        cipher_suite: None,
        privilege: 4,
    }
}

/// Output written on the serial side while a session is active arrives. Written again
/// each second: ipmi_sim connects to the serial side only after activation, and bytes
/// written before that connection go nowhere. When its connection dropped, ipmi_sim
/// retries only every 10 s (tests/lab/README.md), so a loaded machine can need more than
/// one retry period: 25 s, and a passing run still returns at the first echo.
async fn check_output(h: &mut SolHandle, serial: &Serial, tag: &str) {
    let mut got = Vec::new();
    for i in 0..25 {
        serial.write(format!("{tag} says {i}\r\n").as_bytes());
        let end = tokio::time::Instant::now() + Duration::from_secs(1);
        while let Ok(r) = tokio::time::timeout_at(end, h.output.recv()).await {
            let Some(b) = r else {
                panic!("SOL session ended; got {:?}", String::from_utf8_lossy(&got))
            };
            got.extend_from_slice(&b);
            if String::from_utf8_lossy(&got).contains(&format!("{tag} says")) {
                return;
            }
        }
    }
    panic!(
        "no output from the serial side; got {:?}",
        String::from_utf8_lossy(&got)
    );
}

#[test]
fn sol_carries_bytes_both_ways_and_replaces_stale_sessions() {
    let (serial, serial_port) = Serial::listen();
    let sim = IpmiSim::start_with(&format!("  sol \"tcp:127.0.0.1:{serial_port}\" 115200\n"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let t0 = Instant::now();
        let mut h = sol::open(target(&sim, "password")).await.unwrap();
        eprintln!("SOL open took {:?}", t0.elapsed());
        check_output(&mut h, &serial, "first").await;

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
        check_output(&mut h2, &serial, "second").await;
        // The replaced session ends (the BMC deactivated it) or at least carries nothing.
        drop(h);

        // Dropping the handle ends the session; a new one is accepted at once.
        drop(h2);
        let t2 = Instant::now();
        let mut h3 = sol::open(target(&sim, "password")).await.unwrap();
        eprintln!("SOL reopen after drop took {:?}", t2.elapsed());
        check_output(&mut h3, &serial, "third").await;
        h3.input.send(Bytes::from_static(b"after\r")).await.unwrap();
        serial.read_until(b"after\r", 10);

        // Cipher suite 17 asked for first: served by 17 or by the fallback to 3.
        drop(h3);
        let mut t17 = target(&sim, "password");
        t17.cipher_suite = Some(17);
        let mut h4 = sol::open(t17).await.unwrap();
        check_output(&mut h4, &serial, "fourth").await;
        // Dropped: the payload is deactivated on the BMC (Get Payload Activation Status
        // shows no active SOL instance).
        assert_eq!(sol_active(&sim), "01 01 00");
        drop(h4);
        let end = Instant::now() + Duration::from_secs(5);
        while sol_active(&sim) != "01 00 00" {
            assert!(
                Instant::now() < end,
                "SOL still active after the handle was dropped"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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

/// driver_info ipmi_priv_level reaches the SOL session: a user the BMC lists at the USER
/// privilege gets a working session asked for at USER (the role byte goes into RAKP 1,
/// both key exchanges' HMACs and Set Session Privilege Level, so one place using another
/// value breaks the handshake). ipmi_sim does not enforce a user's limit, so refusal of a
/// higher role cannot be shown here.
#[test]
fn sol_asks_for_the_configured_privilege() {
    let (serial, serial_port) = Serial::listen();
    let sim = IpmiSim::start_with(&format!(
        "  user 3 true \"viewer\" \"viewerpw\" user 10 none md2 md5 straight\n  sol \"tcp:127.0.0.1:{serial_port}\" 115200\n"
    ));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut t = target(&sim, "viewerpw");
        t.username = "viewer".into();
        t.privilege = 2;
        let mut h = sol::open(t).await.unwrap();
        check_output(&mut h, &serial, "viewer").await;
    });
}
