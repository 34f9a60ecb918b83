//! `ironbox agent` end to end against a mock appliance: the real binary looks the node up,
//! heartbeats, and is driven over its command API the way the conductor drives IPA
//! (deploy steps, write_image with a config drive, clean steps, power off).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};
use sha2::Digest;

use crate::harness::{bin, wait_until};

const NODE: &str = "1be26c0b-03f2-4d2e-ae87-c02d7f33c123";
const MAC: &str = "52:54:00:aa:bb:cc";
const TOKEN: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const MIB: usize = 1 << 20;

#[derive(Default)]
struct Seen {
    lookups: Vec<String>,
    inspections: Vec<(Value, String)>,
    heartbeats: Vec<(Instant, Value, String)>,
}

/// A minimal appliance: `GET /`, `POST /v1/continue_inspection` (recorded), `GET /v1/lookup`
/// (404 the first time, then the node and a token), `POST /v1/heartbeat/<uuid>` (recorded),
/// and `GET /image` / `GET /configdrive`.
fn mock_appliance(disk: &Path, image: Vec<u8>, configdrive: String) -> (String, Arc<Mutex<Seen>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s2 = Arc::clone(&seen);
    let disk = disk.display().to_string();
    std::thread::spawn(move || {
        for stream in l.incoming().flatten() {
            let seen = Arc::clone(&s2);
            let (image, configdrive, disk) = (image.clone(), configdrive.clone(), disk.clone());
            std::thread::spawn(move || {
                let mut r = BufReader::new(stream);
                let mut line = String::new();
                if r.read_line(&mut line).is_err() {
                    return;
                }
                let mut len = 0;
                let mut version = String::new();
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    let lower = h.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    if let Some(v) = lower.strip_prefix("x-openstack-ironic-api-version:") {
                        version = v.trim().to_string();
                    }
                }
                let mut body = vec![0u8; len];
                let _ = r.read_exact(&mut body);
                let mut parts = line.split_whitespace();
                let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                let (status, ctype, out): (u16, &str, Vec<u8>) = match (method, path) {
                    ("GET", "/") => (
                        200,
                        "application/json",
                        json!({"default_version": {"id": "v1", "version": "1.99"}})
                            .to_string()
                            .into_bytes(),
                    ),
                    ("GET", p) if p.starts_with("/v1/lookup?") => {
                        let mut s = seen.lock().unwrap();
                        s.lookups.push(format!("{p} {version}"));
                        if s.lookups.len() == 1 {
                            (404, "application/json", b"{}".to_vec())
                        } else {
                            let node = json!({"uuid": NODE, "properties": {},
                                "instance_info": {"root_device": {"name": disk}},
                                "driver_internal_info": {}});
                            let cfg = json!({"heartbeat_timeout": 300, "agent_token": TOKEN,
                                "agent_token_required": true, "agent_md5_checksum_enable": false});
                            (
                                200,
                                "application/json",
                                json!({"node": node, "config": cfg})
                                    .to_string()
                                    .into_bytes(),
                            )
                        }
                    }
                    ("POST", p) if p == format!("/v1/heartbeat/{NODE}") => {
                        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        seen.lock()
                            .unwrap()
                            .heartbeats
                            .push((Instant::now(), v, version));
                        (202, "application/json", vec![])
                    }
                    ("POST", "/v1/continue_inspection") => {
                        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        seen.lock().unwrap().inspections.push((v, version));
                        (
                            202,
                            "application/json",
                            json!({"uuid": NODE}).to_string().into_bytes(),
                        )
                    }
                    ("GET", "/image") => (200, "application/octet-stream", image),
                    ("GET", "/configdrive") => (200, "text/plain", configdrive.into_bytes()),
                    _ => (404, "text/plain", b"no".to_vec()),
                };
                let mut s = r.into_inner();
                let _ = write!(
                    s,
                    "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    out.len()
                );
                let _ = s.write_all(&out);
            });
        }
    });
    (base, seen)
}

struct Agent {
    child: Child,
    log: std::path::PathBuf,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Agent {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn call(method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
    let req = ureq::request(method, url).timeout(Duration::from_secs(60));
    let r = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    let r = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = r.status();
    (status, r.into_json().unwrap_or(Value::Null))
}

/// The image: an MBR disk (signature 0xcafe1234, one Linux partition) with patterned data.
fn mbr_image(len: usize) -> Vec<u8> {
    let mut img: Vec<u8> = (0..len).map(|i| (i * 13 % 251) as u8).collect();
    img[440..446].fill(0);
    img[440..444].copy_from_slice(&0xcafe1234u32.to_le_bytes());
    img[446..510].fill(0);
    img[446 + 4] = 0x83;
    img[446 + 8..446 + 12].copy_from_slice(&2048u32.to_le_bytes());
    img[446 + 12..446 + 16].copy_from_slice(&((len / 512 - 2048) as u32).to_le_bytes());
    img[510] = 0x55;
    img[511] = 0xAA;
    img
}

fn wait_for<T>(what: &str, agent: &Agent, secs: u64, f: impl FnMut() -> Option<T>) -> T {
    wait_until(Duration::from_secs(secs), f)
        .unwrap_or_else(|| panic!("timed out waiting for {what}; agent log:\n{}", agent.log()))
}

#[test]
fn agent_deploys_and_cleans_a_file_backed_disk() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.img");
    std::fs::write(&disk, vec![0xEEu8; 96 * MIB]).unwrap();
    let image = mbr_image(3 * MIB + 512);
    let sum: String = sha2::Sha256::digest(&image)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let cd_content = ironbox::image::configdrive::iso9660(
        "config-2",
        &[("openstack/latest/meta_data.json", br#"{"uuid": "n1"}"#)],
    )
    .unwrap();
    let mut gz = flate2::write::GzEncoder::new(vec![], flate2::Compression::fast());
    gz.write_all(&cd_content).unwrap();
    let cd_b64 = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
    let (base, seen) = mock_appliance(&disk, image.clone(), cd_b64);

    let cmdline = dir.path().join("cmdline");
    std::fs::write(
        &cmdline,
        format!(
            "ipa-lookup-timeout=60 ipa-lookup-interval=0.2 BOOTIF=01-52-54-00-aa-bb-cc \
             ipa-inspection-callback-url={base}/v1/continue_inspection\n"
        ),
    )
    .unwrap();
    let log = dir.path().join("agent.log");
    let child = Command::new(bin())
        .args([
            "agent",
            "--no-power",
            "--listen",
            "127.0.0.1:0",
            "--mac",
            MAC,
            "--api-url",
            &base,
        ])
        .arg("--disk")
        .arg(&disk)
        .arg("--cmdline-file")
        .arg(&cmdline)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut agent = Agent { child, log };

    // Lookup (retried after the first 404), then a heartbeat right away.
    let first = wait_for("the first heartbeat", &agent, 30, || {
        seen.lock().unwrap().heartbeats.first().cloned()
    });
    {
        let s = seen.lock().unwrap();
        assert!(s.lookups.len() >= 2, "{:?}", s.lookups);
        assert!(
            s.lookups[1].starts_with(&format!("/v1/lookup?addresses={MAC}")),
            "{:?}",
            s.lookups
        );
        assert!(
            s.lookups[1].ends_with(" 1.62"),
            "lookup version header: {:?}",
            s.lookups
        );
    }
    {
        // Inspection data went first, IPA-style (no version header).
        let s = seen.lock().unwrap();
        assert_eq!(s.inspections.len(), 1);
        let (data, version) = &s.inspections[0];
        assert_eq!(version, "");
        let inv = &data["inventory"];
        assert_eq!(inv["interfaces"][0]["mac_address"], MAC);
        assert_eq!(inv["disks"][0]["name"], disk.display().to_string());
        assert_eq!(inv["disks"][0]["size"], 96 * MIB);
        assert_eq!(inv["boot"]["pxe_interface"], MAC);
        assert!(inv["cpu"]["count"].as_u64().unwrap() >= 1);
        assert!(inv["memory"]["total"].as_u64().unwrap() > 0);
        assert_eq!(data["root_disk"], Value::Null, "96 MiB is below 4 GiB");
    }
    let hb = &first.1;
    assert_eq!(first.2, "1.68", "heartbeat version header");
    assert_eq!(hb["agent_token"], TOKEN);
    assert!(
        hb["agent_version"].as_str().unwrap().contains("ironbox"),
        "{hb}"
    );
    let agent_url = hb["callback_url"].as_str().unwrap().to_string();
    assert!(agent_url.starts_with("http://127.0.0.1:"), "{agent_url}");
    assert!(!agent_url.ends_with(":0"));
    let q = format!("agent_token={TOKEN}");
    let cmd = |name: &str, params: Value, wait: bool| {
        call(
            "POST",
            &format!("{agent_url}/v1/commands/?{q}&wait={wait}"),
            Some(json!({"name": name, "params": params})),
        )
    };
    let poll = |agent: &Agent, id: &str| {
        wait_for("the command to finish", agent, 60, || {
            let (s, v) = call("GET", &format!("{agent_url}/v1/commands/{id}?{q}"), None);
            assert_eq!(s, 200, "{v}");
            (v["command_status"] != "RUNNING").then_some(v)
        })
    };

    // The agent API without a token.
    let (s, v) = call("GET", &format!("{agent_url}/v1/commands/"), None);
    assert_eq!(
        (s, v["faultstring"].as_str()),
        (401, Some("Token invalid."))
    );
    let (s, v) = call("GET", &format!("{agent_url}/v1/status"), None);
    assert_eq!(s, 200);
    assert!(v["started_at"].as_f64().unwrap() > 0.0);

    // Deploy: steps, then write_image with a config drive fetched by URL.
    let node = json!({"uuid": NODE, "instance_info": {"root_device": {"name": disk.display().to_string()}}, "properties": {}});
    let (s, v) = cmd(
        "deploy.get_deploy_steps",
        json!({"node": node, "ports": []}),
        true,
    );
    assert_eq!(s, 200, "{v}");
    let steps = &v["command_result"]["deploy_steps"]["GenericHardwareManager"];
    assert!(
        steps
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["step"] == "write_image"),
        "{v}"
    );
    let version = v["command_result"]["hardware_manager_version"].clone();
    let image_info = json!({"id": "cirros", "urls": [format!("{base}/image")], "disk_format": "raw",
        "container_format": "bare", "stream_raw_images": true, "os_hash_algo": "sha256",
        "os_hash_value": sum, "node_uuid": NODE});
    let beats_before = seen.lock().unwrap().heartbeats.len();
    let (s, v) = cmd(
        "deploy.execute_deploy_step",
        json!({"step": {"interface": "deploy", "step": "write_image", "priority": 80,
               "args": {"image_info": image_info, "configdrive": format!("{base}/configdrive")}},
               "node": node, "ports": [], "deploy_version": version}),
        false,
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["command_name"], "execute_deploy_step");
    let id = v["id"].as_str().unwrap().to_string();
    let done = poll(&agent, &id);
    let finished = Instant::now();
    assert_eq!(
        done["command_status"],
        "SUCCEEDED",
        "{done}\n{}",
        agent.log()
    );
    let text = done["command_result"]["deploy_result"]["result"]
        .as_str()
        .unwrap();
    assert!(
        text.contains("image (cirros) written to device") && text.ends_with("root_uuid=0xcafe1234"),
        "{text}"
    );
    assert_eq!(done["command_result"]["deploy_step"]["step"], "write_image");
    // A heartbeat follows the finished command at once, not after 90-180 s.
    let hb_at = wait_for("the heartbeat after write_image", &agent, 5, || {
        let s = seen.lock().unwrap();
        s.heartbeats.get(beats_before).map(|h| h.0)
    });
    assert!(hb_at.saturating_duration_since(finished) < Duration::from_secs(3));

    let d = std::fs::read(&disk).unwrap();
    assert_eq!(d.len(), 96 * MIB);
    assert_eq!(&d[512..image.len()], &image[512..], "image bytes on disk");
    assert_eq!(&d[..446], &image[..446], "boot code and disk signature");
    // The config drive became partition 2, at the end of the disk.
    let start =
        u32::from_le_bytes(d[446 + 16 + 8..446 + 16 + 12].try_into().unwrap()) as usize * 512;
    let size =
        u32::from_le_bytes(d[446 + 16 + 12..446 + 16 + 16].try_into().unwrap()) as usize * 512;
    assert_eq!(d[446 + 16 + 4], 0x83);
    assert_eq!(start + size, 96 * MIB);
    assert_eq!(&d[start..start + cd_content.len()], &cd_content[..]);

    let (_, v) = cmd("standby.get_partition_uuids", json!({}), true);
    assert_eq!(v["command_result"]["root uuid"], "0xcafe1234");

    // Cleaning: steps, then the metadata wipe.
    let (_, v) = cmd(
        "clean.get_clean_steps",
        json!({"node": node, "ports": []}),
        true,
    );
    let steps = v["command_result"]["clean_steps"]["GenericHardwareManager"]
        .as_array()
        .unwrap()
        .clone();
    let meta = steps
        .iter()
        .find(|s| s["step"] == "erase_devices_metadata")
        .unwrap();
    assert_eq!(meta["priority"], 99);
    let (s, v) = cmd(
        "clean.execute_clean_step",
        json!({"step": meta, "node": node, "ports": [], "clean_version": version}),
        false,
    );
    assert_eq!(s, 200, "{v}");
    let done = poll(&agent, v["id"].as_str().unwrap());
    assert_eq!(done["command_status"], "SUCCEEDED", "{done}");
    let d = std::fs::read(&disk).unwrap();
    assert!(d[..MIB].iter().all(|b| *b == 0), "partition table gone");
    assert!(
        d[96 * MIB - MIB..].iter().all(|b| *b == 0),
        "end of disk wiped"
    );
    assert!(
        d[start..start + MIB].iter().all(|b| *b == 0),
        "config drive signature wiped"
    );
    assert_eq!(
        d[2 * MIB],
        image[2 * MIB],
        "data outside the metadata is left"
    );

    // The command list keeps every command in order.
    let (_, v) = call("GET", &format!("{agent_url}/v1/commands/?{q}"), None);
    let names: Vec<&str> = v["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "get_deploy_steps",
            "execute_deploy_step",
            "get_partition_uuids",
            "get_clean_steps",
            "execute_clean_step"
        ]
    );

    // Power off: with --no-power the process exits.
    let (s, _) = cmd("standby.power_off", json!({}), false);
    assert_eq!(s, 200);
    let status = wait_until(Duration::from_secs(10), || agent.child.try_wait().unwrap())
        .unwrap_or_else(|| panic!("the agent did not exit: {}", agent.log()));
    assert!(status.success(), "{status}: {}", agent.log());
    assert!(agent.log().contains("--no-power"), "{}", agent.log());
}

#[test]
fn agent_gives_up_when_the_token_was_already_issued() {
    // A lookup that answers "******" and no ipa-agent-token: the agent must not serve.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut r = BufReader::new(s);
            let mut line = String::new();
            let _ = r.read_line(&mut line);
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            let body = if line.contains("/v1/lookup") {
                json!({"node": {"uuid": NODE}, "config": {"agent_token": "******", "heartbeat_timeout": 300}})
            } else {
                json!({})
            }
            .to_string();
            let mut s = r.into_inner();
            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let cmdline = dir.path().join("cmdline");
    std::fs::write(&cmdline, "ipa-lookup-timeout=10\n").unwrap();
    let out = Command::new(bin())
        .args([
            "agent",
            "--no-power",
            "--listen",
            "127.0.0.1:0",
            "--mac",
            MAC,
            "--api-url",
            &base,
        ])
        .arg("--cmdline-file")
        .arg(&cmdline)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already issued this node's agent token"),
        "{err}"
    );
}
