//! `events.jsonl` in the run directory: one `{"ts_utc", "event", ...}` per
//! line, runpod-deploy's event names, so its forensic tools read rpd's runs.

use std::io::Write;
use std::path::PathBuf;

use chrono::Utc;

pub struct EventLog {
    path: PathBuf,
}

impl EventLog {
    pub fn new(path: PathBuf) -> EventLog {
        EventLog { path }
    }

    pub fn emit(&self, event: &str, fields: serde_json::Value) {
        let mut record = serde_json::Map::new();
        record.insert(
            "ts_utc".into(),
            Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into(),
        );
        record.insert("event".into(), event.into());
        if let serde_json::Value::Object(extra) = fields {
            record.extend(extra);
        }
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
        {
            let _ = writeln!(file, "{}", serde_json::Value::Object(record));
        }
    }
}
