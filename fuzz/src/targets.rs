//! The body of every fuzz target: plain functions that the libFuzzer binaries
//! (`fuzz_targets/*.rs`, nightly) and the stable corpus replay (`tests/fuzz_replay.rs`)
//! both call. Each one panics when a property fails; returning is a pass.

// Test code: a failed property is a panic, which libFuzzer reports as a crash.
#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

use std::io::{Cursor, Seek, SeekFrom, Write};
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use dhcproto::v4::{Decoder, Message, MessageType};
use dhcproto::Decodable;
use serde_json::{json, Map, Value};

use ironbox::api::fuzzing as api;
use ironbox::api::microversion::Version;
use ironbox::boot::dhcp::decide::{self, Decision, Ignore, Lookup, Mode};
use ironbox::boot::dhcp::leases::{Leases, Offer, Request};
use ironbox::db::{LeaseRow, LeaseWrite};
use ironbox::model::node::Node;

/// A target's body: returns on success, panics on a failed property.
pub type Target = fn(&[u8]);

/// Every target by its name (the directory of its corpus).
pub const TARGETS: &[(&str, Target)] = &[
    ("dhcp", dhcp),
    ("tftp", tftp),
    ("api_body", api_body),
    ("json_patch", json_patch),
    ("query", query),
    ("agent", agent),
    ("qcow2", qcow2),
    ("config", config),
    ("template", template),
    ("framing", framing),
    ("lldp", lldp),
];

/// A microversion from one byte: 1.1 .. 1.(MAX).
fn version(b: u8) -> Version {
    let max = Version::MAX.0;
    Version(1 + u32::from(b) % max)
}

/// An API error must be the client's fault (4xx) and carry Ironic's body.
fn check_api_error(e: &api::ApiError) {
    let code = e.status.as_u16();
    assert!(
        (400..500).contains(&code),
        "{code} for a bad request: {}",
        e.message
    );
    let body: Value = serde_json::from_str(&e.body()).expect("error body is JSON");
    assert!(
        body.get("error_message").is_some() || e.framework,
        "error body without error_message: {body}"
    );
}

// ---------------------------------------------------------------------------------------
// DHCP: packet bytes → dhcproto → facts → the lease table → decide.

const US: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
const FIRST: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 100);
const LAST: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 110);
const NOW: i64 = 1_700_000_000;

/// dhcproto's debug assertions on malformed option lengths panic (finding 1 in
/// README.md); the server contains them with `catch_unwind` (`boot::dhcp::handle`).
/// libFuzzer's panic hook aborts before `catch_unwind` sees a panic, so the decode runs
/// with a silent hook, as the server's does.
fn decode_contained(packet: &[u8]) -> Option<Message> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(|| Message::decode(&mut Decoder::new(packet)));
    std::panic::set_hook(hook);
    r.ok()?.ok()
}

/// `data[0]`: bit 0 proxy mode, bit 1 the MAC is known, bit 2 allow unknown clients,
/// bit 3 the last session ended cleanly, bit 4 the reserve write failed. The rest: one
/// packet as it arrives on port 67.
pub fn dhcp(data: &[u8]) {
    let Some((&flags, packet)) = data.split_first() else {
        return;
    };
    let Some(msg) = decode_contained(packet) else {
        return;
    };
    let Ok(facts) = decide::facts(&msg) else {
        return;
    };
    let mode = if flags & 1 != 0 {
        Mode::Proxy
    } else {
        Mode::Full
    };
    let known = flags & 2 != 0;
    let allow_unknown = flags & 4 != 0;
    let mut lookup = Lookup {
        known,
        ..Default::default()
    };
    if mode == Mode::Full && (known || allow_unknown) {
        let rows = [
            LeaseRow {
                ip: "10.99.0.100".into(),
                mac: facts.mac.to_string(),
                state: "bound".into(),
                expires_at: NOW + 300,
            },
            LeaseRow {
                ip: "10.99.0.101".into(),
                mac: "52:54:00:12:34:56".into(),
                state: "bound".into(),
                expires_at: NOW - 10,
            },
            LeaseRow {
                ip: "10.99.0.102".into(),
                mac: String::new(),
                state: "reserved".into(),
                expires_at: 0,
            },
            LeaseRow {
                ip: "10.99.0.103".into(),
                mac: String::new(),
                state: "declined".into(),
                expires_at: NOW + 100,
            },
        ];
        let mut t = Leases::load(FIRST, LAST, 60, 600, &rows, flags & 8 != 0, NOW);
        t.prime(NOW);
        let reserve: Vec<Ipv4Addr> = t
            .writes
            .iter()
            .filter_map(|w| match w {
                LeaseWrite::Reserve { ip } => Some(*ip),
                _ => None,
            })
            .collect();
        t.writes.clear();
        t.reserved(&reserve, flags & 16 == 0);
        match facts.kind {
            MessageType::Discover => {
                if let Offer::Address(ip) = t.offer(facts.mac, NOW) {
                    lookup.address = Some(ip);
                }
            }
            MessageType::Request => match t.request(facts.mac, facts.requested, NOW, 600) {
                Request::Bound(ip) | Request::BoundDurable(ip) => lookup.address = Some(ip),
                Request::Conflict => lookup.conflict = true,
                Request::Exhausted | Request::Wait => {}
            },
            MessageType::Release => t.release(facts.mac),
            MessageType::Decline => {
                if let Some(ip) = facts.requested {
                    t.decline(ip, NOW, 600);
                }
            }
            _ => {}
        }
        if let Some(ip) = lookup.address {
            assert!((FIRST..=LAST).contains(&ip), "lease {ip} outside the range");
        }
    }
    let decision = decide::decide(&facts, mode, &lookup, US, allow_unknown);
    match &decision {
        Decision::Ignore(Ignore::UnknownMac) => assert!(!known && !allow_unknown),
        Decision::Ignore(_) => {}
        Decision::Reply(plan) => {
            assert!(known || allow_unknown, "answered an unknown MAC: {plan:?}");
            if mode == Mode::Proxy {
                assert_eq!(plan.yiaddr, None, "proxy mode gave an address");
            }
            if let Some(ip) = plan.yiaddr {
                assert_eq!(Some(ip), lookup.address, "address not from the table");
            }
            if plan.kind == MessageType::Nak {
                assert!(plan.yiaddr.is_none() && plan.boot.is_none());
            }
            // The server echoes the client's hardware address and xid into the reply.
            let mut reply = Message::default();
            reply
                .set_opcode(dhcproto::v4::Opcode::BootReply)
                .set_xid(msg.xid())
                .set_chaddr(msg.chaddr());
            let mut out = Vec::new();
            dhcproto::Encodable::encode(&reply, &mut dhcproto::Encoder::new(&mut out))
                .expect("reply encodes");
        }
    }
}

// ---------------------------------------------------------------------------------------
// TFTP: a request packet → async-tftp's parser (round trip) → the served-name table.

pub fn tftp(data: &[u8]) {
    let Ok(Some(req)) = async_tftp::fuzzing::decode(data) else {
        return;
    };
    let dir = Path::new("/nonexistent/ironbox-fuzz-ipxe");
    let name = req.filename.trim_start_matches('/');
    let served = ironbox::boot::tftp::resolve(dir, Path::new(&req.filename));
    let listed = ironbox::boot::dhcp::options::TFTP_FILES
        .iter()
        .any(|(n, _)| *n == name);
    match served {
        None => {}
        Some(ironbox::boot::dhcp::options::Program::Embedded(_)) => {
            assert!(listed, "served {name:?}, which is not in the table")
        }
        Some(ironbox::boot::dhcp::options::Program::File(p)) => {
            assert!(listed && p.starts_with(dir), "served {p:?} for {name:?}")
        }
    }
    if let Some(b) = req.block_size {
        assert!((8..=65464).contains(&b));
    }
}

// ---------------------------------------------------------------------------------------
// The API's JSON bodies: create bodies and the provision body.

/// A node in each provision state the provision body is checked against.
const STATES: &[&str] = &[
    "enroll",
    "manageable",
    "available",
    "active",
    "deploy failed",
    "wait call-back",
    "inspect wait",
    "clean wait",
    "rescue",
    "service failed",
];

/// `data[0]`: what the body is for (a collection's create, or provision with a node in
/// one of `STATES`); `data[1]`: the microversion; the rest: the JSON body.
pub fn api_body(data: &[u8]) {
    let [what, v, body @ ..] = data else {
        return;
    };
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let v = version(*v);
    let sel = usize::from(*what);
    let cols = api::COLLECTIONS;
    if sel % 2 == 0 {
        let col = cols.get(sel / 2 % cols.len()).copied().unwrap_or("nodes");
        if let Err(e) = api::create(col, &body, v) {
            check_api_error(&e);
        }
    } else {
        let state = STATES
            .get(sel / 2 % STATES.len())
            .copied()
            .unwrap_or("enroll");
        let node = Node {
            uuid: "1be26c0b-03f2-4d2e-ae87-c02d7f33c123".into(),
            provision_state: state.into(),
            ..Node::default()
        };
        match api::provision(&body, v, &node) {
            Ok(r) => assert!(
                body.get("target").and_then(Value::as_str).is_some(),
                "{r:?}"
            ),
            Err(e) => check_api_error(&e),
        }
    }
}

// ---------------------------------------------------------------------------------------
// JSON patch on a resource document.

fn node_doc() -> Map<String, Value> {
    let doc = json!({
        "uuid": "1be26c0b-03f2-4d2e-ae87-c02d7f33c123",
        "name": "node-1",
        "driver": "ipmi",
        "driver_info": {"ipmi_address": "127.0.0.1", "ipmi_password": "******", "ipmi_port": 6230},
        "extra": {"a": [1, 2, {"b": null}], "c~d/e": "x"},
        "instance_info": {"image_source": "http://127.0.0.1/img.qcow2"},
        "properties": {"cpus": 2, "memory_mb": 1024, "capabilities": "boot_mode:uefi"},
        "maintenance": false,
        "owner": null,
        "description": null,
        "resource_class": "baremetal",
        "boot_interface": "ipxe",
        "traits": [],
        "network_data": {},
        "automated_clean": null,
        "retired": false,
        "shard": null,
        "parent_node": null,
        "address": "52:54:00:12:34:56",
        "node_uuid": "1be26c0b-03f2-4d2e-ae87-c02d7f33c123",
        "pxe_enabled": true,
        "local_link_connection": {},
        "physical_network": null,
        "is_smartnic": false,
        "mode": null,
        "standalone_ports_supported": true,
        "portgroup_uuid": null,
    });
    doc.as_object().cloned().unwrap_or_default()
}

/// `data[0]`: the collection; `data[1]`: the microversion; the rest: the patch document.
pub fn json_patch(data: &[u8]) {
    let [col, v, ops @ ..] = data else {
        return;
    };
    let Ok(ops) = serde_json::from_slice::<Value>(ops) else {
        return;
    };
    let cols = api::COLLECTIONS;
    let col = cols
        .get(usize::from(*col) % cols.len())
        .copied()
        .unwrap_or("nodes");
    let doc = node_doc();
    match api::patch(col, doc.clone(), &ops, version(*v)) {
        Ok((after, changed)) => {
            for k in &changed {
                assert!(
                    after.get(k) != doc.get(k),
                    "{k} reported changed but is the same"
                );
            }
            for (k, val) in &after {
                if doc.get(k) != Some(val) {
                    assert!(changed.contains(k), "{k} changed but not reported");
                }
            }
        }
        Err(e) => check_api_error(&e),
    }
}

// ---------------------------------------------------------------------------------------
// Query strings of list requests.

/// `data[0]`: the collection; `data[1]`: the microversion; the rest: the query string.
/// A full page's `next` link must parse again to the same paging.
pub fn query(data: &[u8]) {
    let [col, v, qs @ ..] = data else {
        return;
    };
    let Ok(qs) = std::str::from_utf8(qs) else {
        return;
    };
    let cols = api::COLLECTIONS;
    let col = cols
        .get(usize::from(*col) % cols.len())
        .copied()
        .unwrap_or("nodes");
    let v = version(*v);
    let next = match api::list_query(col, qs, v, 1000) {
        Ok(n) => n,
        Err(e) => return check_api_error(&e),
    };
    let Some(next) = next else {
        return;
    };
    let (_, again) = next.split_once('?').expect("next link has a query");
    let first =
        api::Query::parse_str(qs).and_then(|q| api::ListParams::parse_max(&q, v, 1000, false));
    let second =
        api::Query::parse_str(again).and_then(|q| api::ListParams::parse_max(&q, v, 1000, false));
    match (first, second) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.limit, b.limit, "limit in {next}");
            assert_eq!(a.sort_key, b.sort_key, "sort_key in {next}");
            assert_eq!(a.sort_dir, b.sort_dir, "sort_dir in {next}");
            assert_eq!(a.fields, b.fields, "fields in {next}");
            assert_eq!(
                b.marker.as_deref(),
                Some("1be26c0b-03f2-4d2e-ae87-c02d7f33c123")
            );
        }
        (a, b) => panic!(
            "next link {next} does not parse: {:?} / {:?}",
            a.err().map(|e| e.message),
            b.err().map(|e| e.message)
        ),
    }
    assert!(
        api::list_query(col, again, v, 1000).is_ok(),
        "next link {next} refused"
    );
}

// ---------------------------------------------------------------------------------------
// The agent: command bodies (agent side), lookup and command results (both sides).

fn commands() -> &'static Arc<ironbox::agent::commands::Commands> {
    static C: OnceLock<Arc<ironbox::agent::commands::Commands>> = OnceLock::new();
    C.get_or_init(|| {
        use ironbox::agent::commands::{Commands, Context};
        let (tx, _rx) = std::sync::mpsc::channel();
        Commands::new(Context {
            machine: ironbox::agent::inventory::Machine {
                disk_override: vec!["/nonexistent/ironbox-fuzz-disk".into()],
                mac_override: vec!["52:54:00:00:00:01".into()],
                ..Default::default()
            },
            download: Default::default(),
            md5_allowed: false,
            min_root_disk: 4 << 30,
            logs: Default::default(),
            node: Mutex::new(json!({"uuid": "n1", "properties": {}, "instance_info": {}})),
            partition_uuids: Mutex::new(None),
            events: Mutex::new(tx),
            // Commands are only checked here, never run: nothing is written.
            rescue_root: "/nonexistent/ironbox-fuzz-root".into(),
        })
    })
}

/// `data[0] % 4`: 0 a `POST /v1/commands` body checked by the agent (nothing runs);
/// 1 a command result as the conductor reads it; 2 the lookup answer as the agent reads
/// it; 3 a kernel command line as the agent reads it. The rest: the body.
pub fn agent(data: &[u8]) {
    let Some((&what, body)) = data.split_first() else {
        return;
    };
    match what % 4 {
        0 => {
            if let Ok((name, params)) = ironbox::agent::api::command_body(body) {
                if let Err(e) = commands().check(&name, &params) {
                    let s = e.status();
                    assert!((400..500).contains(&s), "{s} for a bad command");
                    assert!(e.body().is_object());
                }
            }
        }
        1 => {
            let Ok(v) = serde_json::from_slice::<Value>(body) else {
                return;
            };
            if let Ok(r) =
                serde_json::from_value::<ironbox::drivers::agent_client::CommandResult>(v.clone())
            {
                let _ = (r.running(), r.succeeded(), r.error_message());
            }
            if let Some(dii) = v.as_object() {
                for kind in [
                    ironbox::model::step::StepKind::Clean,
                    ironbox::model::step::StepKind::Deploy,
                    ironbox::model::step::StepKind::Service,
                ] {
                    let _ = ironbox::drivers::agent_client::agent_steps(dii, kind);
                }
            }
        }
        2 => {
            if let Ok(v) = serde_json::from_slice::<Value>(body) {
                let _ = ironbox::agent::appliance::parse_lookup(&v);
            }
        }
        _ => {
            if let Ok(line) = std::str::from_utf8(body) {
                let _ = ironbox::agent::cmdline::parse(line);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// qcow2: header and tables of a small image in memory, converted to a sink.

/// A target that keeps nothing: a zeroed, sparse file of unbounded size.
struct Sink {
    pos: u64,
    end: u64,
}

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.pos += b.len() as u64;
        self.end = self.end.max(self.pos);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Seek for Sink {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.pos = match to {
            SeekFrom::Start(p) => p,
            SeekFrom::End(d) => self
                .end
                .checked_add_signed(d)
                .ok_or(std::io::ErrorKind::InvalidInput)?,
            SeekFrom::Current(d) => self
                .pos
                .checked_add_signed(d)
                .ok_or(std::io::ErrorKind::InvalidInput)?,
        };
        Ok(self.pos)
    }
}

pub fn qcow2(data: &[u8]) {
    use ironbox::image::qcow2::{ConvertOptions, Qcow2Reader};
    let Ok(r) = Qcow2Reader::open(Cursor::new(data)) else {
        return;
    };
    let size = r.virtual_size();
    let mut sink = Sink { pos: 0, end: 0 };
    let opts = ConvertOptions {
        target_is_zeroed: true,
        max_buffer: 1 << 20,
    };
    if let Ok(stats) = r.convert(&mut sink, &opts) {
        assert_eq!(stats.virtual_size, size);
        assert_eq!(stats.input_bytes, data.len() as u64, "input not drained");
        assert!(
            sink.end <= size,
            "wrote to {} past the size {size}",
            sink.end
        );
        assert!(stats.peak_buffered <= opts.max_buffer);
    }
}

// ---------------------------------------------------------------------------------------
// Config files: TOML text → typed sections → checks.

pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = ironbox::config::Config::parse(text, "fuzz.toml") {
        let msg = e.to_string();
        assert!(!msg.contains('\n'), "multi-line config error: {msg}");
    }
}

// ---------------------------------------------------------------------------------------
// iPXE templates with hostile values.

const TEMPLATES: &[(&str, &[&str])] = &[
    ("boot.ipxe", &["base"]),
    ("local.ipxe", &["node"]),
    ("retry.ipxe", &["mac", "why", "base"]),
    (
        "ramdisk.ipxe",
        &[
            "node", "purpose", "kernel", "ramdisk", "append", "base", "timeout",
        ],
    ),
];

/// `data[0]`: the template (bit 7: the ramdisk values come from a node's
/// `driver_internal_info` JSON in the rest); else the rest holds the values, split at NUL.
/// A rendered script has the template's lines: no value adds one.
pub fn template(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let (name, vars) = TEMPLATES
        .get(usize::from(sel & 0x7f) % TEMPLATES.len())
        .copied()
        .unwrap_or(("boot.ipxe", &["base"]));
    let mut values: Vec<String> = if sel & 0x80 != 0 {
        let Ok(Value::Object(dii)) = serde_json::from_slice::<Value>(rest) else {
            return;
        };
        match ironbox::model::boot::BootIntent::of(&dii) {
            Some(ironbox::model::boot::BootIntent::Ramdisk {
                purpose,
                kernel,
                ramdisk,
                append,
            }) => vec![
                "n1".into(),
                purpose,
                kernel,
                ramdisk,
                append,
                "http://10.0.0.1:8080".into(),
                String::new(),
            ],
            _ => return,
        }
    } else {
        String::from_utf8_lossy(rest)
            .split('\0')
            .map(str::to_string)
            .collect()
    };
    values.resize(vars.len(), String::new());
    let pairs: Vec<(&str, &str)> = vars
        .iter()
        .copied()
        .zip(values.iter().map(String::as_str))
        .collect();
    let blank: Vec<(&str, &str)> = vars.iter().map(|v| (*v, "")).collect();
    let lines = ironbox::boot::templates::render(name, &blank)
        .expect("template renders with empty values")
        .lines()
        .count();
    match ironbox::boot::templates::render(name, &pairs) {
        Ok(script) => {
            assert!(script.starts_with("#!ipxe"), "not an iPXE script");
            assert_eq!(
                script.lines().count(),
                lines,
                "a value added a line: {script:?}"
            );
            assert!(!script.chars().any(|c| c.is_control() && c != '\n'));
        }
        Err(e) => assert!(
            pairs.iter().any(|(_, v)| v.chars().any(char::is_control)),
            "refused clean values: {e}"
        ),
    }
}

// ---------------------------------------------------------------------------------------
// HTTP framing: raw client bytes → the gate in front of actix-http (`http::framing`).

/// `data[0]`: how many split points follow (0..=7), then that many bytes, each a split
/// position; the rest is what a client sends on one connection. The gate must give the
/// same answer however the bytes arrive (or the same answer later), only ever release a
/// prefix of them, refuse only
/// with a 4xx, and release only heads that actix-http's parser (httparse) accepts whole.
pub fn framing(data: &[u8]) {
    use ironbox::http::framing::Gate;
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n % 8).min(rest.len());
    let (cuts, input) = rest.split_at(n);

    let mut whole_out = Vec::new();
    let whole = Gate::default().feed(input, &mut whole_out);

    let mut gate = Gate::default();
    let mut out = Vec::new();
    let mut pieces = Vec::new();
    let mut at = 0;
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|&c| usize::from(c) * input.len() / 256)
        .collect();
    points.sort_unstable();
    for p in points.into_iter().chain([input.len()]) {
        pieces.push(input.get(at..p).unwrap_or_default());
        at = p;
    }
    let mut split = Ok(());
    for piece in pieces {
        split = gate.feed(piece, &mut out);
        if split.is_err() {
            break;
        }
    }
    // A head is judged whole when its first bytes arrive together, else line by line: a
    // trickled bad head may be refused later (at its line end, or by the head timeout),
    // never differently, and nothing of it is released meanwhile.
    // A head both malformed and over a size limit is refused for whichever the gate saw
    // first (400, or 414/431): both are true, and nothing of it is released either way.
    let limit = |r: &Result<(), ironbox::http::framing::Rejection>| {
        r.as_ref()
            .err()
            .is_some_and(|r| matches!(r.status.as_u16(), 414 | 431))
    };
    let either = whole.is_err() && split.is_err() && (limit(&whole) != limit(&split));
    let later = whole.is_err() && split.is_ok() && gate.mid_head();
    if !(later || either) {
        assert_eq!(whole, split, "the answer depends on how the bytes arrive");
    }
    assert_eq!(whole_out, out, "released bytes depend on how they arrive");
    assert!(
        input.starts_with(&out),
        "the gate released bytes it was not sent"
    );
    if let Err(r) = &whole {
        assert!(r.status.is_client_error(), "refused with {}", r.status);
        assert!(!r.message.is_empty());
    }
    // actix-http parses what was released: its first request must never be a parse error.
    let mut headers = [httparse::EMPTY_HEADER; 96];
    let mut req = httparse::Request::new(&mut headers);
    if let Err(e) = req.parse(&out) {
        panic!(
            "released a head httparse refuses ({e}): {:?}",
            String::from_utf8_lossy(&out)
        );
    }
}

/// An LLDPDU as captured (after the Ethernet header), or with a leading `{` IPA's JSON form:
/// split and parsed without a panic; what the wire gives survives IPA's hex JSON unchanged;
/// `local_link_connection` holds only `switch_id` and `port_id`, each a parsed value.
pub fn lldp(data: &[u8]) {
    use ironbox::model::lldp;
    let parsed = if data.first() == Some(&b'[') {
        let Ok(v) = serde_json::from_slice::<Value>(data) else {
            return;
        };
        lldp::parse_json(&v)
    } else {
        let tlvs = lldp::split_lldpdu(data);
        let back = lldp::tlvs_from_json(&lldp::tlvs_to_json(&tlvs));
        assert_eq!(back, tlvs, "TLVs changed through IPA's JSON form");
        lldp::parse_tlvs(&tlvs)
    };
    let llc = parsed.local_link_connection();
    for (k, v) in &llc {
        let field = match k.as_str() {
            "switch_id" => "switch_chassis_id",
            "port_id" => "switch_port_id",
            other => panic!("unexpected local_link_connection key {other}"),
        };
        assert_eq!(
            parsed.fields().get(field),
            Some(v),
            "{k} is not the parsed {field}"
        );
    }
}
