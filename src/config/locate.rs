//! Where each key and value sits in the YAML text, so that errors found after
//! deserialization (a negative disk size, an unknown template variable) can
//! still name the line and column. serde_yaml keeps no spans; a first pass
//! with yaml-rust2's event parser records them by key path (`pod.gpu_order[1]`).
//!
//! The same pass finds what serde_yaml would report without a position, or
//! only after spending time and memory on it: a key set twice in one mapping
//! (serde_yaml points at the mapping, not at the second key), nesting deeper
//! than any config needs (its scanner is quadratic in the depth), and aliases
//! that expand past [`MAX_NODES`] values (an alias bomb). It stops at the
//! first limit crossed, so the cost of the pass is bounded too.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::Marker;

/// How deep mappings and lists may nest; rpd's schema needs 4.
pub const MAX_DEPTH: usize = 32;

/// How many values (scalars, mappings, lists) a config may hold once its
/// aliases are expanded; real configs hold a few hundred.
pub const MAX_NODES: u64 = 100_000;

/// 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// A limit the text crossed, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A mapping or list opened at `pos` nests deeper than [`MAX_DEPTH`].
    TooDeep { pos: Pos },
    /// A key longer than [`MAX_KEY_LEN`] starts at `pos`.
    LongKey { pos: Pos },
    /// The value at `pos` takes the config past [`MAX_NODES`] values; `alias`
    /// is the alias's name when an alias's expansion did it.
    TooManyValues { pos: Pos, alias: Option<String> },
}

/// The longest key, in bytes: YAML's own limit for a plain key; rpd's keys
/// are short words.
pub const MAX_KEY_LEN: usize = 1024;

/// How many bytes of key paths the index keeps; past that (a config with
/// ~100 000 values under long keys), later values are not located, so that
/// the index stays small whatever the input.
const MAX_INDEX_BYTES: usize = 16 << 20;

/// How many keys set twice are reported.
const MAX_DUPLICATES: usize = 10;

/// A key set twice in one mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// `pod.image`.
    pub path: String,
    pub first: Pos,
    pub again: Pos,
}

#[derive(Debug, Default)]
pub struct KeyIndex {
    keys: HashMap<String, Pos>,
    values: HashMap<String, Pos>,
    /// The first limit crossed; the index stops there.
    pub refusal: Option<Refusal>,
    /// Keys set twice, in file order (the first [`MAX_DUPLICATES`]).
    pub duplicates: Vec<Duplicate>,
    /// Bytes of paths held in `keys` and `values`.
    held: usize,
}

impl KeyIndex {
    /// Indexes `text`'s first document; a text yaml-rust2 cannot parse gives
    /// an empty index (serde_yaml reports the syntax error itself).
    pub fn build(text: &str) -> KeyIndex {
        let mut walker = Walker::new(text);
        let mut parser = Parser::new_from_str(text);
        loop {
            match parser.next_token() {
                Ok((Event::StreamEnd, _)) => break,
                Ok((event, mark)) => {
                    if !walker.on_event(event, mark) {
                        break;
                    }
                }
                // yaml-rust2 scans a flow collection's nesting ahead of its
                // events, and stops at 256 levels.
                Err(err) if err.info() == "recursion limit exceeded" => {
                    return KeyIndex {
                        refusal: Some(Refusal::TooDeep {
                            pos: pos(*err.marker()),
                        }),
                        ..KeyIndex::default()
                    };
                }
                Err(_) => return KeyIndex::default(),
            }
        }
        walker.index
    }

    fn locate_key(&mut self, path: String, pos: Pos) {
        if self.hold(&path) {
            self.keys.insert(path, pos);
        }
    }

    fn locate_value(&mut self, path: String, pos: Pos) {
        if self.hold(&path) {
            self.values.insert(path, pos);
        }
    }

    /// Whether `path` fits in what is left of [`MAX_INDEX_BYTES`].
    fn hold(&mut self, path: &str) -> bool {
        self.held += path.len();
        self.held <= MAX_INDEX_BYTES
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
    Map {
        path: String,
        key: Option<String>,
        /// The keys so far, where each was first set.
        seen: HashMap<String, Pos>,
    },
    Seq {
        path: String,
        next: usize,
    },
}

/// A key that is no plain scalar (a list, a mapping or an alias as a key):
/// not part of rpd's schema; named so that the walk stays aligned.
const COMPLEX_KEY: &str = "?";

struct Walker<'t> {
    text: &'t str,
    stack: Vec<Frame>,
    index: KeyIndex,
    documents: usize,
    /// Values so far, aliases expanded.
    values: u64,
    /// Per open collection: its anchor id (0: none) and `values` when it opened.
    opened: Vec<(usize, u64)>,
    /// Expanded size of each anchored value.
    anchors: HashMap<usize, u64>,
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

impl<'t> Walker<'t> {
    fn new(text: &'t str) -> Walker<'t> {
        Walker {
            text,
            stack: Vec::new(),
            index: KeyIndex::default(),
            documents: 0,
            values: 0,
            opened: Vec::new(),
            anchors: HashMap::new(),
        }
    }

    /// Path of the value that starts now, advancing the parent frame.
    fn value_path(&mut self) -> Option<String> {
        match self.stack.last_mut()? {
            Frame::Map { path, key, .. } => key.take().map(|k| join(path, &k)),
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

    /// Counts `n` more values; false (and a refusal) past [`MAX_NODES`].
    fn count(&mut self, n: u64, mark: Marker, alias: bool) -> bool {
        self.values = self.values.saturating_add(n);
        if self.values <= MAX_NODES {
            return true;
        }
        let alias = alias.then(|| self.alias_name(mark));
        self.index.refusal = Some(Refusal::TooManyValues {
            pos: pos(mark),
            alias,
        });
        false
    }

    /// The `*name` written at `mark`.
    fn alias_name(&self, mark: Marker) -> String {
        let line = self
            .text
            .lines()
            .nth(mark.line().saturating_sub(1))
            .unwrap_or("");
        let rest: String = line.chars().skip(mark.col()).collect();
        let name: String = rest
            .trim_start_matches('*')
            .chars()
            .take_while(|c| !c.is_whitespace() && !",[]{}".contains(*c))
            .take(64)
            .collect();
        format!("*{name}")
    }

    /// Takes one event; false when the walk stops (a limit, or a second
    /// document, which serde_yaml refuses).
    fn on_event(&mut self, event: Event, mark: Marker) -> bool {
        match event {
            Event::DocumentStart => {
                self.documents += 1;
                self.documents == 1
            }
            Event::Scalar(text, _, anchor, _) => {
                if self.expecting_key() {
                    if text.len() > MAX_KEY_LEN {
                        self.index.refusal = Some(Refusal::LongKey { pos: pos(mark) });
                        return false;
                    }
                    self.key(text, mark);
                } else if let Some(path) = self.value_path() {
                    self.index.locate_value(path, pos(mark));
                }
                if anchor > 0 {
                    self.anchors.insert(anchor, 1);
                }
                self.count(1, mark, false)
            }
            Event::Alias(anchor) => {
                if self.expecting_key() {
                    self.complex_key();
                } else if let Some(path) = self.value_path() {
                    self.index.locate_value(path, pos(mark));
                }
                let size = self.anchors.get(&anchor).copied().unwrap_or(1);
                self.count(size, mark, true)
            }
            Event::MappingStart(anchor, _) | Event::SequenceStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    // A block mapping starts where its first key ends: the
                    // key that holds it is the place to show.
                    let at = match self.stack.last() {
                        Some(Frame::Map {
                            key: Some(key),
                            seen,
                            ..
                        }) => seen.get(key).copied(),
                        _ => None,
                    };
                    self.index.refusal = Some(Refusal::TooDeep {
                        pos: at.unwrap_or(pos(mark)),
                    });
                    return false;
                }
                if self.expecting_key() {
                    self.complex_key();
                }
                let path = self.value_path().unwrap_or_default();
                self.index.locate_value(path.clone(), pos(mark));
                self.stack
                    .push(if matches!(event, Event::MappingStart(..)) {
                        Frame::Map {
                            path,
                            key: None,
                            seen: HashMap::new(),
                        }
                    } else {
                        Frame::Seq { path, next: 0 }
                    });
                self.opened.push((anchor, self.values));
                self.count(1, mark, false)
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                if let Some((anchor, before)) = self.opened.pop()
                    && anchor > 0
                {
                    self.anchors.insert(anchor, self.values - before);
                }
                true
            }
            _ => true,
        }
    }

    /// A plain key: located, and checked against the mapping's other keys.
    fn key(&mut self, text: String, mark: Marker) {
        let Some(Frame::Map { path, key, seen }) = self.stack.last_mut() else {
            return;
        };
        let full = join(path, &text);
        if let Some(first) = seen.get(&text) {
            if self.index.duplicates.len() < MAX_DUPLICATES {
                self.index.duplicates.push(Duplicate {
                    path: full,
                    first: *first,
                    again: pos(mark),
                });
            }
        } else {
            seen.insert(text.clone(), pos(mark));
            self.index.locate_key(full, pos(mark));
        }
        *key = Some(text);
    }

    fn complex_key(&mut self) {
        if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
            *key = Some(COMPLEX_KEY.into());
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
    fn a_key_set_twice_is_found_at_the_second_one_in_its_own_mapping() {
        let index = KeyIndex::build("a:\n  x: 1\nb:\n  x: 2\n  y: 3\n  x: 4\n\"a.x\": 5\n");
        assert_eq!(
            index.duplicates,
            [Duplicate {
                path: "b.x".into(),
                first: Pos { line: 4, col: 3 },
                again: Pos { line: 6, col: 3 },
            }]
        );
    }

    #[test]
    fn a_second_document_ends_the_index() {
        let index = KeyIndex::build("a: 1\n---\na: 2\n");
        assert!(index.duplicates.is_empty());
        assert_eq!(index.key("a"), Some(Pos { line: 1, col: 1 }));
    }

    #[test]
    fn nesting_past_the_limit_is_refused_where_it_starts() {
        let deep = format!("a: {}{}\n", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(
            KeyIndex::build(&deep).refusal,
            Some(Refusal::TooDeep {
                pos: Pos {
                    line: 1,
                    col: 4 + MAX_DEPTH - 1
                }
            })
        );
        let fits = format!(
            "a: {}{}\n",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        assert_eq!(KeyIndex::build(&fits).refusal, None);
        // yaml-rust2 scans a flow collection ahead and stops at 256 levels.
        let deeper = format!("a: {}\n", "[".repeat(300));
        assert!(matches!(
            KeyIndex::build(&deeper).refusal,
            Some(Refusal::TooDeep { .. })
        ));
    }

    #[test]
    fn values_are_counted_with_aliases_expanded() {
        let plain = format!("a: [{}]\n", vec!["x"; MAX_NODES as usize].join(","));
        assert!(matches!(
            KeyIndex::build(&plain).refusal,
            Some(Refusal::TooManyValues { alias: None, .. })
        ));
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n";
        assert_eq!(
            KeyIndex::build(bomb).refusal,
            Some(Refusal::TooManyValues {
                pos: Pos { line: 5, col: 33 },
                alias: Some("*d".into())
            })
        );
        // An alias used as a key keeps the walk aligned.
        let index = KeyIndex::build("a: &k x\n*k : 1\nb: 2\n");
        assert_eq!(index.value("b"), Some(Pos { line: 3, col: 4 }));
    }

    #[test]
    fn a_key_longer_than_yaml_allows_a_plain_key_is_refused() {
        let long = format!("? {}\n: 1\n", "k".repeat(MAX_KEY_LEN + 1));
        assert_eq!(
            KeyIndex::build(&long).refusal,
            Some(Refusal::LongKey {
                pos: Pos { line: 1, col: 3 }
            })
        );
    }

    #[test]
    fn the_index_stays_small_under_long_paths() {
        // 30 levels of 900-byte keys over 90 000 values: 2.4 GB of paths
        // if each value kept its own.
        let mut text = String::new();
        for i in 0..30 {
            text.push_str(&format!("{}{}:\n", "  ".repeat(i), "k".repeat(900)));
        }
        text.push_str(&format!(
            "{}v: [{}]\n",
            "  ".repeat(30),
            vec!["x"; 90_000].join(",")
        ));
        let index = KeyIndex::build(&text);
        assert_eq!(index.refusal, None);
        assert!(index.held > MAX_INDEX_BYTES, "the budget was reached");
        let kept: usize = index
            .keys
            .keys()
            .chain(index.values.keys())
            .map(String::len)
            .sum();
        assert!(kept <= MAX_INDEX_BYTES, "{kept}");
    }

    #[test]
    fn unknown_paths_fall_back_to_the_nearest_ancestor() {
        let index = KeyIndex::build(TEXT);
        assert_eq!(index.key("pod.missing"), Some(Pos { line: 2, col: 1 }));
        assert_eq!(index.key("nothing"), None);
    }
}
