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
            bar.set_style(spinner_style());
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

/// The spinner line: the elapsed time first, then the detail (a status,
/// the log's last line) cut to the terminal's width, so that a narrow
/// terminal never wraps it (a wrapped line is redrawn as garbage).
fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("  {spinner} [{elapsed}] {wide_msg}").expect("valid template")
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use indicatif::{ProgressBar, ProgressDrawTarget, TermLike};

    /// A terminal of a given width that keeps what is written to it.
    #[derive(Debug, Clone)]
    struct Narrow {
        width: u16,
        written: Arc<Mutex<Vec<String>>>,
    }

    impl TermLike for Narrow {
        fn width(&self) -> u16 {
            self.width
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(s)
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.written.lock().unwrap().push(s.to_string());
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_spinner_line_fits_a_narrow_terminal() {
        for width in [30u16, 80] {
            let term = Narrow {
                width,
                written: Arc::default(),
            };
            let bar = ProgressBar::with_draw_target(
                None,
                ProgressDrawTarget::term_like(Box::new(term.clone())),
            );
            bar.set_style(super::spinner_style());
            bar.set_message(
                "3m12s so far | epoch 7/40 loss 0.1234 lr 3e-4 step 12000/90000 (a long log line)",
            );
            bar.tick();
            let written = term.written.lock().unwrap().join("\n");
            assert!(written.contains("3m12s so far"), "{written:?}");
            for line in written.lines() {
                let columns = console::measure_text_width(line);
                assert!(
                    columns <= width as usize,
                    "{columns} columns on a {width}-column terminal: {line:?}"
                );
            }
        }
    }
}
