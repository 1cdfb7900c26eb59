#!/bin/sh
# crl.sh - p11ca crl add|list|show|remove on a CRL store folder: CRLs made
# by `openssl ca -gencrl` (a software CA) and by `p11ca ca crl` (a CA whose
# key is on a SoftHSM2 token), added as PEM and DER, listed (--json checked
# by python3 -m json.tool, its CRL number and entry count against
# `openssl crl -text`), shown and written out (byte-identical to the DER
# added, PEM read back by openssl), removed (--yes needed without a
# terminal).  Refused with a one-line error, the stored entry kept: a CRL
# signed by another key under the CA's name, a rollback to a lower CRL
# number, garbage, a CRL with no issuer in the bundle.
. "$top_srcdir/tests/lib.sh"

lib_init crl
need_cmd python3 cmp
S=$WORK/store
cd "$WORK"

crl() {
	"$P11CA" crl "$@"
}

# field JSONFILE INDEX KEY: one value of `crl list --json`
field() {
	python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[int(sys.argv[2])][sys.argv[3]]; print("null" if v is None else v)' "$@"
}

# crl_number FILE: the CRL number openssl reads (decimal)
crl_number() {
	openssl crl -in "$1" -noout -crlnumber | sed 's/^crlNumber=//' | python3 -c 'import sys; print(int(sys.stdin.read().strip(), 16))'
}

# entries FILE: revoked entries openssl counts
entries() {
	openssl crl -in "$1" -noout -text | grep -c "Serial Number:" || true
}

step "help and usage"
for v in add list show remove; do
	run_ok "$P11CA" crl "$v" --help
	grep -q "^usage: p11ca crl $v" "$WORK/out" || fail "crl $v --help: $(cat "$WORK/out")"
done
expect_fail 2 "needs FILE" crl add --crl-store "$S"
expect_fail 2 "unrecognized option" crl list --frobnicate

step "a software CA (openssl ca) with revoked certificates"
mkdir -p sw/newcerts
: > sw/index.txt
echo 01 > sw/crlnumber
cat > sw/ca.cnf <<CNF
[ ca ]
default_ca = sw
[ sw ]
dir = $WORK/sw
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
default_crl_days = 7
default_days = 30
policy = any
unique_subject = no
[ any ]
commonName = supplied
CNF
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout sw/ca.key \
	-out sw/ca.pem -days 3650 -subj "/O=Example/CN=Soft CA" \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
	2> /dev/null || fail "openssl req (CA)"
echo 1000 > sw/serial
for n in 1 2 3; do
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "sw/l$n.key" \
		-out "sw/l$n.csr" -subj "/CN=leaf$n.example.com" 2> /dev/null || fail "req $n"
	openssl ca -batch -config sw/ca.cnf -in "sw/l$n.csr" -out "sw/l$n.pem" > /dev/null 2>&1 ||
		fail "openssl ca $n"
done
openssl ca -config sw/ca.cnf -revoke sw/l1.pem -crl_reason keyCompromise > /dev/null 2>&1 ||
	fail "revoke 1"
openssl ca -config sw/ca.cnf -gencrl -out crl1.pem > /dev/null 2>&1 || fail "gencrl 1"
openssl ca -config sw/ca.cnf -revoke sw/l2.pem -crl_reason superseded > /dev/null 2>&1 ||
	fail "revoke 2"
openssl ca -config sw/ca.cnf -gencrl -out crl2.pem > /dev/null 2>&1 || fail "gencrl 2"
openssl crl -in crl2.pem -outform DER -out crl2.der || fail "crl2 as DER"
# an impostor: the same name, another key
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout evil.key \
	-out evil.pem -days 3650 -subj "/O=Example/CN=Soft CA" 2> /dev/null || fail "evil CA"
sed "s#\$dir/ca.pem#$WORK/evil.pem#; s#\$dir/ca.key#$WORK/evil.key#" sw/ca.cnf > evil.cnf
echo 09 > sw/crlnumber
openssl ca -config evil.cnf -gencrl -out evil.crl > /dev/null 2>&1 || fail "gencrl evil"
openssl crl -in evil.crl -CAfile sw/ca.pem -noout 2>&1 | grep -q "verify OK" &&
	fail "openssl accepts the impostor's CRL: the test is wrong"

step "crl add (PEM), list, list --json"
run_ok crl add crl2.pem --trust sw/ca.pem --crl-store "$S"
grep -q "stored" "$WORK/out" || fail "crl add said: $(cat "$WORK/out")"
[ "$(stat -c %a "$S")" = 700 ] || fail "store folder mode $(stat -c %a "$S")"
run_ok crl list --crl-store "$S"
[ "$(wc -l < "$WORK/out")" -eq 1 ] || fail "crl list: $(cat "$WORK/out")"
grep -q "/O=Example/CN=Soft CA .*number 02 .* 2 entries  manual crl2.pem" "$WORK/out" ||
	fail "crl list line: $(cat "$WORK/out")"
run_ok crl list --crl-store "$S" --json
python3 -m json.tool "$WORK/out" > /dev/null || fail "crl list --json is not JSON"
cp "$WORK/out" list.json
[ "$(python3 -c 'import sys; print(int(sys.argv[1], 16))' "$(field list.json 0 crl_number)")" = \
	"$(crl_number crl2.pem)" ] || fail "crl_number $(field list.json 0 crl_number) vs openssl"
[ "$(field list.json 0 entries)" = "$(entries crl2.pem)" ] || fail "entries vs openssl"
[ "$(field list.json 0 origin)" = manual ] || fail "origin"
[ "$(field list.json 0 expired)" = False ] || fail "expired"
nu=$(openssl crl -in crl2.pem -noout -nextupdate | sed 's/^nextUpdate=//')
[ "$(date -u -d "$nu" +%Y-%m-%dT%H:%M:%SZ)" = "$(field list.json 0 next_update)" ] ||
	fail "next_update $(field list.json 0 next_update) vs openssl $nu"
fp=$(openssl x509 -in sw/ca.pem -noout -fingerprint -sha256 | sed 's/^.*=//; s/://g' |
	tr A-F a-f)
[ "$(field list.json 0 issuer_fingerprint)" = "$fp" ] || fail "issuer_fingerprint"
ID=$(field list.json 0 id)

step "the same CRL again (DER): nothing changes"
cp "$S/$ID.crl" before.entry
run_ok crl add crl2.der --trust sw/ca.pem --crl-store "$S"
grep -q "same CRL" "$WORK/out" || fail "crl add again: $(cat "$WORK/out")"

step "refused, the stored entry kept: rollback, impostor, garbage, no issuer"
cp "$S/$ID.crl" before.entry
expect_fail 1 "CRL number 01 .* not newer than the stored 02" \
	crl add crl1.pem --trust sw/ca.pem --crl-store "$S"
one_line "$WORK/err"
expect_fail 1 "refused" crl add evil.crl --trust sw/ca.pem --crl-store "$S"
one_line "$WORK/err"
head -c 300 /dev/urandom > garbage.crl
expect_fail 1 "garbage.crl" crl add garbage.crl --trust sw/ca.pem --crl-store "$S"
one_line "$WORK/err"
head -c 200 crl2.der > cut.crl
expect_fail 1 "cut.crl" crl add cut.crl --trust sw/ca.pem --crl-store "$S"
one_line "$WORK/err"
expect_fail 1 "no issuer for CRL of /O=Example/CN=Soft CA" \
	crl add crl2.pem --trust sw/l3.pem --crl-store "$S"
one_line "$WORK/err"
expect_fail 1 "signature does not verify" crl add crl2.pem --trust evil.pem --crl-store "$S"
one_line "$WORK/err"
cmp -s "$S/$ID.crl" before.entry || fail "a refused CRL changed the stored entry"
[ "$(ls "$S" | grep -c '\.crl$')" -eq 1 ] || fail "store: $(ls -a "$S")"
run_ok crl list --crl-store "$S" --json
[ "$(field "$WORK/out" 0 crl_number)" = 02 ] || fail "stored number changed"

step "RSA-PSS (OpenSSL's full decode) and Ed25519 signatures"
for kind in pss ed; do
	mkdir -p "$kind/newcerts"
	: > "$kind/index.txt"
	echo 01 > "$kind/crlnumber"
	sed "s#^dir = .*#dir = $WORK/$kind#" sw/ca.cnf > "$kind/ca.cnf"
	if [ $kind = pss ]; then
		openssl req -x509 -newkey rsa:2048 -nodes -keyout $kind/ca.key -out $kind/ca.pem \
			-days 3650 -subj "/O=Example/CN=PSS CA" 2> /dev/null || fail "req $kind"
		set -- -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32
	else
		openssl req -x509 -newkey ed25519 -nodes -keyout $kind/ca.key -out $kind/ca.pem \
			-days 3650 -subj "/O=Example/CN=Ed CA" 2> /dev/null || fail "req $kind"
		set --
	fi
	openssl ca -config $kind/ca.cnf -gencrl "$@" -out $kind/crl.pem > /dev/null 2>&1 ||
		fail "gencrl $kind"
	run_ok crl add $kind/crl.pem --trust $kind/ca.pem --crl-store "$WORK/store-$kind"
	grep -q stored "$WORK/out" || fail "$kind CRL: $(cat "$WORK/out")"
	# the same CRL with one signature byte changed is refused
	openssl crl -in $kind/crl.pem -outform DER -out $kind/crl.der
	python3 -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); b[-5]^=1; open(sys.argv[2],"wb").write(b)' \
		$kind/crl.der $kind/bad.der
	expect_fail 1 "signature does not verify" \
		crl add $kind/bad.der --trust $kind/ca.pem --crl-store "$WORK/store-$kind"
	one_line "$WORK/err"
done
openssl crl -in pss/crl.pem -noout -text | grep -q "rsassaPss" || fail "not an RSA-PSS CRL"

step "archives: a ZIP of two CRLs, a bare GZIP"
need_cmd zip gzip
zip -q two.zip pss/crl.pem ed/crl.der
cat pss/ca.pem ed/ca.pem > pe.pem
run_ok crl add two.zip --trust pe.pem --crl-store "$WORK/store-zip"
[ "$(grep -c "two.zip:.*: stored" "$WORK/out")" -eq 2 ] || fail "zip: $(cat "$WORK/out")"
gzip -c crl2.der > crl2.der.gz
run_ok crl add crl2.der.gz --trust sw/ca.pem --crl-store "$WORK/store-zip"
grep -q "stored" "$WORK/out" || fail "gz: $(cat "$WORK/out")"

step "crl show: text, --json, --out DER and PEM"
run_ok crl show "$ID" --crl-store "$S"
grep -q "^CRL number: *02$" "$WORK/out" || fail "crl show: $(cat "$WORK/out")"
grep -q "^entries: *2$" "$WORK/out" || fail "crl show entries"
run_ok crl show "$(echo "$ID" | cut -c1-6)" --crl-store "$S" --json
python3 -m json.tool "$WORK/out" > /dev/null || fail "crl show --json is not JSON"
run_ok crl show "$ID" --crl-store "$S" --out back.der
cmp -s back.der crl2.der || fail "crl show --out: not the DER added"
run_ok crl show "$ID" --crl-store "$S" --out back.pem --pem
openssl crl -in back.pem -CAfile sw/ca.pem -noout 2>&1 | grep -q "verify OK" || fail "PEM written does not verify"
expect_fail 1 "no CRL nosuch" crl show nosuch --crl-store "$S"

step "a CRL of a CA whose key is on the token (p11ca ca crl)"
new_token ca
T=$WORK/tokca
run_ok "$P11CA" ca init --module "$MODULE" --pin-file "$PIN_FILE" --dir "$T" --new-key ec:p256 \
	--token "pkcs11:token=ca" --label root --subject "/O=Example/CN=Token CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tl.key -out tl.csr \
	-subj "/CN=tokleaf.example.com" -addext subjectAltName=DNS:tokleaf.example.com 2> /dev/null ||
	fail "req tokleaf"
run_ok "$P11CA" ca sign --module "$MODULE" --pin-file "$PIN_FILE" --dir "$T" --out tl.pem tl.csr
run_ok "$P11CA" ca revoke --module "$MODULE" --pin-file "$PIN_FILE" --dir "$T" --cert tl.pem \
	--reason cACompromise
run_ok "$P11CA" ca crl --module "$MODULE" --pin-file "$PIN_FILE" --dir "$T" --out tok.crl
cat "$T/ca.pem" sw/ca.pem > both.pem
run_ok crl add tok.crl --trust both.pem --crl-store "$S" --json
python3 -m json.tool "$WORK/out" > /dev/null || fail "crl add --json is not JSON"
cp "$WORK/out" tok.json
[ "$(field tok.json 0 result)" = stored ] || fail "token CA's CRL: $(cat tok.json)"
[ "$(field tok.json 0 entries)" = 1 ] || fail "token CA's CRL entries: $(cat tok.json)"
[ "$(python3 -c 'import sys; print(int(sys.argv[1], 16))' "$(field tok.json 0 crl_number)")" = \
	"$(crl_number tok.crl)" ] || fail "token CA's crl_number vs openssl"
run_ok crl list --crl-store "$S" --json
[ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$WORK/out")" -eq 2 ] ||
	fail "two entries expected: $(cat "$WORK/out")"

step "crl remove: --yes without a terminal"
expect_fail 2 "yes" crl remove "$ID" --crl-store "$S" < /dev/null
[ -e "$S/$ID.crl" ] || fail "remove without --yes removed"
run_ok crl remove "$ID" --crl-store "$S" --yes
[ ! -e "$S/$ID.crl" ] || fail "crl remove left the entry"
expect_fail 1 "no CRL" crl remove "$ID" --crl-store "$S" --yes
run_ok crl list --crl-store "$S"
[ "$(wc -l < "$WORK/out")" -eq 1 ] || fail "after remove: $(cat "$WORK/out")"

step "a symbolic link as the store folder is refused"
ln -s "$S" link
expect_fail 1 "symbolic link" crl list --crl-store "$WORK/link"
pass
