//! A conductor service registration (one row per ironbox process), and when it counts as
//! alive: online and heard from within `[conductor] heartbeat_timeout`.

/// Whether this member answers for node (conductor group, uuid): the conductor's ring,
/// handed to the boot servers, which may not use the conductor itself.
pub type OwnsNode = std::sync::Arc<dyn Fn(&str, &str) -> bool + Send + Sync>;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conductor {
    pub hostname: String,
    pub conductor_group: String,
    pub online: bool,
    pub drivers: Vec<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
    /// Where its JSON-RPC listener is reached ("host:port"); None: it takes no RPC.
    pub rpc_address: Option<String>,
}

impl Conductor {
    /// Online and its last heartbeat (or registration) less than `timeout_s` before `now`.
    pub fn alive_at(&self, now: chrono::DateTime<chrono::Utc>, timeout_s: u64) -> bool {
        let last = self.updated_at.as_deref().unwrap_or(&self.created_at);
        let fresh = chrono::DateTime::parse_from_str(last, "%Y-%m-%dT%H:%M:%S%.f%:z")
            .map(|t| now.signed_duration_since(t).num_seconds() < timeout_s as i64)
            .unwrap_or(false);
        self.online && fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silent_for_the_timeout_is_dead() {
        let now = chrono::Utc::now();
        let at = |secs_ago: i64| Conductor {
            online: true,
            created_at: crate::model::format_time(now - chrono::Duration::seconds(secs_ago)),
            ..Default::default()
        };
        assert!(at(5).alive_at(now, 10));
        assert!(!at(10).alive_at(now, 10));
        assert!(!at(60).alive_at(now, 10));
        let offline = Conductor {
            online: false,
            ..at(1)
        };
        assert!(
            !offline.alive_at(now, 10),
            "a member that signed off is dead at once"
        );
        let garbled = Conductor {
            created_at: "yesterday".into(),
            ..at(1)
        };
        assert!(!garbled.alive_at(now, 10));
    }
}
