#!/usr/bin/env bash
# The one test command of portalo (`make test`, and `bash .ci/run` in CI).
#
#   1. Installs what the tests need and is missing, and is quick when all is
#      there: the Debian packages redis-server, chromium and ffmpeg (apt-get,
#      through sudo when not root), and the MinIO server, built with
#      `go install` at the version pinned below into $(go env GOPATH)/bin (or
#      GOBIN); a stamp file .minio-version next to the binary records it.
#   2. Starts a throw-away Redis and MinIO on free ports of 127.0.0.1, with their
#      data and logs in a temporary directory, and waits until they answer.
#   3. Exports where they are (PORTALO_TEST_* variables, read by
#      internal/testenv) with PORTALO_TEST_STRICT=1, so that a test that lacks
#      a server fails instead of being skipped.
#   4. Runs `go vet` and `go test -race -count=1 -timeout 20m`; the exit code of
#      the script is theirs. On exit, also on failure or Ctrl-C, it stops both
#      servers and removes the temporary directory.
#
# Arguments go to `go test`, after the default flags (so a later -timeout
# wins). Arguments that start with ./ or ../ are packages: they replace the
# default ./... for both go vet and go test. Examples:
#
#   make test
#   make test ARGS='-run TestBrowser -v ./web/browsertest/'
#   bash deploy/test.sh -run TestBrowser -v ./web/browsertest/
#   bash deploy/test.sh -short
set -euo pipefail

DEBIAN_PACKAGES=(redis-server chromium ffmpeg)

cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'test.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
# shellcheck source=deploy/servers.sh
source deploy/servers.sh # MINIO_VERSION (the pinned MinIO), READY_TIMEOUT, helpers

command -v go >/dev/null || die "go is not installed"

# --- 1. install what is missing ----------------------------------------------

# as_root runs a command as root, through sudo when needed.
as_root() {
	if [[ $EUID -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		die "not root and no sudo; run as root: $*"
	fi
}

# has_package reports whether the Debian package is installed.
has_package() {
	[[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
	has_package "$p" || missing+=("$p")
done
if ((${#missing[@]})); then
	say "installing ${missing[*]} (apt-get) ..."
	start=$SECONDS
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	say "installed ${missing[*]} in $((SECONDS - start)) s"
fi

chromium=/usr/lib/chromium/chromium # the binary; /usr/bin/chromium is a wrapper script
[[ -x $chromium ]] || chromium=/usr/bin/chromium
"$chromium" --headless --no-sandbox --version >/dev/null 2>&1 || die "Chromium does not start: $chromium --version failed"

install_minio

# --- 2. start the servers ----------------------------------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/portalo-test.XXXXXX")
pids=()

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_servers
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

redis_port='' # set by free_port
free_port redis_port
say "starting redis-server on 127.0.0.1:$redis_port ..."
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
	--dir "$tmp" --daemonize no >"$tmp/redis.log" 2>&1 </dev/null &
pids+=($!)
redis_ping() { [[ "$(redis-cli -h 127.0.0.1 -p "$redis_port" ping)" == PONG ]]; }
wait_ready redis-server "${pids[-1]}" "$tmp/redis.log" redis_ping

start_minio

# --- 3. tell the tests where the servers are ---------------------------------

export PORTALO_TEST_REDIS_URL=redis://127.0.0.1:$redis_port/0
export PORTALO_TEST_S3_ENDPOINT=127.0.0.1:$minio_port
export PORTALO_TEST_S3_ACCESS_KEY=$minio_user
export PORTALO_TEST_S3_SECRET_KEY=$minio_password
export PORTALO_TEST_CHROMIUM=$chromium
export PORTALO_TEST_STRICT=1

# --- 4. vet and test -----------------------------------------------------------

pkgs=()
for a in "$@"; do
	if [[ $a == ./* || $a == ../* ]]; then pkgs+=("$a"); fi
done
if ((${#pkgs[@]} == 0)); then
	pkgs=(./...)
	set -- "$@" ./...
fi

say "go vet ${pkgs[*]}"
go vet "${pkgs[@]}"
say "go test -race -count=1 -timeout 20m $*"
go test -race -count=1 -timeout 20m "$@"
