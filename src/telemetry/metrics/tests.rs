use super::*;

fn parsed(text: &str) -> Metrics {
    parse(text.as_bytes(), false)
}

#[test]
fn nulls_missing_fields_unknown_fields_and_blank_lines_are_no_reading() {
    let metrics = parsed(concat!(
        "\n",
        r#"{"ts_utc": "2026-11-20T10:00:00.123456+00:00", "gpu_util_pct": 97, "gpu_mem_used_mb": 23650, "gpu_mem_total_mb": 24564, "gpu_ecc_errors": null, "new": [1]}"#,
        "\n   \n",
        r#"{"ts_utc": "2026-11-20T10:00:30Z", "cpu_user_pct": 50.5, "cpu_sys_pct": 4.5}"#,
        "\n"
    ));
    assert_eq!(metrics.samples, 2);
    assert_eq!(metrics.skipped_lines, 0);
    assert!(!metrics.torn_last_line);
    assert_eq!(metrics.gpus.len(), 1);
    assert_eq!(metrics.gpus[0].ecc_max, None);
    assert_eq!(metrics.gpus[0].mem_peak_mb, Some(23650.0));
    assert_eq!(metrics.gpus[0].util_samples, 1);
    assert_eq!(metrics.mean_cpu_pct(), Some(55.0));
}

#[test]
fn a_torn_last_line_is_expected_and_garbage_in_the_middle_is_counted() {
    let metrics = parsed(concat!(
        r#"{"ts_utc": "2026-11-20T10:00:00Z", "gpu_util_pct": 1}"#,
        "\nnot json\n[1]\n",
        r#"{"ts_utc": "2026-11-20T10:00:30Z", "gpu_util_pct": 2}"#,
        "\n",
        r#"{"ts_utc": "2026-11-20T10:01:00Z", "gpu_ut"#
    ));
    assert_eq!(metrics.samples, 2);
    assert_eq!(metrics.skipped_lines, 2);
    assert!(metrics.torn_last_line);
    // Cut by rpd's limit: neither torn nor skipped.
    let cut = parse(
        &b"{\"ts_utc\": \"2026-11-20T10:00:00Z\", \"gpu_util_pct\": 1}\n{\"ts"[..],
        true,
    );
    assert_eq!(
        (cut.skipped_lines, cut.torn_last_line, cut.truncated),
        (0, false, true)
    );
}

#[test]
fn the_gpus_array_wins_over_the_top_level_fields() {
    let metrics = parsed(concat!(
        r#"{"ts_utc": "2026-11-20T10:00:00Z", "gpu_util_pct": 90, "gpus": [{"index": 1, "util_pct": 0, "mem_used_mb": 3}, {"index": 0, "util_pct": 90}]}"#,
        "\n"
    ));
    let indices: Vec<u32> = metrics.gpus.iter().map(|g| g.index).collect();
    assert_eq!(indices, [0, 1]);
    assert_eq!(metrics.gpus[1].idle_samples, 1);
    assert_eq!(metrics.all_idle_samples, 0, "GPU 0 worked");
}

#[test]
fn a_long_file_is_thinned_for_the_picture_but_every_line_counts() {
    let mut text = String::new();
    let lines = KEPT_SAMPLES * 3 + 7;
    for i in 0..lines {
        let at = chrono::DateTime::<Utc>::from_timestamp(1_700_000_000 + i as i64, 0).unwrap();
        let mem = if i == 5000 { 24000 } else { 1000 };
        text.push_str(&format!(
            "{{\"ts_utc\": \"{}\", \"gpu_util_pct\": 50, \"gpu_mem_used_mb\": {mem}}}\n",
            at.to_rfc3339()
        ));
    }
    let metrics = parsed(&text);
    assert_eq!(metrics.samples, lines as u64);
    assert!(metrics.kept.len() <= KEPT_SAMPLES, "{}", metrics.kept.len());
    assert!(metrics.kept.len() >= KEPT_SAMPLES / 4);
    assert_eq!(metrics.kept_stride, 4);
    // The spike survives the thinning: memory keeps its peak.
    let peak = metrics
        .kept
        .iter()
        .filter_map(|s| s.gpus[0].mem_used_mb)
        .fold(0.0, f64::max);
    assert_eq!(peak, 24000.0);
    assert_eq!(metrics.gpus[0].mem_peak_mb, Some(24000.0));
}

#[test]
fn a_very_long_line_is_garbage_and_nothing_panics() {
    let long = format!(
        "{{\"ts_utc\": \"2026-11-20T10:00:00Z\", \"x\": \"{}\"}}\n",
        "a".repeat(100_000)
    );
    let metrics = parsed(&format!("{long}{long}"));
    assert_eq!(metrics.samples, 0);
    assert_eq!(metrics.skipped_lines, 1);
    for text in [
        "{",
        "\u{0}",
        "{\"ts_utc\": 5}",
        "{\"ts_utc\": \"\"}",
        "{\"ts_utc\": \"2026-11-20T10:00:00Z\", \"gpus\": [null, 1, {\"index\": -1, \"util_pct\": 1e400}]}",
    ] {
        let _ = parsed(text);
        let _ = parsed(&format!("{text}\n{text}\n"));
    }
}
