//! Which serving pods a scrape round reaches. While there are at most `scrape.max_pods`
//! of them, all; beyond that, only the pods of the deployment in view (the one open, or
//! the one the cursor is on), at most `max_pods`, and the console says so. 10,000 serving
//! pods scraped through the API server every 5 s would be 2,000 requests a second from
//! one console, for figures only one deployment's screen shows.
use crate::model::Key;

/// A serving pod as a scrape needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodTarget {
    pub port: u16,
    pub ip: Option<String>,
    /// The Deployment it belongs to, when a ReplicaSet of one owns it.
    pub deployment: Option<String>,
}

/// The deployments in view (the one open or under the cursor, and its canary), from the
/// UI loop to the scrape source.
pub type Focus = tokio::sync::watch::Receiver<Vec<Key>>;

/// What a round scrapes, out of how many serving pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScrapeScope {
    pub scraped: usize,
    pub serving: usize,
}

impl ScrapeScope {
    /// Fewer pods scraped than serve.
    pub fn limited(&self) -> bool {
        self.scraped < self.serving
    }
}

/// The pods to scrape out of `all`: every one while there are at most `max_pods`,
/// otherwise those of the deployments in `focus`, at most `max_pods` of them.
pub fn choose(
    all: Vec<(Key, PodTarget)>,
    max_pods: usize,
    focus: &[Key],
) -> (Vec<(Key, PodTarget)>, ScrapeScope) {
    let serving = all.len();
    let chosen: Vec<(Key, PodTarget)> = if serving <= max_pods {
        all
    } else {
        all.into_iter()
            .filter(|(k, t)| {
                focus
                    .iter()
                    .any(|(ns, d)| k.0 == *ns && t.deployment.as_deref() == Some(d))
            })
            .take(max_pods)
            .collect()
    };
    let scope = ScrapeScope {
        scraped: chosen.len(),
        serving,
    };
    (chosen, scope)
}

/// The Deployment a pod belongs to, by its ReplicaSet's name: the Deployment controller
/// names a ReplicaSet `DEPLOYMENT-HASH`, HASH being the pod's `pod-template-hash` label.
pub fn deployment_of(rs: &str, template_hash: Option<&str>) -> Option<String> {
    let hash = template_hash?;
    let name = rs.strip_suffix(hash)?.strip_suffix('-')?;
    (!name.is_empty()).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(deployment: &str) -> PodTarget {
        PodTarget {
            port: 8080,
            ip: Some("127.0.0.1".into()),
            deployment: Some(deployment.into()),
        }
    }

    fn pods(n: usize) -> Vec<(Key, PodTarget)> {
        (0..n)
            .map(|i| {
                let d = format!("model-{}", i % 4);
                (("ns".into(), format!("{d}-abc-{i}")), target(&d))
            })
            .collect()
    }

    #[test]
    fn all_pods_up_to_the_limit_then_the_deployment_in_view() {
        let (all, scope) = choose(pods(8), 8, &[]);
        assert_eq!((all.len(), scope.limited()), (8, false));

        let focus = [("ns".to_string(), "model-1".to_string())];
        let (some, scope) = choose(pods(40), 8, &focus);
        assert_eq!(
            scope,
            ScrapeScope {
                scraped: 8,
                serving: 40
            }
        );
        assert!(scope.limited());
        assert!(
            some.iter()
                .all(|(_, t)| t.deployment.as_deref() == Some("model-1"))
        );

        let (few, _) = choose(pods(40), 20, &focus);
        assert_eq!(few.len(), 10, "model-1 has 10 of the 40 pods");

        // the deployment in view and its canary
        let two = [
            ("ns".to_string(), "model-1".to_string()),
            ("ns".to_string(), "model-3".to_string()),
        ];
        assert_eq!(choose(pods(40), 30, &two).0.len(), 20);

        let (none, scope) = choose(pods(40), 8, &[]);
        assert!(none.is_empty() && scope.serving == 40);

        let other_ns = [("prod".to_string(), "model-1".to_string())];
        assert!(choose(pods(40), 8, &other_ns).0.is_empty());
    }

    #[test]
    fn the_deployment_is_the_replicaset_name_less_the_template_hash() {
        let cases = [
            ("web-7d9f8c", Some("7d9f8c"), Some("web")),
            ("my-model-v2-5b6c7", Some("5b6c7"), Some("my-model-v2")),
            ("web-7d9f8c", None, None),
            ("web-7d9f8c", Some("aaaa"), None),
            ("-7d9f8c", Some("7d9f8c"), None),
            ("web7d9f8c", Some("7d9f8c"), None),
        ];
        for (rs, hash, want) in cases {
            assert_eq!(
                deployment_of(rs, hash).as_deref(),
                want,
                "{rs} with hash {hash:?}"
            );
        }
    }
}
