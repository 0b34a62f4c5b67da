# syntax=docker/dockerfile:1
#
# One image, five binaries: gateway, fulfillment, notifier, agiso-sync, admin.
# docker-compose.yml picks the binary with `command:`; the default is the gateway.
# Migrations are embedded in the binaries (sqlx::migrate!): `admin migrate` applies them.
#
# Needs BuildKit (the default builder of Docker >= 23 and of `docker compose`) for the cache mounts.
#
# Build arguments (docker-compose.yml passes them from .env):
#   RUST_IMAGE, RUNTIME_IMAGE   base images (a private registry's copies behind a firewall)
#   CARGO_REGISTRY_MIRROR       a crates.io mirror, e.g. sparse+https://mirror.example.com/crates.io-index/
#                               (written as cargo source replacement only when set)
#   APT_MIRROR                  replaces http://deb.debian.org in the runtime image's apt sources,
#                               e.g. http://mirror.example.com (only when set)
#   VERSION, GIT_COMMIT         image labels; the commit also becomes part of the version every
#                               service reports (common::version)

# The toolchain the project is tested with (sqlx needs >= 1.94).
ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---------------------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS builder
ARG CARGO_REGISTRY_MIRROR=
ARG GIT_COMMIT=
WORKDIR /src
COPY . .
# Only the five service packages: the workspace's other binaries (test and benchmark tools in
# tests/) are not shipped. target/ lives in a cache mount, so the binaries are copied out in the
# same step. The shipped binaries carry no debug info and no symbol table (the workspace's release
# profile keeps line tables for profiling; only this build overrides it).
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    set -eu; \
    if [ -n "$CARGO_REGISTRY_MIRROR" ]; then \
        printf '[source.crates-io]\nreplace-with = "mirror"\n\n[source.mirror]\nregistry = "%s"\n' \
            "$CARGO_REGISTRY_MIRROR" > "${CARGO_HOME:-/usr/local/cargo}/config.toml"; \
    fi; \
    VGOODS_GIT_COMMIT="$GIT_COMMIT" \
    CARGO_PROFILE_RELEASE_DEBUG=0 \
    CARGO_PROFILE_RELEASE_STRIP=symbols \
    cargo build --release --locked --bins \
        -p gateway -p fulfillment -p notifier -p agiso-sync -p admin; \
    mkdir -p /out; \
    for bin in gateway fulfillment notifier agiso-sync admin; do \
        cp "target/release/$bin" /out/; \
    done

# ---------------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
ARG APT_MIRROR=
ARG VERSION=
ARG GIT_COMMIT=
LABEL org.opencontainers.image.title="vgoods-platform" \
      org.opencontainers.image.description="Virtual goods order fulfilment: gateway, fulfillment, notifier, agiso-sync, admin" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${GIT_COMMIT}"
# ca-certificates: HTTPS calls to JD / Agiso / suppliers; curl: compose health checks.
RUN set -eu; \
    if [ -n "$APT_MIRROR" ]; then \
        for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do \
            if [ -f "$f" ]; then sed -i "s|http://deb.debian.org|$APT_MIRROR|g" "$f"; fi; \
        done; \
    fi; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates curl; \
    rm -rf /var/lib/apt/lists/*; \
    groupadd --system --gid 10001 app; \
    useradd --system --uid 10001 --gid app --no-create-home --home-dir /app --shell /usr/sbin/nologin app; \
    mkdir -p /app; \
    chown app:app /app
COPY --from=builder /out/ /usr/local/bin/
WORKDIR /app
USER 10001:10001
EXPOSE 8080 8081 8082 8070 8090
CMD ["gateway"]
