//! rpd: Terraform-style plan/apply for RunPod GPU pods.
//!
//! Layers point down: commands -> plan/apply -> provider/remote -> model.

pub mod apply;
pub mod cli;
pub mod commands;
pub mod config;
pub mod cost;
pub mod exit;
pub mod fault;
pub mod interrupt;
pub mod known;
pub mod model;
pub mod plan;
pub mod progress;
pub mod provider;
pub mod remote;
pub mod render;
pub mod state;
