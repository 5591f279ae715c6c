//! A Helm release's revisions for the note a direct write's preview carries, read from
//! Helm's own storage: its release Secrets, by their labels only (`owner=helm`, `name`,
//! `version`, `status`, `modifiedAt`). A metadata list: the release payloads (the whole
//! rendered chart, compressed) are never fetched, and no `helm` binary is needed.
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::ListParams;
use kube::{Api, Client};

/// One revision of a release, as Helm labels its Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub number: i64,
    /// `deployed`, `superseded`, `failed`, `pending-upgrade`...
    pub status: String,
}

/// Why the revisions could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevisionsError {
    #[error("this user may not list Secrets in {namespace}, where Helm keeps the release")]
    Forbidden { namespace: String },
    #[error("listing Helm's release Secrets in {namespace}: {message}")]
    Api { namespace: String, message: String },
}

/// The release's revisions, newest first.
pub async fn revisions(
    client: &Client,
    namespace: &str,
    release: &str,
) -> Result<Vec<Revision>, RevisionsError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let lp = ListParams::default().labels(&format!("owner=helm,name={release}"));
    match api.list_metadata(&lp).await {
        Ok(list) => Ok(from_secrets(list.items.iter().map(|m| &m.metadata))),
        Err(e) if super::errors::is_forbidden(&e) => Err(RevisionsError::Forbidden {
            namespace: namespace.into(),
        }),
        Err(e) => Err(RevisionsError::Api {
            namespace: namespace.into(),
            message: e.to_string(),
        }),
    }
}

/// The revisions the Secrets' labels name, newest first; a Secret without a readable
/// `version` label is not one of Helm's and is skipped.
pub fn from_secrets<'a>(metas: impl IntoIterator<Item = &'a ObjectMeta>) -> Vec<Revision> {
    let mut out: Vec<Revision> = metas
        .into_iter()
        .filter_map(|m| {
            let labels = m.labels.as_ref()?;
            Some(Revision {
                number: labels.get("version")?.parse().ok()?,
                status: labels.get("status").cloned().unwrap_or_else(|| "-".into()),
            })
        })
        .collect();
    out.sort_by_key(|r| std::cmp::Reverse(r.number));
    out
}

/// Revisions listed in the note at most (the newest).
const SHOWN: usize = 6;

/// The preview's note: the revisions, newest first, and the command that goes back one;
/// or why they are not shown, and how to see them.
pub fn note(
    release: &str,
    namespace: &str,
    revisions: &Result<Vec<Revision>, RevisionsError>,
) -> String {
    let history = format!("helm history {release} -n {namespace}");
    match revisions {
        Err(e) => format!("release {release}'s revisions are not shown: {e} ({history})"),
        Ok(rs) if rs.is_empty() => format!(
            "release {release} has no revision Secrets in {namespace} (Helm may be keeping it in ConfigMaps): {history}"
        ),
        Ok(rs) => {
            let listed: Vec<String> = rs
                .iter()
                .take(SHOWN)
                .map(|r| format!("{} {}", r.number, r.status))
                .collect();
            let more = rs
                .len()
                .checked_sub(SHOWN)
                .filter(|n| *n > 0)
                .map(|n| format!(" · {n} older"))
                .unwrap_or_default();
            let deployed = rs
                .iter()
                .filter(|r| r.status == "deployed")
                .map(|r| r.number)
                .max();
            let back = deployed
                .and_then(|d| rs.iter().map(|r| r.number).filter(|n| *n < d).max())
                .map(|to| format!("; back one: helm rollback {release} {to} -n {namespace}"))
                .unwrap_or_default();
            format!(
                "release {release}'s revisions, newest first: {}{more}{back}",
                listed.join(" · ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn secret(labels: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn revisions_come_from_the_labels_newest_first_and_the_note_names_the_way_back() {
        let metas = [
            secret(&[
                ("owner", "helm"),
                ("name", "web"),
                ("version", "2"),
                ("status", "superseded"),
            ]),
            secret(&[
                ("owner", "helm"),
                ("name", "web"),
                ("version", "3"),
                ("status", "deployed"),
            ]),
            secret(&[
                ("owner", "helm"),
                ("name", "web"),
                ("version", "1"),
                ("status", "superseded"),
            ]),
            // not Helm's: no version
            secret(&[("owner", "helm"), ("name", "web")]),
        ];
        let rs = from_secrets(&metas);
        let numbers: Vec<i64> = rs.iter().map(|r| r.number).collect();
        assert_eq!(numbers, [3, 2, 1]);
        assert_eq!(
            note("web", "ml", &Ok(rs)),
            "release web's revisions, newest first: 3 deployed · 2 superseded · 1 superseded; back one: helm rollback web 2 -n ml"
        );
    }

    #[test]
    fn a_long_history_is_cut_and_a_rolled_back_release_goes_back_below_the_deployed_one() {
        // revision 9 (deployed) was a rollback to 4; back one from 9 is 8
        let rs: Vec<Revision> = (1..=9)
            .rev()
            .map(|n| Revision {
                number: n,
                status: if n == 9 { "deployed" } else { "superseded" }.into(),
            })
            .collect();
        let text = note("web", "ml", &Ok(rs));
        assert!(text.contains("9 deployed · 8 superseded"), "{text}");
        assert!(text.contains("4 superseded · 3 older"), "{text}");
        assert!(text.ends_with("helm rollback web 8 -n ml"), "{text}");
        // nothing deployed (a failed first install): no command is offered
        let failed = vec![Revision {
            number: 1,
            status: "failed".into(),
        }];
        assert_eq!(
            note("web", "ml", &Ok(failed)),
            "release web's revisions, newest first: 1 failed"
        );
    }

    #[test]
    fn what_is_said_when_the_revisions_cannot_be_read() {
        let forbidden = Err(RevisionsError::Forbidden {
            namespace: "ml".into(),
        });
        assert_eq!(
            note("web", "ml", &forbidden),
            "release web's revisions are not shown: this user may not list Secrets in ml, where Helm keeps the release (helm history web -n ml)"
        );
        assert!(note("web", "ml", &Ok(vec![])).contains("ConfigMaps"));
    }
}
