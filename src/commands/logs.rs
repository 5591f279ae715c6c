//! `tractor logs deploy/NAME`: the containers' logs of a deployment's pods, each line
//! prefixed by its pod (a colour per pod on a terminal, unless NO_COLOR), merged in time
//! order when not following; `-f` follows, pods joining and leaving; `-o json` for scripts.
use std::io::{IsTerminal, Write};

use tokio::sync::mpsc::unbounded_channel;

use super::{Ctx, fail};
use crate::action::Target;
use crate::cli::{LogsArgs, Output, exit};
use crate::logs::kube::{FollowError, deployment_logs};
use crate::logs::{Filter, Line, LogEvent, Options, text};

/// ANSI colours for pod prefixes (cyan, yellow, green, magenta, blue, red).
const COLOURS: [u8; 6] = [36, 33, 32, 35, 34, 31];

pub async fn run(ctx: &Ctx, t: &Target, a: &LogsArgs) -> i32 {
    let grep = match a.grep.as_deref().map(regex::Regex::new).transpose() {
        Ok(g) => g,
        Err(e) => return fail(exit::USAGE, format!("--grep: {e}")),
    };
    if a.tail.is_some_and(|n| n < 0) {
        return fail(exit::USAGE, "--tail must be 0 or more");
    }
    let filter = Filter {
        revision: a.revision,
        pod: a.pod.clone(),
        container: a.container.clone(),
    };
    let opts = Options {
        previous: a.previous,
        follow: a.follow && !a.previous,
        since: a.since,
        tail: a.tail,
    };
    let colour = std::io::stdout().is_terminal()
        && a.output.is_none()
        && !crate::ui::theme::no_color(std::env::var_os("NO_COLOR"));
    let out = Printer {
        json: a.output == Some(Output::Json),
        timestamps: a.timestamps,
        colour,
        previous: a.previous,
        grep,
    };
    let (tx, mut rx) = unbounded_channel();
    let client = ctx.conn.client.clone();
    let (ns, name) = (t.namespace.clone(), t.name.clone());
    let follow = opts.follow;
    let reader =
        tokio::spawn(async move { deployment_logs(client, &ns, &name, &filter, &opts, tx).await });
    let mut failed = 0usize;
    let mut opened = 0usize;
    let mut held: Vec<Line> = Vec::new();
    while let Some(ev) = rx.recv().await {
        match ev {
            LogEvent::Line(l) if follow => out.print(&l),
            LogEvent::Line(l) => held.push(l),
            LogEvent::Failed { stream, message } => {
                failed += 1;
                eprintln!("{}/{}: {message}", stream.pod, stream.container);
            }
            LogEvent::Opened(k) => {
                opened += 1;
                if follow {
                    eprintln!("+ {} {}", k.pod, k.container);
                }
            }
            LogEvent::Closed(k) if follow => eprintln!("- {} {}", k.pod, k.container),
            LogEvent::Closed(_) => {}
        }
    }
    // without -f: every container's lines, merged in time order (stable within one)
    held.sort_by_key(|l| l.at);
    for l in &held {
        out.print(l);
    }
    let nothing = opened == 0 && failed == 0 && !follow;
    match reader.await {
        Ok(Ok(())) if nothing && a.previous => fail(
            exit::FAILED,
            format!(
                "deploy/{}: no container has a terminated run to show (none restarted)",
                t.name
            ),
        ),
        Ok(Ok(())) if nothing => {
            eprintln!(
                "deploy/{}: no container has started yet: nothing to read",
                t.name
            );
            exit::OK
        }
        Ok(Ok(())) if failed == 0 => exit::OK,
        Ok(Ok(())) => exit::FAILED,
        Ok(Err(FollowError::Forbidden(m))) => fail(exit::FORBIDDEN, format!("forbidden: {m}")),
        Ok(Err(e @ FollowError::Select(_))) => fail(exit::USAGE, e),
        Ok(Err(e)) => fail(exit::FAILED, e),
        Err(e) => fail(exit::FAILED, e),
    }
}

struct Printer {
    json: bool,
    timestamps: bool,
    colour: bool,
    previous: bool,
    grep: Option<regex::Regex>,
}

impl Printer {
    fn print(&self, l: &Line) {
        if self.grep.as_ref().is_some_and(|g| !g.is_match(&l.text)) {
            return;
        }
        let mut o = std::io::stdout().lock();
        let text = if self.json {
            text::json(l).to_string()
        } else {
            let prefix = text::prefix(&l.stream, self.previous);
            let prefix = if self.colour {
                let c = COLOURS[text::colour_index(&l.stream.pod, COLOURS.len())];
                format!("\x1b[{c}m{prefix}\x1b[0m")
            } else {
                prefix
            };
            text::plain(l, &prefix, 0, self.timestamps)
        };
        let _ = writeln!(o, "{text}");
    }
}
