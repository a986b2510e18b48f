//! RunPod's GPU type and datacenter ids as published in runpod/docs
//! (`references/gpu-types.mdx`, generated 2026-02-12) and the v1 datacenter
//! enum. Used to catch typos in configs (`NVIDIA RTX 4090` for
//! `NVIDIA GeForce RTX 4090`) and to seed the simulator. The live lists come
//! from the provider's catalog; an id missing here is only a warning.

use crate::model::gpu_key as canonical;
pub use crate::model::same_gpu;

/// (id, display name, memory GB)
pub const GPU_TYPES: &[(&str, &str, u32)] = &[
    ("AMD Instinct MI300X OAM", "MI300X", 192),
    ("NVIDIA A100 80GB PCIe", "A100 PCIe", 80),
    ("NVIDIA A100-SXM4-80GB", "A100 SXM", 80),
    ("NVIDIA A30", "A30", 24),
    ("NVIDIA A40", "A40", 48),
    ("NVIDIA B200", "B200", 180),
    ("NVIDIA B300 SXM6 AC", "B300", 288),
    ("NVIDIA H100 80GB HBM3", "H100 SXM", 80),
    ("NVIDIA H100 NVL", "H100 NVL", 94),
    ("NVIDIA H100 PCIe", "H100 PCIe", 80),
    ("NVIDIA H200", "H200 SXM", 141),
    ("NVIDIA H200 NVL", "H200 NVL", 143),
    ("NVIDIA L4", "L4", 24),
    ("NVIDIA L40", "L40", 48),
    ("NVIDIA L40S", "L40S", 48),
    ("NVIDIA GeForce RTX 3070", "RTX 3070", 8),
    ("NVIDIA GeForce RTX 3080", "RTX 3080", 10),
    ("NVIDIA GeForce RTX 3080 Ti", "RTX 3080 Ti", 12),
    ("NVIDIA GeForce RTX 3090", "RTX 3090", 24),
    ("NVIDIA GeForce RTX 3090 Ti", "RTX 3090 Ti", 24),
    ("NVIDIA GeForce RTX 4070 Ti", "RTX 4070 Ti", 12),
    ("NVIDIA GeForce RTX 4080", "RTX 4080", 16),
    ("NVIDIA GeForce RTX 4080 SUPER", "RTX 4080 SUPER", 16),
    ("NVIDIA GeForce RTX 4090", "RTX 4090", 24),
    ("NVIDIA GeForce RTX 5080", "RTX 5080", 16),
    ("NVIDIA GeForce RTX 5090", "RTX 5090", 32),
    ("NVIDIA RTX 2000 Ada Generation", "RTX 2000 Ada", 16),
    ("NVIDIA RTX 4000 Ada Generation", "RTX 4000 Ada", 20),
    ("NVIDIA RTX 4000 SFF Ada Generation", "RTX 4000 Ada SFF", 20),
    ("NVIDIA RTX 5000 Ada Generation", "RTX 5000 Ada", 32),
    ("NVIDIA RTX 6000 Ada Generation", "RTX 6000 Ada", 48),
    ("NVIDIA RTX A2000", "RTX A2000", 6),
    ("NVIDIA RTX A4000", "RTX A4000", 16),
    ("NVIDIA RTX A4500", "RTX A4500", 20),
    ("NVIDIA RTX A5000", "RTX A5000", 24),
    ("NVIDIA RTX A6000", "RTX A6000", 48),
    ("NVIDIA RTX PRO 4500 Blackwell", "RTX PRO 4500", 32),
    (
        "NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition",
        "RTX PRO 6000 MaxQ",
        96,
    ),
    (
        "NVIDIA RTX PRO 6000 Blackwell Server Edition",
        "RTX PRO 6000",
        96,
    ),
    (
        "NVIDIA RTX PRO 6000 Blackwell Workstation Edition",
        "RTX PRO 6000 WK",
        96,
    ),
    ("Tesla V100-PCIE-16GB", "V100 PCIe", 16),
    ("Tesla V100-SXM2-16GB", "V100 SXM2", 16),
    ("Tesla V100-SXM2-32GB", "V100 SXM2 32GB", 32),
];

/// The v1 enum's 26 datacenters plus those named elsewhere in runpod/docs.
pub const DATACENTERS: &[&str] = &[
    "EU-RO-1", "CA-MTL-1", "EU-SE-1", "US-IL-1", "EUR-IS-1", "EU-CZ-1", "US-TX-3", "EUR-IS-2",
    "US-KS-2", "US-GA-2", "US-WA-1", "US-TX-1", "CA-MTL-3", "EU-NL-1", "US-TX-4", "US-CA-2",
    "US-NC-1", "OC-AU-1", "US-DE-1", "EUR-IS-3", "CA-MTL-2", "AP-JP-1", "EUR-NO-1", "EU-FR-1",
    "US-KS-3", "US-GA-1", "US-OR-1", "US-KS-1", "US-MD-1", "US-MO-1", "US-MO-2", "US-NC-2",
    "US-NE-1",
];

/// Example list prices per GPU ($/hr secure, community), for the simulator
/// only: real plans read prices from the provider's catalog.
pub const EXAMPLE_PRICES: &[(&str, f64, f64)] = &[
    ("NVIDIA GeForce RTX 4090", 0.44, 0.31),
    ("NVIDIA A100 80GB PCIe", 1.39, 1.19),
    ("NVIDIA A100-SXM4-80GB", 1.49, 1.39),
    ("NVIDIA H100 80GB HBM3", 2.69, 2.39),
    ("NVIDIA H100 PCIe", 2.39, 1.99),
    ("NVIDIA L40S", 0.86, 0.79),
    ("NVIDIA A40", 0.40, 0.35),
    ("NVIDIA RTX A5000", 0.27, 0.16),
    ("NVIDIA RTX A6000", 0.49, 0.33),
    ("NVIDIA GeForce RTX 5090", 0.94, 0.69),
];

pub fn is_known_gpu(id: &str) -> bool {
    // No GPU name is this long; normalizing it per type would cost time.
    if id.len() > 128 {
        return false;
    }
    GPU_TYPES.iter().any(|(known, ..)| same_gpu(known, id))
}

pub fn display_name(id: &str) -> Option<&'static str> {
    GPU_TYPES
        .iter()
        .find(|(known, ..)| same_gpu(known, id))
        .map(|(_, name, _)| *name)
}

/// The one of `options` that `word` probably meant (ignoring case), if any
/// is close enough.
pub fn closest<'a>(word: &str, options: impl IntoIterator<Item = &'a str>) -> Option<String> {
    // Words longer than this are no typo of a key or a name (and comparing
    // them costs time in proportion to their length).
    const MAX_SUGGEST_LEN: usize = 64;
    if word.len() > MAX_SUGGEST_LEN {
        return None;
    }
    let lower = word.to_ascii_lowercase();
    options
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(score, _)| *score >= 0.82)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.to_string())
}

/// The known id a mistyped GPU id probably meant (`NVIDIA RTX 4090` ->
/// `NVIDIA GeForce RTX 4090`), matching display names too.
pub fn suggest_gpu(id: &str) -> Option<&'static str> {
    // No GPU name is this long; comparing would cost time in its length.
    if id.len() > 128 {
        return None;
    }
    let wanted = canonical(id);
    let stripped = wanted
        .trim_start_matches("nvidia ")
        .trim_start_matches("geforce ");
    GPU_TYPES
        .iter()
        .find(|(known, name, _)| {
            canonical(name) == stripped
                || canonical(known).trim_start_matches("nvidia geforce ") == stripped
        })
        .map(|(known, ..)| *known)
        .or_else(|| {
            GPU_TYPES
                .iter()
                .map(|(known, ..)| (strsim::jaro_winkler(&wanted, &canonical(known)), *known))
                .filter(|(score, _)| *score >= 0.9)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, known)| known)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_mistake_gets_the_real_id() {
        assert_eq!(
            suggest_gpu("NVIDIA RTX 4090"),
            Some("NVIDIA GeForce RTX 4090")
        );
        assert_eq!(suggest_gpu("H100 SXM"), Some("NVIDIA H100 80GB HBM3"));
    }

    #[test]
    fn spacing_and_case_do_not_matter() {
        assert!(same_gpu("NVIDIA  RTX A4500", "nvidia rtx a4500"));
        assert!(!same_gpu("NVIDIA A40", "NVIDIA A30"));
    }
}
