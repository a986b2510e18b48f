//! The one-shot captures: `nvidia-smi`'s table at the start and end, and
//! the pod's description from the provider. Only what a finding or the
//! summary uses is read; anything else in them is ignored.

use serde::Serialize;
use serde_json::Value;

/// What `nvidia-smi`'s default table says.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NvidiaSmi {
    pub driver: Option<String>,
    pub cuda: Option<String>,
    pub gpus: Vec<SmiGpu>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SmiGpu {
    pub index: u32,
    pub name: String,
    /// The `Volatile Uncorr. ECC` column, when it is a number (not `Off`
    /// or `N/A`).
    pub ecc_uncorrected: Option<u64>,
}

/// Reads the table; a file that is not one gives an empty [`NvidiaSmi`].
pub fn nvidia_smi(text: &str) -> NvidiaSmi {
    let after = |line: &str, key: &str| {
        let start = line.find(key)? + key.len();
        line[start..]
            .split_whitespace()
            .next()
            .map(|v| v.trim_end_matches('|').to_string())
            .filter(|v| !v.is_empty())
    };
    let mut smi = NvidiaSmi::default();
    for line in text.lines() {
        smi.driver = smi.driver.or_else(|| after(line, "Driver Version:"));
        smi.cuda = smi.cuda.or_else(|| after(line, "CUDA Version:"));
        // `|   0  NVIDIA RTX A5000   On  |   00000000:3B:00.0 Off |   Off |`
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 || !cells[0].is_empty() {
            continue;
        }
        let mut words = cells[1].split_whitespace();
        let Some(index) = words.next().and_then(|w| w.parse::<u32>().ok()) else {
            continue;
        };
        let mut name: Vec<&str> = words.collect();
        // The persistence mode (`On`/`Off`) ends the cell.
        if matches!(name.last(), Some(&"On") | Some(&"Off")) {
            name.pop();
        }
        // A bus id (`00000000:3B:00.0`) says this is a GPU's first row.
        if name.is_empty() || !cells[2].contains(':') {
            continue;
        }
        smi.gpus.push(SmiGpu {
            index,
            name: name.join(" "),
            ecc_uncorrected: cells[3].parse().ok(),
        });
    }
    smi
}

/// The pod's status in its description (RunPod's `desiredStatus`, or a
/// `status`), looked up without regard to case as runpod-deploy does.
pub fn pod_status(description: &Value) -> Option<String> {
    let object = description.as_object()?;
    ["desiredstatus", "status"].iter().find_map(|key| {
        object
            .iter()
            .find(|(k, _)| k.to_ascii_lowercase() == *key)
            .and_then(|(_, v)| v.as_str())
            .map(|s| s.trim().to_ascii_uppercase())
            .filter(|s| !s.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 550.54.15              Driver Version: 550.54.15      CUDA Version: 12.4     |
|-----------------------------------------+------------------------+----------------------+
| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |
| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |
|=========================================+========================+======================|
|   0  NVIDIA RTX A5000               On  |   00000000:3B:00.0 Off |                  Off |
| 30%   45C    P8             19W /  230W |       1MiB /  24564MiB |      0%      Default |
+-----------------------------------------+------------------------+----------------------+
|   1  NVIDIA A100-SXM4-80GB          On  |   00000000:3C:00.0 Off |                    2 |
| N/A   40C    P0             60W /  400W |       1MiB /  81920MiB |      0%      Default |
+-----------------------------------------+------------------------+----------------------+
";

    #[test]
    fn the_table_gives_driver_cuda_names_and_ecc() {
        let smi = nvidia_smi(TABLE);
        assert_eq!(smi.driver.as_deref(), Some("550.54.15"));
        assert_eq!(smi.cuda.as_deref(), Some("12.4"));
        assert_eq!(
            smi.gpus,
            [
                SmiGpu {
                    index: 0,
                    name: "NVIDIA RTX A5000".into(),
                    ecc_uncorrected: None
                },
                SmiGpu {
                    index: 1,
                    name: "NVIDIA A100-SXM4-80GB".into(),
                    ecc_uncorrected: Some(2)
                },
            ]
        );
        assert_eq!(
            nvidia_smi("bash: nvidia-smi: command not found\n|||\n| 1 |"),
            NvidiaSmi::default()
        );
    }

    #[test]
    fn the_pod_status_from_either_key() {
        assert_eq!(
            pod_status(&serde_json::json!({"desiredStatus": "exited"})).as_deref(),
            Some("EXITED")
        );
        assert_eq!(
            pod_status(&serde_json::json!({"status": "RUNNING"})).as_deref(),
            Some("RUNNING")
        );
        assert_eq!(pod_status(&serde_json::json!([1])), None);
    }
}
