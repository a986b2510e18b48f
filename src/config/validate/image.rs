//! `pod.image` against the Docker reference grammar (distribution's
//! `reference` package), so that a typo is found when the config is checked,
//! not when RunPod fails to pull the image of a pod that is already billing:
//!
//! ```text
//! reference := name [ ":" tag ] [ "@" digest ]
//! name      := [domain "/"] path-component ["/" path-component]*
//! domain    := host [":" port]      (a first component with "." or ":", or "localhost")
//! path-component := [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
//! tag       := [\w][\w.-]{0,127}
//! digest    := algorithm ":" hex    (sha256: 64 hex digits)
//! ```

use super::Checker;
use crate::config::shown;

/// distribution's limit on the name (domain and path).
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

impl Checker<'_> {
    /// Checks the rendered image reference.
    pub(super) fn image_reference(&mut self, image: &str) {
        if image.trim().is_empty() {
            return; // `non_empty` said so
        }
        if let Err(reason) = check(image) {
            self.error(
                "pod.image",
                format!("`pod.image` {} is not a valid image reference: {reason}", shown(image)),
            )
            .help = Some(
                "an image looks like runpod/pytorch:2.8.0, ghcr.io/org/app:v1 or name@sha256:<64 hex>"
                    .into(),
            );
        }
    }
}

/// Why `image` is not a reference, if it is not.
pub fn check(image: &str) -> Result<(), String> {
    if let Some((i, c)) = image.char_indices().find(|(_, c)| c.is_whitespace()) {
        let what = match c {
            '\n' | '\r' => "a line break",
            '\t' => "a tab",
            _ => "a space",
        };
        return Err(format!(
            "it contains {what} (at character {})",
            image[..i].chars().count() + 1
        ));
    }
    if image.contains(['{', '}']) {
        return Err(
            "it has a `{` or `}` that is not a template (templates look like {name})".into(),
        );
    }
    let (rest, digest) = match image.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (image, None),
    };
    if let Some(digest) = digest {
        check_digest(digest)?;
    }
    // A tag's `:` comes after the last `/` (a registry's port comes before it).
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        check_tag(tag)?;
    }
    check_name(name)
}

fn check_tag(tag: &str) -> Result<(), String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if tag.is_empty() {
        return Err("the tag after `:` is empty (write one, e.g. :latest, or drop the `:`)".into());
    }
    if tag.len() > MAX_TAG_LEN {
        return Err(format!("the tag is longer than {MAX_TAG_LEN} characters"));
    }
    if !tag.starts_with(word) || !tag.chars().all(|c| word(c) || c == '.' || c == '-') {
        return Err(format!(
            "the tag {} may hold only letters, digits, `_`, `.` and `-`, and must not start with `.` or `-`",
            shown(tag)
        ));
    }
    Ok(())
}

fn check_digest(digest: &str) -> Result<(), String> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err(format!(
            "the digest {} must look like sha256:<64 hex digits>",
            shown(digest)
        ));
    };
    let algorithm_ok = !algorithm.is_empty()
        && algorithm.split(['+', '.', '-', '_']).all(|part| {
            part.starts_with(|c: char| c.is_ascii_alphabetic())
                && part.chars().all(|c| c.is_ascii_alphanumeric())
        });
    let hex_ok = hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit());
    if !algorithm_ok || !hex_ok || (algorithm == "sha256" && hex.len() != 64) {
        return Err(format!(
            "the digest {} must look like sha256:<64 hex digits>",
            shown(digest)
        ));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the image name is empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!("the name is longer than {MAX_NAME_LEN} characters"));
    }
    let mut components: Vec<&str> = name.split('/').collect();
    let first = components[0];
    if components.len() > 1 && (first.contains(['.', ':']) || first == "localhost") {
        check_domain(first)?;
        components.remove(0);
    }
    for component in components {
        check_path_component(component)?;
    }
    Ok(())
}

fn check_domain(domain: &str) -> Result<(), String> {
    // An IPv6 host is bracketed: its own colons are not the port's.
    let host_end = if domain.starts_with('[') {
        domain.find(']').map_or(domain.len(), |i| i + 1)
    } else {
        domain.find(':').unwrap_or(domain.len())
    };
    let (host, port) = match &domain[host_end..] {
        "" => (domain, None),
        rest => (
            &domain[..host_end],
            Some(rest.strip_prefix(':').unwrap_or(rest)),
        ),
    };
    if let Some(port) = port
        && (port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(format!(
            "the registry port {} must be a number",
            shown(port)
        ));
    }
    let host_ok = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        !inner.is_empty() && inner.chars().all(|c| c.is_ascii_hexdigit() || c == ':')
    } else {
        !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            })
    };
    if !host_ok {
        return Err(format!(
            "the registry {} is not a host name (letters, digits, `-` and `.`, then an optional :port)",
            shown(domain)
        ));
    }
    Ok(())
}

fn check_path_component(component: &str) -> Result<(), String> {
    if component.is_empty() {
        return Err("it has an empty path component (`//`, or a `/` at an end)".into());
    }
    if component.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!(
            "the repository name {} must be lowercase",
            shown(component)
        ));
    }
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes = component.as_bytes();
    let valid = {
        // alnum+ (separator alnum+)*, separator := [_.] | __ | -+
        let mut i = 0;
        let mut ok = true;
        let mut expect_alnum = true;
        while i < bytes.len() && ok {
            let c = bytes[i] as char;
            if alnum(c) {
                expect_alnum = false;
                i += 1;
            } else if expect_alnum {
                ok = false;
            } else {
                let sep_len = match c {
                    '.' => 1,
                    '_' if bytes.get(i + 1) == Some(&b'_') => 2,
                    '_' => 1,
                    '-' => bytes[i..].iter().take_while(|b| **b == b'-').count(),
                    _ => {
                        ok = false;
                        0
                    }
                };
                i += sep_len;
                expect_alnum = true;
            }
        }
        ok && !expect_alnum
    };
    if !valid {
        return Err(format!(
            "the path component {} may hold only a-z, 0-9 and single separators (`.`, `_`, `__`, `-`) between them",
            shown(component)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn references_people_use_are_accepted() {
        for image in [
            "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404",
            "runpod/pytorch:2.8.0",
            "ubuntu",
            "ubuntu:24.04",
            "ghcr.io/org/app:v1",
            "localhost:5000/app",
            "registry.example.com:5000/team/app_name__x-y.z:tag_1.2-3",
            "nvcr.io/nvidia/pytorch:24.05-py3",
            "[::1]:5000/app:1",
            "[fe80::1]/app",
            "app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "app:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(check(image), Ok(()), "{image}");
        }
    }

    #[test]
    fn broken_references_say_what_is_wrong() {
        let cases = [
            (
                "runpod/pytorch: 2.8",
                "it contains a space (at character 16)",
            ),
            (
                "runpod/pytorch\n:2.8",
                "it contains a line break (at character 15)",
            ),
            (
                "runpod/pytorch:",
                "the tag after `:` is empty (write one, e.g. :latest, or drop the `:`)",
            ),
            (
                "runpod/pytorch:{torch",
                "it has a `{` or `}` that is not a template (templates look like {name})",
            ),
            (
                "Runpod/pytorch:2",
                "the repository name \"Runpod\" must be lowercase",
            ),
            (
                "runpod//pytorch",
                "it has an empty path component (`//`, or a `/` at an end)",
            ),
            (
                "runpod/py..torch",
                "the path component \"py..torch\" may hold only a-z, 0-9 and single separators (`.`, `_`, `__`, `-`) between them",
            ),
            (
                "runpod/pytorch:.x",
                "the tag \".x\" may hold only letters, digits, `_`, `.` and `-`, and must not start with `.` or `-`",
            ),
            (
                "app@sha256:abc",
                "the digest \"sha256:abc\" must look like sha256:<64 hex digits>",
            ),
            (
                "localhost:port/app",
                "the registry port \"port\" must be a number",
            ),
            (":2.8", "the image name is empty"),
        ];
        for (image, reason) in cases {
            assert_eq!(check(image), Err(reason.to_string()), "{image:?}");
        }
        assert!(check(&format!("a:{}", "1".repeat(129))).is_err());
        assert!(check(&"a".repeat(256)).is_err());
    }
}
