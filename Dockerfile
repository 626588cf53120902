# syntax=docker/dockerfile:1
#
# The fairlead image: `docker build -t fairlead:0.1.0 .` (BuildKit, the default builder since
# Docker 23). See deploy/README.md for loading it into a cluster.

# Debian bookworm, so the binary links the same glibc (2.36) the runtime image ships.
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
# The cache mounts keep the crates.io registry and target/ between builds, so a source change
# rebuilds only the workspace crates, not every dependency. They are not part of the image
# layer, hence the copy out of target/ in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p fairlead \
    && install -D -m 0755 target/release/fairlead /out/fairlead

# glibc, libgcc and CA certificates, nothing else: no shell, no package manager. The binary
# links glibc dynamically; TLS is rustls with aws-lc-rs built in statically; and
# rustls-native-certs reads the system trust store (/etc/ssl/certs), which distroless ships.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/fairlead /usr/local/bin/fairlead
# distroless's "nonroot" user, written as its uid:gid: with a user name, Kubernetes'
# runAsNonRoot cannot check it and refuses to start a pod that does not set runAsUser.
USER 65532:65532
EXPOSE 80 443 9901
ENTRYPOINT ["/usr/local/bin/fairlead"]
