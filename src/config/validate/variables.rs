//! Template variables, in runpod-deploy's two passes: first the built-ins,
//! `variables:` and the --var overrides, with the raw `name` as `{job_name}`;
//! then `name` and `run_id_prefix` rendered with every variable.

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
    for (key, value) in &raw.variables {
        if let Ok(rendered) = template::render(value, &vars) {
            vars.insert(key.clone(), rendered);
        }
    }
    for (key, value) in overrides {
        let rendered = template::render(value, &vars).unwrap_or_else(|_| value.clone());
        vars.insert(key.clone(), rendered);
    }
    template::render(&raw.name, &vars).ok()
}

/// `run_id_prefix` as written, else `name` as written.
fn raw_run_id_prefix(raw: &RawConfig) -> &str {
    raw.run_id_prefix.as_deref().unwrap_or(&raw.name)
}

impl Checker<'_> {
    /// `variables:`, in file order: each sees the ones before it.
    pub(super) fn variables(&mut self, raw: &IndexMap<String, String>, vars: &mut Variables) {
        for (key, value) in raw {
            if !template::is_identifier(key) {
                self.error_at_key(
                    &format!("variables.{key}"),
                    format!("variable name {key:?} is not an identifier"),
                )
                .help = Some("use letters, digits and _, not starting with a digit".into());
                continue;
            }
            let rendered = self.render(&format!("variables.{key}"), value, vars);
            vars.insert(key.clone(), rendered);
        }
    }

    /// `--vars-file` and `--var` values; not in the file, so not located.
    pub(super) fn overrides(&mut self, overrides: &Variables, vars: &mut Variables) {
        for (key, value) in overrides {
            let rendered = match template::render(value, vars) {
                Ok(r) => r,
                Err(unknown) => {
                    self.problems.push(Problem::new(
                        None,
                        format!(
                            "unknown template variable `{{{}}}` in the value of --var {key}",
                            unknown.name
                        ),
                    ));
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
