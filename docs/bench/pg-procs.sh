#!/bin/bash
# usage (as root, from the repository): BENCH=DIR BIN=/path/to/keyway [STMTS=PREFIX] pg-procs.sh "1 3" ROUNDS
#   or KW="before=/tmp/kw-a after=/tmp/kw-b" instead of BIN: the builds alternate in each round.
# PostgreSQL, N keyway processes on one database
# (a database per N), wrk with 64 connections split between them, 10 s; bench.sh's config.
# Each line also counts the lock waits over 20 ms the server logged during the round; with
# STMTS set, PREFIX-NAME-rR-nN.stmts gets pg_stat_statements per webhook (calls, total time in µs).
set -u
NS=${1:-"1 3"}; R=${2:-2}; H=${BENCH:?set BENCH to the bench harness folder}; KW=${KW:-kw=${BIN:?set BIN to a keyway binary, or KW to name=binary pairs}}
W=$(mktemp -d /tmp/pgn.XXXX); chmod 755 $W
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
mkdir -p $W/pg; chown postgres $W/pg
pgc() { su postgres -s /bin/sh -c "$*"; }
trap 'kill $(jobs -p) 2>/dev/null; pgc "$PGBIN/pg_ctl -D $W/pg/data -m immediate stop" >/dev/null 2>&1; rm -rf $W' EXIT
pgc "$PGBIN/initdb -D $W/pg/data -U postgres --auth=trust" >/dev/null
pgc "$PGBIN/pg_ctl -D $W/pg/data -o '-p 18383 -k $W/pg -c listen_addresses=127.0.0.1 -c max_connections=300 -c log_lock_waits=on -c deadlock_timeout=20ms -c shared_preload_libraries=pg_stat_statements' -l $W/pg/log -w start" >/dev/null
(cd $H && go build -o $W/genbodies ./genbodies && go build -o $W/faketwilio ./faketwilio)
. "$(dirname "$0")/common.sh"
$W/faketwilio -addr 127.0.0.1:18381 > $W/fake.log 2>&1 &
psql() { /usr/bin/psql -h 127.0.0.1 -p 18383 -U postgres -At "$@"; }
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
pgcpu() { local s=0 c; for p in $(pgrep -u postgres postgres); do c=$(cpu $p 2>/dev/null); s=$((s+${c:-0})); done; echo $s; }
for kb in $KW; do for n in $NS; do
  psql -c "CREATE DATABASE ${kb%%=*}$n" >/dev/null; psql -d ${kb%%=*}$n -c "CREATE EXTENSION pg_stat_statements" >/dev/null
done; done
for r in $(seq $R); do for kb in $KW; do for n in $NS; do
  name=${kb%%=*}; BIN=${kb#*=}; db=$name$n
  pids=""; urls=""
  for i in $(seq $n); do
    port=$((18390+i))
    { cat <<YAML
server: { listen: "127.0.0.1:$port", public_url: "http://127.0.0.1:18390" }
storage: { postgres: "postgres://postgres@127.0.0.1:18383/$db?sslmode=disable" }
YAML
    bench_automations 127.0.0.1:18381; } > $W/kw$n-$i.yaml
    $BIN serve --config $W/kw$n-$i.yaml > $W/kw$n-$i.log 2>&1 &
    pids="$pids $!"
  done
  for i in $(seq $n); do for t in $(seq 150); do curl -sf 127.0.0.1:$((18390+i))/readyz >/dev/null && break; sleep 0.2; done; done
  # Each process's wrk gets bodies of its own (MessageSids unique across them): the same file
  # for all would post every webhook to each process, duplicates that abort each other.
  for i in $(seq $n); do $W/genbodies -url http://127.0.0.1:18390/webhooks/twilio -token $TOKEN -n 200000 -run $r$n$i -o $W/b$i.txt; done
  x0=$(psql -c "select xact_commit+xact_rollback from pg_stat_database where datname='$db'")
  k0=0; for p in $pids; do k0=$((k0+$(cpu $p))); done; g0=$(pgcpu)
  psql -d $db -c "select pg_stat_statements_reset()" >/dev/null; w0=$(grep -c 'still waiting' $W/pg/log)
  wpids=""
  for i in $(seq $n); do
    split=$((64/n)); [ $i = $n ] && split=$((64 - 64/n*(n-1)))
    wrk -t$(( n==1 ? 2 : 1 )) -c$split -d10s --latency -s $H/twilio.lua http://127.0.0.1:$((18390+i))/webhooks/twilio -- $W/b$i.txt > $W/wrk$i.out &
    wpids="$wpids $!"
  done
  wait $wpids
  rps=0; req=0; p99=""
  for i in $(seq $n); do
    o=$(grep RESULT $W/wrk$i.out); rr=$(echo $o | sed -n 's/.* rps=\([0-9.]*\).*/\1/p'); q=$(echo $o | sed -n 's/.*req=\([0-9]*\).*/\1/p')
    rps=$(python3 -c "print(round($rps+$rr))"); req=$((req+q)); p99="$p99 $(echo $o | sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p')"
  done
  x1=$(psql -c "select xact_commit+xact_rollback from pg_stat_database where datname='$db'")
  k1=0; for p in $pids; do k1=$((k1+$(cpu $p))); done; g1=$(pgcpu); w1=$(grep -c 'still waiting' $W/pg/log)
  [ -n "${STMTS:-}" ] && psql -d $db -F' | ' -c "select round(calls::numeric/greatest($req,1),3), round(total_exec_time::numeric*1000/greatest($req,1)), left(regexp_replace(query, '\s+', ' ', 'g'), 100) from pg_stat_statements where dbid=(select oid from pg_database where datname='$db') order by calls desc limit 30" > $STMTS-$name-r$r-n$n.stmts
  echo "r$r $name procs=$n webhooks/s=$rps p99_ms=[$p99 ] keyway_cpu_us=$(( (k1-k0)*10000/(req>0?req:1) )) pg_cpu_us=$(( (g1-g0)*10000/(req>0?req:1) )) xact_per_webhook=$(python3 -c "print(round(($x1-$x0)/max($req,1),2))") lock_waits_over_20ms=$((w1-w0)) load=$(cut -d' ' -f1 /proc/loadavg)"
  kill $pids; wait $pids 2>/dev/null
done; done; done
echo "deadlocks in the PostgreSQL log: $(grep -c 'deadlock detected' $W/pg/log)"
