//! The job on the pod: `remote_env`, `setup`, `preflight`, `staging`,
//! `secrets`, `run` and `artifacts`, rendered with every variable.

use crate::config::shown;
use std::path::Path;

use super::Checker;
use super::paths::resolve_local;
use crate::config::raw::{RawArtifact, RawCommand, RawConfig, RawPush, RawRun, RawSecret};
use crate::config::template::{self, Variables};
use crate::config::{Artifact, Command, Job, Push, RemoteEnv, Run, Secret, SecretSource};

pub const DEFAULT_FAILURE_MARKERS: [&str; 5] = [
    "Traceback",
    "OutOfMemoryError",
    "CUDA out of memory",
    "No space left on device",
    "Killed",
];

const DEFAULT_STAGING_EXCLUDES: [&str; 7] = [
    ".git/",
    ".venv/",
    ".pytest_cache/",
    ".ruff_cache/",
    ".mypy_cache/",
    "**/__pycache__/",
    "**/*.pyc",
];

impl Checker<'_> {
    pub(super) fn job(&mut self, raw: &RawConfig, vars: &Variables, project_root: &Path) -> Job {
        let remote_env = self.remote_env(raw, vars);
        let setup = self.each("setup", &raw.setup, |c, p, cmd| c.command(p, cmd, vars));
        let preflight = self.each("preflight", &raw.preflight, |c, p, cmd| {
            c.command(p, cmd, vars)
        });
        let staging = self.each("staging", &raw.staging, |c, p, s| {
            c.push(p, s, vars, project_root)
        });
        let secrets = self.each("secrets", &raw.secrets, |c, p, s| {
            c.secret(p, s, vars, project_root)
        });
        let run = self.run(&raw.run, vars);
        let artifacts = self.each("artifacts", &raw.artifacts, |c, p, a| {
            c.artifact(p, a, vars, project_root)
        });
        Job {
            remote_env,
            setup,
            preflight,
            staging,
            secrets,
            run,
            artifacts,
        }
    }

    fn remote_env(&mut self, raw: &RawConfig, vars: &Variables) -> RemoteEnv {
        RemoteEnv {
            source_files: self.render_all(
                "remote_env.source_files",
                &raw.remote_env.source_files,
                vars,
            ),
            exports: raw
                .remote_env
                .exports
                .iter()
                .map(|(k, v)| {
                    if !template::is_identifier(k) {
                        self.error_at_key(
                            &format!("remote_env.exports.{k}"),
                            format!("export name {} is not a shell identifier", shown(k)),
                        );
                    }
                    (
                        k.clone(),
                        self.render(&format!("remote_env.exports.{k}"), v, vars),
                    )
                })
                .collect(),
        }
    }

    /// `check` on each item of the list `block`, with the item's path
    /// (`setup[0]`); no list, no items.
    fn each<T, U>(
        &mut self,
        block: &str,
        items: &Option<Vec<T>>,
        mut check: impl FnMut(&mut Self, &str, &T) -> U,
    ) -> Vec<U> {
        items
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, item)| check(self, &format!("{block}[{i}]"), item))
            .collect()
    }

    /// One `setup` or `preflight` item; `p` is its path, `setup[i]`.
    fn command(&mut self, p: &str, c: &RawCommand, vars: &Variables) -> Command {
        self.non_empty(&format!("{p}.command"), &c.command);
        Command {
            command: self.render(&format!("{p}.command"), &c.command, vars),
            timeout_sec: self.positive(&format!("{p}.timeout_sec"), c.timeout_sec, 600),
            with_env: c.with_env,
        }
    }

    /// One `staging` item; `p` is its path, `staging[i]`.
    fn push(&mut self, p: &str, s: &RawPush, vars: &Variables, project_root: &Path) -> Push {
        self.non_empty(&format!("{p}.label"), &s.label);
        self.non_empty(&format!("{p}.source"), &s.source);
        self.non_empty(&format!("{p}.destination"), &s.destination);
        let mut excludes: Vec<String> = Vec::new();
        if s.excludes_default {
            excludes.extend(DEFAULT_STAGING_EXCLUDES.iter().map(|e| e.to_string()));
        }
        excludes.extend(self.render_all(&format!("{p}.excludes"), &s.excludes, vars));
        excludes.extend(self.render_all(&format!("{p}.excludes_extra"), &s.excludes_extra, vars));
        let source = self.render(&format!("{p}.source"), &s.source, vars);
        let trailing = source.ends_with('/');
        let resolved = resolve_local(&source, project_root);
        self.utf8_paths(&[(&format!("{p}.source"), &resolved)]);
        let mut source = resolved.display().to_string();
        if trailing && !source.ends_with('/') {
            source.push('/');
        }
        let before = self.problems.len();
        let destination = self.render(&format!("{p}.destination"), &s.destination, vars);
        if self.problems.len() == before {
            self.absolute_destination(p, &destination);
        }
        Push {
            label: s.label.clone(),
            source,
            destination,
            excludes,
            delete: s.delete,
        }
    }

    /// A staging destination is a path on the pod, and an absolute one:
    /// runpod-deploy handed a relative one to rsync, which puts it under the
    /// login's home on the pod (`p/` is `/root/p/` there), and the
    /// simulator used to copy it into the working directory here. rpd
    /// refuses it rather than guess which was meant.
    fn absolute_destination(&mut self, p: &str, destination: &str) {
        if destination.is_empty() || destination.starts_with('/') {
            return;
        }
        let key = format!("{p}.destination");
        let home = destination.trim_start_matches("./");
        self.error(
            &key,
            format!(
                "`{key}` must be an absolute path on the pod, got {}",
                shown(destination)
            ),
        )
        .help = Some(format!(
            "a relative destination is relative to the pod's home directory (runpod-deploy copied it to /root/{home}), not to this machine's: write that out, destination: /root/{home}, or use the volume, destination: {{volume_mount}}/{home}"
        ));
    }

    /// One `secrets` item; `p` is its path, `secrets[i]`.
    fn secret(&mut self, p: &str, s: &RawSecret, vars: &Variables, project_root: &Path) -> Secret {
        self.non_empty(&format!("{p}.name"), &s.name);
        self.remote_path(&format!("{p}.destination"), &s.destination);
        let source = self.secret_source(p, s, vars, project_root);
        let mode_text = s.mode.clone().unwrap_or_else(|| "0600".into());
        let mode = if is_octal_mode(&mode_text) {
            u32::from_str_radix(&mode_text, 8).unwrap_or(0o600)
        } else {
            self.error(
                &format!("{p}.mode"),
                format!(
                    "`{p}.mode` must be a 3- or 4-digit octal string like \"0600\", got {}",
                    shown(&mode_text)
                ),
            )
            .help = Some("quote it: mode: \"0600\"".into());
            0o600
        };
        Secret {
            name: s.name.clone(),
            destination: self.render(&format!("{p}.destination"), &s.destination, vars),
            source,
            mode,
        }
    }

    fn secret_source(
        &mut self,
        p: &str,
        s: &RawSecret,
        vars: &Variables,
        project_root: &Path,
    ) -> SecretSource {
        match (s.env.is_empty(), &s.file) {
            (false, None) => {
                for (j, var) in s.env.iter().enumerate() {
                    if !template::is_identifier(var) {
                        self.error(
                            &format!("{p}.env[{j}]"),
                            format!("{} is not an environment variable name", shown(var)),
                        );
                    }
                }
                SecretSource::Env(s.env.clone())
            }
            (true, Some(file)) => {
                let rendered = self.render(&format!("{p}.file"), file, vars);
                let resolved = resolve_local(&rendered, project_root);
                self.utf8_paths(&[(&format!("{p}.file"), &resolved)]);
                SecretSource::File(resolved)
            }
            _ => {
                self.error(
                    p,
                    format!(
                        "secret {:?} must set exactly one of `env` or `file`",
                        s.name
                    ),
                )
                .help = Some(
                    "`env: [HF_TOKEN]` writes KEY=value lines; `file: ~/.netrc` copies a file"
                        .into(),
                );
                SecretSource::Env(Vec::new())
            }
        }
    }

    fn run(&mut self, r: &RawRun, vars: &Variables) -> Run {
        self.remote_path("run.script_path", &r.script_path);
        self.remote_path("run.log_path", &r.log_path);
        if r.success_marker.is_empty() {
            self.error(
                "run.success_marker",
                "`run.success_marker` must not be empty",
            );
        }
        if r.body.trim().is_empty() {
            self.error("run.body", "`run.body` must not be empty");
        }
        let failure_markers = match &r.failure_markers {
            Some(markers) => self.render_all("run.failure_markers", markers, vars),
            None => DEFAULT_FAILURE_MARKERS
                .iter()
                .map(|m| m.to_string())
                .collect(),
        };
        Run {
            script_path: self.render("run.script_path", &r.script_path, vars),
            log_path: self.render("run.log_path", &r.log_path, vars),
            success_marker: self.render("run.success_marker", &r.success_marker, vars),
            failure_markers,
            body: self.render("run.body", &r.body, vars),
        }
    }

    /// One `artifacts` item; `p` is its path, `artifacts[i]`.
    fn artifact(
        &mut self,
        p: &str,
        a: &RawArtifact,
        vars: &Variables,
        project_root: &Path,
    ) -> Artifact {
        self.non_empty(&format!("{p}.label"), &a.label);
        self.non_empty(&format!("{p}.remote_path"), &a.remote_path);
        self.non_empty(&format!("{p}.local_path"), &a.local_path);
        let local = self.render(&format!("{p}.local_path"), &a.local_path, vars);
        let local_path = resolve_local(&local, project_root);
        self.utf8_paths(&[(&format!("{p}.local_path"), &local_path)]);
        Artifact {
            label: a.label.clone(),
            remote_path: self.render(&format!("{p}.remote_path"), &a.remote_path, vars),
            local_path,
            required: a.required,
            excludes: self.render_all(&format!("{p}.excludes"), &a.excludes, vars),
            delete: a.delete,
        }
    }
}

fn is_octal_mode(mode: &str) -> bool {
    let digits = mode
        .strip_prefix('0')
        .filter(|d| d.len() == 3)
        .unwrap_or(mode);
    digits.len() == 3 && digits.chars().all(|c| ('0'..='7').contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_modes() {
        assert!(is_octal_mode("0600"));
        assert!(is_octal_mode("600"));
        assert!(is_octal_mode("0644"));
        assert!(!is_octal_mode("0800"));
        assert!(!is_octal_mode("00600"));
        assert!(!is_octal_mode("rw"));
    }
}
