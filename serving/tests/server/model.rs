//! The model layer without HTTP: batch-size tuning keeps a prefix of sizes whose cost per row
//! falls, and running any number of rows gives the same answers as running them one by one.

use crate::common;

use tract_onnx::prelude::Tensor;
use tractor_serve::model::Model;

fn rows(n: usize) -> Tensor {
    Tensor::from_shape(&[n, 64], &common::det(n * 64)).unwrap()
}

#[test]
fn tuning_keeps_an_ascending_prefix_that_gets_cheaper_per_row() {
    let mut m = Model::load(&common::demo(2), &[], 8).unwrap();
    assert_eq!(m.max_plan_batch(), 8, "plans 1, 2, 4, 8 before tuning");
    let report = m.tune_batch_sizes().unwrap();
    assert!(!report.is_empty());
    assert_eq!(report[0].0, 1);
    let kept: Vec<usize> = report.iter().filter(|r| r.2).map(|r| r.0).collect();
    // Kept sizes are a prefix of the tried ones, each cheaper per row than the one before.
    assert_eq!(
        kept,
        report
            .iter()
            .take(kept.len())
            .map(|r| r.0)
            .collect::<Vec<_>>()
    );
    for w in report.windows(2).filter(|w| w[1].2) {
        assert!(
            w[1].1 / w[1].0 as f64 <= 0.95 * w[0].1 / w[0].0 as f64,
            "{report:?}"
        );
    }
    assert_eq!(m.max_plan_batch(), *kept.last().unwrap_or(&1));
    eprintln!("demo-v2 batch timing: {report:?}");
}

#[test]
fn any_row_count_runs_as_a_sum_of_plan_sizes_with_the_same_answers() {
    let m = Model::load(&common::demo(1), &[], 4).unwrap();
    let mut r = m.runner().unwrap();
    let all = r.run(vec![rows(7)]).unwrap();
    assert_eq!(all[0].shape(), &[7, 8]);
    let got: Vec<f32> = all[0]
        .try_as_plain_ram()
        .unwrap()
        .as_slice::<f32>()
        .unwrap()
        .to_vec();
    for i in 0..7 {
        let one = r.run(vec![rows(7).slice(0, i, i + 1).unwrap()]).unwrap();
        let want = one[0]
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<f32>()
            .unwrap()
            .to_vec();
        let g: Vec<f64> = got[i * 8..(i + 1) * 8].iter().map(|v| *v as f64).collect();
        let w: Vec<f64> = want.iter().map(|v| *v as f64).collect();
        common::assert_close(&g, &w, 1e-6, 1e-5, &format!("row {i}"));
    }
}

#[test]
fn the_server_tunes_batch_sizes_unless_told_not_to() {
    use tractor_serve::{Server, config::Config};
    let mut cfg = Config::for_model(common::demo(1)).unwrap();
    cfg.max_batch_size = 64;
    let tuned = Server::load(cfg.clone()).unwrap();
    let untuned = Server::load(Config {
        batch_tuning: false,
        ..cfg
    })
    .unwrap();
    assert_eq!(untuned.model.max_plan_batch(), 64);
    assert!(untuned.batch_timings.is_empty());
    assert_eq!(
        tuned.batch_timings.first().map(|t| t.0),
        Some(1),
        "tuning ran from batch 1"
    );
    let last_kept = tuned
        .batch_timings
        .iter()
        .filter(|t| t.2)
        .map(|t| t.0)
        .next_back()
        .unwrap_or(1);
    assert_eq!(
        tuned.model.max_plan_batch(),
        last_kept,
        "the server serves with what tuning kept"
    );
}

#[test]
fn magika_rewrites_each_fire_and_keep_the_answers_even_out_of_range() {
    let path = common::shared_models().join("magika-standard-v3_3.onnx");
    use tract_onnx::prelude::*;
    let mut typed = decluttered("magika-standard-v3_3.onnx", i32::datum_type(), &[2, 2048]);
    assert_eq!(
        tractor_serve::rewrite::one_hot_matmul_to_lookup(&mut typed).unwrap(),
        1,
        "magika's embedding"
    );
    assert_eq!(
        tractor_serve::rewrite::one_hot_matmul_to_lookup(&mut typed).unwrap(),
        0,
        "nothing left to rewrite"
    );
    use tractor_serve::model::lowering::Lowering;
    use tractor_serve::rewrite::{Rewrites, activation, fold, patches, peak, reduce};
    // The lookup's bias and first GELU go into the table; the second GELU, spelled out by
    // jax2tf, becomes one op; its global max pool becomes GELU of the max and the min.
    assert_eq!(fold::fold_into_tables(&mut typed).unwrap(), 1, "fold");
    assert_eq!(activation::fuse_gelu(&mut typed).unwrap(), 1, "gelu");
    assert_eq!(peak::max_of_gelu(&mut typed).unwrap(), 1, "peak");
    let mut optimized = typed.into_optimized().unwrap();
    // Layer norm's sum and mean of squares, its second sum, and the max and min of the peak.
    assert!(
        reduce::reductions(&mut optimized).unwrap() >= 4,
        "reductions"
    );
    // Its one convolution, channels last over 512 positions, batched here.
    assert_eq!(
        patches::packed_patches(&mut optimized).unwrap(),
        1,
        "patches"
    );

    let with = Model::load_with(&path, &[], 2, Rewrites::ALL, Lowering::Tract).unwrap();
    let without = Model::load_with(&path, &[], 2, Rewrites::NONE, Lowering::Tract).unwrap();
    // Real bytes in row 0; out-of-range values (which the one-hot maps to zero rows) in row 1.
    let mut x = common::magika_features(&std::fs::read(common::data("magika/sample.py")).unwrap());
    x.extend((0..2048).map(|i| [-1, 300, 256, 7][i % 4]));
    let t = Tensor::from_shape(&[2, 2048], &x).unwrap();
    let a = with.runner().unwrap().run(vec![t.clone()]).unwrap();
    let b = without.runner().unwrap().run(vec![t]).unwrap();
    let f = |t: &Tensor| {
        t.try_as_plain_ram()
            .unwrap()
            .as_slice::<f32>()
            .unwrap()
            .iter()
            .map(|v| *v as f64)
            .collect::<Vec<_>>()
    };
    common::assert_close(
        &f(&a[0]),
        &f(&b[0]),
        1e-5,
        1e-4,
        "magika with vs without the rewrites",
    );
}

fn flat(t: &Tensor) -> Vec<f32> {
    t.try_as_plain_ram()
        .unwrap()
        .as_slice::<f32>()
        .unwrap()
        .to_vec()
}

/// A file that declares its outputs' (and an intermediate value's) shapes as expressions of
/// the inputs' symbols, as YOLOv8-style exports do: fixing the input's shape must not clash
/// with them (tract used to fail: "Impossible to unify Sym(batch) with Val(1)").
#[test]
fn declared_symbolic_output_shapes_do_not_clash_with_a_fixed_input_shape() {
    let path = common::data("symbolic-outputs.onnx");
    let image = Tensor::from_shape(&[1, 3, 40, 40], &common::det(3 * 40 * 40)).unwrap();

    let fixed = Model::load(&path, &["1,3,40,40".into()], 8).unwrap();
    assert_eq!(
        fixed.outputs[0].shape,
        [Some(1), Some(22), Some(20), Some(20)]
    );
    let got = fixed.runner().unwrap().run(vec![image.clone()]).unwrap();
    assert_eq!(got[0].shape(), &[1, 22, 20, 20]);

    // a free batch with fixed spatial dimensions: batched plans, the batch left free
    let batched = Model::load(&path, &["N,3,40,40".into()], 4).unwrap();
    assert!(batched.batchable());
    assert_eq!(
        batched.outputs[0].shape,
        [None, Some(22), Some(20), Some(20)]
    );
    let two = Tensor::from_shape(&[2, 3, 40, 40], &common::det(2 * 3 * 40 * 40)).unwrap();
    let got2 = batched.runner().unwrap().run(vec![two]).unwrap();
    assert_eq!(got2[0].shape(), &[2, 22, 20, 20]);

    // the same answers as the model left as it is (its declarations kept, every dim free)
    let free = Model::load(&path, &[], 8).unwrap();
    assert!(!free.batchable());
    let want = free.runner().unwrap().run(vec![image]).unwrap();
    let (g, w) = (flat(&got[0]), flat(&want[0]));
    assert_eq!(g.len(), w.len());
    let g: Vec<f64> = g.iter().map(|v| *v as f64).collect();
    let w: Vec<f64> = w.iter().map(|v| *v as f64).collect();
    common::assert_close(&g, &w, 1e-5, 1e-5, "fixed vs free input shape");
    assert!(w.iter().any(|v| *v > 0.0), "not all zero after the relu");
}

/// An input that declares no shape at all (not even its rank): loading fails with words that
/// name the input and the flag that fixes it, and with that flag the model loads and runs.
#[test]
fn an_input_without_any_shape_names_the_flag_that_fixes_it() {
    let path = common::data("no-shape.onnx");
    let err = Model::load(&path, &[], 8)
        .err()
        .expect("loaded without a shape");
    let words = err.to_string();
    assert!(
        words.contains("no-shape.onnx")
            && words.contains("input \"x\" declares no shape")
            && words.contains("--input-shape x=DIMS"),
        "{words}"
    );

    let model = Model::load(&path, &["x=N,4".into()], 4).unwrap();
    assert!(model.batchable());
    assert_eq!(model.inputs[0].shape, [None, Some(4)]);
    let x = Tensor::from_shape(&[2, 4], &[-1.0f32, 2.0, -3.0, 4.0, 0.5, -0.5, 0.0, 7.0]).unwrap();
    let got = model.runner().unwrap().run(vec![x]).unwrap();
    assert_eq!(flat(&got[0]), [0.0, 2.0, 0.0, 4.0, 0.5, 0.0, 0.0, 7.0]);
}

#[test]
fn conv_lowering_every_way_answers_as_tracts_rule_and_auto_names_its_choice() {
    use tract_onnx::prelude::*;
    use tract_onnx::tract_core::internal::Approximation;
    use tractor_serve::model::lowering::{Lowering, optimize_with};
    let typed = || {
        decluttered(
            "ppocr-mobile-v2-cls.onnx",
            f32::datum_type(),
            &[1, 3, 48, 192],
        )
    };
    let nothing = |_: &mut TypedModel| Ok(());
    let x = Tensor::from_shape(&[1, 3, 48, 192], &common::det(3 * 48 * 192)).unwrap();
    let run = |l: Lowering| {
        let (chosen, plan) = optimize_with(typed(), l, true, nothing).unwrap();
        (chosen, plan.run(tvec![x.clone().into_tvalue()]).unwrap())
    };
    let (_, want) = run(Lowering::Tract);
    for l in [Lowering::Eager, Lowering::Lazy, Lowering::Auto] {
        let (chosen, got) = run(l);
        assert!(l == Lowering::Auto || chosen == l, "{l} built as {chosen}");
        assert_ne!(chosen, Lowering::Auto, "auto names what it chose");
        got[0]
            .close_enough(&want[0], Approximation::Approximate)
            .unwrap_or_else(|e| panic!("{l}: {e}"));
    }
}

#[test]
fn hardswish_and_pool_rewrites_fire_on_ppocr_and_squeezenet() {
    use tract_onnx::prelude::*;
    use tractor_serve::rewrite::activation::{Activation, fuse};
    use tractor_serve::rewrite::pool::max_pools;
    // PaddlePaddle spells hard-swish as x·Clip(x+3, 0, 6)/6, eighteen times; one 2×2 max pool.
    let mut ppocr = decluttered(
        "ppocr-mobile-v2-cls.onnx",
        f32::datum_type(),
        &[1, 3, 48, 192],
    );
    assert_eq!(fuse(&mut ppocr, Activation::HardSwish).unwrap(), 18);
    assert_eq!(max_pools(&mut ppocr).unwrap(), 1);
    // SqueezeNet's three 3×3 stride-2 pools; no hard-swish there.
    let mut squeezenet = decluttered(
        "squeezenet-light.onnx",
        f32::datum_type(),
        &[1, 3, 224, 224],
    );
    assert_eq!(max_pools(&mut squeezenet).unwrap(), 3);
    assert_eq!(fuse(&mut squeezenet, Activation::HardSwish).unwrap(), 0);
}

#[test]
fn split_fires_on_resnets_deep_convolutions_only() {
    use tract_onnx::prelude::*;
    use tractor_serve::rewrite::split::deep_convolutions;
    // ResNet-50's 3×3 convolutions over 256 and 512 channels: six and three.
    let mut resnet = decluttered("resnet50-light.onnx", f32::datum_type(), &[1, 3, 224, 224]);
    assert_eq!(deep_convolutions(&mut resnet).unwrap(), 9);
    // SqueezeNet's 3×3 convolutions read at most 64 channels (576 deep): none.
    let mut squeezenet = decluttered(
        "squeezenet-light.onnx",
        f32::datum_type(),
        &[1, 3, 224, 224],
    );
    assert_eq!(deep_convolutions(&mut squeezenet).unwrap(), 0);
}

#[test]
fn shallow_fires_on_the_first_layers_of_squeezenet_and_ppocr_only() {
    use tract_onnx::prelude::*;
    use tractor_serve::rewrite::shallow::{Kernel, ShallowConv, shallow_convolutions};
    // A CPU without AVX2 and FMA leaves every convolution to tract.
    let taken = usize::from(Kernel::best() != Kernel::Plain);
    // SqueezeNet's first layer, 3 channels × 3×3 (27 deep), with the ReLU after it.
    let mut squeezenet = decluttered(
        "squeezenet-light.onnx",
        f32::datum_type(),
        &[1, 3, 224, 224],
    );
    assert_eq!(shallow_convolutions(&mut squeezenet).unwrap(), taken);
    let ops: Vec<&ShallowConv> = squeezenet
        .nodes()
        .iter()
        .filter_map(|n| n.op_as::<ShallowConv>())
        .collect();
    if taken == 1 {
        assert_eq!(
            (ops[0].geo.cout, ops[0].geo.out, ops[0].relu),
            (64, [111, 111], true)
        );
    }
    // PaddleOCR's first layer is 27 deep too; ResNet-50's, 3 × 7×7, is 147: left to tract.
    let mut ppocr = decluttered(
        "ppocr-mobile-v2-cls.onnx",
        f32::datum_type(),
        &[1, 3, 48, 192],
    );
    assert_eq!(shallow_convolutions(&mut ppocr).unwrap(), taken);
    let mut resnet = decluttered("resnet50-light.onnx", f32::datum_type(), &[1, 3, 224, 224]);
    assert_eq!(shallow_convolutions(&mut resnet).unwrap(), 0);
}

/// A shared model with its first input fixed to `dt` and `shape`, typed and decluttered: the
/// graph the rewrites see.
fn decluttered(
    file: &str,
    dt: tract_onnx::prelude::DatumType,
    shape: &[usize],
) -> tract_onnx::prelude::TypedModel {
    use tract_onnx::prelude::*;
    let mut m = tract_onnx::onnx()
        .model_for_path(common::shared_models().join(file))
        .unwrap();
    m.set_input_fact(0, InferenceFact::dt_shape(dt, shape))
        .unwrap();
    m.into_typed().unwrap().into_decluttered().unwrap()
}

#[test]
fn copies_take_resnets_pads_and_strided_inputs_after_optimizing() {
    use tract_onnx::prelude::*;
    use tractor_serve::rewrite::copies::{PadRows, Subsample, row_copies};
    let resnet = decluttered("resnet50-light.onnx", f32::datum_type(), &[1, 3, 224, 224]);
    let mut optimized = resnet.into_optimized().unwrap();
    let count =
        |m: &TypedModel, name: &str| m.nodes().iter().filter(|n| n.op().name() == name).count();
    let (pads, downsamples) = (count(&optimized, "Pad"), count(&optimized, "Downsample"));
    assert!(
        pads > 0 && downsamples > 0,
        "{pads} pads, {downsamples} downsamples"
    );
    assert_eq!(row_copies(&mut optimized).unwrap(), pads + downsamples);
    assert_eq!(
        count(&optimized, "Pad") + count(&optimized, "Downsample"),
        0
    );
    let has = |f: &dyn Fn(&TypedNode) -> bool| optimized.nodes().iter().filter(|n| f(n)).count();
    assert_eq!(has(&|n| n.op_is::<PadRows>()), pads);
    // its strided 1×1 convolutions downsample H then W: one copy each
    let subs: Vec<&Subsample> = optimized
        .nodes()
        .iter()
        .filter_map(|n| n.op_as::<Subsample>())
        .collect();
    assert_eq!(subs.len() * 2, downsamples);
    assert!(subs.iter().all(|s| s.steps.len() == 2), "{subs:?}");
}
