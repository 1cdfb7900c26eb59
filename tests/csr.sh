#!/bin/sh
# csr.sh - p11ca csr against a throwaway SoftHSM2 token, by the deployment
# rules: a single server, a three-peer cluster sharing one certificate, a
# cluster with a certificate per peer, unified-communications names, the
# Microsoft template extension, EKU/keyUsage, PEM and DER, digests; every
# CSR verified with `openssl req -verify` and its subject and SAN checked.
# Refusals (wildcards, bad FQDNs, an RSA-8192 key, SHA-1, an unknown URI
# attribute) exit 1 with one line and leave the token as it was.
. "$top_srcdir/tests/lib.sh"
lib_init csr
new_token csr
TOK="pkcs11:token=csr"

# csr ARGS...: p11ca csr on the test's token module, PIN from the file
csr() {
	"$P11CA" csr --module "$MODULE" --pin-file "$PIN_FILE" "$@"
}

# req FILE ARGS...: openssl req on a CSR, PEM or DER by the file's name
req() {
	_f=$1
	shift
	case "$_f" in
	*.der) openssl req -inform DER -in "$_f" "$@" ;;
	*) openssl req -in "$_f" "$@" ;;
	esac
}

# check_csr FILE: the self-signature verifies
check_csr() {
	req "$1" -verify -noout > "$WORK/verify.out" 2>&1 || {
		cat "$WORK/verify.out" >&2
		fail "$1 does not verify"
	}
	grep -q "verify OK" "$WORK/verify.out" || fail "$1: $(cat "$WORK/verify.out")"
}

# expect_subject FILE WANT: the subject, RFC 2253 order (last RDN first)
expect_subject() {
	_got=$(req "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
	[ "$_got" = "$2" ] || fail "$1: subject '$_got', want '$2'"
}

# ext FILE NAME: the value line of a requested extension ("" when absent)
ext() {
	req "$1" -noout -text | awk -v n="$2" '
		found { sub(/^ */, ""); print; exit }
		index($0, n ":") { found = 1 }'
}

# expect_ext FILE NAME WANT
expect_ext() {
	_got=$(ext "$1" "$2")
	[ "$_got" = "$3" ] || fail "$1: $2 is '$_got', want '$3'"
}

# expect_key FILE LABEL: the CSR carries the public key of token key LABEL
expect_key() {
	"$P11CA" key pubkey --module "$MODULE" --pin-file "$PIN_FILE" "$TOK;object=$2" \
		--out "$WORK/want.pub" || fail "no public key for $2"
	req "$1" -noout -pubkey > "$WORK/got.pub" || fail "no public key in $1"
	cmp -s "$WORK/want.pub" "$WORK/got.pub" || fail "$1 does not carry the key $2"
}

# no_temp_files: --out left no temporary file behind
no_temp_files() {
	for _t in "$WORK"/*.tmp.*; do
		[ -e "$_t" ] && fail "a temporary file was left: $_t"
	done
	return 0
}

SERVER_EKU="TLS Web Server Authentication, TLS Web Client Authentication"

step "help, the command list, usage errors"
run_ok "$P11CA" csr --help
grep -q "^usage: p11ca csr" "$WORK/out" || fail "p11ca csr --help: $(cat "$WORK/out")"
[ -s "$WORK/err" ] && fail "p11ca csr --help wrote to stderr"
grep -q "modern\|current TLS clients" "$WORK/out" || fail "--help does not explain the SAN for --fqdn"
run_ok "$P11CA" --help
grep -q "^  csr " "$WORK/out" || fail "p11ca --help does not list csr"
expect_fail 2 "unrecognized option" "$P11CA" csr --frobnicate
expect_fail 2 "either --key URI or --new-key" "$P11CA" csr --fqdn a.example.com
expect_fail 2 "either --key URI or --new-key" "$P11CA" csr
expect_fail 2 "csr takes no arguments \('frobnicate'" "$P11CA" csr frobnicate
expect_fail 2 "--new-key needs --label" csr --new-key ec:p256 --fqdn a.example.com
expect_fail 2 "--cluster needs --fqdn" csr --key "$TOK;object=x" --cluster c.example.com
expect_fail 2 "--peer needs --cluster" csr --key "$TOK;object=x" --fqdn a.example.com --peer b.example.com
expect_fail 2 "unknown --eku 'web'" csr --key "$TOK;object=x" --fqdn a.example.com --eku web
expect_fail 2 "unknown --digest 'md5'" csr --key "$TOK;object=x" --fqdn a.example.com --digest md5
expect_fail 2 "unknown type 'uri:'" csr --key "$TOK;object=x" --san uri:http://a.example.com/
expect_fail 2 "needs a type" csr --key "$TOK;object=x" --san a.example.com
expect_fail 2 "unknown field 'XX'" csr --key "$TOK;object=x" --subject "/XX=1/CN=a.example.com"

step "keys: RSA-2048, EC P-256, Ed25519"
for k in rsa:rsa:2048 ec:ec:p256 ed:ed25519; do
	run_ok "$P11CA" key gen --module "$MODULE" --pin-file "$PIN_FILE" --token "$TOK" \
		--label "${k%%:*}" --type "${k#*:}"
done
RSA="$TOK;object=rsa"
EC="$TOK;object=ec"
ED="$TOK;object=ed"

step "single server: --fqdn with a full subject (PEM)"
run_ok csr --key "$RSA" --fqdn vcs.example.com --country GB --state "Greater London" \
	--locality London --org "Example Ltd" --org-unit "Video" --out "$WORK/single.csr"
check_csr "$WORK/single.csr"
expect_subject "$WORK/single.csr" "CN=vcs.example.com,OU=Video,O=Example Ltd,L=London,ST=Greater London,C=GB"
expect_ext "$WORK/single.csr" "X509v3 Subject Alternative Name" "DNS:vcs.example.com"
expect_ext "$WORK/single.csr" "X509v3 Extended Key Usage" "$SERVER_EKU"
expect_ext "$WORK/single.csr" "X509v3 Key Usage" "Digital Signature, Key Encipherment"
req "$WORK/single.csr" -noout -text | grep -q "X509v3 Key Usage: critical" ||
	fail "keyUsage is not critical"
req "$WORK/single.csr" -noout -text | grep -q "Signature Algorithm: sha256WithRSAEncryption" ||
	fail "the default digest is not SHA-256"
expect_key "$WORK/single.csr" rsa
head -1 "$WORK/single.csr" | grep -q "^-----BEGIN CERTIFICATE REQUEST-----$" || fail "not PEM"
no_temp_files

step "the same, --subject string, to standard output; --out replaces atomically"
run_ok csr --key "$EC" --subject "/C=GB/ST=Some\/Where/O=Example Ltd/CN=vcs.example.com"
cp "$WORK/out" "$WORK/stdout.csr"
check_csr "$WORK/stdout.csr"
expect_subject "$WORK/stdout.csr" "CN=vcs.example.com,O=Example Ltd,ST=Some/Where,C=GB"
expect_ext "$WORK/stdout.csr" "X509v3 Subject Alternative Name" "DNS:vcs.example.com"
expect_ext "$WORK/stdout.csr" "X509v3 Key Usage" "Digital Signature"
echo "old content" > "$WORK/replace.csr"
run_ok csr --key "$EC" --fqdn vcs2.example.com --out "$WORK/replace.csr"
check_csr "$WORK/replace.csr"
expect_subject "$WORK/replace.csr" "CN=vcs2.example.com"

step "three-peer cluster, one shared certificate"
run_ok csr --key "$RSA" --fqdn exp1.example.com --cluster expc.example.com \
	--peer exp1.example.com --peer exp2.example.com --peer exp3.example.com --out "$WORK/shared.csr"
check_csr "$WORK/shared.csr"
expect_subject "$WORK/shared.csr" "CN=exp1.example.com"
expect_ext "$WORK/shared.csr" "X509v3 Subject Alternative Name" \
	"DNS:exp1.example.com, DNS:expc.example.com, DNS:exp2.example.com, DNS:exp3.example.com"
expect_ext "$WORK/shared.csr" "X509v3 Extended Key Usage" "$SERVER_EKU"
# the guide's OpenSSL recipe: CN is the cluster's name
run_ok csr --key "$RSA" --cn expc.example.com --fqdn exp1.example.com --cluster expc.example.com \
	--peer exp2.example.com --peer exp3.example.com --out "$WORK/shared-cn.csr"
check_csr "$WORK/shared-cn.csr"
expect_subject "$WORK/shared-cn.csr" "CN=expc.example.com"
expect_ext "$WORK/shared-cn.csr" "X509v3 Subject Alternative Name" \
	"DNS:expc.example.com, DNS:exp1.example.com, DNS:exp2.example.com, DNS:exp3.example.com"

step "three-peer cluster, a certificate per peer, each key new on the token (--new-key)"
for i in 1 2 3; do
	run_ok csr --new-key ec:p256 --label "peer$i" --token "$TOK" --fqdn "exp$i.example.com" \
		--cluster expc.example.com --out "$WORK/peer$i.csr"
	grep -q "^pkcs11:token=csr;.*object=peer$i;" "$WORK/out" ||
		fail "--new-key printed no key URI: $(cat "$WORK/out")"
	check_csr "$WORK/peer$i.csr"
	expect_subject "$WORK/peer$i.csr" "CN=exp$i.example.com"
	expect_ext "$WORK/peer$i.csr" "X509v3 Subject Alternative Name" \
		"DNS:exp$i.example.com, DNS:expc.example.com"
	expect_ext "$WORK/peer$i.csr" "X509v3 Extended Key Usage" "$SERVER_EKU"
	expect_key "$WORK/peer$i.csr" "peer$i"
done
cmp -s "$WORK/peer1.csr" "$WORK/peer2.csr" && fail "two peers got the same CSR"
# with the CSR on stdout the new key's URI goes to stderr
run_ok csr --new-key ed25519 --label peer4 --token "$TOK" --fqdn exp4.example.com
grep -q "^p11ca: new key pkcs11:.*object=peer4" "$WORK/err" || fail "no key URI on stderr"
cp "$WORK/out" "$WORK/peer4.csr"
check_csr "$WORK/peer4.csr"
expect_key "$WORK/peer4.csr" peer4

step "unified communications names, IP and e-mail SANs"
run_ok csr --key "$RSA" --fqdn expe.example.com --uc-name example.com \
	--uc-name chatnode1.example.com --uc-name secure-profile.cucm.example.com \
	--san dns:jabber.example.com,ip:192.0.2.10 --san ip:2001:db8::10,email:admin@example.com \
	--san dns:EXAMPLE.com --out "$WORK/uc.csr"
check_csr "$WORK/uc.csr"
expect_subject "$WORK/uc.csr" "CN=expe.example.com"
expect_ext "$WORK/uc.csr" "X509v3 Subject Alternative Name" \
	"DNS:expe.example.com, DNS:example.com, DNS:chatnode1.example.com, DNS:secure-profile.cucm.example.com, DNS:jabber.example.com, IP Address:192.0.2.10, IP Address:2001:DB8:0:0:0:0:0:10, email:admin@example.com"

step "Microsoft template name extension (DER)"
run_ok csr --key "$RSA" --fqdn vcs.example.com --ms-template Webclientandserver --der \
	--out "$WORK/mstpl.der"
head -c 11 "$WORK/mstpl.der" | grep -q "BEGIN" && fail "--der wrote PEM"
check_csr "$WORK/mstpl.der"
openssl req -inform DER -verify -noout -in "$WORK/mstpl.der" > /dev/null 2>&1 || fail "DER CSR"
expect_ext "$WORK/mstpl.der" "X509v3 Extended Key Usage" "$SERVER_EKU"
openssl asn1parse -inform DER -in "$WORK/mstpl.der" > "$WORK/asn1" || fail "asn1parse"
grep -A1 "OBJECT *:1.3.6.1.4.1.311.20.2$" "$WORK/asn1" > "$WORK/tpl" ||
	fail "no 1.3.6.1.4.1.311.20.2 extension: $(cat "$WORK/asn1")"
# BMPString (tag 0x1e), length 36, "Webclientandserver" in UTF-16BE
want=1E24$(printf Webclientandserver | od -An -v -tx1 | tr -d ' \n' | sed 's/../00&/g' |
	tr a-f A-F)
grep -q "OCTET STRING *\[HEX DUMP\]:$want$" "$WORK/tpl" ||
	fail "the template extension is not BMPString Webclientandserver: $(cat "$WORK/tpl")"
req "$WORK/mstpl.der" -noout -text | grep -q "1.3.6.1.4.1.311.20.2:" ||
	fail "openssl req -text does not show the template extension"

step "EKU and keyUsage choices, digests, Ed25519"
run_ok csr --key "$EC" --fqdn a.example.com --eku server --out "$WORK/srv.csr"
check_csr "$WORK/srv.csr"
expect_ext "$WORK/srv.csr" "X509v3 Extended Key Usage" "TLS Web Server Authentication"
run_ok csr --key "$EC" --cn "Jane Doe" --email jane@example.com --eku client --out "$WORK/cli.csr"
check_csr "$WORK/cli.csr"
expect_ext "$WORK/cli.csr" "X509v3 Extended Key Usage" "TLS Web Client Authentication"
expect_subject "$WORK/cli.csr" "emailAddress=jane@example.com,CN=Jane Doe"
[ -z "$(ext "$WORK/cli.csr" "X509v3 Subject Alternative Name")" ] ||
	fail "a client CSR got a SAN from its CN"
run_ok csr --key "$EC" --fqdn a.example.com --eku client,server --out "$WORK/both.csr"
expect_ext "$WORK/both.csr" "X509v3 Extended Key Usage" "$SERVER_EKU"
for md in sha384 sha512; do
	run_ok csr --key "$RSA" --fqdn a.example.com --digest $md --out "$WORK/$md.csr"
	check_csr "$WORK/$md.csr"
	req "$WORK/$md.csr" -noout -text | grep -q "Signature Algorithm: ${md}WithRSAEncryption" ||
		fail "--digest $md not used"
done
run_ok csr --key "$EC" --fqdn a.example.com --digest sha384 --out "$WORK/ec384.csr"
req "$WORK/ec384.csr" -noout -text | grep -q "Signature Algorithm: ecdsa-with-SHA384" ||
	fail "--digest sha384 not used with EC"
run_ok csr --key "$RSA" --fqdn a.example.com --digest sha1 --allow-sha1 --out "$WORK/sha1.csr"
grep -q "warning: .*SHA-1" "$WORK/err" || fail "no SHA-1 warning: $(cat "$WORK/err")"
check_csr "$WORK/sha1.csr"
run_ok csr --key "$ED" --fqdn a.example.com --der --out "$WORK/ed.der"
check_csr "$WORK/ed.der"
req "$WORK/ed.der" -noout -text | grep -q "Signature Algorithm: ED25519" || fail "Ed25519 CSR"
expect_ext "$WORK/ed.der" "X509v3 Key Usage" "Digital Signature"
expect_key "$WORK/ed.der" ed

step "refusals: wildcards, bad FQDNs, SHA-1, unknown URI attributes"
refuse() { # REGEX ARGS...: exit 1, one line naming the problem
	_re=$1
	shift
	expect_fail 1 "$_re" csr "$@"
	one_line "$WORK/err"
}
refuse "wildcard" --key "$RSA" --fqdn "*.example.com"
refuse "wildcard" --key "$RSA" --cn "*.example.com" --eku client
refuse "wildcard" --key "$RSA" --fqdn a.example.com --san "dns:*.example.com"
refuse "wildcard" --key "$RSA" --fqdn a.example.com --cluster "*.example.com"
refuse "wildcard" --key "$RSA" --fqdn a.example.com --uc-name "*.chat.example.com"
refuse "wildcard" --key "$RSA" --subject "/O=x/CN=*.example.com"
refuse "'host' is not a valid FQDN: it needs a domain" --key "$RSA" --fqdn host
refuse "label 'bad_name' has a character" --key "$RSA" --fqdn bad_name.example.com
refuse "starts or ends with a hyphen" --key "$RSA" --fqdn a.example.com --cluster c.example.com \
	--peer b-.example.com
refuse "longer than 63" --key "$RSA" --fqdn "$(printf '%064d' 0 | tr 0 a).example.com"
refuse "longer than 253" --key "$RSA" --fqdn a.example.com \
	--san "dns:$(printf 'abcdefghi.%.0s' $(seq 26))example.com"
refuse "empty label" --key "$RSA" --fqdn a..example.com
refuse "trailing dot" --key "$RSA" --fqdn a.example.com.
refuse "IP address.*--san ip:192.0.2.1" --key "$RSA" --fqdn 192.0.2.1
refuse "IP address.*--san ip:192.0.2.1" --key "$RSA" --fqdn a.example.com --san dns:192.0.2.1
refuse "not an IPv4 or IPv6 address" --key "$RSA" --fqdn a.example.com --san ip:a.example.com
refuse "not a valid FQDN" --key "$RSA" --cn "Jane Doe"
refuse "two-letter" --key "$RSA" --fqdn a.example.com --country GBR
refuse "SHA-1.*--allow-sha1" --key "$RSA" --fqdn a.example.com --digest sha1
for uri in "$RSA;frobnicate=1" "$TOK;frobnicate=yes;object=rsa" "$RSA?frobnicate=1"; do
	refuse "unknown attribute 'frobnicate'" --key "$uri" --fqdn a.example.com
done
refuse "unknown attribute 'frobnicate'" --new-key ec:p256 --label fresh \
	--token "$TOK;frobnicate=1" --fqdn a.example.com
# a refused request with --new-key makes no key
refuse "wildcard" --new-key ec:p256 --label wild --token "$TOK" --fqdn "*.example.com"
refuse "SIP" --new-key rsa:8192 --label huge --token "$TOK" --fqdn a.example.com
# an --out that cannot be: refused before a key is made
expect_fail 1 "cannot write" csr --new-key ec:p256 --label unwritten --token "$TOK" \
	--fqdn a.example.com --out "$WORK/no/such/dir/x.csr"
grep -q "deleted again" "$WORK/err" && fail "a key was made for an --out that cannot be"
# a key made but the CSR not written (a full disk): the key is deleted again
expect_fail 1 "cannot write" csr --new-key ec:p256 --label unwritten --token "$TOK" \
	--fqdn a.example.com --out /dev/full
grep -q "deleted again" "$WORK/err" || fail "the new key was not deleted: $(cat "$WORK/err")"
run_ok "$P11CA" key list --module "$MODULE" --pin-file "$PIN_FILE" --token "$TOK"
grep -q "wild\|huge\|unwritten\|fresh" "$WORK/out" && fail "a refused request left a key: $(cat "$WORK/out")"

step "an RSA-8192 key (made with key gen --force) is refused unless --force"
run_ok "$P11CA" key gen --module "$MODULE" --pin-file "$PIN_FILE" --token "$TOK" --label big \
	--type rsa:8192 --force
refuse "RSA-8192.*SIP TLS.*--force" --key "$TOK;object=big" --fqdn a.example.com --out "$WORK/big.csr"
[ -e "$WORK/big.csr" ] && fail "a refused CSR was written"
run_ok csr --key "$TOK;object=big" --fqdn a.example.com --force --out "$WORK/big.csr"
grep -q "warning: RSA-8192" "$WORK/err" || fail "no warning for --force: $(cat "$WORK/err")"
check_csr "$WORK/big.csr"
no_temp_files

echo "PASS: csr"
