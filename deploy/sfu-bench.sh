#!/bin/bash
# SFU benchmark: builds portalo and the load tool, starts a fresh portalo on
# 127.0.0.1 (media on loopback only), runs cmd/portalo-load with N
# subscribers (default 10) and stops the server. Usage: bash deploy/sfu-bench.sh 100
# With PROFILE=FILE it also saves a CPU profile of the server taken over
# the measurement window (go tool pprof FILE), with BASE_PROFILE=FILE one
# of the publisher-only baseline. SERVER_GOMAXPROCS=K runs the server (only)
# with GOMAXPROCS=K (which also stops it adapting its processors to the
# load, as it does by default), SERVER_GOGC=P with GOGC=P.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p /tmp/bench
go build -o /tmp/bench/portalo ./cmd/portalo && go build -o /tmp/bench/portalo-load ./cmd/portalo-load || exit 1
N=${1:-10}
D=$(mktemp -d)
PORTALO_DATA_DIR=$D PORTALO_ADMIN_PASSWORD=bench-password /tmp/bench/portalo admin create -pseudonym benchadmin >/dev/null
env ${SERVER_GOMAXPROCS:+GOMAXPROCS=$SERVER_GOMAXPROCS} ${SERVER_GOGC:+GOGC=$SERVER_GOGC} PORTALO_DATA_DIR=$D PORTALO_DEMO_CONTENT=false PORTALO_ADDR=127.0.0.1:18095 PORTALO_MEDIA_UDP_PORT=0 PORTALO_MEDIA_TCP_PORT=-1 \
  PORTALO_MEDIA_LISTEN_IP=127.0.0.1 PORTALO_TURN_PORT=-1 PORTALO_LOG_LEVEL=info PORTALO_DEBUG_ADDR=127.0.0.1:18096 /tmp/bench/portalo >$D/server.log 2>&1 &
SP=$!
for i in $(seq 1 50); do curl -sf http://127.0.0.1:18095/healthz >/dev/null && break; sleep 0.2; done
/tmp/bench/portalo-load ${PROFILE:+-profile "$PROFILE"} ${BASE_PROFILE:+-baseline-profile "$BASE_PROFILE"} -url http://127.0.0.1:18095 -admin benchadmin -admin-password bench-password -subscribers $N -pid $SP -debug-url http://127.0.0.1:18096 -duration 30s -warmup 5s 2>&1
RC=$?
kill $SP; wait $SP 2>/dev/null
grep -h 'packets sent' $D/server.log
cp $D/server.log /tmp/bench/server.log # the last run's server log
rm -rf $D
exit $RC
