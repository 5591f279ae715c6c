# syntax=docker/dockerfile:1.7
# tractor: the console's binary, as the image of an in-cluster load test's workers
# (`tractor loadtest --workers N --in-cluster` runs `tractor loadtest-worker` in each pod of
# its Job). Build from the repository root:
#
#   docker build -t registry.example/tractor:0.1.0 .
#
# and name it with --worker-image (or TRACTOR_WORKER_IMAGE); the default is tractor:VERSION.

ARG RUST_VERSION=1.95
ARG DEBIAN=bookworm

# ---- build: the release binary, for the same glibc as the runtime image -------------------
FROM rust:${RUST_VERSION}-${DEBIAN} AS build
WORKDIR /src
# the workspace needs every package's manifest; .dockerignore keeps the rest out
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p tractor --bin tractor \
 && mkdir -p /out/debug \
 && objcopy --only-keep-debug target/release/tractor /out/debug/tractor.debug \
 && objcopy --strip-debug --add-gnu-debuglink=/out/debug/tractor.debug \
      target/release/tractor /out/tractor
# the image gets the binary without debug info (its symbols stay: panics name functions);
# the debug info stays in this stage
# (`docker build --target build` and copy /out/debug out to symbolize a core dump)

# ---- runtime: distroless cc (glibc, libgcc; no shell, no package manager), non-root --------
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="tractor" \
      org.opencontainers.image.description="tractor's console binary: the workers of in-cluster load tests" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/tractor /usr/local/bin/tractor
# the Job mounts a scratch volume at /tmp on a read-only root: logs and config go there
ENV HOME=/tmp
USER 65532:65532
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/tractor"]
