//! Serial consoles through Ironic's API: `PUT/GET /v1/nodes/{id}/states/console` on a
//! fake-hardware node, its fake boot log read over the raw TCP port (several viewers, the
//! replay, input echoed), the port closing on disable, the console back after a restart,
//! and Ironic's errors for bad bodies and consoles a node does not have.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{wait_until, Ironbox};

/// Read from `s` until `want` has been seen (or fail after `secs`); all that was read.
fn read_until(s: &mut TcpStream, want: &str, secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    while !String::from_utf8_lossy(&got).contains(want) {
        assert!(
            Instant::now() < deadline,
            "never saw {want:?}; got {:?}",
            String::from_utf8_lossy(&got)
        );
        match s.read(&mut buf) {
            Ok(0) => panic!(
                "closed before {want:?}: {:?}",
                String::from_utf8_lossy(&got)
            ),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("read: {e}"),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

fn console(ib: &Ironbox, u: &str) -> Value {
    let r = ib.get(&format!("/v1/nodes/{u}/states/console"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

fn set(ib: &Ironbox, u: &str, enabled: bool) {
    let r = ib.put(
        &format!("/v1/nodes/{u}/states/console"),
        json!({ "enabled": enabled }),
    );
    assert_eq!(r.status, 202, "{}", r.body);
}

/// The TCP port the node's console was given.
fn port(ib: &Ironbox, u: &str) -> u16 {
    let n = ib.get(&format!("/v1/nodes/{u}")).body;
    n["driver_internal_info"]["allocated_ipmi_terminal_port"]
        .as_u64()
        .unwrap_or_else(|| panic!("no console port: {n}")) as u16
}

#[test]
fn fake_console_over_the_api_and_tcp() {
    let mut ib = Ironbox::start();
    let u = ib.node(json!({"name": "con-1", "console_interface": "fake"}))["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        console(&ib, &u),
        json!({"console_enabled": false, "console_info": null})
    );

    set(&ib, &u, true);
    let info = console(&ib, &u);
    assert_eq!(info["console_enabled"], true, "{info}");
    assert_eq!(info["console_info"]["type"], "web", "{info}");
    assert_eq!(
        info["console_info"]["url"],
        format!("{}/ui/machines/{u}/console", ib.url),
        "{info}"
    );
    assert_eq!(
        ib.get(&format!("/v1/nodes/{u}")).body["console_enabled"],
        true
    );
    // Enabling twice is accepted and changes nothing (Ironic logs and returns 202).
    let p = port(&ib, &u);
    set(&ib, &u, true);
    assert_eq!(port(&ib, &u), p);

    // Two viewers see the same boot log; what one types is echoed to both.
    let mut a = TcpStream::connect(("127.0.0.1", p)).unwrap();
    let log = read_until(&mut a, "con-1 login: ", 20);
    assert!(log.contains("Linux version"), "{log}");
    assert!(log.contains("iPXE"), "{log}");
    let mut b = TcpStream::connect(("127.0.0.1", p)).unwrap();
    let replay = read_until(&mut b, "con-1 login: ", 5);
    assert!(
        replay.contains("Linux version"),
        "a new viewer gets the replay: {replay}"
    );
    a.write_all(b"root\r").unwrap();
    let echoed = read_until(&mut a, "Login incorrect", 5);
    assert!(echoed.contains("root"), "{echoed}");
    assert!(read_until(&mut b, "Login incorrect", 5).contains("root"));
    drop(a);
    drop(b);

    // A viewer that comes back later reads what scrolled by, its input included.
    let mut c = TcpStream::connect(("127.0.0.1", p)).unwrap();
    let again = read_until(&mut c, "Login incorrect", 5);
    assert!(
        again.contains("Linux version") && again.contains("root"),
        "{again}"
    );
    drop(c);

    // Restart with the same database: the console is back, on the same port.
    assert_eq!(ib.terminate(), Some(0));
    ib.spawn();
    let info = console(&ib, &u);
    assert_eq!(info["console_enabled"], true, "{info}");
    assert_eq!(port(&ib, &u), p);
    let mut d = TcpStream::connect(("127.0.0.1", p)).unwrap();
    read_until(&mut d, "con-1 login: ", 20);

    // Disable: the viewer is cut off and the port closes.
    set(&ib, &u, false);
    assert_eq!(
        console(&ib, &u),
        json!({"console_enabled": false, "console_info": null})
    );
    d.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut rest = Vec::new();
    let closed = d.read_to_end(&mut rest);
    assert!(closed.is_ok(), "the viewer's connection ends: {closed:?}");
    let gone = wait_until(Duration::from_secs(5), || {
        TcpStream::connect(("127.0.0.1", p)).is_err().then_some(())
    });
    assert!(gone.is_some(), "port {p} still open after disable");
    let n = ib.get(&format!("/v1/nodes/{u}")).body;
    assert!(
        n["driver_internal_info"]
            .get("allocated_ipmi_terminal_port")
            .is_none(),
        "{n}"
    );
    // Disabling twice is fine too.
    set(&ib, &u, false);
}

#[test]
fn ports_come_from_the_configured_range() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let p = free.local_addr().unwrap().port();
    drop(free);
    let ib = Ironbox::start_with(&format!("[console]\nport_range = \"{p}:{p}\"\n"));
    let one = ib.node(json!({"console_interface": "fake"}))["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let two = ib.node(json!({"console_interface": "fake"}))["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    set(&ib, &one, true);
    assert_eq!(port(&ib, &one), p);
    // The range is full: Ironic answers 202 and records the failure in last_error.
    set(&ib, &two, true);
    let n = ib.get(&format!("/v1/nodes/{two}")).body;
    assert_eq!(n["console_enabled"], false, "{n}");
    let err = n["last_error"].as_str().unwrap_or_default();
    assert!(err.contains("no free port in [console] port_range"), "{n}");
    // Once the first is disabled its port is free for the second.
    set(&ib, &one, false);
    set(&ib, &two, true);
    assert_eq!(port(&ib, &two), p);
    assert!(ib.get(&format!("/v1/nodes/{two}")).body["last_error"].is_null());
}

#[test]
fn the_baremetal_cli_drives_the_console() {
    let ib = Ironbox::start();
    let u = ib.node(json!({"name": "cli-con", "console_interface": "fake"}))["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    ib.cli_ok(&["node", "console", "enable", &u]);
    let shown = ib.cli_json(&["node", "console", "show", &u]);
    assert_eq!(shown["console_enabled"], true, "{shown}");
    assert_eq!(shown["console_info"]["type"], "web", "{shown}");
    let mut v = TcpStream::connect(("127.0.0.1", port(&ib, &u))).unwrap();
    read_until(&mut v, "cli-con login: ", 20);
    ib.cli_ok(&["node", "console", "disable", &u]);
    let shown = ib.cli_json(&["node", "console", "show", &u]);
    assert_eq!(
        shown,
        json!({"console_enabled": false, "console_info": null})
    );
}

#[test]
fn bad_requests_get_ironics_errors() {
    let ib = Ironbox::start();
    let u = ib.node(json!({"console_interface": "fake"}))["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v1/nodes/{u}/states/console");
    let r = ib.put(&path, json!({}));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.fault().contains("enabled"), "{}", r.fault());
    let r = ib.put(&path, json!({"enabled": "notbool"}));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.fault().contains("Unrecognized value 'notbool'"),
        "{}",
        r.fault()
    );
    let r = ib.put(&path, json!({"enabled": 3}));
    assert_eq!(r.status, 400, "{}", r.body);
    // strutils' strict spellings are booleans, as in Ironic ("yes" is true).
    let r = ib.put(&path, json!({"enabled": "yes"}));
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(console(&ib, &u)["console_enabled"], true);
    let r = ib.put(&path, json!({"enabled": false, "other": 1}));
    assert_eq!(r.status, 400, "{}", r.body);

    // A node without a console: PUT refuses with Ironic's message; GET, like Ironic's
    // (console_enabled is checked before the interface), says it is off.
    let none = ib.node(json!({"console_interface": "no-console"}))["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let want = "Driver fake-hardware does not support console (disabled or not implemented).";
    let r = ib.put(
        &format!("/v1/nodes/{none}/states/console"),
        json!({"enabled": true}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.fault(), want);
    assert_eq!(
        console(&ib, &none),
        json!({"console_enabled": false, "console_info": null})
    );
    let r = ib.get("/v1/nodes/no-such-node/states/console");
    assert_eq!(r.status, 404, "{}", r.body);

    // The console interface is listed where Ironic lists it.
    let d = ib.get("/v1/drivers/ipmi?detail=true").body;
    assert_eq!(d["default_console_interface"], "ipmitool-socat", "{d}");
    let enabled = d["enabled_console_interfaces"].as_array().unwrap();
    assert!(enabled.contains(&json!("ipmitool-socat")), "{d}");
    assert!(enabled.contains(&json!("no-console")), "{d}");
}

#[test]
fn deleting_a_node_stops_its_console() {
    let ib = Ironbox::start();
    let u = ib.node(json!({"console_interface": "fake"}))["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    set(&ib, &u, true);
    let p = port(&ib, &u);
    let mut v = TcpStream::connect(("127.0.0.1", p)).unwrap();
    read_until(&mut v, "FakeBIOS", 10);
    assert_eq!(ib.delete(&format!("/v1/nodes/{u}")).status, 204);
    let gone = wait_until(Duration::from_secs(5), || {
        TcpStream::connect(("127.0.0.1", p)).is_err().then_some(())
    });
    assert!(
        gone.is_some(),
        "port {p} still open after the node was deleted"
    );
}

/// The serial port behind ipmi_sim's SOL: ipmi_sim connects to this listener when SOL is
/// activated; the newest connection is the port.
fn serial_port() -> (std::sync::Arc<std::sync::Mutex<Option<TcpStream>>>, u16) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let current = std::sync::Arc::new(std::sync::Mutex::new(None));
    let c = current.clone();
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            *c.lock().unwrap() = Some(conn);
        }
    });
    (current, port)
}

#[test]
fn ipmitool_socat_console_over_native_sol() {
    let (serial, sp) = serial_port();
    let sim = crate::ipmi::IpmiSim::start_with(&format!("  sol \"tcp:127.0.0.1:{sp}\" 115200\n"));
    let ib = Ironbox::start();
    let n = ib.post(
        "/v1/nodes",
        json!({"driver": "ipmi", "driver_info": sim.driver_info()}),
    );
    assert_eq!(n.status, 201, "{}", n.body);
    assert_eq!(n.body["console_interface"], "ipmitool-socat");
    let u = n.body["uuid"].as_str().unwrap().to_string();
    set(&ib, &u, true);
    let info = console(&ib, &u);
    let p = port(&ib, &u);
    assert_eq!(
        info,
        json!({"console_enabled": true,
               "console_info": {"type": "socat", "url": format!("tcp://127.0.0.1:{p}")}})
    );
    assert!(!info.to_string().contains("password"), "{info}");

    // The conductor opens SOL on enable; ipmi_sim then connects its serial side.
    let mut tty = wait_until(Duration::from_secs(20), || {
        serial
            .lock()
            .unwrap()
            .as_ref()
            .map(|c| c.try_clone().unwrap())
    })
    .unwrap_or_else(|| panic!("SOL never activated:\n{}", ib.log()));
    let mut viewer = TcpStream::connect(("127.0.0.1", p)).unwrap();
    // A viewer may connect before the first bytes: write until they come through.
    let got = wait_until(Duration::from_secs(20), || {
        tty.write_all(b"Booting the kernel... ironbox-sol-marker\r\n")
            .ok()?;
        let mut buf = [0u8; 4096];
        viewer
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let n = viewer.read(&mut buf).ok()?;
        let s = String::from_utf8_lossy(&buf[..n]).into_owned();
        s.contains("ironbox-sol-marker").then_some(s)
    });
    assert!(
        got.is_some(),
        "serial output never reached the TCP port:\n{}",
        ib.log()
    );

    // Typed into the TCP port, out of the serial port.
    viewer.write_all(b"root\r").unwrap();
    let mut seen = Vec::new();
    tty.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let typed = wait_until(Duration::from_secs(10), || {
        let mut buf = [0u8; 256];
        if let Ok(n) = tty.read(&mut buf) {
            seen.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&seen)
            .contains("root")
            .then_some(())
    });
    assert!(
        typed.is_some(),
        "input never reached the serial port: {seen:?}"
    );

    set(&ib, &u, false);
    assert_eq!(
        console(&ib, &u),
        json!({"console_enabled": false, "console_info": null})
    );
    let log = ib.log();
    assert!(
        !log.contains("\"password\""),
        "the BMC password is in the log"
    );
}
