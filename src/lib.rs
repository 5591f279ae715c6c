//! tractor, the console: live Kubernetes views of model servers, and safe
//! rollouts and rollbacks. See README.md for the architecture.
pub mod action;
pub mod app;
pub mod audit;
pub mod autoscale;
pub mod backend;
pub mod canary;
pub mod cli;
pub mod commands;
pub mod config;
pub mod decide;
pub mod diagnose;
pub mod diff;
pub mod event;
pub mod failure;
pub mod k8s;
pub mod load;
pub mod local;
pub mod logging;
pub mod logs;
pub mod metrics;
pub mod model;
pub mod scrape;
pub mod state;
pub mod tls;
pub mod tui;
pub mod ui;
