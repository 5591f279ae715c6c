//! The lines a logs view keeps: the newest `cap`, oldest dropped first (and counted), so a
//! chatty deployment followed for hours holds bounded memory.
use std::collections::VecDeque;

use super::Line;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ring {
    lines: VecDeque<Line>,
    cap: usize,
    /// Lines dropped to stay within `cap`.
    pub dropped: u64,
}

impl Ring {
    pub fn new(cap: usize) -> Ring {
        Ring {
            lines: VecDeque::new(),
            cap: cap.max(1),
            dropped: 0,
        }
    }

    pub fn push(&mut self, l: Line) {
        if self.lines.len() == self.cap {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back(l);
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Line> + ExactSizeIterator {
        self.lines.iter()
    }

    pub fn clear(&mut self) {
        self.lines.clear();
        self.dropped = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::StreamKey;

    fn line(i: usize) -> Line {
        Line {
            stream: StreamKey {
                namespace: "ns".into(),
                pod: "p".into(),
                container: "c".into(),
                restarts: 0,
                revision: None,
                alone: true,
            },
            at: None,
            text: i.to_string(),
        }
    }

    #[test]
    fn the_oldest_lines_go_first_and_are_counted() {
        let mut r = Ring::new(3);
        for i in 0..5 {
            r.push(line(i));
        }
        let kept: Vec<&str> = r.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(kept, ["2", "3", "4"]);
        assert_eq!((r.len(), r.dropped), (3, 2));
        r.clear();
        assert!(r.is_empty() && r.dropped == 0);
        assert_eq!(Ring::new(0).cap, 1);
    }
}
