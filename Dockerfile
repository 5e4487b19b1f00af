# syntax=docker/dockerfile:1
#
# The outbox-relay image: a release build of the binary on Debian 12 (bookworm), run as
# an unprivileged user.
#
#   docker build -t outbox-relay .
#   docker run --rm -v "$PWD/relay.toml:/etc/outbox-relay/relay.toml:ro" outbox-relay
#   docker run --rm ... outbox-relay check --config /etc/outbox-relay/relay.toml
#
# UNTESTED: the machines this project is developed and tested on have no Docker engine,
# so this image has never been built there. What is checked: the build command below
# (`cargo build --release --locked --bin outbox-relay`) works on Debian 12 with the same
# Rust version and no cmake; docker-compose.yml, which builds this file, validates
# against the Compose Specification (scripts/validate-compose.sh).
#
# The build needs sql/ (the binary embeds the DBA scripts for `outbox-relay demo`) and
# every workspace member's manifest (crates/, tests/, benches/): .dockerignore keeps them.

# The toolchain the project is tested with; the workspace needs rust >= 1.94.1 (the AWS SDK's).
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
# Cache mounts (BuildKit) keep the crate registry and target/ between builds; the binary
# is copied out of the cached target/ in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin outbox-relay \
    && install -m 0755 target/release/outbox-relay /usr/local/bin/outbox-relay

FROM debian:bookworm-slim
# ca-certificates: TLS to PostgreSQL (sslmode=verify-full) and to brokers uses the
# system roots unless a CA file is configured. Not version-pinned on purpose: the
# newest root store of bookworm is the one to have.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 outbox-relay \
    && useradd --system --uid 10001 --gid outbox-relay --home-dir /var/lib/outbox-relay \
        --no-create-home --shell /usr/sbin/nologin outbox-relay \
    && install -d -o outbox-relay -g outbox-relay -m 0750 /var/lib/outbox-relay \
    && install -d -m 0755 /etc/outbox-relay
COPY --from=build /usr/local/bin/outbox-relay /usr/local/bin/outbox-relay
# A named volume mounted at /var/lib/outbox-relay (file sink, dead letters) starts out
# owned by this user.
USER 10001:10001
WORKDIR /var/lib/outbox-relay
ENV RUST_LOG=info
# SIGTERM (docker stop) drains in-flight events and confirms their position, then exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["outbox-relay"]
CMD ["run", "--config", "/etc/outbox-relay/relay.toml"]
