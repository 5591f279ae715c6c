//! Raw inference time of tract on a model, without HTTP: the tract side of the benchmark's
//! "tract vs onnxruntime" table.
//!
//!     cargo run --release -p tractor-serve --example raw_timing -- MODEL [--input-shape S] [--batch B] [--threads T] [--runs N] [--rewrites R] [--conv-lowering L] [--profile | --constant-work]
//!     cargo run --release -p tractor-serve --example raw_timing -- --isa
//!
//! `--isa` prints the instruction-set rung tract's kernels run at on this machine (its
//! nickname, then every feature probed), for the benchmark tables. `--profile` prints the time
//! per node; `--constant-work` the nodes of the prepared plan that compute from constants alone
//! (work repeated every run that folding at load would do once).
//!
//! Inputs are the deterministic test formula; prints the median and the mean in milliseconds.

use std::time::Instant;

use tract_onnx::prelude::Tensor;
use tractor_serve::model::Model;
use tractor_serve::model::lowering::Lowering;
use tractor_serve::rewrite::Rewrites;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // RUST_LOG=tractor_serve=debug shows the rewrites applied and the lowering chosen.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--isa") {
        let isa = tract_linalg::isa::native();
        let features: Vec<String> = isa.iter().map(|i| i.to_string()).collect();
        println!("{} ({})", isa.nickname(), features.join(","));
        return Ok(());
    }
    let model = args
        .first()
        .ok_or("usage: raw_timing MODEL [--input-shape S] [--batch B] [--threads T] [--runs N]")?;
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let batch: usize = opt("--batch").map(|v| v.parse()).transpose()?.unwrap_or(1);
    let threads: usize = opt("--threads")
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(1);
    let runs: usize = opt("--runs").map(|v| v.parse()).transpose()?.unwrap_or(30);
    let shapes: Vec<String> = opt("--input-shape").into_iter().collect();
    tractor_serve::set_intra_op_threads(threads);
    let rewrites: Rewrites = opt("--rewrites")
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(Rewrites::ALL);
    let lowering: Lowering = opt("--conv-lowering")
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(Lowering::Auto);
    let m = Model::load_with(
        std::path::Path::new(model),
        &shapes,
        batch,
        rewrites,
        lowering,
    )?;
    let inputs: Vec<Tensor> = m
        .inputs
        .iter()
        .map(|i| {
            let shape: Vec<usize> = i
                .shape
                .iter()
                .enumerate()
                .map(|(ix, d)| d.unwrap_or(if ix == 0 { batch } else { 1 }))
                .collect();
            let n: usize = shape.iter().product();
            let data: Vec<f32> = (0..n)
                .map(|k| (((k as i64 * 7919) % 1000) as f64 / 1000.0 - 0.5) as f32)
                .collect();
            Tensor::from_shape(&shape, &data)?
                .cast_to_dt(i.dtype.datum())
                .map(|t| t.into_owned())
        })
        .collect::<Result<_, _>>()?;
    if args.iter().any(|a| a == "--constant-work") {
        let nodes = m.constant_work()?;
        println!("nodes computing from constants alone: {}", nodes.len());
        for n in nodes {
            println!("  {n}");
        }
        return Ok(());
    }
    if args.iter().any(|a| a == "--profile") {
        for (op, ms) in m.profile_ops(runs)?.into_iter().take(400) {
            println!("{ms:8.3} ms  {op}");
        }
        return Ok(());
    }
    let mut runner = m.runner()?;
    for _ in 0..3 {
        runner.run(inputs.clone())?;
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        runner.run(inputs.clone())?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    println!(
        "median_ms={:.3} mean_ms={:.3} runs={runs} batch={batch} threads={threads}",
        times[times.len() / 2],
        mean
    );
    Ok(())
}
