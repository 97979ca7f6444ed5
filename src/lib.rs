//! mfu-exporter: Model FLOPs Utilization of training jobs, for Prometheus.
//!
//! See ARCHITECTURE.md for the map of the crate.

pub mod accounting;
pub mod chart;
pub mod cli;
pub mod config;
pub mod http;
pub mod ingest;
pub mod landing;
pub mod metrics;
pub mod model_config;
pub mod pipeline;
pub mod resolve;
pub mod setting;
pub mod simulate;
pub mod state;
#[cfg(test)]
mod test_rng;
pub mod units;
