//! Input in `update`: a key is resolved through `state::keymap` for the view (or
//! the confirm dialog) and its command run; prompts are edited here and handed
//! on when entered.
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::edit::{Edit, edit};
use super::{Effect, canary, load, logs, navigation, selected_deployment, writes};
use crate::state::keymap::{self, At, Command};
use crate::state::{Level, Mode, State};

pub(super) fn on_key(s: &mut State, k: KeyEvent) -> Vec<Effect> {
    if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
        s.quit = true;
        return vec![];
    }
    match s.mode.clone() {
        Mode::Normal => match keymap::for_key(&s.keymap, At::View(s.view.id()), &k) {
            Some(cmd) => run(s, cmd),
            None => vec![],
        },
        Mode::Help => {
            s.mode = Mode::Normal;
            vec![]
        }
        Mode::Filter(text) => {
            navigation::filter(s, edit(text, &k));
            vec![]
        }
        Mode::LoadPrompt(text) => match edit(text, &k) {
            Edit::Done(t) => {
                s.mode = Mode::Normal;
                load::start(s, t.trim())
            }
            Edit::Cancel => {
                s.mode = Mode::Normal;
                vec![]
            }
            Edit::Changed(t) => {
                s.mode = Mode::LoadPrompt(t);
                vec![]
            }
        },
        Mode::LogsRange(text) => match edit(text, &k) {
            Edit::Done(t) => {
                s.mode = Mode::Normal;
                logs::set_range(s, &t)
            }
            Edit::Cancel => {
                s.mode = Mode::Normal;
                vec![]
            }
            Edit::Changed(t) => {
                s.mode = Mode::LogsRange(t);
                vec![]
            }
        },
        Mode::Command(text) => match edit(text, &k) {
            Edit::Done(t) => {
                s.mode = Mode::Normal;
                typed(s, t.trim())
            }
            Edit::Cancel => {
                s.mode = Mode::Normal;
                vec![]
            }
            Edit::Changed(t) => {
                s.mode = Mode::Command(t);
                vec![]
            }
        },
        Mode::Prompt {
            kind,
            target,
            input,
        } => match edit(input, &k) {
            Edit::Done(t) => writes::submit_prompt(s, kind, target, t.trim()),
            Edit::Cancel => {
                s.mode = Mode::Normal;
                vec![]
            }
            Edit::Changed(t) => {
                s.mode = Mode::Prompt {
                    kind,
                    target,
                    input: t,
                };
                vec![]
            }
        },
        Mode::Confirm { target, action, .. } => match keymap::for_key(&s.keymap, At::Confirm, &k) {
            Some(Command::Confirm) => writes::execute(s, target, action),
            Some(Command::Cancel) => {
                writes::cancel(s, &action);
                vec![]
            }
            _ => vec![],
        },
        Mode::CanaryPrompt { target, input } => match edit(input, &k) {
            Edit::Done(t) => canary::submit(s, target, t.trim()),
            Edit::Cancel => {
                s.mode = Mode::Normal;
                vec![]
            }
            Edit::Changed(t) => {
                s.mode = Mode::CanaryPrompt { target, input: t };
                vec![]
            }
        },
        Mode::CanaryConfirm { target, write, .. } => {
            match keymap::for_key(&s.keymap, At::Confirm, &k) {
                Some(Command::Confirm) => canary::confirm(s, target, write),
                Some(Command::Cancel) => {
                    canary::cancel(s);
                    vec![]
                }
                _ => vec![],
            }
        }
        // Waiting for the API: only quitting works.
        Mode::Preparing { .. } | Mode::Executing { .. } | Mode::CanaryPreparing { .. } => vec![],
    }
}

/// A `:` command, entered.
fn typed(s: &mut State, text: &str) -> Vec<Effect> {
    if text.is_empty() {
        return vec![];
    }
    match keymap::for_typed(At::View(s.view.id()), text) {
        Some(cmd) => run(s, cmd),
        None => {
            let known: Vec<String> = keymap::typed_names().map(|n| format!(":{n}")).collect();
            s.flash(
                Level::Error,
                format!("unknown view \"{text}\": try {}", known.join(" ")),
            );
            vec![]
        }
    }
}

/// Does what the table says a key or `:` command does.
fn run(s: &mut State, cmd: Command) -> Vec<Effect> {
    match cmd {
        Command::Quit => s.quit = true,
        Command::Help => s.mode = Mode::Help,
        Command::CommandLine => s.mode = Mode::Command(String::new()),
        Command::Filter => s.mode = Mode::Filter(s.filter(s.view.id()).to_string()),
        // the logs view scrolls its lines; the lists move their cursor
        Command::Move(m) if s.view.id() == crate::state::ViewId::Logs => logs::scroll(s, m),
        Command::Move(m) => navigation::move_cursor(s, m),
        Command::Open => navigation::open(s),
        Command::Back => navigation::back(s),
        Command::NextSection => navigation::next_section(s),
        Command::Goto(list) => navigation::goto(s, list),
        Command::Write(w) => return writes::write_key(s, w),
        Command::Canary(k) => return canary::key(s, k),
        Command::Monitor => {
            let subject = selected_deployment(s);
            load::monitor(s, subject);
        }
        Command::MonitorUrls => load::monitor(s, None),
        Command::Logs => return logs::open(s),
        Command::LogsToggle(t) => return logs::toggle(s, t),
        Command::LogsRange => logs::range_prompt(s),
        Command::Load => load::prompt(s),
        Command::StopLoad => return load::stop(s),
        // only in the confirm dialog, handled above
        Command::Confirm | Command::Cancel => {}
    }
    vec![]
}
