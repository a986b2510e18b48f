//! rpd: Terraform-style plan/apply for RunPod GPU pods.
//!
//! Layers point down (ARCHITECTURE.md has the map):
//! `main` -> `cli` (clap, resolved once into `commands::settings`) ->
//! `commands` -> `config`, `state`, `provider` (the refresh) -> `plan` (pure)
//! -> `render`; `commands` -> `apply` -> `provider`, `remote`, `state`; all of
//! them -> `model`. `plan` never imports `provider`, `apply` or `remote`;
//! `remote` never imports `provider`, `render`, `progress` or `cost` (what it
//! needs is passed in); `commands` never imports `cli`; `model` imports
//! nothing of rpd. `retry` (how every failed call is repeated and every
//! change is polled) is beside `model`: generic, it imports nothing of rpd,
//! so any layer may use it; so are `input` (bounded reads of the files a
//! user hands rpd) and `env` (the environment variables rpd reads).

// Output that never panics: a closed pipe (`rpd plan | head`) must not stop
// an apply half way with a pod running. Write errors are ignored.

/// `println!` to stdout, ignoring write errors.
#[macro_export]
macro_rules! say {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout());
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `print!` to stdout, ignoring write errors.
#[macro_export]
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprintln!` to stderr, ignoring write errors.
#[macro_export]
macro_rules! note {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr());
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod apply;
pub mod cli;
pub mod commands;
pub mod config;
pub mod cost;
pub mod env;
pub mod exit;
pub mod fault;
pub mod hygiene;
pub mod input;
pub mod interrupt;
pub mod known;
pub mod model;
pub mod plan;
pub mod pod_name;
pub mod progress;
pub mod provider;
pub mod registry;
pub mod remote;
pub mod render;
pub mod retry;
pub mod state;
pub mod telemetry;
