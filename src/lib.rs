//! rpd: Terraform-style plan/apply for RunPod GPU pods.
//!
//! Layers point down: commands -> plan/apply -> provider/remote -> model.

pub mod config;
pub mod cost;
pub mod fault;
pub mod known;
pub mod model;
pub mod plan;
pub mod provider;
pub mod render;
pub mod state;
