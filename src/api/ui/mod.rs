//! The operator console (placeholder until the ui-shell branch is merged).

pub mod deploy;
pub mod enroll;
pub mod form_data;
