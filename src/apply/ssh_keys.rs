//! The pod's `PUBLIC_KEY`: rpd's own public key first, so that the pod
//! answers rpd even when the account has no key registered (RunPod's
//! `startSsh` only injects registered keys), then the account's registered
//! keys, so that SSH from the console keeps working (RunPod injects those
//! only when a create sets no `PUBLIC_KEY` of its own).

use super::*;
use crate::remote::key;

impl Executor<'_> {
    /// `PUBLIC_KEY` for the pods this run creates; none on the simulator.
    pub(super) async fn pod_public_keys(&self) -> Result<Option<String>, ApplyError> {
        if !self.provider.needs_ssh_key() {
            return Ok(None);
        }
        let path = &self.config.ssh_key_path;
        let own = key::public_key(path)
            .await
            .map_err(|missing| ApplyError::SshKey {
                path: path.clone(),
                missing,
            })?;
        let account = match self.provider.account_ssh_keys().await {
            Ok(keys) => keys.unwrap_or_default(),
            // rpd's own key is what the run needs; the others are a courtesy
            // (and a key may be allowed pods but not the account's keys).
            Err(err) => {
                self.reporter.line(format!(
                    "Warning: the pod gets only rpd's key {}: the account's registered SSH keys could not be read: {err}",
                    key::public_key_path(path).display()
                ));
                Vec::new()
            }
        };
        Ok(Some(joined_keys(&own, &account)))
    }
}

/// `own`, then each account key that is not the same key, one a line.
pub(super) fn joined_keys(own: &str, account: &[String]) -> String {
    let mut lines = vec![own.trim().to_string()];
    for line in account.iter().map(|k| k.trim()).filter(|k| !k.is_empty()) {
        if !lines.iter().any(|l| key::same_key(l, line)) {
            lines.push(line.to_string());
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpd_s_key_comes_first_and_the_account_s_follow_once() {
        let own = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOWNownownownown rpd";
        let account = [
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOWNownownownown laptop".to_string(),
            " ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ me@desk ".to_string(),
            String::new(),
        ];
        assert_eq!(
            joined_keys(own, &account),
            format!("{own}\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ me@desk")
        );
        assert_eq!(joined_keys(own, &[]), own);
    }
}
