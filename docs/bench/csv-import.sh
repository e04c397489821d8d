#!/bin/bash
# usage (from the repository's root): csv-import.sh N
# Imports a contacts CSV of N rows (phone, name, groups, tags, city field) through the
# dashboard: log in with the admin token, upload, read the preview, apply, and wait until the
# import says it is done; reports the time of each part and keyway's RSS (total and
# anonymous) before and at the peak, sampled every 0.1 s, and the contacts stored after.
set -u
N=${1:-100000}
W=$(mktemp -d /tmp/kwcsv.XXXX); trap 'kill $(jobs -p) 2>/dev/null; rm -rf $W' EXIT
go build -o $W/keyway ./cmd/keyway || exit 1
ADMIN=admintoken0123456789abcdef
cat > $W/kw.yaml <<YAML
server: { listen: "127.0.0.1:18290", public_url: "http://127.0.0.1:18290" }
storage: { path: "$W/kw.db" }
admin: { token: "$ADMIN" }
groups: [ { id: all, name: "All" } ]
fields: [city]
automations:
  - id: hello
    keywords: [HELLO]
    steps: [ { type: reply, text: "Hi" } ]
YAML
$W/keyway serve --config $W/kw.yaml > $W/kw.log 2>&1 &
KW=$!
for i in $(seq 100); do curl -sf 127.0.0.1:18290/readyz >/dev/null && break; sleep 0.2; done
python3 - "$N" "$ADMIN" "$KW" "$W" <<'PY'
import sys, time, re, http.cookiejar, urllib.request, urllib.parse, json, threading, uuid
n, tok, pid, w = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
base = "http://127.0.0.1:18290"
path = w + "/contacts.csv"
with open(path, "w") as f:
    f.write("phone,name,groups,tags,city\n")
    for i in range(n):
        f.write("+1555%07d,Contact %d,all,vip,Lyon\n" % (i, i))
def status(key):
    for line in open("/proc/%s/status" % pid):
        if line.startswith(key):
            return int(line.split()[1])
peak = {"VmRSS": status("VmRSS"), "RssAnon": status("RssAnon")}
before = dict(peak)
stop = False
def sample():
    while not stop:
        for k in peak:
            peak[k] = max(peak[k], status(k))
        time.sleep(0.1)
threading.Thread(target=sample, daemon=True).start()
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k): return None
jar = http.cookiejar.CookieJar()
op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
def call(method, url, data=None, headers={}):
    try:
        r = op.open(urllib.request.Request(base + url, data=data, method=method, headers=headers))
        return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()
st, h, _ = call("POST", "/admin/login", urllib.parse.urlencode({"token": tok}).encode(), {"Content-Type": "application/x-www-form-urlencoded"})
assert st == 303, st
st, h, page = call("GET", "/admin/contacts/import")
csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
boundary = uuid.uuid4().hex
body = (("--%s\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n%s\r\n" % (boundary, csrf)) +
        ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"contacts.csv\"\r\nContent-Type: text/csv\r\n\r\n" % boundary)).encode() + \
       open(path, "rb").read() + ("\r\n--%s--\r\n" % boundary).encode()
t0 = time.time()
st, h, page = call("POST", "/admin/contacts/import", body, {"Content-Type": "multipart/form-data; boundary=" + boundary})
assert st == 303, (st, page[:300])
loc = h["Location"]
st, h, page = call("GET", loc)
t_preview = time.time() - t0
rows = re.search(r"<dt>New contacts</dt><dd>(?:<span[^>]*>)?(\d+)", page)
t1 = time.time()
st, h, page = call("POST", loc + "/apply", urllib.parse.urlencode({"csrf": csrf}).encode(), {"Content-Type": "application/x-www-form-urlencoded"})
assert st in (200, 303), (st, page[:300])
while True:
    st, h, page = call("GET", loc)
    if re.search(r"rows applied", page) or "stopped midway" in page:
        break
    if time.time() - t1 > 900:
        print("timeout applying"); break
    time.sleep(0.5)
t_apply = time.time() - t1
stop = True
result = re.sub(r"<[^>]+>", "", re.search(r'(?s)<div class="card" id="import-result">(.*?)</div>', page).group(1))
print("result:", " ".join(result.split()))
req = urllib.request.Request(base + "/api/v1/contacts?group=all", headers={"Authorization": "Bearer " + tok})
print("CSV of %d rows: upload and preview %.1f s (new contacts: %s), apply %.1f s; RSS %d -> peak %d kB (+%d MiB), anon %d -> %d kB (+%d MiB); load %s" % (
    n, t_preview, rows.group(1) if rows else "?", t_apply, before["VmRSS"], peak["VmRSS"], (peak["VmRSS"] - before["VmRSS"]) // 1024,
    before["RssAnon"], peak["RssAnon"], (peak["RssAnon"] - before["RssAnon"]) // 1024, open("/proc/loadavg").read().split()[0]))
PY
