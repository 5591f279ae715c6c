//! Tensor data in JSON: a (possibly nested) array of numbers or booleans, flattened in row-major
//! order while parsing, with the nesting's shape recorded and checked to be rectangular.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};

/// One JSON scalar, kept exact until the target datatype is known. The fast parser
/// (`fastarray`) gives every number written as a whole one within 64 bits as `I` or `U`, also
/// when written as a float (`3.0`, `1E2`); `F` is a number that is not (a fraction, or beyond 64
/// bits), so an integer input refuses it rather than round it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    I(i64),
    U(u64),
    F(f64),
    B(bool),
    /// `-0`, `-0.0`, `-0e5`: zero to an integer input, -0.0 to a float one.
    NegZero,
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::I(v) => write!(f, "{v}"),
            Num::U(v) => write!(f, "{v}"),
            // `1.0` rather than `1`: a float, as it was written.
            Num::F(v) => write!(f, "{v:?}"),
            Num::B(v) => write!(f, "{v}"),
            Num::NegZero => f.write_str("-0.0"),
        }
    }
}

/// Flattened data plus the shape of the nesting (empty for a bare scalar).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FlatData {
    pub nums: Vec<Num>,
    pub shape: Vec<usize>,
}

impl<'de> de::Deserialize<'de> for FlatData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut st = State {
            nums: Vec::new(),
            shape: Vec::new(),
            leaf_depth: None,
        };
        Level {
            st: &mut st,
            depth: 0,
        }
        .deserialize(d)?;
        // Every depth above the leaves saw at least one array, so every entry is set.
        let shape = st.shape.into_iter().flatten().collect();
        Ok(FlatData {
            nums: st.nums,
            shape,
        })
    }
}

struct State {
    nums: Vec<Num>,
    /// Length of the arrays at each depth; inner arrays finish before outer ones.
    shape: Vec<Option<usize>>,
    leaf_depth: Option<usize>,
}

impl State {
    fn leaf<E: de::Error>(&mut self, depth: usize, n: Num) -> Result<(), E> {
        match self.leaf_depth {
            None => self.leaf_depth = Some(depth),
            Some(d) if d != depth => {
                return Err(E::custom(format!(
                    "ragged array: a value at nesting depth {depth} where others are at depth {d}"
                )));
            }
            _ => {}
        }
        self.nums.push(n);
        Ok(())
    }
}

struct Level<'a> {
    st: &'a mut State,
    depth: usize,
}

const MAX_DEPTH: usize = 32;

impl<'de> DeserializeSeed<'de> for Level<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Level<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number, a boolean, or a (nested) array of them")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.st.leaf(self.depth, Num::B(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.st.leaf(self.depth, Num::I(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.st.leaf(self.depth, Num::U(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        let n = if v == 0.0 && v.is_sign_negative() {
            Num::NegZero
        } else {
            Num::F(v)
        };
        self.st.leaf(self.depth, n)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.depth >= MAX_DEPTH {
            return Err(de::Error::custom(format!(
                "arrays nested deeper than {MAX_DEPTH}"
            )));
        }
        let mut len = 0usize;
        while seq
            .next_element_seed(Level {
                st: &mut *self.st,
                depth: self.depth + 1,
            })?
            .is_some()
        {
            len += 1;
        }
        let st = self.st;
        if st.shape.len() <= self.depth {
            st.shape.resize(self.depth + 1, None);
        }
        match st.shape[self.depth] {
            None => st.shape[self.depth] = Some(len),
            Some(other) if other != len => {
                return Err(de::Error::custom(format!(
                    "ragged array: a row of {len} at depth {} where others have {other}",
                    self.depth
                )));
            }
            _ => {}
        }
        if len == 0 {
            // An empty array is a leaf position for the depth check too.
            match st.leaf_depth {
                None => st.leaf_depth = Some(self.depth + 1),
                Some(d) if d != self.depth + 1 => {
                    return Err(de::Error::custom(
                        "ragged array: an empty row among non-empty ones",
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<FlatData, String> {
        serde_json::from_str(s).map_err(|e| e.to_string())
    }

    #[test]
    fn table() {
        let ok: &[(&str, Vec<usize>, usize)] = &[
            ("[1,2,3]", vec![3], 3),
            ("[[1,2],[3,4],[5,6]]", vec![3, 2], 6),
            ("[[[1.5]]]", vec![1, 1, 1], 1),
            ("7", vec![], 1),
            ("[]", vec![0], 0),
            ("[[true,false]]", vec![1, 2], 2),
        ];
        for (s, shape, n) in ok {
            let f = parse(s).unwrap();
            assert_eq!(&f.shape, shape, "{s}");
            assert_eq!(f.nums.len(), *n, "{s}");
        }
        for bad in [
            "[[1,2],[3]]",
            "[[1],2]",
            "[1,[2]]",
            "[\"a\"]",
            "[null]",
            "{\"a\":1}",
            "[[1],[]]",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(!e.is_empty(), "{bad}");
        }
    }

    #[test]
    fn keeps_integer_exactness() {
        let f = parse("[9007199254740993, -3, 18446744073709551615, 0.5]").unwrap();
        assert_eq!(
            f.nums,
            vec![
                Num::U(9007199254740993),
                Num::I(-3),
                Num::U(u64::MAX),
                Num::F(0.5)
            ]
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let s = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        assert!(parse(&s).unwrap_err().contains("nested deeper"));
    }
}
