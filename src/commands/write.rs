//! One write: preview, confirm, execute, follow.
use std::io::{BufRead, IsTerminal, Write};

use serde_json::json;

use super::{Ctx, fail, status};
use crate::action::{Action, Target};
use crate::cli::{Output, WriteArgs, exit};
use crate::event::EffectResult;

pub async fn write(ctx: &Ctx, t: &Target, action: Action, args: &WriteArgs) -> i32 {
    let json_out = args.output == Some(Output::Json);
    let emit = |v: serde_json::Value| {
        if json_out {
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
    };
    if ctx.read_only {
        emit(json!({"target": t, "action": action, "result": "refused", "message": "read-only"}));
        return fail(
            exit::REFUSED,
            format!(
                "read-only: {} refused for deploy/{} (context \"{}\" is read-only); nothing was sent",
                action.verb(),
                t.name,
                ctx.conn.context
            ),
        );
    }
    let mut err = std::io::stderr();
    let (resolved, changes) = match ctx.runner.prepare(t, action.clone()).await {
        EffectResult::Prepared {
            action,
            changes,
            notes,
            ..
        } => {
            let _ = writeln!(
                err,
                "{} (server-side dry run accepted):",
                action.describe(t)
            );
            for l in crate::diff::render(&changes) {
                let _ = writeln!(err, "  {l}");
            }
            for n in notes {
                let _ = writeln!(err, "  note: {n}");
            }
            (action, changes)
        }
        EffectResult::Skipped {
            message, action, ..
        } => {
            emit(json!({"target": t, "action": action, "result": "skipped", "message": message}));
            let _ = writeln!(err, "{message}");
            return exit::OK;
        }
        EffectResult::Failed {
            failure, action, ..
        } => {
            let message = failure.to_string();
            emit(json!({"target": t, "action": action, "result": "failed", "message": message}));
            return fail(failure.exit_code(), &message);
        }
        EffectResult::Done { .. } => return exit::FAILED,
    };
    if args.dry_run {
        emit(json!({"target": t, "action": resolved, "result": "dry-run", "changes": changes}));
        let _ = writeln!(err, "dry run: nothing was changed");
        return exit::OK;
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            emit(
                json!({"target": t, "action": resolved, "result": "refused", "message": "not confirmed"}),
            );
            return fail(
                exit::REFUSED,
                "not confirmed: stdin is not a terminal; pass --yes to apply without a prompt",
            );
        }
        let _ = write!(err, "apply? [y/N] ");
        let _ = err.flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            emit(
                json!({"target": t, "action": resolved, "result": "refused", "message": "declined"}),
            );
            return fail(exit::REFUSED, "declined: nothing was changed");
        }
    }
    match ctx.runner.execute(t, resolved.clone()).await {
        EffectResult::Done {
            action,
            message,
            revision_before,
            revision_after,
            ..
        } => {
            let _ = writeln!(err, "{message}");
            let follow =
                !args.no_follow && (action.rolls_out() || matches!(action, Action::Scale { .. }));
            let (code, rollout) = if follow {
                let (code, st) = status::follow(ctx, t, args.timeout, false).await;
                (code, st)
            } else {
                (exit::OK, None)
            };
            emit(json!({
                "target": t, "action": action, "result": "done", "message": message,
                "revision_before": revision_before, "revision_after": revision_after,
                "rollout": rollout,
            }));
            code
        }
        EffectResult::Skipped {
            message, action, ..
        } => {
            emit(json!({"target": t, "action": action, "result": "skipped", "message": message}));
            let _ = writeln!(err, "{message}");
            exit::OK
        }
        EffectResult::Failed {
            failure, action, ..
        } => {
            let message = failure.to_string();
            emit(json!({"target": t, "action": action, "result": "failed", "message": message}));
            fail(failure.exit_code(), &message)
        }
        EffectResult::Prepared { .. } => exit::FAILED,
    }
}
