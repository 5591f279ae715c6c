//! Where writes go: a Kubernetes cluster (through the runner: dry run, write, audit) or
//! the local controller. The TUI and its effects do not know which.
use std::sync::Arc;

use crate::action::{Action, Target};
use crate::event::EffectResult;
use crate::k8s::runner::Runner;

#[derive(Clone)]
pub enum Backend {
    Kube(Box<Runner>),
    Local(Arc<crate::local::Handle>),
}

impl Backend {
    pub async fn prepare(&self, t: &Target, a: Action) -> EffectResult {
        match self {
            Backend::Kube(r) => r.prepare(t, a).await,
            Backend::Local(h) => h.prepare(t, a).await,
        }
    }

    pub async fn execute(&self, t: &Target, a: Action) -> EffectResult {
        match self {
            Backend::Kube(r) => r.execute(t, a).await,
            Backend::Local(h) => h.execute(t, a).await,
        }
    }
}
