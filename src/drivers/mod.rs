//! Hardware abstraction: which hardware types and interface implementations exist, which are
//! enabled, and how a node's interfaces are chosen. Knows no HTTP and no SQL.
//! (The per-interface traits and their implementations arrive with the conductor.)

pub mod hardware_types;
pub mod registry;

pub use registry::{InterfaceError, Registry};

/// `driver_info` keys a hardware type understands, with help text (`/drivers/X/properties`).
pub fn properties(hardware_type: &str) -> Vec<(&'static str, &'static str)> {
    match hardware_type {
        // The fake vendor interface's two made-up parameters, as Ironic reports them.
        "fake-hardware" => vec![("B1", "B1 description. Required."), ("B2", "B2 description. Required.")],
        _ => vec![],
    }
}

/// Result of one interface's validate, as `/v1/nodes/X/validate` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    pub ok: bool,
    pub reason: Option<String>,
}

/// Validate one interface implementation for a node of `driver`. The `no-*` implementations
/// mean "this node cannot do that"; every other implementation in this build needs nothing
/// from driver_info.
pub fn validate_interface(driver: &str, kind: &str, name: &str) -> Validation {
    if name.starts_with("no-") {
        return Validation { ok: false, reason: Some(format!("Driver {driver} does not support {kind} (disabled or not implemented).")) };
    }
    Validation { ok: true, reason: None }
}
