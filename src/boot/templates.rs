//! iPXE script templates, embedded from `assets/templates/` at build time, rendered by a
//! renderer that refuses undefined variables and values that could break out of a line.

use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "assets/templates/"]
struct Templates;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TemplateError {
    #[error("template {0} does not exist")]
    Missing(String),
    #[error("template {template}: variable {{{{{var}}}}} is not defined")]
    Undefined { template: String, var: String },
    #[error("template {template}: value of {var} contains a line break or control character")]
    UnsafeValue { template: String, var: String },
    #[error("template {template}: unterminated {{{{")]
    Unterminated { template: String },
}

/// Render `name` with `vars`; every `{{var}}` must be given. iPXE's own `${...}` syntax
/// passes through untouched.
pub fn render(name: &str, vars: &[(&str, &str)]) -> Result<String, TemplateError> {
    let file = Templates::get(name).ok_or_else(|| TemplateError::Missing(name.into()))?;
    let text = String::from_utf8_lossy(&file.data).into_owned();
    let mut out = String::with_capacity(text.len() + 256);
    let mut rest = text.as_str();
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| TemplateError::Unterminated {
                template: name.into(),
            })?;
        let var = after[..end].trim();
        let value = vars
            .iter()
            .find(|(k, _)| *k == var)
            .map(|(_, v)| *v)
            .ok_or_else(|| TemplateError::Undefined {
                template: name.into(),
                var: var.into(),
            })?;
        if value.chars().any(|c| c.is_control()) {
            return Err(TemplateError::UnsafeValue {
                template: name.into(),
                var: var.into(),
            });
        }
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_rendering() {
        let ok = render("local.ipxe", &[("node", "n1")]).unwrap();
        assert!(ok.contains("booting node n1") && ok.starts_with("#!ipxe"));
        assert!(matches!(
            render("local.ipxe", &[]),
            Err(TemplateError::Undefined { .. })
        ));
        assert!(matches!(
            render("local.ipxe", &[("node", "a\nchain http://evil")]),
            Err(TemplateError::UnsafeValue { .. })
        ));
        assert!(matches!(
            render("nope.ipxe", &[]),
            Err(TemplateError::Missing(_))
        ));
        // iPXE variables are not ours to expand.
        assert!(render("boot.ipxe", &[("base", "http://10.0.0.1:8080")])
            .unwrap()
            .contains("${netX/mac:hexhyp}"));
    }
}
