use super::*;

fn state(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("s.json")
}

fn take(state: &Path) -> Result<LockGuard, LockError> {
    acquire(state, "apply", "a.yaml", Duration::ZERO, |_| {})
}

/// A lock file as a run left it that is no longer running.
fn left_behind(state: &Path, pid: u32, os_lock: bool) -> LockInfo {
    let info = LockInfo {
        id: "old".into(),
        operation: "apply".into(),
        who: "x".into(),
        pid,
        host: hostname(),
        version: "rpd 0".into(),
        created: Utc::now(),
        path: state.to_path_buf(),
        info: String::new(),
        os_lock,
    };
    fs::write(lock_path(state), serde_json::to_string(&info).unwrap()).unwrap();
    info
}

#[test]
fn second_acquire_fails_at_once_and_names_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&dir);
    let first = take(&state).unwrap();
    let began = Instant::now();
    let err = take(&state).unwrap_err();
    assert!(began.elapsed() < Duration::from_secs(1), "refused at once");
    let text = err.to_string();
    assert!(text.contains("Lock Info:"), "{text}");
    assert!(text.contains("rpd force-unlock"), "{text}");
    drop(first);
    assert!(!lock_path(&state).exists(), "released and removed");
    take(&state).unwrap();
}

#[test]
fn a_live_holder_is_waited_for_within_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&dir);
    let first = take(&state).unwrap();
    let holder = read_lock(&state).unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(first);
    });
    let mut waited_for = Vec::new();
    let second = acquire(&state, "destroy", "a.yaml", Duration::from_secs(10), |h| {
        waited_for.push(h.id.clone())
    })
    .unwrap();
    release.join().unwrap();
    assert_eq!(waited_for, [holder.id], "announced once");
    assert!(second.took_over.is_none(), "released, not taken over");
    assert_eq!(read_lock(&state).unwrap().operation, "destroy");
}

#[test]
fn a_crashed_holders_lock_is_taken_over_with_its_info() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&dir);
    // Its pid is alive (this test's, reused) but nobody holds the OS
    // lock: the run that wrote it is gone.
    left_behind(&state, std::process::id(), true);
    let guard = take(&state).unwrap();
    assert_eq!(guard.took_over.as_ref().unwrap().id, "old");
    let now = read_lock(&state).unwrap();
    assert_ne!(now.id, "old");
    assert!(now.os_lock);
}

#[test]
fn a_lock_without_an_os_lock_holder_follows_its_process() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&dir);
    left_behind(&state, i32::MAX as u32, false);
    let guard = take(&state).unwrap();
    assert_eq!(
        guard.took_over.as_ref().unwrap().id,
        "old",
        "dead: taken over"
    );
    drop(guard);
    left_behind(&state, std::process::id(), false);
    assert!(
        matches!(take(&state), Err(LockError::Held { info, .. }) if info.id == "old"),
        "alive: held"
    );
}

#[test]
fn a_lock_file_removed_after_it_was_opened_is_no_lock() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&dir);
    let path = lock_path(&state);
    let first = take(&state).unwrap();
    // Another run opens the file, then the holder releases (removing
    // it) and a third run takes a new lock at the same path.
    let opened = File::options().read(true).write(true).open(&path).unwrap();
    drop(first);
    let third = take(&state).unwrap();
    let late = LockInfo {
        id: "late".into(),
        ..read_lock(&state).unwrap()
    };
    assert!(
        matches!(claim_open(&path, opened, &late), Ok(Claim::Again)),
        "the removed file's lock is free, but it is not the lock"
    );
    assert_ne!(read_lock(&state).unwrap().id, "late");
    drop(third);
}

#[test]
fn a_directory_in_the_locks_place_is_an_unreadable_lock_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&dir);
    fs::create_dir(lock_path(&state)).unwrap();
    let err = take(&state).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot create lock file {}: lock file exists but cannot be read; remove it if no rpd is running",
            lock_path(&state).display()
        )
    );
    assert!(lock_path(&state).is_dir(), "left as it was");
}

/// `acquire` on `state`, given 10 s to answer: a hang fails the test.
fn take_within_seconds(state: &Path) -> Result<LockGuard, LockError> {
    let state = state.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(take(&state));
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("acquire answers instead of waiting forever")
}

#[test]
fn what_never_settles_into_a_lock_is_refused_not_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&dir);
    let unreadable = format!(
        "cannot create lock file {}: lock file exists but cannot be read; remove it if no rpd is running",
        lock_path(&state).display()
    );
    // A dangling link: opening finds nothing, creating finds something.
    std::os::unix::fs::symlink(dir.path().join("gone"), lock_path(&state)).unwrap();
    let err = take_within_seconds(&state).unwrap_err();
    assert_eq!(err.to_string(), unreadable);
    fs::remove_file(lock_path(&state)).unwrap();

    // A lock file another program holds a shared lock on.
    fs::write(lock_path(&state), "{}").unwrap();
    let other = File::open(lock_path(&state)).unwrap();
    other.try_lock_shared().unwrap();
    let err = take_within_seconds(&state).unwrap_err();
    assert_eq!(err.to_string(), unreadable);
}

#[test]
fn force_unlock_needs_the_exact_id() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&dir);
    let guard = take(&state).unwrap();
    let id = read_lock(&state).unwrap().id;
    assert!(matches!(
        force_unlock(&state, "nope", "a.yaml"),
        Err(LockError::WrongId { .. })
    ));
    assert!(lock_path(&state).exists());
    // Its holder runs (it holds the OS lock): refused.
    assert!(matches!(
        force_unlock(&state, &id, "a.yaml"),
        Err(LockError::HolderRunning { .. })
    ));
    assert!(lock_path(&state).exists());
    // A holder the OS lock does not show (on another machine, say).
    guard.file.unlock().unwrap();
    force_unlock(&state, &id, "a.yaml").unwrap();
    assert!(read_lock(&state).is_none());
    assert!(!lock_path(&state).exists(), "the file is removed");
    // The unlocked run ends later: it leaves the next run's lock alone.
    let next = take(&state).unwrap();
    drop(guard);
    assert!(lock_path(&state).exists(), "still the next run's");
    drop(next);
    assert!(matches!(
        force_unlock(&state, &id, "a.yaml"),
        Err(LockError::NotLocked { .. })
    ));
}

#[test]
fn a_junk_lock_file_is_named_and_force_unlock_removes_it_by_its_content_id() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&dir);
    fs::write(lock_path(&state), "garbage\n").unwrap();
    let Err(LockError::Unreadable { junk, .. }) = take(&state) else {
        panic!("a junk lock file is refused, naming what it holds");
    };
    assert_eq!(junk.what, "it is not JSON: \"garbage\\n\"");
    assert!(
        junk.id.starts_with("junk-") && junk.id.len() == 17,
        "{}",
        junk.id
    );
    assert!(matches!(
        force_unlock(&state, "nope", "a.yaml"),
        Err(LockError::WrongJunkId { junk: shown, .. }) if shown == junk
    ));
    // Other content, another ID: the ID shown removes only that file.
    fs::write(lock_path(&state), "garbage!\n").unwrap();
    assert!(matches!(
        force_unlock(&state, &junk.id, "a.yaml"),
        Err(LockError::WrongJunkId { .. })
    ));
    fs::write(lock_path(&state), "garbage\n").unwrap();
    assert_eq!(
        force_unlock(&state, &junk.id, "a.yaml").unwrap(),
        Released::Junk(junk)
    );
    assert!(!lock_path(&state).exists());
    take(&state).unwrap();
}

#[test]
fn a_huge_lock_file_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&dir);
    File::create(lock_path(&state))
        .unwrap()
        .set_len(1 << 40)
        .unwrap();
    let Err(LockError::Unreadable { junk, .. }) = take(&state) else {
        panic!("refused");
    };
    assert_eq!(
        junk.what,
        "it is 1099511627776 bytes, far too large for a lock"
    );
    force_unlock(&state, &junk.id, "a.yaml").unwrap();
}

#[test]
fn read_lock_reports_a_holder_only_while_the_lock_is_held() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&dir);
    assert!(read_lock(&state).is_none(), "no file");
    left_behind(&state, std::process::id(), true);
    assert!(
        read_lock(&state).is_none(),
        "a crashed run's file is not held"
    );
    assert!(
        matches!(lock_status(&state), Some(LockStatus::Stale(_))),
        "but it is there, stale"
    );
    left_behind(&state, i32::MAX as u32, false);
    assert!(read_lock(&state).is_none(), "nor a dead process's");
    assert!(matches!(lock_status(&state), Some(LockStatus::Stale(_))));
    left_behind(&state, std::process::id(), false);
    assert!(read_lock(&state).is_some(), "a live process's file is");
    fs::remove_file(lock_path(&state)).unwrap();
    let guard = take(&state).unwrap();
    assert_eq!(read_lock(&state).unwrap().pid, std::process::id());
    assert!(take(&state).is_err(), "looking did not release it");
    drop(guard);
}

#[test]
fn a_state_path_that_is_not_utf8_is_an_error_and_leaves_no_file() {
    use std::os::unix::ffi::OsStrExt;
    // It used to panic ("lock info serializes") after creating
    // `<lock>.new.<uuid>`, which stayed behind.
    let dir = tempfile::tempdir().unwrap();
    let state = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"caf\xe9.state.json"));
    let err = take(&state).unwrap_err();
    assert!(
        err.to_string()
            .contains("caf\\xE9.state.json cannot be written"),
        "{err}"
    );
    let left: Vec<_> = fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert!(left.is_empty(), "{left:?}");
}
