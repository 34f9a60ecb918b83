//! A deploy template: deploy steps applied to nodes whose instance traits name it.

use super::JsonObject;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeployTemplate {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    /// `[{interface, step, args, priority}]`
    pub steps: Vec<serde_json::Value>,
    pub extra: JsonObject,
    pub created_at: String,
    pub updated_at: Option<String>,
}
