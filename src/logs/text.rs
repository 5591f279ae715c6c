//! A log line's words: the timestamp the API server puts in front (asked for always, shown
//! when wanted), the prefix naming its pod (and container when the pod has several), a
//! colour per pod that stays the same while it lives (stern's way), and the JSON line of
//! `tractor logs -o json`.
use jiff::Timestamp;

use super::{Line, StreamKey};

/// Splits `2026-11-30T03:00:00.123456789Z text` into its time and its text; a line without
/// one is all text.
pub fn split_timestamp(raw: &str) -> (Option<Timestamp>, &str) {
    if let Some((head, rest)) = raw.split_once(' ')
        && let Ok(at) = head.parse::<Timestamp>()
    {
        return (Some(at), rest);
    }
    (None, raw)
}

/// A line made safe to draw: colour and cursor sequences (`ESC [ … letter`) and other
/// control characters taken out, a tab made spaces. What a container prints must not
/// move the console's cursor or change its colours.
pub fn clean(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    // parameters and intermediates, up to the final byte
                    for f in chars.by_ref() {
                        if ('\x40'..='\x7e').contains(&f) {
                            break;
                        }
                    }
                }
            }
            '\t' => out.push_str("    "),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `pod`, or `pod/container` when the pod has several; `(previous)` marks a terminated
/// run's output.
pub fn prefix(k: &StreamKey, previous: bool) -> String {
    let mut p = if k.alone {
        k.pod.clone()
    } else {
        format!("{}/{}", k.pod, k.container)
    };
    if previous {
        p.push_str(" (previous)");
    }
    p
}

/// A pod's colour, one of `n`: the same pod name always gets the same one.
pub fn colour_index(pod: &str, n: usize) -> usize {
    // FNV-1a: stable across runs and platforms (std's hasher is seeded per process)
    let mut h: u64 = 0xcbf29ce484222325;
    for b in pod.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    (h % n.max(1) as u64) as usize
}

/// `{"namespace":…,"pod":…,"container":…,"revision":…,"time":…,"line":…}`.
pub fn json(l: &Line) -> serde_json::Value {
    serde_json::json!({
        "namespace": l.stream.namespace,
        "pod": l.stream.pod,
        "container": l.stream.container,
        "revision": l.stream.revision,
        "time": l.at.map(|t| t.to_string()),
        "line": l.text,
    })
}

/// A line as `tractor logs` prints it: the prefix padded to `width`, the time if asked.
pub fn plain(l: &Line, prefix: &str, width: usize, timestamps: bool) -> String {
    match (timestamps, l.at) {
        (true, Some(at)) => format!("{prefix:<width$} {} {}", at, l.text),
        _ => format!("{prefix:<width$} {}", l.text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(pod: &str) -> StreamKey {
        StreamKey {
            namespace: "ns".into(),
            pod: pod.into(),
            container: "server".into(),
            restarts: 0,
            revision: Some(3),
            alone: true,
        }
    }

    #[test]
    fn timestamps_are_split_off_when_there() {
        let (at, text) = split_timestamp("2026-11-30T03:00:00.123456789Z listening on :8080");
        assert_eq!(at.unwrap().to_string(), "2026-11-30T03:00:00.123456789Z");
        assert_eq!(text, "listening on :8080");
        assert_eq!(split_timestamp("no time here"), (None, "no time here"));
        assert_eq!(split_timestamp(""), (None, ""));
        assert_eq!(
            split_timestamp("2026-13-45T99 bad"),
            (None, "2026-13-45T99 bad")
        );
    }

    #[test]
    fn control_sequences_are_taken_out() {
        assert_eq!(
            clean("\x1b[31merror\x1b[0m: bad\tinput\r"),
            "error: bad    input"
        );
        assert_eq!(clean("bell\x07 and \x1b[2J\x1b[Hclear"), "bell and clear");
        assert_eq!(clean("plain ünïcode ✓"), "plain ünïcode ✓");
        assert_eq!(clean("\x1b"), "");
    }

    #[test]
    fn prefixes_colours_and_json() {
        let k = key("web-7d9-abc");
        assert_eq!(prefix(&k, false), "web-7d9-abc");
        let two = StreamKey {
            alone: false,
            ..k.clone()
        };
        assert_eq!(prefix(&two, true), "web-7d9-abc/server (previous)");
        assert_eq!(
            colour_index("web-7d9-abc", 6),
            colour_index("web-7d9-abc", 6)
        );
        let spread: std::collections::BTreeSet<usize> = (0..40)
            .map(|i| colour_index(&format!("web-{i}"), 6))
            .collect();
        assert!(spread.len() >= 5, "{spread:?}");
        assert_eq!(colour_index("x", 0), 0);
        let l = Line {
            stream: k,
            at: "2026-11-30T03:00:00Z".parse().ok(),
            text: "ready".into(),
        };
        assert_eq!(
            json(&l),
            serde_json::json!({"container": "server", "line": "ready", "namespace": "ns",
                "pod": "web-7d9-abc", "revision": 3, "time": "2026-11-30T03:00:00Z"})
        );
        assert_eq!(plain(&l, "web", 5, false), "web   ready");
        assert_eq!(plain(&l, "web", 3, true), "web 2026-11-30T03:00:00Z ready");
    }
}
