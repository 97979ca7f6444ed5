//! Planning a training run before it starts: memory per GPU, the batch size a target MFU
//! needs, time and cost to train on a number of tokens, and how FLOPs scale with the context.
//!
//! Pure like the rest of the accounting: a model, a layout and a few numbers in; bytes,
//! seconds, FLOPs and ratios out. Every figure here is an estimate from formulas whose
//! sources are named where they are written; `tests/it/plan.rs` states how far each one is
//! from what was measured.

pub mod activations;
pub mod cost;
pub mod fixes;
pub mod layout;
pub mod memory;
pub mod roofline;
pub mod shards;
pub mod sweep;
