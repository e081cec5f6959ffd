//! `${VAR}` references in the YAML, expanded before parsing so secrets are never inlined.
//!
//! Forms: `${VAR}`, `${VAR:-default}`, `${file:/run/secrets/key}` (the file's content, trimmed),
//! and `$$` for a literal `$`. Inside a URL (after `://`), the value is percent-encoded so a
//! password with `@` or `/` cannot break the URL.

use std::collections::BTreeSet;
use std::path::Path;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_yaml_ng::Value;

use super::Issues;

/// Characters left as they are in a URL component.
const URL_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Expands one string. `env` looks variables up (injected for tests).
pub fn expand_str(
    input: &str,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, bool), String> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    let mut expanded = false;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let Some(body) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let end = body
            .find('}')
            .ok_or_else(|| "unclosed `${` (write `$$` for a literal `$`)".to_string())?;
        let reference = &body[..end];
        let value = resolve(reference, base_dir, env)?;
        let in_url = out.contains("://");
        if in_url {
            out.extend(utf8_percent_encode(&value, URL_SAFE));
        } else {
            out.push_str(&value);
        }
        expanded = true;
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    Ok((out, expanded))
}

fn resolve(
    reference: &str,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    if let Some(path) = reference.strip_prefix("file:") {
        let path = base_dir.join(path);
        return std::fs::read_to_string(&path)
            .map(|s| s.trim().to_string())
            .map_err(|e| format!("cannot read secret file {}: {e}", path.display()));
    }
    let (name, default) = match reference.split_once(":-") {
        Some((n, d)) => (n, Some(d)),
        None => (reference, None),
    };
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!("`${{{reference}}}` is not a variable reference"));
    }
    match (env(name), default) {
        (Some(v), _) => Ok(v),
        (None, Some(d)) => Ok(d.to_string()),
        (None, None) => Err(format!("environment variable {name} is not set")),
    }
}

/// Expands every string of the tree in place; returns the paths whose value came from a
/// reference (their values are secrets or may be: never echo them).
pub fn expand_tree(
    value: &mut Value,
    path: &str,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    issues: &mut Issues,
) -> BTreeSet<String> {
    let mut secret_paths = BTreeSet::new();
    walk(value, path, base_dir, env, issues, &mut secret_paths);
    secret_paths
}

fn walk(
    value: &mut Value,
    path: &str,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    issues: &mut Issues,
    secret_paths: &mut BTreeSet<String>,
) {
    match value {
        Value::String(s) => match expand_str(s, base_dir, env) {
            Ok((expanded, true)) => {
                *s = expanded;
                secret_paths.insert(path.to_string());
            }
            Ok((_, false)) => {}
            Err(e) => issues.push(path, e),
        },
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(
                    item,
                    &format!("{path}[{i}]"),
                    base_dir,
                    env,
                    issues,
                    secret_paths,
                );
            }
        }
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                let key = match k {
                    Value::String(s) => s.clone(),
                    other => format!("{other:?}"),
                };
                let child = if path.is_empty() {
                    key
                } else {
                    format!("{path}.{key}")
                };
                walk(v, &child, base_dir, env, issues, secret_paths);
            }
        }
        Value::Tagged(t) => walk(&mut t.value, path, base_dir, env, issues, secret_paths),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "KEY" => Some("sk_test_123".into()),
            "PASS" => Some("p@ss/w:rd".into()),
            _ => None,
        }
    }

    fn x(s: &str) -> Result<String, String> {
        expand_str(s, Path::new("/tmp"), &env).map(|(s, _)| s)
    }

    #[test]
    fn variables_defaults_and_literals() {
        assert_eq!(x("${KEY}").unwrap(), "sk_test_123");
        assert_eq!(x("a ${MISSING:-fallback} b").unwrap(), "a fallback b");
        assert_eq!(x("cost $$5 $x").unwrap(), "cost $5 $x");
        assert_eq!(x("plain").unwrap(), "plain");
        assert!(!expand_str("plain", Path::new("/"), &env).unwrap().1);
    }

    #[test]
    fn errors_name_the_variable_never_a_value() {
        assert_eq!(
            x("${NOPE}").unwrap_err(),
            "environment variable NOPE is not set"
        );
        assert!(x("${KEY").unwrap_err().contains("unclosed"));
        assert!(x("${not valid}").unwrap_err().contains("not a variable"));
    }

    #[test]
    fn values_inside_urls_are_percent_encoded() {
        assert_eq!(
            x("smtp://me%40x.fr:${PASS}@smtp.x.fr:587").unwrap(),
            "smtp://me%40x.fr:p%40ss%2Fw%3Ard@smtp.x.fr:587"
        );
        // A whole URL from a variable is taken as it is.
        assert_eq!(x("${PASS}").unwrap(), "p@ss/w:rd");
    }

    #[test]
    fn secret_files_are_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key"), "whsec_abc\n").unwrap();
        let (v, expanded) = expand_str("${file:key}", dir.path(), &env).unwrap();
        assert_eq!(v, "whsec_abc");
        assert!(expanded);
    }
}
