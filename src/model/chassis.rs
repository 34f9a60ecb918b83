//! A chassis: a named grouping of nodes, nothing more.

use super::JsonObject;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chassis {
    pub id: i64,
    pub uuid: String,
    pub description: Option<String>,
    pub extra: JsonObject,
    pub created_at: String,
    pub updated_at: Option<String>,
}
