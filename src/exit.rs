//! The one place outcomes become exit codes (DESIGN.md, "Contracts").

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Success; for `plan --detailed-exitcode`, no changes.
    Success,
    /// An error; the state is consistent.
    Error,
    /// `plan --detailed-exitcode`: applying would change a pod or run the job.
    Changes,
    /// `apply`: the job ran and failed; on_failure was carried out.
    JobFailed,
    /// Interrupted; the state is consistent.
    Interrupted,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Error => 1,
            ExitStatus::Changes => 2,
            ExitStatus::JobFailed => 3,
            ExitStatus::Interrupted => 130,
        }
    }

    /// Of several configs' outcomes, the one to report: an interrupt, then
    /// an error, then a failed job, then changes.
    pub fn worst(self, other: ExitStatus) -> ExitStatus {
        let rank = |s: ExitStatus| match s {
            ExitStatus::Success => 0,
            ExitStatus::Changes => 1,
            ExitStatus::JobFailed => 2,
            ExitStatus::Error => 3,
            ExitStatus::Interrupted => 4,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        ExitCode::from(status.code())
    }
}
