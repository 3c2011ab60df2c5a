#!/usr/bin/env bash
# Both workers in one container (`python -m jobs`, on uvloop): arq on the default queue (hold
# expiry, queue advance, reconcile, crons) and an orders worker reading the stream
# `ticket_orders` (more orders workers may run anywhere: they share the stream). When either exits, the other is stopped and the
# script exits with the first one's status, so the container's restart policy brings
# both back. SIGTERM/SIGINT (docker stop) reach both workers, which shut down cleanly.
set -u

python -m jobs jobs.worker.WorkerSettings &
default_pid=$!
python -m jobs orders &
orders_pid=$!

stop() {
    kill -TERM "$default_pid" "$orders_pid" 2>/dev/null
}
trap stop TERM INT

wait -n "$default_pid" "$orders_pid"
status=$?
stop
wait "$default_pid" "$orders_pid"
exit "$status"
