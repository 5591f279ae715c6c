//! Key bindings: action names mapped to key lists in the config.
use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::{Deserialize, Serialize};

/// Every action a key can be bound to, with its name in the `[keys]` config.
/// What each one does, where, and its help text: `state::keymap`.
macro_rules! key_actions {
    ($($variant:ident = $name:literal),* $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum KeyAction { $($variant),* }
        impl KeyAction {
            pub const ALL: &'static [KeyAction] = &[$(KeyAction::$variant),*];
            pub fn name(self) -> &'static str { match self { $(KeyAction::$variant => $name),* } }
            pub fn from_name(s: &str) -> Option<KeyAction> {
                match s { $($name => Some(KeyAction::$variant),)* _ => None }
            }
        }
    };
}

key_actions! {
    Quit = "quit",
    Help = "help",
    Command = "command",
    Filter = "filter",
    Up = "up",
    Down = "down",
    Top = "top",
    Bottom = "bottom",
    PageUp = "page_up",
    PageDown = "page_down",
    Open = "open",
    Back = "back",
    NextSection = "next_section",
    Undo = "undo",
    Restart = "restart",
    Scale = "scale",
    PauseResume = "pause_resume",
    SetImage = "set_image",
    SetModel = "set_model",
    Monitor = "monitor",
    Load = "load",
    StopLoad = "stop_load",
    Confirm = "confirm",
    Cancel = "cancel",
    Canary = "canary",
    CanaryAbort = "canary_abort",
    CanaryPromote = "canary_promote",
    Logs = "logs",
    Wrap = "wrap",
    Timestamps = "timestamps",
    Follow = "follow",
    Previous = "previous",
    LogsRange = "logs_range",
}

/// What is wrong with a `[keys]` entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("unknown action; expected one of {expected}")]
    UnknownAction { expected: String },
    #[error("\"{0}\" is not a key (a character, enter, esc, tab, up, pageup, ...)")]
    NotAKey(String),
}

/// As written in the config: action name → keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Keys(pub BTreeMap<String, Vec<String>>);

impl Keys {
    /// Replaces one action's keys, checking the action and each key.
    pub fn set(&mut self, action: &str, keys: Vec<String>) -> Result<(), KeyError> {
        if KeyAction::from_name(action).is_none() {
            let names: Vec<&str> = KeyAction::ALL.iter().map(|a| a.name()).collect();
            return Err(KeyError::UnknownAction {
                expected: names.join(", "),
            });
        }
        for k in &keys {
            parse_key(k)?;
        }
        self.0.insert(action.to_string(), keys);
        Ok(())
    }
}

/// A key as pressed: code plus whether ctrl was held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Binding {
    pub code: KeyCodeKey,
    pub ctrl: bool,
}

/// The subset of key codes tractor binds, orderable for lookup tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyCodeKey {
    Char(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Up,
    Down,
    Left,
    Right,
    Home,
    End,
    PageUp,
    PageDown,
}

pub fn parse_key(s: &str) -> Result<Binding, KeyError> {
    let (ctrl, rest) = match s.strip_prefix("ctrl-") {
        Some(r) if !r.is_empty() => (true, r),
        _ => (false, s),
    };
    let code = match rest {
        "enter" => KeyCodeKey::Enter,
        "esc" => KeyCodeKey::Esc,
        "tab" => KeyCodeKey::Tab,
        "backtab" => KeyCodeKey::BackTab,
        "up" => KeyCodeKey::Up,
        "down" => KeyCodeKey::Down,
        "left" => KeyCodeKey::Left,
        "right" => KeyCodeKey::Right,
        "home" => KeyCodeKey::Home,
        "end" => KeyCodeKey::End,
        "pageup" => KeyCodeKey::PageUp,
        "pagedown" => KeyCodeKey::PageDown,
        "space" => KeyCodeKey::Char(' '),
        other => {
            let mut chars = other.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => KeyCodeKey::Char(c),
                _ => return Err(KeyError::NotAKey(other.to_string())),
            }
        }
    };
    Ok(Binding { code, ctrl })
}

pub fn binding_of(ev: &KeyEvent) -> Option<Binding> {
    let code = match ev.code {
        KeyCode::Char(c) => KeyCodeKey::Char(c),
        KeyCode::Enter => KeyCodeKey::Enter,
        KeyCode::Esc => KeyCodeKey::Esc,
        KeyCode::Tab => KeyCodeKey::Tab,
        KeyCode::BackTab => KeyCodeKey::BackTab,
        KeyCode::Up => KeyCodeKey::Up,
        KeyCode::Down => KeyCodeKey::Down,
        KeyCode::Left => KeyCodeKey::Left,
        KeyCode::Right => KeyCodeKey::Right,
        KeyCode::Home => KeyCodeKey::Home,
        KeyCode::End => KeyCodeKey::End,
        KeyCode::PageUp => KeyCodeKey::PageUp,
        KeyCode::PageDown => KeyCodeKey::PageDown,
        _ => return None,
    };
    Some(Binding {
        code,
        ctrl: ev.modifiers.contains(KeyModifiers::CONTROL),
    })
}

/// Lookup from a pressed key to the actions bound to it, and back.
#[derive(Debug, Clone, Default)]
pub struct KeyMap {
    map: BTreeMap<Binding, Vec<KeyAction>>,
    /// Action → keys as written, for the hint line and the help screen.
    written: BTreeMap<KeyAction, Vec<String>>,
}

impl KeyMap {
    pub fn new(keys: &Keys) -> KeyMap {
        let mut km = KeyMap::default();
        for action in KeyAction::ALL {
            let list = keys.0.get(action.name()).cloned().unwrap_or_default();
            for k in &list {
                if let Ok(b) = parse_key(k) {
                    km.map.entry(b).or_default().push(*action);
                }
            }
            km.written.insert(*action, list);
        }
        km
    }

    /// Every action bound to `ev`.
    pub fn actions(&self, ev: &KeyEvent) -> &[KeyAction] {
        binding_of(ev)
            .and_then(|b| self.map.get(&b))
            .map_or(&[], Vec::as_slice)
    }

    /// The keys bound to `action`, as written in the config.
    pub fn keys(&self, action: KeyAction) -> &[String] {
        self.written.get(&action).map_or(&[], Vec::as_slice)
    }
}
