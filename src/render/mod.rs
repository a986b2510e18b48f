//! Renderers print a plan; they never compute one. Text (Terraform-like, for
//! people) and JSON (for tools) come from the same [`crate::plan::Plan`], and
//! word its typed reasons, warnings and notes with the same sentences
//! ([`words`]).

pub mod json;
pub mod text;
pub mod words;

use console::Style;

/// `45s`, `3m05s`, `6h03m`.
pub fn duration(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60),
    }
}

/// Like [`duration`], with tenths of a second under ten seconds.
pub fn elapsed(d: std::time::Duration) -> String {
    if d.as_secs() < 10 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        duration(d.as_secs())
    }
}

/// Styles for one output stream; all plain when colour is off.
#[derive(Debug, Clone)]
pub struct Palette {
    pub add: Style,
    pub remove: Style,
    pub change: Style,
    pub bold: Style,
    pub dim: Style,
    pub warn: Style,
    pub emphasis: Style,
}

impl Palette {
    pub fn new(colour: bool) -> Palette {
        let style = |s: Style| s.force_styling(colour);
        Palette {
            add: style(Style::new().green()),
            remove: style(Style::new().red()),
            change: style(Style::new().yellow()),
            bold: style(Style::new().bold()),
            dim: style(Style::new().dim()),
            warn: style(Style::new().yellow().bold()),
            emphasis: style(Style::new().underlined()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn durations() {
        assert_eq!(duration(45), "45s");
        assert_eq!(duration(185), "3m05s");
        assert_eq!(duration(21818), "6h03m");
    }
}
