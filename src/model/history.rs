//! One entry of a node's history: what happened to it, when, and where.

#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryEvent {
    pub uuid: String,
    pub node_uuid: String,
    pub severity: String,
    pub event_type: String,
    pub event: String,
    pub conductor: Option<String>,
    pub user: Option<String>,
    pub state: Option<String>,
    pub target_provision_state: Option<String>,
    pub duration_seconds: Option<f64>,
    pub created_at: String,
}

pub const SEVERITY_INFO: &str = "INFO";
pub const SEVERITY_ERROR: &str = "ERROR";
