#!/bin/sh
# interop-pkcs11-tool.sh - keys made by OpenSC's pkcs11-tool work with p11ca,
# and keys made by p11ca work with pkcs11-tool; every signature is checked
# with the openssl command against the public key each side exports.
. "$top_srcdir/tests/lib.sh"
need_cmd pkcs11-tool python3
lib_init interop-p11tool
case "$MODULE" in
/*) ;;
*) skip "pkcs11-tool needs the SoftHSM2 module's path (configure --with-softhsm-module)" ;;
esac
new_token p11tool
TOK="pkcs11:token=p11tool"
printf 'interop with pkcs11-tool\n' > "$WORK/msg"
printf 'interop with pkcs11-tool?\n' > "$WORK/msg2"

# pkcs11-tool on the test token; it takes the PIN in argv, which is fine
# for a throwaway token (p11ca itself never does)
pt() {
	pkcs11-tool --module "$MODULE" --token-label p11tool "$@"
}
pt_login() {
	pt --login --pin "$PIN" "$@"
}

# der_to_pem IN OUT: a DER SubjectPublicKeyInfo to PEM
der_to_pem() {
	openssl pkey -pubin -inform DER -in "$1" -out "$2" || fail "$1 is not a DER public key"
}

# same_pubkey A B: two PEM public keys are the same key
same_pubkey() {
	openssl pkey -pubin -in "$1" -outform DER -out "$WORK/a.der" &&
		openssl pkey -pubin -in "$2" -outform DER -out "$WORK/b.der" ||
		fail "cannot read $1 or $2"
	cmp -s "$WORK/a.der" "$WORK/b.der" || fail "$1 and $2 are different keys"
}

# raw_to_der RAW DER: an ECDSA r||s signature to a DER ECDSA-Sig-Value
raw_to_der() {
	_n=$(($(wc -c < "$1") / 2))
	_r=$(head -c "$_n" "$1" | od -An -v -tx1 | tr -d ' \n')
	_s=$(tail -c "$_n" "$1" | od -An -v -tx1 | tr -d ' \n')
	printf 'asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x%s\ns=INTEGER:0x%s\n' "$_r" "$_s" > "$WORK/sig.cnf"
	openssl asn1parse -genconf "$WORK/sig.cnf" -out "$2" -noout > /dev/null ||
		fail "cannot DER-encode the ECDSA signature in $1"
}

# id_of LABEL: the hex CKA_ID of LABEL's private key, from p11ca key list --json
id_of() {
	"$P11CA" key list --module "$MODULE" --token "$TOK" --pin-file "$PIN_FILE" --json |
		python3 -c '
import json, sys
ids = [o["id"] for o in json.load(sys.stdin) if o["label"] == sys.argv[1] and o["class"] == "private"]
assert len(ids) == 1, ids
print(ids[0])' "$1" || fail "no single private key '$1' in key list --json"
}

step "keys made by pkcs11-tool, used by p11ca"
run_ok pt_login --keypairgen --key-type rsa:2048 --label pt-rsa --id 0a01
run_ok pt_login --keypairgen --key-type EC:prime256v1 --label pt-ec --id 0a02
# (not P-384: pkcs11-tool 0.23 cannot export P-384 public keys)
run_ok pt_login --keypairgen --key-type EC:secp521r1 --label pt-ec521 --id 0a03
for k in "pt-rsa 0a01 rsa sha256" "pt-ec 0a02 ec sha256" "pt-ec521 0a03 ec sha512"; do
	# shellcheck disable=SC2086
	set -- $k
	label=$1 id=$2 kind=$3 md=$4
	run_ok pt --read-object --type pubkey --id "$id" -o "$WORK/$label.pt.der"
	der_to_pem "$WORK/$label.pt.der" "$WORK/$label.pt.pem"
	run_ok p11ca key pubkey --pin-file "$PIN_FILE" "$TOK;object=$label" --out "$WORK/$label.pem"
	same_pubkey "$WORK/$label.pem" "$WORK/$label.pt.pem"
	# by label, and by the id pkcs11-tool gave it
	run_ok p11ca key sign --pin-file "$PIN_FILE" --key "$TOK;object=$label" --digest "$md" \
		--in "$WORK/msg" --out "$WORK/$label.sig"
	expect_verify "$kind" "$WORK/$label.pem" "$WORK/$label.sig" "$WORK/msg" "$md"
	expect_verify "$kind" "$WORK/$label.pt.pem" "$WORK/$label.sig" "$WORK/msg" "$md"
	expect_no_verify "$kind" "$WORK/$label.pt.pem" "$WORK/$label.sig" "$WORK/msg2" "$md"
	pct=$(echo "$id" | sed 's/../%&/g')
	run_ok p11ca key sign --pin-file "$PIN_FILE" --key "$TOK;id=$pct;type=private" --digest "$md" \
		--in "$WORK/msg" --out "$WORK/$label.sig2"
	expect_verify "$kind" "$WORK/$label.pt.pem" "$WORK/$label.sig2" "$WORK/msg" "$md"
	[ "$(id_of "$label")" = "$id" ] || fail "p11ca lists $label with another id"
done
run_ok p11ca key sign --pin-file "$PIN_FILE" --key "$TOK;object=pt-rsa" --alg pss \
	--in "$WORK/msg" --out "$WORK/pss.sig"
expect_verify rsa "$WORK/pt-rsa.pt.pem" "$WORK/pss.sig" "$WORK/msg" sha256 pss
# p11ca deletes what pkcs11-tool made, and pkcs11-tool sees it gone
run_ok p11ca key delete --yes --pin-file "$PIN_FILE" "$TOK;object=pt-ec521"
grep -qx "deleted 2 objects" "$WORK/out" || fail "key delete said: $(cat "$WORK/out")"
run_ok pt_login --list-objects
grep -q "pt-ec521" "$WORK/out" && fail "pkcs11-tool still lists pt-ec521"
grep -q "pt-rsa" "$WORK/out" || fail "pkcs11-tool no longer lists pt-rsa"

step "keys made by p11ca, used by pkcs11-tool"
run_ok p11ca key gen --token "$TOK" --pin-file "$PIN_FILE" --label p-rsa --type rsa:2048 \
	--pubout "$WORK/p-rsa.pem"
run_ok p11ca key gen --token "$TOK" --pin-file "$PIN_FILE" --label p-ec --type ec:p256 \
	--pubout "$WORK/p-ec.pem"
run_ok p11ca key gen --token "$TOK" --pin-file "$PIN_FILE" --label p-ec521 --type ec:p521 \
	--pubout "$WORK/p-ec521.pem"
rsa_id=$(id_of p-rsa)
ec_id=$(id_of p-ec)
ec521_id=$(id_of p-ec521)
[ ${#rsa_id} -eq 40 ] || fail "p11ca's CKA_ID is not 20 bytes: $rsa_id"

# pkcs11-tool sees the flags p11ca promises
run_ok pt_login --list-objects --type privkey
awk '/^Private Key Object/ { k = "" } /label: *p-/ { k = $2 } k != "" && /Access:/ { print k ": " $0 }' \
	"$WORK/out" > "$WORK/access"
[ "$(grep -c . "$WORK/access")" -eq 3 ] || fail "pkcs11-tool does not list p11ca's keys: $(cat "$WORK/out")"
while read -r line; do
	case "$line" in
	*"sensitive"*"never extractable"*) ;;
	*) fail "pkcs11-tool shows $line" ;;
	esac
	if echo "$line" | sed 's/never extractable//' | grep -q extractable; then
		fail "pkcs11-tool shows an extractable key: $line"
	fi
done < "$WORK/access"

# their public keys, read by pkcs11-tool, are what p11ca says
for k in "p-rsa $rsa_id" "p-ec $ec_id" "p-ec521 $ec521_id"; do
	# shellcheck disable=SC2086
	set -- $k
	run_ok pt --read-object --type pubkey --id "$2" -o "$WORK/$1.pt.der"
	der_to_pem "$WORK/$1.pt.der" "$WORK/$1.pt.pem"
	same_pubkey "$WORK/$1.pem" "$WORK/$1.pt.pem"
	run_ok p11ca key pubkey --pin-file "$PIN_FILE" "$TOK;object=$1"
	same_pubkey "$WORK/out" "$WORK/$1.pem"
done

# RSA PKCS#1 v1.5, the token hashing
run_ok pt_login --sign --mechanism SHA256-RSA-PKCS --id "$rsa_id" -i "$WORK/msg" -o "$WORK/p-rsa.sig"
expect_verify rsa "$WORK/p-rsa.pem" "$WORK/p-rsa.sig" "$WORK/msg" sha256
expect_no_verify rsa "$WORK/p-rsa.pem" "$WORK/p-rsa.sig" "$WORK/msg2" sha256
run_ok pt_login --sign --mechanism SHA384-RSA-PKCS --id "$rsa_id" -i "$WORK/msg" -o "$WORK/p-rsa.sig"
expect_verify rsa "$WORK/p-rsa.pem" "$WORK/p-rsa.sig" "$WORK/msg" sha384
# RSA-PSS
run_ok pt_login --sign --mechanism SHA256-RSA-PKCS-PSS --id "$rsa_id" -i "$WORK/msg" \
	-o "$WORK/p-rsa.pss"
expect_verify rsa "$WORK/p-rsa.pem" "$WORK/p-rsa.pss" "$WORK/msg" sha256 pss
# and p11ca's own signature with the same key agrees on the public key
run_ok p11ca key sign --pin-file "$PIN_FILE" --key "$TOK;object=p-rsa" --in "$WORK/msg" \
	--out "$WORK/p-rsa.p11ca.sig"
cmp -s "$WORK/p-rsa.p11ca.sig" "$WORK/p-rsa.sig" && fail "a SHA-384 and a SHA-256 signature are equal"
run_ok pt_login --sign --mechanism SHA256-RSA-PKCS --id "$rsa_id" -i "$WORK/msg" -o "$WORK/p-rsa.sig"
cmp -s "$WORK/p-rsa.p11ca.sig" "$WORK/p-rsa.sig" ||
	fail "p11ca and pkcs11-tool made different PKCS#1 v1.5 signatures of one message"

# raw ECDSA over a SHA-256 hash: r||s, or DER with --signature-format openssl
for k in "p-ec $ec_id 64" "p-ec521 $ec521_id 132"; do
	# shellcheck disable=SC2086
	set -- $k
	openssl dgst -sha256 -binary -out "$WORK/msg.sha256" "$WORK/msg"
	run_ok pt_login --sign --mechanism ECDSA --id "$2" -i "$WORK/msg.sha256" -o "$WORK/$1.raw"
	[ "$(wc -c < "$WORK/$1.raw")" -eq "$3" ] || fail "pkcs11-tool's $1 signature is not $3 bytes of r||s"
	raw_to_der "$WORK/$1.raw" "$WORK/$1.der"
	expect_verify ec "$WORK/$1.pem" "$WORK/$1.der" "$WORK/msg" sha256
	expect_no_verify ec "$WORK/$1.pem" "$WORK/$1.der" "$WORK/msg2" sha256
	run_ok pt_login --sign --mechanism ECDSA --signature-format openssl --id "$2" \
		-i "$WORK/msg.sha256" -o "$WORK/$1.ossl"
	expect_verify ec "$WORK/$1.pem" "$WORK/$1.ossl" "$WORK/msg" sha256
done

# pkcs11-tool's own verification of a p11ca signature
run_ok p11ca key sign --pin-file "$PIN_FILE" --key "$TOK;object=p-ec" --in "$WORK/msg" \
	--out "$WORK/p-ec.p11ca.sig"
run_ok pt_login --verify --mechanism ECDSA --signature-format openssl --id "$ec_id" \
	-i "$WORK/msg.sha256" --signature-file "$WORK/p-ec.p11ca.sig"
grep -q "Signature is valid" "$WORK/out" || fail "pkcs11-tool: $(cat "$WORK/out" "$WORK/err")"

echo "interop-pkcs11-tool: all checks passed"
