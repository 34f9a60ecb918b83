//! Condition operators (`eq` ... `is-false`), with Python's comparison semantics since
//! Ironic's rules are written against them: `1 == 1.0 == True`, strings compare by code
//! point, lists lexicographically. One extension: `lt`/`gt` between a number and a string
//! holding a number compare as numbers (Python, hence Ironic, raises TypeError there, and
//! interpolation always yields strings, so `{inventory[memory][physical_mb]}` > 4096
//! could not be written otherwise).

use std::cmp::Ordering;
use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::model::inspection_rule::{py_repr, py_str};

use super::Failure;

/// Check condition `op` (without its `!`) on its processed arguments.
pub(super) fn check(op: &str, args: &Map<String, Value>) -> Result<bool, Failure> {
    let arg = |k: &str| args.get(k).cloned().unwrap_or(Value::Null);
    match op {
        "eq" | "lt" | "gt" => simple(op, &arg("values"), truthy(&arg("force_strings"))),
        "is-empty" => Ok(matches!(
            py_str(&arg("value")).as_str(),
            "" | "None" | "[]" | "{}"
        )),
        "in-net" => in_net(&arg("address"), &arg("subnet")),
        "matches" => regex(&arg("value"), &arg("regex"), true),
        "contains" => regex(&arg("value"), &arg("regex"), false),
        "one-of" => one_of(
            &arg("value"),
            args.get("values").unwrap_or(&Value::Array(vec![])),
        ),
        "is-none" => Ok(arg("value").is_null()),
        "is-true" => Ok(match arg("value") {
            Value::Bool(b) => b,
            Value::Number(n) => n.as_f64() != Some(0.0),
            Value::String(s) => matches!(s.to_lowercase().as_str(), "yes" | "true"),
            _ => false,
        }),
        "is-false" => Ok(match arg("value") {
            Value::Bool(b) => !b,
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::String(s) => matches!(s.to_lowercase().as_str(), "no" | "false"),
            Value::Null => true,
            _ => false,
        }),
        other => Err(Failure::Ironic(format!("Unsupported operator '{other}'."))),
    }
}

fn truthy(v: &Value) -> bool {
    !crate::model::inspection_rule::is_empty(v)
}

/// Python's type name, for TypeError-like messages.
pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// `eq`, `lt`, `gt` over every neighbouring pair of `values`.
fn simple(op: &str, values: &Value, force_strings: bool) -> Result<bool, Failure> {
    let Value::Array(list) = values else {
        return Err(Failure::Ironic(format!(
            "Inspection rule condition check failed. Reason: Failed to check condition: \
             '{op}' on values: {}: Expected list for 'values', got: {}",
            py_str(values),
            type_name(values)
        )));
    };
    let list: Vec<Value> = if force_strings {
        list.iter().map(|v| Value::from(py_str(v))).collect()
    } else {
        list.clone()
    };
    for pair in list.windows(2) {
        let [a, b] = pair else { continue };
        let holds = match op {
            "eq" => py_eq(a, b),
            "lt" => py_cmp(a, b, "<")? == Ordering::Less,
            _ => py_cmp(a, b, ">")? == Ordering::Greater,
        };
        if !holds {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A JSON number or bool as Python sees it numerically.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

/// Python's `==`.
pub(super) fn py_eq(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (number(a), number(b)) {
        return x == y;
    }
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Python's ordering of two values; a TypeError's message where Python has none.
fn py_cmp(a: &Value, b: &Value, sym: &str) -> Result<Ordering, Failure> {
    let num_str = |v: &Value| match v {
        Value::String(s) => s.trim().parse::<f64>().ok(),
        other => number(other),
    };
    let ord = match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.as_str().cmp(y.as_str())),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                if !py_eq(p, q) {
                    return py_cmp(p, q, sym);
                }
            }
            Some(x.len().cmp(&y.len()))
        }
        _ => match (number(a), number(b)) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            // The extension: a number against a numeric string.
            (Some(_), None) | (None, Some(_)) => match (num_str(a), num_str(b)) {
                (Some(x), Some(y)) => x.partial_cmp(&y),
                _ => None,
            },
            _ => None,
        },
    };
    ord.ok_or_else(|| {
        Failure::Python(format!(
            "'{sym}' not supported between instances of '{}' and '{}'",
            type_name(a),
            type_name(b)
        ))
    })
}

/// netaddr's `IPAddress(address) in IPNetwork(subnet)`.
fn in_net(address: &Value, subnet: &Value) -> Result<bool, Failure> {
    let subnet_s = py_str(subnet);
    let (net, len) = parse_net(&subnet_s).ok_or_else(|| {
        Failure::Ironic(format!(
            "Inspection rule execution failed. Reason: invalid value: invalid IPNetwork {subnet_s}"
        ))
    })?;
    let addr_s = py_str(address);
    let addr: IpAddr = addr_s.trim().parse().map_err(|_| {
        Failure::Python(format!(
            "failed to detect a valid IP address from {}",
            py_repr(address)
        ))
    })?;
    Ok(match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => prefix_eq(&a.octets(), &n.octets(), len),
        (IpAddr::V6(a), IpAddr::V6(n)) => prefix_eq(&a.octets(), &n.octets(), len),
        _ => false,
    })
}

/// `a.b.c.d/len`, `v6/len` or a bare address (a host network).
fn parse_net(s: &str) -> Option<(IpAddr, u32)> {
    let s = s.trim();
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a.parse::<IpAddr>().ok()?, Some(l.parse::<u32>().ok()?)),
        None => (s.parse::<IpAddr>().ok()?, None),
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(max);
    (len <= max).then_some((addr, len))
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u32) -> bool {
    let mut left = bits;
    for (x, y) in a.iter().zip(b) {
        if left == 0 {
            return true;
        }
        let take = left.min(8);
        let mask: u8 = if take == 8 { 0xff } else { !(0xffu8 >> take) };
        if x & mask != y & mask {
            return false;
        }
        left -= take;
    }
    true
}

/// `matches`: the whole value from its start (Python's `re.match` with `$` appended unless
/// the pattern ends with one); `contains`: anywhere.
fn regex(value: &Value, pattern: &Value, whole: bool) -> Result<bool, Failure> {
    let mut p = py_str(pattern);
    if whole {
        if !p.ends_with('$') {
            p.push('$');
        }
        p = format!("^(?:{p})");
    }
    let re = regex_lite::Regex::new(&p).map_err(|e| {
        Failure::Ironic(format!(
            "Inspection rule execution failed. Reason: invalid regular expression: {e}"
        ))
    })?;
    Ok(re.is_match(&py_str(value)))
}

/// Python's `value in values`.
fn one_of(value: &Value, values: &Value) -> Result<bool, Failure> {
    match values {
        Value::Array(a) => Ok(a.iter().any(|v| py_eq(value, v))),
        Value::Object(m) => Ok(value.as_str().is_some_and(|k| m.contains_key(k))),
        Value::String(s) => match value {
            Value::String(v) => Ok(s.contains(v.as_str())),
            other => Err(Failure::Python(format!(
                "'in <string>' requires string as left operand, not {}",
                type_name(other)
            ))),
        },
        other => Err(Failure::Python(format!(
            "argument of type '{}' is not iterable",
            type_name(other)
        ))),
    }
}
