//! A runbook: a named list of clean/service steps a node may run when one of its traits
//! approves it (its name before 1.112, its trait list from 1.112).

use super::JsonObject;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Runbook {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub description: Option<String>,
    /// `[{interface, step, args, order}]`, kept in the order given.
    pub steps: Vec<serde_json::Value>,
    pub disable_ramdisk: bool,
    pub public: bool,
    pub owner: Option<String>,
    /// Traits approving the runbook for nodes (1.112), without duplicates.
    pub traits: Vec<String>,
    pub extra: JsonObject,
    pub created_at: String,
    pub updated_at: Option<String>,
}

impl Runbook {
    /// Whether `node_traits` approve this runbook: from 1.112 one of its traits, before
    /// that its name, must be among them (Ironic's rule for `runbook` in a provision request).
    pub fn approved_for(&self, node_traits: &[String], by_traits: bool) -> bool {
        if by_traits {
            self.traits.iter().any(|t| node_traits.contains(t))
        } else {
            node_traits.contains(&self.name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_by_name_or_by_traits() {
        let rb = Runbook {
            name: "CUSTOM_RB".into(),
            traits: vec!["CUSTOM_A".into(), "CUSTOM_B".into()],
            ..Default::default()
        };
        let node = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(rb.approved_for(&node(&["CUSTOM_RB"]), false));
        assert!(!rb.approved_for(&node(&["CUSTOM_A"]), false));
        assert!(rb.approved_for(&node(&["CUSTOM_X", "CUSTOM_B"]), true));
        assert!(!rb.approved_for(&node(&["CUSTOM_RB"]), true));
        assert!(!rb.approved_for(&[], true));
    }
}
