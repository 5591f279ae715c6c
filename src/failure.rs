//! Why an effect failed, typed to the edge: the message an operator reads and the exit
//! code a subcommand returns are both decided here, once.
use std::fmt;
use std::path::PathBuf;

use crate::cli::exit;
use crate::decide::Refusal;

/// An API call, as the messages name it (boxed in a `Failure`, which stays small).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// e.g. `patch`
    pub verb: String,
    /// e.g. `deployments.apps`
    pub resource: String,
    pub namespace: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// RBAC forbids the call (403).
    Forbidden {
        user: String,
        call: Box<Call>,
        detail: String,
    },
    /// The object is not there (404).
    NotFound { call: Box<Call> },
    /// The object changed under the write (409).
    Conflict { call: Box<Call>, detail: String },
    /// The API server rejected the request as invalid (400, 422).
    Invalid {
        call: Box<Call>,
        code: u16,
        detail: String,
    },
    /// Any other status from the API server.
    Api {
        call: Box<Call>,
        code: u16,
        detail: String,
    },
    /// No answer from the API server.
    Transport { call: Box<Call>, detail: String },
    /// The console or context is read-only: nothing was sent.
    ReadOnly { verb: &'static str },
    /// The write rules refuse the action (see `decide`).
    Refused(Refusal),
    /// The write happened, but its audit line could not be written.
    Audit { path: PathBuf, detail: String },
    /// The local backend could not save its spec: nothing changed.
    Save(crate::local::spec::StoreError),
    /// The local spec has no current revision.
    NoCurrentRevision,
    /// The local controller is gone.
    Stopped,
    /// The console was started without a cluster.
    NoCluster,
    /// `helm` could not preview or run a release's rollback.
    Helm(crate::k8s::helm::HelmError),
}

impl Failure {
    /// How a subcommand exits for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Forbidden { .. } => exit::FORBIDDEN,
            Failure::ReadOnly { .. } => exit::REFUSED,
            _ => exit::FAILED,
        }
    }
}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Failure {
        Failure::Refused(r)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Forbidden { user, call, detail } => write!(
                f,
                "forbidden: user \"{user}\" may not {} {} in namespace \"{}\" (RBAC); ask for a role that allows it. API server said: {detail}",
                call.verb, call.resource, call.namespace
            ),
            Failure::NotFound { call } => write!(
                f,
                "{} \"{}\" not found in namespace \"{}\"",
                call.resource, call.name, call.namespace
            ),
            Failure::Conflict { call, detail } => write!(
                f,
                "conflict: {} \"{}\" changed while tractor was writing; look again and retry ({detail})",
                call.resource, call.name
            ),
            Failure::Invalid { call, code, detail } | Failure::Api { call, code, detail } => {
                write!(
                    f,
                    "{} {} \"{}\": {detail} ({code})",
                    call.verb, call.resource, call.name
                )
            }
            Failure::Transport { call, detail } => write!(
                f,
                "{} {} \"{}\": cannot reach the API server: {detail}",
                call.verb, call.resource, call.name
            ),
            Failure::ReadOnly { verb } => write!(f, "read-only: {verb} refused; nothing was sent"),
            Failure::Refused(r) => r.fmt(f),
            Failure::Audit { path, detail } => write!(
                f,
                "the change WAS applied, but the audit log {} could not be written: {detail}",
                path.display()
            ),
            Failure::Save(e) => write!(f, "nothing changed: cannot save the local deployment: {e}"),
            Failure::NoCurrentRevision => {
                write!(f, "the local deployment has no current revision")
            }
            Failure::Stopped => write!(f, "the local controller has stopped"),
            Failure::NoCluster => write!(
                f,
                "no cluster: this console was started without one (loadtest without --deploy)"
            ),
            Failure::Helm(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Failure::Refused(r) => Some(r),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> Box<Call> {
        Box::new(Call {
            verb: "patch".into(),
            resource: "deployments.apps".into(),
            namespace: "ml".into(),
            name: "web".into(),
        })
    }

    #[test]
    fn messages_and_exit_codes_in_one_place() {
        let forbidden = Failure::Forbidden {
            user: "alice".into(),
            call: call(),
            detail: "no".into(),
        };
        assert!(
            forbidden.to_string().starts_with(
                "forbidden: user \"alice\" may not patch deployments.apps in namespace \"ml\""
            ),
            "{forbidden}"
        );
        assert_eq!(forbidden.exit_code(), exit::FORBIDDEN);
        let ro = Failure::ReadOnly { verb: "restart" };
        assert_eq!(
            ro.to_string(),
            "read-only: restart refused; nothing was sent"
        );
        assert_eq!(ro.exit_code(), exit::REFUSED);
        let refused = Failure::from(Refusal::NoRevision(9));
        assert_eq!(
            refused.to_string(),
            "unable to find specified revision 9 in history"
        );
        assert_eq!(refused.exit_code(), exit::FAILED);
        let nf = Failure::NotFound { call: call() };
        assert_eq!(
            nf.to_string(),
            "deployments.apps \"web\" not found in namespace \"ml\""
        );
        assert_eq!(nf.exit_code(), exit::FAILED);
    }
}
