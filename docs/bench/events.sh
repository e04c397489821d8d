#!/bin/bash
# usage: BENCH=DIR KW="name=/path/to/keyway name2=/path/to/keyway2" events.sh ROUNDS
# Webhooks/s with and without an events endpoint: for each round and build, a fresh data file
# without events and then with an endpoint taking every type, wrk 64 connections for 10 s on
# bench.sh's bodies; then it waits until keyway is idle (the events posted after the burst).
# Prints per run: webhooks/s, p99, keyway's CPU per webhook until idle, the events the receiver
# got during the burst and in all. The receiver is a small Go server built here (answers 200,
# counts posts on /count). BENCH is the folder of the bench harness (genbodies, faketwilio,
# twilio.lua).
set -u
R=${1:-3}; H=${BENCH:?set BENCH to the bench harness folder}; BINS=${KW:?set KW to name=binary pairs}
W=$(mktemp -d /tmp/kwevt.XXXX); trap 'kill $(jobs -p) 2>/dev/null; rm -rf $W' EXIT
(cd $H && go build -o $W/genbodies ./genbodies && go build -o $W/faketwilio ./faketwilio) || exit 1
mkdir -p $W/recv && cat > $W/recv/main.go <<'GO'
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18099", "listen address")
	flag.Parse()
	var n atomic.Int64
	http.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		n.Add(1)
	})
	http.HandleFunc("/count", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, n.Load()) })
	panic(http.ListenAndServe(*addr, nil))
}
GO
(cd $W/recv && printf 'module recv\n\ngo 1.22\n' > go.mod && go build -o $W/receiver .) || exit 1
. "$(dirname "$0")/common.sh"
$W/faketwilio -addr 127.0.0.1:18091 > $W/fake.log 2>&1 &
$W/receiver -addr 127.0.0.1:18099 &
$W/genbodies -url http://127.0.0.1:18090/webhooks/twilio -token $TOKEN -n 400000 -run 1 -o $W/kb.txt
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
for r in $(seq $R); do for spec in $BINS; do for mode in none events; do
  n=${spec%%=*}; BIN=${spec#*=}
  rm -rf $W/d; mkdir -p $W/d
  EV=""; [ $mode = events ] && EV='events: [ { url: "http://127.0.0.1:18099/hook", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" } ]'
  { cat <<YAML
server: { listen: "127.0.0.1:18090", public_url: "http://127.0.0.1:18090" }
storage: { path: "$W/d/kw.db" }
http: { allow_private: true }
$EV
YAML
  bench_automations 127.0.0.1:18091; } > $W/kw.yaml
  $BIN serve --config $W/kw.yaml > $W/kw.log 2>&1 &
  P=$!
  for i in $(seq 150); do curl -sf 127.0.0.1:18090/readyz >/dev/null && break; sleep 0.2; done
  e0=$(curl -s 127.0.0.1:18099/count); c0=$(cpu $P)
  o=$(wrk -t2 -c64 -d10s --latency -s $H/twilio.lua http://127.0.0.1:18090/webhooks/twilio -- $W/kb.txt | grep RESULT)
  e1=$(curl -s 127.0.0.1:18099/count)
  # wait until idle
  for i in $(seq 120); do a=$(cpu $P); sleep 0.5; b=$(cpu $P); [ $((b-a)) -lt 2 ] && break; done
  e2=$(curl -s 127.0.0.1:18099/count)
  req=$(echo $o | sed -n 's/.*req=\([0-9]*\).*/\1/p')
  us=$(( ($(cpu $P) - c0) * 10000 / (req > 0 ? req : 1) ))
  echo "r$r $n $mode $(echo $o | sed -n 's/.* rps=\([0-9.]*\).*p99_ms=\([0-9.]*\).*err_status=\([0-9]*\).*/rps=\1 p99=\2ms err=\3/p') cpu=${us}us events_during=$((e1-e0)) events_total=$((e2-e0)) load=$(cut -d' ' -f1 /proc/loadavg)"
  kill $P; wait $P 2>/dev/null
done; done; done
