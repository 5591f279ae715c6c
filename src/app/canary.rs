//! Carries out the console's canary effects on either backend: the preview (the plan
//! built, the analysis file read, the steps resolved and the canary dry-run), the run (the
//! driver in a task, its progress sent back as events), taking up a saved run, and a
//! person's promote or abort.
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use crate::action::Target;
use crate::backend::Backend;
use crate::canary::backend::CanaryBackend;
use crate::canary::drive::{self, Outcome};
use crate::canary::holder::{default_ttl, me};
use crate::canary::kube::{self, KubeCanary};
use crate::canary::local::{self, LocalCanary};
use crate::canary::{AnalysisFile, CanaryPlan, CanaryState, decide_lease, lines};
use crate::event::{AppEvent, CanaryEvent};
use crate::state::update::CanaryEffect;

pub struct CanaryRunner {
    pub scrape: crate::scrape::source::Settings,
    /// The console's scrape interval: a window holds two.
    pub scrape_interval: Duration,
    /// The console's load tests' lagging reports, for the canaries' windows.
    lag: crate::load::health::LagSignal,
    tasks: Vec<JoinHandle<()>>,
}

fn send(tx: &UnboundedSender<AppEvent>, ev: CanaryEvent) {
    let _ = tx.send(AppEvent::Canary(ev));
}

fn refused(tx: &UnboundedSender<AppEvent>, target: &Target, message: impl ToString) {
    send(
        tx,
        CanaryEvent::Refused {
            target: target.clone(),
            message: message.to_string(),
        },
    );
}

impl CanaryRunner {
    pub fn new(
        scrape: crate::scrape::source::Settings,
        lag: crate::load::health::LagSignal,
    ) -> CanaryRunner {
        CanaryRunner {
            scrape_interval: scrape.interval,
            scrape,
            lag,
            tasks: Vec::new(),
        }
    }

    /// Canary runs this console still drives.
    pub fn driving(&self) -> usize {
        self.tasks.iter().filter(|t| !t.is_finished()).count()
    }

    pub fn dispatch(
        &mut self,
        e: CanaryEffect,
        backend: Option<&Backend>,
        tx: &UnboundedSender<AppEvent>,
    ) {
        let target = e.target().clone();
        let (tx, interval) = (tx.clone(), self.scrape_interval);
        self.tasks.retain(|t| !t.is_finished());
        let task = match backend {
            Some(Backend::Kube(r)) => {
                let b = KubeCanary::for_runner(r, &target, self.scrape);
                let d = Driving {
                    user: r.user.clone(),
                    checked: crate::canary::lines::CHECKED_BY_API_SERVER,
                    audit: kube::audit(r, &target),
                    settings: drive::Settings {
                        load_lag: Some(self.lag.clone()),
                        ..kube::settings(r, Duration::ZERO)
                    },
                };
                tokio::spawn(run(b, d, e, interval, tx))
            }
            Some(Backend::Local(h)) => {
                if target.name != h.name || target.namespace != crate::local::objects::NAMESPACE {
                    return refused(
                        &tx,
                        &target,
                        format!(
                            "the local backend runs deploy/{} only: select it for its canary",
                            h.name
                        ),
                    );
                }
                let user = crate::local::actions::user();
                let b = LocalCanary::new(h.clone(), self.scrape.timeout);
                let d = Driving {
                    checked: "checked by the write rules, as set model would be",
                    audit: local::audit(h, &user, &target),
                    settings: drive::Settings {
                        load_lag: Some(self.lag.clone()),
                        ..local::settings(&user, h.read_only, Duration::ZERO)
                    },
                    user,
                };
                tokio::spawn(run(b, d, e, interval, tx))
            }
            None => return refused(&tx, &target, crate::failure::Failure::NoCluster),
        };
        self.tasks.push(task);
    }

    /// Stops driving (the canaries stay at their step, for `resume`).
    pub fn stop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

/// Who drives through the console's backend, and where the run is recorded.
struct Driving {
    user: String,
    /// How the backend checks a canary before the preview, in words.
    checked: &'static str,
    audit: drive::Audit,
    /// The lease's time to live is set per run.
    settings: drive::Settings,
}

impl Driving {
    fn settings(&self, ttl: Duration) -> drive::Settings {
        drive::Settings {
            lease_ttl: ttl,
            ..self.settings.clone()
        }
    }
}

/// Carries out one canary effect on backend `b`, its progress and end sent as events.
async fn run<B: CanaryBackend + Sync>(
    b: B,
    d: Driving,
    e: CanaryEffect,
    interval: Duration,
    tx: UnboundedSender<AppEvent>,
) {
    let target = e.target().clone();
    let mut report = progress(&tx, &target);
    let out = match e {
        CanaryEffect::Prepare { args, analysis, .. } => {
            return prepare(&b, &d, &target, &args, analysis, interval, &tx).await;
        }
        CanaryEffect::Start { plan, .. } => {
            let s = d.settings(default_ttl(plan.interval));
            drive::start(&b, *plan, &s, &d.audit, &mut report).await
        }
        CanaryEffect::Resume { .. } => {
            let ttl = match b.load().await {
                Ok(Some(l)) => default_ttl(l.state.plan.interval),
                _ => default_ttl(Duration::from_secs(60)),
            };
            drive::resume(&b, &d.settings(ttl), &d.audit, &mut report, true, false).await
        }
        CanaryEffect::ByHand { promote, .. } => {
            let s = d.settings(default_ttl(Duration::from_secs(60)));
            drive::by_hand(&b, &s, &d.audit, &mut report, promote).await
        }
    };
    ended(&tx, &target, out);
}

fn progress(
    tx: &UnboundedSender<AppEvent>,
    target: &Target,
) -> impl FnMut(&drive::Progress) + Send + use<> {
    let (tx, target) = (tx.clone(), target.clone());
    move |p: &drive::Progress| {
        send(
            &tx,
            CanaryEvent::Progress {
                target: target.clone(),
                progress: p.clone(),
            },
        )
    }
}

fn ended(tx: &UnboundedSender<AppEvent>, target: &Target, out: Result<Outcome, drive::DriveError>) {
    let (text, promoted, failed) = match &out {
        Ok(o) => (o.to_string(), *o == Outcome::Promoted, false),
        Err(e) => (e.to_string(), false, true),
    };
    send(
        tx,
        CanaryEvent::Ended {
            target: target.clone(),
            text,
            promoted,
            failed,
            lost: matches!(out, Ok(Outcome::Lost { .. })),
        },
    );
}

async fn prepare<B: CanaryBackend>(
    b: &B,
    d: &Driving,
    target: &Target,
    args: &crate::canary::CanaryArgs,
    analysis: Option<std::path::PathBuf>,
    scrape_interval: Duration,
    tx: &UnboundedSender<AppEvent>,
) {
    if d.settings.read_only {
        return refused(tx, target, "read-only: canary refused; nothing was sent");
    }
    let file = match analysis {
        None => None,
        Some(path) => match tokio::fs::read_to_string(&path).await {
            Ok(text) => match AnalysisFile::parse(&path, &text) {
                Ok(f) => Some(f),
                Err(e) => return refused(tx, target, e),
            },
            Err(e) => {
                return refused(
                    tx,
                    target,
                    format!("cannot read the analysis file {}: {e}", path.display()),
                );
            }
        },
    };
    let plan = match CanaryPlan::build(args, file.as_ref(), scrape_interval) {
        Ok(p) => p,
        Err(e) => return refused(tx, target, e),
    };
    let stable = match b.stable_replicas().await {
        Ok(n) => n,
        Err(e) => return refused(tx, target, e),
    };
    let sizes = match plan.steps.resolve(stable) {
        Ok(s) => s,
        Err(e) => return refused(tx, target, e),
    };
    let now = Timestamp::now();
    let state = CanaryState::start(plan.clone(), now);
    let lease = match decide_lease(None, &me(&d.user), now, default_ttl(plan.interval)) {
        Ok(l) => l,
        Err(e) => return refused(tx, target, e),
    };
    if let Err(e) = b.dry_run(&state, &lease, sizes[0]).await {
        return refused(tx, target, e);
    }
    let mut lines = lines::preview(
        &plan,
        &target.namespace,
        (&b.canary_name(), d.checked),
        stable,
        &sizes,
    );
    if let Ok(Some(m)) = b.managed_by().await {
        lines.push(format!("  promotion: {}", m.warning()));
    }
    send(
        tx,
        CanaryEvent::Prepared {
            target: target.clone(),
            plan: Box::new(plan),
            lines,
        },
    );
}
