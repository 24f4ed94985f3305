# shellcheck shell=bash
# Helpers for the scripts that start throw-away servers on 127.0.0.1
# (deploy/test.sh, deploy/media-bench.sh); source it after defining
# say and die. The caller keeps the servers' PIDs in the array pids and the
# temporary directory in tmp.

# shellcheck disable=SC2154 # tmp and pids belong to the caller
minio_port='' minio_user='' minio_password='' minio='' # set by install_minio and start_minio

MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c # github.com/minio/minio
READY_TIMEOUT=${READY_TIMEOUT:-60}                # seconds that each server gets to answer

# stop_servers stops every process in pids, giving each 10 s before it is
# killed.
stop_servers() {
	local pid i
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

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

# install_minio sets minio to the MinIO server at MINIO_VERSION, built with
# go install into $(go env GOBIN) or GOPATH/bin when missing; a stamp file
# .minio-version next to the binary records the version.
install_minio() {
	local gobin stamp start
	gobin=$(go env GOBIN)
	if [[ -z $gobin ]]; then
		gobin=$(go env GOPATH)
		gobin=${gobin%%:*}/bin
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
}

# start_minio starts $minio on a free port with its data in $tmp/minio and
# waits until it answers; it sets minio_port, minio_user and
# minio_password.
start_minio() {
	local console_port
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
	wait_ready minio "${pids[-1]}" "$tmp/minio.log" minio_live
}

# minio_live asks for GET /minio/health/live with bash alone (no curl needed).
minio_live() (
	exec 3<>"/dev/tcp/127.0.0.1/$minio_port"
	printf 'GET /minio/health/live HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
	read -r -t 5 status <&3
	[[ $status == "HTTP/1."?" 200 "* ]]
)
