//! The names rpd gives the pods it creates, and the rule that recognises
//! them: `<run_id_prefix>-<YYYYmmddTHHMMSSZ>-<6 hex of the state's lineage>`.
//!
//! The run id (`<prefix>-<UTC stamp>`) says what and when; the lineage part
//! makes the name one state's alone, so the lookup of a lost create never
//! adopts another config's pod, and a pod whose state was lost can be traced
//! back to the config that made it. The rule is strict (a 15-character UTC
//! stamp that is a real time, then exactly six lowercase hex digits) so that
//! it matches every name rpd makes and no name people give pods by hand.
//! Imports nothing of rpd.

use chrono::NaiveDateTime;
use uuid::Uuid;

/// The stamp's format (`config::validate` writes run ids with it).
const STAMP_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// The 6 hex digits of a state's lineage that its pods' names carry.
pub fn lineage_tag(lineage: &Uuid) -> String {
    lineage.simple().to_string()[..6].to_string()
}

/// The name of a pod created for `run_id` (`<prefix>-<stamp>`) by the state
/// with this lineage.
pub fn for_create(run_id: &str, lineage: &Uuid) -> String {
    format!("{run_id}-{}", lineage_tag(lineage))
}

/// The parts of a name rpd made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpdPodName<'a> {
    /// The config's rendered `run_id_prefix` (its `name` by default).
    pub prefix: &'a str,
    /// When the run that created the pod started (UTC).
    pub created: NaiveDateTime,
    /// [`lineage_tag`] of the state that made it.
    pub lineage_tag: &'a str,
}

/// The parts of `name` if rpd made it, else `None`.
pub fn parse(name: &str) -> Option<RpdPodName<'_>> {
    // `<prefix>-` + 16 (`YYYYmmddTHHMMSSZ`) + `-` + 6 hex.
    let (rest, tag) = name.rsplit_once('-')?;
    if tag.len() != 6
        || !tag
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let (prefix, stamp) = rest.rsplit_once('-')?;
    if prefix.is_empty() || stamp.len() != 16 {
        return None;
    }
    let created = NaiveDateTime::parse_from_str(stamp, STAMP_FORMAT).ok()?;
    Some(RpdPodName {
        prefix,
        created,
        lineage_tag: tag,
    })
}

/// Whether rpd made a pod of this name.
pub fn is_rpds(name: &str) -> bool {
    parse(name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lineage() -> Uuid {
        "2f4c4f82-63f1-40d6-9582-826057ac2a40".parse().unwrap()
    }

    #[test]
    fn every_name_rpd_makes_is_recognised_with_its_parts() {
        for prefix in ["hello", "demo-7", "a", "my job (v2)", "x-20260101T000000Z"] {
            let run_id = format!("{prefix}-20261128T004051Z");
            let name = for_create(&run_id, &lineage());
            let parsed = parse(&name).unwrap_or_else(|| panic!("{name} not recognised"));
            assert_eq!(parsed.prefix, prefix);
            assert_eq!(parsed.lineage_tag, "2f4c4f");
            assert_eq!(
                parsed.created.format("%Y-%m-%d %H:%M:%S").to_string(),
                "2026-11-28 00:40:51"
            );
        }
    }

    #[test]
    fn names_people_give_pods_are_not_rpds() {
        for name in [
            "pytorch-training",
            "hello",
            "hello-20261128T004051Z",
            "hello-20261128T004051Z-2F4C4F",
            "hello-20261128T004051Z-2f4c4",
            "hello-20261128T004051Z-2f4c4fa",
            "hello-20261128T004051-2f4c4f",
            "hello-20261328T004051Z-2f4c4f",
            "hello-20261128T256051Z-2f4c4f",
            "-20261128T004051Z-2f4c4f",
            "sd-webui-abc123",
            "llama-2024-06-01-cafe01",
            "",
        ] {
            assert!(!is_rpds(name), "{name:?} taken for rpd's");
        }
    }
}
