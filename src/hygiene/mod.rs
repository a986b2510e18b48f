//! Keeping an account tidy: whose each pod is and what a stopped one costs
//! (`inventory`), the run history (`runs`), whether recycling pays
//! (`advice`), what was really spent (`spend`), what a refresh records
//! (`refresh_only`) and the status table (`status`). Pure, like `plan`:
//! the commands read the registry, state files, provider and run
//! directories, and pass the facts in; renderers word the results.

pub mod advice;
pub mod inventory;
pub mod refresh_only;
pub mod runs;
pub mod spend;
pub mod status;

pub use crate::plan::cleanup::days_since;
