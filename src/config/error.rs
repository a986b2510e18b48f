//! Config errors that name the file, line and column, show the offending line,
//! and say how to fix it.

use std::fmt;
use std::path::PathBuf;

use super::locate::Pos;

#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub pos: Option<Pos>,
    pub message: String,
    pub help: Option<String>,
}

impl Problem {
    pub fn new(pos: Option<Pos>, message: impl Into<String>) -> Problem {
        Problem {
            pos,
            message: message.into(),
            help: None,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Problem {
        self.help = Some(help.into());
        self
    }
}

/// One or more problems in one config file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub source: Option<String>,
    pub problems: Vec<Problem>,
}

impl ConfigError {
    pub fn single(file: PathBuf, source: Option<String>, problem: Problem) -> ConfigError {
        ConfigError {
            file,
            source,
            problems: vec![problem],
        }
    }

    fn snippet(&self, pos: Pos) -> Option<String> {
        let line = self
            .source
            .as_deref()?
            .lines()
            .nth(pos.line.checked_sub(1)?)?;
        let number = pos.line.to_string();
        let pad = " ".repeat(number.len());
        let (shown, caret) = window(line, pos.col.saturating_sub(1));
        let caret_pad: String = shown
            .chars()
            .take(caret)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        Some(format!("{pad} |\n{number} | {shown}\n{pad} | {caret_pad}^"))
    }
}

/// At most [`SNIPPET_WIDTH`] characters of `line` around the character at
/// `col` (0-based), with `…` where it was cut, and control characters shown
/// as `�` (a config must not drive the terminal); and where `col` is now.
fn window(line: &str, col: usize) -> (String, usize) {
    let chars: Vec<char> = line
        .chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect();
    if chars.len() <= SNIPPET_WIDTH {
        return (chars.into_iter().collect(), col);
    }
    let col = col.min(chars.len());
    let start = col
        .saturating_sub(SNIPPET_WIDTH / 2)
        .min(chars.len() - SNIPPET_WIDTH);
    let end = start + SNIPPET_WIDTH;
    let mut shown = String::new();
    if start > 0 {
        shown.push('…');
    }
    shown.extend(&chars[start..end]);
    if end < chars.len() {
        shown.push('…');
    }
    (shown, col - start + usize::from(start > 0))
}

/// How much of a long line an error shows.
const SNIPPET_WIDTH: usize = 100;

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
                writeln!(f)?;
            }
            write!(f, "{}", problem.message)?;
            match problem.pos {
                Some(pos) => {
                    write!(
                        f,
                        "\n  --> {}:{}:{}",
                        self.file.display(),
                        pos.line,
                        pos.col
                    )?;
                    if let Some(snippet) = self.snippet(pos) {
                        for line in snippet.lines() {
                            write!(f, "\n   {line}")?;
                        }
                    }
                }
                None => write!(f, "\n  --> {}", self.file.display())?,
            }
            if let Some(help) = &problem.help {
                for (n, line) in help.lines().enumerate() {
                    let lead = if n == 0 { "= help: " } else { "        " };
                    write!(f, "\n   {lead}{line}")?;
                }
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}
