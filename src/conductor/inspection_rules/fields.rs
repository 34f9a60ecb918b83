//! Node and port fields as rules address them: any field can be read as JSON (for
//! `{node.x}` and attribute paths); only the fields a rule may change can be written, each
//! with the type the node and port PATCH require. Identity, state and ownership fields
//! (uuid, provision_state, instance_uuid, maintenance ...) are read-only to rules.

use serde_json::{Map, Value};

use crate::model::node::{Node, INTERFACE_KINDS};
use crate::model::port::Port;
use crate::model::validate;

fn opt(s: &Option<String>) -> Value {
    s.clone().map(Value::from).unwrap_or(Value::Null)
}

fn obj(m: &Map<String, Value>) -> Value {
    Value::Object(m.clone())
}

/// The node's field `name` as JSON; None for no such field (Python's AttributeError).
pub(super) fn node_get(n: &Node, name: &str) -> Option<Value> {
    if let Some(kind) = name.strip_suffix("_interface") {
        return INTERFACE_KINDS
            .contains(&kind)
            .then(|| opt(&n.interfaces.get(kind).map(str::to_string)));
    }
    Some(match name {
        "uuid" => Value::from(n.uuid.clone()),
        "name" => opt(&n.name),
        "chassis_uuid" => opt(&n.chassis_uuid),
        "driver" => Value::from(n.driver.clone()),
        "driver_info" => obj(&n.driver_info),
        "driver_internal_info" => obj(&n.driver_internal_info),
        "properties" => obj(&n.properties),
        "instance_info" => obj(&n.instance_info),
        "instance_uuid" => opt(&n.instance_uuid),
        "extra" => obj(&n.extra),
        "power_state" => opt(&n.power_state),
        "provision_state" => Value::from(n.provision_state.clone()),
        "target_provision_state" => opt(&n.target_provision_state),
        "maintenance" => Value::from(n.maintenance),
        "maintenance_reason" => opt(&n.maintenance_reason),
        "last_error" => opt(&n.last_error),
        "resource_class" => opt(&n.resource_class),
        "conductor_group" => Value::from(n.conductor_group.clone()),
        "automated_clean" => n.automated_clean.map(Value::from).unwrap_or(Value::Null),
        "protected" => Value::from(n.protected),
        "owner" => opt(&n.owner),
        "lessee" => opt(&n.lessee),
        "description" => opt(&n.description),
        "retired" => Value::from(n.retired),
        "network_data" => obj(&n.network_data),
        "boot_mode" => opt(&n.boot_mode),
        "secure_boot" => n.secure_boot.map(Value::from).unwrap_or(Value::Null),
        "shard" => opt(&n.shard),
        "parent_node" => opt(&n.parent_node),
        "traits" => Value::from(n.traits.clone()),
        "created_at" => Value::from(n.created_at.clone()),
        "updated_at" => opt(&n.updated_at),
        _ => return None,
    })
}

/// An optional string of at most `max` characters.
fn opt_str(field: &str, v: Value, max: usize) -> Result<Option<String>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() <= max => Ok(Some(s)),
        Value::String(_) => Err(format!("{field} is longer than {max} characters")),
        _ => Err(format!("{field} must be a string")),
    }
}

fn object(field: &str, v: Value) -> Result<Map<String, Value>, String> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(format!("{field} must be a dictionary")),
    }
}

/// Set the node's field `name` to `v`, with its PATCH type; interfaces and the driver
/// are checked against the enabled ones by the caller once the rule is done.
pub(super) fn node_set(n: &mut Node, name: &str, v: Value) -> Result<(), String> {
    if let Some(kind) = name.strip_suffix("_interface") {
        if INTERFACE_KINDS.contains(&kind) {
            n.interfaces.set(kind, opt_str(name, v, 255)?);
            return Ok(());
        }
    }
    match name {
        "name" => {
            let s = opt_str(name, v, 255)?;
            if let Some(s) = &s {
                if !validate::is_valid_logical_name(s) {
                    return Err(format!("Cannot update node with invalid name '{s}'"));
                }
            }
            n.name = s;
        }
        "driver" => {
            n.driver = opt_str(name, v, 255)?.ok_or("driver must be a string")?;
        }
        "driver_info" => n.driver_info = object(name, v)?,
        "properties" => n.properties = object(name, v)?,
        "instance_info" => n.instance_info = object(name, v)?,
        "extra" => n.extra = object(name, v)?,
        "network_data" => n.network_data = object(name, v)?,
        "resource_class" => n.resource_class = opt_str(name, v, 80)?,
        "description" => n.description = opt_str(name, v, 4096)?,
        "owner" => n.owner = opt_str(name, v, 255)?,
        "lessee" => n.lessee = opt_str(name, v, 255)?,
        "shard" => n.shard = opt_str(name, v, 255)?,
        "automated_clean" => {
            n.automated_clean = match v {
                Value::Null => None,
                Value::Bool(b) => Some(b),
                _ => return Err("automated_clean must be a boolean".into()),
            }
        }
        "traits" => {
            let list = v.as_array().ok_or("traits must be a list")?;
            let mut traits = vec![];
            for t in list {
                let t = t.as_str().ok_or("traits must be strings")?;
                check_trait(t)?;
                traits.push(t.to_string());
            }
            n.traits = traits;
        }
        other if node_get(n, other).is_some() => {
            return Err(format!(
                "the node field {other} cannot be changed by an inspection rule"
            ))
        }
        other => return Err(format!("'Node' object has no attribute '{other}'")),
    }
    Ok(())
}

/// The default of a field a rule deletes (Python's `delattr` leaves the field unset).
pub(super) fn node_default(n: &Node, name: &str) -> Option<Value> {
    match node_get(n, name)? {
        Value::Object(_) => Some(Value::Object(Map::new())),
        Value::Array(_) => Some(Value::Array(vec![])),
        _ if name == "driver" => None,
        _ => Some(Value::Null),
    }
}

/// A trait name the node API would accept.
pub(super) fn check_trait(t: &str) -> Result<(), String> {
    if validate::is_valid_trait(t) {
        Ok(())
    } else {
        Err(format!(
            "'{t}' is not a valid trait: a standard trait or CUSTOM_ followed by A-Z, 0-9 and _"
        ))
    }
}

pub(super) fn port_get(p: &Port, name: &str) -> Option<Value> {
    Some(match name {
        "uuid" => Value::from(p.uuid.clone()),
        "name" => opt(&p.name),
        "address" => Value::from(p.address.clone()),
        "node_uuid" => Value::from(p.node_uuid.clone()),
        "portgroup_uuid" => opt(&p.portgroup_uuid),
        "local_link_connection" => obj(&p.local_link_connection),
        "pxe_enabled" => Value::from(p.pxe_enabled),
        "physical_network" => opt(&p.physical_network),
        "is_smartnic" => Value::from(p.is_smartnic),
        "description" => opt(&p.description),
        "vendor" => opt(&p.vendor),
        "category" => opt(&p.category),
        "internal_info" => obj(&p.internal_info),
        "extra" => obj(&p.extra),
        _ => return None,
    })
}

pub(super) fn port_set(p: &mut Port, name: &str, v: Value) -> Result<(), String> {
    let flag = |v: Value| v.as_bool().ok_or(format!("{name} must be a boolean"));
    match name {
        "name" => p.name = opt_str(name, v, 255)?,
        "local_link_connection" => p.local_link_connection = object(name, v)?,
        "extra" => p.extra = object(name, v)?,
        "pxe_enabled" => p.pxe_enabled = flag(v)?,
        "is_smartnic" => p.is_smartnic = flag(v)?,
        "physical_network" => p.physical_network = opt_str(name, v, 64)?,
        "description" => p.description = opt_str(name, v, 255)?,
        "vendor" => p.vendor = opt_str(name, v, 255)?,
        "category" => p.category = opt_str(name, v, 80)?,
        other if port_get(p, other).is_some() => {
            return Err(format!(
                "the port field {other} cannot be changed by an inspection rule"
            ))
        }
        other => return Err(format!("'Port' object has no attribute '{other}'")),
    }
    Ok(())
}

pub(super) fn port_default(p: &Port, name: &str) -> Option<Value> {
    match port_get(p, name)? {
        Value::Object(_) => Some(Value::Object(Map::new())),
        Value::Bool(_) => Some(Value::Bool(false)),
        _ => Some(Value::Null),
    }
}
