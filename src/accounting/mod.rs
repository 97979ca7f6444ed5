//! The accounting core: model shapes in, parameter counts, FLOPs and MFU out.
//!
//! Pure: no I/O, no clock, no async, no serde, no metrics. Everything else in the
//! crate computes through here, so that `calc` and `serve` can never disagree.

pub mod flops;
pub mod gpus;
pub mod mfu;
pub mod model;
pub mod params;
pub mod plan;

use flops::{DetailedFlops, FlopOptions, FormulaFlops};
use model::Model;
use params::ParameterCounts;

/// Everything the accounting knows about one model at one sequence length.
#[derive(Debug, Clone, PartialEq)]
pub struct Accounting {
    pub options: FlopOptions,
    pub params: ParameterCounts,
    pub palm: FormulaFlops,
    pub detailed: DetailedFlops,
}

impl Accounting {
    pub fn new(model: &Model, options: FlopOptions) -> Accounting {
        let params = params::count(model);
        Accounting {
            palm: flops::palm(model, &params, &options),
            detailed: flops::detailed(model, &options),
            params,
            options,
        }
    }

    /// The two formulas with their Prometheus/JSON label.
    pub fn formulas(&self) -> [(&'static str, FormulaFlops); 2] {
        [("palm", self.palm), ("detailed", self.detailed.totals)]
    }
}
