//! Renderers print a plan; they never compute one. Text (Terraform-like, for
//! people), JSON (for tools) and Markdown (for pull-request comments) come
//! from the same [`crate::plan::Plan`], and word its typed reasons, warnings,
//! notes and steps with the same sentences ([`words`]).

pub mod chart;
pub mod json;
pub mod markdown;
pub mod run;
pub mod svg;
pub mod tables;
pub mod text;
pub mod words;

use console::Style;

/// Durations as people read them live in the model (the job words its
/// failures with them too); renderers use them from here.
pub use crate::model::{duration, elapsed};

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
