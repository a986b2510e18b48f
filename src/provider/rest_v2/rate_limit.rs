//! RunPod's rate-limit headers (openapi-v2.json's `RateLimitPolicyHeader`
//! and `RateLimitHeader`, the IETF httpapi draft's form): structured-field
//! lists with one member per window,
//!
//! - `RateLimit-Policy: "minute";q=60;w=60, "hour";q=3000;w=3600`: the
//!   quota `q` of each window `w` seconds long;
//! - `RateLimit: "minute";r=0;t=12, "hour";r=2800;t=1812`: what is left
//!   (`r`) and the seconds until the window resets (`t`).
//!
//! Sent on every answer to an authenticated request, not only on 429s;
//! omitted for callers RunPod does not limit. Read leniently: a member
//! that cannot be read is skipped.

use std::time::Duration;

use crate::retry::pace::{Left, Policy};

/// A member's name (quotes dropped) and its numeric parameters.
fn members(value: &str) -> Vec<(String, Vec<(String, u64)>)> {
    value
        .split(',')
        .filter_map(|member| {
            let mut parts = member.split(';');
            let name = parts.next()?.trim().trim_matches('"').trim().to_string();
            if name.is_empty() {
                return None;
            }
            let params = parts
                .filter_map(|param| {
                    let (key, number) = param.split_once('=')?;
                    Some((key.trim().to_string(), number.trim().parse().ok()?))
                })
                .collect();
            Some((name, params))
        })
        .collect()
}

fn param(params: &[(String, u64)], key: &str) -> Option<u64> {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
}

/// The windows of a `RateLimit-Policy` header.
pub fn policy(value: &str) -> Vec<Policy> {
    members(value)
        .into_iter()
        .filter_map(|(name, params)| {
            Some(Policy {
                name,
                quota: u32::try_from(param(&params, "q")?).ok()?,
                window: Duration::from_secs(param(&params, "w")?.max(1)),
            })
        })
        .collect()
}

/// What a `RateLimit` header says is left.
pub fn left(value: &str) -> Vec<Left> {
    members(value)
        .into_iter()
        .filter_map(|(name, params)| {
            Some(Left {
                name,
                remaining: u32::try_from(param(&params, "r")?).unwrap_or(u32::MAX),
                resets_in: Duration::from_secs(param(&params, "t")?),
            })
        })
        .collect()
}

/// What an answer's headers say, for the pacer: `None` when it carries
/// neither header (the caller is not limited); `Some` with empty lists
/// when they were there but unreadable.
pub fn read(
    policy_header: Option<&str>,
    state_header: Option<&str>,
) -> Option<(Vec<Policy>, Vec<Left>)> {
    if policy_header.is_none() && state_header.is_none() {
        return None;
    }
    Some((
        policy_header.map(policy).unwrap_or_default(),
        state_header.map(left).unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specs_examples_are_read() {
        let p = policy("\"minute\";q=60;w=60, \"hour\";q=3000;w=3600, \"day\";q=50000;w=86400");
        assert_eq!(p.len(), 3);
        assert_eq!(
            p[0],
            Policy {
                name: "minute".into(),
                quota: 60,
                window: Duration::from_secs(60)
            }
        );
        assert_eq!(p[2].quota, 50000);
        let l = left("\"minute\";r=0;t=12, \"hour\";r=2800;t=1812, \"day\";r=49500;t=45012");
        assert_eq!(
            l[0],
            Left {
                name: "minute".into(),
                remaining: 0,
                resets_in: Duration::from_secs(12)
            }
        );
        assert_eq!(l[1].remaining, 2800);
    }

    #[test]
    fn members_that_cannot_be_read_are_skipped() {
        assert!(policy("").is_empty());
        assert!(policy("garbage").is_empty());
        assert_eq!(policy("\"minute\";q=x;w=60, hour;w=3600;q=100").len(), 1);
        assert_eq!(left(" minute ; t = 7 ; r = 3 ")[0].remaining, 3);
        assert!(left("\"minute\";r=3").is_empty(), "no reset: unusable");
    }

    #[test]
    fn no_header_means_not_limited() {
        assert_eq!(read(None, None), None);
        let (p, l) = read(Some("\"minute\";q=20;w=60"), Some("\"minute\";r=19;t=60")).unwrap();
        assert_eq!((p.len(), l.len()), (1, 1));
    }
}
