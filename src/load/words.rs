//! Shell-like words for the console's load prompt: split as a POSIX shell would (quotes
//! and backslashes, no expansion), and quoted back so that a split gives the same words.
use std::borrow::Cow;

/// A quote opened and never closed, or a backslash at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("unclosed {0} quote")]
    Unclosed(char),
    #[error("a backslash at the end escapes nothing")]
    TrailingBackslash,
}

/// `--body "/tmp/a b.json" --url 'http://h/'` → `["--body", "/tmp/a b.json", "--url", "http://h/"]`.
/// Single quotes keep everything; within double quotes a backslash escapes only `"`, `\`,
/// `$` and `` ` ``; outside quotes it escapes any character.
pub fn split(line: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(SplitError::Unclosed('\'')),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => w.push(e),
                            Some(other) => {
                                w.push('\\');
                                w.push(other);
                            }
                            None => return Err(SplitError::Unclosed('"')),
                        },
                        Some(c) => w.push(c),
                        None => return Err(SplitError::Unclosed('"')),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(e) => word.get_or_insert_with(String::new).push(e),
                None => return Err(SplitError::TrailingBackslash),
            },
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// `word` as [`split`] reads it back: as it is when nothing in it is special, else in
/// single quotes.
pub fn quote(word: &str) -> Cow<'_, str> {
    let plain = !word.is_empty()
        && !word
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '\'' | '"' | '\\'));
    if plain {
        Cow::Borrowed(word)
    } else {
        Cow::Owned(format!("'{}'", word.replace('\'', r"'\''")))
    }
}

/// The words, quoted where needed, one space apart.
pub fn join<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell() {
        let table: &[(&str, &[&str])] = &[
            (
                "--rate 5  --duration\t10s",
                &["--rate", "5", "--duration", "10s"],
            ),
            (r#"--body "/tmp/a b.json""#, &["--body", "/tmp/a b.json"]),
            ("--body '/tmp/a b.json'", &["--body", "/tmp/a b.json"]),
            (r"--body /tmp/a\ b.json", &["--body", "/tmp/a b.json"]),
            (r#"a"b c"'d e'f"#, &["ab cd ef"]),
            (r#""say \"hi\" \n""#, &[r#"say "hi" \n"#]),
            ("''", &[""]),
            ("   ", &[]),
        ];
        for (line, want) in table {
            assert_eq!(split(line).unwrap(), *want, "{line}");
        }
        assert_eq!(split("--body 'x"), Err(SplitError::Unclosed('\'')));
        assert_eq!(split("--body \"x"), Err(SplitError::Unclosed('"')));
        assert_eq!(split("x\\"), Err(SplitError::TrailingBackslash));
    }

    #[test]
    fn quoted_words_split_back_to_themselves() {
        let words = [
            "--url",
            "http://127.0.0.1:8080/v2?x=1&y=2",
            "/tmp/a b.json",
            "it's",
            r#"a"b\c"#,
            "",
            "spike:60,600@60+45",
        ];
        let line = join(&words);
        assert_eq!(split(&line).unwrap(), words, "{line}");
        // plain words are left as they are
        assert!(line.starts_with("--url http://127.0.0.1:8080/v2?x=1&y=2 '/tmp/a b.json'"));
    }
}
