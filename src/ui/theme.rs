//! The styles every view draws with, built once from the config's colours (at startup, or when
//! the config changes) and passed to the views. The colours are already parsed: the config
//! reads them with ratatui's `Color: FromStr`.
use ratatui::style::{Modifier, Style};

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
        }
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
    }
}
