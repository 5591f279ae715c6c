//! A prompt's text (filter, `:` command, load flags) after one key.
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A prompt's text after one key.
pub(super) enum Edit {
    Changed(String),
    Done(String),
    Cancel,
}

pub(super) fn edit(mut text: String, k: &KeyEvent) -> Edit {
    match k.code {
        KeyCode::Enter => Edit::Done(text),
        KeyCode::Esc => Edit::Cancel,
        KeyCode::Backspace => {
            text.pop();
            Edit::Changed(text)
        }
        KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
            text.push(c);
            Edit::Changed(text)
        }
        _ => Edit::Changed(text),
    }
}
