//! tractor: the operator's console. Not built yet: this binary only says so, so that the
//! workspace (and `tractor-serve` in it) has its root package in place.

fn main() -> std::process::ExitCode {
    eprintln!(
        "tractor {}: the console is not implemented yet; tractor-serve is in serving/",
        env!("CARGO_PKG_VERSION")
    );
    std::process::ExitCode::from(2)
}
