//! The DHCP decision, as a pure function: a decoded packet plus what the store knows about
//! its MAC → a reply to build, or a reason to stay silent. Every "no" has a name, which
//! the socket loop logs.

use std::net::Ipv4Addr;

use dhcproto::v4::{DhcpOption, Message, MessageType, OptionCode};

use super::options::{self, Arch, Client, Fetch};
use crate::model::mac::Mac;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Proxy,
    Full,
}

/// What the store says about the client's MAC.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lookup {
    /// The MAC is a port of an enrolled node.
    pub known: bool,
    /// Full mode: the address this MAC holds or may be offered (None = pool exhausted).
    pub address: Option<Ipv4Addr>,
    /// Full mode, REQUEST: the requested address is not this client's to take.
    pub conflict: bool,
    /// An unknown MAC on a discovery network, over `[auto_discovery] max_boots_per_minute`.
    pub throttled: bool,
    /// The MAC's node belongs to another live member of our conductor group: that member
    /// answers it, so two members on one segment never both do.
    pub owned_elsewhere: bool,
}

/// Facts read from a packet.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub mac: Mac,
    pub kind: MessageType,
    pub client: Client,
    /// Option 50 (or ciaddr for renewals).
    pub requested: Option<Ipv4Addr>,
    /// Option 54: the server the client chose (REQUEST).
    pub server_id: Option<Ipv4Addr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignore {
    NotBootRequest,
    NoMessageType,
    BadHardwareAddress,
    UnknownMac,
    OwnedByAnotherConductor,
    DiscoveryRateLimited,
    NotANetbootClient,
    NoBootProgramForArch(u16),
    PoolExhausted,
    ForAnotherServer,
    Release,
    Decline,
    NotHandledInProxyMode,
    UnsupportedMessage,
}

impl Ignore {
    /// A short fixed name for the reason (the metrics' `reason` label).
    pub fn name(self) -> &'static str {
        match self {
            Ignore::NotBootRequest => "not_boot_request",
            Ignore::NoMessageType => "no_message_type",
            Ignore::BadHardwareAddress => "bad_hardware_address",
            Ignore::UnknownMac => "unknown_mac",
            Ignore::OwnedByAnotherConductor => "owned_by_another_conductor",
            Ignore::DiscoveryRateLimited => "discovery_rate_limited",
            Ignore::NotANetbootClient => "not_a_netboot_client",
            Ignore::NoBootProgramForArch(_) => "no_boot_program_for_arch",
            Ignore::PoolExhausted => "pool_exhausted",
            Ignore::ForAnotherServer => "for_another_server",
            Ignore::Release => "release",
            Ignore::Decline => "decline",
            Ignore::NotHandledInProxyMode => "not_handled_in_proxy_mode",
            Ignore::UnsupportedMessage => "unsupported_message",
        }
    }
}

/// A DHCP message type's name as the metrics label it (a fixed set).
pub fn kind_name(kind: MessageType) -> &'static str {
    match kind {
        MessageType::Discover => "discover",
        MessageType::Offer => "offer",
        MessageType::Request => "request",
        MessageType::Decline => "decline",
        MessageType::Ack => "ack",
        MessageType::Nak => "nak",
        MessageType::Release => "release",
        MessageType::Inform => "inform",
        _ => "other",
    }
}

impl std::fmt::Display for Ignore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Ignore::NotBootRequest => "not a BOOTREQUEST".to_string(),
            Ignore::NoMessageType => "no DHCP message type (option 53)".into(),
            Ignore::BadHardwareAddress => "hardware address is not a 6-byte Ethernet MAC".into(),
            Ignore::UnknownMac => {
                "MAC is not a port of an enrolled node and discovery is off on this network \
                 ([auto_discovery] enabled, networks)"
                    .into()
            }
            Ignore::OwnedByAnotherConductor => {
                "the MAC's node is managed by another conductor, which answers it".into()
            }
            Ignore::DiscoveryRateLimited => {
                "unknown MAC over [auto_discovery] max_boots_per_minute".into()
            }
            Ignore::NotANetbootClient => {
                "not a PXE, HTTP boot or iPXE client (proxy mode answers only those)".into()
            }
            Ignore::NoBootProgramForArch(a) => {
                format!("no boot program for client architecture {a}")
            }
            Ignore::PoolExhausted => "no free address in the range".into(),
            Ignore::ForAnotherServer => "the client chose another DHCP server".into(),
            Ignore::Release => "RELEASE handled, no reply".into(),
            Ignore::Decline => "DECLINE handled, no reply".into(),
            Ignore::NotHandledInProxyMode => "message type not answered in proxy mode".into(),
            Ignore::UnsupportedMessage => "message type not handled".into(),
        };
        f.write_str(&s)
    }
}

/// The reply to build.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub kind: MessageType,
    /// The address given to the client (full mode OFFER/ACK).
    pub yiaddr: Option<Ipv4Addr>,
    /// What to boot, if this is a netboot client.
    pub boot: Option<Fetch>,
    /// Say "PXEClient"/"HTTPClient" in option 60 (proxy replies and HTTP boot need it).
    pub vendor_class: Option<&'static str>,
    /// Why we answer this way (logged).
    pub reason: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Reply(Plan),
    Ignore(Ignore),
}

fn vendor_class(msg: &Message) -> Option<String> {
    match msg.opts().get(OptionCode::ClassIdentifier) {
        Some(DhcpOption::ClassIdentifier(v)) => Some(String::from_utf8_lossy(v).into_owned()),
        _ => None,
    }
}

fn arch(msg: &Message) -> Option<u16> {
    match msg.opts().get(OptionCode::ClientSystemArchitecture) {
        Some(DhcpOption::ClientSystemArchitecture(a)) => Some(u16::from(*a)),
        _ => None,
    }
}

fn is_ipxe(msg: &Message) -> bool {
    let user_class = match msg.opts().get(OptionCode::UserClass) {
        Some(DhcpOption::UserClass(v)) => v.windows(4).any(|w| w == b"iPXE"),
        _ => false,
    };
    // Option 175 is iPXE's encapsulated option block.
    user_class || msg.opts().get(OptionCode::Unknown(175)).is_some()
}

/// Read the facts a decision needs from a decoded packet.
pub fn facts(msg: &Message) -> Result<Facts, Ignore> {
    if msg.opcode() != dhcproto::v4::Opcode::BootRequest {
        return Err(Ignore::NotBootRequest);
    }
    let kind = match msg.opts().get(OptionCode::MessageType) {
        Some(DhcpOption::MessageType(t)) => *t,
        _ => return Err(Ignore::NoMessageType),
    };
    // Check hlen first: dhcproto's chaddr() slices by it and panics past 16.
    if msg.hlen() != 6 {
        return Err(Ignore::BadHardwareAddress);
    }
    let mac = Mac::from_slice(msg.chaddr()).ok_or(Ignore::BadHardwareAddress)?;
    let class = vendor_class(msg).unwrap_or_default();
    let a = arch(msg).map(Arch::from_code);
    let client = if is_ipxe(msg) {
        Client::Ipxe
    } else if class.starts_with("HTTPClient") {
        Client::HttpBoot(a.unwrap_or(Arch::EfiX64))
    } else if class.starts_with("PXEClient") {
        Client::Pxe(a.unwrap_or(Arch::BiosX86))
    } else {
        Client::Plain
    };
    let requested = match msg.opts().get(OptionCode::RequestedIpAddress) {
        Some(DhcpOption::RequestedIpAddress(ip)) => Some(*ip),
        _ => (!msg.ciaddr().is_unspecified()).then_some(msg.ciaddr()),
    };
    let server_id = match msg.opts().get(OptionCode::ServerIdentifier) {
        Some(DhcpOption::ServerIdentifier(ip)) => Some(*ip),
        _ => None,
    };
    Ok(Facts {
        mac,
        kind,
        client,
        requested,
        server_id,
    })
}

/// Decide. `us` is our address on the interface; `allow_unknown` answers unknown MACs
/// (discovery is on for this network), unless the lookup says they are throttled.
pub fn decide(
    f: &Facts,
    mode: Mode,
    lookup: &Lookup,
    us: Ipv4Addr,
    allow_unknown: bool,
) -> Decision {
    use Decision::Ignore as No;
    if !lookup.known && !allow_unknown {
        return No(Ignore::UnknownMac);
    }
    if lookup.known && lookup.owned_elsewhere {
        return No(Ignore::OwnedByAnotherConductor);
    }
    if !lookup.known && lookup.throttled {
        return No(Ignore::DiscoveryRateLimited);
    }
    let boot = options::boot_program(f.client);
    let unknown_arch = match f.client {
        Client::Pxe(Arch::Unknown(a)) => Some(a),
        _ => None,
    };
    // PXE ROMs only take boot information from offers that say "PXEClient".
    let vendor = match f.client {
        Client::HttpBoot(_) => Some("HTTPClient"),
        Client::Pxe(_) => Some("PXEClient"),
        Client::Ipxe if mode == Mode::Proxy => Some("PXEClient"),
        _ => None,
    };
    match mode {
        Mode::Proxy => {
            if f.client == Client::Plain {
                return No(Ignore::NotANetbootClient);
            }
            if let Some(a) = unknown_arch {
                return No(Ignore::NoBootProgramForArch(a));
            }
            let kind = match f.kind {
                MessageType::Discover => MessageType::Offer,
                // PXE ROMs ask the proxy again (port 4011 or 67) with a REQUEST.
                MessageType::Request | MessageType::Inform => MessageType::Ack,
                _ => return No(Ignore::NotHandledInProxyMode),
            };
            Decision::Reply(Plan {
                kind,
                yiaddr: None,
                boot,
                vendor_class: vendor,
                reason: "proxyDHCP boot offer",
            })
        }
        Mode::Full => match f.kind {
            MessageType::Discover => match lookup.address {
                None => No(Ignore::PoolExhausted),
                Some(ip) => Decision::Reply(Plan {
                    kind: MessageType::Offer,
                    yiaddr: Some(ip),
                    boot,
                    vendor_class: vendor,
                    reason: "address offered",
                }),
            },
            MessageType::Request => {
                if f.server_id.is_some_and(|s| s != us) {
                    return No(Ignore::ForAnotherServer);
                }
                match (lookup.address, lookup.conflict) {
                    (Some(ip), false) if f.requested.is_none_or(|r| r == ip) => {
                        Decision::Reply(Plan {
                            kind: MessageType::Ack,
                            yiaddr: Some(ip),
                            boot,
                            vendor_class: vendor,
                            reason: "lease granted",
                        })
                    }
                    _ => Decision::Reply(Plan {
                        kind: MessageType::Nak,
                        yiaddr: None,
                        boot: None,
                        vendor_class: None,
                        reason: "requested address not available",
                    }),
                }
            }
            MessageType::Inform => Decision::Reply(Plan {
                kind: MessageType::Ack,
                yiaddr: None,
                boot,
                vendor_class: vendor,
                reason: "inform answered",
            }),
            MessageType::Release => No(Ignore::Release),
            MessageType::Decline => No(Ignore::Decline),
            _ => No(Ignore::UnsupportedMessage),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dhcproto::{Decodable, Decoder, Encodable, Encoder};

    const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
    const US: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);

    /// Packets as the real clients send them (option sets taken from their documentation
    /// and captures: PXE spec 2.1, UEFI 2.x HTTP boot, iPXE, busybox udhcpc).
    fn client_packets() -> Vec<(&'static str, Message)> {
        fn base(kind: MessageType, opts: Vec<DhcpOption>) -> Message {
            let mut m = Message::default();
            m.set_opcode(dhcproto::v4::Opcode::BootRequest)
                .set_xid(0x1234_5678)
                .set_flags(dhcproto::v4::Flags::default().set_broadcast())
                .set_chaddr(&MAC);
            m.opts_mut().insert(DhcpOption::MessageType(kind));
            for o in opts {
                m.opts_mut().insert(o);
            }
            m
        }
        let pxe = |arch: u16, class: &str| {
            vec![
                DhcpOption::MaxMessageSize(1464),
                DhcpOption::ClientSystemArchitecture(arch.into()),
                DhcpOption::ClientNetworkInterface(1, 3, 16),
                DhcpOption::ClientMachineIdentifier(vec![0; 17]),
                DhcpOption::ClassIdentifier(class.as_bytes().to_vec()),
            ]
        };
        let mut ipxe = pxe(0, "PXEClient:Arch:00000:UNDI:002001");
        ipxe.push(DhcpOption::UserClass(b"iPXE".to_vec()));
        ipxe.push(DhcpOption::Unknown(dhcproto::v4::UnknownOption::new(
            OptionCode::Unknown(175),
            vec![0xb1, 0x05, 0x01, 0x24, 0x02, 0x01, 0x01],
        )));
        let mut ipxe_request = ipxe.clone();
        ipxe_request.push(DhcpOption::RequestedIpAddress(Ipv4Addr::new(
            10, 99, 0, 100,
        )));
        ipxe_request.push(DhcpOption::ServerIdentifier(US));
        let udhcpc = vec![
            DhcpOption::ClassIdentifier(b"udhcp 1.35.0".to_vec()),
            DhcpOption::ClientIdentifier([vec![1], MAC.to_vec()].concat()),
        ];
        let mut other_server = udhcpc.clone();
        other_server.push(DhcpOption::ServerIdentifier(Ipv4Addr::new(10, 99, 0, 2)));
        vec![
            (
                "pxe_bios_discover",
                base(
                    MessageType::Discover,
                    pxe(0, "PXEClient:Arch:00000:UNDI:002001"),
                ),
            ),
            (
                "pxe_uefi_x64_discover",
                base(
                    MessageType::Discover,
                    pxe(7, "PXEClient:Arch:00007:UNDI:003016"),
                ),
            ),
            (
                "pxe_arm64_discover",
                base(
                    MessageType::Discover,
                    pxe(11, "PXEClient:Arch:00011:UNDI:003000"),
                ),
            ),
            (
                "pxe_unknown_arch_discover",
                base(
                    MessageType::Discover,
                    pxe(99, "PXEClient:Arch:00099:UNDI:003000"),
                ),
            ),
            (
                "uefi_http_discover",
                base(
                    MessageType::Discover,
                    pxe(16, "HTTPClient:Arch:00016:UNDI:003001"),
                ),
            ),
            ("ipxe_discover", base(MessageType::Discover, ipxe)),
            ("ipxe_request", base(MessageType::Request, ipxe_request)),
            (
                "udhcpc_discover",
                base(MessageType::Discover, udhcpc.clone()),
            ),
            (
                "udhcpc_request_other_server",
                base(MessageType::Request, other_server),
            ),
            ("udhcpc_release", base(MessageType::Release, udhcpc)),
        ]
    }

    fn fixtures() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dhcp")
    }

    fn hex(bytes: &[u8]) -> String {
        bytes
            .chunks(32)
            .map(|c| c.iter().map(|b| format!("{b:02x}")).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    }

    fn unhex(text: &str) -> Vec<u8> {
        let clean: String = text.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..clean.len() / 2)
            .filter_map(|i| u8::from_str_radix(&clean[2 * i..2 * i + 2], 16).ok())
            .collect()
    }

    /// Decisions for every fixture, mode and MAC status, compared with the golden file.
    /// `UPDATE_GOLDEN=1` rewrites the fixtures and the golden decisions.
    #[test]
    fn golden_decisions() {
        let update = std::env::var_os("UPDATE_GOLDEN").is_some();
        if update {
            for (name, msg) in client_packets() {
                let mut out = vec![];
                msg.encode(&mut Encoder::new(&mut out)).unwrap();
                std::fs::write(fixtures().join(format!("{name}.hex")), hex(&out)).unwrap();
            }
            std::fs::write(
                fixtures().join("malformed_truncated.hex"),
                "0101060012345678\n",
            )
            .unwrap();
            std::fs::write(
                fixtures().join("malformed_hlen16.hex"),
                hex(&{
                    let mut b = vec![0u8; 240];
                    b[0] = 1;
                    b[1] = 1;
                    b[2] = 16;
                    b[236..240].copy_from_slice(&[99, 130, 83, 99]);
                    b.extend_from_slice(&[53, 1, 1, 255]);
                    b
                }),
            )
            .unwrap();
        }
        let mut names: Vec<String> = std::fs::read_dir(fixtures())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".hex"))
            .collect();
        names.sort();
        assert!(
            names.len() >= 12,
            "fixtures missing: run with UPDATE_GOLDEN=1"
        );
        let mut report = String::new();
        for name in names {
            let bytes = unhex(&std::fs::read_to_string(fixtures().join(&name)).unwrap());
            let facts = match Message::decode(&mut Decoder::new(&bytes)) {
                Err(_) => {
                    report.push_str(&format!("{name}: undecodable -> dropped\n"));
                    continue;
                }
                Ok(m) => facts(&m),
            };
            let f = match facts {
                Err(why) => {
                    report.push_str(&format!("{name}: dropped ({why})\n"));
                    continue;
                }
                Ok(f) => f,
            };
            report.push_str(&format!("{name}: {:?} {:?}\n", f.kind, f.client));
            let a = Some(Ipv4Addr::new(10, 99, 0, 100));
            // (mode, known, address, discovery on this network, throttled, another
            // member's node)
            for (mode, known, addr, discovery, throttled, elsewhere) in [
                (Mode::Proxy, true, None, false, false, false),
                (Mode::Proxy, false, None, false, false, false),
                (Mode::Full, true, a, false, false, false),
                (Mode::Full, false, None, false, false, false),
                (Mode::Proxy, false, None, true, false, false),
                (Mode::Full, false, a, true, false, false),
                (Mode::Full, false, a, true, true, false),
                (Mode::Proxy, true, None, true, false, true),
                (Mode::Full, true, a, true, false, true),
            ] {
                let l = Lookup {
                    known,
                    address: addr,
                    conflict: false,
                    throttled,
                    owned_elsewhere: elsewhere,
                };
                let d = match decide(&f, mode, &l, US, discovery) {
                    Decision::Ignore(why) => format!("ignore: {why}"),
                    Decision::Reply(p) => format!(
                        "{:?} yiaddr={:?} boot={:?} vendor={:?} ({})",
                        p.kind, p.yiaddr, p.boot, p.vendor_class, p.reason
                    ),
                };
                let extra = match (discovery, throttled, elsewhere) {
                    (_, _, true) => " discovery owned-by-another-member",
                    (false, _, _) => "",
                    (true, false, _) => " discovery",
                    (true, true, _) => " discovery throttled",
                };
                report.push_str(&format!("  {mode:?} known={known}{extra}: {d}\n"));
            }
        }
        let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden/dhcp_decisions.txt");
        if update {
            std::fs::write(&golden, &report).unwrap();
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        assert!(
            report == want,
            "DHCP decisions changed (UPDATE_GOLDEN=1 to accept):\n{report}"
        );
    }

    #[test]
    fn table_facts() {
        use super::super::options::*;
        assert_eq!(
            boot_program(Client::Pxe(Arch::BiosX86)),
            Some(Fetch::Tftp("undionly.kpxe"))
        );
        assert_eq!(
            boot_program(Client::Pxe(Arch::EfiX64)),
            Some(Fetch::Tftp("snponly.efi"))
        );
        assert_eq!(
            boot_program(Client::Ipxe),
            Some(Fetch::Http("/boot.ipxe".into()))
        );
        assert_eq!(boot_program(Client::Plain), None);
        assert_eq!(Arch::from_code(9), Arch::EfiX64);
    }
}
