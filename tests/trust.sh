#!/bin/sh
# trust.sh - p11ca trust add|list|show|remove|reset on a PEM bundle: CA
# certificates made with openssl, added (PEM and DER, several per file),
# deduplicated, a leaf refused leaving the bundle byte-identical, listed
# with the fingerprints `openssl x509 -fingerprint -sha256` gives, shown,
# removed by fingerprint and subject, reset from a file; garbage and
# truncated input refused; the result used by `openssl verify -CAfile`.
# Needs no token.
. "$top_srcdir/tests/lib.sh"

[ -x "$P11CA" ] || fail "p11ca not built ($P11CA)"
need_cmd openssl cmp script
WORK=$(mktemp -d "${TMPDIR:-/tmp}/p11ca-trust.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'exit 1' HUP INT TERM
B=$WORK/bundle.pem

trust() {
	"$P11CA" trust "$@"
}

# count: the number of certificates in the bundle
count() {
	grep -c -- "-----BEGIN CERTIFICATE-----" "$B" || true
}

expect_count() {
	_n=$(count)
	[ "$_n" -eq "$1" ] || fail "bundle has $_n certificates, want $1"
}

# fp FILE: SHA-256 fingerprint as openssl prints it (AB:CD:...)
fp() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/^.*=//'
}

# unchanged: the bundle is byte-identical to $WORK/before
snapshot() {
	cp -p "$B" "$WORK/before"
}
unchanged() {
	cmp -s "$B" "$WORK/before" || fail "bundle changed: $*"
}

step "make CA certificates and a leaf"
cd "$WORK"
mkca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1.key" -out "$1.pem" -days 3650 -subj "$2" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2> /dev/null ||
		fail "openssl req for $1"
}
mkca root1 "/O=Example/CN=Example Root One"
mkca root2 "/O=Example/CN=Example Root Two"
mkca other "/O=Other Corp/CN=Other Root"
# an intermediate under root1, and a leaf under the intermediate
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout inter.key \
	-out inter.csr -subj "/O=Example/CN=Example Issuing CA" 2> /dev/null
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' > ca.ext
openssl x509 -req -in inter.csr -CA root1.pem -CAkey root1.key -CAcreateserial \
	-days 1000 -extfile ca.ext -out inter.pem 2> /dev/null || fail "intermediate"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key \
	-out leaf.csr -subj "/CN=host.example.com" 2> /dev/null
printf 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:host.example.com\n' > leaf.ext
openssl x509 -req -in leaf.csr -CA inter.pem -CAkey inter.key -CAcreateserial \
	-days 100 -extfile leaf.ext -out leaf.pem 2> /dev/null || fail "leaf"
# a self-signed version 1 certificate: no basicConstraints at all
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout nobc.key \
	-out nobc.csr -subj "/CN=No Constraints" 2> /dev/null
openssl x509 -req -in nobc.csr -signkey nobc.key -days 10 -out nobc.pem 2> /dev/null ||
	fail "v1 certificate"
openssl x509 -in nobc.pem -noout -text | grep -q "Basic Constraints" &&
	fail "the v1 certificate has basicConstraints"
openssl x509 -in root2.pem -outform DER -out root2.der
cat root1.pem inter.pem > chain.pem

step "usage"
expect_fail 2 "--bundle" trust list
expect_fail 2 "certificate file" trust add --bundle "$B"
run_ok trust add --help
grep -q "usage: p11ca trust add" "$WORK/out" || fail "trust add --help"

step "add creates the bundle (PEM with two certificates, and DER)"
[ ! -e "$B" ] || fail "bundle exists already"
run_ok trust add --bundle "$B" chain.pem
expect_count 2
grep -q "^added: $(fp root1.pem)" "$WORK/out" || fail "add did not report root1"
run_ok trust add --bundle "$B" root2.der
expect_count 3
openssl crl2pkcs7 -nocrl -certfile "$B" > /dev/null 2>&1 || fail "bundle not readable by openssl"

step "add deduplicates"
chmod 640 "$B"
snapshot
run_ok trust add --bundle "$B" root1.pem root2.pem
expect_count 3
grep -q "^already present: $(fp root1.pem)" "$WORK/out" || fail "no 'already present'"
unchanged "adding known certificates"
run_ok trust add --bundle "$B" other.pem other.pem
expect_count 4
[ "$(grep -c '^added:' "$WORK/out")" -eq 1 ] || fail "the same certificate twice was added twice"
[ "$(stat -c %a "$B")" = 640 ] || fail "mode not kept: $(stat -c %a "$B")"

step "non-CA certificates are refused, nothing added"
snapshot
expect_fail 1 "leaf.pem.*not a CA certificate" trust add --bundle "$B" leaf.pem
one_line "$WORK/err"
unchanged "after a refused leaf"
cat root1.pem leaf.pem > mixed.pem
expect_fail 1 "not a CA certificate" trust add --bundle "$B" root2.pem mixed.pem
unchanged "after a refused mixed call"
expect_fail 1 "nobc.pem.*basicConstraints" trust add --bundle "$B" nobc.pem
unchanged "after a certificate without basicConstraints"
ls "$WORK" | grep -q '\.tmp\.' && fail "temporary file left behind"

step "garbage and truncated input refused"
head -c 300 /dev/urandom > garbage.bin
printf 'hello, this is not a certificate\n' > garbage.txt
head -c 200 root2.der > trunc.der
head -n 5 other.pem > trunc.pem
sed '$d' other.pem > noend.pem
: > empty.pem
for f in garbage.bin garbage.txt trunc.der trunc.pem noend.pem empty.pem; do
	expect_fail 1 "$f" trust add --bundle "$B" root2.pem "$f"
	one_line "$WORK/err"
	unchanged "after $f"
done
expect_fail 1 "nosuch.pem" trust add --bundle "$B" nosuch.pem
unchanged "after a missing file"

step "a malformed bundle is refused and left alone"
cp garbage.txt bad-bundle.pem
expect_fail 1 "bad-bundle.pem" trust add --bundle bad-bundle.pem root1.pem
one_line "$WORK/err"
cmp -s bad-bundle.pem garbage.txt || fail "malformed bundle changed"
{ cat "$B"; head -n 4 root1.pem; } > trunc-bundle.pem
cp trunc-bundle.pem trunc-bundle.orig
expect_fail 1 "trunc-bundle.pem" trust add --bundle trunc-bundle.pem root2.pem
cmp -s trunc-bundle.pem trunc-bundle.orig || fail "truncated bundle changed"
expect_fail 1 "trunc-bundle.pem" trust list --bundle trunc-bundle.pem
expect_fail 1 "nosuch" trust list --bundle "$WORK/nosuch.pem"

step "list: fingerprints as openssl gives them"
run_ok trust list --bundle "$B"
[ "$(wc -l < "$WORK/out")" -eq 4 ] || fail "list: $(cat "$WORK/out")"
for c in root1 inter root2 other; do
	grep -q "^$(fp $c.pem) " "$WORK/out" || fail "list lacks $c's fingerprint"
done
grep "^$(fp inter.pem) " "$WORK/out" | grep -q "subject=/O=Example/CN=Example Issuing CA  " ||
	fail "list: intermediate's subject"
grep "^$(fp inter.pem) " "$WORK/out" | grep -q "issuer=/O=Example/CN=Example Root One$" ||
	fail "list: intermediate's issuer"
grep -q EXPIRED "$WORK/out" && fail "list marks a valid certificate expired"
run_ok trust list --bundle "$B" --json
lc=$(fp other.pem | tr -d : | tr 'A-F' 'a-f')
grep -q "\"fingerprint\": \"$lc\"" "$WORK/out" || fail "json lacks other's fingerprint"
if command -v python3 > /dev/null 2>&1; then
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d)==4' < "$WORK/out" ||
		fail "json does not parse"
else
	skip_part json "python3 is not installed: trust list --json not parsed"
fi

step "the bundle verifies a chain with openssl"
openssl verify -CAfile "$B" leaf.pem > verify.out 2>&1 || {
	cat verify.out >&2
	fail "openssl verify -CAfile"
}

step "show"
run_ok trust show --bundle "$B" "$(fp other.pem)"
grep -q "Other Root" "$WORK/out" || fail "show by fingerprint"
grep -q "CA:TRUE" "$WORK/out" || fail "show prints no extensions"
short=$(fp root2.pem | tr -d : | cut -c1-10 | tr 'A-F' 'a-f')
run_ok trust show --bundle "$B" "$short"
grep -q "Example Root Two" "$WORK/out" || fail "show by fingerprint prefix"
run_ok trust show --bundle "$B" "example root"
[ "$(grep -c '^SHA-256 Fingerprint' "$WORK/out")" -eq 2 ] || fail "show by subject"
expect_fail 1 "no certificate matches" trust show --bundle "$B" "nothing like this"

step "remove by fingerprint"
snapshot
expect_fail 1 "no certificate matches" trust remove --bundle "$B" --fingerprint 0123456789abcdef
unchanged "after removing nothing"
expect_fail 2 "8 hex digits" trust remove --bundle "$B" --fingerprint abc
expect_fail 2 "one of" trust remove --bundle "$B"
run_ok trust remove --bundle "$B" --fingerprint "$(fp other.pem | tr 'A-F' 'a-f')"
expect_count 3
run_ok trust list --bundle "$B"
grep -q "$(fp other.pem)" "$WORK/out" && fail "other still listed"
run_ok trust add --bundle "$B" other.pem
run_ok trust remove --bundle "$B" --fingerprint "$(fp other.pem | tr -d : | cut -c1-12)"
expect_count 3

step "remove by subject, --all"
snapshot
expect_fail 1 "--all" trust remove --bundle "$B" --subject "example root"
one_line "$WORK/err"
unchanged "after an ambiguous --subject"
run_ok trust remove --bundle "$B" --subject "issuing ca"
expect_count 2
run_ok trust remove --bundle "$B" --subject "example root" --all
expect_count 0
run_ok trust list --bundle "$B"
[ ! -s "$WORK/out" ] || fail "empty bundle lists something"
run_ok trust add --bundle "$B" root1.pem inter.pem
expect_count 2
openssl verify -CAfile "$B" leaf.pem > /dev/null 2>&1 || fail "verify after re-adding"

step "comments in a bundle survive add and remove"
{ echo "# Example Root Two"; cat root2.pem; } >> "$B"
run_ok trust add --bundle "$B" other.pem
run_ok trust remove --bundle "$B" --subject "Issuing"
grep -q "^# Example Root Two" "$B" || fail "comment lost"
expect_count 3

step "reset --from"
cat root2.pem other.pem > sys.pem
# a bundle with certificates in it is replaced only when confirmed: --yes,
# or y on a terminal
snapshot
expect_fail 2 "give --yes" trust reset --bundle "$B" --from sys.pem < /dev/null
one_line "$WORK/err"
unchanged "after reset without --yes"
printf 'n\n' | script -qec "'$P11CA' trust reset --bundle '$B' --from sys.pem" /dev/null \
	> "$WORK/tty" 2>&1 && fail "reset answered n on a terminal succeeded"
grep -q "replace every certificate in .*? \[y/N\]" "$WORK/tty" || fail "no question: $(cat "$WORK/tty")"
unchanged "after reset answered n"
printf 'y\n' | script -qec "'$P11CA' trust reset --bundle '$B' --from sys.pem" /dev/null \
	> "$WORK/tty" 2>&1 || fail "reset answered y on a terminal: $(cat "$WORK/tty")"
cmp -s "$B" sys.pem || fail "reset answered y: bundle is not a copy"
cp -p "$WORK/before" "$B"
run_ok trust reset --bundle "$B" --from sys.pem --yes
cmp -s "$B" sys.pem || fail "reset: bundle is not a copy"
[ "$(stat -c %a "$B")" = 640 ] || fail "reset did not keep the mode"
snapshot
expect_fail 1 "garbage.txt" trust reset --bundle "$B" --from garbage.txt
unchanged "after reset from garbage"
expect_fail 1 "empty.pem" trust reset --bundle "$B" --from empty.pem
unchanged "after reset from an empty file"
run_ok trust reset --bundle "$WORK/new.pem" --from sys.pem
cmp -s "$WORK/new.pem" sys.pem || fail "reset to a new file"
if [ -r /etc/ssl/certs/ca-certificates.crt ]; then
	run_ok trust reset --bundle "$WORK/sys.pem" --yes
	cmp -s "$WORK/sys.pem" /etc/ssl/certs/ca-certificates.crt || fail "reset to the system bundle"
	run_ok trust list --bundle "$WORK/sys.pem"
	[ "$(wc -l < "$WORK/out")" -gt 10 ] || fail "system bundle lists too few"
fi

step "a symlinked bundle stays a symlink"
cp sys.pem real.pem
ln -s real.pem link.pem
run_ok trust add --bundle link.pem root1.pem
[ -L link.pem ] || fail "symlink replaced"
grep -q "$(sed -n 2p root1.pem)" real.pem || fail "link target not updated"
ls "$WORK" | grep -q '\.tmp\.' && fail "temporary file left behind"

pass trust
