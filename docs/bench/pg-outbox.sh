#!/bin/bash
# usage (from the repository's root): BENCH=DIR [KW="name=BIN name2=BIN2"]
#   [MODE=backlog|manual|post] [MPS=100000] [ROUNDS=1] [PPROF=DIR] [KEEP=1] pg-outbox.sh N
# The outbox on PostgreSQL with two processes: a throwaway cluster (pg_stat_statements loaded;
# run as root it runs as the postgres user), N contacts of one group imported once through the
# admin API (PUT /api/v1/contacts/{phone}, 16 at a time, half through each process) into a
# database every round copies (CREATE DATABASE ... TEMPLATE), then for each build of KW (default:
# this tree, built) and each of ROUNDS rounds: two `keyway serve` processes on that round's copy,
# both sending to one fake Twilio (`faketwilio`, which answers 201 at once, with message ids
# unique across both), and the time until the fake has N texts; what each process sent is its
# keyway_outbound_attempts_total{kind="text",result="sent"}.
#
# MODE=backlog (default) puts the backlog in the copied database: in the import's run, a manual
# start of the automation for the group with the number's mps at 0.0001 (one text goes, every
# other send is booked for hours later and released), then, with keyway stopped, the bookings
# deleted and every send made due now, as after an outage of the outbox. Both processes send from
# it as soon as they start; sends/s is the texts sent after both answer /readyz over the time from
# then to the last text. MODE=manual starts with POST /api/v1/automations/promo/enrollments, which
# enrols everyone before it answers (the outbox sends meanwhile): sends/s is the texts sent after
# the answer over the time from the answer to the last text. MODE=post starts with
# POST /api/v1/broadcasts, which answers at once: sends/s is N over the time from the POST to the
# last text.
#
# Reported per round: sends/s, each process's texts, keyway's CPU per send (both processes),
# PostgreSQL's CPU per send (the postmaster, its ended children and every backend, from /proc),
# statements per send (sum of pg_stat_statements calls) and transactions per send (xact_commit +
# xact_rollback of pg_stat_database), all over the drain, the statements that took the most time,
# the wait events of the active backends sampled every 0.2 s (pg_stat_activity; "CPU" when none),
# and deadlocks in PostgreSQL's log. The sender number's mps is MPS (default 100,000, as
# broadcast-post.sh: a limit is set, so sends book their slots in the database; MPS=0: none).
# With PPROF=DIR, a 10 s CPU profile of each process from the start of the drain is written to
# DIR/NAME-rROUND-kw1.cpu and -kw2.cpu. KEEP=1 keeps the work folder (logs); with EXPLAIN_MS=N,
# PostgreSQL logs the plan of every statement that takes N ms or more (auto_explain) to pg/log. /metrics is read
# only with the outbox empty: a scrape reads every queued send. BENCH is the folder of the bench
# harness (faketwilio).
set -u
N=${1:-20000}; H=${BENCH:?set BENCH to the bench harness folder}
MODE=${MODE:-backlog}; MPS=${MPS:-100000}; ROUNDS=${ROUNDS:-1}
W=$(mktemp -d /tmp/kwpgo.XXXX); chmod 755 $W
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1); PGBIN=${PGBIN:-$(dirname "$(command -v initdb)")}
RUNAS=""; mkdir -p $W/pg; [ "$(id -u)" = 0 ] && { chown postgres $W/pg; RUNAS="su postgres -s /bin/sh -c"; }
pgc() { if [ -n "$RUNAS" ]; then $RUNAS "$*"; else sh -c "$*"; fi; }
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; pgc "$PGBIN/pg_ctl -D $W/pg/data -m immediate stop" >/dev/null 2>&1; [ -n "${KEEP:-}" ] && echo "kept $W" || rm -rf $W' EXIT
(cd "$H" && go build -o $W/faketwilio ./faketwilio) || exit 1
if [ -z "${KW:-}" ]; then go build -o $W/keyway ./cmd/keyway || exit 1; KW="tree=$W/keyway"; fi
PGPORT=18383
pgc "$PGBIN/initdb -D $W/pg/data -U postgres --auth=trust" >/dev/null || { echo "initdb failed"; exit 1; }
pgc "$PGBIN/pg_ctl -D $W/pg/data -o '-p $PGPORT -k $W/pg -c listen_addresses=127.0.0.1 -c shared_preload_libraries=pg_stat_statements${EXPLAIN_MS:+,auto_explain -c auto_explain.log_min_duration=$EXPLAIN_MS} -c max_connections=200' -l $W/pg/log -w start" >/dev/null || { echo "postgres did not start"; exit 1; }
PM=$(head -1 $W/pg/data/postmaster.pid)
sql() { local db=$1; shift; $PGBIN/psql -X -q -A -t -h 127.0.0.1 -p $PGPORT -U postgres -d $db -c "$*"; }
sql postgres "CREATE DATABASE seed" || exit 1
ADMIN=admintoken0123456789abcdef
# conf DB PORT FAKEPORT MPS: the config of one keyway process.
conf() {
  cat <<YAML
server: { listen: "127.0.0.1:$2", public_url: "http://127.0.0.1:$2" }
storage: { postgres: "postgres://postgres@127.0.0.1:$PGPORT/$1?sslmode=disable" }
admin: { token: "$ADMIN" }
providers:
  twilio:
    account_sid: "AC0123456789abcdef0123456789abcdef"
    auth_token: "6789ab6789ab6789ab6789ab6789ab67"
    api_base_url: "http://127.0.0.1:$3"
    numbers: [ { number: "+15017122661", channel: sms, mps: $4 } ]
compliance: { loop_guard: { max: 1000, per: 1m } }
groups: [ { id: all, name: "All" } ]
automations:
  - id: promo
    steps: [ { type: reply, text: "Holiday offer: 20% off this week. Reply STOP to opt out." } ]
YAML
}
$W/faketwilio -addr 127.0.0.1:18391 > $W/fake1.log 2>&1 &
# start DB BIN PPROF [MPS]: the two processes on database DB; their pids in KW1 and KW2.
start() {
  conf $1 18390 18391 ${4:-$MPS} > $W/kw1.yaml; conf $1 18393 18391 ${4:-$MPS} > $W/kw2.yaml
  mkdir -p $W/$1; $2 serve --config $W/kw1.yaml ${3:+--pprof 127.0.0.1:18396} > $W/$1/kw1.log 2>&1 & KW1=$!
  $2 serve --config $W/kw2.yaml ${3:+--pprof 127.0.0.1:18397} > $W/$1/kw2.log 2>&1 & KW2=$!
  for p in 18390 18393; do
    for i in $(seq 150); do curl -sf 127.0.0.1:$p/readyz >/dev/null && break; sleep 0.2; done
  done
}
stop() { kill $KW1 $KW2 2>/dev/null; wait $KW1 $KW2 2>/dev/null; }
first=${KW%% *}; SEEDMPS=$MPS; [ "$MODE" = backlog ] && SEEDMPS=0.0001
start seed "${first#*=}" "" $SEEDMPS
python3 - "$N" "$ADMIN" <<'PY'
import sys, json, urllib.request, concurrent.futures, time
n, tok = int(sys.argv[1]), sys.argv[2]
def put(i):
    ph = "+1555%07d" % i
    port = 18390 if i % 2 else 18393
    req = urllib.request.Request("http://127.0.0.1:%d/api/v1/contacts/%s" % (port, urllib.request.quote(ph)), method="PUT",
        data=json.dumps({"groups": ["all"]}).encode(), headers={"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
t = time.time()
with concurrent.futures.ThreadPoolExecutor(16) as ex: list(ex.map(put, range(n)))
print("import: %d contacts in %.1fs" % (n, time.time() - t), flush=True)
PY
if [ "$MODE" = backlog ]; then
  # The backlog: a manual start enrols everyone while the number's mps (one send in almost
  # three hours) lets one text go and has every other send booked for later and released.
  # Then, with both processes stopped, the bookings go and every send is due now, as after
  # an outage of the outbox.
  curl -sf -X POST -H "Authorization: Bearer $ADMIN" -d '{"group":"all"}' 127.0.0.1:18390/api/v1/automations/promo/enrollments >/dev/null || { echo "manual start failed"; exit 1; }
  for i in $(seq 600); do
    [ "$(sql seed "SELECT count(*) FROM outbox WHERE owner <> ''")" = 0 ] && [ "$(sql seed "SELECT count(*) FROM outbox")" -ge $((N - 1)) ] && break; sleep 0.5
  done
  stop
  sql seed "DELETE FROM send_bookings; DELETE FROM send_slots;
    UPDATE outbox SET owner = '', lease_ns = -9223372036854775808, due_ns = 0, claimable_ns = 0" >/dev/null || exit 1
  N=$(sql seed "SELECT count(*) FROM outbox"); echo "backlog: $N sends queued"
else
  stop
fi
sql seed "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" || exit 1
for r in $(seq 1 $ROUNDS); do
  for spec in $KW; do
    name=${spec%%=*}; bin=${spec#*=}; db=kw_${name}_$r
    sql postgres "CREATE DATABASE $db TEMPLATE seed" || exit 1
    BASE=$(curl -s 127.0.0.1:18391/count)
    start $db "$bin" "${PPROF:-}"
    ( while :; do sql postgres "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') FROM pg_stat_activity
        WHERE datname = '$db' AND state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid()"; sleep 0.2; done ) > $W/waits 2>/dev/null &
    SAMPLER=$!
    echo "== $name round $r: MODE=$MODE MPS=$MPS N=$N"
    BASE=$BASE DRAINED=$W/drained PSQL="$PGBIN/psql -X -q -A -t -h 127.0.0.1 -p $PGPORT -U postgres -d $db" PROF="${PPROF:+$PPROF/$name-r$r}" python3 - "$N" "$ADMIN" "$KW1" "$KW2" "$PM" "$MODE" <<'PY'
import sys, json, urllib.request, time, os, subprocess, threading
n, tok, kw1, kw2, pm, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
hz = os.sysconf("SC_CLK_TCK")
def ticks(pid, children=False):
    try:
        f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    t = int(f[11]) + int(f[12])
    return t + int(f[13]) + int(f[14]) if children else t
def pgcpu():  # the postmaster, its reaped children, and every live backend
    kids = subprocess.run(["pgrep", "-P", pm], capture_output=True, text=True).stdout.split()
    return (ticks(pm, True) + sum(ticks(k) for k in kids)) / hz
def kwcpu():
    return (ticks(kw1) + ticks(kw2)) / hz
def get(url, headers={}):
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers)).read()
def send_start():
    url = "http://127.0.0.1:18390/api/v1/" + ("automations/promo/enrollments" if mode == "manual" else "broadcasts")
    body = {"group": "all"} if mode == "manual" else {"automation": "promo", "group": "all"}
    req = urllib.request.Request(url, method="POST", data=json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
def fake():
    return int(get("http://127.0.0.1:18391/count"))
def counts():  # what each process sent, by its metrics, and what the fake has; read only with
    out = []    # the outbox empty: a scrape reads every queued send
    for p in (18390, 18393):
        v = 0
        for line in get("http://127.0.0.1:%d/metrics" % p, {"Authorization": "Bearer " + tok}).decode().splitlines():
            if line.startswith("keyway_outbound_attempts_total") and 'kind="text"' in line and 'result="sent"' in line:
                v = int(float(line.split()[-1]))
        out.append(v)
    return out + [fake()]
t0 = time.time()
if mode == "backlog":  # both processes have been sending since they started
    c0 = [0, 0, int(os.environ["BASE"])]
else:
    c0 = counts()
    send_start()
ta = time.time()
before = fake() - c0[2]
k0, p0 = kwcpu(), pgcpu()
# The database's counts start here: over the drain (after a manual start's enrolment).
subprocess.run(os.environ["PSQL"].split() + ["-c", "SELECT pg_stat_statements_reset(); SELECT pg_stat_reset()"], capture_output=True)
prof = os.environ.get("PROF")
if prof:
    def grab(port, out):
        subprocess.run(["curl", "-s", "-o", out, "http://127.0.0.1:%d/debug/pprof/profile?seconds=10" % port])
    for port, suffix in ((18396, "-kw1.cpu"), (18397, "-kw2.cpu")):
        threading.Thread(target=grab, args=(port, prof + suffix), daemon=True).start()
load = []
while True:
    sent = fake() - c0[2]
    if sent >= n:
        break
    if time.time() - t0 > 300:
        print("timeout: %d of %d sent" % (sent, n)); break
    load.append(float(open("/proc/loadavg").read().split()[0]))
    time.sleep(0.1)
te = time.time()
k1, p1 = kwcpu(), pgcpu()
time.sleep(0.5)  # both processes' metrics counted their last records
c = counts()
drained = sent - before
open(os.environ["DRAINED"], "w").write("%d\n" % max(drained, 1))
if mode == "backlog":
    rate = "%d sent after both were ready in %.1f s: %.0f sends/s from the backlog" % (drained, te - ta, drained / (te - ta))
elif mode == "manual":
    rate = "%d sent after the answer in %.1f s: %.0f sends/s from the backlog" % (drained, te - ta, drained / (te - ta))
else:
    rate = "all %d sent %.1f s after the POST: %.0f sends/s" % (sent, te - t0, sent / (te - t0))
print("%s in %.2f s (%d sent by then); %s" % ("both processes ready" if mode == "backlog" else "answered", ta - t0, before, rate))
print("the fake has %d; process 1 sent %d, process 2 sent %d; keyway CPU %.0f us/send, PostgreSQL CPU %.0f us/send (over the drain); load %.1f-%.1f" % (
    c[2] - c0[2], c[0] - c0[0], c[1] - c0[1], (k1 - k0) / max(drained, 1) * 1e6, (p1 - p0) / max(drained, 1) * 1e6,
    min(load or [0]), max(load or [0])), flush=True)
PY
    kill $SAMPLER 2>/dev/null; wait $SAMPLER 2>/dev/null
    D=$(cat $W/drained)
    sql $db "SELECT 'statements per send (over the drain): ' || round(sum(calls)::numeric / $D, 1) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '$db'"
    sql $db "SELECT 'transactions per send (over the drain): ' || round((xact_commit + xact_rollback)::numeric / $D, 2) FROM pg_stat_database WHERE datname = '$db'"
    echo "top statements (calls, total ms, mean ms, query):"
    sql $db "SELECT calls || ' | ' || round(total_exec_time) || ' | ' || round(mean_exec_time::numeric, 3) || ' | ' || left(regexp_replace(query, '\s+', ' ', 'g'), 110)
      FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '$db' ORDER BY total_exec_time DESC LIMIT 8"
    echo "wait events of active backends (samples):"
    sort $W/waits | uniq -c | sort -rn | head -8
    grep -c "deadlock detected" $W/pg/log | sed 's/^/deadlocks in the log so far: /'
    stop
  done
done
