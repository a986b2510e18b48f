//! Progress on stderr, Terraform style: `pod "x": Creating...`, then
//! `Still creating... [10s elapsed]` every 10 s, then
//! `Creation complete after 42s [id=...]`. On a terminal a spinner shows the
//! elapsed time instead of repeated lines.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::render::{duration, elapsed};

const HEARTBEAT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Reporter {
    prefix: String,
    spinners: bool,
    /// The spinner on screen, if any: lines are printed above it.
    active: Arc<Mutex<Option<ProgressBar>>>,
}

impl Reporter {
    pub fn new(prefix: impl Into<String>, spinners: bool) -> Reporter {
        Reporter {
            prefix: prefix.into(),
            spinners,
            active: Arc::new(Mutex::new(None)),
        }
    }

    pub fn line(&self, message: impl AsRef<str>) {
        let text = format!("{}: {}", self.prefix, message.as_ref());
        let active = self.active.lock().map(|a| a.clone()).unwrap_or(None);
        match active {
            Some(bar) => bar.suspend(|| crate::note!("{text}")),
            None => crate::note!("{text}"),
        }
    }

    fn clear_spinner(&self, bar: &ProgressBar) {
        bar.finish_and_clear();
        if let Ok(mut active) = self.active.lock()
            && active.as_ref().is_some_and(|a| a.is_finished())
        {
            *active = None;
        }
    }

    /// Starts a wait: prints `<what>...` and returns a handle to report on it.
    pub fn wait(&self, what: &str) -> Waiter {
        self.line(format!("{what}..."));
        let spinner = self.spinners.then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("  {spinner} {msg} [{elapsed}]")
                    .expect("valid template"),
            );
            bar.set_message("waiting");
            bar.enable_steady_tick(Duration::from_millis(120));
            if let Ok(mut active) = self.active.lock() {
                *active = Some(bar.clone());
            }
            bar
        });
        Waiter {
            reporter: self.clone(),
            what: what.to_string(),
            started: Instant::now(),
            last_heartbeat: Instant::now(),
            spinner,
        }
    }
}

pub struct Waiter {
    reporter: Reporter,
    what: String,
    started: Instant,
    last_heartbeat: Instant,
    spinner: Option<ProgressBar>,
}

impl Waiter {
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Call while waiting; shows `detail` (a status, the log's last line).
    pub fn tick(&mut self, detail: &str) {
        if let Some(bar) = &self.spinner {
            bar.set_message(detail.to_string());
            return;
        }
        if self.last_heartbeat.elapsed() >= HEARTBEAT {
            self.last_heartbeat = Instant::now();
            let lower = lowercase_first(&self.what);
            let detail = if detail.is_empty() {
                String::new()
            } else {
                format!(" {detail}")
            };
            self.reporter.line(format!(
                "Still {lower}... [{} elapsed]{detail}",
                duration(self.started.elapsed().as_secs())
            ));
        }
    }

    /// Ends the wait with `<message> after <elapsed><suffix>`.
    pub fn done(self, message: &str, suffix: &str) -> Duration {
        let took = self.started.elapsed();
        if let Some(bar) = &self.spinner {
            self.reporter.clear_spinner(bar);
        }
        self.reporter
            .line(format!("{message} after {}{suffix}", elapsed(took)));
        took
    }

    /// Ends the wait without a line (the caller reports the failure).
    pub fn abandon(self) -> Duration {
        if let Some(bar) = &self.spinner {
            self.reporter.clear_spinner(bar);
        }
        self.started.elapsed()
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl Drop for Waiter {
    /// A wait left on an error path does not leave its spinner running.
    fn drop(&mut self) {
        if let Some(bar) = &self.spinner
            && !bar.is_finished()
        {
            self.reporter.clear_spinner(bar);
        }
    }
}
