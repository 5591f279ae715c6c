//! The console's tests that need no cluster, in one test crate (one link of kube, ratatui
//! and hyper instead of one per file): views (insta snapshots of TestBackend), the update
//! function, the API calls a write makes (a mocked API server), the load generator and
//! local mode against real servers, and the real binary driven in tmux.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test crate: a failed unwrap is a failed test
#[path = "../support/mod.rs"]
mod support;

mod api_calls;
mod demo_tmux;
mod jobs;
mod loadtest;
mod local;
mod local_canary;
mod prom_source;
mod tui_tmux;
mod update;
mod update_canary;
mod update_cluster;
mod update_logs;
mod update_writes;
mod views;
