//! Hardware indicators (LEDs) as Ironic names them: `<indicator>@<component>` in the
//! API, a component (`system`, `chassis`, `disk`), and states `on`/`off`/`blinking`/
//! `unknown` (Ironic's indicator_states).

pub const ON: &str = "on";
pub const OFF: &str = "off";
pub const BLINKING: &str = "blinking";
pub const UNKNOWN: &str = "unknown";

pub const SYSTEM: &str = "system";
pub const CHASSIS: &str = "chassis";

/// One indicator a management interface offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    pub component: String,
    pub name: String,
    pub readonly: bool,
    /// The states it can be set to.
    pub states: Vec<&'static str>,
}

impl Indicator {
    /// Its API name, `<name>@<component>`.
    pub fn unique_name(&self) -> String {
        format!("{}@{}", self.name, self.component)
    }
}

/// Split `<name>@<component>` at the first `@` (Ironic's IndicatorAtComponent).
pub fn parse(unique: &str) -> Result<(&str, &str), String> {
    unique
        .split_once('@')
        .ok_or_else(|| format!("Malformed indicator name \"{unique}\""))
}

/// A state a client may ask for, in Ironic's spelling.
pub fn settable(state: &str) -> Option<&'static str> {
    [ON, OFF, BLINKING].into_iter().find(|s| *s == state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse("led@system"), Ok(("led", "system")));
        assert_eq!(parse("a@b@c"), Ok(("a", "b@c")));
        assert_eq!(parse("@system"), Ok(("", "system")));
        assert_eq!(
            parse("led").unwrap_err(),
            "Malformed indicator name \"led\""
        );
        assert_eq!(settable("blinking"), Some(BLINKING));
        assert_eq!(settable("ON"), None);
        assert_eq!(settable("unknown"), None);
    }
}
