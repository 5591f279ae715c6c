//! The load generator: profiles and schedules (pure), exact histograms, the engine, and
//! the report. `tractor loadtest` drives it headless; the console shows it live.
pub mod engine;
pub mod profile;
pub mod report;
pub mod stats;
