//! The accounting core: model shapes in, parameter counts, FLOPs and MFU out.
//!
//! Pure: no I/O, no clock, no async, no serde, no metrics. Everything else in the
//! crate computes through here, so that `calc` and `serve` can never disagree.

pub mod conventions;
pub mod flops;
pub mod gpus;
pub mod mfu;
pub mod model;
pub mod params;
pub mod plan;

use std::fmt;

use conventions::Convention;
use flops::{DetailedFlops, FlopOptions, FormulaFlops};
use model::Model;
use params::ParameterCounts;

/// A way of counting model FLOPs that `serve` can export as a `formula` label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Formula {
    /// `6N + 12·L·H·Q·T`, with the attention counted as `--attention` says.
    Palm,
    /// This tool's per-component count.
    Detailed,
    /// A framework's own count (its PaLM is [`Formula::Palm`]).
    Convention(Convention),
}

impl Formula {
    /// What `serve` exports unless told otherwise.
    pub const DEFAULT: [Formula; 2] = [Formula::Palm, Formula::Detailed];

    /// Every formula `--formula` accepts, in the order they are listed.
    pub fn all() -> Vec<Formula> {
        let mut all = Formula::DEFAULT.to_vec();
        all.extend(
            Convention::ALL
                .into_iter()
                .filter(|c| *c != Convention::Palm)
                .map(Formula::Convention),
        );
        all
    }

    /// The `formula` label value.
    pub fn label(self) -> &'static str {
        match self {
            Formula::Palm => "palm",
            Formula::Detailed => "detailed",
            Formula::Convention(c) => c.key(),
        }
    }

    /// The formula whose label is `text`, if any.
    pub fn from_label(text: &str) -> Option<Formula> {
        Formula::all().into_iter().find(|f| f.label() == text)
    }
}

impl fmt::Display for Formula {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.label())
    }
}

/// Everything the accounting knows about one model at one sequence length.
#[derive(Debug, Clone, PartialEq)]
pub struct Accounting {
    pub options: FlopOptions,
    pub params: ParameterCounts,
    pub palm: FormulaFlops,
    pub detailed: DetailedFlops,
    /// The formulas exported, in order, with their counts.
    exported: Vec<(Formula, FormulaFlops)>,
}

impl Accounting {
    /// The accounting of `model`, exporting the default formulas (palm, detailed).
    pub fn new(model: &Model, options: FlopOptions) -> Accounting {
        Accounting::with_formulas(model, options, &Formula::DEFAULT)
    }

    /// The accounting of `model`, exporting `formulas` in that order.
    pub fn with_formulas(model: &Model, options: FlopOptions, formulas: &[Formula]) -> Accounting {
        let params = params::count(model);
        let palm = flops::palm(model, &params, &options);
        let detailed = flops::detailed(model, &options);
        // Recomputation adds the same work whichever convention counts the model's FLOPs.
        let recomputed = detailed.totals.hardware - detailed.totals.training;
        let exported = formulas
            .iter()
            .map(|formula| {
                let counts = match formula {
                    Formula::Palm => palm,
                    Formula::Detailed => detailed.totals,
                    Formula::Convention(c) => {
                        let training =
                            conventions::training_flops_per_token(*c, model, &params, &options);
                        FormulaFlops {
                            forward: training / 3.0,
                            training,
                            hardware: training + recomputed,
                        }
                    }
                };
                (*formula, counts)
            })
            .collect();
        Accounting {
            palm,
            detailed,
            params,
            options,
            exported,
        }
    }

    /// The exported formulas with their Prometheus/JSON label, in the configured order.
    pub fn formulas(&self) -> Vec<(&'static str, FormulaFlops)> {
        self.formulas_iter().collect()
    }

    /// [`Accounting::formulas`] without collecting them: what a scrape walks for every run.
    pub fn formulas_iter(
        &self,
    ) -> impl ExactSizeIterator<Item = (&'static str, FormulaFlops)> + '_ {
        self.exported
            .iter()
            .map(|(formula, counts)| (formula.label(), *counts))
    }

    /// The larger training count of this tool's own two formulas, which plausibility checks use:
    /// a framework's convention (nanoGPT counts every expert) may be far above the model's.
    pub fn own_training_flops_per_token(&self) -> f64 {
        self.palm.training.max(self.detailed.totals.training)
    }
}
