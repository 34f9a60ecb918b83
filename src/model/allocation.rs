//! An allocation: a request for a node by resource class and traits, and the node it got.

use super::JsonObject;

pub const ALLOCATING: &str = "allocating";
pub const ACTIVE: &str = "active";
pub const ERROR: &str = "error";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Allocation {
    pub id: i64,
    pub uuid: String,
    pub name: Option<String>,
    pub node_uuid: Option<String>,
    pub resource_class: Option<String>,
    pub traits: Vec<String>,
    pub candidate_nodes: Vec<String>,
    pub state: String,
    pub last_error: Option<String>,
    pub owner: Option<String>,
    pub extra: JsonObject,
    pub created_at: String,
    pub updated_at: Option<String>,
}
