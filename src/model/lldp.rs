//! LLDP TLVs (802.1AB basic set, 802.1Q and 802.3 organisational TLVs) turned into the
//! `parsed_lldp` names Ironic's `parse-lldp` hook stores, and the `local_link_connection`
//! its `local-link-connection` hook derives. Pure: bytes and JSON in, JSON out; malformed or
//! truncated TLVs are skipped, never a panic.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde_json::{json, Value};

use super::JsonObject;

/// One TLV as it travels: type (7 bits) and value (at most 511 bytes).
pub type Tlv = (u8, Vec<u8>);

pub const TLV_END: u8 = 0;
pub const TLV_CHASSIS_ID: u8 = 1;
pub const TLV_PORT_ID: u8 = 2;
pub const TLV_TTL: u8 = 3;
pub const TLV_PORT_DESCRIPTION: u8 = 4;
pub const TLV_SYSTEM_NAME: u8 = 5;
pub const TLV_SYSTEM_DESCRIPTION: u8 = 6;
pub const TLV_SYSTEM_CAPABILITIES: u8 = 7;
pub const TLV_MANAGEMENT_ADDRESS: u8 = 8;
pub const TLV_ORG_SPECIFIC: u8 = 127;

/// The longest TLV value the 9-bit length can carry.
pub const MAX_TLV_LEN: usize = 511;
/// TLVs kept per interface from JSON: a full 1500-byte LLDPDU holds fewer than 750.
const MAX_TLVS: usize = 750;

const OUI_802_1: [u8; 3] = [0x00, 0x80, 0xc2];
const OUI_802_3: [u8; 3] = [0x00, 0x12, 0x0f];

/// System capability bits 1..=10 (bit 0, "other", is not reported), as Ironic names them.
const CAPABILITIES: [&str; 10] = [
    "Repeater",
    "Bridge",
    "WLAN",
    "Router",
    "Telephone",
    "DOCSIS cable device",
    "Station only",
    "C-Vlan",
    "S-Vlan",
    "TPMR",
];

/// Auto-negotiation capability bits (RFC 4836 IANAifMauAutoNegCapBits), most significant
/// first after bit 15 ("other"), as Ironic names them.
const AUTONEG_CAPS: [(u16, &str); 15] = [
    (1 << 14, "10BASE-T hdx"),
    (1 << 13, "10BASE-T fdx"),
    (1 << 12, "10BASE-T4"),
    (1 << 11, "100BASE-TX hdx"),
    (1 << 10, "100BASE-TX fdx"),
    (1 << 9, "100BASE-T2 hdx"),
    (1 << 8, "100BASE-T2 fdx"),
    (1 << 7, "PAUSE fdx"),
    (1 << 6, "Asym PAUSE fdx"),
    (1 << 5, "Sym PAUSE fdx"),
    (1 << 4, "Asym and Sym PAUSE fdx"),
    (1 << 3, "1000BASE-X hdx"),
    (1 << 2, "1000BASE-X fdx"),
    (1 << 1, "1000BASE-T hdx"),
    (1 << 0, "1000BASE-T fdx"),
];

/// Operational MAU types (RFC 4836 ifMauTypeList) by index, as Ironic names them; an index
/// past the end makes the whole MAC/PHY TLV invalid, as in Ironic.
const MAU_TYPES: [&str; 54] = [
    "Unknown",
    "AUI",
    "10BASE-5",
    "FOIRL",
    "10BASE-2",
    "10BASE-T duplex mode unknown",
    "10BASE-FP",
    "10BASE-FB",
    "10BASE-FL duplex mode unknown",
    "10BROAD36",
    "10BASE-T half duplex",
    "10BASE-T full duplex",
    "10BASE-FL half duplex",
    "10BASE-FL full duplex",
    "100 BASE-T4",
    "100BASE-TX half duplex",
    "100BASE-TX full duplex",
    "100BASE-FX half duplex",
    "100BASE-FX full duplex",
    "100BASE-T2 half duplex",
    "100BASE-T2 full duplex",
    "1000BASE-X half duplex",
    "1000BASE-X full duplex",
    "1000BASE-LX half duplex",
    "1000BASE-LX full duplex",
    "1000BASE-SX half duplex",
    "1000BASE-SX full duplex",
    "1000BASE-CX half duplex",
    "1000BASE-CX full duplex",
    "1000BASE-T half duplex",
    "1000BASE-T full duplex",
    "10GBASE-X",
    "10GBASE-LX4",
    "10GBASE-R",
    "10GBASE-ER",
    "10GBASE-LR",
    "10GBASE-SR",
    "10GBASE-W",
    "10GBASE-EW",
    "10GBASE-LW",
    "10GBASE-SW",
    "10GBASE-CX4",
    "2BASE-TL",
    "10PASS-TS",
    "100BASE-BX10D",
    "100BASE-BX10U",
    "100BASE-LX10",
    "1000BASE-BX10D",
    "1000BASE-BX10U",
    "1000BASE-LX10",
    "1000BASE-PX10D",
    "1000BASE-PX10U",
    "1000BASE-PX20D",
    "1000BASE-PX20U",
];

/// What one interface's LLDP TLVs say, under Ironic's `parsed_lldp` names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedLldp {
    fields: JsonObject,
    /// The chassis ID when its subtype is a MAC address: the only kind Ironic takes as `switch_id`.
    switch_mac: Option<String>,
    port_id: Option<String>,
}

impl ParsedLldp {
    /// The name/value pairs (`switch_chassis_id`, `switch_port_vlans`, …).
    pub fn fields(&self) -> &JsonObject {
        &self.fields
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The value stored under `plugin_data.parsed_lldp[<interface>]`.
    pub fn to_json(&self) -> Value {
        Value::Object(self.fields.clone())
    }

    /// `switch_id` (chassis ID of the MAC subtype only) and `port_id` (any port ID subtype),
    /// as Ironic's local-link-connection hook sets them on the port. Ironic never overwrites
    /// a key the port already has; that merge is the caller's.
    pub fn local_link_connection(&self) -> JsonObject {
        let mut out = JsonObject::new();
        if let Some(mac) = &self.switch_mac {
            out.insert("switch_id".into(), json!(mac));
        }
        if let Some(port) = &self.port_id {
            out.insert("port_id".into(), json!(port));
        }
        out
    }

    /// First value wins, as Ironic's `set_value`.
    fn set(&mut self, name: &str, value: Value) {
        self.fields.entry(name.to_string()).or_insert(value);
    }

    fn append(&mut self, name: &str, value: Value) {
        let slot = self
            .fields
            .entry(name.to_string())
            .or_insert_with(|| Value::Array(vec![]));
        if let Value::Array(items) = slot {
            items.push(value);
        }
    }
}

/// Parse one interface's TLVs. Unknown types and TLVs that do not parse add nothing.
pub fn parse_tlvs(tlvs: &[Tlv]) -> ParsedLldp {
    let mut out = ParsedLldp::default();
    for (kind, data) in tlvs {
        parse_one(&mut out, *kind, data);
    }
    out
}

/// Parse IPA's JSON form, `[[type, "hex"], …]` (`interfaces[].lldp` or `lldp_raw[<name>]`).
pub fn parse_json(tlvs: &Value) -> ParsedLldp {
    parse_tlvs(&tlvs_from_json(tlvs))
}

/// One interface's raw LLDP as Ironic's hooks pick it: `plugin_data.lldp_raw[<name>]` unless
/// that is missing or empty, else the inventory interface's `lldp`; `None` when neither has
/// any (the hooks then log "No LLDP data found" and skip the interface).
pub fn interface_tlvs<'a>(plugin_data: &'a Value, interface: &'a Value) -> Option<&'a Value> {
    let truthy = |v: &&Value| match v {
        Value::Null | Value::Bool(false) => false,
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::String(s) => !s.is_empty(),
        _ => true,
    };
    let name = interface.get("name").and_then(Value::as_str)?;
    plugin_data
        .get("lldp_raw")
        .and_then(|raw| raw.get(name))
        .filter(truthy)
        .or_else(|| interface.get("lldp").filter(|v| !v.is_null()))
}

/// IPA's `[[type, "hex"], …]` as TLVs. Entries that are not a type 0..=127 with an even-length
/// hex string of at most 511 bytes are dropped; so is anything past the first 750 entries.
pub fn tlvs_from_json(tlvs: &Value) -> Vec<Tlv> {
    let Some(items) = tlvs.as_array() else {
        return vec![];
    };
    items
        .iter()
        .filter_map(|item| {
            let pair = item.as_array()?;
            let [kind, hex] = pair.as_slice() else {
                return None;
            };
            let kind = u8::try_from(kind.as_u64()?).ok().filter(|k| *k <= 127)?;
            let hex = hex.as_str()?;
            if hex.len() > 2 * MAX_TLV_LEN {
                return None;
            }
            Some((kind, decode_hex(hex)?))
        })
        .take(MAX_TLVS)
        .collect()
}

/// TLVs as IPA sends them: `[[type, "hex"], …]`, lower-case hex.
pub fn tlvs_to_json(tlvs: &[Tlv]) -> Value {
    Value::Array(
        tlvs.iter()
            .map(|(kind, data)| json!([kind, encode_hex(data)]))
            .collect(),
    )
}

/// Split an LLDPDU (the frame after its 14-byte Ethernet header) into TLVs, as IPA does:
/// every TLV up to and including End; a TLV whose length runs past the frame keeps the bytes
/// there are, and a lone trailing byte ends the walk.
pub fn split_lldpdu(mut pdu: &[u8]) -> Vec<Tlv> {
    let mut out = vec![];
    while let [hi, lo, rest @ ..] = pdu {
        let header = u16::from_be_bytes([*hi, *lo]);
        let kind = (header >> 9) as u8;
        let len = usize::from(header & 0x01ff).min(rest.len());
        let (value, tail) = rest.split_at(len);
        out.push((kind, value.to_vec()));
        pdu = tail;
        if kind == TLV_END {
            break;
        }
    }
    out
}

fn parse_one(out: &mut ParsedLldp, kind: u8, data: &[u8]) {
    match kind {
        // The first valid chassis and port IDs count, for the fields and the link alike.
        TLV_CHASSIS_ID => {
            if let Some((subtype, value)) = chassis_id(data) {
                if !out.fields.contains_key("switch_chassis_id") {
                    out.switch_mac = (subtype == 4).then(|| value.clone());
                }
                out.set("switch_chassis_id", json!(value));
            }
        }
        TLV_PORT_ID => {
            if let Some(value) = port_id(data) {
                if !out.fields.contains_key("switch_port_id") {
                    out.port_id = Some(value.clone()).filter(|v| !v.is_empty());
                }
                out.set("switch_port_id", json!(value));
            }
        }
        TLV_PORT_DESCRIPTION => set_text(out, "switch_port_description", data),
        TLV_SYSTEM_NAME => set_text(out, "switch_system_name", data),
        TLV_SYSTEM_DESCRIPTION => set_text(out, "switch_system_description", data),
        TLV_SYSTEM_CAPABILITIES => {
            if let [s0, s1, e0, e1] = data {
                let supported = capabilities(u16::from_be_bytes([*s0, *s1]));
                let enabled = capabilities(u16::from_be_bytes([*e0, *e1]));
                out.set("switch_capabilities_support", json!(supported));
                out.set("switch_capabilities_enabled", json!(enabled));
            }
        }
        TLV_MANAGEMENT_ADDRESS => {
            // Address string length, then the IANA family and the address.
            if let Some((_len, rest)) = data.split_first() {
                if let Some(address) = iana_address(rest) {
                    out.append("switch_mgmt_addresses", json!(address));
                }
            }
        }
        TLV_ORG_SPECIFIC => {
            if let [a, b, c, subtype, rest @ ..] = data {
                match [*a, *b, *c] {
                    OUI_802_1 => parse_802_1(out, *subtype, rest),
                    OUI_802_3 => parse_802_3(out, *subtype, rest),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

fn set_text(out: &mut ParsedLldp, name: &str, data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        out.set(name, json!(text));
    }
}

fn be16(data: &[u8]) -> Option<u16> {
    match data {
        [hi, lo, ..] => Some(u16::from_be_bytes([*hi, *lo])),
        _ => None,
    }
}

/// 802.1Q organisational TLVs (Annex D).
fn parse_802_1(out: &mut ParsedLldp, subtype: u8, data: &[u8]) {
    match subtype {
        1 => {
            if let Some(vid) = be16(data) {
                out.set("switch_port_untagged_vlan_id", json!(vid));
            }
        }
        2 => {
            if let [flags, hi, lo] = data {
                out.set(
                    "switch_port_protocol_vlan_enabled",
                    json!(flags & 0x04 != 0),
                );
                out.set(
                    "switch_port_protocol_vlan_support",
                    json!(flags & 0x02 != 0),
                );
                let vid = u16::from_be_bytes([*hi, *lo]);
                out.append("switch_port_protocol_vlan_ids", json!(vid));
            }
        }
        3 => {
            if let [hi, lo, len, rest @ ..] = data {
                let Some(raw) = rest.get(..usize::from(*len)) else {
                    return;
                };
                // A padded string: trailing NULs are padding.
                let end = raw.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
                let Some(name) = raw.get(..end).and_then(|r| std::str::from_utf8(r).ok()) else {
                    return;
                };
                let vid = u16::from_be_bytes([*hi, *lo]);
                out.append("switch_port_vlans", json!({"name": name, "id": vid}));
            }
        }
        4 => {
            if let [len, rest @ ..] = data {
                if let Some(proto) = rest.get(..usize::from(*len)) {
                    out.append("switch_protocol_identities", json!(encode_hex(proto)));
                }
            }
        }
        6 => {
            if let Some(vid) = be16(data) {
                out.set("switch_port_management_vlan_id", json!(vid));
            }
        }
        7 => link_aggregation(out, data),
        _ => {}
    }
}

/// 802.3 organisational TLVs (clause 79).
fn parse_802_3(out: &mut ParsedLldp, subtype: u8, data: &[u8]) {
    match subtype {
        1 => {
            let [autoneg, p0, p1, m0, m1] = data else {
                return;
            };
            let Some(mau) = MAU_TYPES.get(usize::from(u16::from_be_bytes([*m0, *m1]))) else {
                return;
            };
            let pmd = u16::from_be_bytes([*p0, *p1]);
            let mut caps: Vec<&str> = AUTONEG_CAPS
                .iter()
                .filter(|(bit, _)| pmd & bit != 0)
                .map(|(_, name)| *name)
                .collect();
            caps.sort_unstable();
            out.set(
                "switch_port_autonegotiation_enabled",
                json!(autoneg & 0x02 != 0),
            );
            out.set(
                "switch_port_autonegotiation_support",
                json!(autoneg & 0x01 != 0),
            );
            out.set("switch_port_physical_capabilities", json!(caps));
            out.set("switch_port_mau_type", json!(mau));
        }
        // Deprecated in 802.3 for the 802.1 TLV of the same layout; switches still send it.
        3 => link_aggregation(out, data),
        4 => {
            if let Some(mtu) = be16(data) {
                out.set("switch_port_mtu", json!(mtu));
            }
        }
        _ => {}
    }
}

fn link_aggregation(out: &mut ParsedLldp, data: &[u8]) {
    if let [status, a, b, c, d] = data {
        out.set(
            "switch_port_link_aggregation_enabled",
            json!(status & 0x02 != 0),
        );
        out.set(
            "switch_port_link_aggregation_support",
            json!(status & 0x01 != 0),
        );
        let id = u32::from_be_bytes([*a, *b, *c, *d]);
        out.set("switch_port_link_aggregation_id", json!(id));
    }
}

fn capabilities(bits: u16) -> Vec<&'static str> {
    CAPABILITIES
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << (i + 1)) != 0)
        .map(|(_, name)| *name)
        .collect()
}

/// Chassis ID: (subtype, value). Subtypes 1-3, 6, 7 are text, 4 a MAC, 5 a network address.
fn chassis_id(data: &[u8]) -> Option<(u8, String)> {
    let (subtype, rest) = data.split_first()?;
    let value = match subtype {
        1 | 2 | 3 | 6 | 7 => std::str::from_utf8(rest).ok()?.to_string(),
        4 => mac(rest)?,
        5 => iana_address(rest)?,
        _ => return None,
    };
    Some((*subtype, value))
}

/// Port ID: subtypes 1, 2, 5, 7 are text, 3 a MAC, 4 a network address (6, agent circuit
/// ID, is not one Ironic reads).
fn port_id(data: &[u8]) -> Option<String> {
    let (subtype, rest) = data.split_first()?;
    match subtype {
        1 | 2 | 5 | 7 => std::str::from_utf8(rest).ok().map(str::to_string),
        3 => mac(rest),
        4 => iana_address(rest),
        _ => None,
    }
}

/// An IANA address family byte and the address: IPv4 (1), IPv6 (2) or MAC (6).
fn iana_address(data: &[u8]) -> Option<String> {
    let (family, rest) = data.split_first()?;
    match family {
        1 => {
            let b: [u8; 4] = rest.get(..4)?.try_into().ok()?;
            Some(Ipv4Addr::from(b).to_string())
        }
        2 => {
            let b: [u8; 16] = rest.get(..16)?.try_into().ok()?;
            Some(Ipv6Addr::from(b).to_string())
        }
        6 => mac(rest),
        _ => None,
    }
}

/// The first six bytes as `aa:bb:cc:dd:ee:ff`.
fn mac(data: &[u8]) -> Option<String> {
    let b = data.get(..6)?;
    Some(
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

fn encode_hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let bytes = hex.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |c: u8| {
        char::from(c)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    bytes
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Some(nibble(*hi)? << 4 | nibble(*lo)?),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests;
