#!/bin/sh
# verify.sh - p11ca verify (and cert check, trust list) against a p11ca CA
# hierarchy on a throwaway SoftHSM2 token: root -> issuing CA -> leaves.
# Revoked leaf through a CRL embedded in the trust bundle, revoked issuing
# CA (each compared with `openssl verify -crl_check` / `-crl_check_all`);
# an expired CRL counts as revoked; no source under each --fallback; an
# unreachable CDP; --purpose; --name (right, wrong, an IP where the
# certificate names FQDNs); --at in the past and the future; --json valid
# and as the contract says; `cert check` fails the revoked certificate;
# `trust list` shows the bundle's CRLs.  The CRL store (`p11ca crl add`)
# and OCSP cases run once those parts are in (see the end).
. "$top_srcdir/tests/ca-lib.sh"
ca_lib_init verify

V() {
	"$P11CA" verify "$@"
}

# json_get FILE PYEXPR: the value of PYEXPR over the JSON document d
json_get() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# expect_rc CODE CMD...: CMD exits CODE; output in $WORK/out, $WORK/err
expect_rc() {
	_want=$1
	shift
	_rc=0
	"$@" > "$WORK/out" 2> "$WORK/err" || _rc=$?
	[ "$_rc" = "$_want" ] || {
		cat "$WORK/out" "$WORK/err" >&2
		fail "exit $_rc (want $_want) from: $*"
	}
}

out_has() {
	grep -Eq -- "$1" "$WORK/out" || fail "no '$1' in: $(cat "$WORK/out")"
}

# a TCP port on 127.0.0.1 that nothing listens on
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
DEAD=$(free_port)

# ---------------------------------------------------------------------
step "a root, an issuing CA (sub-ca) and leaves"
R=$WORK/root
S=$WORK/sub
run_ok ca init --dir "$R" --new-key ec:p256 --token "$TOK" --label root \
	--subject "/CN=Verify Root CA" --crl-url "http://127.0.0.1:$DEAD/root.crl"
run_ok ca init --dir "$S" --new-key ec:p256 --token "$TOK" --label sub \
	--subject "/CN=Verify Issuing CA" --csr "$WORK/sub.csr" \
	--crl-url "http://127.0.0.1:$DEAD/sub.crl"
run_ok ca sign --dir "$R" --profile sub-ca --days 60 --out "$OUT/sub.pem" "$WORK/sub.csr"
run_ok ca set-cert --dir "$S" "$OUT/sub.pem"
swcsr leaf "/CN=leaf.example.com" -addext "subjectAltName=DNS:leaf.example.com"
swcsr revd "/CN=revd.example.com" -addext "subjectAltName=DNS:revd.example.com"
run_ok ca sign --dir "$S" --days 30 --out "$OUT/leaf.pem" "$SW/leaf.csr"
run_ok ca sign --dir "$S" --days 30 --out "$OUT/revd.pem" "$SW/revd.csr"
run_ok ca sign --dir "$S" --again --days 30 --profile server --out "$OUT/srv.pem" "$SW/leaf.csr"
openssl x509 -in "$OUT/leaf.pem" -outform DER -out "$OUT/leaf.der"
B0=$WORK/b0.pem
run_ok "$P11CA" trust add --bundle "$B0" "$R/ca.pem"
CH="--chain $OUT/sub.pem"

# ---------------------------------------------------------------------
step "usage"
expect_rc 2 V "$OUT/leaf.pem"
expect_rc 2 V "$OUT/leaf.pem" --trust "$B0" --revocation sometimes
expect_rc 2 V "$OUT/leaf.pem" --trust "$B0" --fallback maybe
expect_rc 2 V "$OUT/leaf.pem" --trust "$B0" --purpose email
expect_rc 2 V "$OUT/leaf.pem" --trust "$B0" --at yesterday
expect_rc 0 V --help
out_has "^usage: p11ca verify CERT"
"$P11CA" --help | grep -q "^  verify " || fail "p11ca --help does not list verify"

# ---------------------------------------------------------------------
step "no revocation source: the fallback decides"
expect_rc 0 V "$OUT/leaf.pem" --trust "$B0" $CH
out_has "^$OUT/leaf.pem: fit$"
out_has "^  \[0\] /CN=leaf.example.com: chain ok; revocation undetermined \(no-source\)$"
out_has "^  \[1\] /CN=Verify Issuing CA: chain ok; revocation undetermined \(no-source\)$"
out_has "^  \[2\] /CN=Verify Root CA: chain ok; revocation not checked$"
expect_rc 0 V "$OUT/leaf.der" --trust "$B0" $CH --fallback not-revoked
# a trust file of one DER certificate, as cert check --bundle always took
openssl x509 -in "$R/ca.pem" -outform DER -out "$WORK/root.der"
expect_rc 0 V "$OUT/leaf.pem" --trust "$WORK/root.der" $CH
expect_rc 0 "$P11CA" cert check "$OUT/leaf.pem" --bundle "$WORK/root.der" --chain "$OUT/sub.pem"
# a malformed bundle: one line, exit 1, nothing on stdout
printf -- '-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n' | cat "$B0" - > "$WORK/bad.pem"
expect_rc 1 V "$OUT/leaf.pem" --trust "$WORK/bad.pem" $CH --json
[ -s "$WORK/out" ] && fail "--json printed on a failure: $(cat "$WORK/out")"
grep -q "bad.pem: .*malformed" "$WORK/err" || fail "a malformed bundle: $(cat "$WORK/err")"
expect_rc 1 V "$OUT/leaf.pem" --trust "$B0" $CH --fallback revoked
out_has "^$OUT/leaf.pem: not fit: \[0\] undetermined \(no-source\), --fallback revoked$"
expect_rc 0 V "$OUT/leaf.pem" --trust "$B0" $CH --revocation off --fallback revoked
out_has "\[0\] .*revocation not checked$"
expect_rc 0 V "$OUT/leaf.pem" --trust "$B0" $CH --json
python3 -m json.tool "$WORK/out" > /dev/null || fail "--json: not JSON"
cp "$WORK/out" "$WORK/nosrc.json"
[ "$(json_get "$WORK/nosrc.json" 'd["fit"], d["fallback_used"], len(d["chain"])')" = \
	"(True, True, 3)" ] || fail "--json fit/fallback_used/chain: $(cat "$WORK/nosrc.json")"
[ "$(json_get "$WORK/nosrc.json" 'd["chain"][0]["revocation"]["state"], d["chain"][0]["revocation"]["why"]')" = \
	"('undetermined', 'no-source')" ] || fail "--json leaf revocation"
[ "$(json_get "$WORK/nosrc.json" 'd["chain"][2]["revocation"]["state"], d["chain"][2]["trusted"]')" = \
	"('not checked', True)" ] || fail "--json anchor"
[ "$(json_get "$WORK/nosrc.json" 'd["chain"][0]["serial"]')" = "$(serial_of "$OUT/leaf.pem")" ] ||
	fail "--json serial is not the leaf's"
[ "$(json_get "$WORK/nosrc.json" 'd["chain"][1]["subject"], d["chain"][1]["issuer"], d["chain"][0]["problems"]')" = \
	"('/CN=Verify Issuing CA', '/CN=Verify Root CA', [])" ] || fail "--json subject/issuer/problems"
# the anchor with --check-anchor: no CRL of the root either
expect_rc 0 V "$OUT/leaf.pem" --trust "$B0" $CH --check-anchor --explain
out_has "^  \[2\] /CN=Verify Root CA: chain ok; revocation undetermined \(no-source\)$"
out_has "^      note: trust bundle: no CRL of /CN=Verify Root CA embedded$"

step "an unreachable CDP (--cdp-download), under each fallback"
expect_rc 0 V "$OUT/leaf.pem" --trust "$B0" $CH --cdp-download --json
python3 -m json.tool "$WORK/out" > /dev/null || fail "--json: not JSON"
[ "$(json_get "$WORK/out" 'd["chain"][0]["revocation"]["why"]')" = unreachable ] ||
	fail "unreachable CDP: $(cat "$WORK/out")"
json_get "$WORK/out" 'd["chain"][0]["revocation"]["notes"]' | grep -q "127.0.0.1:$DEAD/sub.crl" ||
	fail "the note does not name the CDP"
expect_rc 1 V "$OUT/leaf.pem" --trust "$B0" $CH --cdp-download --fallback revoked
out_has "not fit: \[0\] undetermined \(unreachable\), --fallback revoked"

# ---------------------------------------------------------------------
step "a revoked leaf, its CRL embedded in the trust bundle (openssl verify -crl_check agrees)"
run_ok ca revoke --dir "$S" --cert "$OUT/revd.pem" --reason keyCompromise
run_ok ca crl --dir "$S" --pem --out "$WORK/sub-crl.pem"
run_ok ca crl --dir "$R" --pem --out "$WORK/root-crl.pem"
B1=$WORK/b1.pem
cat "$B0" "$WORK/root-crl.pem" "$WORK/sub-crl.pem" > "$B1"
expect_rc 1 V "$OUT/revd.pem" --trust "$B1" $CH --explain
out_has "^$OUT/revd.pem: not fit: \[0\] revoked \(keyCompromise, [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z\)$"
out_has "^      decided by: CRL #[0-9A-F]+ \(CRL embedded in the trust bundle, signed by /CN=Verify Issuing CA\)$"
out_has "^      note: CRL store: none given$"
out_has "^  \[1\] /CN=Verify Issuing CA: chain ok; revocation good$"
openssl verify -CAfile "$R/ca.pem" -untrusted "$OUT/sub.pem" -crl_check -CRLfile "$WORK/sub-crl.pem" \
	"$OUT/revd.pem" > "$WORK/ossl.out" 2>&1 && fail "openssl verify -crl_check accepts the revoked leaf"
grep -q "certificate revoked" "$WORK/ossl.out" || fail "openssl: $(cat "$WORK/ossl.out")"
expect_rc 0 V "$OUT/leaf.pem" --trust "$B1" $CH
out_has "^  \[0\] /CN=leaf.example.com: chain ok; revocation good$"
openssl verify -CAfile "$R/ca.pem" -untrusted "$OUT/sub.pem" -crl_check_all -CRLfile "$WORK/sub-crl.pem" \
	-CRLfile "$WORK/root-crl.pem" "$OUT/leaf.pem" > "$WORK/ossl.out" 2>&1 ||
	fail "openssl verify -crl_check_all refuses the good leaf: $(cat "$WORK/ossl.out")"
expect_rc 1 V "$OUT/revd.pem" --trust "$B1" $CH --json
python3 -m json.tool "$WORK/out" > /dev/null || fail "--json: not JSON"
[ "$(json_get "$WORK/out" 'd["fit"], d["chain"][0]["revocation"]["state"], d["chain"][0]["revocation"]["reason"]')" = \
	"(False, 'revoked', 'keyCompromise')" ] || fail "--json revoked: $(cat "$WORK/out")"
json_get "$WORK/out" 'd["chain"][0]["revocation"]["revoked_at"]' | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' ||
	fail "--json revoked_at"
json_get "$WORK/out" 'd["chain"][0]["revocation"]["decided_by"]' | grep -q "embedded in the trust bundle" ||
	fail "--json decided_by"
# a CRL of the right name signed by another key is not used
run_ok ca init --dir "$WORK/fake" --new-key ec:p256 --token "$TOK" --label fake --subject "/CN=Verify Issuing CA"
run_ok ca crl --dir "$WORK/fake" --pem --out "$WORK/fake-crl.pem"
cat "$B0" "$WORK/fake-crl.pem" > "$WORK/bfake.pem"
expect_rc 1 V "$OUT/revd.pem" --trust "$WORK/bfake.pem" $CH --fallback revoked --json
[ "$(json_get "$WORK/out" 'd["chain"][0]["revocation"]["state"], d["chain"][0]["revocation"]["why"]')" = \
	"('undetermined', 'bad-signature')" ] || fail "a CRL signed by another key: $(cat "$WORK/out")"

step "cert check runs the same verifier: the revoked certificate fails"
expect_rc 1 "$P11CA" cert check "$OUT/revd.pem" --bundle "$B1" --chain "$OUT/sub.pem"
out_has "^ERROR: the certificate is revoked \(keyCompromise"
expect_rc 0 "$P11CA" cert check "$OUT/leaf.pem" --bundle "$B1" --chain "$OUT/sub.pem"
out_has "^OK: revocation: the certificate is good"

step "trust list shows the bundle's CRLs; trust add and remove keep them"
run_ok "$P11CA" trust list --bundle "$B1"
grep -Eq "^CRL  /CN=Verify Issuing CA  number [0-9A-F]+  next update [0-9T:-]+Z" "$WORK/out" ||
	fail "trust list: $(cat "$WORK/out")"
grep -q "^CRL  /CN=Verify Root CA" "$WORK/out" || fail "trust list: no root CRL"
run_ok "$P11CA" trust list --bundle "$B1" --json
python3 -m json.tool "$WORK/out" > /dev/null || fail "trust list --json: not JSON"
[ "$(json_get "$WORK/out" '[(x["type"], x["issuer"]) for x in d]')" = \
	"[('certificate', '/CN=Verify Root CA'), ('crl', '/CN=Verify Root CA'), ('crl', '/CN=Verify Issuing CA')]" ] ||
	fail "trust list --json: $(cat "$WORK/out")"
[ "$(json_get "$WORK/out" 'd[2]["entries"], d[2]["expired"], d[2]["crl_number"] is not None')" = \
	"(1, False, True)" ] || fail "trust list --json CRL fields: $(cat "$WORK/out")"
cp "$B1" "$WORK/b1e.pem"
run_ok "$P11CA" trust add --bundle "$WORK/b1e.pem" "$OUT/sub.pem"
[ "$(grep -c "BEGIN X509 CRL" "$WORK/b1e.pem")" = 2 ] || fail "trust add lost a CRL"
run_ok "$P11CA" trust remove --bundle "$WORK/b1e.pem" --subject "Verify Issuing CA"
[ "$(grep -c "BEGIN X509 CRL" "$WORK/b1e.pem")" = 2 ] || fail "trust remove lost a CRL"
[ "$(grep -c "BEGIN CERTIFICATE" "$WORK/b1e.pem")" = 1 ] || fail "trust remove"
run_ok "$P11CA" trust reset --bundle "$WORK/b1e.pem" --from "$B0" --yes
[ "$(grep -c "BEGIN X509 CRL" "$WORK/b1e.pem")" = 2 ] || fail "trust reset lost a CRL"
# trust add of a CRL file: the CRL block, verified against a CA of the bundle
run_ok "$P11CA" trust add --bundle "$WORK/b0c.pem" "$R/ca.pem"
run_ok "$P11CA" trust add --bundle "$WORK/b0c.pem" "$WORK/root-crl.pem"
[ "$(grep -c "BEGIN X509 CRL" "$WORK/b0c.pem")" = 1 ] || fail "trust add of a CRL"
expect_rc 1 "$P11CA" trust add --bundle "$WORK/b0c.pem" "$WORK/sub-crl.pem"
grep -q "signed by no CA of the bundle" "$WORK/err" || fail "trust add of a CRL without its CA: $(cat "$WORK/err")"

# ---------------------------------------------------------------------
step "an expired CRL counts as revoked"
run_ok ca crl --dir "$S" --days 1 --pem --out "$WORK/sub-crl-1d.pem"
cat "$B0" "$WORK/root-crl.pem" "$WORK/sub-crl-1d.pem" > "$WORK/b1d.pem"
LATER=$(date -u -d '+3 days' +%Y-%m-%dT%H:%M:%SZ)
expect_rc 0 V "$OUT/leaf.pem" --trust "$WORK/b1d.pem" $CH
expect_rc 1 V "$OUT/leaf.pem" --trust "$WORK/b1d.pem" $CH --at "$LATER" --json
python3 -m json.tool "$WORK/out" > /dev/null || fail "--json: not JSON"
[ "$(json_get "$WORK/out" 'd["chain"][0]["revocation"]["state"], d["chain"][0]["revocation"]["why"], d["chain"][0]["revocation"]["expired_crl"]')" = \
	"('revoked', 'expired-crl', True)" ] || fail "expired CRL: $(cat "$WORK/out")"
expect_rc 1 V "$OUT/leaf.pem" --trust "$WORK/b1d.pem" $CH --at "$LATER"
out_has "not fit: \[0\] revoked \(expired CRL\)"
openssl verify -attime "$(date -u -d '+3 days' +%s)" -CAfile "$R/ca.pem" -untrusted "$OUT/sub.pem" -crl_check \
	-CRLfile "$WORK/sub-crl-1d.pem" "$OUT/leaf.pem" > "$WORK/ossl.out" 2>&1 &&
	fail "openssl accepts the expired CRL"
grep -q "CRL has expired" "$WORK/ossl.out" || fail "openssl: $(cat "$WORK/ossl.out")"

step "--at in the past and in the future"
expect_rc 1 V "$OUT/leaf.pem" --trust "$B1" $CH --at 2001-01-01
out_has "not fit: \[0\] not yet valid"
expect_rc 1 V "$OUT/leaf.pem" --trust "$B1" $CH --at 2100-01-01 --json
[ "$(json_get "$WORK/out" '"expired" in d["chain"][0]["problems"]')" = True ] || fail "--at 2100: $(cat "$WORK/out")"

step "--purpose"
expect_rc 0 V "$OUT/srv.pem" --trust "$B1" $CH --purpose server
expect_rc 1 V "$OUT/srv.pem" --trust "$B1" $CH --purpose client --json
[ "$(json_get "$WORK/out" 'd["chain"][0]["problems"]')" = "['purpose']" ] || fail "--purpose client: $(cat "$WORK/out")"
expect_rc 0 V "$OUT/leaf.pem" --trust "$B1" $CH --purpose client

step "--name: the right FQDN, a wrong one, an IP where the certificate names FQDNs"
expect_rc 0 V "$OUT/leaf.pem" --trust "$B1" $CH --name leaf.example.com
expect_rc 1 V "$OUT/leaf.pem" --trust "$B1" $CH --name other.example.com --json
[ "$(json_get "$WORK/out" 'd["chain"][0]["problems"]')" = "['name']" ] || fail "--name other: $(cat "$WORK/out")"
expect_rc 1 V "$OUT/leaf.pem" --trust "$B1" $CH --name 192.0.2.10 --explain
out_has "not fit: \[0\] name mismatch, IP address asked for"
out_has "the peer address is an IP address, the certificate names DNS names only"
expect_rc 1 V "$OUT/leaf.pem" --trust "$B1" $CH --name 192.0.2.10 --json
[ "$(json_get "$WORK/out" 'd["chain"][0]["problems"]')" = "['name', 'name-ip']" ] || fail "--name IP: $(cat "$WORK/out")"

# ---------------------------------------------------------------------
step "a revoked issuing CA (openssl verify -crl_check_all agrees, -crl_check does not look)"
run_ok ca revoke --dir "$R" --cert "$OUT/sub.pem" --reason cACompromise
run_ok ca crl --dir "$R" --pem --out "$WORK/root-crl2.pem"
cat "$B0" "$WORK/root-crl2.pem" "$WORK/sub-crl.pem" > "$WORK/b2.pem"
expect_rc 1 V "$OUT/leaf.pem" --trust "$WORK/b2.pem" $CH
out_has "not fit: \[1\] revoked \(cACompromise, "
out_has "^  \[0\] /CN=leaf.example.com: chain ok; revocation good$"
openssl verify -CAfile "$R/ca.pem" -untrusted "$OUT/sub.pem" -crl_check_all -CRLfile "$WORK/sub-crl.pem" \
	-CRLfile "$WORK/root-crl2.pem" "$OUT/leaf.pem" > "$WORK/ossl.out" 2>&1 &&
	fail "openssl verify -crl_check_all accepts a leaf of a revoked CA"
grep -q "certificate revoked" "$WORK/ossl.out" || fail "openssl: $(cat "$WORK/ossl.out")"
openssl verify -CAfile "$R/ca.pem" -untrusted "$OUT/sub.pem" -crl_check -CRLfile "$WORK/sub-crl.pem" \
	"$OUT/leaf.pem" > /dev/null 2>&1 || fail "openssl verify -crl_check (leaf only)"

# ---------------------------------------------------------------------
step "the CRL store (p11ca crl add), an unreachable OCSP responder"
D=$WORK/store
run_ok "$P11CA" crl add "$WORK/sub-crl.pem" --trust "$B0" --chain "$OUT/sub.pem" --crl-store "$D"
expect_rc 1 V "$OUT/revd.pem" --trust "$B0" $CH --crl-store "$D" --explain
out_has "not fit: \[0\] revoked \(keyCompromise"
out_has "decided by: CRL #[0-9A-F]+ \(store .*manual"
expect_rc 0 V "$OUT/leaf.pem" --trust "$B0" $CH --crl-store "$D"
out_has "^  \[0\] /CN=leaf.example.com: chain ok; revocation good$"
# the store comes first: a good store answer beats nothing else
expect_rc 1 V "$OUT/leaf.pem" --trust "$B0" $CH --crl-store "$D" --fallback revoked
out_has "not fit: \[1\] undetermined"
# OCSP: an unreachable responder is undetermined; the fallback decides
expect_rc 0 V "$OUT/leaf.pem" --trust "$B0" $CH --revocation ocsp --ocsp-url "http://127.0.0.1:$DEAD/" --json
[ "$(json_get "$WORK/out" 'd["chain"][0]["revocation"]["state"]')" = undetermined ] || fail "OCSP unreachable"
expect_rc 1 V "$OUT/leaf.pem" --trust "$B0" $CH --revocation ocsp --ocsp-url "http://127.0.0.1:$DEAD/" \
	--fallback revoked
# ocsp,crl: OCSP undetermined, then the bundle's CRL decides
expect_rc 1 V "$OUT/revd.pem" --trust "$B1" $CH --revocation ocsp,crl --ocsp-url "http://127.0.0.1:$DEAD/" --explain
out_has "not fit: \[0\] revoked \(keyCompromise"
out_has "note: OCSP http://127.0.0.1:$DEAD/"


# ---------------------------------------------------------------------
# servers on 127.0.0.1, started here and stopped on exit
SERVERS=""
trap 'for _p in $SERVERS; do kill "$_p" 2> /dev/null || true; done; rm -rf "$WORK"' EXIT
# wait_ready FILE: a server wrote "ready" into FILE (bounded)
wait_ready() {
	_i=0
	while ! grep -q ready "$1" 2> /dev/null; do
		_i=$((_i + 1))
		[ $_i -le 100 ] || fail "a test server did not start: $(cat "$1")"
		sleep 0.1
	done
}

step "OCSP from a responder on 127.0.0.1 (openssl ocsp -index behind python3)"
swcsr ocsp "/CN=Verify OCSP"
run_ok ca sign --dir "$S" --profile ocsp --days 30 --out "$OUT/ocsp.pem" "$SW/ocsp.csr"
run_ok ca export-index --dir "$S" --out "$WORK/index.txt"
OPORT=$(free_port)
python3 "$top_srcdir/tests/ocsp-responder.py" "$OPORT" "$WORK/index.txt" "$S/ca.pem" \
	"$OUT/ocsp.pem" "$SW/ocsp.key" > "$WORK/ocsp.ready" 2>&1 &
SERVERS="$SERVERS $!"
wait_ready "$WORK/ocsp.ready"
OURL="http://127.0.0.1:$OPORT/"
# the responder itself answers as openssl's client sees it
openssl ocsp -issuer "$S/ca.pem" -cert "$OUT/revd.pem" -url "$OURL" -CAfile "$R/ca.pem" \
	-verify_other "$OUT/sub.pem" > "$WORK/ossl.out" 2>&1 || fail "openssl ocsp: $(cat "$WORK/ossl.out")"
grep -q "revd.pem: revoked" "$WORK/ossl.out" || fail "openssl ocsp: $(cat "$WORK/ossl.out")"
rc=0
V "$OUT/revd.pem" --trust "$B0" $CH --revocation ocsp --ocsp-url "$OURL" --explain \
	> "$WORK/out" 2> "$WORK/err" || rc=$?
[ $rc = 1 ] || fail "OCSP revoked: exit $rc: $(cat "$WORK/out" "$WORK/err")"
out_has "not fit: \[0\] revoked \(keyCompromise, "
out_has "decided by: OCSP $OURL responder .*CN=Verify OCSP.*, produced [0-9]{4}-"
expect_rc 0 V "$OUT/leaf.pem" --trust "$B0" $CH --revocation ocsp --ocsp-url "$OURL" --json
[ "$(json_get "$WORK/out" 'd["chain"][0]["revocation"]["state"]')" = good ] ||
	fail "OCSP good: $(cat "$WORK/out")"
# ocsp,crl: OCSP decides before the bundle's CRL would
expect_rc 1 V "$OUT/revd.pem" --trust "$B1" $CH --revocation ocsp,crl --ocsp-url "$OURL" --json
json_get "$WORK/out" 'd["chain"][0]["revocation"]["decided_by"]' | grep -q "^OCSP " ||
	fail "ocsp,crl: $(cat "$WORK/out")"

step "a CRL downloaded from the CDP (python3 http.server on 127.0.0.1)"
mkdir -p "$WORK/www"
run_ok ca crl --dir "$S" --der --out "$WORK/www/sub.crl"
(cd "$WORK/www" && exec python3 -m http.server --bind 127.0.0.1 "$DEAD") > "$WORK/http.log" 2>&1 &
SERVERS="$SERVERS $!"
_i=0
until python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$DEAD" 2> /dev/null; do
	_i=$((_i + 1))
	[ $_i -le 100 ] || fail "http.server did not start: $(cat "$WORK/http.log")"
	sleep 0.1
done
rc=0
V "$OUT/revd.pem" --trust "$B0" $CH --cdp-download --explain > "$WORK/out" 2> "$WORK/err" || rc=$?
[ $rc = 1 ] || fail "CDP download: exit $rc: $(cat "$WORK/out" "$WORK/err")"
out_has "not fit: \[0\] revoked \(keyCompromise, "
out_has "decided by: CRL #[0-9A-F]+ \(download http://127.0.0.1:$DEAD/sub.crl, signed by /CN=Verify Issuing CA\)"
openssl verify -crl_download -crl_check -CAfile "$R/ca.pem" -untrusted "$OUT/sub.pem" "$OUT/revd.pem" \
	> "$WORK/ossl.out" 2>&1 && fail "openssl verify -crl_download accepts the revoked leaf"
grep -q "certificate revoked" "$WORK/ossl.out" || fail "openssl -crl_download: $(cat "$WORK/ossl.out")"

step "a missing issuer fetched from the AIA caIssuers URL (--aia-fetch)"
A=$WORK/aia
mkdir -p "$A"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$A/root.key" \
	-out "$A/root.pem" -days 30 -subj "/CN=AIA Root" -addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,cRLSign 2> /dev/null || fail "openssl req (AIA root)"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$A/sub.key" \
	-out "$A/sub.csr" -subj "/CN=AIA Issuing CA" 2> /dev/null || fail "openssl req (AIA sub)"
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' > "$A/sub.ext"
openssl x509 -req -in "$A/sub.csr" -CA "$A/root.pem" -CAkey "$A/root.key" -set_serial 2 -days 30 \
	-extfile "$A/sub.ext" -outform DER -out "$WORK/www/aia-sub.cer" 2> /dev/null || fail "openssl x509 (AIA sub)"
openssl x509 -inform DER -in "$WORK/www/aia-sub.cer" -out "$A/sub.pem"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$A/leaf.key" \
	-out "$A/leaf.csr" -subj "/CN=aia.example.com" 2> /dev/null || fail "openssl req (AIA leaf)"
printf 'subjectAltName=DNS:aia.example.com\nauthorityInfoAccess=caIssuers;URI:http://127.0.0.1:%s/aia-sub.cer\n' \
	"$DEAD" > "$A/leaf.ext"
openssl x509 -req -in "$A/leaf.csr" -CA "$A/sub.pem" -CAkey "$A/sub.key" -set_serial 3 -days 30 \
	-extfile "$A/leaf.ext" -out "$A/leaf.pem" 2> /dev/null || fail "openssl x509 (AIA leaf)"
# without --aia-fetch the issuer is missing; with it, fetched and the chain ends at the root
expect_rc 1 V "$A/leaf.pem" --trust "$A/root.pem" --revocation off
out_has "not fit: \[0\] issuer not found"
expect_rc 0 V "$A/leaf.pem" --trust "$A/root.pem" --revocation off --aia-fetch --explain
out_has "^  \[1\] /CN=AIA Issuing CA: chain ok"
out_has "^  aia: issuer of certificate \[0\] fetched from AIA caIssuers http://127.0.0.1:$DEAD/aia-sub.cer$"
expect_rc 0 V "$A/leaf.pem" --trust "$A/root.pem" --revocation off --aia-fetch --json
json_get "$WORK/out" 'd["aia"][0]' | grep -q "aia-sub.cer" || fail "aia in JSON: $(cat "$WORK/out")"
# a fetched certificate is no trust anchor: a root not in the bundle still fails
expect_rc 1 V "$A/leaf.pem" --trust "$R/ca.pem" --revocation off --aia-fetch
# nothing at the URL: the issuer stays missing, said why
rm "$WORK/www/aia-sub.cer"
expect_rc 1 V "$A/leaf.pem" --trust "$A/root.pem" --revocation off --aia-fetch --explain
out_has "^  aia: issuer of certificate \[0\]: not fetched from AIA caIssuers: .*HTTP status 404"

pass "verify"
