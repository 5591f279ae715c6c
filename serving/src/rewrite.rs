//! Model preparation: graph rewrites around tract's optimizer, each one a switch
//! (`--rewrites`, [`Rewrites`]) so its gain can be measured alone.
//!
//! Before optimizing (on the decluttered graph): `lookup` (one-hot·W becomes a row lookup),
//! then `fold` (element-wise work after a lookup moves into its table), then `gelu` and
//! `hardswish` (an activation spelled out becomes one op), then `peak` (a max of GELU becomes
//! GELU of two extremes), then `pool` (2-D max pools over rows, then columns), then `split`
//! (deep convolutions as sums over slices of input channels), then `shallow` (convolutions
//! only a few dozen multiply-adds deep computed directly). After
//! optimizing (on tract's final ops): `reductions` (f32 reductions walk memory in order), then
//! `copies` (the pads and strides of tract's convolution lowering as row copies), then
//! `patches` (a channels-last 1-D convolution's patch matrix packed from transposed tiles). And one
//! switch that is not a graph change: `upper` (the runner clears the vector registers' upper
//! halves before each node, see [`crate::model::upper`]).
//! Every rewrite keeps answers within the reference tolerance; the reference tests run with
//! all of them on.

pub mod activation;
pub mod copies;
pub mod fold;
pub mod lookup;
pub mod patches;
pub mod peak;
pub mod pool;
pub mod reduce;
mod region;
pub mod shallow;
pub mod split;

use std::fmt;
use std::str::FromStr;

use tract_onnx::prelude::*;

pub use lookup::{EmbeddingLookup, one_hot_matmul_to_lookup};

/// Which rewrites run. Written as `true`/`all`, `false`/`none`, or a comma-separated list of
/// names ([`Rewrites::NAMES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewrites {
    pub lookup: bool,
    pub fold: bool,
    pub gelu: bool,
    pub hardswish: bool,
    pub peak: bool,
    pub pool: bool,
    pub split: bool,
    pub shallow: bool,
    pub reductions: bool,
    pub copies: bool,
    pub patches: bool,
    /// Not a graph change: the upper halves of the vector registers are cleared before each
    /// node runs ([`crate::model::upper`]).
    pub upper: bool,
}

/// A `--rewrites` value that names no rewrite.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown rewrite {word:?}: use true, false, or a comma-separated list of {}", Rewrites::NAMES.join(", "))]
pub struct RewritesError {
    pub word: String,
}

impl Rewrites {
    pub const NAMES: [&'static str; 12] = [
        "lookup",
        "fold",
        "gelu",
        "hardswish",
        "peak",
        "pool",
        "split",
        "shallow",
        "reductions",
        "copies",
        "patches",
        "upper",
    ];
    pub const ALL: Rewrites = Rewrites {
        lookup: true,
        fold: true,
        gelu: true,
        hardswish: true,
        peak: true,
        pool: true,
        split: true,
        shallow: true,
        reductions: true,
        copies: true,
        patches: true,
        upper: true,
    };
    pub const NONE: Rewrites = Rewrites {
        lookup: false,
        fold: false,
        gelu: false,
        hardswish: false,
        peak: false,
        pool: false,
        split: false,
        shallow: false,
        reductions: false,
        copies: false,
        patches: false,
        upper: false,
    };

    fn flags(&self) -> [bool; 12] {
        [
            self.lookup,
            self.fold,
            self.gelu,
            self.hardswish,
            self.peak,
            self.pool,
            self.split,
            self.shallow,
            self.reductions,
            self.copies,
            self.patches,
            self.upper,
        ]
    }
}

impl FromStr for Rewrites {
    type Err = RewritesError;

    fn from_str(s: &str) -> Result<Rewrites, RewritesError> {
        match s.trim() {
            "true" | "all" => return Ok(Rewrites::ALL),
            "false" | "none" | "" => return Ok(Rewrites::NONE),
            _ => {}
        }
        let mut r = Rewrites::NONE;
        for word in s.split(',').map(str::trim) {
            let flag = match word {
                "lookup" => &mut r.lookup,
                "fold" => &mut r.fold,
                "gelu" => &mut r.gelu,
                "hardswish" => &mut r.hardswish,
                "peak" => &mut r.peak,
                "pool" => &mut r.pool,
                "split" => &mut r.split,
                "shallow" => &mut r.shallow,
                "reductions" => &mut r.reductions,
                "copies" => &mut r.copies,
                "patches" => &mut r.patches,
                "upper" => &mut r.upper,
                _ => {
                    return Err(RewritesError {
                        word: word.to_string(),
                    });
                }
            };
            *flag = true;
        }
        Ok(r)
    }
}

impl fmt::Display for Rewrites {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Rewrites::ALL => write!(f, "all"),
            Rewrites::NONE => write!(f, "none"),
            _ => {
                let on: Vec<&str> = Rewrites::NAMES
                    .iter()
                    .zip(self.flags())
                    .filter(|(_, on)| *on)
                    .map(|(n, _)| *n)
                    .collect();
                write!(f, "{}", on.join(","))
            }
        }
    }
}

/// Make `out` (wired in `patch`) stand for the value of `end` (its output 0), apply the patch
/// and drop the nodes left unused.
fn finish(
    model: &mut TypedModel,
    mut patch: TypedModelPatch,
    end: usize,
    out: OutletId,
) -> TractResult<()> {
    patch.shunt_outside(model, OutletId::new(end, 0), out)?;
    patch.apply(model)?;
    model.compact()
}

/// Replace the value of `end` by `op` applied to `input`, named after `end` with `suffix`.
fn stand_in(
    model: &mut TypedModel,
    input: OutletId,
    end: usize,
    suffix: &str,
    op: impl Into<Box<dyn tract_onnx::tract_core::ops::TypedOp>>,
) -> TractResult<()> {
    let mut patch = TypedModelPatch::default();
    let tap = patch.tap_model(model, input)?;
    let name = format!("{}.{suffix}", model.node(end).name);
    let out = patch.wire_node(name, op, &[tap])?;
    finish(model, patch, end, out[0])
}

/// Put each op of `found` in place of its node, on the same inputs. Returns how many.
fn replace_all<O: Into<Box<dyn tract_onnx::tract_core::ops::TypedOp>>>(
    model: &mut TypedModel,
    found: Vec<(usize, O)>,
) -> TractResult<usize> {
    let n = found.len();
    for (id, op) in found {
        let node = model.node(id);
        TypedModelPatch::replace_single_op(model, node, &node.inputs, op)?.apply(model)?;
    }
    Ok(n)
}

/// For the rewrites' tests: run `model` on one input.
#[cfg(test)]
pub(crate) fn run_on(model: TypedModel, input: &Tensor) -> TVec<TValue> {
    model
        .into_runnable()
        .and_then(|p| p.run(tvec![input.clone().into_tvalue()]))
        .unwrap_or_else(|e| panic!("{e:?}"))
}

/// How many places each rewrite before the optimizer changed (logged at load).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fired {
    pub lookups: usize,
    pub folds: usize,
    pub gelus: usize,
    pub hardswishes: usize,
    pub peaks: usize,
    pub pools: usize,
    pub splits: usize,
    pub shallows: usize,
}

/// The rewrites that run on the decluttered graph, in order.
pub fn before_optimizing(model: &mut TypedModel, r: Rewrites) -> TractResult<Fired> {
    type Pass = fn(&mut TypedModel) -> TractResult<usize>;
    let mut run = |on: bool, pass: Pass| if on { pass(model) } else { Ok(0) };
    Ok(Fired {
        lookups: run(r.lookup, one_hot_matmul_to_lookup)?,
        folds: run(r.fold, fold::fold_into_tables)?,
        gelus: run(r.gelu, |m| {
            activation::fuse(m, activation::Activation::Gelu)
        })?,
        hardswishes: run(r.hardswish, |m| {
            activation::fuse(m, activation::Activation::HardSwish)
        })?,
        peaks: run(r.peak, peak::max_of_gelu)?,
        pools: run(r.pool, pool::max_pools)?,
        splits: run(r.split, split::deep_convolutions)?,
        shallows: run(r.shallow, shallow::shallow_convolutions)?,
    })
}

/// How many places each rewrite after the optimizer changed (logged at load).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FiredAfter {
    pub reductions: usize,
    pub copies: usize,
    pub patches: usize,
}

/// The rewrites that run on the optimized graph, in order.
pub fn after_optimizing(model: &mut TypedModel, r: Rewrites) -> TractResult<FiredAfter> {
    type Pass = fn(&mut TypedModel) -> TractResult<usize>;
    let mut run = |on: bool, pass: Pass| if on { pass(model) } else { Ok(0) };
    Ok(FiredAfter {
        reductions: run(r.reductions, reduce::reductions)?,
        copies: run(r.copies, copies::row_copies)?,
        patches: run(r.patches, patches::packed_patches)?,
    })
}

/// For the rewrites' tests: every element of `got` within 1e-5 + 1e-4·|want| (ten times tighter
/// than the reference tests' tolerance against onnxruntime).
#[cfg(test)]
pub(crate) fn assert_close(got: &TValue, want: &TValue, what: &str) {
    let (g, w) = (
        got.try_as_plain_ram().unwrap(),
        want.try_as_plain_ram().unwrap(),
    );
    let (g, w) = (g.as_slice::<f32>().unwrap(), w.as_slice::<f32>().unwrap());
    assert_eq!(g.len(), w.len(), "{what}");
    for (g, w) in g.iter().zip(w) {
        assert!((g - w).abs() <= 1e-5 + 1e-4 * w.abs(), "{what}: {g} vs {w}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_parse_and_print_back() {
        assert_eq!("true".parse(), Ok(Rewrites::ALL));
        assert_eq!("false".parse(), Ok(Rewrites::NONE));
        let some: Rewrites = "gelu, lookup".parse().unwrap();
        assert_eq!(
            (
                some.lookup,
                some.fold,
                some.gelu,
                some.peak,
                some.reductions
            ),
            (true, false, true, false, false)
        );
        assert_eq!(some.to_string(), "lookup,gelu");
        assert_eq!(some.to_string().parse(), Ok(some));
        let err = "lookup,gelus".parse::<Rewrites>().unwrap_err();
        assert_eq!(err.word, "gelus");
        assert!(
            err.to_string().contains(
                "lookup, fold, gelu, hardswish, peak, pool, split, shallow, reductions, copies, patches, upper"
            ),
            "{err}"
        );
    }
}
