#!/bin/sh
# crl-fetch.sh - p11ca crl fetch against distribution points on 127.0.0.1:
# python3's http.server (files, and If-Modified-Since answered with 304), a
# server that redirects to ftp://, one that accepts and never answers, and
# `openssl s_server -WWW` for HTTPS with a certificate issued by a p11ca CA.
# Two CAs on a throwaway token publish CRLs (`p11ca ca crl`).  Cases: PEM,
# DER, a ZIP holding both CAs' CRLs, a bare GZIP, a corrupt ZIP, a gzip bomb,
# an oversize download (--max-size), a CRL signed by the wrong key (and
# one whose signature was damaged), a
# rollback to a lower CRL number, a closed port, a silent server
# (--timeout 2), a redirect to ftp://, not-modified on the second fetch,
# --from-bundle (CDPs of certificates; ldap:// skipped), --url-file, HTTPS
# with and without --https-trust, --json.  Outcomes are checked with
# `p11ca crl list --json` and `openssl crl` on what the servers serve.
# The systemd units in docs/ pass systemd-analyze verify.
# What needs the CRL store (tools/rev/store.c) is the part "store"; the
# rest runs with --dry-run (downloaded and unpacked, nothing stored).
. "$top_srcdir/tests/ca-lib.sh"
ca_lib_init crl-fetch
need_cmd zip gzip

SRV=$WORK/srv
STORE=$WORK/store
mkdir -p "$SRV"

# --- servers ----------------------------------------------------------
cat > "$WORK/srv.py" << 'EOF'
# srv.py MODE PORTFILE [DIR]: a server on 127.0.0.1, its port (chosen by
# the system) written to PORTFILE.  files: http.server's handler over DIR;
# redirect: 302 to an ftp:// URL; silent: accepts and never answers.
import functools, http.server, os, socket, sys, time
mode, portfile = sys.argv[1], sys.argv[2]
def ready(port):
    with open(portfile + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(portfile + ".tmp", portfile)
if mode == "silent":
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    ready(s.getsockname()[1])
    held = []
    while True:
        c, _ = s.accept()
        held.append(c)
class Redirect(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(302)
        self.send_header("Location", "ftp://127.0.0.1/x.crl")
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
if mode == "files":
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[3])
else:
    handler = Redirect
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
ready(httpd.server_address[1])
httpd.serve_forever()
EOF

# start_py MODE NAME [DIR]: the server's port in $PORT, its pid in $BG
start_py() {
	rm -f "$WORK/$2.port"
	python3 "$WORK/srv.py" "$1" "$WORK/$2.port" ${3:+"$3"} > "$WORK/$2.log" 2>&1 &
	BG="$BG $!"
	_i=0
	while [ ! -s "$WORK/$2.port" ]; do
		_i=$((_i + 1))
		[ $_i -le 100 ] || fail "server $2 did not start: $(cat "$WORK/$2.log")"
		sleep 0.1
	done
	PORT=$(cat "$WORK/$2.port")
}

# port_open PORT: something listens on 127.0.0.1:PORT
port_open() {
	python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
		"$1" 2> /dev/null
}

start_py files files "$SRV"
HTTP=$PORT
U=http://127.0.0.1:$HTTP
start_py redirect redirect
REDIRECT=$PORT
start_py silent silent
SILENT=$PORT
# a closed port: bound and released again (nothing listens there)
CLOSED=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# --- two CAs, and a third with A's name and another key ----------------
step "two CAs publish CRLs"
ca init --dir "$WORK/A" --new-key ec:p256 --token "$TOK" --label a \
	--subject "/O=Fetch Test/CN=Fetch CA A" --crl-url "$U/a.crl" > /dev/null ||
	fail "ca init A"
ca init --dir "$WORK/B" --new-key ec:p256 --token "$TOK" --label b \
	--subject "/O=Fetch Test/CN=Fetch CA B" --crl-url "$U/b.crl.gz" > /dev/null ||
	fail "ca init B"
ca init --dir "$WORK/X" --new-key ec:p256 --token "$TOK" --label x \
	--subject "/O=Fetch Test/CN=Fetch CA A" > /dev/null || fail "ca init X (A's name, other key)"
cat "$WORK/A/ca.pem" "$WORK/B/ca.pem" > "$WORK/trust.pem"

# a leaf of A to revoke, and CRLs: A #1 (no entry), A #2 (one entry), B #1
swcsr leaf "/CN=leaf.example.com" -addext subjectAltName=DNS:leaf.example.com
ca sign --dir "$WORK/A" --profile server "$SW/leaf.csr" > "$OUT/leaf.pem" || fail "ca sign leaf"
ca crl --dir "$WORK/A" --der --out "$WORK/a1.crl" || fail "ca crl A #1"
ca revoke --dir "$WORK/A" --cert "$OUT/leaf.pem" --reason keyCompromise || fail "ca revoke"
ca crl --dir "$WORK/A" --der --out "$WORK/a2.crl" || fail "ca crl A #2"
ca crl --dir "$WORK/B" --der --out "$WORK/b1.crl" || fail "ca crl B #1"
ca crl --dir "$WORK/X" --der --out "$WORK/x1.crl" || fail "ca crl X"
# X's CRL carries A's name; openssl says it is not A's
openssl crl -inform DER -in "$WORK/x1.crl" -noout -verify -CAfile "$WORK/A/ca.pem" 2>&1 |
	grep -q "verify OK" && fail "openssl verifies X's CRL with A's key"
openssl crl -inform DER -in "$WORK/a1.crl" -noout -verify -CAfile "$WORK/A/ca.pem" 2>&1 |
	grep -q "verify OK" || fail "openssl does not verify A's CRL with A's key"

crlnum() { openssl crl -inform DER -in "$1" -noout -crlnumber | sed 's/^crlNumber=//; s/^0x//'; }
[ "$(crlnum "$WORK/a1.crl")" != "$(crlnum "$WORK/a2.crl")" ] || fail "A's CRLs have one number"

cp "$WORK/a2.crl" "$SRV/a.crl"
openssl crl -inform DER -in "$WORK/a2.crl" -out "$SRV/a.pem"
cp "$WORK/b1.crl" "$SRV/b.crl"
gzip -c "$WORK/b1.crl" > "$SRV/b.crl.gz"
(cd "$WORK" && cp a2.crl a.der && cp b1.crl b.der && zip -q "$SRV/both.zip" a.der b.der) ||
	fail "zip"
cp "$SRV/both.zip" "$SRV/corrupt.zip"
# damage the first member's compressed bytes (its local header is 30 + 5 bytes)
printf '\377\377\377\377\377\377\377\377\377\377\377\377' |
	dd of="$SRV/corrupt.zip" bs=1 seek=40 conv=notrunc 2> /dev/null
head -c 20000000 /dev/zero | gzip -9 > "$SRV/bomb.crl.gz"
[ "$(wc -c < "$SRV/bomb.crl.gz")" -lt 100000 ] || fail "the bomb is not small"
echo "not a CRL at all" > "$SRV/junk.crl"

F() { "$P11CA" crl fetch "$@"; }

# --- what needs no store: download and unpack (--dry-run) ---------------
step "PEM, DER, ZIP of two, GZIP: found (dry run)"
for u in a.pem:1 a.crl:1 both.zip:2 b.crl.gz:1; do
	run_ok F --dry-run --json "$U/${u%%:*}"
	python3 - "$WORK/out" "${u##*:}" << 'EOF' || fail "dry run of ${u%%:*}: $(cat "$WORK/out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r) == 1 and r[0]["result"] == "found", r
assert len(r[0]["crls"]) == int(sys.argv[2]), r
EOF
done
run_ok F --dry-run "$U/both.zip"
grep -q "2 CRLs found" "$WORK/out" || fail "dry run: $(cat "$WORK/out")"

# refused: exit 1, one line on stdout for the URL
refused() {
	_re=$1
	shift
	_rc=0
	F "$@" > "$WORK/out" 2> "$WORK/err" || _rc=$?
	[ $_rc -eq 1 ] || {
		cat "$WORK/out" "$WORK/err" >&2
		fail "exit $_rc (want 1) from crl fetch $*"
	}
	one_line "$WORK/out"
	grep -Eq -- "$_re" "$WORK/out" || fail "no '$_re' in: $(cat "$WORK/out")"
}

step "corrupt ZIP, bomb, oversize, junk: refused"
refused "corrupt.zip: refused: .*ZIP" --dry-run "$U/corrupt.zip"
refused "refused: .*(times|bytes unpacked).*bomb" --dry-run "$U/bomb.crl.gz"
refused "refused: .*larger than 100 bytes" --dry-run --max-size 100 "$U/a.crl"
refused "refused: .*neither a CRL" --dry-run "$U/junk.crl"
refused "unreachable: HTTP status 404" --dry-run "$U/none.crl"

step "unreachable, silent (bounded), redirect to ftp://"
refused "unreachable: .*(refused|connect)" --dry-run "http://127.0.0.1:$CLOSED/a.crl"
_t0=$(date +%s)
refused "refused: .*no complete answer within 2000 ms" --dry-run --timeout 2 \
	"http://127.0.0.1:$SILENT/a.crl"
_t1=$(date +%s)
[ $((_t1 - _t0)) -le 10 ] || fail "--timeout 2 took $((_t1 - _t0)) s"
refused "refused: .*(scheme|protocol)" --dry-run "http://127.0.0.1:$REDIRECT/a.crl"
refused "refused: only http:// and https://" --dry-run "ftp://127.0.0.1/a.crl"
# several URLs: one line each, exit 1 when one fails
_rc=0
F --dry-run "$U/a.crl" "http://127.0.0.1:$CLOSED/a.crl" > "$WORK/out" 2> "$WORK/err" || _rc=$?
[ $_rc -eq 1 ] && [ "$(wc -l < "$WORK/out")" -eq 2 ] || fail "two URLs: exit $_rc, $(cat "$WORK/out")"
expect_fail 2 "needs URLs" F --dry-run
expect_fail 2 "needs --trust" F "$U/a.crl"
expect_fail 2 "--max-size" F --dry-run --max-size 12Q "$U/a.crl"
expect_fail 2 "--timeout" F --dry-run --timeout 0 "$U/a.crl"

step "--url-file and --from-bundle"
cat > "$WORK/urls" << EOF
# the appliance's CRL distribution point list
$U/a.crl

   $U/b.crl.gz   
# $U/junk.crl
EOF
run_ok F --dry-run --url-file "$WORK/urls"
[ "$(wc -l < "$WORK/out")" -eq 2 ] || fail "--url-file: $(cat "$WORK/out")"
grep -q "^$U/a.crl: 1 CRL found" "$WORK/out" && grep -q "^$U/b.crl.gz: 1 CRL found" "$WORK/out" ||
	fail "--url-file: $(cat "$WORK/out")"
# a certificate of A (CDP a.crl), B's CA certificate (none), a software one
# naming an ldap:// and an http:// CDP
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$SW/cdp.key" \
	-subj "/CN=cdp" -days 2 -addext \
	"crlDistributionPoints=URI:ldap://ldap.example.com/cn=x?certificateRevocationList,URI:$U/b.crl.gz" \
	-out "$WORK/cdp.pem" 2> /dev/null || fail "openssl req -x509 with CDPs"
cat "$OUT/leaf.pem" "$WORK/B/ca.pem" "$WORK/cdp.pem" > "$WORK/bundle.pem"
run_ok F --dry-run --json --from-bundle "$WORK/bundle.pem"
python3 - "$WORK/out" "$U" << 'EOF' || fail "--from-bundle: $(cat "$WORK/out")"
import json, sys
r = {o["url"]: o for o in json.load(open(sys.argv[1]))}
u = sys.argv[2]
assert set(r) == {u + "/a.crl", u + "/b.crl.gz",
                  "ldap://ldap.example.com/cn=x?certificateRevocationList"}, r
assert r[u + "/a.crl"]["result"] == "found"
assert r["ldap://ldap.example.com/cn=x?certificateRevocationList"]["result"] == "skipped"
EOF
expect_fail 1 "no certificate names a CRL distribution point" F --dry-run \
	--from-bundle "$WORK/B/ca.pem"

step "HTTPS: s_server -WWW with a certificate of CA A"
swcsr https "/CN=127.0.0.1" -addext subjectAltName=IP:127.0.0.1
ca sign --dir "$WORK/A" --profile server "$SW/https.csr" > "$WORK/https.pem" || fail "ca sign https"
HTTPS=""
for _try in 1 2 3 4 5; do
	_p=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 20000))
	(cd "$SRV" && exec openssl s_server -WWW -accept "127.0.0.1:$_p" -cert "$WORK/https.pem" \
		-key "$SW/https.key" -quiet) > "$WORK/https.log" 2>&1 &
	_pid=$!
	BG="$BG $_pid"
	_i=0
	while [ $_i -lt 50 ] && kill -0 "$_pid" 2> /dev/null && ! port_open "$_p"; do
		_i=$((_i + 1))
		sleep 0.1
	done
	if kill -0 "$_pid" 2> /dev/null && port_open "$_p"; then
		HTTPS=$_p
		break
	fi
	kill "$_pid" 2> /dev/null || true
done
[ -n "$HTTPS" ] || fail "openssl s_server did not start: $(cat "$WORK/https.log")"
run_ok F --dry-run --https-trust "$WORK/A/ca.pem" "https://127.0.0.1:$HTTPS/a.crl"
grep -q "1 CRL found" "$WORK/out" || fail "HTTPS: $(cat "$WORK/out")"
refused "unreachable: .*(certificate|SSL)" --dry-run --https-trust "$WORK/B/ca.pem" \
	"https://127.0.0.1:$HTTPS/a.crl"
refused "unreachable: .*(certificate|SSL)" --dry-run "https://127.0.0.1:$HTTPS/a.crl"

step "docs/p11ca-crl-fetch.service and .timer: systemd-analyze verify"
if command -v systemd-analyze > /dev/null 2>&1; then
	mkdir -p "$WORK/units"
	sed "s|/usr/bin/p11ca|$P11CA|" "$top_srcdir/docs/p11ca-crl-fetch.service" \
		> "$WORK/units/p11ca-crl-fetch.service"
	cp "$top_srcdir/docs/p11ca-crl-fetch.timer" "$WORK/units/"
	(cd "$WORK/units" && systemd-analyze verify --man=no ./p11ca-crl-fetch.service \
		./p11ca-crl-fetch.timer) > "$WORK/units.log" 2>&1 ||
		fail "systemd-analyze verify: $(cat "$WORK/units.log")"
	grep -q "^OnCalendar=.* UTC$" "$top_srcdir/docs/p11ca-crl-fetch.timer" ||
		fail "the timer's OnCalendar is not in UTC"
else
	skip_part systemd "no systemd-analyze"
fi

# --- the store ----------------------------------------------------------
# S ARGS...: crl fetch into the test's store with the two CAs trusted
S() { F --crl-store "$STORE" --trust "$WORK/trust.pem" "$@"; }

# list_has ISSUER_CN NUMBER: the store's entry of ISSUER_CN has CRL number NUMBER
list_has() {
	"$P11CA" crl list --crl-store "$STORE" --json > "$WORK/list.json" 2> "$WORK/list.err" ||
		fail "crl list: $(cat "$WORK/list.err")"
	python3 - "$WORK/list.json" "$1" "$2" << 'EOF' || fail "crl list has no CRL #$2 of $1: $(cat "$WORK/list.json")"
import json, sys
want = sys.argv[3].lower().lstrip("0") or "0"
for e in json.load(open(sys.argv[1])):
    if e["issuer"].endswith("CN=" + sys.argv[2]) and e["origin"] == "download":
        got = (e["crl_number"] or "").lower().replace(":", "").lstrip("0") or "0"
        sys.exit(0 if got == want else 1)
sys.exit(1)
EOF
}

_rc=0
S "$U/a.crl" > "$WORK/out" 2> "$WORK/err" || _rc=$?
[ $_rc -eq 0 ] || fail "crl fetch DER: exit $_rc: $(cat "$WORK/out" "$WORK/err")"
A1=$(crlnum "$WORK/a1.crl")
A2=$(crlnum "$WORK/a2.crl")
B1=$(crlnum "$WORK/b1.crl")

step "DER stored, then not modified, then unchanged (--force)"
grep -Eq "^$U/a.crl: stored CRL #0*$A2 of .*Fetch CA A, 1 entry, next update " "$WORK/out" ||
	fail "DER: $(cat "$WORK/out")"
list_has "Fetch CA A" "$A2"
run_ok S "$U/a.crl"
grep -q "^$U/a.crl: not modified" "$WORK/out" || fail "second fetch: $(cat "$WORK/out")"
run_ok S --force --json "$U/a.crl"
python3 -c 'import json,sys; r=json.load(sys.stdin); assert r[0]["result"]=="unchanged", r' \
	< "$WORK/out" || fail "--force: $(cat "$WORK/out")"

step "PEM, GZIP, ZIP of two"
run_ok S "$U/a.pem"
grep -Eq "(stored|unchanged).*CRL #0*$A2" "$WORK/out" || fail "PEM: $(cat "$WORK/out")"
run_ok S "$U/b.crl.gz"
grep -Eq "stored CRL #0*$B1 of .*Fetch CA B" "$WORK/out" || fail "GZIP: $(cat "$WORK/out")"
list_has "Fetch CA B" "$B1"
run_ok S --json "$U/both.zip"
python3 - "$WORK/out" << 'EOF' || fail "ZIP: $(cat "$WORK/out")"
import json, sys
r = json.load(open(sys.argv[1]))[0]
assert r["result"] in ("stored", "unchanged"), r
assert sorted(c["issuer"].split("CN=")[-1] for c in r["crls"]) == ["Fetch CA A", "Fetch CA B"], r
EOF

step "refused, the stored CRL kept: corrupt ZIP, wrong key, rollback, bomb, oversize"
# A's entry comes from a.crl again (a.pem and both.zip held the same CRL)
run_ok S --force "$U/a.crl"
cp "$SRV/corrupt.zip" "$SRV/a.crl"
refused "refused: .*kept CRL #0*$A2" "$U/a.crl" --crl-store "$STORE" --trust "$WORK/trust.pem" --force
list_has "Fetch CA A" "$A2"
cp "$WORK/x1.crl" "$SRV/a.crl"
refused "refused: .*kept CRL #0*$A2" "$U/a.crl" --crl-store "$STORE" --trust "$WORK/trust.pem" --force
list_has "Fetch CA A" "$A2"
# A's own CRL with its signature's last byte changed (same name, same key identifier)
python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[-1] ^= 1; open(sys.argv[2], "wb").write(b)' \
	"$WORK/a2.crl" "$SRV/a.crl"
openssl crl -inform DER -in "$SRV/a.crl" -noout -verify -CAfile "$WORK/A/ca.pem" 2>&1 |
	grep -q "verify OK" && fail "openssl verifies the damaged CRL"
refused "refused: .*signature.*kept CRL #0*$A2" "$U/a.crl" --crl-store "$STORE" \
	--trust "$WORK/trust.pem" --force
list_has "Fetch CA A" "$A2"
cp "$WORK/a1.crl" "$SRV/a.crl"
refused "refused: .*kept CRL #0*$A2" "$U/a.crl" --crl-store "$STORE" --trust "$WORK/trust.pem" --force
list_has "Fetch CA A" "$A2"
[ "$(crlnum "$SRV/a.crl")" = "$A1" ] || fail "the server does not serve CRL #$A1"
refused "refused: .*bomb" "$U/bomb.crl.gz" --crl-store "$STORE" --trust "$WORK/trust.pem"
cp "$WORK/a2.crl" "$SRV/a.crl"
refused "refused: .*larger than 100 bytes.*kept CRL #0*$A2" "$U/a.crl" --crl-store "$STORE" \
	--trust "$WORK/trust.pem" --force --max-size 100
list_has "Fetch CA A" "$A2"
refused "unreachable" "http://127.0.0.1:$CLOSED/a.crl" --crl-store "$STORE" --trust "$WORK/trust.pem"

step "--from-bundle and HTTPS into the store"
rm -rf "$STORE"
run_ok S --from-bundle "$WORK/bundle.pem"
grep -q "^ldap://.*skipped" "$WORK/out" || fail "--from-bundle: $(cat "$WORK/out")"
list_has "Fetch CA A" "$A2"
list_has "Fetch CA B" "$B1"
rm -rf "$STORE"
run_ok S --https-trust "$WORK/A/ca.pem" "https://127.0.0.1:$HTTPS/a.crl"
list_has "Fetch CA A" "$A2"

pass "crl fetch"
