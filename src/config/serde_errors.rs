//! Turns serde's messages ("unknown field `imag`, expected one of ...") into
//! problems that say what is wrong in the user's words and how to fix it,
//! with a "did you mean" for misspelt keys, located in the file.

use super::error::Problem;
use super::locate::{Duplicate, KeyIndex, MAX_DEPTH, MAX_KEY_LEN, MAX_NODES, Pos, Refusal};
use super::suggest;

const LEGACY_STOP_HELP: &str = "runpod-deploy 0.8.3 removed the `stop:` block; use the `lifecycle` block:\n\
lifecycle:\n  on_success: delete   # or recycle, stop, preserve\n  on_failure: stop     # or delete, preserve";

const LIFECYCLE_BOOL_HELP: &str = "lifecycle values are actions since runpod-deploy 0.8.2:\n\
on_success: true -> delete, false -> preserve; on_failure: true -> stop, false -> preserve";

/// A YAML syntax error (the text does not parse at all).
pub fn problem_from_syntax(err: &serde_yaml::Error) -> Problem {
    let pos = err.location().map(|loc| Pos {
        line: loc.line(),
        col: loc.column(),
    });
    let message = strip_location(&err.to_string()).to_string();
    if message.contains("more than one document") {
        return Problem::new(None, "the config holds more than one YAML document (`---`)")
            .help("rpd reads one job per file; split the documents into separate files");
    }
    if let Some(problem) = number_out_of_range(&message, pos) {
        return problem;
    }
    if let Some((_, key)) = message.split_once("duplicate entry with key ") {
        return Problem::new(pos, format!("the key {key} is set twice in one mapping"))
            .help("remove one of the two entries");
    }
    Problem::new(pos, format!("invalid YAML: {message}"))
        .help("fix the YAML syntax at the position shown (indentation, a missing `:` or quote)")
}

/// serde_yaml holds integers in 64 bits, and reports a larger one as
/// "pod.gpu_count: invalid type: integer `99999999999999999999` as u128".
fn number_out_of_range(message: &str, pos: Option<Pos>) -> Option<Problem> {
    let number = between(message, "integer `", "` as ")?;
    let path = message
        .split_once(": invalid type: integer")
        .map(|(path, _)| path)
        .filter(|path| !path.is_empty() && !path.contains(' '));
    let subject = path.map_or("a number".to_string(), |p| format!("`{p}`"));
    let size = if number.starts_with('-') {
        "too small"
    } else {
        "too large"
    };
    Some(
        Problem::new(pos, format!("{subject} is {size}: {number}")).help(format!(
            "counts, sizes and timeouts are whole numbers from 1 to {}",
            u32::MAX
        )),
    )
}

/// A key set twice in one mapping, at the second one.
pub fn problem_from_duplicate(duplicate: &Duplicate) -> Problem {
    Problem::new(
        Some(duplicate.again),
        format!(
            "`{}` is set twice: first on line {}, again here",
            duplicate.path, duplicate.first.line
        ),
    )
    .help("remove one of the two; rpd does not guess which one you meant")
}

/// A limit found while indexing, before serde_yaml builds anything.
pub fn problem_from_refusal(refusal: &Refusal) -> Problem {
    match refusal {
        Refusal::TooDeep { pos } => Problem::new(
            Some(*pos),
            format!("the config nests lists and mappings more than {MAX_DEPTH} levels deep"),
        )
        .help("rpd's configs nest at most 4 levels (staging -> an item -> excludes -> a pattern): is this the right file?"),
        Refusal::LongKey { pos } => Problem::new(
            Some(*pos),
            format!("a key longer than {MAX_KEY_LEN} characters"),
        )
        .help("rpd's keys are short words (see examples/hello.yaml): is this the right file?"),
        Refusal::TooManyValues {
            pos,
            alias: Some(alias),
        } => Problem::new(
            Some(*pos),
            format!("the alias `{alias}` expands the config past {MAX_NODES} values"),
        )
        .help("each use of an alias copies its anchor's values, and anchors that repeat aliases multiply (a \"billion laughs\" config); write the values out, or repeat the alias less"),
        Refusal::TooManyValues { pos, alias: None } => Problem::new(
            Some(*pos),
            format!("the config holds more than {MAX_NODES} values"),
        )
        .help("a config holds a few hundred: is this the right file?"),
    }
}

/// A well-formed YAML document that does not fit the schema at `path`
/// (serde_path_to_error's form: `pod.gpu_order[1]`, `.` for the root).
pub fn problem_from_serde(path: &str, detail: &str, index: &KeyIndex) -> Problem {
    let path = if path == "." { "" } else { path };
    let pos = index.value(path);
    if let Some(field) = between(detail, "unknown field `", "`") {
        return unknown_key(parent_of(path, field), field, detail, index);
    }
    if let Some(field) = between(detail, "missing field `", "`") {
        // Point at the block's key (or the top of the file).
        let pos = if path.is_empty() {
            Some(Pos { line: 1, col: 1 })
        } else {
            index.key(path)
        };
        let block = if path.is_empty() {
            "the config".to_string()
        } else {
            format!("`{path}`")
        };
        let what = if path.is_empty() && ["pod", "storage", "run"].contains(&field) {
            "block"
        } else {
            "key"
        };
        return Problem::new(pos, format!("missing required {what} `{field}` in {block}")).help(
            format!("add `{field}:`; see examples/hello.yaml for a complete config"),
        );
    }
    if let Some(field) = between(detail, "duplicate field `", "`") {
        return Problem::new(pos, format!("`{}` is set twice", join(path, field)))
            .help("remove one of the two entries");
    }
    if detail.starts_with("invalid type:") || detail.starts_with("invalid value:") {
        return invalid_type(path, detail, pos);
    }
    Problem::new(pos, format!("`{path}`: {detail}"))
}

/// serde_path_to_error puts an unknown key's own name at the end of the
/// path; the block it is in is the rest.
fn parent_of<'a>(path: &'a str, field: &str) -> &'a str {
    path.strip_suffix(field)
        .map(|p| p.trim_end_matches('.'))
        .unwrap_or(path)
}

fn unknown_key(parent: &str, field: &str, detail: &str, index: &KeyIndex) -> Problem {
    let pos = index.key(&join(parent, field));
    if parent.is_empty() && field == "stop" {
        return Problem::new(pos, "the legacy `stop` block is no longer supported")
            .help(LEGACY_STOP_HELP);
    }
    let expected = backticked(detail.split_once("expected").map_or("", |(_, rest)| rest));
    let block = if parent.is_empty() {
        "at the top level".to_string()
    } else {
        format!("in `{parent}`")
    };
    let mut help = String::new();
    if let Some(near) = suggest(field, expected.iter().copied()) {
        help.push_str(&format!("did you mean `{near}`?\n"));
    }
    help.push_str(&format!("valid keys here: {}", expected.join(", ")));
    Problem::new(pos, format!("unknown key `{field}` {block}")).help(help)
}

fn invalid_type(path: &str, detail: &str, pos: Option<Pos>) -> Problem {
    let (got, expected) = detail.split_once(", expected ").unwrap_or((detail, ""));
    let got = got
        .trim_start_matches("invalid type: ")
        .trim_start_matches("invalid value: ");
    let expected = humanize_expected(expected);
    // YAML reads 1.0e400 as a string: no f64 holds it.
    if let Some(text) = got
        .strip_prefix("string \"")
        .and_then(|rest| rest.strip_suffix('"'))
        && (expected == "a number" || expected == "an integer")
        && text.parse::<f64>().is_ok_and(f64::is_infinite)
    {
        return Problem::new(pos, format!("`{path}` is too large: {text}"));
    }
    let subject = if path.is_empty() {
        "the config's top level".to_string()
    } else {
        format!("`{path}`")
    };
    let message = if expected.is_empty() {
        format!("{subject} has an invalid value: {got}")
    } else {
        format!("{subject} must be {expected}, got {got}")
    };
    let mut problem = Problem::new(pos, message);
    if path.starts_with("lifecycle.") && got.starts_with("boolean") {
        problem = problem.help(LIFECYCLE_BOOL_HELP);
    } else if expected == "a list" && got.starts_with("string") {
        problem = problem.help("write a YAML list, e.g. `[\"EU-RO-1\"]` or one `- item` per line");
    } else if expected == "a string"
        && ["integer", "floating", "boolean", "unit"]
            .iter()
            .any(|k| got.starts_with(k))
    {
        problem = problem.help("quote the value to make it a string, e.g. \"42\"");
    }
    problem
}

fn humanize_expected(expected: &str) -> String {
    let e = expected.trim();
    if e.starts_with("struct ") || e == "a map" {
        return "a mapping (key: value lines)".into();
    }
    match e {
        "i64" | "u32" | "u64" | "i32" => "an integer".into(),
        "f64" | "f32" => "a number".into(),
        "a boolean" => "a boolean (true or false)".into(),
        "a sequence" => "a list".into(),
        other => other.to_string(),
    }
}

/// Removes serde_yaml's " at line N column M" (the location is shown
/// separately), and the parser's context that follows it.
fn strip_location(message: &str) -> &str {
    match message.find(" at line ") {
        Some(i) if message[i..].contains(" column ") => &message[..i],
        _ => message,
    }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &text[text.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

fn backticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}
