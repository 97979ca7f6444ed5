//! Integration tests: the real binary, driven as a user drives it.

mod calc;
mod deploy;
mod exposition;
mod formats;
mod limits;
mod prometheus;
mod reference;
mod serve;
mod soak;
mod support;
mod tailer;
mod tidy;
mod web;
