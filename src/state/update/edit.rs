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
        // as in a shell: ctrl-u clears the line, ctrl-w the last word
        KeyCode::Char('u') if k.modifiers.contains(KeyModifiers::CONTROL) => {
            Edit::Changed(String::new())
        }
        KeyCode::Char('w') if k.modifiers.contains(KeyModifiers::CONTROL) => {
            let kept = text.trim_end().len();
            text.truncate(kept);
            let cut = text.rfind(char::is_whitespace).map(|i| i + 1).unwrap_or(0);
            text.truncate(cut);
            Edit::Changed(text)
        }
        KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
            text.push(c);
            Edit::Changed(text)
        }
        _ => Edit::Changed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    fn changed(e: Edit) -> String {
        match e {
            Edit::Changed(t) => t,
            Edit::Done(_) | Edit::Cancel => panic!("not a change"),
        }
    }

    #[test]
    fn ctrl_u_clears_and_ctrl_w_drops_the_last_word() {
        assert_eq!(changed(edit("--model v2 --steps 1".into(), &ctrl('u'))), "");
        assert_eq!(
            changed(edit("--model v2 --steps 1".into(), &ctrl('w'))),
            "--model v2 --steps "
        );
        assert_eq!(changed(edit("--model v2 ".into(), &ctrl('w'))), "--model ");
        assert_eq!(changed(edit("v2".into(), &ctrl('w'))), "");
        // other control keys change nothing
        assert_eq!(changed(edit("v2".into(), &ctrl('x'))), "v2");
    }
}
