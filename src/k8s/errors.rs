//! API errors as sentences an operator can act on.

/// What went wrong, and how a subcommand exits for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Forbidden(String),
    NotFound(String),
    Other(String),
}

impl Failure {
    pub fn message(&self) -> &str {
        match self {
            Failure::Forbidden(m) | Failure::NotFound(m) | Failure::Other(m) => m,
        }
    }
}

/// Describes `e` for `verb` on `resource` (e.g. "patch", "deployments.apps").
pub fn describe(
    e: &kube::Error,
    user: &str,
    verb: &str,
    resource: &str,
    namespace: &str,
    name: &str,
) -> Failure {
    match e {
        kube::Error::Api(s) if s.code == 403 => Failure::Forbidden(format!(
            "forbidden: user \"{user}\" may not {verb} {resource} in namespace \"{namespace}\" (RBAC); ask for a role that allows it. API server said: {}",
            s.message
        )),
        kube::Error::Api(s) if s.code == 404 => Failure::NotFound(format!(
            "{resource} \"{name}\" not found in namespace \"{namespace}\""
        )),
        kube::Error::Api(s) if s.code == 409 => Failure::Other(format!(
            "conflict: {resource} \"{name}\" changed while tractor was writing; look again and retry ({})",
            s.message
        )),
        kube::Error::Api(s) => Failure::Other(format!(
            "{verb} {resource} \"{name}\": {} ({})",
            s.message, s.code
        )),
        other => Failure::Other(format!(
            "{verb} {resource} \"{name}\": cannot reach the API server: {other}"
        )),
    }
}

pub fn is_forbidden(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 403)
}
