//! A fast path for tensor data: a (nested) JSON array of plain numbers and booleans, parsed in
//! one pass over the bytes with a fast float parser. Anything it does not expect — strings,
//! nulls, ragged rows, odd number syntax, bad nesting — makes it return `None`, and the
//! caller's serde path parses the text again and reports the error precisely.

use super::json::{FlatData, Num};

const MAX_DEPTH: usize = 32;

/// Parse tensor data, fast when possible, else through serde (which names the error).
pub fn parse_data(text: &[u8]) -> Result<FlatData, serde_json::Error> {
    match parse(text) {
        Some(d) => Ok(d),
        None => serde_json::from_slice(text),
    }
}

pub fn parse(text: &[u8]) -> Option<FlatData> {
    let mut p = Parser { s: text, i: 0 };
    let mut nums = Vec::with_capacity(text.len() / 4);
    let mut shape: Vec<Option<usize>> = Vec::new();
    let mut counts: Vec<usize> = Vec::new();
    let mut leaf_depth: Option<usize> = None;
    p.ws();
    loop {
        // A value is expected here.
        match p.peek()? {
            b'[' => {
                if counts.len() >= MAX_DEPTH {
                    return None;
                }
                p.i += 1;
                counts.push(0);
                p.ws();
                if p.peek()? == b']' {
                    // Empty arrays are left to the serde path's rules.
                    return None;
                }
                continue;
            }
            _ => {
                let n = p.scalar()?;
                let depth = counts.len();
                if *leaf_depth.get_or_insert(depth) != depth {
                    return None;
                }
                nums.push(n);
            }
        }
        // After a value: close arrays, or move to the next element.
        loop {
            let Some(top) = counts.last_mut() else {
                p.ws();
                return (p.i == p.s.len()).then(|| FlatData {
                    nums,
                    shape: shape.into_iter().flatten().collect(),
                });
            };
            *top += 1;
            p.ws();
            match p.peek()? {
                b',' => {
                    p.i += 1;
                    p.ws();
                    break;
                }
                b']' => {
                    p.i += 1;
                    let len = counts.pop()?;
                    let depth = counts.len();
                    if shape.len() <= depth {
                        shape.resize(depth + 1, None);
                    }
                    match shape[depth] {
                        None => shape[depth] = Some(len),
                        Some(l) if l != len => return None,
                        _ => {}
                    }
                    // The closed array is itself a value of its parent.
                    continue;
                }
                _ => return None,
            }
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.i += 1;
        }
    }

    fn scalar(&mut self) -> Option<Num> {
        let rest = &self.s[self.i..];
        if rest.starts_with(b"true") {
            self.i += 4;
            return Some(Num::B(true));
        }
        if rest.starts_with(b"false") {
            self.i += 5;
            return Some(Num::B(false));
        }
        let len = rest
            .iter()
            .position(|c| !matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .unwrap_or(rest.len());
        let tok = &rest[..len];
        if !valid_json_number(tok) {
            return None;
        }
        self.i += len;
        if tok.iter().any(|c| matches!(c, b'.' | b'e' | b'E')) {
            return fast_float2::parse::<f64, _>(tok).ok().map(Num::F);
        }
        // Like serde_json: non-negative integers as u64, negative ones as i64.
        let t = std::str::from_utf8(tok).ok()?;
        let exact = if tok[0] == b'-' {
            t.parse::<i64>().ok().map(Num::I)
        } else {
            t.parse::<u64>().ok().map(Num::U)
        };
        if exact.is_some() {
            exact
        } else {
            // An integer beyond 64 bits: serde_json reads it as a float too.
            fast_float2::parse::<f64, _>(tok).ok().map(Num::F)
        }
    }
}

/// JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
fn valid_json_number(t: &[u8]) -> bool {
    let mut i = 0;
    let digits = |i: &mut usize| {
        let s = *i;
        while t.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > s
    };
    if t.get(i) == Some(&b'-') {
        i += 1;
    }
    match t.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if t.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(t.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(t.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == t.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path agrees with the serde path wherever it answers, and answers for the
    /// common shapes.
    #[test]
    fn agrees_with_serde() {
        let answered = [
            "[1,2,3]",
            "[[1,2],[3,4],[5,6]]",
            " [ [ 1.5e-3 , -2 ] , [ 0.25, 1E2 ] ] ",
            "[[[0.1]]]",
            "7",
            "[true,false]",
            "[9007199254740993, -3, 18446744073709551615, 0.5]",
            "[123456789012345678901234567890]",
            "[-0.0, 0, 1e308]",
        ];
        for s in answered {
            let fast = parse(s.as_bytes()).unwrap_or_else(|| panic!("fast path declined {s}"));
            let slow: FlatData = serde_json::from_str(s).unwrap();
            assert_eq!(fast, slow, "{s}");
        }
        let declined = [
            "[]",
            "[[1,2],[3]]",
            "[[1],2]",
            "[1,[2]]",
            "[\"a\"]",
            "[null]",
            "{\"a\":1}",
            "[01]",
            "[1.]",
            "[.5]",
            "[+1]",
            "[1e]",
            "[NaN]",
            "[1,]",
            "[1 2]",
            "[1]x",
            "[[1],[]]",
            "[1",
            "",
        ];
        for s in declined {
            assert!(
                parse(s.as_bytes()).is_none(),
                "fast path should decline {s:?}"
            );
        }
        let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        assert!(parse(deep.as_bytes()).is_none());
        assert!(parse_data(deep.as_bytes()).is_err());
    }
}
