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
            let f = fast_float2::parse::<f64, _>(tok).ok()?;
            // A float that is not whole was not written as an integer; one that is whole may
            // have been (`3.0`, `-9007199254740992.0`, `1E2`), and then its exact value is kept.
            if f.fract() == 0.0 {
                return Some(integral(tok).unwrap_or(Num::F(f)));
            }
            return Some(Num::F(f));
        }
        // Like serde_json: non-negative integers as u64, negative ones as i64.
        let t = std::str::from_utf8(tok).ok()?;
        if tok == b"-0" {
            return Some(Num::NegZero);
        }
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

/// A number written with a fraction or an exponent whose value is exactly an integer within 64
/// bits, as that integer (`2.50e1` is 25), so that integer inputs take it as written rather
/// than as the float it rounds to. `None` when the text is not a whole number (`1.0000000000000001`
/// rounds to 1.0 but is not 1; `1e-400` rounds to 0) or is beyond 64 bits. `t` is a valid JSON
/// number.
fn integral(t: &[u8]) -> Option<Num> {
    let negative = t.first() == Some(&b'-');
    let body = if negative { &t[1..] } else { t };
    let (mantissa, exponent) = match body.iter().position(|c| matches!(c, b'e' | b'E')) {
        Some(at) => (&body[..at], &body[at + 1..]),
        None => (body, &b""[..]),
    };
    // The exponent, saturated far beyond any body's digit count, so the shifts below stay exact.
    let (exp_negative, exp_digits) = match exponent.first() {
        Some(b'-') => (true, &exponent[1..]),
        Some(b'+') => (false, &exponent[1..]),
        _ => (false, exponent),
    };
    let mut exp: i64 = 0;
    for d in exp_digits {
        exp = (exp * 10 + i64::from(d - b'0')).min(1 << 40);
    }
    if exp_negative {
        exp = -exp;
    }
    // The digits with the decimal point removed, the exponent moved to match.
    let (whole, fraction) = match mantissa.iter().position(|c| *c == b'.') {
        Some(at) => (&mantissa[..at], &mantissa[at + 1..]),
        None => (mantissa, &b""[..]),
    };
    exp -= fraction.len() as i64;
    // Trailing zeros move into the exponent; leading zeros add nothing to the value.
    let all = || whole.iter().chain(fraction);
    let count = whole.len() + fraction.len();
    let zeros = all().rev().take_while(|c| **c == b'0').count();
    exp += zeros as i64;
    let mut value: u128 = 0;
    for d in all().take(count - zeros) {
        value = value.checked_mul(10)?.checked_add(u128::from(d - b'0'))?;
    }
    if value == 0 {
        return Some(if negative { Num::NegZero } else { Num::U(0) });
    }
    if exp < 0 {
        return None;
    }
    for _ in 0..exp {
        value = value.checked_mul(10)?;
    }
    if negative {
        let v = i128::try_from(value).ok()?;
        i64::try_from(-v).ok().map(Num::I)
    } else {
        u64::try_from(value).ok().map(Num::U)
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

    fn value(n: Num) -> f64 {
        match n {
            Num::I(i) => i as f64,
            Num::U(u) => u as f64,
            Num::F(f) => f,
            Num::NegZero => -0.0,
            Num::B(b) => f64::from(u8::from(b)) + 10.0,
        }
    }

    /// Numbers written as whole ones are exact integers whatever their spelling; ones that are
    /// not whole (however close) or beyond 64 bits stay floats, and negative zero is kept.
    #[test]
    fn whole_numbers_are_exact_integers() {
        let cases: &[(&str, Num)] = &[
            ("3.0", Num::U(3)),
            ("-9007199254740992.0", Num::I(-9_007_199_254_740_992)),
            ("9007199254740993.0", Num::U(9_007_199_254_740_993)),
            ("1E2", Num::U(100)),
            ("2.50e1", Num::U(25)),
            ("12345678901234567890e-1", Num::U(1_234_567_890_123_456_789)),
            (
                "0.000000000000000000000000000000000000000000001e45",
                Num::U(1),
            ),
            (
                "1.00000000000000000000000000000000000000000000000000",
                Num::U(1),
            ),
            ("1.8446744073709551615e19", Num::U(u64::MAX)),
            ("-9.223372036854775808e18", Num::I(i64::MIN)),
            ("0e7", Num::U(0)),
            ("0.0", Num::U(0)),
            ("-0.0", Num::NegZero),
            ("-0", Num::NegZero),
            ("-0e-5", Num::NegZero),
            ("1.5", Num::F(1.5)),
            ("1.0000000000000001", Num::F(1.0)),
            ("1e-400", Num::F(0.0)),
            (
                "1.8446744073709551616e19",
                Num::F(18_446_744_073_709_551_616.0),
            ),
            (
                "-9.223372036854775809e18",
                Num::F(-9_223_372_036_854_775_808.0),
            ),
            ("1e400", Num::F(f64::INFINITY)),
        ];
        for (text, want) in cases {
            let got = parse(format!("[{text}]").as_bytes()).unwrap().nums;
            assert_eq!(got, [*want], "{text}");
        }
    }

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
            assert_eq!(fast.shape, slow.shape, "{s}");
            // The same values; the fast path may give a whole float as its integer (below).
            let bits =
                |d: &FlatData| -> Vec<u64> { d.nums.iter().map(|n| value(*n).to_bits()).collect() };
            assert_eq!(bits(&fast), bits(&slow), "{s}");
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
