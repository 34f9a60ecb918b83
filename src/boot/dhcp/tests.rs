//! The whole packet path against a real store: MAC cache invalidation, leases across
//! restarts, and what the network page's event ring is told.

use super::*;
use crate::model::node::Node;
use crate::model::port::Port;
use std::time::Duration;

const A: [u8; 6] = [0x52, 0x54, 0, 0, 0, 0xa];
const B: [u8; 6] = [0x52, 0x54, 0, 0, 0, 0xb];

fn server(store: &Store, allow_unknown: bool) -> Dhcp {
    unopened(store, allow_unknown).open().unwrap()
}

fn unopened(store: &Store, allow_unknown: bool) -> DhcpServer {
    DhcpServer {
        store: store.clone(),
        net: Net {
            iface: "test0".into(),
            ip: Ipv4Addr::new(10, 99, 0, 1),
            netmask: Ipv4Addr::new(255, 255, 255, 0),
        },
        mode: Mode::Full,
        range: Some((Ipv4Addr::new(10, 99, 0, 100), Ipv4Addr::new(10, 99, 0, 110))),
        lease_time: 600,
        router: None,
        dns: vec![],
        allow_unknown,
        unknown_limit: Default::default(),
        http_port: 8080,
        events: None,
        owns: None,
    }
}

/// fuzz/corpus/dhcp/crash-dhcproto-option-len-assert (its first byte is the fuzz
/// target's flags): dhcproto debug-asserts on its option length; the packet is dropped.
#[test]
fn dhcproto_option_assert_is_contained() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.sqlite"), 1000, 2).unwrap();
    let input = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus/dhcp/crash-dhcproto-option-len-assert"),
    )
    .unwrap();
    let from: SocketAddr = "10.99.0.50:68".parse().unwrap();
    assert!(server(&store, true).handle(&input[1..], from, 67).is_none());
}

fn packet(kind: MessageType, mac: &[u8; 6], requested: Option<Ipv4Addr>) -> Vec<u8> {
    let mut m = Message::default();
    m.set_opcode(Opcode::BootRequest)
        .set_xid(7)
        .set_flags(v4::Flags::default().set_broadcast())
        .set_chaddr(mac);
    m.opts_mut().insert(DhcpOption::MessageType(kind));
    if let Some(ip) = requested {
        m.opts_mut().insert(DhcpOption::RequestedIpAddress(ip));
    }
    let mut out = vec![];
    m.encode(&mut Encoder::new(&mut out)).unwrap();
    out
}

/// (reply type, yiaddr) of the answer, if any.
fn ask(
    d: &Dhcp,
    kind: MessageType,
    mac: &[u8; 6],
    requested: Option<Ipv4Addr>,
) -> Option<(MessageType, Ipv4Addr)> {
    let from: SocketAddr = "0.0.0.0:68".parse().unwrap();
    let (bytes, _) = d.handle(&packet(kind, mac, requested), from, 67)?;
    let m = Message::decode(&mut Decoder::new(&bytes)).unwrap();
    match m.opts().get(v4::OptionCode::MessageType) {
        Some(DhcpOption::MessageType(t)) => Some((*t, m.yiaddr())),
        _ => None,
    }
}

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 99, 0, last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_enrolled_through_the_store_is_answered_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.sqlite"), 1000, 2).unwrap();
    let d = server(&store, false);
    assert_eq!(
        ask(&d, MessageType::Discover, &A, None),
        None,
        "unknown MAC"
    );
    let node = store
        .node_create(Node {
            uuid: crate::model::new_uuid(),
            driver: "fake-hardware".into(),
            provision_state: "enroll".into(),
            created_at: crate::model::now(),
            ..Default::default()
        })
        .await
        .unwrap();
    let port = store
        .port_create(Port {
            uuid: crate::model::new_uuid(),
            address: "52:54:00:00:00:0a".into(),
            node_uuid: node.uuid.clone(),
            pxe_enabled: true,
            created_at: crate::model::now(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        ask(&d, MessageType::Discover, &A, None),
        Some((MessageType::Offer, ip(100)))
    );
    assert_eq!(ask(&d, MessageType::Discover, &B, None), None);
    // Re-addressed to B: A is unknown again, B is answered.
    store
        .port_save(Port {
            address: "52:54:00:00:00:0b".into(),
            ..port.clone()
        })
        .await
        .unwrap();
    assert_eq!(ask(&d, MessageType::Discover, &A, None), None);
    assert!(ask(&d, MessageType::Discover, &B, None).is_some());
    store.port_delete(port.id).await.unwrap();
    assert_eq!(ask(&d, MessageType::Discover, &B, None), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sqlite");
    let store = Store::open(&path, 1000, 2).unwrap();
    let d = server(&store, true);
    assert_eq!(
        ask(&d, MessageType::Discover, &A, None),
        Some((MessageType::Offer, ip(100)))
    );
    assert_eq!(
        ask(&d, MessageType::Request, &A, Some(ip(100))),
        Some((MessageType::Ack, ip(100)))
    );
    drop(d); // a clean stop writes everything
    let leases = store.lease_list().await.unwrap();
    assert!(
        leases
            .iter()
            .any(|(i, m, s, _)| i == "10.99.0.100" && m == "52:54:00:00:00:0a" && s == "bound"),
        "{leases:?}"
    );
    drop(store);
    let store = Store::open(&path, 1000, 2).unwrap();
    let d = server(&store, true);
    assert_eq!(
        ask(&d, MessageType::Discover, &B, None),
        Some((MessageType::Offer, ip(101))),
        "A's address is not offered to B"
    );
    assert_eq!(
        ask(&d, MessageType::Request, &B, Some(ip(100))),
        Some((MessageType::Nak, Ipv4Addr::UNSPECIFIED))
    );
    assert_eq!(
        ask(&d, MessageType::Discover, &A, None),
        Some((MessageType::Offer, ip(100)))
    );
    assert_eq!(
        ask(&d, MessageType::Request, &A, Some(ip(100))),
        Some((MessageType::Ack, ip(100)))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_that_lost_an_ack_gives_the_address_to_nobody_else() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sqlite");
    let store = Store::open(&path, 1000, 2).unwrap();
    // What a crash leaves when A's bind of .100 was ACKed but not yet written: the
    // session marker, and .100 still only reserved.
    store.lease_session_begin_blocking().unwrap();
    store
        .lease_apply_blocking(&[
            crate::db::LeaseWrite::Reserve { ip: ip(100) },
            crate::db::LeaseWrite::Reserve { ip: ip(101) },
        ])
        .unwrap();
    drop(store);
    let store = Store::open(&path, 1000, 2).unwrap();
    let d = server(&store, true);
    assert_eq!(
        ask(&d, MessageType::Discover, &B, None),
        Some((MessageType::Offer, ip(102)))
    );
    assert_eq!(
        ask(&d, MessageType::Request, &B, Some(ip(100))),
        Some((MessageType::Ack, ip(100))),
        "a client naming a quarantined address gets it (it is its lost lease)"
    );
    assert_eq!(
        ask(&d, MessageType::Request, &A, Some(ip(100))),
        Some((MessageType::Nak, Ipv4Addr::UNSPECIFIED))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_and_drop_reaches_the_event_ring_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.sqlite"), 1000, 2).unwrap();
    let d = server(&store, false);
    // An unknown client naming itself with markup: dropped, the reason named, the name kept
    // verbatim (the page escapes it).
    let mut m = Message::default();
    m.set_opcode(Opcode::BootRequest).set_xid(9).set_chaddr(&B);
    m.opts_mut()
        .insert(DhcpOption::MessageType(MessageType::Discover));
    m.opts_mut().insert(DhcpOption::Hostname("<b>x</b>".into()));
    let mut bytes = vec![];
    m.encode(&mut Encoder::new(&mut bytes)).unwrap();
    let from: SocketAddr = "0.0.0.0:68".parse().unwrap();
    assert!(d.handle(&bytes, from, 67).is_none());
    let node = store
        .node_create(Node {
            uuid: crate::model::new_uuid(),
            driver: "fake-hardware".into(),
            provision_state: "enroll".into(),
            created_at: crate::model::now(),
            ..Default::default()
        })
        .await
        .unwrap();
    store
        .port_create(Port {
            uuid: crate::model::new_uuid(),
            address: "52:54:00:00:00:0a".into(),
            node_uuid: node.uuid.clone(),
            pxe_enabled: true,
            created_at: crate::model::now(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(ask(&d, MessageType::Discover, &A, None).is_some());
    assert!(d.handle(&[1, 2, 3], from, 67).is_none());
    let log = store.netlog().recent(10);
    assert_eq!(log.len(), 3, "{log:?}");
    let (garbage, offer, drop) = (&log[0], &log[1], &log[2]);
    assert_eq!(drop.result, "dropped");
    assert_eq!(drop.client, "52:54:00:00:00:0b");
    assert_eq!(drop.hostname.as_deref(), Some("<b>x</b>"));
    assert!(drop
        .reason
        .as_deref()
        .is_some_and(|r| r.starts_with("MAC is not a port of an enrolled node")));
    assert_eq!(offer.result, "answered");
    assert!(
        offer.text.starts_with("Discover → Offer 10.99.0.100"),
        "{}",
        offer.text
    );
    assert_eq!(garbage.result, "dropped");
    assert!(garbage
        .reason
        .as_deref()
        .is_some_and(|r| r.contains("decode")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolled_machine_gets_each_dhcp_exchange_in_its_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.sqlite"), 1000, 2).unwrap();
    let node = store
        .node_create(Node {
            uuid: crate::model::new_uuid(),
            driver: "fake-hardware".into(),
            provision_state: "deploying".into(),
            created_at: crate::model::now(),
            ..Default::default()
        })
        .await
        .unwrap();
    store
        .port_create(Port {
            uuid: crate::model::new_uuid(),
            address: "52:54:00:00:00:0a".into(),
            node_uuid: node.uuid.clone(),
            pxe_enabled: true,
            created_at: crate::model::now(),
            ..Default::default()
        })
        .await
        .unwrap();
    let d = DhcpServer {
        store: store.clone(),
        net: Net {
            iface: "test0".into(),
            ip: ip(1),
            netmask: Ipv4Addr::new(255, 255, 255, 0),
        },
        mode: Mode::Full,
        range: Some((ip(100), ip(110))),
        lease_time: 600,
        router: None,
        dns: vec![],
        allow_unknown: false,
        unknown_limit: Default::default(),
        http_port: 8080,
        events: Some(crate::boot::events::BootEvents::spawn(store.clone(), 100)),
        owns: None,
    }
    .open()
    .unwrap();
    assert!(ask(&d, MessageType::Discover, &A, None).is_some());
    assert!(ask(&d, MessageType::Request, &A, Some(ip(100))).is_some());
    let mut texts = vec![];
    for _ in 0..50 {
        texts = store
            .history_list(node.uuid.clone(), None, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|h| h.event)
            .collect();
        if texts.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts[0].starts_with("DHCP Discover → Offer 10.99.0.100"),
        "{texts:?}"
    );
    assert!(
        texts[1].starts_with("DHCP Request → Ack 10.99.0.100"),
        "{texts:?}"
    );
    assert!(texts[1].ends_with("(52:54:00:00:00:0a)"), "{texts:?}");
}

/// Unknown MACs are answered only where discovery is on, and at most
/// `max_boots_per_minute` of their DISCOVERs a minute.
#[test]
fn unknown_macs_answered_per_network_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.sqlite"), 1000, 2).unwrap();
    assert!(ask(&server(&store, false), MessageType::Discover, &A, None).is_none());
    let mut on = server(&store, true);
    on.cfg.unknown_limit = std::sync::Arc::new(crate::model::rate::PerMinute::new(Some(2)));
    for mac in [&A, &B] {
        assert_eq!(
            ask(&on, MessageType::Discover, mac, None).map(|r| r.0),
            Some(MessageType::Offer)
        );
    }
    let c = [0x52, 0x54, 0, 0, 0, 0xc];
    assert!(ask(&on, MessageType::Discover, &c, None).is_none());
    // A REQUEST is not a new boot: the machines already offered finish their exchange.
    assert_eq!(
        ask(&on, MessageType::Request, &A, Some(ip(100))).map(|r| r.0),
        Some(MessageType::Ack)
    );
}

/// Issue #19: a DISCOVER that found the reserve empty waited for *any* commit and looked
/// once more; when that commit was another lease's, the reserve was still empty and the
/// DISCOVER went unanswered. It now waits for the refill itself. The writer is held up by
/// a lock on the database while a bind (its own batch) and then the refill queue behind it.
#[test]
fn an_empty_reserve_waits_for_its_refill_not_for_another_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sqlite");
    let store = Store::open(&path, 5000, 2).unwrap();
    let d = DhcpServer {
        range: Some((Ipv4Addr::new(10, 99, 0, 10), Ipv4Addr::new(10, 99, 0, 250))),
        ..unopened(&store, true)
    }
    .open()
    .unwrap();
    let from: SocketAddr = "0.0.0.0:68".parse().unwrap();
    let offer = |mac: &[u8; 6]| -> Option<Ipv4Addr> {
        let a = d.answer(&packet(MessageType::Discover, mac, None), from, 67)?;
        Some(
            Message::decode(&mut Decoder::new(&a.bytes))
                .unwrap()
                .yiaddr(),
        )
    };
    let first = offer(&A).unwrap();
    let lock = rusqlite::Connection::open(&path).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    // A's bind is taken by the writer as a batch of its own, which now waits for the lock.
    let ack = d.answer(&packet(MessageType::Request, &A, Some(first)), from, 67);
    assert!(ack.is_some_and(|a| a.after.is_some()));
    std::thread::sleep(Duration::from_millis(100));
    let unlock = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        lock.execute_batch("COMMIT").unwrap();
    });
    // Empty the reserve (its refill queues behind the bind), then one more.
    let mut offered = 0;
    for i in 0..40u8 {
        assert!(
            offer(&[2, 0, 0, 0, 1, i]).is_some(),
            "DISCOVER {i} unanswered"
        );
        offered += 1;
    }
    unlock.join().unwrap();
    assert_eq!(offered, 40);
}

/// Members on one segment: a machine another member owns gets no answer from us (and no
/// lease); our own and unknown ones do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_members_machine_is_left_to_its_owner() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.sqlite"), 1000, 2).unwrap();
    let node = store
        .node_create(Node {
            uuid: crate::model::new_uuid(),
            driver: "fake-hardware".into(),
            conductor_group: "rack1".into(),
            created_at: crate::model::now(),
            ..Default::default()
        })
        .await
        .unwrap();
    store
        .port_create(Port {
            uuid: crate::model::new_uuid(),
            address: "52:54:00:00:00:0a".into(),
            node_uuid: node.uuid.clone(),
            pxe_enabled: true,
            created_at: crate::model::now(),
            ..Default::default()
        })
        .await
        .unwrap();
    let asked = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
    let with = |mine: bool| {
        let asked = asked.clone();
        let owns: crate::model::conductor::OwnsNode =
            std::sync::Arc::new(move |group: &str, uuid: &str| {
                asked
                    .lock()
                    .unwrap()
                    .push((group.to_string(), uuid.to_string()));
                mine
            });
        DhcpServer {
            owns: Some(owns),
            ..unopened(&store, true)
        }
        .open()
        .unwrap()
    };
    let theirs = with(false);
    assert!(ask(&theirs, MessageType::Discover, &A, None).is_none());
    assert_eq!(
        asked.lock().unwrap().as_slice(),
        [("rack1".to_string(), node.uuid.clone())]
    );
    let e = store.netlog().recent(1).pop().unwrap();
    assert!(
        e.reason
            .as_deref()
            .unwrap_or_default()
            .contains("another conductor"),
        "{e:?}"
    );
    // Unknown machines (discovery) are still answered.
    assert!(ask(&theirs, MessageType::Discover, &B, None).is_some());
    drop(theirs);
    let ours = with(true);
    assert!(ask(&ours, MessageType::Discover, &A, None).is_some());
}
