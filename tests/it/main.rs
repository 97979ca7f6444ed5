//! Integration tests: the real binary, driven as a user drives it.

mod calc;
mod conventions;
mod deploy;
mod exposition;
mod formats;
mod goodput;
mod limits;
mod plan;
mod plan_megatron;
mod plan_memory;
mod prometheus;
mod reference;
mod serve;
mod soak;
mod support;
mod tailer;
mod tidy;
mod web;
