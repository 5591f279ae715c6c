//! End-to-end: the console against a real control plane (etcd, kube-apiserver,
//! controller-manager, scheduler, kwok) on 127.0.0.1, started by scripts/dev-cluster
//! (or given by TRACTOR_E2E_KUBECONFIG). Built only with `--features e2e`; a cluster that
//! cannot start fails these tests, they never skip.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test crate: a failed unwrap is a failed test
#[path = "../support/mod.rs"]
mod support;

mod canary;
mod canary_file;
mod canary_hpa;
mod canary_tui;
mod common;
mod deploy;
mod diagnose;
mod helm_rollback;
mod hpa;
mod latency;
mod loadtest_cluster;
mod logs;
mod managed;
mod pod_proxy;
mod prometheus;
mod rbac;
mod rollouts;
mod subcommands;
