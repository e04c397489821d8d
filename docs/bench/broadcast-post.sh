#!/bin/bash
# usage (from the repository's root): BENCH=DIR broadcast-post.sh N
# A broadcast of one reply step to N contacts of one group through POST /api/v1/broadcasts, to
# the bench harness's fast fake Twilio (mps 100,000). Imports the N contacts through the admin
# API first (PUT /api/v1/contacts/{phone}, 16 at a time), then times: the POST's answer, the
# broadcast reaching "done" (polled), the last text at the fake; and reports sends/s (N over the
# time from the POST to the last text), keyway's CPU per send, its RSS (total and anonymous)
# before and at the peak, and its store's commits from keyway_store_commit_seconds (how many,
# how many over 100 ms, the slowest bucket reached, from the POST to the last text). BENCH is the folder of the bench harness (faketwilio). With PPROF=FILE,
# a CPU profile of keyway's first 10 s after the POST is written to FILE.
set -u
N=${1:-20000}; H=${BENCH:?set BENCH to the bench harness folder}
W=$(mktemp -d /tmp/kwbpost.XXXX); trap 'kill $(jobs -p) 2>/dev/null; rm -rf $W' EXIT
(cd "$H" && go build -o $W/faketwilio ./faketwilio) || exit 1
go build -o $W/keyway ./cmd/keyway || exit 1
ADMIN=admintoken0123456789abcdef
cat > $W/kw.yaml <<YAML
server: { listen: "127.0.0.1:18190", public_url: "http://127.0.0.1:18190" }
storage: { path: "$W/kw.db" }
admin: { token: "$ADMIN" }
providers:
  twilio:
    account_sid: "AC0123456789abcdef0123456789abcdef"
    auth_token: "6789ab6789ab6789ab6789ab6789ab67"
    api_base_url: "http://127.0.0.1:18191"
    numbers: [ { number: "+15017122661", channel: sms, mps: 100000 } ]
compliance: { loop_guard: { max: 1000, per: 1m } }
groups: [ { id: all, name: "All" } ]
automations:
  - id: promo
    steps: [ { type: reply, text: "Holiday offer: 20% off this week. Reply STOP to opt out." } ]
YAML
$W/faketwilio -addr 127.0.0.1:18191 > $W/fake.log 2>&1 &
$W/keyway serve --config $W/kw.yaml ${PPROF:+--pprof 127.0.0.1:18196} > $W/kw.log 2>&1 &
KW=$!
for i in $(seq 100); do curl -sf 127.0.0.1:18190/readyz >/dev/null && break; sleep 0.2; done
python3 - "$N" "$ADMIN" <<'PY'
import sys, json, urllib.request, concurrent.futures, time
n, tok = int(sys.argv[1]), sys.argv[2]
def put(i):
    ph = "+1555%07d" % i
    req = urllib.request.Request("http://127.0.0.1:18190/api/v1/contacts/%s" % urllib.request.quote(ph), method="PUT",
        data=json.dumps({"groups": ["all"]}).encode(), headers={"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
t = time.time()
with concurrent.futures.ThreadPoolExecutor(16) as ex: list(ex.map(put, range(n)))
print("import: %d contacts in %.1fs" % (n, time.time() - t))
PY
PROF=""
if [ -n "${PPROF:-}" ]; then (sleep 0.2; curl -s -o "$PPROF" "127.0.0.1:18196/debug/pprof/profile?seconds=10") & PROF=$!; fi
python3 - "$N" "$ADMIN" "$KW" <<'PY'
import sys, json, urllib.request, time, os
n, tok, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def status(key):
    for line in open("/proc/%s/status" % pid):
        if line.startswith(key):
            return int(line.split()[1])
def cpu():
    f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
def get(url, headers={}):
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers)).read()
def commits():
    out = {}
    for line in get("http://127.0.0.1:18190/metrics", {"Authorization": "Bearer " + tok}).decode().splitlines():
        if line.startswith('keyway_store_commit_seconds_bucket{le="'):
            out[line.split('"')[1]] = int(float(line.split()[-1]))
    return out
commits0 = commits()
rss0, anon0, cpu0 = status("VmRSS"), status("RssAnon"), cpu()
peak, peak_anon = rss0, anon0
t0 = time.time()
req = urllib.request.Request("http://127.0.0.1:18190/api/v1/broadcasts", method="POST",
    data=json.dumps({"automation": "promo", "group": "all"}).encode(),
    headers={"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
b = json.loads(urllib.request.urlopen(req).read())
answered = time.time() - t0
done_at = None
while True:
    peak, peak_anon = max(peak, status("VmRSS")), max(peak_anon, status("RssAnon"))
    if done_at is None:
        cur = json.loads(get("http://127.0.0.1:18190/api/v1/broadcasts/" + b["id"], {"Authorization": "Bearer " + tok}))
        if cur.get("status") == "done":
            done_at = time.time() - t0
    sent = int(get("http://127.0.0.1:18191/count"))
    if sent >= n:
        break
    if time.time() - t0 > 900:
        print("timeout: %d of %d sent" % (sent, n)); break
    time.sleep(0.25)
el = time.time() - t0
print("POST answered in %.1f ms; enrolled (done) at %.1f s; all %d sent at %.1f s: %.0f sends/s; keyway CPU %.0f us/send; "
      "RSS %d -> peak %d kB (+%d MiB), anon %d -> %d kB (+%d MiB); load %s" % (
    answered * 1000, done_at or -1, sent, el, sent / el, (cpu() - cpu0) / max(sent, 1) * 1e6,
    rss0, peak, (peak - rss0) // 1024, anon0, peak_anon, (peak_anon - anon0) // 1024, open("/proc/loadavg").read().split()[0]))
buckets = {le: c - commits0.get(le, 0) for le, c in commits().items()}
total = buckets.get("+Inf", 0)
slowest = next((le for le, c in sorted(((le, c) for le, c in buckets.items() if le != "+Inf"), key=lambda x: float(x[0])) if c == total), "over 5 s")
print("store commits from the POST to the last text: %d, over 50 ms: %d, over 100 ms: %d, all within %s s" % (total, total - buckets.get("0.05", 0), total - buckets.get("0.1", 0), slowest))
PY
if [ -n "$PROF" ]; then wait $PROF; fi
