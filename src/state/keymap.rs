//! What each view offers, in one table: per view (or the confirm dialog) the key or
//! `:` command, the command it triggers, its label on the hint line and its help
//! text. `update` resolves keys through it, the hint line and the help screen list
//! from it. Which keys an action has comes from the `[keys]` config (user overrides
//! included), so the table names actions, not keys.
use crossterm::event::KeyEvent;

use super::ViewId;
use crate::config::keys::{KeyAction, KeyMap};
use Command as C;
use KeyAction as K;
use ViewId::{Deployments, Detail, Events, Hpas, Jobs, Logs, Monitor, Pods};
use WriteKey as W;

/// What `update` does for a key or a typed command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Quit,
    Help,
    /// Opens the `:` prompt.
    CommandLine,
    Filter,
    Move(Move),
    Open,
    Back,
    NextSection,
    Write(WriteKey),
    /// The monitor of the selected deployment.
    Monitor,
    /// The monitor of the `--scrape` URLs.
    MonitorUrls,
    /// The load test prompt.
    Load,
    StopLoad,
    Goto(List),
    /// In the confirm dialog: write what was previewed.
    Confirm,
    /// In the confirm dialog: write nothing.
    Cancel,
    /// A canary of the selected deployment: its prompt, or a person's abort or promote.
    Canary(CanaryKey),
    /// The logs of the selection (a deployment's pods, a revision's, a pod's).
    Logs,
    /// A toggle of the logs view.
    LogsToggle(LogsToggle),
    /// The logs view's since/tail prompt.
    LogsRange,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogsToggle {
    Wrap,
    Timestamps,
    /// Follow the newest lines, or hold the view where it is.
    Follow,
    /// The last terminated runs instead of the running ones.
    Previous,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CanaryKey {
    Start,
    Abort,
    Promote,
}

/// Cursor moves in a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Up,
    Down,
    Top,
    Bottom,
    PageUp,
    PageDown,
}

/// Keys that write to the selected deployment (after a preview).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKey {
    Undo,
    Restart,
    Scale,
    PauseResume,
    SetImage,
    SetModel,
}

/// The lists a `:` command jumps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    Deployments,
    Pods,
    Hpas,
    Events,
    Jobs,
}

/// How an entry is triggered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The keys the `[keys]` config binds to this action.
    Key(KeyAction),
    /// Typed after `:`; the first name is the one shown, the others are aliases.
    Typed(&'static [&'static str]),
}

/// Where an entry works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// With no prompt or dialog open, in these views.
    Views(&'static [ViewId]),
    /// In a write's confirm dialog.
    Confirm,
}

/// Where a key is pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    View(ViewId),
    Confirm,
}

impl Scope {
    pub fn covers(self, at: At) -> bool {
        match (self, at) {
            (Scope::Views(views), At::View(v)) => views.contains(&v),
            (Scope::Confirm, At::Confirm) => true,
            _ => false,
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub trigger: Trigger,
    pub command: Command,
    pub scope: Scope,
    /// The label on the hint line (or the confirm dialog's border), and where it shows.
    pub hint: Option<(&'static str, Scope)>,
    pub help: &'static str,
}

impl Entry {
    /// Shows the entry on the hint line of these views.
    const fn hint(self, label: &'static str, views: &'static [ViewId]) -> Entry {
        Entry {
            hint: Some((label, Scope::Views(views))),
            ..self
        }
    }
}

const fn key(
    action: KeyAction,
    command: Command,
    views: &'static [ViewId],
    help: &'static str,
) -> Entry {
    Entry {
        trigger: Trigger::Key(action),
        command,
        scope: Scope::Views(views),
        hint: None,
        help,
    }
}

const fn typed(names: &'static [&'static str], command: Command, help: &'static str) -> Entry {
    Entry {
        trigger: Trigger::Typed(names),
        command,
        scope: Scope::Views(ALL),
        hint: None,
        help,
    }
}

const fn confirm(
    action: KeyAction,
    command: Command,
    help: &'static str,
    label: &'static str,
) -> Entry {
    Entry {
        trigger: Trigger::Key(action),
        command,
        scope: Scope::Confirm,
        hint: Some((label, Scope::Confirm)),
        help,
    }
}

const ALL: &[ViewId] = &[Deployments, Detail, Hpas, Pods, Events, Jobs, Monitor, Logs];
const LISTS: &[ViewId] = &[Deployments, Hpas, Pods];
const NOT_MONITOR: &[ViewId] = &[Deployments, Detail, Hpas, Pods, Events, Jobs, Logs];
const NOT_EVENTS: &[ViewId] = &[Deployments, Detail, Hpas, Pods, Monitor, Logs];
const NOT_DETAIL: &[ViewId] = &[Deployments, Hpas, Pods, Events, Jobs, Monitor, Logs];
const NOT_DETAIL_EVENTS: &[ViewId] = &[Deployments, Hpas, Pods, Monitor, Logs];
const NOT_LOGS: &[ViewId] = &[Deployments, Detail, Hpas, Pods, Monitor];

/// The table. Its order is the order of the hint line and the help screen, and
/// decides between two actions a user bound to one key.
#[rustfmt::skip]
pub const TABLE: &[Entry] = &[
    //  the key           the command                 works in     help text                  hint line label, where
    key(K::Help,          C::Help,                    ALL,         "the keys of this view")   .hint("help", ALL),
    key(K::Command,       C::CommandLine,             ALL,         "type a : command")        .hint("view", ALL),
    key(K::Filter,        C::Filter,                  ALL,         "filter the list")         .hint("filter", ALL),
    key(K::Up,            C::Move(Move::Up),          ALL,         "move up"),
    key(K::Down,          C::Move(Move::Down),        ALL,         "move down"),
    key(K::Top,           C::Move(Move::Top),         ALL,         "first row"),
    key(K::Bottom,        C::Move(Move::Bottom),      ALL,         "last row"),
    key(K::PageUp,        C::Move(Move::PageUp),      ALL,         "page up"),
    key(K::PageDown,      C::Move(Move::PageDown),    ALL,         "page down"),
    key(K::Open,          C::Open,                    LISTS,       "open the deployment")     .hint("open", LISTS),
    key(K::NextSection,   C::NextSection,             &[Detail],   "switch revisions/pods")   .hint("section", &[Detail]),
    key(K::Load,          C::Load,                    ALL,         "start a load test")       .hint("load", &[Monitor]),
    key(K::StopLoad,      C::StopLoad,                ALL,         "stop the load test")      .hint("stop load", &[Monitor]),
    key(K::Monitor,       C::Monitor,                 NOT_MONITOR, "monitor the deployment")  .hint("monitor", NOT_MONITOR),
    key(K::Logs,          C::Logs,                    NOT_LOGS,    "logs of the selection") .hint("logs", &[Deployments, Detail, Pods, Monitor]),
    key(K::Follow,        C::LogsToggle(LogsToggle::Follow), &[Logs], "follow new lines, or hold") .hint("follow", &[Logs]),
    key(K::Wrap,          C::LogsToggle(LogsToggle::Wrap), &[Logs], "wrap long lines")          .hint("wrap", &[Logs]),
    key(K::Timestamps,    C::LogsToggle(LogsToggle::Timestamps), &[Logs], "show each line's time") .hint("time", &[Logs]),
    key(K::Previous,      C::LogsToggle(LogsToggle::Previous), &[Logs], "previous (crashed) runs") .hint("previous", &[Logs]),
    key(K::LogsRange,     C::LogsRange,               &[Logs],     "since 5m, last 200 lines, all") .hint("since", &[Logs]),
    // in the detail view, to the revision under the cursor when it is not the current one
    key(K::Undo,          C::Write(W::Undo),          &[Detail],   "roll back to selected")   .hint("undo", &[Detail]),
    key(K::Undo,          C::Write(W::Undo),          NOT_DETAIL,  "roll back one revision")  .hint("undo", NOT_DETAIL_EVENTS),
    key(K::Restart,       C::Write(W::Restart),       ALL,         "restart the pods")        .hint("restart", NOT_EVENTS),
    key(K::Scale,         C::Write(W::Scale),         ALL,         "scale the deployment")    .hint("scale", NOT_EVENTS),
    key(K::PauseResume,   C::Write(W::PauseResume),   ALL,         "pause or resume rollout"),
    key(K::SetImage,      C::Write(W::SetImage),      ALL,         "set the container image"),
    key(K::SetModel,      C::Write(W::SetModel),      ALL,         "set the model version")   .hint("model", NOT_EVENTS),
    key(K::Canary,        C::Canary(CanaryKey::Start), NOT_EVENTS, "start a canary, judged per window") .hint("canary", &[Deployments, Detail, Monitor]),
    key(K::CanaryAbort,   C::Canary(CanaryKey::Abort), &[Monitor], "abort the canary now")  .hint("abort canary", &[Monitor]),
    key(K::CanaryPromote, C::Canary(CanaryKey::Promote), &[Monitor], "promote the canary now") .hint("promote canary", &[Monitor]),
    key(K::Back,          C::Back,                    ALL,         "go back")                 .hint("back", ALL),
    key(K::Quit,          C::Quit,                    ALL,         "quit tractor")            .hint("quit", ALL),
    // the confirm dialog: its border shows these labels
    confirm(K::Confirm,   C::Confirm,                              "confirm dialog: apply",   "apply"),
    confirm(K::Cancel,    C::Cancel,                               "confirm dialog: cancel",  "cancel"),
    // typed after `:`, in every view; the first name is shown
    typed(&["deploy", "deployments", "deployment", "dp", "d"], C::Goto(List::Deployments), "list deployments"),
    typed(&["pods", "pod", "po", "p"],                         C::Goto(List::Pods),        "list pods"),
    typed(&["hpa", "hpas", "horizontalpodautoscalers", "h"],   C::Goto(List::Hpas),        "list autoscalers"),
    typed(&["events", "event", "ev", "e"],                     C::Goto(List::Events),      "list events"),
    typed(&["jobs", "job", "j"],                               C::Goto(List::Jobs),        "list jobs"),
    typed(&["monitor", "mon", "mo"],                           C::Monitor,                 "monitor the deployment"),
    typed(&["logs", "log", "lo"],                              C::Logs,                    "logs of the selection"),
    typed(&["urls", "scrape"],                                 C::MonitorUrls,             "monitor --scrape URLs"),
    typed(&["load"],                                           C::Load,                    "start a load test"),
    typed(&["q", "quit", "q!"],                                C::Quit,                    "quit tractor"),
];

/// The command of a key pressed at `at`: the first entry in scope bound to it.
pub fn for_key(keys: &KeyMap, at: At, ev: &KeyEvent) -> Option<Command> {
    let bound = keys.actions(ev);
    TABLE
        .iter()
        .find(|e| matches!(e.trigger, Trigger::Key(a) if bound.contains(&a)) && e.scope.covers(at))
        .map(|e| e.command)
}

/// The command typed after `:` at `at`.
pub fn for_typed(at: At, text: &str) -> Option<Command> {
    TABLE
        .iter()
        .find(|e| {
            matches!(e.trigger, Trigger::Typed(names) if names.contains(&text))
                && e.scope.covers(at)
        })
        .map(|e| e.command)
}

/// The `:` commands that open something, as shown (`:deploy :pods ...`).
pub fn typed_names() -> impl Iterator<Item = &'static str> {
    TABLE.iter().filter_map(|e| match e.trigger {
        Trigger::Typed(names) if e.command != Command::Quit => names.first().copied(),
        _ => None,
    })
}

/// The hint line at `at`: each label with the action whose first key it shows.
pub fn hints(at: At) -> Vec<(KeyAction, &'static str)> {
    TABLE
        .iter()
        .filter_map(|e| match (e.trigger, e.hint) {
            (Trigger::Key(a), Some((label, scope))) if scope.covers(at) => Some((a, label)),
            _ => None,
        })
        .collect()
}

/// What the help screen lists in `view`: its keys, then the `:` commands, then the
/// confirm dialog's keys.
pub fn help(view: ViewId) -> [Vec<&'static Entry>; 3] {
    let here = At::View(view);
    let keys = TABLE
        .iter()
        .filter(|e| matches!(e.trigger, Trigger::Key(_)) && e.scope.covers(here))
        .collect();
    let typed = TABLE
        .iter()
        .filter(|e| matches!(e.trigger, Trigger::Typed(_)))
        .collect();
    let dialog = TABLE.iter().filter(|e| e.scope == Scope::Confirm).collect();
    [keys, typed, dialog]
}

#[cfg(test)]
mod tests;
