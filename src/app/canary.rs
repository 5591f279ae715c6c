//! Carries out the console's canary effects: the preview (the plan built, the analysis
//! file read, the steps resolved and the canary dry-run), the run (the driver in a task, its
//! progress sent back as events) and a person's promote or abort. Kubernetes only for now:
//! on the local backend each is refused with that reason.
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use crate::action::Target;
use crate::backend::Backend;
use crate::canary::backend::CanaryBackend;
use crate::canary::drive::{self, Outcome};
use crate::canary::holder::{default_ttl, me};
use crate::canary::kube::{KubeCanary, audit, settings};
use crate::canary::{AnalysisFile, CanaryPlan, CanaryState, decide_lease, lines};
use crate::event::{AppEvent, CanaryEvent};
use crate::k8s::runner::Runner;
use crate::state::update::CanaryEffect;

pub struct CanaryRunner {
    pub scrape: crate::scrape::source::Settings,
    /// The console's scrape interval: a window holds two.
    pub scrape_interval: Duration,
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
    pub fn new(scrape: crate::scrape::source::Settings) -> CanaryRunner {
        CanaryRunner {
            scrape_interval: scrape.interval,
            scrape,
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
        let target = match &e {
            CanaryEffect::Prepare { target, .. }
            | CanaryEffect::Start { target, .. }
            | CanaryEffect::ByHand { target, .. } => target.clone(),
        };
        let r = match backend {
            Some(Backend::Kube(r)) => (**r).clone(),
            Some(Backend::Local(_)) => {
                return refused(
                    tx,
                    &target,
                    "canaries run on Kubernetes; the local backend does not run them yet",
                );
            }
            None => return refused(tx, &target, crate::failure::Failure::NoCluster),
        };
        let b = KubeCanary::for_runner(&r, &target, self.scrape);
        let tx = tx.clone();
        let interval = self.scrape_interval;
        self.tasks.retain(|t| !t.is_finished());
        self.tasks.push(tokio::spawn(async move {
            match e {
                CanaryEffect::Prepare { args, analysis, .. } => {
                    prepare(&b, &r, &target, &args, analysis, interval, &tx).await
                }
                CanaryEffect::Start { plan, .. } => {
                    let s = settings(&r, default_ttl(plan.interval));
                    let mut report = progress(&tx, &target);
                    let out = drive::start(&b, *plan, &s, &audit(&r, &target), &mut report).await;
                    ended(&tx, &target, out);
                }
                CanaryEffect::ByHand { promote, .. } => {
                    let s = settings(&r, default_ttl(Duration::from_secs(60)));
                    let mut report = progress(&tx, &target);
                    let out =
                        drive::by_hand(&b, &s, &audit(&r, &target), &mut report, promote).await;
                    ended(&tx, &target, out);
                }
            }
        }));
    }

    /// Stops driving (the canaries stay at their step, for `resume`).
    pub fn stop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
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

async fn prepare(
    b: &KubeCanary,
    r: &Runner,
    target: &Target,
    args: &crate::canary::CanaryArgs,
    analysis: Option<std::path::PathBuf>,
    scrape_interval: Duration,
    tx: &UnboundedSender<AppEvent>,
) {
    if r.read_only {
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
    let lease = match decide_lease(None, &me(&r.user), now, default_ttl(plan.interval)) {
        Ok(l) => l,
        Err(e) => return refused(tx, target, e),
    };
    if let Err(e) = b.dry_run(&state, &lease, sizes[0]).await {
        return refused(tx, target, e);
    }
    let lines = lines::preview(&plan, &target.namespace, &b.canary_name(), stable, &sizes);
    send(
        tx,
        CanaryEvent::Prepared {
            target: target.clone(),
            plan: Box::new(plan),
            lines,
        },
    );
}
