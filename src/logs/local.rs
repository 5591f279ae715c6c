//! Local mode: a replica's output is its log file (`STATE_DIR/logs/POD.log`). Read from
//! the start (or its last N lines), then, following, as it grows; a file cut short (a new
//! replica of the same name) is read again from its start. `since` goes by the time each
//! line starts with (tractor-serve's do).
use std::io::SeekFrom;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use super::{Line, LogEvent, Options, StreamKey};

/// How often a followed file is looked at for new lines.
const POLL: Duration = Duration::from_millis(200);

pub fn spawn_read(
    path: PathBuf,
    key: StreamKey,
    opts: Options,
    first: bool,
    tx: UnboundedSender<LogEvent>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let cutoff = opts
            .since
            .and_then(|d| jiff::SignedDuration::try_from(d).ok())
            .and_then(|d| jiff::Timestamp::now().checked_sub(d).ok());
        if opts.previous {
            let _ = tx.send(LogEvent::Failed {
                stream: key,
                message: "local replicas are not restarted in place: a replica that died has its own log file".into(),
            });
            return;
        }
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) => {
                let _ = tx.send(LogEvent::Failed {
                    stream: key,
                    message: format!("{}: {e}", path.display()),
                });
                return;
            }
        };
        let _ = tx.send(LogEvent::Opened(key.clone()));
        let mut pos: u64 = 0;
        let mut partial: Vec<u8> = Vec::new();
        let mut start = true;
        loop {
            let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
            if len < pos {
                // cut short: read it again from its start
                pos = 0;
                partial.clear();
            }
            if len > pos {
                let mut buf = Vec::with_capacity((len - pos) as usize);
                if file.seek(SeekFrom::Start(pos)).await.is_err()
                    || file.read_to_end(&mut buf).await.is_err()
                {
                    break;
                }
                pos += buf.len() as u64;
                partial.extend_from_slice(&buf);
                let mut lines = take_lines(&mut partial);
                if start
                    && first
                    && let Some(n) = opts.tail
                {
                    let n = usize::try_from(n).unwrap_or(0);
                    lines = lines.split_off(lines.len().saturating_sub(n));
                }
                if start && let Some(cutoff) = cutoff {
                    match since(lines, cutoff) {
                        Some(kept) => lines = kept,
                        None => {
                            let _ = tx.send(LogEvent::Failed {
                                stream: key,
                                message: "its log file's lines carry no time, so \"since\" is not known: ask for a number of lines (200) or all".into(),
                            });
                            return;
                        }
                    }
                }
                for text in lines {
                    let line = Line {
                        stream: key.clone(),
                        at: None,
                        text,
                    };
                    if tx.send(LogEvent::Line(line)).is_err() {
                        return;
                    }
                }
            }
            start = false;
            if !opts.follow {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                () = tx.closed() => return,
            }
        }
        let _ = tx.send(LogEvent::Closed(key));
    })
}

/// The lines from the first one stamped at or after `cutoff` (a line that starts with an
/// RFC 3339 time, as tractor-serve's do; an unstamped line goes with the one before it);
/// `None` when there are lines and none carries a time.
fn since(lines: Vec<String>, cutoff: jiff::Timestamp) -> Option<Vec<String>> {
    let stamp = |l: &str| super::text::split_timestamp(&super::text::clean(l)).0;
    if !lines.is_empty() && !lines.iter().any(|l| stamp(l).is_some()) {
        return None;
    }
    let from = lines
        .iter()
        .position(|l| stamp(l).is_some_and(|at| at >= cutoff))
        .unwrap_or(lines.len());
    Some(lines[from..].to_vec())
}

/// The whole lines at the front of `buf` (without their newline); the rest stays.
fn take_lines(buf: &mut Vec<u8>) -> Vec<String> {
    let Some(last) = buf.iter().rposition(|b| *b == b'\n') else {
        return Vec::new();
    };
    let rest = buf.split_off(last + 1);
    let whole = std::mem::replace(buf, rest);
    whole[..whole.len() - 1]
        .split(|b| *b == b'\n')
        .map(|l| String::from_utf8_lossy(l.strip_suffix(b"\r").unwrap_or(l)).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> StreamKey {
        StreamKey {
            namespace: "local".into(),
            pod: "r".into(),
            container: "server".into(),
            restarts: 0,
            revision: Some(1),
            alone: true,
        }
    }

    #[test]
    fn whole_lines_are_taken_and_the_rest_kept() {
        let mut b = b"one\ntwo\r\nthr".to_vec();
        assert_eq!(take_lines(&mut b), vec!["one", "two"]);
        assert_eq!(b, b"thr");
        assert!(take_lines(&mut b).is_empty());
        b.extend_from_slice(b"ee\n");
        assert_eq!(take_lines(&mut b), vec!["three"]);
        assert!(b.is_empty());
    }

    #[tokio::test]
    async fn a_followed_file_is_read_as_it_grows_with_its_tail_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.log");
        std::fs::write(&path, "a\nb\nc\n").unwrap();
        let key = key();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let opts = Options {
            follow: true,
            tail: Some(2),
            ..Options::default()
        };
        let task = spawn_read(path.clone(), key.clone(), opts, true, tx);
        let mut next_line = async || loop {
            match rx.recv().await.unwrap() {
                LogEvent::Line(l) => return l.text,
                LogEvent::Opened(_) => {}
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(next_line().await, "b");
        assert_eq!(next_line().await, "c");
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"d\n"))
            .unwrap();
        assert_eq!(next_line().await, "d");
        task.abort();
    }

    #[test]
    fn since_keeps_the_lines_from_the_first_stamped_at_or_after_the_cutoff() {
        let cutoff: jiff::Timestamp = "2026-12-01T04:00:00Z".parse().unwrap();
        let lines = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let log = lines(&[
            "2026-12-01T03:59:59.5Z  INFO old",
            "  an unstamped continuation of the old one",
            "\u{1b}[2m2026-12-01T04:00:01Z\u{1b}[0m  INFO new",
            "  its continuation",
            "2026-12-01T04:00:02Z  WARN newer",
        ]);
        assert_eq!(since(log.clone(), cutoff).unwrap(), log[2..].to_vec());
        let later: jiff::Timestamp = "2026-12-01T05:00:00Z".parse().unwrap();
        assert_eq!(since(log, later), Some(vec![]));
        assert_eq!(since(lines(&["no time here"]), cutoff), None);
        assert_eq!(since(vec![], cutoff), Some(vec![]));
    }

    #[tokio::test]
    async fn since_is_refused_by_name_when_the_lines_carry_no_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.log");
        std::fs::write(&path, "a line without a time\n").unwrap();
        let key = key();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let opts = Options {
            since: Some(Duration::from_secs(300)),
            ..Options::default()
        };
        spawn_read(path, key, opts, true, tx).await.unwrap();
        assert!(matches!(rx.recv().await, Some(LogEvent::Opened(_))));
        match rx.recv().await {
            Some(LogEvent::Failed { message, .. }) => {
                assert!(message.contains("\"since\" is not known"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        assert!(rx.recv().await.is_none(), "no line is read");
    }
}
