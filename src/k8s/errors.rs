//! API errors as sentences an operator can act on: each becomes a typed [`Failure`]
//! (its message and exit code live there).
pub use crate::failure::{Call, Failure};

/// Describes `e` for `verb` on `resource` (e.g. "patch", "deployments.apps").
pub fn describe(
    e: &kube::Error,
    user: &str,
    verb: &str,
    resource: &str,
    namespace: &str,
    name: &str,
) -> Failure {
    let call = Box::new(Call {
        verb: verb.into(),
        resource: resource.into(),
        namespace: namespace.into(),
        name: name.into(),
    });
    match e {
        kube::Error::Api(s) => {
            let detail = s.message.clone();
            match s.code {
                403 => Failure::Forbidden {
                    user: user.into(),
                    call,
                    detail,
                },
                404 => Failure::NotFound { call },
                409 => Failure::Conflict { call, detail },
                code @ (400 | 422) => Failure::Invalid { call, code, detail },
                code => Failure::Api { call, code, detail },
            }
        }
        other => Failure::Transport {
            call,
            detail: other.to_string(),
        },
    }
}

pub fn is_forbidden(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 403)
}
