//! How a node looks on the wire: every field with the microversion that introduced it,
//! the fields a list shows and the ones it cannot sort by, the streaming serializer for
//! responses (every JSON blob's secrets and the URL passwords in error text masked while
//! writing) and the PATCH document.

use super::microversion::Version;
use super::resource::visible;
use super::views::{self};
use crate::model::node::{Node, INTERFACE_KINDS};
use crate::model::{secrets, states, JsonObject};
use serde_json::{Map, Value};

/// Every node field and the microversion that introduced it.
pub const FIELDS: &[(&str, u32)] = &[
    ("uuid", 1),
    ("created_at", 1),
    ("updated_at", 1),
    ("chassis_uuid", 1),
    ("driver", 1),
    ("driver_info", 1),
    ("extra", 1),
    ("instance_info", 1),
    ("instance_uuid", 1),
    ("last_error", 1),
    ("maintenance", 1),
    ("maintenance_reason", 1),
    ("power_state", 1),
    ("properties", 1),
    ("provision_state", 1),
    ("provision_updated_at", 1),
    ("reservation", 1),
    ("target_power_state", 1),
    ("target_provision_state", 1),
    ("console_enabled", 1),
    ("driver_internal_info", 3),
    ("name", 5),
    ("inspection_started_at", 6),
    ("inspection_finished_at", 6),
    ("clean_step", 7),
    ("raid_config", 12),
    ("target_raid_config", 12),
    ("network_interface", 20),
    ("resource_class", 21),
    ("boot_interface", 31),
    ("console_interface", 31),
    ("deploy_interface", 31),
    ("inspect_interface", 31),
    ("management_interface", 31),
    ("power_interface", 31),
    ("raid_interface", 31),
    ("vendor_interface", 31),
    ("storage_interface", 33),
    ("traits", 37),
    ("rescue_interface", 38),
    ("bios_interface", 40),
    ("fault", 42),
    ("deploy_step", 44),
    ("conductor_group", 46),
    ("automated_clean", 47),
    ("protected", 48),
    ("protected_reason", 48),
    ("conductor", 49),
    ("owner", 50),
    ("description", 51),
    ("allocation_uuid", 52),
    ("retired", 61),
    ("retired_reason", 61),
    ("lessee", 65),
    ("network_data", 66),
    ("boot_mode", 75),
    ("secure_boot", 75),
    ("shard", 82),
    ("parent_node", 83),
    ("firmware_interface", 86),
    ("service_step", 87),
    ("disable_power_off", 95),
    ("instance_name", 104),
    ("health", 109),
];

/// Roots a PATCH may touch, in Ironic's order (it is quoted in the error message).
pub const PATCHABLE: &[&str] = &[
    "automated_clean",
    "bios_interface",
    "boot_interface",
    "chassis_uuid",
    "conductor_group",
    "console_interface",
    "deploy_interface",
    "description",
    "disable_power_off",
    "driver",
    "driver_info",
    "extra",
    "inspect_interface",
    "instance_info",
    "instance_name",
    "instance_uuid",
    "lessee",
    "maintenance",
    "management_interface",
    "name",
    "network_data",
    "network_interface",
    "owner",
    "power_interface",
    "properties",
    "protected",
    "protected_reason",
    "raid_interface",
    "rescue_interface",
    "resource_class",
    "retired",
    "retired_reason",
    "shard",
    "storage_interface",
    "vendor_interface",
    "parent_node",
    "firmware_interface",
];

/// Keys accepted by POST (PATCHABLE + uuid; `maintenance_reason` is not in Ironic's schema).
pub fn creatable(k: &str) -> bool {
    k == "uuid" || PATCHABLE.contains(&k)
}

pub const LIST_FIELDS: &[&str] = &[
    "instance_uuid",
    "maintenance",
    "power_state",
    "provision_state",
    "uuid",
    "name",
];

/// Sub-collections a full view links to, with the microversion of each.
pub const SUB_LINKS: &[(&str, u32)] = &[
    ("ports", 1),
    ("states", 14),
    ("portgroups", 24),
    ("volume", 32),
];

/// JSON blobs and computed fields cannot be sort keys.
pub const UNSORTABLE: &[&str] = &[
    "properties",
    "driver_info",
    "extra",
    "instance_info",
    "driver_internal_info",
    "clean_step",
    "deploy_step",
    "service_step",
    "raid_config",
    "target_raid_config",
    "traits",
    "network_data",
    "chassis_uuid",
    "conductor",
    "allocation_uuid",
];

/// A node field's value, borrowed from the node (no copies on the response path).
pub enum Field<'a> {
    Str(&'a str),
    Opt(Option<&'a str>),
    /// Free text built from errors (`last_error`, `maintenance_reason`): a URL in it may
    /// carry a password, masked in every form (these fields are not patchable).
    Text(Option<&'a str>),
    Bool(bool),
    OptBool(Option<bool>),
    /// A JSON blob: secrets masked while writing; unmasked in the PATCH document, so a
    /// patch keeps the secrets it does not touch.
    Obj(&'a JsonObject),
    /// `instance_info`: as `Obj`, and `image_url` hidden too.
    InstanceInfo(&'a JsonObject),
    List(&'a [String]),
}

impl serde::Serialize for Field<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Str(x) => s.serialize_str(x),
            Field::Opt(x) => x.serialize(s),
            Field::Text(x) => x.map(secrets::mask_text).serialize(s),
            Field::Bool(b) => s.serialize_bool(*b),
            Field::OptBool(b) => b.serialize(s),
            Field::Obj(obj) => secrets::Masked {
                obj,
                instance_info: false,
            }
            .serialize(s),
            Field::InstanceInfo(obj) => secrets::Masked {
                obj,
                instance_info: true,
            }
            .serialize(s),
            Field::List(l) => l.serialize(s),
        }
    }
}

impl Field<'_> {
    fn to_value(&self) -> Value {
        match self {
            Field::Obj(o) | Field::InstanceInfo(o) => Value::Object((*o).clone()),
            other => serde_json::to_value(other).unwrap_or(Value::Null),
        }
    }
}

/// Every field visible at version `v`, in one walk: the single list both responses and
/// PATCH documents are built from.
pub fn for_each_field<'a>(
    n: &'a Node,
    v: Version,
    conductor: Option<&'a str>,
    f: impl FnMut(&'static str, Field<'a>),
) {
    for_each_field_in(n, v, conductor, None, f)
}

/// `for_each_field`, only the `fields` named (all: `None`): a short list is checked first,
/// so a 7-field list does not look up every field's version.
fn for_each_field_in<'a>(
    n: &'a Node,
    v: Version,
    conductor: Option<&'a str>,
    fields: Option<&[String]>,
    mut f: impl FnMut(&'static str, Field<'a>),
) {
    let mut put = |k: &'static str, val: Field<'a>| {
        if fields.is_none_or(|want| want.iter().any(|x| x == k)) && visible::<Node>(k, v) {
            f(k, val);
        }
    };
    use Field::*;
    let o = |x: &'a Option<String>| Opt(x.as_deref());
    put("uuid", Str(&n.uuid));
    put("created_at", Str(&n.created_at));
    put("updated_at", o(&n.updated_at));
    put("chassis_uuid", o(&n.chassis_uuid));
    put("driver", Str(&n.driver));
    put("driver_info", Obj(&n.driver_info));
    put("driver_internal_info", Obj(&n.driver_internal_info));
    put("extra", Obj(&n.extra));
    put("instance_info", InstanceInfo(&n.instance_info));
    put("instance_uuid", o(&n.instance_uuid));
    put("instance_name", o(&n.instance_name));
    put("last_error", Text(n.last_error.as_deref()));
    put("maintenance", Bool(n.maintenance));
    put("maintenance_reason", Text(n.maintenance_reason.as_deref()));
    put("fault", o(&n.fault));
    put("power_state", o(&n.power_state));
    put("target_power_state", o(&n.target_power_state));
    put("properties", Obj(&n.properties));
    // Below 1.2 `available` was shown as null; below 1.39 `inspect wait` as `inspecting`.
    put(
        "provision_state",
        match n.provision_state.as_str() {
            states::AVAILABLE if !v.at_least(2) => Opt(None),
            states::INSPECT_WAIT if !v.at_least(39) => Str(states::INSPECTING),
            s => Str(s),
        },
    );
    put("target_provision_state", o(&n.target_provision_state));
    put("provision_updated_at", o(&n.provision_updated_at));
    put("reservation", o(&n.reservation));
    put("console_enabled", Bool(n.console_enabled));
    put("name", o(&n.name));
    put("inspection_started_at", o(&n.inspection_started_at));
    put("inspection_finished_at", o(&n.inspection_finished_at));
    put("clean_step", Obj(&n.clean_step));
    put("deploy_step", Obj(&n.deploy_step));
    put("service_step", Obj(&n.service_step));
    put("raid_config", Obj(&n.raid_config));
    put("target_raid_config", Obj(&n.target_raid_config));
    put("resource_class", o(&n.resource_class));
    // Both arrays are 13 long, in the same order.
    for (kind, field) in INTERFACE_KINDS.iter().zip(INTERFACE_FIELDS) {
        put(field, Opt(n.interfaces.get(kind)));
    }
    put("traits", List(&n.traits));
    put("conductor_group", Str(&n.conductor_group));
    put("automated_clean", OptBool(n.automated_clean));
    put("protected", Bool(n.protected));
    put("protected_reason", o(&n.protected_reason));
    put("conductor", Opt(conductor));
    put("owner", o(&n.owner));
    put("lessee", o(&n.lessee));
    put("description", o(&n.description));
    put("allocation_uuid", o(&n.allocation_uuid));
    put("retired", Bool(n.retired));
    put("retired_reason", o(&n.retired_reason));
    put("network_data", Obj(&n.network_data));
    put("boot_mode", o(&n.boot_mode));
    put("secure_boot", OptBool(n.secure_boot));
    put("shard", o(&n.shard));
    put("parent_node", o(&n.parent_node));
    put("disable_power_off", Bool(n.disable_power_off));
    put("health", o(&n.health));
}

/// `<kind>_interface` field names, in INTERFACE_KINDS order.
pub const INTERFACE_FIELDS: [&str; 13] = [
    "bios_interface",
    "boot_interface",
    "console_interface",
    "deploy_interface",
    "firmware_interface",
    "inspect_interface",
    "management_interface",
    "network_interface",
    "power_interface",
    "raid_interface",
    "rescue_interface",
    "storage_interface",
    "vendor_interface",
];

/// The node as the client sees it at version `v`, unmasked and without links: the document a
/// PATCH applies to.
pub fn raw_json(n: &Node, v: Version, conductor: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    for_each_field(n, v, conductor, |k, val| {
        m.insert(k.to_string(), val.to_value());
    });
    m
}

/// The response view of one node, serialized straight from the node.
pub struct View<'a> {
    pub node: &'a Node,
    pub v: Version,
    pub base: &'a str,
    pub conductor: Option<&'a str>,
    pub fields: Option<&'a [String]>,
}

impl serde::Serialize for View<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeMap};
        let mut m = s.serialize_map(None)?;
        let mut err = None;
        for_each_field_in(self.node, self.v, self.conductor, self.fields, |k, val| {
            if err.is_none() {
                err = m.serialize_entry(k, &val).err();
            }
        });
        if let Some(e) = err {
            return Err(S::Error::custom(e));
        }
        let u = &self.node.uuid;
        m.serialize_entry(
            "links",
            &views::Links {
                base: self.base,
                path: &["nodes/", u],
            },
        )?;
        if self.fields.is_none() {
            for (sub, min) in SUB_LINKS {
                if self.v.at_least(*min) {
                    m.serialize_entry(
                        sub,
                        &views::Links {
                            base: self.base,
                            path: &["nodes/", u, "/", sub],
                        },
                    )?;
                }
            }
        }
        m.end()
    }
}
