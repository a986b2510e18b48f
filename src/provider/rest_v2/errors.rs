//! HTTP failures to `ProviderError`, by what the caller should do next.
//!
//! RunPod answers errors as `application/problem+json`
//! (`{title, status, detail, errors?}`); capacity and "host busy" carry no
//! code, only `detail` text, so a 400 is classified by its words first.

use std::time::Duration;

use super::wire::{self, Problem};
use crate::provider::ProviderError;

/// Which call failed: a few statuses mean different things per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Create,
    Other,
}

/// Classifies a non-2xx answer. `what` names the request (`GET /v2/pods/x`).
pub fn from_response(
    call: Call,
    what: &str,
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
) -> ProviderError {
    let problem = wire::parse::<Problem>(body).unwrap_or_default();
    let detail = problem
        .detail
        .clone()
        .filter(|d| !d.trim().is_empty())
        .or_else(|| problem.title.clone())
        .unwrap_or_else(|| raw_text(body));
    let mut message = format!("{what}: HTTP {status}: {detail}");
    if let Some(errors) = problem.errors.as_ref().filter(|e| !e.is_empty()) {
        message.push_str(&format!(" [{}]", errors.join("; ")));
    }
    match status {
        400 => ProviderError::from_message(&detail).unwrap_or(ProviderError::Invalid(message)),
        401 => ProviderError::Auth(format!(
            "{message}\n  = help: check the API key in RUNPOD_API_KEY or ~/.runpod/config.toml"
        )),
        402 => ProviderError::Balance(message),
        // For a create, 403 means "your account cannot use this GPU pool":
        // the spec says skip the candidate, which apply does for `Invalid`.
        // Anywhere else it is the key that lacks access.
        403 if call == Call::Create => ProviderError::Invalid(format!(
            "{message} (no access to this GPU pool; if every candidate says so, the API key may lack write access)"
        )),
        403 => ProviderError::Auth(message),
        404 => ProviderError::NotFound(message),
        409 => ProviderError::Conflict(message),
        // The body broke the contract; the spec: "fix; never retry".
        422 => ProviderError::Rejected(message),
        429 => ProviderError::RateLimited {
            retry_after,
            message,
        },
        500..=599 => ProviderError::Transient(message),
        _ => ProviderError::Other(message),
    }
}

/// A network failure (connect, timeout, reset) or an unreadable body.
pub fn from_transport(what: &str, err: &reqwest::Error) -> ProviderError {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    ProviderError::Transient(format!("{what}: {kind}: {}", chain(err)))
}

/// How long a 429 asks to wait, from its headers: `Retry-After`, and
/// RunPod's `RateLimit` state (a window with no requests left resets in
/// `t` seconds). When both say something, the longer wait wins: waiting
/// less would only earn another 429.
pub fn server_wait(retry_after_header: Option<&str>, rate_limit: Option<&str>) -> Option<Duration> {
    retry_after(retry_after_header).max(rate_limit_reset(rate_limit))
}

/// `Retry-After` in seconds (RunPod sends seconds; an HTTP date is ignored).
pub fn retry_after(value: Option<&str>) -> Option<Duration> {
    value?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The wait until the latest exhausted window of a `RateLimit` header
/// resets: `"minute";r=0;t=12, "hour";r=2800;t=1812` says the minute
/// window has 0 requests left and resets in 12 s. Read leniently (a
/// structured-field list of `name;r=N;t=N`): members that cannot be read
/// are skipped, and a header with no exhausted window says nothing.
pub fn rate_limit_reset(value: Option<&str>) -> Option<Duration> {
    value?
        .split(',')
        .filter_map(|member| {
            let mut remaining = None;
            let mut reset = None;
            for param in member.split(';').skip(1) {
                let Some((key, number)) = param.split_once('=') else {
                    continue;
                };
                let number = number.trim().parse::<u64>().ok();
                match key.trim() {
                    "r" => remaining = number,
                    "t" => reset = number,
                    _ => {}
                }
            }
            (remaining? == 0).then_some(Duration::from_secs(reset?))
        })
        .max()
}

/// The body as text, short enough for one error line.
fn raw_text(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".into();
    }
    let mut short: String = text.chars().take(300).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// reqwest's error with its causes ("error sending request: connection refused").
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(status: u16, detail: &str) -> Vec<u8> {
        serde_json::json!({"title": "x", "status": status, "detail": detail})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn capacity_and_host_busy_400s_are_classified_by_their_words() {
        let capacity = problem(400, crate::provider::CAPACITY_MESSAGE);
        assert!(matches!(
            from_response(Call::Create, "POST /v2/pods", 400, None, &capacity),
            ProviderError::Capacity(_)
        ));
        let busy = problem(400, crate::provider::HOST_BUSY_MESSAGE);
        assert!(matches!(
            from_response(Call::Other, "POST /v2/pods/x/action", 400, None, &busy),
            ProviderError::HostBusy(_)
        ));
        let rule = problem(400, "mounts: persistent and network are mutually exclusive");
        assert!(matches!(
            from_response(Call::Create, "POST /v2/pods", 400, None, &rule),
            ProviderError::Invalid(m) if m.contains("mutually exclusive")
        ));
    }

    #[test]
    fn a_403_on_create_skips_the_candidate_elsewhere_it_is_auth() {
        let body = problem(403, "access denied");
        assert!(matches!(
            from_response(Call::Create, "POST /v2/pods", 403, None, &body),
            ProviderError::Invalid(m) if m.contains("no access to this GPU pool")
        ));
        assert!(matches!(
            from_response(Call::Other, "GET /v2/pods", 403, None, &body),
            ProviderError::Auth(_)
        ));
    }

    #[test]
    fn a_body_that_is_not_problem_json_is_kept_as_text() {
        let err = from_response(
            Call::Other,
            "GET /v2/pods",
            502,
            None,
            b"<html>Bad Gateway</html>",
        );
        assert_eq!(
            err,
            ProviderError::Transient("GET /v2/pods: HTTP 502: <html>Bad Gateway</html>".into())
        );
        let empty = from_response(Call::Other, "GET /v2/pods", 503, None, b"");
        assert!(empty.to_string().contains("(empty body)"), "{empty}");
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        assert_eq!(retry_after(Some("12")), Some(Duration::from_secs(12)));
        assert_eq!(retry_after(Some(" 0 ")), Some(Duration::ZERO));
        assert_eq!(retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        assert_eq!(retry_after(None), None);
    }

    #[test]
    fn the_rate_limit_header_says_when_an_exhausted_window_resets() {
        let secs = |v: &str| rate_limit_reset(Some(v)).map(|d| d.as_secs());
        assert_eq!(
            secs("\"minute\";r=0;t=12, \"hour\";r=2800;t=1812, \"day\";r=49500;t=45012"),
            Some(12)
        );
        assert_eq!(secs("\"minute\";r=3;t=12, \"hour\";r=2800;t=1812"), None);
        assert_eq!(
            secs("\"minute\";r=0;t=12, \"hour\";r=0;t=1812"),
            Some(1812),
            "the latest reset: the earlier would only earn another 429"
        );
        assert_eq!(
            secs(" minute ; t = 7 ; r = 0 "),
            Some(7),
            "any order, spaces"
        );
        for unreadable in [
            "",
            "garbage",
            "\"minute\";r=0",
            "\"minute\";r=x;t=5",
            "\"minute\";r=0;t=soon",
        ] {
            assert_eq!(secs(unreadable), None, "{unreadable:?}");
        }
        assert_eq!(
            secs("\"minute\";r=0;t=9, broken;;=;"),
            Some(9),
            "a member that cannot be read is skipped"
        );
        assert_eq!(rate_limit_reset(None), None);
    }

    #[test]
    fn a_429_waits_the_longer_of_retry_after_and_the_rate_limit_reset() {
        let limit = Some("\"minute\";r=0;t=12");
        assert_eq!(server_wait(Some("3"), limit), Some(Duration::from_secs(12)));
        assert_eq!(
            server_wait(Some("30"), limit),
            Some(Duration::from_secs(30))
        );
        assert_eq!(server_wait(None, limit), Some(Duration::from_secs(12)));
        assert_eq!(server_wait(Some("3"), None), Some(Duration::from_secs(3)));
        assert_eq!(server_wait(None, Some("\"minute\";r=5;t=12")), None);
    }
}
