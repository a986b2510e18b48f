//! Where each key and value sits in the YAML text, so that errors found after
//! deserialization (a negative disk size, an unknown template variable) can
//! still name the line and column. serde_yaml keeps no spans; a second pass
//! with yaml-rust2's event parser records them by key path (`pod.gpu_order[1]`).

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Default)]
pub struct KeyIndex {
    keys: HashMap<String, Pos>,
    values: HashMap<String, Pos>,
}

impl KeyIndex {
    /// Indexes `text`; a text yaml-rust2 cannot parse gives an empty index
    /// (serde_yaml reports the syntax error itself).
    pub fn build(text: &str) -> KeyIndex {
        let mut walker = Walker::default();
        let mut parser = Parser::new_from_str(text);
        if parser.load(&mut walker, false).is_err() {
            return KeyIndex::default();
        }
        walker.index
    }

    /// Position of the key at `path`, or of its nearest located ancestor.
    pub fn key(&self, path: &str) -> Option<Pos> {
        self.lookup(path, &self.keys)
    }

    /// Position of the value at `path`, else of its key, else of an ancestor.
    pub fn value(&self, path: &str) -> Option<Pos> {
        self.values
            .get(path)
            .copied()
            .or_else(|| self.lookup(path, &self.keys))
    }

    fn lookup(&self, path: &str, primary: &HashMap<String, Pos>) -> Option<Pos> {
        let mut current = path;
        loop {
            if let Some(pos) = primary.get(current).or_else(|| self.values.get(current)) {
                return Some(*pos);
            }
            let cut = current.rfind(['.', '['])?;
            current = &current[..cut];
        }
    }
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

#[derive(Default)]
struct Walker {
    stack: Vec<Frame>,
    index: KeyIndex,
}

fn pos(mark: Marker) -> Pos {
    Pos {
        line: mark.line(),
        col: mark.col() + 1,
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl Walker {
    /// Path of the value that starts now, advancing the parent frame.
    fn value_path(&mut self) -> Option<String> {
        match self.stack.last_mut()? {
            Frame::Map { path, key } => key.take().map(|k| join(path, &k)),
            Frame::Seq { path, next } => {
                let p = format!("{path}[{next}]");
                *next += 1;
                Some(p)
            }
        }
    }

    /// True when the parent is a mapping waiting for its next key.
    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }
}

impl MarkedEventReceiver for Walker {
    fn on_event(&mut self, event: Event, mark: Marker) {
        match event {
            Event::Scalar(text, ..) if self.expecting_key() => {
                if let Some(Frame::Map { path, key }) = self.stack.last_mut() {
                    self.index.keys.insert(join(path, &text), pos(mark));
                    *key = Some(text);
                }
            }
            Event::Scalar(..) | Event::Alias(_) => {
                if let Some(path) = self.value_path() {
                    self.index.values.insert(path, pos(mark));
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                if self.expecting_key() {
                    // A complex key: not part of rpd's schema; give it a dummy
                    // name so the walk stays aligned.
                    if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                        *key = Some("?".into());
                    }
                }
                let path = self.value_path().unwrap_or_default();
                self.index.values.insert(path.clone(), pos(mark));
                self.stack
                    .push(if matches!(event, Event::MappingStart(..)) {
                        Frame::Map { path, key: None }
                    } else {
                        Frame::Seq { path, next: 0 }
                    });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str =
        "name: demo\npod:\n  image: x\n  gpu_order:\n    - A\n    - B\nsetup:\n  - command: ls\n";

    #[test]
    fn keys_and_values_are_located() {
        let index = KeyIndex::build(TEXT);
        assert_eq!(index.key("pod.image"), Some(Pos { line: 3, col: 3 }));
        assert_eq!(index.value("pod.image"), Some(Pos { line: 3, col: 10 }));
        assert_eq!(
            index.value("pod.gpu_order[1]"),
            Some(Pos { line: 6, col: 7 })
        );
        assert_eq!(index.key("setup[0].command"), Some(Pos { line: 8, col: 5 }));
    }

    #[test]
    fn unknown_paths_fall_back_to_the_nearest_ancestor() {
        let index = KeyIndex::build(TEXT);
        assert_eq!(index.key("pod.missing"), Some(Pos { line: 2, col: 1 }));
        assert_eq!(index.key("nothing"), None);
    }
}
