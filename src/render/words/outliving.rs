//! The words for jobs that outlive the laptop: the on-pod guard and a job
//! an apply attaches to.

use chrono::{DateTime, Utc};

/// A job a detached or interrupted apply launched, which this one attaches to.
pub(super) fn attaches(pod_id: &str, launched_at: &DateTime<Utc>, detached: bool) -> String {
    format!(
        "{} launched the job on pod {pod_id} at {}: this apply attaches to it (follows its log while it runs, or collects its log, artifacts and exit status if it has ended), then carries out the lifecycle; the job is not run again",
        if detached {
            "`rpd apply --detach`"
        } else {
            "an apply that was interrupted"
        },
        launched_at.format("%Y-%m-%d %H:%M:%S UTC")
    )
}

/// When the on-pod guard stops the pod by itself.
pub(super) fn guard_stops_pod(
    deadline_at: &DateTime<Utc>,
    max_runtime: bool,
    grace_sec: u64,
) -> String {
    format!(
        "the pod stops itself at about {} ({}, counted from the job's start) or {} after the job ends if rpd is not attached (rpd's guard on the pod; lifecycle.unattended_stop_after_sec)",
        deadline_at.format("%Y-%m-%d %H:%M UTC"),
        if max_runtime {
            "max runtime"
        } else {
            "cost cap"
        },
        spoken_duration(grace_sec)
    )
}

/// `600` as "10 minutes", `1` as "1 second", `90` as "1m30s".
fn spoken_duration(secs: u64) -> String {
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match secs {
        s if s < 60 => plural(s, "second"),
        s if s % 3600 == 0 => plural(s / 3600, "hour"),
        s if s % 60 == 0 => plural(s / 60, "minute"),
        s => crate::model::duration(s),
    }
}

#[cfg(test)]
mod tests {
    use super::spoken_duration;

    #[test]
    fn grace_periods_read_as_people_say_them() {
        assert_eq!(spoken_duration(600), "10 minutes");
        assert_eq!(spoken_duration(1), "1 second");
        assert_eq!(spoken_duration(7200), "2 hours");
        assert_eq!(spoken_duration(90), "1m30s");
    }
}
