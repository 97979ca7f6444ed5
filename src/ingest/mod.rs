//! Getting observations in: log files tailed into lines, lines and push bodies parsed
//! into [`schema::Observation`]s.

pub mod push;
pub mod schema;
pub mod tail;
