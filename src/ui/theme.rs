//! Colours from the config.
use ratatui::style::{Color, Modifier, Style};

use crate::config::Theme as ThemeConfig;

pub fn parse_color(s: &str) -> Result<Color, String> {
    let c = match s.to_ascii_lowercase().as_str() {
        "black" => Color::Black,
        "red" => Color::Red,
        "green" => Color::Green,
        "yellow" => Color::Yellow,
        "blue" => Color::Blue,
        "magenta" => Color::Magenta,
        "cyan" => Color::Cyan,
        "gray" | "grey" => Color::Gray,
        "darkgray" | "darkgrey" => Color::DarkGray,
        "lightred" => Color::LightRed,
        "lightgreen" => Color::LightGreen,
        "lightyellow" => Color::LightYellow,
        "lightblue" => Color::LightBlue,
        "lightmagenta" => Color::LightMagenta,
        "lightcyan" => Color::LightCyan,
        "white" => Color::White,
        hex if hex.len() == 7 && hex.starts_with('#') => {
            let p = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16);
            match (p(1), p(3), p(5)) {
                (Ok(r), Ok(g), Ok(b)) => Color::Rgb(r, g, b),
                _ => {
                    return Err(format!(
                        "\"{s}\" is not a colour (#rrggbb needs hex digits)"
                    ));
                }
            }
        }
        _ => {
            return Err(format!(
                "\"{s}\" is not a colour (a name like cyan or darkgray, or #rrggbb)"
            ));
        }
    };
    Ok(c)
}

#[derive(Debug, Clone, Copy)]
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
    pub fn from_config(c: &ThemeConfig) -> Theme {
        let fg = |s: &str| Style::default().fg(parse_color(s).unwrap_or(Color::Reset));
        Theme {
            header: fg(&c.header).add_modifier(Modifier::BOLD),
            selected: Style::default()
                .bg(parse_color(&c.selected).unwrap_or(Color::DarkGray))
                .add_modifier(Modifier::BOLD),
            ok: fg(&c.ok),
            warn: fg(&c.warn),
            bad: fg(&c.bad),
            muted: fg(&c.muted),
            accent: fg(&c.accent).add_modifier(Modifier::BOLD),
        }
    }
}
