//! The SSH key pair rpd reaches real pods with (`ssh.key_path`): the
//! private half for ssh, the public half for the pod's `PUBLIC_KEY`, so a
//! pod answers rpd even when the account has no key registered.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

pub use crate::model::KeyPart;

/// `<key>.pub`, where ssh-keygen writes the public half.
pub fn public_key_path(private: &Path) -> PathBuf {
    let mut name = private.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// The public half of `private` as one authorized_keys line: `<key>.pub`
/// when it holds one, else derived from the private key by `ssh-keygen -y`
/// (without a passphrase: a protected key is not asked about).
pub async fn public_key(private: &Path) -> Result<String, KeyPart> {
    if !private.is_file() {
        return Err(KeyPart::PrivateKey);
    }
    if let Ok(text) = tokio::fs::read_to_string(public_key_path(private)).await
        && let Some(line) = authorized_key(&text)
    {
        return Ok(line);
    }
    let derived = tokio::process::Command::new("ssh-keygen")
        .args(["-y", "-P", "", "-f"])
        .arg(private)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(Duration::from_secs(10), derived).await {
        Ok(Ok(out)) if out.status.success() => {
            authorized_key(&String::from_utf8_lossy(&out.stdout)).ok_or(KeyPart::PublicKey)
        }
        _ => Err(KeyPart::PublicKey),
    }
}

/// The first line of `text` that looks like a public key:
/// `<type> <base64> [comment]`.
pub fn authorized_key(text: &str) -> Option<String> {
    text.lines().map(str::trim).find_map(|line| {
        let mut words = line.split_whitespace();
        let kind = words.next()?;
        let body = words.next()?;
        let known_kind = ["ssh-", "ecdsa-sha2-", "sk-"]
            .iter()
            .any(|p| kind.starts_with(p));
        let base64 = body.len() >= 16
            && body
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='));
        (known_kind && base64).then(|| line.to_string())
    })
}

/// Key lines that name the same key (type and body; comments differ).
pub fn same_key(a: &str, b: &str) -> bool {
    a.split_whitespace()
        .take(2)
        .eq(b.split_whitespace().take(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILXGDN/SclOozk1xsDztpmhGiKkkrfQB9SKoO8dSIQQZ me@example.com";

    #[test]
    fn a_public_key_line_is_recognized_and_garbage_is_not() {
        assert_eq!(authorized_key(&format!("\n{LINE}\n")), Some(LINE.into()));
        assert_eq!(authorized_key("not a real key\n"), None);
        assert_eq!(
            authorized_key("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n"),
            None
        );
        assert!(same_key(
            LINE,
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILXGDN/SclOozk1xsDztpmhGiKkkrfQB9SKoO8dSIQQZ other"
        ));
        assert!(!same_key(LINE, "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ x"));
    }

    #[tokio::test]
    async fn the_public_half_is_read_beside_the_key_or_derived_or_said_missing() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("id_ed25519");
        assert_eq!(public_key(&key).await, Err(KeyPart::PrivateKey));
        std::fs::write(&key, "not a real key\n").unwrap();
        assert_eq!(public_key(&key).await, Err(KeyPart::PublicKey));
        std::fs::write(public_key_path(&key), format!("{LINE}\n")).unwrap();
        assert_eq!(public_key(&key).await, Ok(LINE.into()));

        // A real key with no .pub: ssh-keygen derives it (when installed).
        let real = dir.path().join("real");
        let made = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "rpd-test", "-f"])
            .arg(&real)
            .status();
        if made.is_ok_and(|s| s.success()) {
            let written = std::fs::read_to_string(public_key_path(&real)).unwrap();
            std::fs::remove_file(public_key_path(&real)).unwrap();
            let derived = public_key(&real).await.unwrap();
            assert!(same_key(&derived, &written), "{derived} vs {written}");
        }
    }
}
