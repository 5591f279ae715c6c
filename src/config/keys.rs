//! Key bindings: action names mapped to key lists in the config.
use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::{Deserialize, Serialize};

/// Every action that a key can trigger, with its config name and help text.
macro_rules! key_actions {
    ($($variant:ident = $name:literal : $help:literal),* $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum KeyAction { $($variant),* }
        impl KeyAction {
            pub const ALL: &'static [KeyAction] = &[$(KeyAction::$variant),*];
            pub fn name(self) -> &'static str { match self { $(KeyAction::$variant => $name),* } }
            pub fn help(self) -> &'static str { match self { $(KeyAction::$variant => $help),* } }
            pub fn from_name(s: &str) -> Option<KeyAction> {
                match s { $($name => Some(KeyAction::$variant),)* _ => None }
            }
        }
    };
}

key_actions! {
    Quit = "quit": "quit tractor",
    Help = "help": "show every key",
    Command = "command": "jump to a view (:deploy :pods :hpa :events)",
    Filter = "filter": "filter the list",
    Up = "up": "move up",
    Down = "down": "move down",
    Top = "top": "first row",
    Bottom = "bottom": "last row",
    PageUp = "page_up": "page up",
    PageDown = "page_down": "page down",
    Open = "open": "open the selected item",
    Back = "back": "go back",
    NextSection = "next_section": "next section of the detail view",
    Undo = "undo": "roll back (to the selected revision in the detail view)",
    Restart = "restart": "restart the deployment's pods",
    Scale = "scale": "scale the deployment",
    PauseResume = "pause_resume": "pause or resume the rollout",
    SetImage = "set_image": "set the container image",
    SetModel = "set_model": "set the model version",
    Monitor = "monitor": "monitor: latency per revision, load, replicas",
    Load = "load": "start a load test (the flags of tractor loadtest)",
    StopLoad = "stop_load": "stop the running load test",
    Confirm = "confirm": "confirm the action shown",
    Cancel = "cancel": "cancel the action shown",
}

/// As written in the config: action name → keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Keys(pub BTreeMap<String, Vec<String>>);

impl Keys {
    /// Replaces one action's keys, checking the action and each key.
    pub fn set(&mut self, action: &str, keys: Vec<String>) -> Result<(), String> {
        if KeyAction::from_name(action).is_none() {
            let names: Vec<&str> = KeyAction::ALL.iter().map(|a| a.name()).collect();
            return Err(format!(
                "unknown action; expected one of {}",
                names.join(", ")
            ));
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

pub fn parse_key(s: &str) -> Result<Binding, String> {
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
        one if one.chars().count() == 1 => KeyCodeKey::Char(one.chars().next().unwrap_or(' ')),
        other => {
            return Err(format!(
                "\"{other}\" is not a key (a character, enter, esc, tab, up, pageup, ...)"
            ));
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

/// Lookup from a pressed key to the actions bound to it.
#[derive(Debug, Clone, Default)]
pub struct KeyMap {
    map: BTreeMap<Binding, Vec<KeyAction>>,
    /// For the help screen: action → keys as written.
    pub shown: Vec<(KeyAction, String)>,
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
            km.shown.push((*action, list.join(" ")));
        }
        km
    }

    /// Is `ev` bound to `action`?
    pub fn is(&self, ev: &KeyEvent, action: KeyAction) -> bool {
        binding_of(ev)
            .and_then(|b| self.map.get(&b))
            .is_some_and(|v| v.contains(&action))
    }

    /// Every action bound to `ev`.
    pub fn actions(&self, ev: &KeyEvent) -> Vec<KeyAction> {
        binding_of(ev)
            .and_then(|b| self.map.get(&b))
            .cloned()
            .unwrap_or_default()
    }
}
