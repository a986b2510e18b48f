//! runpodctl's failures, read from stderr and classified for apply.
//!
//! Two shapes exist. v2.0-v2.7 print `{"error":"<msg>"}` twice (once from the
//! command, once wrapped by `Execute`), without escaping the message (so a
//! quote in it breaks the JSON), and cobra may append usage text. v2.8+ print
//! one flat object `{"error","code","status"}`. Both are read line by line;
//! the raw text is kept in the error. Capacity and host-busy failures carry
//! no code anywhere, so RunPod's words are matched first.

use super::process::Output;
use crate::provider::ProviderError;

/// One `{"error": ...}` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorLine {
    pub message: String,
    pub code: Option<String>,
    pub status: Option<u16>,
}

fn parse_line(line: &str) -> Option<ErrorLine> {
    let line = line.trim();
    if !line.starts_with('{') {
        return line.strip_prefix("Error: ").map(|m| ErrorLine {
            message: m.to_string(),
            code: None,
            status: None,
        });
    }
    if let Ok(serde_json::Value::Object(obj)) = serde_json::from_str(line)
        && let Some(message) = obj.get("error").and_then(|m| m.as_str())
    {
        return Some(ErrorLine {
            message: message.to_string(),
            code: obj
                .get("code")
                .and_then(|c| c.as_str())
                .map(str::to_ascii_lowercase),
            status: obj
                .get("status")
                .and_then(|s| s.as_u64())
                .and_then(|s| u16::try_from(s).ok()),
        });
    }
    // v2.0-v2.7 do not escape the message: `{"error":"api error: {"error":
    // "pod not found","status":404} (status 404)"}` is not JSON.
    let rest = line.strip_prefix('{')?.trim_start();
    let rest = rest.strip_prefix("\"error\"")?.trim_start();
    let rest = rest.strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    let message = rest
        .trim_end()
        .strip_suffix('}')?
        .trim_end()
        .strip_suffix('"')?;
    Some(ErrorLine {
        message: message.to_string(),
        code: None,
        status: None,
    })
}

/// The error lines of stderr, in order (`warning:`/`note:` lines and usage
/// text are not errors).
pub fn error_lines(stderr: &str) -> Vec<ErrorLine> {
    stderr
        .lines()
        .take_while(|l| !is_usage_start(l))
        .filter_map(parse_line)
        .collect()
}

fn is_usage_start(line: &str) -> bool {
    line.trim_end() == "Usage:"
}

/// stderr up to the usage text, which only repeats `--help`.
pub fn raw_text(stderr: &str) -> String {
    let kept: Vec<&str> = stderr
        .lines()
        .take_while(|l| !is_usage_start(l))
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    let mut text = kept.join("\n");
    if stderr.lines().any(is_usage_start) {
        text.push_str(if text.is_empty() { "" } else { "\n" });
        text.push_str("(usage text omitted)");
    }
    text
}

/// `(status 404)` in v2.7's `api error: <body> (status 404)`, or the body's
/// `"status":404`.
fn status_in_text(text: &str) -> Option<u16> {
    let from_suffix = text
        .rsplit("(status ")
        .next()
        .filter(|_| text.contains("(status "));
    let from_body = text
        .rsplit("\"status\":")
        .next()
        .filter(|_| text.contains("\"status\":"));
    [from_suffix, from_body]
        .into_iter()
        .flatten()
        .find_map(|tail| {
            let digits: String = tail
                .trim_start()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
}

fn from_status(status: u16, detail: String) -> Option<ProviderError> {
    Some(match status {
        400 => ProviderError::Invalid(detail),
        422 => ProviderError::Rejected(detail),
        401 | 403 => ProviderError::Auth(detail),
        402 => ProviderError::Balance(detail),
        404 => ProviderError::NotFound(detail),
        409 => ProviderError::Conflict(detail),
        429 => ProviderError::RateLimited {
            retry_after: None,
            message: detail,
        },
        500..=599 => ProviderError::Transient(detail),
        _ => return None,
    })
}

fn from_code(code: &str, status: Option<u16>, detail: String) -> Option<ProviderError> {
    Some(match code {
        "not_found" => ProviderError::NotFound(detail),
        "unauthorized" | "forbidden" | "no_credentials" => ProviderError::Auth(detail),
        "rate_limited" => ProviderError::RateLimited {
            retry_after: None,
            message: detail,
        },
        "server_error" | "network_error" | "timeout" => ProviderError::Transient(detail),
        "usage_error" | "bad_request" => ProviderError::Invalid(detail),
        "conflict" => ProviderError::Conflict(detail),
        // api_error is any other HTTP status; graphql_error and cli_error
        // can follow a create that was sent: never "invalid" (apply looks an
        // ambiguous create up by name; an invalid one it does not).
        _ => return status.and_then(|s| from_status(s, detail)),
    })
}

/// Words that say what happened when no code does (v2.0-v2.7).
fn from_words(lower: &str, detail: String) -> Option<ProviderError> {
    const USAGE: &[&str] = &[
        "unknown flag",
        "unknown shorthand flag",
        "unknown command",
        "invalid argument",
        "required flag(s)",
        "if any flags in the group",
    ];
    const NETWORK: &[&str] = &[
        "request failed:",
        "connection refused",
        "no such host",
        "i/o timeout",
        "timeout awaiting",
        "tls handshake",
    ];
    if lower.contains("api key not found") || lower.contains("no api key") {
        Some(ProviderError::Auth(detail))
    } else if USAGE.iter().any(|u| lower.contains(u)) {
        Some(ProviderError::Invalid(detail))
    } else if NETWORK.iter().any(|n| lower.contains(n)) {
        Some(ProviderError::Transient(detail))
    } else if lower.contains("pod not found") {
        Some(ProviderError::NotFound(detail))
    } else {
        None
    }
}

/// Whether RunPod answered that its REST v1 API is gone: HTTP 410 (the
/// status RunPod announced for v1 after its retirement), or words saying
/// so. runpodctl v2.0-v2.14 send their pod commands there.
pub fn rest_v1_gone(out: &Output) -> bool {
    let lines = error_lines(&out.stderr);
    let status = lines
        .iter()
        .find_map(|l| l.status)
        .or_else(|| lines.iter().find_map(|l| status_in_text(&l.message)));
    let lower = raw_text(&out.stderr).to_ascii_lowercase();
    status == Some(410)
        || lower.contains("410 gone")
        || (lower.contains("v1") && (lower.contains("retired") || lower.contains("sunset")))
}

/// What a failed `runpodctl <what>` means. `what` names the command
/// (`pod get abc123`), never its arguments' values (env may hold secrets).
pub fn classify(what: &str, out: &Output) -> ProviderError {
    let raw = raw_text(&out.stderr);
    let status_text = match out.status {
        Some(code) => format!("exit status {code}"),
        None => "killed by a signal".to_string(),
    };
    let detail = if raw.is_empty() {
        format!("runpodctl {what} failed ({status_text}) and printed no error")
    } else {
        format!("runpodctl {what}: {raw}")
    };
    if let Some(err) = ProviderError::from_message(&detail) {
        return err;
    }
    let lines = error_lines(&out.stderr);
    if let Some(line) = lines.iter().find(|l| l.code.is_some()) {
        let code = line.code.as_deref().unwrap_or_default();
        if let Some(err) = from_code(code, line.status, detail.clone()) {
            return err;
        }
    }
    let status = lines
        .iter()
        .find_map(|l| l.status)
        .or_else(|| lines.iter().find_map(|l| status_in_text(&l.message)));
    if let Some(err) = status.and_then(|s| from_status(s, detail.clone())) {
        return err;
    }
    from_words(&raw.to_ascii_lowercase(), detail.clone()).unwrap_or(ProviderError::Other(detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Check = fn(&ProviderError) -> bool;

    fn failed(stderr: &str) -> Output {
        Output {
            status: Some(1),
            stdout: String::new(),
            stderr: stderr.to_string(),
        }
    }

    #[test]
    fn an_answer_that_rest_v1_is_gone_is_recognized_in_either_shape() {
        for gone in [
            r#"{"error":"failed to get pod: Something went wrong.","code":"api_error","status":410}"#,
            concat!(
                r#"{"error":"api error: {"error":"Gone","status":410} (status 410)"}"#,
                "\n",
                r#"{"error":"failed to get pod: api error: {"error":"Gone","status":410} (status 410)"}"#
            ),
            r#"{"error":"failed to list pods: REST API v1 was retired on November 15, 2026; use v2"}"#,
            "Error: 410 Gone",
        ] {
            assert!(rest_v1_gone(&failed(gone)), "{gone}");
        }
        for other in [
            r#"{"error":"failed to get pod: pod not found","code":"not_found","status":404}"#,
            r#"{"error":"boom","status":500}"#,
        ] {
            assert!(!rest_v1_gone(&failed(other)), "{other}");
        }
    }

    #[test]
    fn v27_unescaped_lines_are_read() {
        let line = r#"{"error":"api error: {"error":"pod not found","status":404} (status 404)"}"#;
        let parsed = parse_line(line).unwrap();
        assert_eq!(
            parsed.message,
            r#"api error: {"error":"pod not found","status":404} (status 404)"#
        );
        assert_eq!(status_in_text(&parsed.message), Some(404));
    }

    #[test]
    fn flat_objects_keep_code_and_status() {
        let parsed = parse_line(
            r#"{"error":"failed to get pod: pod not found","code":"NOT_FOUND","status":404}"#,
        )
        .unwrap();
        assert_eq!(parsed.code.as_deref(), Some("not_found"));
        assert_eq!(parsed.status, Some(404));
    }

    #[test]
    fn warnings_and_usage_are_not_errors() {
        let stderr = "warning: something deprecated\nnote: only the first data center id is used\n{\"error\":\"boom\"}\nUsage:\n  runpodctl pod create [flags]\n{\"error\":\"not me\"}\n";
        let lines = error_lines(stderr);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].message, "boom");
        assert!(raw_text(stderr).ends_with("{\"error\":\"boom\"}\n(usage text omitted)"));
    }

    #[test]
    fn codes_map_to_what_apply_should_do() {
        let cases: &[(&str, Check)] = &[
            ("not_found", |e| matches!(e, ProviderError::NotFound(_))),
            ("unauthorized", |e| matches!(e, ProviderError::Auth(_))),
            ("forbidden", |e| matches!(e, ProviderError::Auth(_))),
            ("no_credentials", |e| matches!(e, ProviderError::Auth(_))),
            ("rate_limited", |e| {
                matches!(e, ProviderError::RateLimited { .. })
            }),
            ("server_error", |e| matches!(e, ProviderError::Transient(_))),
            ("network_error", |e| {
                matches!(e, ProviderError::Transient(_))
            }),
            ("timeout", |e| matches!(e, ProviderError::Transient(_))),
            ("usage_error", |e| matches!(e, ProviderError::Invalid(_))),
            ("bad_request", |e| matches!(e, ProviderError::Invalid(_))),
            ("conflict", |e| matches!(e, ProviderError::Conflict(_))),
            ("graphql_error", |e| matches!(e, ProviderError::Other(_))),
            ("cli_error", |e| matches!(e, ProviderError::Other(_))),
        ];
        for (code, expected) in cases {
            let err = classify(
                "pod get x",
                &failed(&format!(
                    "{{\"error\":\"something\",\"code\":\"{code}\"}}\n"
                )),
            );
            assert!(expected(&err), "{code} -> {err:?}");
            assert!(
                err.to_string().contains("something"),
                "raw text kept: {err}"
            );
        }
    }

    #[test]
    fn runpods_words_win_over_codes() {
        let err = classify(
            "pod start x",
            &failed(
                r#"{"error":"failed to start pod: start pod: There are not enough free GPUs on the host machine to start this pod.","code":"server_error","status":500}"#,
            ),
        );
        assert!(matches!(err, ProviderError::HostBusy(_)), "{err:?}");
    }

    #[test]
    fn a_definite_not_found_only() {
        let key = classify(
            "pod get x",
            &failed(
                r#"{"error":"api key not found. get your key at https://www.runpod.io/console/user/settings then: export RUNPOD_API_KEY=your-key OR run: runpodctl doctor"}"#,
            ),
        );
        assert!(matches!(key, ProviderError::Auth(_)), "{key:?}");
        let blank = classify("pod get x", &failed(""));
        assert!(matches!(blank, ProviderError::Other(_)), "{blank:?}");
        assert!(blank.to_string().contains("exit status 1"), "{blank}");
        let killed = classify(
            "pod get x",
            &Output {
                status: None,
                ..Output::default()
            },
        );
        assert!(
            killed.to_string().contains("killed by a signal"),
            "{killed}"
        );
    }

    #[test]
    fn v27_statuses_in_text() {
        for (status, check) in [
            (
                "401",
                (|e: &ProviderError| matches!(e, ProviderError::Auth(_))) as Check,
            ),
            ("402", |e| matches!(e, ProviderError::Balance(_))),
            ("429", |e| matches!(e, ProviderError::RateLimited { .. })),
            ("502", |e| matches!(e, ProviderError::Transient(_))),
            ("400", |e| matches!(e, ProviderError::Invalid(_))),
        ] {
            let err = classify(
                "pod stop x",
                &failed(&format!(
                    "{{\"error\":\"api error: {{\"error\":\"nope\"}} (status {status})\"}}\n"
                )),
            );
            assert!(check(&err), "{status} -> {err:?}");
        }
        let network = classify(
            "pod list",
            &failed(
                "{\"error\":\"request failed: Get \\\"https://rest.runpod.io/v1/pods\\\": dial tcp: lookup rest.runpod.io: no such host\"}\n",
            ),
        );
        assert!(
            matches!(network, ProviderError::Transient(_)),
            "{network:?}"
        );
    }

    /// Every fixture in `fixtures/runpodctl/errors/` and what apply must do.
    #[test]
    fn recorded_stderr_fixtures() {
        let cases: &[(&str, &str, Check)] = &[
            ("v2.7-capacity", "Capacity", |e| {
                matches!(e, ProviderError::Capacity(_))
            }),
            ("v2.8-capacity", "Capacity", |e| {
                matches!(e, ProviderError::Capacity(_))
            }),
            ("v2.7-not-found", "NotFound", |e| {
                matches!(e, ProviderError::NotFound(_))
            }),
            ("v2.8-not-found", "NotFound", |e| {
                matches!(e, ProviderError::NotFound(_))
            }),
            ("v2.7-host-busy", "HostBusy", |e| {
                matches!(e, ProviderError::HostBusy(_))
            }),
            ("v2.8-host-busy", "HostBusy", |e| {
                matches!(e, ProviderError::HostBusy(_))
            }),
            ("v2.7-no-credentials", "Auth", |e| {
                matches!(e, ProviderError::Auth(_))
            }),
            ("v2.8-no-credentials", "Auth", |e| {
                matches!(e, ProviderError::Auth(_))
            }),
            ("v2.7-unauthorized", "Auth", |e| {
                matches!(e, ProviderError::Auth(_))
            }),
            ("v2.8-forbidden", "Auth", |e| {
                matches!(e, ProviderError::Auth(_))
            }),
            ("v2.8-rate-limited", "RateLimited", |e| {
                matches!(e, ProviderError::RateLimited { .. })
            }),
            ("v2.7-server-error", "Transient", |e| {
                matches!(e, ProviderError::Transient(_))
            }),
            ("v2.8-network-error", "Transient", |e| {
                matches!(e, ProviderError::Transient(_))
            }),
            ("v2.7-unknown-flag", "Invalid", |e| {
                matches!(e, ProviderError::Invalid(_))
            }),
            ("v2.8-unknown-flag", "Invalid", |e| {
                matches!(e, ProviderError::Invalid(_))
            }),
            ("v2.8-bad-request", "Invalid", |e| {
                matches!(e, ProviderError::Invalid(_))
            }),
            // No status rpd classifies: `run` recognises these first
            // (`rest_v1_gone`) and says which runpodctl to install.
            ("v2.7-rest-v1-gone", "Other", |e| {
                matches!(e, ProviderError::Other(_))
            }),
            ("v2.8-rest-v1-gone", "Other", |e| {
                matches!(e, ProviderError::Other(_))
            }),
        ];
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/runpodctl/errors");
        let on_disk = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(on_disk, cases.len(), "every fixture has a case");
        for (name, class, check) in cases {
            let stderr = std::fs::read_to_string(dir.join(format!("{name}.stderr"))).unwrap();
            assert_eq!(
                rest_v1_gone(&failed(&stderr)),
                name.ends_with("rest-v1-gone"),
                "{name}: the retired REST v1, and only it"
            );
            let err = classify("pod x", &failed(&stderr));
            assert!(check(&err), "{name}: expected {class}, got {err:?}");
            let first = stderr.lines().find(|l| l.starts_with('{')).unwrap();
            assert!(
                err.to_string().contains(first),
                "{name}: raw line kept in {err}"
            );
            assert!(
                !err.to_string().contains("--cloud-type string"),
                "{name}: no usage text"
            );
        }
    }
}
