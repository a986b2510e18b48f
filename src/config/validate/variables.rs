//! Template variables, in runpod-deploy's two passes: first the built-ins,
//! `variables:` and the --var overrides, with the raw `name` as `{job_name}`;
//! then `name` and `run_id_prefix` rendered with every variable.

use crate::config::shown;
use indexmap::IndexMap;

use super::Checker;
use super::paths::Locations;
use crate::config::Problem;
use crate::config::raw::RawConfig;
use crate::config::template::{self, Variables};

/// `name` and the run id, rendered in the second pass.
pub(super) struct Names {
    pub name: String,
    pub run_id_prefix: String,
    /// `<run_id_prefix>-<stamp>`.
    pub run_id: String,
}

/// The variables every config has, as the first pass sees them.
pub(super) fn builtins(raw: &RawConfig, locations: &Locations, mount: &str) -> Variables {
    let mut vars = Variables::new();
    vars.insert(
        "config_dir".into(),
        locations.config_dir.display().to_string(),
    );
    vars.insert(
        "project_root".into(),
        locations.project_root.display().to_string(),
    );
    vars.insert("run_dir".into(), locations.run_dir.display().to_string());
    vars.insert(
        "run_id".into(),
        format!("{}-{}", raw_run_id_prefix(raw), locations.stamp),
    );
    vars.insert("job_name".into(), raw.name.clone());
    vars.insert("volume_mount".into(), mount.to_string());
    vars
}

/// `name` rendered ahead of the first pass, quietly, for the run
/// directory's name (`{run_dir}` is itself a variable of that pass): with
/// the built-ins, `variables:` and the overrides that render without
/// `{run_dir}`. `None` when the name cannot be rendered that way.
pub(super) fn name_ahead(
    raw: &RawConfig,
    locations: &Locations,
    mount: &str,
    overrides: &Variables,
) -> Option<String> {
    let mut vars = builtins(raw, locations, mount);
    vars.shift_remove("run_dir");
    // Within the same budget as the checked pass (variables that double
    // variables would grow without one).
    let mut budget = super::MAX_RENDERED_BYTES;
    let mut render = |text: &str, vars: &Variables| {
        let rendered = template::render(text, vars, budget).ok()?;
        budget -= rendered.len();
        Some(rendered)
    };
    for (key, value) in &raw.variables {
        if let Some(rendered) = render(value, &vars) {
            vars.insert(key.clone(), rendered);
        }
    }
    for (key, value) in overrides {
        let rendered = render(value, &vars).unwrap_or_else(|| value.clone());
        vars.insert(key.clone(), rendered);
    }
    render(&raw.name, &vars)
}

/// `run_id_prefix` as written, else `name` as written.
fn raw_run_id_prefix(raw: &RawConfig) -> &str {
    raw.run_id_prefix.as_deref().unwrap_or(&raw.name)
}

impl Checker<'_> {
    /// `variables:`, in file order: each sees the built-ins and the ones
    /// before it, as in runpod-deploy. A reference that cannot resolve says
    /// why: the variable is defined below, is itself, or comes only from
    /// --var (rendered after `variables:`).
    pub(super) fn variables(
        &mut self,
        raw: &IndexMap<String, String>,
        overrides: &Variables,
        vars: &mut Variables,
    ) {
        for (key, value) in raw {
            if !template::is_identifier(key) {
                self.error_at_key(
                    &format!("variables.{key}"),
                    format!("variable name {} is not an identifier", shown(key)),
                )
                .help = Some("use letters, digits and _, not starting with a digit".into());
                continue;
            }
            let path = format!("variables.{key}");
            let rendered = match self.expand(&path, value, vars) {
                Ok(rendered) => rendered,
                Err(unknown) => {
                    let name = unknown.name.clone();
                    let below = self.index.key(&format!("variables.{name}"));
                    let problem = self.unknown_variable(&path, &unknown, vars);
                    if name == *key {
                        problem.message = format!("`{path}` uses itself (`{{{name}}}`)");
                        problem.help = Some(format!(
                            "a variable cannot refer to itself; write `{key}`'s value out"
                        ));
                    } else if raw.contains_key(&name) {
                        problem.message = format!(
                            "`{path}` uses `{{{name}}}`, which is defined below it{}",
                            below
                                .map(|p| format!(" (line {})", p.line))
                                .unwrap_or_default()
                        );
                        problem.help = Some(format!(
                            "a variable sees only the built-ins and the variables above it: move `{name}` above `{key}`"
                        ));
                    } else if overrides.contains_key(&name) {
                        problem.message = format!(
                            "`{path}` uses `{{{name}}}`, which only --var or --vars-file sets"
                        );
                        problem.help = Some(format!(
                            "`variables:` are rendered before --var and --vars-file values: use `{{{name}}}` in the field that needs it (fields see every variable), or pass --var {key}=VALUE as a whole"
                        ));
                    }
                    value.clone()
                }
            };
            vars.insert(key.clone(), rendered);
        }
        self.overridden_dependencies(raw, overrides, vars);
    }

    /// A file variable that used a variable which --var then replaces keeps
    /// the file's value (runpod-deploy's order): worth a warning, since the
    /// usual intent is the opposite.
    fn overridden_dependencies(
        &mut self,
        raw: &IndexMap<String, String>,
        overrides: &Variables,
        vars: &Variables,
    ) {
        for (key, value) in raw {
            if overrides.contains_key(key) {
                continue;
            }
            for used in template::placeholders(value) {
                if overrides.contains_key(used) && vars.contains_key(used) {
                    self.warnings.push(format!(
                        "variables.{key} uses {{{used}}}, which --var or --vars-file replaces; `{key}` keeps the value rendered with the file's `{used}` ({}): use {{{used}}} directly where the new value is needed, or pass --var {key}=... too",
                        shown(vars.get(key).map(String::as_str).unwrap_or_default())
                    ));
                }
            }
        }
    }

    /// `--vars-file` and `--var` values, in that order; not in the file, so
    /// not located. Each sees the built-ins, `variables:` and the ones before.
    pub(super) fn overrides(&mut self, overrides: &Variables, vars: &mut Variables) {
        for (i, (key, value)) in overrides.iter().enumerate() {
            let rendered = match self.expand(&format!("--var {key}"), value, vars) {
                Ok(r) => r,
                Err(unknown) => {
                    let name = &unknown.name;
                    let later = overrides.keys().skip(i + 1).any(|k| k == name);
                    let mut problem = Problem::new(
                        None,
                        format!(
                            "unknown template variable `{{{name}}}` in the value of --var {key}"
                        ),
                    );
                    if name == key {
                        problem.message = format!("the value of --var {key} uses itself");
                    } else if later {
                        problem.message = format!(
                            "the value of --var {key} uses `{{{name}}}`, which a later --var sets"
                        );
                        problem = problem.help(format!(
                            "a --var value sees the built-ins, `variables:` and the --var values before it (--vars-file first): pass --var {name}=... before --var {key}=..."
                        ));
                    }
                    self.problems.push(problem);
                    value.clone()
                }
            };
            vars.insert(key.clone(), rendered);
        }
    }

    /// The second pass: `name` and `run_id_prefix` see every variable, and
    /// `{job_name}` and `{run_id}` become the rendered ones.
    pub(super) fn names(&mut self, raw: &RawConfig, stamp: &str, vars: &mut Variables) -> Names {
        let name = self.render("name", &raw.name, vars);
        let run_id_prefix = self.render(
            if raw.run_id_prefix.is_some() {
                "run_id_prefix"
            } else {
                "name"
            },
            raw_run_id_prefix(raw),
            vars,
        );
        let run_id = format!("{run_id_prefix}-{stamp}");
        vars.insert("job_name".into(), name.clone());
        vars.insert("run_id".into(), run_id.clone());
        Names {
            name,
            run_id_prefix,
            run_id,
        }
    }
}
