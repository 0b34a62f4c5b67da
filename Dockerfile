# syntax=docker/dockerfile:1
#
# One image, five binaries: gateway, fulfillment, notifier, agiso-sync, admin.
# docker-compose.yml picks the binary with `command:`; the default is the gateway.
# Migrations are embedded in the binaries (sqlx::migrate!): `admin migrate` applies them.
#
# Needs BuildKit (the default builder of Docker >= 23 and of `docker compose`) for the cache mounts.

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---------------------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS builder
WORKDIR /src
COPY . .
# Only the five service packages: the workspace's other binaries (test and benchmark tools in
# tests/) are not shipped. target/ lives in a cache mount, so the binaries are copied out in the
# same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bins \
        -p gateway -p fulfillment -p notifier -p agiso-sync -p admin \
 && mkdir -p /out \
 && for bin in gateway fulfillment notifier agiso-sync admin; do \
        cp "target/release/$bin" /out/; \
    done

# ---------------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
# ca-certificates: HTTPS calls to JD / Agiso / suppliers; curl: compose health checks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /app --shell /usr/sbin/nologin app \
 && mkdir -p /app \
 && chown app:app /app
COPY --from=builder /out/ /usr/local/bin/
WORKDIR /app
USER 10001:10001
EXPOSE 8080 8081 8082 8070 8090
CMD ["gateway"]
