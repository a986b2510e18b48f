//! `{name}` templates, rendered exactly as runpod-deploy 0.8.4 renders them
//! (its regex is `\{([A-Za-z_][A-Za-z0-9_]*)\}`), with one addition: where
//! runpod-deploy would reject `${NAME}` because NAME is not a variable, rpd
//! leaves it alone, so bash parameter expansion works in `run.body`. Any config
//! that renders under runpod-deploy renders identically here.

use indexmap::IndexMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVariable {
    pub name: String,
    pub suggestion: Option<String>,
}

pub type Variables = IndexMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderError {
    Unknown(UnknownVariable),
    /// The result would be longer than the limit: variables that repeat
    /// variables grow exponentially (`b: "{a}{a}"`, `c: "{b}{b}"`, ...).
    TooLong,
}

/// `text` with its placeholders replaced, if the result has at most
/// `limit` bytes.
pub fn render(text: &str, vars: &Variables, limit: usize) -> Result<String, RenderError> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len().min(limit));
    let mut copied_to = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'{' {
            i += 1;
            continue;
        }
        let Some(len) = placeholder_len(&bytes[i..]) else {
            i += 1;
            continue;
        };
        let name = &text[i + 1..i + len - 1];
        match vars.get(name) {
            Some(value) => {
                if out.len() + (i - copied_to) + value.len() > limit {
                    return Err(RenderError::TooLong);
                }
                out.push_str(&text[copied_to..i]);
                out.push_str(value);
                copied_to = i + len;
            }
            None if i > 0 && bytes[i - 1] == b'$' => {}
            None => {
                return Err(RenderError::Unknown(UnknownVariable {
                    name: name.to_string(),
                    suggestion: crate::config::suggest(name, vars.keys().map(String::as_str)),
                }));
            }
        }
        i += len;
    }
    if out.len() + (text.len() - copied_to) > limit {
        return Err(RenderError::TooLong);
    }
    out.push_str(&text[copied_to..]);
    Ok(out)
}

/// The names of the `{identifier}` placeholders in `text`, in order.
pub fn placeholders(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut names = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i] == b'{')
            .then(|| placeholder_len(&bytes[i..]))
            .flatten()
        {
            Some(len) => {
                names.push(&text[i + 1..i + len - 1]);
                i += len;
            }
            None => i += 1,
        }
    }
    names
}

/// Length of `{identifier}` at the start of `bytes`, if there is one.
fn placeholder_len(bytes: &[u8]) -> Option<usize> {
    let first = *bytes.get(1)?;
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return None;
    }
    let mut end = 2;
    while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
        end += 1;
    }
    (bytes.get(end) == Some(&b'}')).then_some(end + 1)
}

pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Variables {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn substitutes_known_names() {
        let v = vars(&[("seed", "42"), ("run_id", "demo-1")]);
        assert_eq!(render("x-{seed}/{run_id}", &v, 100).unwrap(), "x-42/demo-1");
    }

    #[test]
    fn unknown_name_is_an_error_with_a_suggestion() {
        let v = vars(&[("run_id", "r")]);
        let Err(RenderError::Unknown(err)) = render("{run_idd}", &v, 100) else {
            panic!("unknown");
        };
        assert_eq!(err.name, "run_idd");
        assert_eq!(err.suggestion.as_deref(), Some("run_id"));
    }

    #[test]
    fn bash_expansion_of_unknown_names_is_left_alone() {
        let v = vars(&[("seed", "7")]);
        assert_eq!(
            render("echo ${HOME} ${seed} ${X:-1}", &v, 100).unwrap(),
            "echo ${HOME} $7 ${X:-1}"
        );
    }

    #[test]
    fn non_identifiers_are_literal_like_runpod_deploy() {
        let v = vars(&[("a", "1")]);
        assert_eq!(
            render("awk '{print $1}' {} {1x} {a-b} {{a}} {a{a}", &v, 100).unwrap(),
            "awk '{print $1}' {} {1x} {a-b} {1} {a1"
        );
    }

    #[test]
    fn a_result_over_the_limit_is_refused_before_it_is_built() {
        let v = vars(&[("a", "0123456789")]);
        assert_eq!(render("{a}{a}", &v, 20).unwrap().len(), 20);
        assert_eq!(render("{a}{a}", &v, 19), Err(RenderError::TooLong));
        assert_eq!(render("{a}{a}!", &v, 20), Err(RenderError::TooLong));
        assert_eq!(render("plain", &v, 4), Err(RenderError::TooLong));
    }

    #[test]
    fn placeholders_are_listed_as_render_sees_them() {
        assert_eq!(
            placeholders("{a}/{b_1}/${c} {} {1x} {{d}}"),
            vec!["a", "b_1", "c", "d"]
        );
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("seed_1"));
        assert!(is_identifier("_x"));
        assert!(!is_identifier("1x"));
        assert!(!is_identifier("a-b"));
        assert!(!is_identifier(""));
    }
}
