#!/bin/bash
# usage: BENCH=DIR KW="name=/path/to/keyway name2=/path/to/keyway2" alternate.sh CONNS RUNS
# Alternates keyway builds and the bare ceiling (fibersrv, MaxBatchDelay 1 ms) with wrk, using
# bench.sh's config and bodies, RUNS rounds of 10 s each. After each keyway round it waits until
# that process is idle (its outbox drained), so no build's backlog runs into the next one's round.
# BENCH is the folder of the bench harness (fibersrv, genbodies, faketwilio, twilio.lua).
set -u
CONNS=${1:-64}; RUNS=${2:-3}; H=${BENCH:?set BENCH to the bench harness folder}
W=$(mktemp -d /tmp/kb.XXXX); trap 'kill $(jobs -p) 2>/dev/null; rm -rf $W' EXIT
(cd $H && go build -o $W/ceiling ./fibersrv && go build -o $W/genbodies ./genbodies && go build -o $W/faketwilio ./faketwilio) || exit 1
. "$(dirname "$0")/common.sh"
$W/faketwilio -addr 127.0.0.1:18181 > $W/fake.log 2>&1 &
$W/ceiling -addr 127.0.0.1:18182 -db $W/ceiling.db -maxdelay 1ms > $W/ceil.log 2>&1 &
CE=$!
port=18200; names=""
declare -A PORT PID
for spec in $KW; do
  n=${spec%%=*}; bin=${spec#*=}; port=$((port+1)); mkdir -p $W/$n
  { cat <<YAML
server: { listen: "127.0.0.1:$port", public_url: "http://127.0.0.1:$port" }
storage: { path: "$W/$n/data/kw.db" }
YAML
  bench_automations 127.0.0.1:18181; } > $W/$n/kw.yaml
  mkdir -p $W/$n/data
  $bin serve --config $W/$n/kw.yaml > $W/$n/log 2>&1 &
  PID[$n]=$!; PORT[$n]=$port; names="$names $n"
  for i in $(seq 150); do curl -sf 127.0.0.1:$port/readyz >/dev/null && break; sleep 0.2; done
done
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
idle() { # wait until the process uses < 2 ticks in 0.5 s (its outbox drained)
  local p=$1 a b; for i in $(seq 240); do a=$(cpu $p); sleep 0.5; b=$(cpu $p); [ $((b-a)) -lt 2 ] && return; done; }
for r in $(seq 1 $RUNS); do
  for n in $names ceiling; do
    if [ $n = ceiling ]; then url=http://127.0.0.1:18182/twilio/sms; else url=http://127.0.0.1:${PORT[$n]}/webhooks/twilio; fi
    $W/genbodies -url $url -token $TOKEN -n 400000 -run $r -o $W/b.txt
    [ $n = ceiling ] && p=$CE || p=${PID[$n]}
    c0=$(cpu $p)
    o=$(wrk -t2 -c$CONNS -d10s --latency -s $H/twilio.lua $url -- $W/b.txt | grep RESULT)
    [ $n = ceiling ] || idle $p
    # CPU per webhook: the server's user+system time from the round's start until it is idle
    # again (for keyway: the webhooks and their replies' sends), in µs (clock ticks of 10 ms).
    req=$(echo $o | sed -n 's/.*req=\([0-9]*\).*/\1/p')
    us=$(( ($(cpu $p) - c0) * 10000 / (req > 0 ? req : 1) ))
    echo "run$r $n $(echo $o | sed -n 's/.* rps=\([0-9.]*\).*p99_ms=\([0-9.]*\).*err_status=\([0-9]*\).*/rps=\1 p99=\2ms err=\3/p') cpu=${us}us/webhook load=$(cut -d' ' -f1 /proc/loadavg)"
  done
done
