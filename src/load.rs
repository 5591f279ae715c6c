//! The load generator: profiles and schedules (pure), exact histograms, the engine, and
//! the report; the plan the flags describe and the console prompt's line. `tractor
//! loadtest` drives it headless; the console shows it live. Depends on neither the
//! console (`app`, `state`) nor the subcommands (`commands`).
pub mod ended;
pub mod endpoint;
pub mod engine;
pub mod failure;
pub mod flags;
pub mod fleet;
pub mod grpc;
pub mod health;
pub mod line;
pub mod plan;
pub mod profile;
pub mod report;
pub mod stats;
pub mod words;
