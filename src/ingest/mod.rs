//! Getting observations in: log files tailed into lines, lines read by a log format and push
//! bodies parsed into [`observation::Observation`]s.

pub mod format;
pub mod json;
pub mod mapping;
pub mod observation;
pub mod push;
pub mod quote;
pub mod tail;
pub mod values;
