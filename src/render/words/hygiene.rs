//! The words of the commands that keep an account tidy (`status`,
//! `ls-stale`, `cleanup`, `runs`, `cost`, recycle advice): whose a pod is,
//! how long ago, and what the advice says.

use crate::model::Ownership;

/// `1 day`, `41 days`, `less than a day`.
pub fn days(days: u64) -> String {
    match days {
        0 => "less than a day".into(),
        1 => "1 day".into(),
        n => format!("{n} days"),
    }
}

/// Whose a pod is, as a phrase.
pub fn owner(owner: &Ownership) -> String {
    match owner {
        Ownership::Tracked {
            config,
            retained: false,
            ..
        } => format!("tracked by {}", config.display()),
        Ownership::Tracked {
            config,
            retained: true,
            ..
        } => format!("kept for forensics by {}", config.display()),
        Ownership::Untracked {
            config: Some(config),
            ..
        } => format!(
            "untracked rpd pod (made for {}, whose state no longer tracks it)",
            config.display()
        ),
        Ownership::Untracked { config: None, .. } => "untracked rpd pod".into(),
        Ownership::NotRpds => "not rpd's".into(),
    }
}

/// Whose a pod is, in a table cell.
pub fn owner_cell(owner: &Ownership) -> String {
    match owner {
        Ownership::Tracked {
            config,
            retained: false,
            ..
        } => config.display().to_string(),
        Ownership::Tracked {
            config,
            retained: true,
            ..
        } => format!("{} (retained)", config.display()),
        Ownership::Untracked {
            config: Some(config),
            ..
        } => format!("untracked rpd pod (from {})", config.display()),
        Ownership::Untracked { config: None, .. } => "untracked rpd pod".into(),
        Ownership::NotRpds => "not rpd's".into(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn owners_read_as_whose_the_pod_is() {
        let tracked = Ownership::Tracked {
            config: PathBuf::from("/p/hello.yaml"),
            state_file: PathBuf::from("/p/.rpd/hello.state.json"),
            retained: false,
        };
        assert_eq!(owner(&tracked), "tracked by /p/hello.yaml");
        let lost = Ownership::Untracked {
            config: Some(PathBuf::from("/p/hello.yaml")),
            state_file: None,
        };
        assert_eq!(
            owner(&lost),
            "untracked rpd pod (made for /p/hello.yaml, whose state no longer tracks it)"
        );
        assert_eq!(owner_cell(&Ownership::NotRpds), "not rpd's");
        assert_eq!(days(0), "less than a day");
        assert_eq!(days(41), "41 days");
    }
}
