//! `rollout status` (waits like kubectl, by watching) and `rollout history`.
use std::io::Write;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};

use super::{Ctx, fail};
use crate::action::Target;
use crate::cli::{HistoryArgs, Output, StatusArgs, exit};
use crate::model::deployment::{
    RolloutState, history as rs_history, images, is_current, model_version, rollout_status,
};
use crate::model::{CHANGE_CAUSE_ANNOTATION, annotation, revision};

fn summary(d: &Deployment) -> Value {
    let st = d.status.clone().unwrap_or_default();
    let ro = rollout_status(d);
    json!({
        "name": d.metadata.name, "namespace": d.metadata.namespace,
        "state": ro.state, "message": ro.message,
        "revision": revision(&d.metadata),
        "model_version": model_version(d.spec.as_ref().map(|s| &s.template)),
        "replicas": {
            "desired": d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            "updated": st.updated_replicas.unwrap_or(0),
            "ready": st.ready_replicas.unwrap_or(0),
            "available": st.available_replicas.unwrap_or(0),
            "total": st.replicas.unwrap_or(0),
        },
    })
}

fn code_for(state: RolloutState) -> Option<i32> {
    match state {
        RolloutState::Complete => Some(exit::OK),
        RolloutState::Stalled | RolloutState::Paused => Some(exit::FAILED),
        RolloutState::Progressing => None,
    }
}

/// Watches the deployment until its rollout completes, stalls or `timeout` passes.
/// Messages go to stdout when `to_stdout`, else to stderr.
pub async fn follow(
    ctx: &Ctx,
    t: &Target,
    timeout: Duration,
    to_stdout: bool,
) -> (i32, Option<Value>) {
    let api: Api<Deployment> = Api::namespaced(ctx.conn.client.clone(), &t.namespace);
    let cfg = watcher::Config::default().fields(&format!("metadata.name={}", t.name));
    let mut stream = watcher(api, cfg).default_backoff().boxed();
    let say = |m: &str| {
        if to_stdout {
            println!("{m}");
        } else {
            let _ = writeln!(std::io::stderr(), "{m}");
        }
    };
    let mut last = String::new();
    let mut seen = false;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let ev = match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "error: timed out after {timeout:?} waiting for the rollout"
                );
                return (exit::TIMEOUT, None);
            }
            Ok(None) => return (exit::FAILED, None),
            Ok(Some(ev)) => ev,
        };
        let d = match ev {
            Ok(watcher::Event::Apply(d)) | Ok(watcher::Event::InitApply(d)) => d,
            Ok(watcher::Event::Delete(_)) => {
                say(&format!("deployment \"{}\" was deleted", t.name));
                return (exit::FAILED, None);
            }
            Ok(watcher::Event::InitDone) if !seen => {
                let m = format!(
                    "deployments.apps \"{}\" not found in namespace \"{}\"",
                    t.name, t.namespace
                );
                let _ = writeln!(std::io::stderr(), "error: {m}");
                return (exit::FAILED, None);
            }
            Ok(_) => continue,
            Err(e) => {
                if let crate::event::SourceStatus::Forbidden(m) = crate::k8s::watch::status_of(&e) {
                    let _ = writeln!(
                        std::io::stderr(),
                        "error: forbidden: user \"{}\" may not watch deployments.apps in namespace \"{}\": {m}",
                        ctx.conn.user,
                        t.namespace
                    );
                    return (exit::FORBIDDEN, None);
                }
                let _ = writeln!(std::io::stderr(), "reconnecting: {e}");
                continue;
            }
        };
        seen = true;
        let ro = rollout_status(&d);
        if ro.message != last {
            say(&ro.message);
            last = ro.message.clone();
        }
        if let Some(code) = code_for(ro.state) {
            return (code, Some(summary(&d)));
        }
    }
}

pub async fn status(ctx: &Ctx, t: &Target, a: &StatusArgs) -> i32 {
    let json_out = a.output == Some(Output::Json);
    if a.no_watch {
        let api: Api<Deployment> = Api::namespaced(ctx.conn.client.clone(), &t.namespace);
        let d = match api.get(&t.name).await {
            Ok(d) => d,
            Err(e) => return fail_api(ctx, t, &e, "get"),
        };
        let ro = rollout_status(&d);
        if json_out {
            println!(
                "{}",
                serde_json::to_string_pretty(&summary(&d)).unwrap_or_default()
            );
        } else {
            println!("{}", ro.message);
        }
        return code_for(ro.state).unwrap_or(exit::TIMEOUT);
    }
    let (code, summary) = follow(ctx, t, a.timeout, !json_out).await;
    if json_out && let Some(s) = summary {
        println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
    }
    code
}

fn fail_api(ctx: &Ctx, t: &Target, e: &kube::Error, verb: &str) -> i32 {
    let f = crate::k8s::errors::describe(
        e,
        &ctx.conn.user,
        verb,
        "deployments.apps",
        &t.namespace,
        &t.name,
    );
    fail(f.exit_code(), f)
}

pub async fn history(ctx: &Ctx, t: &Target, a: &HistoryArgs) -> i32 {
    let (d, rss) = match ctx.runner.load(t).await {
        Ok(x) => x,
        Err(f) => return fail(f.exit_code(), f),
    };
    let revs = rs_history(&d, rss.iter());
    let rows: Vec<Value> = revs
        .iter()
        .rev()
        .map(|rs| {
            let tmpl = rs.spec.as_ref().and_then(|s| s.template.as_ref());
            json!({
                "revision": revision(&rs.metadata),
                "change_cause": annotation(&rs.metadata, CHANGE_CAUSE_ANNOTATION),
                "model_version": model_version(tmpl),
                "images": images(tmpl),
                "replicas": rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0),
                "ready": rs.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0),
                "current": is_current(&d, rs),
                "replicaset": rs.metadata.name,
            })
        })
        .collect();
    if let Some(n) = a.revision {
        let Some(rs) = revs.iter().find(|rs| revision(&rs.metadata) == Some(n)) else {
            return fail(
                exit::FAILED,
                format!("unable to find the specified revision {n} in history"),
            );
        };
        let tmpl = rs.spec.as_ref().and_then(|s| s.template.clone());
        if a.output == Some(Output::Json) {
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({"revision": n, "template": tmpl}))
                    .unwrap_or_default()
            );
        } else {
            println!("deployment.apps/{} with revision #{n}", t.name);
            println!(
                "{}",
                serde_json::to_string_pretty(&tmpl).unwrap_or_default()
            );
        }
        return exit::OK;
    }
    if a.output == Some(Output::Json) {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"deployment": t.name, "namespace": t.namespace, "revisions": rows})
            )
            .unwrap_or_default()
        );
        return exit::OK;
    }
    println!("deployment.apps/{}", t.name);
    println!(
        "{:<9} {:<8} {:<12} {:<40} CHANGE-CAUSE",
        "REVISION", "CURRENT", "MODEL", "IMAGE"
    );
    for r in &rows {
        let s = |k: &str| {
            r[k].as_str()
                .map(str::to_string)
                .unwrap_or_else(|| "<none>".into())
        };
        println!(
            "{:<9} {:<8} {:<12} {:<40} {}",
            r["revision"]
                .as_i64()
                .map(|v| v.to_string())
                .unwrap_or_else(|| "-".into()),
            if r["current"].as_bool() == Some(true) {
                "*"
            } else {
                ""
            },
            s("model_version"),
            s("images"),
            s("change_cause")
        );
    }
    exit::OK
}
