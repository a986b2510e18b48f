//! Fault injection for crash tests: with `RPD_FAULT=<point>`, the process
//! aborts (no cleanup, like a kill -9) when it reaches that point. Tests use
//! it to prove that a crash mid-write never tears the state file.

pub fn point(name: &str) {
    if std::env::var_os("RPD_FAULT").is_some_and(|v| v == name) {
        crate::note!("rpd: RPD_FAULT={name}: aborting here on purpose");
        std::process::abort();
    }
}
