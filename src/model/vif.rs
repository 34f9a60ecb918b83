//! VIFs (virtual network interfaces) as standalone Ironic keeps them: the VIF's id in
//! `internal_info.tenant_vif_port_id` of the port or portgroup it is bound to, and the
//! rules that pick a free one (Ironic's network/common.py `get_free_port_like_object`).
//! Pure: the conductor loads the node's ports and portgroups, asks here, and saves.

use std::cmp::Reverse;

use super::port::Port;
use super::portgroup::Portgroup;
use super::JsonObject;

/// Where Ironic keeps a tenant VIF on a port or portgroup.
pub const TENANT_VIF_KEY: &str = "tenant_vif_port_id";
/// The legacy place (Nova once wrote it); cleared on detach as Ironic does.
pub const LEGACY_VIF_KEY: &str = "vif_port_id";

/// Whether the network interface `name` keeps VIFs on ports: `flat` does (Ironic's
/// VIFPortIDMixin), `noop` accepts and forgets them (Ironic's NoopNetwork).
pub fn keeps_vifs(network_interface: &str) -> bool {
    network_interface == "flat"
}

/// An attach request: the VIF and what narrows the choice.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attach {
    pub id: String,
    /// Physical networks the VIF's network spans (empty: any). Ironic asks Neutron;
    /// standalone, the request says.
    pub physnets: Vec<String>,
    pub port_uuid: Option<String>,
    pub portgroup_uuid: Option<String>,
}

/// The port-like object chosen, by index into the slices given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Port(usize),
    Portgroup(usize),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VifError {
    #[error(
        "Unable to attach VIF {vif} because VIF {vif} is already attached to Ironic {kind} {uuid}"
    )]
    AlreadyAttached {
        vif: String,
        kind: &'static str,
        uuid: String,
    },
    #[error("Unable to attach VIF {0}, not enough free physical ports.")]
    NoFreePorts(String),
    #[error("Port group {portgroup} has member ports with inconsistent physical networks ({physnets}). All ports in a port group must have the same physical network.")]
    PhysnetInconsistent { portgroup: String, physnets: String },
}

/// The tenant VIF on a port's or portgroup's `internal_info`.
pub fn attached(internal_info: &JsonObject) -> Option<&str> {
    internal_info
        .get(TENANT_VIF_KEY)
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
}

/// Every attached VIF id: ports first, then portgroups (Ironic's order).
pub fn list(ports: &[Port], portgroups: &[Portgroup]) -> Vec<String> {
    ports
        .iter()
        .map(|p| attached(&p.internal_info))
        .chain(portgroups.iter().map(|g| attached(&g.internal_info)))
        .flatten()
        .map(str::to_string)
        .collect()
}

/// Where `vif` is attached: portgroups are searched first, as Ironic does.
pub fn holder(ports: &[Port], portgroups: &[Portgroup], vif: &str) -> Option<Slot> {
    if let Some(i) = portgroups
        .iter()
        .position(|g| attached(&g.internal_info) == Some(vif))
    {
        return Some(Slot::Portgroup(i));
    }
    ports
        .iter()
        .position(|p| attached(&p.internal_info) == Some(vif))
        .map(Slot::Port)
}

/// Has `vif` already (an error), or some other VIF (true), or none (false)?
fn busy(info: &JsonObject, vif: &str, kind: &'static str, uuid: &str) -> Result<bool, VifError> {
    match attached(info) {
        Some(v) if v == vif => Err(VifError::AlreadyAttached {
            vif: vif.to_string(),
            kind,
            uuid: uuid.to_string(),
        }),
        other => Ok(other.is_some()),
    }
}

/// Pick the port or portgroup `req` attaches to. Candidates: ports outside portgroups,
/// and portgroups with a free member port (or, when one member already carries a VIF,
/// that group's free ports one by one). Ports whose physical network is set and not one
/// of the VIF's are out. Then, in order of preference: a physical network the VIF is on,
/// a portgroup over a port, a PXE-enabled port; ties go to the first listed.
pub fn choose(ports: &[Port], portgroups: &[Portgroup], req: &Attach) -> Result<Slot, VifError> {
    let vif = req.id.as_str();
    let port_wanted = req.port_uuid.as_deref();
    // A port named explicitly wins over a portgroup named too (Ironic reads port first).
    let group_wanted = req
        .portgroup_uuid
        .as_deref()
        .filter(|_| port_wanted.is_none());
    let physnet_ok = |p: &Port| {
        req.physnets.is_empty()
            || p.physical_network
                .as_ref()
                .is_none_or(|n| req.physnets.contains(n))
    };
    let mut free: Vec<Slot> = vec![];
    // Portgroups with a member that carries some VIF: their ports are used singly.
    let mut split: Vec<Option<&str>> = vec![];
    // Free member ports, by portgroup uuid.
    let mut members: Vec<(Option<&str>, usize)> = vec![];
    for (i, p) in ports.iter().enumerate() {
        if port_wanted.is_some_and(|w| w != p.uuid) {
            continue;
        }
        if busy(&p.internal_info, vif, "Port", &p.uuid)? {
            split.push(p.portgroup_uuid.as_deref());
            continue;
        }
        if !physnet_ok(p) {
            continue;
        }
        if p.portgroup_uuid.is_none() && group_wanted.is_none() {
            free.push(Slot::Port(i));
        } else {
            members.push((p.portgroup_uuid.as_deref(), i));
        }
    }
    if port_wanted.is_none() {
        for (gi, g) in portgroups.iter().enumerate() {
            if group_wanted.is_some_and(|w| w != g.uuid)
                || busy(&g.internal_info, vif, "Portgroup", &g.uuid)?
            {
                continue;
            }
            let own: Vec<usize> = members
                .iter()
                .filter(|(pg, _)| *pg == Some(g.uuid.as_str()))
                .map(|(_, i)| *i)
                .collect();
            if split.contains(&Some(g.uuid.as_str())) {
                if group_wanted.is_none() {
                    free.extend(own.into_iter().map(Slot::Port));
                }
            } else if !own.is_empty() {
                free.push(Slot::Portgroup(gi));
            }
        }
    }
    let mut keyed = Vec::with_capacity(free.len());
    for slot in free {
        let key = match slot {
            Slot::Port(i) => {
                let p = ports.get(i);
                let net = p.and_then(|p| p.physical_network.as_ref());
                let on_net = net.is_some_and(|n| req.physnets.contains(n));
                (on_net, false, p.is_some_and(|p| p.pxe_enabled))
            }
            Slot::Portgroup(i) => {
                let uuid = portgroups.get(i).map_or("", |g| g.uuid.as_str());
                let net = group_physnet(ports, uuid)?;
                (net.is_some_and(|n| req.physnets.contains(n)), true, true)
            }
        };
        keyed.push((Reverse(key), slot));
    }
    // Stable: equal keys keep their listed order, as Python's sorted does.
    keyed.sort_by_key(|(k, _)| *k);
    keyed
        .first()
        .map(|(_, s)| *s)
        .ok_or_else(|| VifError::NoFreePorts(vif.to_string()))
}

/// The one physical network of a portgroup's ports (None when they have none); ports
/// that disagree are Ironic's PortgroupPhysnetInconsistent.
fn group_physnet<'a>(ports: &'a [Port], portgroup: &str) -> Result<Option<&'a String>, VifError> {
    let mut nets: Vec<Option<&String>> = vec![];
    for p in ports
        .iter()
        .filter(|p| p.portgroup_uuid.as_deref() == Some(portgroup))
    {
        let n = p.physical_network.as_ref();
        if !nets.contains(&n) {
            nets.push(n);
        }
    }
    match nets.as_slice() {
        [] => Ok(None),
        [one] => Ok(*one),
        many => Err(VifError::PhysnetInconsistent {
            portgroup: portgroup.to_string(),
            physnets: many
                .iter()
                .map(|n| n.map_or("None".to_string(), |s| format!("'{s}'")))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn port(uuid: &str, pg: Option<&str>, pxe: bool, net: Option<&str>) -> Port {
        Port {
            uuid: uuid.into(),
            portgroup_uuid: pg.map(Into::into),
            pxe_enabled: pxe,
            physical_network: net.map(Into::into),
            ..Default::default()
        }
    }

    fn group(uuid: &str) -> Portgroup {
        Portgroup {
            uuid: uuid.into(),
            ..Default::default()
        }
    }

    fn with_vif<T>(mut x: T, info: impl FnOnce(&mut T) -> &mut JsonObject, vif: &str) -> T {
        info(&mut x).insert(TENANT_VIF_KEY.into(), json!(vif));
        x
    }

    fn req(id: &str) -> Attach {
        Attach {
            id: id.into(),
            ..Default::default()
        }
    }

    #[test]
    fn prefers_portgroups_then_pxe_ports() {
        let ports = [
            port("p0", None, false, None),
            port("p1", None, true, None),
            port("m0", Some("g0"), true, None),
        ];
        let groups = [group("g0")];
        assert_eq!(choose(&ports, &groups, &req("v")), Ok(Slot::Portgroup(0)));
        assert_eq!(choose(&ports, &[], &req("v")), Ok(Slot::Port(1)));
        // Ports in a portgroup are not used alone while the group is whole.
        assert_eq!(
            choose(&ports[2..], &[], &req("v")),
            Err(VifError::NoFreePorts("v".into()))
        );
        // An empty portgroup is no candidate.
        assert_eq!(choose(&ports[..1], &groups, &req("v")), Ok(Slot::Port(0)));
    }

    #[test]
    fn a_group_with_a_busy_member_offers_its_free_ports() {
        let ports = [
            with_vif(
                port("m0", Some("g0"), true, None),
                |p| &mut p.internal_info,
                "other",
            ),
            port("m1", Some("g0"), false, None),
        ];
        let groups = [group("g0")];
        assert_eq!(choose(&ports, &groups, &req("v")), Ok(Slot::Port(1)));
    }

    #[test]
    fn physical_networks_filter_and_rank() {
        let ports = [
            port("p0", None, true, None),
            port("p1", None, false, Some("physnet1")),
            port("p2", None, true, Some("physnet2")),
        ];
        let mut r = req("v");
        r.physnets = vec!["physnet1".into()];
        assert_eq!(
            choose(&ports, &[], &r),
            Ok(Slot::Port(1)),
            "a matching physnet first"
        );
        r.physnets = vec!["physnet3".into()];
        assert_eq!(
            choose(&ports, &[], &r),
            Ok(Slot::Port(0)),
            "None is always allowed"
        );
        assert_eq!(
            choose(&ports[1..], &[], &r),
            Err(VifError::NoFreePorts("v".into()))
        );
        assert_eq!(
            choose(&ports, &[], &req("v")),
            Ok(Slot::Port(0)),
            "no physnets: pxe first"
        );
    }

    #[test]
    fn inconsistent_group_physnets_are_refused() {
        let ports = [
            port("m0", Some("g0"), true, Some("a")),
            port("m1", Some("g0"), true, Some("b")),
        ];
        let e = choose(&ports, &[group("g0")], &req("v")).unwrap_err();
        assert!(matches!(e, VifError::PhysnetInconsistent { .. }), "{e}");
        assert!(e.to_string().contains("('a', 'b')"), "{e}");
    }

    #[test]
    fn already_attached_and_explicit_targets() {
        let ports = [
            with_vif(port("p0", None, true, None), |p| &mut p.internal_info, "v"),
            port("p1", None, true, None),
            port("m0", Some("g0"), true, None),
        ];
        let groups = [group("g0")];
        assert_eq!(
            choose(&ports, &groups, &req("v")).unwrap_err().to_string(),
            "Unable to attach VIF v because VIF v is already attached to Ironic Port p0"
        );
        let mut r = req("w");
        r.port_uuid = Some("p1".into());
        assert_eq!(choose(&ports, &groups, &r), Ok(Slot::Port(1)));
        r.port_uuid = Some("nope".into());
        assert_eq!(
            choose(&ports, &groups, &r),
            Err(VifError::NoFreePorts("w".into()))
        );
        let mut r = req("w");
        r.portgroup_uuid = Some("g0".into());
        assert_eq!(choose(&ports, &groups, &r), Ok(Slot::Portgroup(0)));
        // Only the named port is checked, so the same VIF may go to another port.
        let mut r = req("v");
        r.port_uuid = Some("p1".into());
        assert_eq!(choose(&ports, &groups, &r), Ok(Slot::Port(1)));
    }

    #[test]
    fn list_and_holder() {
        let ports = [
            with_vif(port("p0", None, true, None), |p| &mut p.internal_info, "a"),
            port("p1", None, true, None),
        ];
        let groups = [with_vif(group("g0"), |g| &mut g.internal_info, "b")];
        assert_eq!(list(&ports, &groups), vec!["a", "b"]);
        assert_eq!(holder(&ports, &groups, "b"), Some(Slot::Portgroup(0)));
        assert_eq!(holder(&ports, &groups, "a"), Some(Slot::Port(0)));
        assert_eq!(holder(&ports, &groups, "c"), None);
        assert!(keeps_vifs("flat") && !keeps_vifs("noop"));
    }
}
