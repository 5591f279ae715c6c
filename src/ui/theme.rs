//! The styles every view draws with, built once from the config's colours (at startup, or when
//! the config changes) and passed to the views. The colours are already parsed: the config
//! reads them with ratatui's `Color: FromStr`. With `NO_COLOR` set (no-color.org) the theme
//! is plain: emphasis by bold, dim, underline and reverse video only, and every frame is
//! stripped of colour before it is drawn ([`strip`]).
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier, Style};

use crate::config::Colours;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub header: Style,
    pub selected: Style,
    pub ok: Style,
    pub warn: Style,
    pub bad: Style,
    pub muted: Style,
    pub accent: Style,
    /// No colour at all (`NO_COLOR`): views tell things apart by shape and weight.
    pub plain: bool,
}

impl Theme {
    pub fn from_config(c: &Colours) -> Theme {
        let fg = |c: crate::config::Colour| Style::default().fg(c.0);
        Theme {
            header: fg(c.header).add_modifier(Modifier::BOLD),
            selected: Style::default()
                .bg(c.selected.0)
                .add_modifier(Modifier::BOLD),
            ok: fg(c.ok),
            warn: fg(c.warn),
            bad: fg(c.bad),
            muted: fg(c.muted),
            accent: fg(c.accent).add_modifier(Modifier::BOLD),
            plain: false,
        }
    }

    /// The theme without colour: what reads as green, yellow and red in colour reads as
    /// plain, bold and bold underlined; the selection is reverse video.
    pub fn plain() -> Theme {
        let m = |m: Modifier| Style::default().add_modifier(m);
        Theme {
            header: m(Modifier::BOLD),
            selected: m(Modifier::REVERSED | Modifier::BOLD),
            ok: Style::default(),
            warn: m(Modifier::BOLD),
            bad: m(Modifier::BOLD | Modifier::UNDERLINED),
            muted: m(Modifier::DIM),
            accent: m(Modifier::BOLD),
            plain: true,
        }
    }

    /// The console's theme: plain when `no_color`, else the config's colours.
    pub fn for_terminal(c: &Colours, no_color: bool) -> Theme {
        if no_color {
            Theme::plain()
        } else {
            Theme::from_config(c)
        }
    }
}

/// Whether `NO_COLOR` asks for no colour: set and not empty (no-color.org).
pub fn no_color(value: Option<std::ffi::OsString>) -> bool {
    value.is_some_and(|v| !v.is_empty())
}

/// Takes every colour out of a drawn frame (a view's own colours too), keeping bold, dim and
/// the rest; a cell that stood out by its background is shown in reverse video instead.
pub fn strip(buf: &mut Buffer) {
    for cell in buf.content.iter_mut() {
        if !matches!(cell.bg, Color::Reset) {
            cell.modifier.insert(Modifier::REVERSED);
        }
        cell.fg = Color::Reset;
        cell.bg = Color::Reset;
    }
}

#[cfg(test)]
mod tests {
    use ratatui::style::Color;

    use super::*;
    use crate::config::Config;

    #[test]
    fn built_from_the_configured_colours() {
        let mut c = Config::defaults().theme;
        c.ok = "#00ff00".parse().unwrap();
        c.selected = "lightblue".parse().unwrap();
        let t = Theme::from_config(&c);
        assert_eq!(t.ok, Style::default().fg(Color::Rgb(0, 255, 0)));
        assert_eq!(t.selected.bg, Some(Color::LightBlue));
        assert_eq!(t.header.fg, Some(Color::Cyan));
        assert!(t.accent.add_modifier.contains(Modifier::BOLD));
        assert!(!t.plain);
    }

    #[test]
    fn no_color_is_set_and_not_empty() {
        assert!(no_color(Some("1".into())));
        assert!(!no_color(Some("".into())));
        assert!(!no_color(None));
        let c = Config::defaults().theme;
        assert!(Theme::for_terminal(&c, true).plain);
        assert!(!Theme::for_terminal(&c, false).plain);
    }

    #[test]
    fn a_stripped_frame_has_no_colour_and_keeps_its_emphasis() {
        let mut buf = Buffer::empty(ratatui::layout::Rect::new(0, 0, 3, 1));
        buf[(0, 0)].set_style(Style::default().fg(Color::Red).add_modifier(Modifier::BOLD));
        buf[(1, 0)].set_style(Style::default().bg(Color::Blue));
        strip(&mut buf);
        assert!(
            buf.content
                .iter()
                .all(|c| c.fg == Color::Reset && c.bg == Color::Reset)
        );
        assert!(buf[(0, 0)].modifier.contains(Modifier::BOLD));
        assert!(buf[(1, 0)].modifier.contains(Modifier::REVERSED));
        assert!(buf[(2, 0)].modifier.is_empty());
    }
}
