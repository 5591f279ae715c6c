//! Pod rules: a crash loop (its exit code and reason, the last run's words), OOMKilled (the
//! limit against the request), image pulls, a missing Secret or ConfigMap, unschedulable,
//! readiness failing.
use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod};

use super::{Facts, Finding, LAST_LINES, LastWords, RunKey, Severity, event, event_line, name};

pub fn findings(f: &Facts) -> Vec<Finding> {
    let dep = name(&f.deployment.metadata);
    let mut out = Vec::new();
    for (p, rev) in &f.pods {
        let pod = name(&p.metadata);
        let subject = format!("pod/{pod}");
        let rev = rev.map(|r| format!(" (revision {r})")).unwrap_or_default();
        let spec = p.spec.as_ref();
        let container = |n: &str| spec.and_then(|s| s.containers.iter().find(|c| c.name == n));
        for st in p
            .status
            .iter()
            .flat_map(|s| s.container_statuses.iter().flatten())
        {
            let waiting = st.state.as_ref().and_then(|s| s.waiting.as_ref());
            let reason = waiting.and_then(|w| w.reason.as_deref()).unwrap_or("");
            let message = waiting
                .and_then(|w| w.message.as_deref())
                .unwrap_or("")
                .trim();
            let last = st.last_state.as_ref().and_then(|s| s.terminated.as_ref());
            let oom = last.and_then(|t| t.reason.as_deref()) == Some("OOMKilled");
            if oom {
                out.push(oom_killed(&subject, &rev, st, container(&st.name)));
            }
            match reason {
                "CrashLoopBackOff" if !oom => {
                    let mut evidence = vec![format!("restarts: {}", st.restart_count)];
                    let mut cause = "the container exits soon after it starts".to_string();
                    if let Some(t) = last {
                        evidence.push(format!(
                            "last exit: code {}{}",
                            t.exit_code,
                            t.reason
                                .as_deref()
                                .map(|r| format!(" ({r})"))
                                .unwrap_or_default()
                        ));
                        if let Some(m) = t.message.as_deref().filter(|m| !m.trim().is_empty()) {
                            let tail: Vec<&str> = m.trim().lines().rev().take(3).collect();
                            let tail: Vec<&str> = tail.into_iter().rev().collect();
                            evidence.push(format!("its last words: {}", tail.join(" / ")));
                        }
                        cause = exit_cause(t.exit_code);
                    }
                    let run = RunKey {
                        namespace: p.metadata.namespace.clone().unwrap_or_default(),
                        pod: pod.clone(),
                        container: st.name.clone(),
                        restarts: st.restart_count,
                    };
                    let mut log = Vec::new();
                    match f.last_words.and_then(|m| m.get(&run)) {
                        Some(LastWords::Read(lines)) if lines.is_empty() => {
                            evidence.push("its last run printed nothing".into());
                        }
                        Some(LastWords::Read(lines)) => {
                            log = lines[lines.len().saturating_sub(LAST_LINES)..].to_vec();
                        }
                        Some(LastWords::Reading) => {
                            evidence.push("reading its last run's log…".into());
                        }
                        Some(LastWords::Failed(why)) => {
                            evidence.push(format!("its last run's log could not be read: {why}"));
                        }
                        None => {}
                    }
                    out.push(Finding {
                        log,
                        severity: Severity::Bad,
                        rule: "CrashLoopBackOff",
                        subject: subject.clone(),
                        symptom: format!("container {} keeps crashing{rev}", st.name),
                        cause,
                        action: format!(
                            "read what it printed before it died: `tractor logs deploy/{dep} --pod {pod} --previous` (o, then v, here)"
                        ),
                        evidence,
                    });
                }
                "ImagePullBackOff" | "ErrImagePull" | "InvalidImageName" => {
                    out.push(image_pull(&subject, &rev, st, p, reason, message));
                }
                "CreateContainerConfigError" => {
                    let ev = event(f, "Pod", &pod, &["Failed"]);
                    let text = if message.is_empty() {
                        ev.and_then(|e| e.message.clone()).unwrap_or_default()
                    } else {
                        message.to_string()
                    };
                    let (what, action) = missing_reference(&text);
                    let mut evidence = vec![format!("{reason}: {text}")];
                    evidence.extend(ev.map(event_line));
                    out.push(Finding {
                        log: Vec::new(),
                        severity: Severity::Bad,
                        rule: "CreateContainerConfigError",
                        subject: subject.clone(),
                        symptom: format!("container {} cannot be created{rev}", st.name),
                        cause: what,
                        action,
                        evidence,
                    });
                }
                _ => {}
            }
        }
        out.extend(pending(f, p, &subject, &pod, &rev));
        out.extend(readiness(f, p, &subject, &pod, &rev));
    }
    out
}

fn exit_cause(code: i32) -> String {
    match code {
        137 => "killed (SIGKILL, exit 137): out of memory, or a liveness probe that failed".into(),
        143 => "stopped by SIGTERM (exit 143): a liveness probe, or a shutdown it did not finish"
            .into(),
        139 => "a segmentation fault (exit 139)".into(),
        1 | 2 => format!(
            "the server exited with an error (exit {code}): usually a model that does not load, a bad flag or a missing file"
        ),
        c => format!("the server exited with code {c}"),
    }
}

fn oom_killed(subject: &str, rev: &str, st: &ContainerStatus, c: Option<&Container>) -> Finding {
    let res = c.and_then(|c| c.resources.as_ref());
    let limit = res
        .and_then(|r| r.limits.as_ref())
        .and_then(|l| l.get("memory"))
        .map(|q| q.0.clone());
    let request = res
        .and_then(|r| r.requests.as_ref())
        .and_then(|l| l.get("memory"))
        .map(|q| q.0.clone());
    let sizes = format!(
        "memory limit {}, request {}",
        limit.as_deref().unwrap_or("none"),
        request.as_deref().unwrap_or("none")
    );
    let action = match &limit {
        Some(l) => format!(
            "raise resources.limits.memory above {l} (and the request with it), or lower the batch size the server may build"
        ),
        None => "set resources.requests.memory and limits.memory from the model's measured peak (no limit: the node ran out)".into(),
    };
    Finding {
        log: Vec::new(),
        severity: Severity::Bad,
        rule: "OOMKilled",
        subject: subject.into(),
        symptom: format!("container {} was killed for memory{rev}", st.name),
        cause: format!("it used more than its memory limit ({sizes})"),
        action,
        evidence: vec![
            format!("last exit: OOMKilled, restarts {}", st.restart_count),
            sizes,
        ],
    }
}

fn image_pull(
    subject: &str,
    rev: &str,
    st: &ContainerStatus,
    p: &Pod,
    reason: &str,
    message: &str,
) -> Finding {
    let image = st.image.clone();
    let tag = image
        .rsplit_once('/')
        .map_or(image.as_str(), |(_, last)| last)
        .split_once(':')
        .map(|(_, t)| t.to_string());
    let secrets = p
        .spec
        .as_ref()
        .and_then(|s| s.image_pull_secrets.as_ref())
        .map(|v| v.iter().map(|r| r.name.clone()).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut evidence = vec![
        format!("image {image}"),
        format!("tag {}", tag.as_deref().unwrap_or("none (latest)")),
        if secrets.is_empty() {
            "imagePullSecrets: none".into()
        } else {
            format!("imagePullSecrets: {}", secrets.join(", "))
        },
    ];
    if !message.is_empty() {
        evidence.push(format!("{reason}: {message}"));
    }
    let lower = message.to_ascii_lowercase();
    let (cause, action) = if lower.contains("unauthorized")
        || lower.contains("denied")
        || lower.contains("authentication")
    {
        (
            "the registry refused the credentials".to_string(),
            if secrets.is_empty() {
                "add an imagePullSecret for the registry to the pod template (or the service account)".to_string()
            } else {
                format!(
                    "check that the Secret(s) {} hold valid credentials for this registry",
                    secrets.join(", ")
                )
            },
        )
    } else if lower.contains("not found") || lower.contains("manifest unknown") {
        (
            format!(
                "the tag {} does not exist in the registry",
                tag.as_deref().unwrap_or("latest")
            ),
            "set the image to a tag that was pushed (or push it), or roll back (u)".to_string(),
        )
    } else {
        (
            "the image cannot be pulled (name, tag, registry reachability or credentials)"
                .to_string(),
            if secrets.is_empty() {
                "check the image name and tag; for a private registry add an imagePullSecret; or roll back (u)".to_string()
            } else {
                "check the image name and tag and the pull Secret; or roll back (u)".to_string()
            },
        )
    };
    Finding {
        log: Vec::new(),
        severity: Severity::Bad,
        rule: "ImagePullBackOff",
        subject: subject.into(),
        symptom: format!("image of container {} cannot be pulled{rev}", st.name),
        cause,
        action,
        evidence,
    }
}

/// The Secret or ConfigMap (and key) a CreateContainerConfigError names, and what to do.
fn missing_reference(text: &str) -> (String, String) {
    // `secret "model-creds" not found`, `configmap "x" not found`,
    // `couldn't find key token in Secret serving/model-creds`
    let quoted = text.split('"').nth(1);
    let lower = text.to_ascii_lowercase();
    let kind = if lower.contains("configmap") {
        "ConfigMap"
    } else {
        "Secret"
    };
    if let Some(rest) = text.split("couldn't find key ").nth(1) {
        let mut words = rest.split_whitespace();
        let key = words.next().unwrap_or("?");
        let obj = words.last().unwrap_or("?");
        return (
            format!("the {kind} {obj} has no key {key}"),
            format!(
                "add the key {key} to the {kind} {obj}, or fix the reference in the pod template"
            ),
        );
    }
    match quoted {
        Some(n) => (
            format!("the {kind} {n} it references does not exist"),
            format!(
                "create the {kind} {n} in this namespace (or fix the reference), then the pod starts by itself"
            ),
        ),
        None => (
            "a Secret or ConfigMap it references is missing or lacks a key".into(),
            "create the Secret/ConfigMap or fix the reference in the pod template".into(),
        ),
    }
}

fn pending(f: &Facts, p: &Pod, subject: &str, pod: &str, rev: &str) -> Option<Finding> {
    let st = p.status.as_ref()?;
    if st.phase.as_deref() != Some("Pending") {
        return None;
    }
    let cond = st
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")?;
    let ev = event(f, "Pod", pod, &["FailedScheduling"]);
    let why = cond
        .message
        .clone()
        .or_else(|| ev.and_then(|e| e.message.clone()))
        .unwrap_or_default();
    let lower = why.to_ascii_lowercase();
    let action = if lower.contains("insufficient") {
        "lower the pod's resource requests, or add nodes with room (the scheduler says which resource)"
    } else if lower.contains("taint") || lower.contains("affinity") || lower.contains("selector") {
        "fix the nodeSelector, affinity or tolerations so that some node matches"
    } else {
        "read the scheduler's reason below; add capacity or relax the pod's constraints"
    };
    let mut evidence = vec![format!(
        "PodScheduled False ({}): {}",
        cond.reason.as_deref().unwrap_or("-"),
        why.trim()
    )];
    evidence.extend(ev.map(event_line));
    Some(Finding {
        log: Vec::new(),
        severity: Severity::Bad,
        rule: "Unschedulable",
        subject: subject.into(),
        symptom: format!("pod cannot be scheduled{rev}"),
        cause: format!("no node fits it: {}", why.trim()),
        action: action.into(),
        evidence,
    })
}

fn readiness(f: &Facts, p: &Pod, subject: &str, pod: &str, rev: &str) -> Option<Finding> {
    let st = p.status.as_ref()?;
    if st.phase.as_deref() != Some("Running") {
        return None;
    }
    let not_ready: Vec<&ContainerStatus> = st
        .container_statuses
        .iter()
        .flatten()
        .filter(|c| !c.ready && c.state.as_ref().is_some_and(|s| s.running.is_some()))
        .collect();
    let ev = event(f, "Pod", pod, &["Unhealthy"]).filter(|e| {
        e.message
            .as_deref()
            .is_some_and(|m| m.contains("Readiness"))
    })?;
    let c = not_ready.first()?;
    let probe = p
        .spec
        .as_ref()
        .and_then(|s| s.containers.iter().find(|x| x.name == c.name))
        .and_then(|x| x.readiness_probe.as_ref())
        .and_then(|r| r.http_get.as_ref())
        .map(|h| {
            format!(
                "GET {} on port {}",
                h.path.as_deref().unwrap_or("/"),
                port(&h.port)
            )
        });
    let msg = ev.message.clone().unwrap_or_default();
    let cause = if msg.contains("503") {
        "the server answers 503 not ready: still loading the model, or draining".to_string()
    } else if msg.contains("connection refused") {
        "nothing listens on the probe's port: a wrong port, or the server has not bound yet"
            .to_string()
    } else if msg.contains("404") {
        "the probe's path does not exist on this server".to_string()
    } else {
        "the readiness probe fails".to_string()
    };
    let mut evidence = vec![event_line(ev)];
    evidence.extend(probe.map(|p| format!("probe: {p}")));
    Some(Finding {
        log: Vec::new(),
        severity: Severity::Warn,
        rule: "NotReady",
        subject: subject.into(),
        symptom: format!("container {} runs but is not ready{rev}", c.name),
        cause,
        action: "check the probe's path and port against the server (tractor-serve: GET /v2/health/ready), and the server's log (o)".into(),
        evidence,
    })
}

fn port(p: &k8s_openapi::apimachinery::pkg::util::intstr::IntOrString) -> String {
    match p {
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => i.to_string(),
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s.clone(),
    }
}
