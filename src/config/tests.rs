use super::*;

fn p() -> &'static Path {
    Path::new("user.toml")
}

#[test]
fn embedded_defaults_are_complete_and_valid() {
    let d = Config::defaults();
    assert!(d.validate().is_ok());
    assert_eq!(d.general.tick_ms, 1000);
    // every key action has a binding
    for a in KeyAction::ALL {
        assert!(
            d.keys.0.get(a.name()).is_some_and(|k| !k.is_empty()),
            "{}",
            a.name()
        );
    }
    // every default key parses
    for list in d.keys.0.values() {
        for k in list {
            parse_key(k).unwrap();
        }
    }
}

use keys::{KeyAction, parse_key};
use ratatui::style::Color;

#[test]
fn a_valid_file_overrides_only_what_it_sets() {
    let text = r##"
[general]
tick_ms = 250
read_only_contexts = ["prod-*", "staging"]

[keys]
undo = ["ctrl-z", "u"]

[theme]
ok = "#00ff00"
"##;
    let c = Config::from_override(p(), text).unwrap();
    assert_eq!(c.general.tick_ms, 250);
    assert_eq!(c.general.max_events, Config::defaults().general.max_events);
    assert_eq!(c.keys.0["undo"], ["ctrl-z", "u"]);
    assert_eq!(c.keys.0["quit"], Config::defaults().keys.0["quit"]);
    assert_eq!(c.theme.ok, Colour(Color::Rgb(0, 0xff, 0)));
    assert!(c.read_only_for("prod-eu"));
    assert!(c.read_only_for("staging"));
    assert!(!c.read_only_for("staging-2"));
    assert!(!c.read_only_for("dev"));
    let empty = Config::from_override(p(), "").unwrap();
    assert_eq!(empty, Config::defaults());
}

#[test]
fn invalid_files_name_the_key_and_line() {
    // (file, line, key, part of the message)
    let cases = [
        (
            "[general]\ntick_ms = \"fast\"\n",
            2,
            "general.tick_ms",
            "invalid type",
        ),
        (
            "[general]\n\ntick_mss = 5\n",
            3,
            "general.tick_mss",
            "unknown field",
        ),
        ("[sloo]\np99_ms = 5\n", 1, "sloo", "unknown field"),
        ("[slo]\np99_ms = -5.0\n", 2, "slo.p99_ms", "positive"),
        ("[slo]\nerror_rate = 2.0\n", 2, "slo.error_rate", "0..=1"),
        (
            "[general]\ntick_ms = 10\n",
            2,
            "general.tick_ms",
            "50..=60000",
        ),
        (
            "[keys]\nundoo = [\"u\"]\n",
            2,
            "keys.undoo",
            "unknown action",
        ),
        (
            "[keys]\nundo = [\"ctrl-\", \"nope\"]\n",
            2,
            "keys.undo",
            "not a key",
        ),
        (
            "[theme]\nok = \"chartreuse\"\n",
            2,
            "theme.ok",
            "not a colour",
        ),
        ("[general\ntick_ms = 1\n", 1, "general", ""),
    ];
    for (text, line, key, msg) in cases {
        match Config::from_override(p(), text) {
            Err(ConfigError::Invalid {
                line: l,
                key: k,
                message,
                ..
            }) => {
                assert_eq!((l, k.as_str()), (line, key), "{text:?}: {message}");
                assert!(message.contains(msg), "{text:?}: {message}");
            }
            other => panic!("{text:?} gave {other:?}"),
        }
    }
    let e = Config::from_override(p(), "[general]\ntick_ms = \"fast\"\n").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("user.toml: line 2, key `general.tick_ms`:"),
        "{e}"
    );
}

#[test]
fn files_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[scrape]\ninterval_ms = 1000\n").unwrap();
    assert_eq!(Config::load(Some(&good)).unwrap().scrape.interval_ms, 1000);
    let missing = dir.path().join("missing.toml");
    let e = Config::load(Some(&missing)).unwrap_err();
    assert!(e.to_string().contains("missing.toml: cannot read"), "{e}");
}

#[test]
fn scrape_via_is_read_into_its_enum() {
    assert_eq!(Config::defaults().scrape.via, Via::Proxy);
    let c = Config::from_override(p(), "[scrape]\nvia = \"pod-ip\"\n").unwrap();
    assert_eq!(c.scrape.via, Via::PodIp);
}

#[test]
fn an_unknown_scrape_via_names_the_field_and_the_allowed_values() {
    let fixture = r#"
[general]
tick_ms = 500

[scrape]
interval_ms = 1000
via = "pod_ip"
"#;
    match Config::from_override(p(), fixture) {
        Err(ConfigError::Invalid {
            line, key, message, ..
        }) => {
            assert_eq!((line, key.as_str()), (7, "scrape.via"), "{message}");
            assert!(message.contains("pod_ip"), "{message}");
            assert!(
                message.contains("`proxy`") && message.contains("`pod-ip`"),
                "{message}"
            );
        }
        other => panic!("gave {other:?}"),
    }
    let e = Config::from_override(p(), fixture).unwrap_err().to_string();
    assert!(e.starts_with("user.toml: line 7, key `scrape.via`:"), "{e}");
}

#[test]
fn colours_are_read_with_ratatui_and_a_bad_one_is_named() {
    let text = "[theme]\nheader = \"Light Blue\"\nmuted = \"grey\"\nbad = \"196\"\n";
    let c = Config::from_override(p(), text).unwrap();
    assert_eq!(c.theme.header, Colour(Color::LightBlue));
    assert_eq!(c.theme.muted, Colour(Color::Gray));
    assert_eq!(c.theme.bad, Colour(Color::Indexed(196)));
    match Config::from_override(p(), "[theme]\nok = \"green\"\naccent = \"#12345z\"\n") {
        Err(ConfigError::Invalid {
            line, key, message, ..
        }) => {
            assert_eq!((line, key.as_str()), (3, "theme.accent"), "{message}");
            assert!(message.contains("\"#12345z\" is not a colour"), "{message}");
        }
        other => panic!("gave {other:?}"),
    }
    // Written back, a colour reads the same.
    for c in [Color::DarkGray, Color::Rgb(1, 2, 3), Color::Indexed(7)] {
        let v = toml::Value::try_from(Colour(c)).unwrap();
        assert_eq!(v.clone().try_into::<Colour>().unwrap(), Colour(c), "{v}");
    }
}
