//! The console's load prompt: one line of `tractor loadtest` flags, split shell-like
//! (quotes allowed) and parsed into a [`LoadPlan`]; and the line for a plan's flags.
use clap::Parser;

pub use super::flags::{words_of, worker_words};
use super::plan::{LoadPlan, PlanError};
use super::words::{self, SplitError};
use crate::cli::LoadtestArgs;

/// What is wrong with a typed line.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("{0}")]
    Split(#[from] SplitError),
    /// clap's message without the usage lines, naming the flag that was wrong.
    #[error("{0}")]
    Flags(String),
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// A load test typed in the console: the flags of `tractor loadtest`.
#[derive(Debug, Parser)]
#[command(name = "load", no_binary_name = true, disable_help_flag = true)]
struct LoadLine {
    #[command(flatten)]
    args: LoadtestArgs,
}

/// Parses `--url URL --rate 100 --duration 60s --body "/tmp/a b.json" ...`.
pub fn parse_args(line: &str) -> Result<LoadtestArgs, LineError> {
    let words = words::split(line)?;
    LoadLine::try_parse_from(words)
        .map(|l| l.args)
        .map_err(|e| LineError::Flags(clap_message(&e)))
}

/// [`parse_args`], then checked into a plan.
pub fn parse(line: &str) -> Result<LoadPlan, LineError> {
    Ok(LoadPlan::from_args(&parse_args(line)?)?)
}

fn clap_message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let words: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if words.is_empty() {
        "invalid load test flags".to_string()
    } else {
        words.join(" ").trim_start_matches("error: ").to_string()
    }
}

/// [`words_of`] as one line, quoted where needed.
pub fn to_line(a: &LoadtestArgs) -> String {
    words::join(&words_of(a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::engine::Mode;
    use std::time::Duration;

    #[test]
    fn a_body_path_with_a_space_reaches_the_engine() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a b.json");
        std::fs::write(&path, br#"{"inputs": []}"#).unwrap();
        let line = format!(
            r#"--url http://127.0.0.1:9/ --rate 5 --duration 10s --body "{}""#,
            path.display()
        );
        let plan = parse(&line).unwrap();
        assert_eq!(plan.body.as_deref(), Some(path.as_path()));
        let engine = plan.engine_plan().unwrap();
        assert_eq!(engine.method, http::Method::POST);
        assert_eq!(&engine.body[..], br#"{"inputs": []}"#);
        assert_eq!(engine.content_type.as_deref(), Some("application/json"));
        // and the line made from the flags reads back the same
        let again = parse(&to_line(&parse_args(&line).unwrap())).unwrap();
        assert_eq!(again, plan);
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let table = [
            ("--rate 10", "--url"),
            (
                "--url http://127.0.0.1:9/ --rate 5 --body \"/tmp/x",
                "unclosed \" quote",
            ),
            (
                "--url http://127.0.0.1:9/ --rate 5 --duration 0s",
                "--duration must be more than 0",
            ),
            (
                "--url ftp://127.0.0.1:9/ --rate 5",
                "https://HOST:PORT/PATH",
            ),
            (
                "--url http://127.0.0.1:9/ --rate 5 --frobnicate",
                "--frobnicate",
            ),
        ];
        for (line, frag) in table {
            let e = parse(line).unwrap_err().to_string();
            assert!(e.contains(frag), "{line}: {e}");
            assert!(!e.contains("Usage"), "{e}");
        }
    }

    #[test]
    fn flags_become_the_plan() {
        let p = parse(
            "--url http://127.0.0.1:9/ --concurrency 4 --requests 100 --timeout 2s \
             --slo-p99 250ms --slo-error-rate 1% --json out.json --http2 --cacert ca.pem --insecure",
        )
        .unwrap();
        assert_eq!(
            p.tls.cacert.as_deref(),
            Some(std::path::Path::new("ca.pem"))
        );
        assert!(p.tls.insecure);
        let args = parse_args(&to_line(
            &parse_args("--url https://127.0.0.1:9/ --rate 5 --cacert ca.pem --insecure").unwrap(),
        ))
        .unwrap();
        assert_eq!(
            args.tls.cacert.as_deref(),
            Some(std::path::Path::new("ca.pem"))
        );
        assert!(args.tls.insecure);
        assert_eq!(p.mode, Mode::Closed { concurrency: 4 });
        assert_eq!(p.max_requests, Some(100));
        assert_eq!(p.timeout, Duration::from_secs(2));
        assert_eq!((p.slo.p99_ms, p.slo.error_rate), (Some(250.0), Some(0.01)));
        assert_eq!(p.json.as_deref(), Some(std::path::Path::new("out.json")));
        assert!(p.http2 && p.body.is_none());
        assert_eq!(p.max_lag, crate::load::health::DEFAULT_MAX_LAG);
        // the lag limit survives the prompt's prefill, to the microsecond
        let args = parse_args(&to_line(
            &parse_args("--url http://127.0.0.1:9/ --rate 5 --max-lag 0.25ms").unwrap(),
        ))
        .unwrap();
        assert_eq!(args.max_lag, Duration::from_micros(250));
        // so does the senders' priority; auto is the default and left unsaid
        use crate::load::engine::SenderPriority;
        assert_eq!(p.sender_priority, SenderPriority::Auto);
        for (flag, want) in [
            ("normal", SenderPriority::Normal),
            ("batch", SenderPriority::Batch),
            ("idle", SenderPriority::Idle),
        ] {
            let line = format!("--url http://127.0.0.1:9/ --rate 5 --sender-priority {flag}");
            let args = parse_args(&to_line(&parse_args(&line).unwrap())).unwrap();
            assert_eq!(args.sender_priority, want, "{flag}");
        }
        let auto = parse_args("--url http://127.0.0.1:9/ --rate 5").unwrap();
        assert!(!to_line(&auto).contains("--sender-priority"));
    }
}
