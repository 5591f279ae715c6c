//! The logs view's state: which deployment and which of its containers, the lines kept (a
//! bounded ring), and how they are shown (wrap, timestamps, following or scrolled back,
//! the view's filter as a regular expression, or as plain text when it is not one).
use std::collections::{BTreeMap, BTreeSet};

use crate::logs::range::Range;
use crate::logs::ring::Ring;
use crate::logs::{Filter, Line, StreamKey};
use crate::model::Key;

#[derive(Debug, Clone, PartialEq)]
pub struct LogsView {
    pub target: Key,
    pub filter: Filter,
    /// Show the last terminated runs instead of the running ones.
    pub previous: bool,
    /// How far back each container is read when its stream opens.
    pub range: Range,
    pub ring: Ring,
    pub wrap: bool,
    pub timestamps: bool,
    /// Lines from the bottom the view is scrolled back (0: following the newest).
    pub scroll: usize,
    /// Not following: new lines do not move the view.
    pub paused: bool,
    /// The containers asked of the runner last.
    pub want: BTreeSet<StreamKey>,
    /// Those whose stream is open now.
    pub open: BTreeSet<StreamKey>,
    /// Streams that could not be read, and why.
    pub failures: BTreeMap<StreamKey, String>,
    /// Why nothing can be selected (a revision or pod that went away).
    pub error: Option<String>,
}

impl LogsView {
    pub fn new(target: Key, filter: Filter, lines: usize, range: Range) -> LogsView {
        LogsView {
            target,
            filter,
            previous: false,
            range,
            ring: Ring::new(lines),
            wrap: false,
            timestamps: false,
            scroll: 0,
            paused: false,
            want: BTreeSet::new(),
            open: BTreeSet::new(),
            failures: BTreeMap::new(),
            error: None,
        }
    }

    /// What the view shows of its target: `all pods`, `revision 3`, `pod NAME`.
    pub fn scope(&self) -> String {
        match (&self.filter.pod, self.filter.revision) {
            (Some(p), _) => format!("pod {p}"),
            (None, Some(r)) => format!("revision {r}"),
            (None, None) => "all pods".into(),
        }
    }
}

/// The view's `/` filter: a regular expression, or (when it is not one) the text itself.
pub enum Matcher {
    All,
    Regex(regex::Regex),
    Text(String),
}

impl Matcher {
    pub fn new(filter: &str) -> Matcher {
        if filter.is_empty() {
            return Matcher::All;
        }
        match regex::Regex::new(filter) {
            Ok(r) => Matcher::Regex(r),
            Err(_) => Matcher::Text(filter.to_string()),
        }
    }

    pub fn matches(&self, l: &Line) -> bool {
        match self {
            Matcher::All => true,
            Matcher::Regex(r) => r.is_match(&l.text) || r.is_match(&l.stream.pod),
            Matcher::Text(t) => l.text.contains(t.as_str()) || l.stream.pod.contains(t.as_str()),
        }
    }

    /// Whether the filter was taken as plain text (it is not a valid regular expression).
    pub fn is_text(&self) -> bool {
        matches!(self, Matcher::Text(_))
    }
}

/// The lines matching `m`, oldest first.
pub fn visible<'a>(v: &'a LogsView, m: &Matcher) -> Vec<&'a Line> {
    v.ring.iter().filter(|l| m.matches(l)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(pod: &str, text: &str) -> Line {
        Line {
            stream: StreamKey {
                namespace: "ns".into(),
                pod: pod.into(),
                container: "server".into(),
                restarts: 0,
                revision: Some(1),
                alone: true,
            },
            at: None,
            text: text.into(),
        }
    }

    #[test]
    fn the_filter_is_a_regex_or_else_plain_text() {
        let mut v = LogsView::new(
            ("ns".into(), "web".into()),
            Filter::default(),
            10,
            Range::Tail(500),
        );
        for (p, t) in [
            ("web-a", "GET /predict 200"),
            ("web-b", "error: model (v2) failed"),
            ("web-a", "ready"),
        ] {
            v.ring.push(line(p, t));
        }
        let texts = |f: &str| -> Vec<String> {
            visible(&v, &Matcher::new(f))
                .iter()
                .map(|l| l.text.clone())
                .collect()
        };
        assert_eq!(texts("").len(), 3);
        assert_eq!(texts("^(GET|ready)"), ["GET /predict 200", "ready"]);
        // not a regex: taken as text, parentheses and all
        assert!(Matcher::new("(v2").is_text());
        assert_eq!(texts("(v2"), ["error: model (v2) failed"]);
        // the pod name matches too
        assert_eq!(texts("web-b"), ["error: model (v2) failed"]);
        assert_eq!(v.scope(), "all pods");
    }
}
