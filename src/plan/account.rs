//! One account at a time: RunPod answers 404 for a pod that is "not found
//! or not accessible to the caller", so to a state made with another API
//! key a 404 does not say its pods are gone. Every command that reads a
//! pod's absence (plan, refresh, cleanup, status, import) asks this one
//! check first, and a pod it names is "not visible with this key", never
//! "deleted".

use std::path::Path;

use super::PlanError;
use crate::state::State;

/// The pods of `state` that another key cannot tell from deleted: when the
/// state records the key its pods were made with (`made_with`), the
/// provider uses another one now (`current`), and the provider does not
/// find some of them (`gone`) or no pod of an interrupted create
/// (`pending_unmatched`). `None` when a 404 means "gone": the same key,
/// no key (the simulator), an older state that recorded none, or every
/// recorded pod visible (a team key).
pub fn other_api_key(
    state: &State,
    state_file: &Path,
    current: Option<&str>,
    gone: impl Fn(&str) -> bool,
    pending_unmatched: bool,
) -> Option<PlanError> {
    let (Some(made_with), Some(current)) = (&state.api_key_fingerprint, current) else {
        return None;
    };
    if made_with == current {
        return None;
    }
    let pods: Vec<String> = state
        .pod_ids()
        .into_iter()
        .filter(|id| gone(id))
        .map(String::from)
        .collect();
    let pending_create = state
        .pending_create
        .as_ref()
        .filter(|_| pending_unmatched)
        .map(|p| p.name.clone());
    (!pods.is_empty() || pending_create.is_some()).then(|| PlanError::OtherApiKey {
        recorded: made_with.clone(),
        current: current.to_string(),
        pods,
        pending_create,
        state_file: state_file.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::model::PodSpec;
    use crate::state::{Owner, PodRecord};

    fn state(made_with: Option<&str>) -> State {
        let mut state = State::new(Owner {
            config: PathBuf::from("/p/hello.yaml"),
            job_name: "hello".into(),
        });
        state.api_key_fingerprint = made_with.map(String::from);
        state.pod = Some(PodRecord {
            id: "pod1".into(),
            name: "hello-20261001T000000Z-2f4c4f".into(),
            spec: PodSpec::default(),
            status: None,
            status_since: None,
            created_at: None,
            provider: Some("runpod".into()),
        });
        state
    }

    #[test]
    fn only_another_keys_404_is_refused() {
        let path = PathBuf::from("/p/.rpd/hello.state.json");
        let gone = |_: &str| true;
        let refused = other_api_key(
            &state(Some("sha256:aaaaaaaaaaaa")),
            &path,
            Some("sha256:bbbbbbbbbbbb"),
            gone,
            false,
        );
        assert_eq!(
            refused,
            Some(PlanError::OtherApiKey {
                recorded: "sha256:aaaaaaaaaaaa".into(),
                current: "sha256:bbbbbbbbbbbb".into(),
                pods: vec!["pod1".into()],
                pending_create: None,
                state_file: path.clone(),
            })
        );
        // The same key, no key now (the simulator), a state that recorded
        // none, or a key that sees the pod: a 404 is "gone", or there is none.
        let a = Some("sha256:aaaaaaaaaaaa");
        for (made_with, current, seen_gone) in [
            (a, a, true),
            (a, None, true),
            (None, Some("sha256:bbbbbbbbbbbb"), true),
            (a, Some("sha256:bbbbbbbbbbbb"), false),
        ] {
            let found = other_api_key(&state(made_with), &path, current, |_| seen_gone, false);
            assert_eq!(found, None, "{made_with:?} {current:?} {seen_gone}");
        }
    }
}
