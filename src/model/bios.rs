//! BIOS settings as bios interfaces report them and the conductor records them, with the
//! facts a Redfish attribute registry gives about each (type, allowed values, bounds), and
//! the check of a requested value against those facts (Ironic's redfish bios rules).

use serde_json::Value;

/// BIOS settings changed or read by a bios interface.
#[derive(Debug, Clone, PartialEq)]
pub enum BiosUpdate {
    /// These settings now have these values.
    Apply(Vec<(String, String)>),
    /// Back to factory defaults: no recorded settings.
    Reset,
    /// The whole current set, as read from the hardware: settings not in it are dropped.
    Cache(Vec<BiosSetting>),
}

/// One setting as read from the hardware.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BiosSetting {
    pub name: String,
    pub value: Option<String>,
    pub registry: Registry,
}

/// What the attribute registry says about a setting (all None when it says nothing).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Registry {
    pub attribute_type: Option<String>,
    pub allowable_values: Option<Vec<String>>,
    pub lower_bound: Option<i64>,
    pub upper_bound: Option<i64>,
    pub min_length: Option<i64>,
    pub max_length: Option<i64>,
    pub read_only: Option<bool>,
    pub reset_required: Option<bool>,
    pub unique: Option<bool>,
}

impl Registry {
    /// A Redfish AttributeRegistry entry (`RegistryEntries.Attributes[]`). Enumeration
    /// values are named by `ValueName`, else `ValueDisplayName` (as Ironic does).
    pub fn from_redfish(entry: &Value) -> Registry {
        let int = |k: &str| entry.get(k).and_then(Value::as_i64);
        let flag = |k: &str| entry.get(k).and_then(Value::as_bool);
        Registry {
            attribute_type: entry
                .get("Type")
                .and_then(Value::as_str)
                .map(str::to_string),
            allowable_values: entry.get("Value").and_then(Value::as_array).map(|vs| {
                vs.iter()
                    .filter_map(|v| {
                        v.get("ValueName")
                            .or_else(|| v.get("ValueDisplayName"))
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .collect()
            }),
            lower_bound: int("LowerBound"),
            upper_bound: int("UpperBound"),
            min_length: int("MinLength"),
            max_length: int("MaxLength"),
            read_only: flag("ReadOnly"),
            reset_required: flag("ResetRequired"),
            unique: flag("IsSystemUniqueProperty"),
        }
    }

    /// Whether `value` may be written, and as which JSON value (Redfish wants integers and
    /// booleans typed). Err: why not, for the error message.
    pub fn check(&self, value: &str) -> Result<Value, String> {
        if self.read_only == Some(true) {
            return Err("it is read-only".into());
        }
        match self.attribute_type.as_deref() {
            Some("Enumeration") => match &self.allowable_values {
                Some(allowed) if !allowed.is_empty() && !allowed.iter().any(|a| a == value) => {
                    Err(format!("allowed values are {}", allowed.join(", ")))
                }
                _ => Ok(Value::String(value.into())),
            },
            Some("Integer") => {
                let n: i64 = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("{value:?} is not an integer"))?;
                if self.lower_bound.is_some_and(|lo| n < lo)
                    || self.upper_bound.is_some_and(|hi| n > hi)
                {
                    return Err(format!(
                        "{n} is outside [{}, {}]",
                        bound(self.lower_bound),
                        bound(self.upper_bound)
                    ));
                }
                Ok(Value::from(n))
            }
            Some("Boolean") => match value.to_lowercase().as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(format!("{value:?} is not true or false")),
            },
            Some("String") => {
                let len = value.chars().count() as i64;
                if self.min_length.is_some_and(|m| len < m)
                    || self.max_length.is_some_and(|m| len > m)
                {
                    return Err(format!(
                        "its length {len} is outside [{}, {}]",
                        bound(self.min_length),
                        bound(self.max_length)
                    ));
                }
                Ok(Value::String(value.into()))
            }
            _ => Ok(Value::String(value.into())),
        }
    }
}

/// `args.settings` of a bios step: `[{"name": ..., "value": ...}]`, values as text.
pub fn parse_settings(
    args: &serde_json::Map<String, Value>,
) -> Result<Vec<(String, String)>, String> {
    let bad = || {
        "bios.apply_configuration needs args.settings: a list of {\"name\": ..., \"value\": ...}"
            .to_string()
    };
    let list = args
        .get("settings")
        .and_then(Value::as_array)
        .ok_or_else(bad)?;
    list.iter()
        .map(|s| {
            let name = s.get("name").and_then(Value::as_str).ok_or_else(bad)?;
            let value = match s.get("value") {
                Some(Value::String(v)) => v.clone(),
                Some(other) => other.to_string(),
                None => return Err(bad()),
            };
            Ok((name.to_string(), value))
        })
        .collect()
}

fn bound(b: Option<i64>) -> String {
    b.map_or("-".into(), |b| b.to_string())
}

/// A BIOS attribute's value as the text Ironic stores (Python's `str()` of the JSON value).
pub fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(true) => Some("True".into()),
        Value::Bool(false) => Some("False".into()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reg(v: Value) -> Registry {
        Registry::from_redfish(&v)
    }

    #[test]
    fn registry_entries_read_as_ironic_names_them() {
        let r = reg(
            json!({"AttributeName": "NumCores", "Type": "Integer", "ReadOnly": true,
            "LowerBound": 10, "UpperBound": 20, "IsSystemUniqueProperty": false}),
        );
        assert_eq!(r.attribute_type.as_deref(), Some("Integer"));
        assert_eq!((r.lower_bound, r.upper_bound), (Some(10), Some(20)));
        assert_eq!(
            (r.read_only, r.unique, r.reset_required),
            (Some(true), Some(false), None)
        );
        let r = reg(
            json!({"Type": "Enumeration", "Value": [{"ValueName": "A"}, {"ValueDisplayName": "B"}, {}]}),
        );
        assert_eq!(r.allowable_values, Some(vec!["A".into(), "B".into()]));
    }

    #[test]
    fn values_are_checked_and_typed() {
        let e = reg(
            json!({"Type": "Enumeration", "Value": [{"ValueName": "Enabled"}, {"ValueName": "Disabled"}]}),
        );
        assert_eq!(e.check("Enabled"), Ok(json!("Enabled")));
        assert!(e.check("Maybe").unwrap_err().contains("Enabled, Disabled"));
        let i = reg(json!({"Type": "Integer", "LowerBound": 10, "UpperBound": 20}));
        assert_eq!(i.check("15"), Ok(json!(15)));
        assert!(i.check("21").unwrap_err().contains("outside [10, 20]"));
        assert!(i.check("9").is_err());
        assert!(i.check("ten").is_err());
        let ro = reg(json!({"Type": "Integer", "ReadOnly": true}));
        assert_eq!(ro.check("1"), Err("it is read-only".into()));
        let s = reg(json!({"Type": "String", "MinLength": 1, "MaxLength": 3}));
        assert_eq!(s.check("abc"), Ok(json!("abc")));
        assert!(s.check("abcd").is_err());
        assert!(s.check("").is_err());
        let b = reg(json!({"Type": "Boolean"}));
        assert_eq!(b.check("True"), Ok(json!(true)));
        assert!(b.check("yes").is_err());
        // Nothing known: taken as given.
        assert_eq!(Registry::default().check("x"), Ok(json!("x")));
    }

    #[test]
    fn values_read_as_python_prints_them() {
        assert_eq!(value_text(&json!(true)).as_deref(), Some("True"));
        assert_eq!(value_text(&json!(10)).as_deref(), Some("10"));
        assert_eq!(value_text(&json!("Uefi")).as_deref(), Some("Uefi"));
        assert_eq!(value_text(&Value::Null), None);
    }
}
