#!/usr/bin/env bash
# Mediathek benchmark (issue 4): builds portalo and cmd/portalo-mediabench,
# seeds a fresh MinIO bucket with $ITEMS published catalog items (1000) and
# one video made with ffmpeg and processed into the HLS ladder
# ($VIDEO_SECONDS s at 1280x720, 30 by default), starts a portalo on that
# bucket (embedded state store in a temporary data directory, media on
# loopback) and runs the benchmark: segment and byte-range throughput
# through portalo against straight from MinIO, and catalog list and search
# latency at 1000 requests/s. It stops everything afterwards, also on
# failure or Ctrl-C. The last line is machine-readable:
#
#   proxy_vs_direct=R catalog_p99_ms=X search_p99_ms=Y
#
# MinIO: the one of PORTALO_TEST_S3_ENDPOINT, _ACCESS_KEY and _SECRET_KEY
# when set (a bucket of its own, removed afterwards), otherwise the script
# starts one on a free port like deploy/test.sh does (built with go install
# at test.sh's pinned version when missing). Needs ffmpeg and curl.
#
#   bash deploy/media-bench.sh
#   ITEMS=5000 bash deploy/media-bench.sh -clients 8 -rate 500
#   MEDIA_DELIVERY=redirect bash deploy/media-bench.sh
#
# Arguments go to portalo-mediabench (see its -help).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ITEMS=${ITEMS:-1000}
VIDEO_SECONDS=${VIDEO_SECONDS:-30}
portalo_port='' # set by free_port

say() { printf 'media-bench.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
# shellcheck source=deploy/servers.sh
source deploy/servers.sh # MINIO_VERSION, helpers

for tool in go ffmpeg curl; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/portalo-media-bench.XXXXXX")
pids=()
bucket_to_drop=''

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_servers
	if [[ -n $bucket_to_drop ]]; then
		"$tmp/bin/portalo-mediabench" drop -s3-endpoint "$s3_endpoint" -s3-access-key "$s3_access" \
			-s3-secret-key "$s3_secret" -s3-bucket "$bucket_to_drop" || say "could not remove bucket $bucket_to_drop"
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "building portalo and portalo-mediabench ..."
mkdir -p "$tmp/bin"
go build -o "$tmp/bin/portalo" ./cmd/portalo
go build -o "$tmp/bin/portalo-mediabench" ./cmd/portalo-mediabench

# --- MinIO -------------------------------------------------------------------

bucket=mediabench-$(secret 8)
if [[ -n ${PORTALO_TEST_S3_ENDPOINT:-} ]]; then
	s3_endpoint=$PORTALO_TEST_S3_ENDPOINT
	s3_access=${PORTALO_TEST_S3_ACCESS_KEY:?PORTALO_TEST_S3_ACCESS_KEY is not set}
	s3_secret=${PORTALO_TEST_S3_SECRET_KEY:?PORTALO_TEST_S3_SECRET_KEY is not set}
	bucket_to_drop=$bucket
	say "using the MinIO at $s3_endpoint, bucket $bucket"
else
	install_minio
	start_minio
	s3_endpoint=127.0.0.1:$minio_port
	s3_access=$minio_user
	s3_secret=$minio_password
fi

# --- seed, then start portalo on the seeded stores ----------------------------

data=$tmp/data
mkdir "$data"
say "seeding $ITEMS catalog items and a ${VIDEO_SECONDS}s video (ffmpeg) ..."
"$tmp/bin/portalo-mediabench" seed -data-dir "$data" \
	-s3-endpoint "$s3_endpoint" -s3-access-key "$s3_access" -s3-secret-key "$s3_secret" -s3-bucket "$bucket" \
	-items "$ITEMS" -video-seconds "$VIDEO_SECONDS"

free_port portalo_port
url=http://127.0.0.1:$portalo_port
say "starting portalo at $url ..."
PORTALO_DATA_DIR=$data PORTALO_ADDR=127.0.0.1:$portalo_port \
	PORTALO_S3_ENDPOINT=$s3_endpoint PORTALO_S3_ACCESS_KEY=$s3_access PORTALO_S3_SECRET_KEY=$s3_secret PORTALO_S3_BUCKET=$bucket \
	PORTALO_MEDIA_DELIVERY=${MEDIA_DELIVERY:-proxy} \
	PORTALO_MEDIA_UDP_PORT=0 PORTALO_MEDIA_TCP_PORT=-1 PORTALO_MEDIA_LISTEN_IP=127.0.0.1 PORTALO_TURN_PORT=-1 \
	PORTALO_LOG_LEVEL=warn "$tmp/bin/portalo" >"$tmp/portalo.log" 2>&1 </dev/null &
pids+=($!)
portalo_pid=${pids[-1]}
healthy() { curl -sf -o /dev/null "$url/healthz"; }
wait_ready portalo "$portalo_pid" "$tmp/portalo.log" healthy
status=$(curl -s -o /dev/null -w '%{http_code}' "$url/api/v1/mediathek?page=1")
[[ $status == 200 ]] || die "GET /api/v1/mediathek?page=1 answers $status: this portalo does not serve the mediathek"

# --- the benchmark -------------------------------------------------------------

say "running portalo-mediabench (portalo pid $portalo_pid) ..."
"$tmp/bin/portalo-mediabench" -url "$url" -item mediabench-video \
	-s3-endpoint "$s3_endpoint" -s3-access-key "$s3_access" -s3-secret-key "$s3_secret" -s3-bucket "$bucket" "$@"
