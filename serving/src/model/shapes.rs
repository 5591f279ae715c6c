//! Models whose inputs leave spatial dimensions free (text detection, segmentation: `N,3,H,W`)
//! and that tract cannot type with those dimensions as symbols. Such a model is served as it
//! is: a plan is built for each input shape on first use and kept in a bounded cache (least
//! recently used out), shared by the workers; `--warm-shapes` builds the expected shapes before
//! the server is ready. A first request of a new shape pays for its plan's build.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

use super::build::optimize;
use super::lowering::Lowering;
use crate::rewrite::Rewrites;

/// One shape per model input.
type Shapes = Vec<Vec<usize>>;

/// No plan can be built for these input shapes (a spatial size the model's strides or
/// reshapes do not allow, say): the request's fault, answered 400, and remembered so the same
/// shapes are refused at once instead of rebuilt.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the model cannot run on input shapes {shapes:?}: {reason}")]
pub struct ShapeRefused {
    pub shapes: Shapes,
    pub reason: String,
}

/// The plans by input shapes, most recently used last.
pub struct ShapePlans {
    template: InferenceModel,
    rewrites: Rewrites,
    lowering: Lowering,
    cache: Mutex<Vec<(Shapes, Arc<TypedSimplePlan>)>>,
    /// Shapes no plan could be built for, newest last, at most `capacity` of them.
    refused: Mutex<Vec<ShapeRefused>>,
    capacity: AtomicUsize,
    hits: AtomicU64,
    compiles: AtomicU64,
    compile_micros: AtomicU64,
}

/// The cache's counters, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PlanCacheStats {
    pub hits: u64,
    pub compiles: u64,
    pub compile_seconds: f64,
    pub plans: usize,
    pub capacity: usize,
}

impl ShapePlans {
    pub(super) fn new(
        template: InferenceModel,
        rewrites: Rewrites,
        lowering: Lowering,
        capacity: usize,
    ) -> ShapePlans {
        ShapePlans {
            template,
            rewrites,
            // Timing each lowering would hold up the request that brought the shape.
            lowering: match lowering {
                Lowering::Auto => Lowering::Tract,
                other => other,
            },
            cache: Mutex::new(Vec::new()),
            refused: Mutex::new(Vec::new()),
            capacity: AtomicUsize::new(capacity.max(1)),
            hits: AtomicU64::new(0),
            compiles: AtomicU64::new(0),
            compile_micros: AtomicU64::new(0),
        }
    }

    /// How many plans the cache keeps (at least 1); extra ones are dropped, oldest first.
    pub fn set_capacity(&self, capacity: usize) {
        self.capacity.store(capacity.max(1), Ordering::Relaxed);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let excess = cache.len().saturating_sub(capacity.max(1));
        cache.drain(..excess);
    }

    pub fn stats(&self) -> PlanCacheStats {
        PlanCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            compiles: self.compiles.load(Ordering::Relaxed),
            compile_seconds: self.compile_micros.load(Ordering::Relaxed) as f64 / 1e6,
            plans: self.cache.lock().map(|c| c.len()).unwrap_or(0),
            capacity: self.capacity.load(Ordering::Relaxed),
        }
    }

    /// The plan for these input shapes: from the cache, or built now (outside the lock, so
    /// other shapes keep running; two workers asking for the same new shape at once may both
    /// build it, and the cache keeps one).
    pub fn plan_for(&self, shapes: &[Vec<usize>]) -> TractResult<Arc<TypedSimplePlan>> {
        {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(ix) = cache.iter().position(|(k, _)| k.as_slice() == shapes) {
                let entry = cache.remove(ix);
                let plan = entry.1.clone();
                cache.push(entry);
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(plan);
            }
        }
        let refused = |r: &ShapeRefused| TractError::from(r.clone());
        if let Some(r) = self
            .refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|r| r.shapes.as_slice() == shapes)
        {
            return Err(refused(r));
        }
        let began = Instant::now();
        let plan = match self.try_build(shapes) {
            Ok(p) => p,
            Err(e) => {
                let r = ShapeRefused {
                    shapes: shapes.to_vec(),
                    reason: format!("{e:#}"),
                };
                tracing::info!(?shapes, reason = %r.reason, "no plan for these input shapes");
                let mut list = self.refused.lock().unwrap_or_else(|p| p.into_inner());
                list.push(r.clone());
                let excess = list
                    .len()
                    .saturating_sub(self.capacity.load(Ordering::Relaxed));
                list.drain(..excess);
                return Err(refused(&r));
            }
        };
        self.compiles.fetch_add(1, Ordering::Relaxed);
        self.compile_micros
            .fetch_add(began.elapsed().as_micros() as u64, Ordering::Relaxed);
        tracing::info!(
            ?shapes,
            ms = began.elapsed().as_millis() as u64,
            "plan built for a new input shape"
        );
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if !cache.iter().any(|(k, _)| k.as_slice() == shapes) {
            cache.push((shapes.to_vec(), plan.clone()));
            let excess = cache
                .len()
                .saturating_sub(self.capacity.load(Ordering::Relaxed));
            cache.drain(..excess);
        }
        Ok(plan)
    }

    fn try_build(&self, shapes: &[Vec<usize>]) -> TractResult<Arc<TypedSimplePlan>> {
        let mut m = self.template.clone();
        for (ix, shape) in shapes.iter().enumerate() {
            let dt = m
                .input_fact(ix)?
                .datum_type
                .concretize()
                .ok_or_else(|| TractError::msg(format!("input {ix} has no datatype")))?;
            let dims: TVec<TDim> = shape.iter().map(|d| TDim::Val(*d as i64)).collect();
            m.set_input_fact(ix, InferenceFact::dt_shape(dt, dims))?;
        }
        let typed = m.into_typed()?.into_decluttered()?;
        optimize(typed, self.rewrites, self.lowering).map_err(|e| TractError::msg(e.to_string()))
    }
}

/// Why a `[NAME=]DIMS` shape list (`--warm-shapes`) cannot be read; the caller names the list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeSpecError {
    #[error("it names input {name:?}; the model's inputs are {inputs:?}")]
    UnknownInput { name: String, inputs: Vec<String> },
    #[error("{0:?} is not a list of positive integers like 1,3,640,640")]
    BadDims(String),
    #[error("it gives no shape for input {0:?}")]
    Missing(String),
}

/// Shapes given as `[NAME=]DIMS` (space-separated for several inputs; the first input when
/// unnamed), every dimension a positive integer, in the model's input order.
pub fn parse_shapes(spec: &str, names: &[String]) -> Result<Vec<Vec<usize>>, ShapeSpecError> {
    let mut out: Vec<Option<Vec<usize>>> = vec![None; names.len()];
    for part in spec.split_whitespace() {
        let (ix, dims) = match part.split_once('=') {
            Some((name, dims)) => (
                names.iter().position(|n| n == name).ok_or_else(|| {
                    ShapeSpecError::UnknownInput {
                        name: name.to_owned(),
                        inputs: names.to_vec(),
                    }
                })?,
                dims,
            ),
            None => (0, part),
        };
        let dims = dims
            .split(',')
            .map(|d| d.trim().parse::<usize>().ok().filter(|d| *d > 0))
            .collect::<Option<Vec<usize>>>()
            .ok_or_else(|| ShapeSpecError::BadDims(dims.to_owned()))?;
        out[ix] = Some(dims);
    }
    out.into_iter()
        .zip(names)
        .map(|(s, n)| s.ok_or_else(|| ShapeSpecError::Missing(n.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated conv model (3 input channels), its spatial dimensions free.
    fn plans() -> ShapePlans {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/symbolic-outputs.onnx"
        );
        let model = tract_onnx::onnx()
            .with_ignore_value_info(true)
            .model_for_path(path)
            .unwrap();
        ShapePlans::new(model, Rewrites::NONE, Lowering::Tract, 2)
    }

    #[test]
    fn plans_are_built_once_per_shape_and_the_least_recently_used_goes() {
        let p = plans();
        let shape = |w: usize| vec![vec![1, 3, 8, w]];
        let a = p.plan_for(&shape(8)).unwrap();
        assert!(Arc::ptr_eq(&a, &p.plan_for(&shape(8)).unwrap()), "a hit");
        p.plan_for(&shape(10)).unwrap();
        p.plan_for(&shape(8)).unwrap(); // 8 is now the most recent
        p.plan_for(&shape(12)).unwrap(); // so 10 goes
        let s = p.stats();
        assert_eq!((s.compiles, s.hits, s.plans, s.capacity), (3, 2, 2, 2));
        p.plan_for(&shape(8)).unwrap();
        assert_eq!(p.stats().compiles, 3, "8 was kept");
        p.plan_for(&shape(10)).unwrap();
        assert_eq!(p.stats().compiles, 4, "10 was not");
        p.set_capacity(1);
        assert_eq!(p.stats().plans, 1);
    }

    #[test]
    fn a_shape_no_plan_fits_is_refused_by_type_and_not_rebuilt() {
        let p = plans();
        // 4 channels into a convolution over 3
        let bad = vec![vec![1, 4, 8, 8]];
        let e = p.plan_for(&bad).unwrap_err();
        let r = e.downcast_ref::<ShapeRefused>().expect("typed refusal");
        assert_eq!(r.shapes, bad);
        assert!(
            e.to_string()
                .contains("cannot run on input shapes [[1, 4, 8, 8]]"),
            "{e}"
        );
        let again = p.plan_for(&bad).unwrap_err();
        assert!(again.downcast_ref::<ShapeRefused>().is_some());
        assert_eq!(
            p.stats().compiles,
            0,
            "refused shapes are remembered, not rebuilt"
        );
    }

    #[test]
    fn shapes_parse_by_name_or_for_the_first_input() {
        let one = ["x".to_string()];
        assert_eq!(
            parse_shapes("1,3,48,192", &one),
            Ok(vec![vec![1, 3, 48, 192]])
        );
        assert_eq!(parse_shapes("x=2,3", &one), Ok(vec![vec![2, 3]]));
        let two = ["a".to_string(), "b".to_string()];
        assert_eq!(
            parse_shapes("b=1,4 a=1,2", &two),
            Ok(vec![vec![1, 2], vec![1, 4]])
        );
        for (bad, words) in [
            ("1,0,3", "positive integers"),
            ("1,N,3", "positive integers"),
            ("c=1", "names input \"c\""),
        ] {
            let e = parse_shapes(bad, &one).unwrap_err().to_string();
            assert!(e.contains(words), "{bad}: {e}");
        }
        assert_eq!(
            parse_shapes("a=1,2", &two),
            Err(ShapeSpecError::Missing("b".into()))
        );
    }
}
