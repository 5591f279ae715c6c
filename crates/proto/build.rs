//! Compile proto/inference.proto with protox (a protobuf compiler in Rust, so no system
//! `protoc`), then generate the messages, and with the `grpc` feature tonic's server trait and
//! client (without tonic's transport: callers bring their own channel).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/inference.proto");
    let grpc = std::env::var_os("CARGO_FEATURE_GRPC").is_some();
    let descriptors = protox::compile(["inference.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_server(grpc)
        .build_client(grpc)
        .build_transport(false)
        .compile_fds(descriptors)?;
    Ok(())
}
