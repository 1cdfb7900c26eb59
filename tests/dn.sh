#!/bin/sh
# dn.sh - one DN syntax in and out (issue 9, item 23): the slash form
# "/C=GB/O=Example/CN=x" that --subject takes and the CA database stores is
# what every command prints for a subject or an issuer.  A sub-CA
# certificate (a comma inside a value, where RFC 2253 would print "\,")
# is shown by cert show, trust list and ca show/list, text and JSON, and
# each prints the same string; cert check names its CA certificate the same
# way; --subject in the RFC 2253 form "CN=x,O=y" is refused in one line that
# shows the slash form.
. "$top_srcdir/tests/ca-lib.sh"
ca_lib_init dn

ROOT_DN="/C=GB/O=Example, Ltd/CN=DN Root CA"
SUB_DN="/C=GB/O=Example, Ltd/OU=Ops/CN=DN Sub CA"

# same WHAT GOT WANT
same() {
	[ "$2" = "$3" ] || fail "$1: '$2', want '$3'"
}

# pyget EXPR: EXPR of the JSON in $WORK/out (d is the document)
pyget() {
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$WORK/out" "$1" || fail "reading '$1' of: $(cat "$WORK/out")"
}

step "a CA and a sub-CA certificate it issued"
R=$WORK/root
run_ok ca init --dir "$R" --new-key ec:p256 --token "$TOK" --label root --subject "$ROOT_DN"
swcsr sub "$SUB_DN"
# 10 days: cert check warns about it, naming it
run_ok ca sign --dir "$R" --profile sub-ca --days 10 --out "$OUT/sub.pem" "$SW/sub.csr"
SN=$(serial_of "$OUT/sub.pem")

step "cert show: text and JSON"
run_ok "$P11CA" cert show "$OUT/sub.pem"
same "cert show Subject" "$(sed -n 's/^Subject: *//p' "$WORK/out")" "$SUB_DN"
same "cert show Issuer" "$(sed -n 's/^Issuer: *//p' "$WORK/out")" "$ROOT_DN"
run_ok "$P11CA" cert show --json "$OUT/sub.pem"
same "cert show --json subject" "$(pyget 'd[0]["subject"]')" "$SUB_DN"
same "cert show --json issuer" "$(pyget 'd[0]["issuer"]')" "$ROOT_DN"

step "trust list: text and JSON"
B=$WORK/bundle.pem
run_ok "$P11CA" trust add --bundle "$B" "$OUT/sub.pem"
run_ok "$P11CA" trust list --bundle "$B"
same "trust list subject" "$(sed -n 's/^.*  subject=\(.*\)  issuer=.*$/\1/p' "$WORK/out")" "$SUB_DN"
same "trust list issuer" "$(sed -n 's/^.*  issuer=//p' "$WORK/out")" "$ROOT_DN"
run_ok "$P11CA" trust list --bundle "$B" --json
same "trust list --json subject" "$(pyget 'd[0]["subject"]')" "$SUB_DN"
same "trust list --json issuer" "$(pyget 'd[0]["issuer"]')" "$ROOT_DN"

step "ca show and ca list: text and JSON"
run_ok ca show --dir "$R" "$SN"
same "ca show subject" "$(sed -n 's/^subject: *//p' "$WORK/out")" "$SUB_DN"
same "ca show issuer" "$(sed -n 's/^issuer: *//p' "$WORK/out")" "$ROOT_DN"
run_ok ca show --dir "$R" "$SN" --json
same "ca show --json subject" "$(pyget 'd["subject"]')" "$SUB_DN"
run_ok ca list --dir "$R"
grep -qF "  $SUB_DN" "$WORK/out" || fail "ca list: no '$SUB_DN' in: $(cat "$WORK/out")"

step "cert check names a CA certificate in the same form"
# a leaf the sub-CA (a software key) signs, checked with the sub-CA as its
# chain and the root as the bundle
swcsr leaf "/CN=leaf.example.com"
openssl x509 -req -in "$SW/leaf.csr" -CA "$OUT/sub.pem" -CAkey "$SW/sub.key" \
	-CAcreateserial -days 5 -out "$OUT/leaf.pem" 2> "$WORK/x509.err" || {
	cat "$WORK/x509.err" >&2
	fail "openssl x509 -req for the leaf"
}
"$P11CA" cert check "$OUT/leaf.pem" --chain "$OUT/sub.pem" --bundle "$R/ca.pem" > "$WORK/out" 2> "$WORK/err" || true
grep -qF "CA certificate '$SUB_DN'" "$WORK/out" || {
	cat "$WORK/out" "$WORK/err" >&2
	fail "cert check: the CA certificate not named '$SUB_DN'"
}

step "--subject in the RFC 2253 form is refused, pointing to the slash form"
refuse 2 "slash form.*'/O=y/CN=x'" "$WORK/never" init --dir "$WORK/never" --new-key ec:p256 \
	--token "$TOK" --label never --subject "CN=x,O=y"
[ -e "$WORK/never" ] && fail "ca init left $WORK/never behind"
expect_fail 2 "slash form.*'/O=y/CN=x'" "$P11CA" csr --module "$MODULE" --pin-file "$PIN_FILE" \
	--key "$TOK;object=root;type=private" --subject "CN=x, O=y"
one_line "$WORK/err"

pass
