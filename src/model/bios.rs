//! BIOS settings changes reported by bios interfaces and recorded by the conductor.

/// BIOS settings changed by a step.
#[derive(Debug, Clone, PartialEq)]
pub enum BiosUpdate {
    /// These settings now have these values.
    Apply(Vec<(String, String)>),
    /// Back to factory defaults: no recorded settings.
    Reset,
}
