//! Several configs of one apply: two never pull into one local folder. A
//! pull fills its destination (with `delete`, it also empties it of what
//! it did not bring), so two runs writing one folder delete or overwrite
//! each other's results, and race each other's checks. Copies of one
//! config with only `name:` changed are the usual way to get there.
//! runpod-deploy puts artifacts where `local_path` points, so rpd keeps
//! that and refuses the plans instead, naming both configs and the folder.

use super::input::LocalWrite;
use super::report::{FolderOverlap, PlanError, SharedWith};

/// One config of the apply: how it is shown, and where its run writes.
pub struct ConfigWrites {
    pub config: String,
    pub writes: Vec<LocalWrite>,
}

/// For each config of `configs` (in order), the places it shares with
/// other configs: one error per place of its own, naming every other.
pub fn shared_folders(configs: &[ConfigWrites]) -> Vec<Vec<PlanError>> {
    configs
        .iter()
        .enumerate()
        .map(|(i, ours)| {
            ours.writes
                .iter()
                .filter_map(|mine| {
                    let with: Vec<SharedWith> = configs
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .flat_map(|(_, theirs)| {
                            theirs.writes.iter().filter_map(|other| {
                                Some(SharedWith {
                                    config: theirs.config.clone(),
                                    what: other.what.clone(),
                                    path: other.path.clone(),
                                    overlap: overlap(mine, other)?,
                                })
                            })
                        })
                        .collect();
                    (!with.is_empty()).then(|| PlanError::SharedLocalFolder {
                        what: mine.what.clone(),
                        path: mine.path.clone(),
                        with,
                    })
                })
                .collect()
        })
        .collect()
}

/// How `mine` overlaps `other`, if it does: the same place, inside the
/// other's folder, or a folder that holds the other.
fn overlap(mine: &LocalWrite, other: &LocalWrite) -> Option<FolderOverlap> {
    if mine.path == other.path {
        Some(FolderOverlap::Same)
    } else if other.folder && mine.path.starts_with(&other.path) {
        Some(FolderOverlap::Inside)
    } else if mine.folder && other.path.starts_with(&mine.path) {
        Some(FolderOverlap::Holds)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::plan::LocalPlace;

    fn artifact(label: &str, path: &str, folder: bool) -> LocalWrite {
        LocalWrite {
            what: LocalPlace::Artifact {
                label: label.into(),
            },
            path: PathBuf::from(path),
            folder,
        }
    }

    fn run_dir(path: &str) -> LocalWrite {
        LocalWrite {
            what: LocalPlace::RunDirectory,
            path: PathBuf::from(path),
            folder: true,
        }
    }

    fn config(name: &str, writes: Vec<LocalWrite>) -> ConfigWrites {
        ConfigWrites {
            config: name.into(),
            writes,
        }
    }

    /// The overlaps found, as (config index, own path, how, other config).
    fn found(configs: &[ConfigWrites]) -> Vec<(usize, String, FolderOverlap, String)> {
        shared_folders(configs)
            .into_iter()
            .enumerate()
            .flat_map(|(i, errors)| {
                errors.into_iter().flat_map(move |e| match e {
                    PlanError::SharedLocalFolder { path, with, .. } => with
                        .into_iter()
                        .map(|w| (i, path.display().to_string(), w.overlap, w.config))
                        .collect::<Vec<_>>(),
                    other => panic!("{other:?}"),
                })
            })
            .collect()
    }

    #[test]
    fn one_place_shared_by_many_configs_is_one_error_naming_them_all() {
        let configs: Vec<ConfigWrites> = (0..4)
            .map(|i| config(&format!("c{i}.yaml"), vec![artifact("r", "/p/out", true)]))
            .collect();
        let errors = shared_folders(&configs);
        assert!(errors.iter().all(|e| e.len() == 1), "{errors:?}");
        assert_eq!(found(&configs).len(), 12);
    }

    #[test]
    fn one_folder_for_two_configs_is_an_error_on_each() {
        let configs = [
            config(
                "a.yaml",
                vec![run_dir("/r/a"), artifact("out", "/p/out", true)],
            ),
            config(
                "b.yaml",
                vec![run_dir("/r/b"), artifact("res", "/p/out", true)],
            ),
        ];
        assert_eq!(
            found(&configs),
            [
                (0, "/p/out".into(), FolderOverlap::Same, "b.yaml".into()),
                (1, "/p/out".into(), FolderOverlap::Same, "a.yaml".into()),
            ]
        );
    }

    #[test]
    fn a_folder_inside_another_configs_folder_or_run_directory_is_an_error() {
        let configs = [
            config("a.yaml", vec![artifact("all", "/p", true)]),
            config(
                "b.yaml",
                vec![
                    run_dir("/p/artifacts/runpod/b"),
                    artifact("one", "/p/one", true),
                ],
            ),
        ];
        assert_eq!(
            found(&configs),
            [
                (0, "/p".into(), FolderOverlap::Holds, "b.yaml".into()),
                (0, "/p".into(), FolderOverlap::Holds, "b.yaml".into()),
                (
                    1,
                    "/p/artifacts/runpod/b".into(),
                    FolderOverlap::Inside,
                    "a.yaml".into()
                ),
                (1, "/p/one".into(), FolderOverlap::Inside, "a.yaml".into()),
            ]
        );
    }

    #[test]
    fn files_clash_only_when_they_are_one_file_or_inside_a_folder() {
        let configs = [
            config("a.yaml", vec![artifact("f", "/p/f.txt", false)]),
            config("b.yaml", vec![artifact("f", "/p/f.txt", false)]),
            config("c.yaml", vec![artifact("g", "/p/g.txt", false)]),
            config("d.yaml", vec![artifact("h", "/p/f.txt.d", false)]),
        ];
        assert_eq!(
            found(&configs),
            [
                (0, "/p/f.txt".into(), FolderOverlap::Same, "b.yaml".into()),
                (1, "/p/f.txt".into(), FolderOverlap::Same, "a.yaml".into()),
            ]
        );
    }

    #[test]
    fn distinct_folders_and_one_configs_own_places_are_fine() {
        let configs = [
            config(
                "a.yaml",
                vec![
                    run_dir("/r/a"),
                    artifact("x", "/r/a/x", true),
                    artifact("y", "/r/a/x", true),
                ],
            ),
            config(
                "b.yaml",
                vec![run_dir("/r/b"), artifact("x", "/r/b/x", true)],
            ),
            config("c.yaml", vec![artifact("x", "/p/outputs", true)]),
            config("d.yaml", vec![artifact("x", "/p/out", true)]),
        ];
        assert_eq!(found(&configs), []);
    }
}
