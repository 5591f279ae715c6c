//! The instruction set this binary was compiled for, against the CPU it runs on.
//!
//! An image may be built for a higher x86-64 level (`--build-arg TARGET_CPU=x86-64-v3`, the
//! README's lever table); such a binary would die of an illegal instruction somewhere on an
//! older CPU. It checks at start instead and refuses with the features that are missing.

/// Features the compiler was allowed to use that this CPU does not have.
pub fn missing_features() -> Vec<&'static str> {
    #[allow(unused_mut)]
    let mut missing = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! need {
            ($($f:tt),*) => {$(
                if cfg!(target_feature = $f) && !std::arch::is_x86_feature_detected!($f) {
                    missing.push($f);
                }
            )*};
        }
        need!(
            "sse4.2", "popcnt", "avx", "avx2", "fma", "bmi1", "bmi2", "f16c", "avx512f",
            "avx512bw", "avx512vl"
        );
    }
    missing
}

/// The message for a binary built above this CPU, if it is.
pub fn refusal() -> Option<String> {
    let missing = missing_features();
    (!missing.is_empty()).then(|| {
        format!(
            "this binary was built for a newer x86-64 level than this CPU: it lacks {}; \
             use an image built without TARGET_CPU (or with a lower one)",
            missing.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_test_binary_runs_on_the_cpu_it_was_built_for() {
        // Built for the baseline (or for this machine): nothing missing; a feature listed
        // would mean the check misreads the CPU.
        assert_eq!(super::missing_features(), Vec::<&str>::new());
        assert_eq!(super::refusal(), None);
    }
}
