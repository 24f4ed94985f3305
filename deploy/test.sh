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

MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c # github.com/minio/minio
DEBIAN_PACKAGES=(redis-server chromium ffmpeg)
READY_TIMEOUT=60 # seconds that each server gets to answer

cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'test.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

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

gobin=$(go env GOBIN)
if [[ -z $gobin ]]; then
	gopath=$(go env GOPATH)
	gobin=${gopath%%:*}/bin
fi
minio=$gobin/minio
stamp=$gobin/.minio-version
if [[ ! -x $minio || "$(cat "$stamp" 2>/dev/null)" != "$MINIO_VERSION" ]]; then
	say "installing the MinIO server $MINIO_VERSION (go install, about 5 minutes the first time) ..."
	start=$SECONDS
	GOBIN=$gobin go install "github.com/minio/minio@$MINIO_VERSION"
	echo "$MINIO_VERSION" >"$stamp"
	say "installed MinIO in $((SECONDS - start)) s"
fi

# --- 2. start the servers ----------------------------------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/portalo-test.XXXXXX")
pids=()

cleanup() {
	local rc=$? pid i
	trap - EXIT INT TERM
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do
		# Give each server 10 s to stop, then kill it.
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_port VAR sets VAR to a port of 127.0.0.1 that nothing listens on and
# that no earlier call chose.
taken=" "
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40001))
		[[ $taken == *" $p "* ]] && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			taken+="$p "
			printf -v "$1" %s "$p"
			return
		fi
	done
}

# secret prints n random hex digits.
secret() { od -An -tx1 -N"$(($1 / 2))" /dev/urandom | tr -d ' \n'; }

# wait_ready NAME PID LOG CHECK...: runs CHECK until it succeeds, fails if the
# server exits or does not answer within READY_TIMEOUT seconds.
wait_ready() {
	local name=$1 pid=$2 log=$3
	shift 3
	local deadline=$((SECONDS + READY_TIMEOUT))
	until "$@" 2>/dev/null; do
		if ! kill -0 "$pid" 2>/dev/null; then
			say "error: $name exited; the end of its log ($log):"
			tail -n 30 "$log" >&2 || true
			exit 1
		fi
		if ((SECONDS >= deadline)); then
			say "error: $name did not answer within $READY_TIMEOUT s; the end of its log ($log):"
			tail -n 30 "$log" >&2 || true
			exit 1
		fi
		sleep 0.2
	done
}

redis_port='' minio_port='' console_port='' # set by free_port
free_port redis_port
say "starting redis-server on 127.0.0.1:$redis_port ..."
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
	--dir "$tmp" --daemonize no >"$tmp/redis.log" 2>&1 </dev/null &
pids+=($!)
redis_ping() { [[ "$(redis-cli -h 127.0.0.1 -p "$redis_port" ping)" == PONG ]]; }
wait_ready redis-server "${pids[-1]}" "$tmp/redis.log" redis_ping

free_port minio_port
free_port console_port
minio_user=portalo$(secret 8)
minio_password=$(secret 32)
say "starting the MinIO server on 127.0.0.1:$minio_port ..."
mkdir "$tmp/minio"
MINIO_ROOT_USER=$minio_user MINIO_ROOT_PASSWORD=$minio_password \
	MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CI_CD=1 \
	"$minio" server "$tmp/minio" --quiet \
	--address "127.0.0.1:$minio_port" --console-address "127.0.0.1:$console_port" \
	>"$tmp/minio.log" 2>&1 </dev/null &
pids+=($!)
# minio_live asks for GET /minio/health/live with bash alone (no curl needed).
minio_live() (
	exec 3<>"/dev/tcp/127.0.0.1/$minio_port"
	printf 'GET /minio/health/live HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
	read -r -t 5 status <&3
	[[ $status == "HTTP/1."?" 200 "* ]]
)
wait_ready minio "${pids[-1]}" "$tmp/minio.log" minio_live

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
