use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::*;
use crate::config::Config;
use crate::config::keys::{KeyCodeKey, parse_key};
use crate::state::{Mode, State, View};

fn state(config: Config) -> State {
    let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
    State::new(config, "ctx".into(), "me".into(), now)
}

/// The key event of a key as written in the config.
fn press(written: &str) -> KeyEvent {
    let b = parse_key(written).unwrap();
    let code = match b.code {
        KeyCodeKey::Char(c) => KeyCode::Char(c),
        KeyCodeKey::Enter => KeyCode::Enter,
        KeyCodeKey::Esc => KeyCode::Esc,
        KeyCodeKey::Tab => KeyCode::Tab,
        KeyCodeKey::BackTab => KeyCode::BackTab,
        KeyCodeKey::Up => KeyCode::Up,
        KeyCodeKey::Down => KeyCode::Down,
        KeyCodeKey::Left => KeyCode::Left,
        KeyCodeKey::Right => KeyCode::Right,
        KeyCodeKey::Home => KeyCode::Home,
        KeyCodeKey::End => KeyCode::End,
        KeyCodeKey::PageUp => KeyCode::PageUp,
        KeyCodeKey::PageDown => KeyCode::PageDown,
    };
    let mods = if b.ctrl {
        KeyModifiers::CONTROL
    } else {
        KeyModifiers::NONE
    };
    KeyEvent::new(code, mods)
}

/// Where an entry works, one place at a time.
fn places(scope: Scope) -> Vec<At> {
    match scope {
        Scope::Views(v) => v.iter().map(|v| At::View(*v)).collect(),
        Scope::Confirm => vec![At::Confirm],
    }
}

fn view(id: ViewId) -> View {
    match id {
        ViewId::Deployments => View::Deployments,
        ViewId::Detail => View::Detail(("ml".into(), "classifier".into())),
        ViewId::Hpas => View::Hpas,
        ViewId::Pods => View::Pods,
        ViewId::Events => View::Events,
        ViewId::Jobs => View::Jobs,
        ViewId::Monitor => View::Monitor(None),
        ViewId::Logs => View::Logs(("ml".into(), "classifier".into())),
    }
}

/// The help screen of `id`, drawn.
fn help_screen(s: &mut State, id: ViewId, w: u16, h: u16) -> String {
    s.view = view(id);
    s.mode = Mode::Help;
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    let theme = crate::ui::Theme::from_config(&s.config.theme);
    t.draw(|f| crate::ui::draw(s, f, &theme)).unwrap();
    t.backend().to_string()
}

/// The text the help shows for an entry: its keys, then its help.
fn shown(s: &State, e: &Entry) -> String {
    let keys = match e.trigger {
        Trigger::Key(a) => s.keymap.keys(a).join(" "),
        Trigger::Typed(names) => format!(":{}", names[0]),
    };
    format!("{keys}  {}", e.help)
}

#[test]
fn every_key_and_command_gives_the_tables_command_where_it_works() {
    let s = state(Config::defaults());
    for e in TABLE {
        let at = places(e.scope);
        assert!(!at.is_empty(), "{e:?} works nowhere");
        match e.trigger {
            Trigger::Key(a) => {
                let keys = s.keymap.keys(a);
                assert!(!keys.is_empty(), "{} has no key", a.name());
                for at in at {
                    for k in keys {
                        assert_eq!(
                            for_key(&s.keymap, at, &press(k)),
                            Some(e.command),
                            "{k} ({}) at {at:?}",
                            a.name()
                        );
                    }
                }
            }
            Trigger::Typed(names) => {
                for at in at {
                    for n in names {
                        assert_eq!(for_typed(at, n), Some(e.command), ":{n} at {at:?}");
                    }
                }
            }
        }
    }
    // every action the config can bind has a row
    for a in KeyAction::ALL {
        assert!(
            TABLE.iter().any(|e| e.trigger == Trigger::Key(*a)),
            "{} is not in the table",
            a.name()
        );
    }
}

#[test]
fn keys_out_of_scope_do_nothing() {
    let s = state(Config::defaults());
    let at = |v| At::View(v);
    assert_eq!(for_key(&s.keymap, at(ViewId::Monitor), &press("l")), None);
    assert_eq!(for_key(&s.keymap, at(ViewId::Pods), &press("tab")), None);
    assert_eq!(for_key(&s.keymap, at(ViewId::Pods), &press("y")), None);
    // esc is back in a view and cancel in the dialog
    assert_eq!(
        for_key(&s.keymap, at(ViewId::Pods), &press("esc")),
        Some(Command::Back)
    );
    assert_eq!(
        for_key(&s.keymap, At::Confirm, &press("esc")),
        Some(Command::Cancel)
    );
    assert_eq!(for_key(&s.keymap, At::Confirm, &press("u")), None);
    assert_eq!(for_typed(at(ViewId::Pods), "nodes"), None);
}

#[test]
fn the_help_lists_every_entry_of_its_view_at_both_sizes() {
    let mut s = state(Config::defaults());
    let mut seen = vec![false; TABLE.len()];
    for id in [
        ViewId::Deployments,
        ViewId::Detail,
        ViewId::Hpas,
        ViewId::Pods,
        ViewId::Events,
        ViewId::Jobs,
        ViewId::Monitor,
        ViewId::Logs,
    ] {
        for (w, h) in [(160, 48), (80, 24)] {
            let screen = help_screen(&mut s, id, w, h);
            for (i, e) in TABLE.iter().enumerate() {
                // at 80 columns a long help text is cut at the column's edge: the keys and
                // the text's first words are what must be there
                let full = shown(&s, e);
                let keys_len = full.len() - e.help.len();
                let prefix: String = full.chars().take(keys_len + 12).collect();
                let listed = screen.contains(&prefix);
                let offered = e.scope.covers(At::View(id))
                    || e.scope == Scope::Confirm
                    || matches!(e.trigger, Trigger::Typed(_));
                assert_eq!(listed, offered, "{e:?} in {id:?} at {w}x{h}:\n{screen}");
                seen[i] |= listed;
            }
        }
    }
    assert!(seen.iter().all(|s| *s), "every entry is in some help");
}

#[test]
fn the_help_lists_the_colon_commands() {
    let mut s = state(Config::defaults());
    for (w, h) in [(160, 48), (80, 24)] {
        let screen = help_screen(&mut s, ViewId::Deployments, w, h);
        for cmd in [
            ":monitor", ":urls", ":load", ":deploy", ":pods", ":hpa", ":events",
        ] {
            assert!(
                screen.contains(&format!("{cmd}  ")),
                "{cmd} at {w}x{h}:\n{screen}"
            );
        }
    }
}

#[test]
fn user_keys_drive_handling_hints_and_help() {
    let text = "[keys]\nundo = [\"ctrl-z\"]\nmonitor = [\"M\", \"l\"]\n";
    let mut s = state(Config::from_override(Path::new("user.toml"), text).unwrap());
    let deployments = At::View(ViewId::Deployments);
    assert_eq!(
        for_key(&s.keymap, deployments, &press("ctrl-z")),
        Some(Command::Write(WriteKey::Undo))
    );
    assert_eq!(for_key(&s.keymap, deployments, &press("u")), None);
    let screen = help_screen(&mut s, ViewId::Deployments, 160, 48);
    assert!(
        screen.contains("ctrl-z  roll back one revision"),
        "{screen}"
    );
    assert!(screen.contains("M l  monitor the deployment"), "{screen}");
    s.mode = Mode::Normal;
    let mut t = Terminal::new(TestBackend::new(160, 48)).unwrap();
    let theme = crate::ui::Theme::from_config(&s.config.theme);
    t.draw(|f| crate::ui::draw(&s, f, &theme)).unwrap();
    let screen = t.backend().to_string();
    let hint = screen.lines().last().unwrap_or_default();
    assert!(hint.contains("<M>monitor <o>logs <ctrl-z>undo"), "{hint}");
}

#[test]
fn each_view_hints_an_action_once() {
    for id in [
        ViewId::Deployments,
        ViewId::Detail,
        ViewId::Hpas,
        ViewId::Pods,
        ViewId::Events,
        ViewId::Monitor,
    ] {
        let h = hints(At::View(id));
        for (i, (a, _)) in h.iter().enumerate() {
            assert!(!h[..i].iter().any(|(b, _)| b == a), "{a:?} twice in {id:?}");
            // a hinted key works there
            assert!(
                TABLE
                    .iter()
                    .any(|e| e.trigger == Trigger::Key(*a) && e.scope.covers(At::View(id))),
                "{a:?} hinted in {id:?} but does nothing there"
            );
        }
    }
}
