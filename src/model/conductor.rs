//! A conductor service registration (one row per ironbox process).

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conductor {
    pub hostname: String,
    pub conductor_group: String,
    pub online: bool,
    pub drivers: Vec<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
}
