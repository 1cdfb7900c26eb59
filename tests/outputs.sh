#!/bin/sh
# outputs.sh - the one writer of every output file, and where ca sign's
# certificates go.  At every output path of every command (key gen
# --pubout, key pubkey --out, key sign --out, csr --out, cert convert,
# ca init --csr, ca set-cert, ca sign --out/--out-dir, ca crl --out,
# ca export-index --out and its .attr, trust add/remove/reset --bundle) a
# symbolic link, dangling or to an existing file elsewhere, is refused with
# one line: the file it names stays byte for byte (a dangling one stays
# absent), and what the command would have made first (a key, a
# certificate) is not made.  /dev/stdout still works; a trust bundle that is
# a link of ours to a file of ours is followed, another user's is not.
# Replacing keeps the mode only of a regular file of ours; stale temporary
# files of ours are swept, nothing else is.  ca sign: --out-dir names files
# by CN (or the CSR's name) and serial and prints CSR -> FILE; a second sign
# of a CSR whose subject and key have a valid certificate is refused
# (--again issues), and outputs that fail after the commit (ENOSPC on
# /dev/full, a name too long in --out-dir) name every serial issued and the
# show --pem that gives it back.
. "$top_srcdir/tests/ca-lib.sh"
ca_lib_init outputs

V=$WORK/victims # files outside the output folders, which no link may reach
L=$WORK/links   # where the links are
mkdir -p "$V" "$L"
ME=$(id -u)

# links NAME: $L/NAME-dangling -> $V/NAME-absent, $L/NAME-existing -> $V/NAME-existing
links() {
	printf 'victim %s\n' "$1" > "$V/$1-existing"
	chmod 640 "$V/$1-existing"
	ln -sf "$V/$1-absent" "$L/$1-dangling"
	ln -sf "$V/$1-existing" "$L/$1-existing"
}

# untouched NAME: the victims of links NAME are as links made them
untouched() {
	[ -e "$V/$1-absent" ] && fail "$1: a file was made where the dangling link points"
	[ "$(cat "$V/$1-existing")" = "victim $1" ] || fail "$1: the link's target was overwritten"
	[ "$(stat -c %a "$V/$1-existing")" = 640 ] || fail "$1: the link's target changed mode"
	[ -L "$L/$1-dangling" ] && [ -L "$L/$1-existing" ] || fail "$1: a link was replaced"
	ls "$L" "$V" | grep -q '\.tmp\.' && fail "$1: a temporary file was left behind"
	return 0
}

# refused NAME WHICH CMD... (with @ for the link's path): CMD exits 1 with
# one line naming the link, and nothing is written through it
refused() {
	_n=$1 _w=$2
	shift 2
	_link="$L/$_n-$_w"
	_args=""
	for _a in "$@"; do
		[ "$_a" = @ ] && _a=$_link
		_args="$_args '$(printf %s "$_a" | sed "s/'/'\\\\''/g")'"
	done
	eval "expect_fail 1 'symbolic link' $_args"
	one_line "$WORK/err"
	grep -qF "$_link" "$WORK/err" || fail "$_n: the error does not name $_link"
	untouched "$_n"
}

# both NAME CMD...: refused through the dangling and the existing link
both() {
	_n=$1
	shift
	links "$_n"
	refused "$_n" dangling "$@"
	refused "$_n" existing "$@"
}

# key_count LABEL: the objects labelled LABEL on the token
key_count() {
	"$P11CA" key list --module "$MODULE" --pin-file "$PIN_FILE" --token "$TOK" |
		grep -c "object=$1;" || true
}

# ---------------------------------------------------------------------
step "a CA, a key and a CSR to work with"
R=$WORK/root
run_ok ca init --dir "$R" --new-key ec:p256 --token "$TOK" --label root \
	--subject "/O=Example/CN=Outputs Root CA"
run_ok "$P11CA" key gen --module "$MODULE" --pin-file "$PIN_FILE" --token "$TOK" \
	--label k1 --type ec:p256
KEY="$TOK;object=k1;type=private"
echo "a message" > "$WORK/msg"
swcsr a "/CN=a.example.com" -addext "subjectAltName=DNS:a.example.com"
swcsr b "/CN=b.example.com" -addext "subjectAltName=DNS:b.example.com"
openssl req -new -key "$SW/b.key" -subj "/CN=b.example.com" \
	-addext "subjectAltName=DNS:b.example.com" -out "$SW/b2.csr" ||
	fail "a second CSR for b's key"
swcsr noname "/O=Example" -addext "subjectAltName=DNS:noname.example.com"

# ---------------------------------------------------------------------
step "every output path refuses a symbolic link"
# key gen --pubout: refused before the key is made
both pubout "$P11CA" key gen --module "$MODULE" --pin-file "$PIN_FILE" --token "$TOK" \
	--label never --type ec:p256 --pubout @
[ "$(key_count never)" = 0 ] || fail "key gen made a key whose --pubout was refused"
both pubkey "$P11CA" key pubkey --module "$MODULE" --pin-file "$PIN_FILE" "$KEY" --out @
both sig "$P11CA" key sign --module "$MODULE" --pin-file "$PIN_FILE" --key "$KEY" \
	--in "$WORK/msg" --out @
both csr "$P11CA" csr --module "$MODULE" --pin-file "$PIN_FILE" --key "$KEY" \
	--fqdn c.example.com --out @
both csrnew "$P11CA" csr --module "$MODULE" --pin-file "$PIN_FILE" --new-key ec:p256 \
	--token "$TOK" --label never2 --fqdn c.example.com --out @
[ "$(key_count never2)" = 0 ] || fail "csr --new-key made a key whose --out was refused"
both convert "$P11CA" cert convert "$R/ca.pem" @
both subcsr ca init --dir "$WORK/sub" --new-key ec:p256 --token "$TOK" --label never3 \
	--subject "/CN=Sub" --csr @
[ "$(key_count never3)" = 0 ] || fail "ca init made a key whose --csr was refused"
[ -e "$WORK/sub" ] && fail "ca init left $WORK/sub behind"
_db=$(db_state "$R")
both signout ca sign --dir "$R" --out @ "$SW/a.csr"
[ "$(db_state "$R")" = "$_db" ] || fail "ca sign --out LINK issued a certificate"
mkdir "$V/outdir"
ln -s "$V/outdir" "$L/outdir"
expect_fail 1 "symbolic link" ca sign --dir "$R" --out-dir "$L/outdir" "$SW/a.csr"
one_line "$WORK/err"
[ -z "$(ls -A "$V/outdir")" ] || fail "ca sign --out-dir LINK wrote into its target"
[ "$(db_state "$R")" = "$_db" ] || fail "ca sign --out-dir LINK issued a certificate"
both crl ca crl --dir "$R" --out @
[ "$(sqlite3 "$R/ca.db" "SELECT value FROM meta WHERE key = 'crl_number'")" = 0 ] ||
	fail "ca crl spent a CRL number on a refused --out"
both index ca export-index --dir "$R" --out @
# the index's .attr beside it: a link there is refused too
links attr
ln -sf "$V/attr-existing" "$WORK/index.txt.attr"
expect_fail 1 "symbolic link" ca export-index --dir "$R" --out "$WORK/index.txt"
[ "$(cat "$V/attr-existing")" = "victim attr" ] || fail "export-index wrote through .attr"
rm -f "$WORK/index.txt" "$WORK/index.txt.attr"
# a CA's own files: ca set-cert does not make ca.pem through a dangling link
# (one to a file is read as the CA's certificate, and refused as not one)
run_ok ca init --dir "$WORK/sub" --new-key ec:p256 --token "$TOK" --label sub \
	--subject "/CN=Outputs Sub CA" --csr "$WORK/sub.csr"
run_ok ca sign --dir "$R" --profile sub-ca --out "$WORK/sub.pem" "$WORK/sub.csr"
ln -s "$V/setcert-absent" "$WORK/sub/ca.pem"
expect_fail 1 "symbolic link" ca set-cert --dir "$WORK/sub" "$WORK/sub.pem"
one_line "$WORK/err"
[ -e "$V/setcert-absent" ] && fail "set-cert made ca.pem through a dangling link"
rm "$WORK/sub/ca.pem"
run_ok ca set-cert --dir "$WORK/sub" "$WORK/sub.pem"
[ -f "$WORK/sub/ca.pem" ] && [ ! -L "$WORK/sub/ca.pem" ] || fail "set-cert: no ca.pem"
# trust bundles: a dangling link, and a link to a file that is not ours
links trust
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$SW/t.key" \
	-subj "/CN=Trusted" -days 30 -out "$SW/t.pem" 2> /dev/null || fail "openssl req -x509"
for v in "add --bundle @ $SW/t.pem" "reset --bundle @ --from $SW/t.pem"; do
	# shellcheck disable=SC2086 # $v: words without spaces
	refused trust dangling "$P11CA" trust $v
done
# (as root, a bundle of another user's; otherwise a file of root's)
if [ "$ME" = 0 ]; then
	cp "$SW/t.pem" "$V/trust-foreign"
	chown 65534 "$V/trust-foreign"
	_foreign="$V/trust-foreign"
	_verbs="add reset remove"
else
	_foreign=/etc/passwd
	_verbs=reset # add and remove read it first, and refuse it as no bundle
fi
ln -sf "$_foreign" "$L/trust-foreign"
_before=$(cksum < "$_foreign")
for v in $_verbs; do
	case $v in
	add) set -- add --bundle "$L/trust-foreign" "$R/ca.pem" ;;
	reset) set -- reset --yes --bundle "$L/trust-foreign" --from "$R/ca.pem" ;;
	remove) set -- remove --bundle "$L/trust-foreign" --subject Trusted ;;
	esac
	expect_fail 1 "symbolic link" "$P11CA" trust "$@"
	one_line "$WORK/err"
	grep -q "not ours\|not a regular file of ours" "$WORK/err" || fail "trust $v: $(cat "$WORK/err")"
done
[ "$(cksum < "$_foreign")" = "$_before" ] || fail "trust wrote through a link to $_foreign"
# a link of ours to a bundle of ours is followed: the link stays, the file changes
cp "$SW/t.pem" "$V/ours.pem"
ln -s "$V/ours.pem" "$L/ours.pem"
run_ok "$P11CA" trust add --bundle "$L/ours.pem" "$R/ca.pem"
[ -L "$L/ours.pem" ] || fail "trust add replaced the link to our bundle"
[ "$(grep -c 'BEGIN CERTIFICATE' "$V/ours.pem")" = 2 ] || fail "trust add did not follow our link"
# /dev/stdout is a link to a stream: written, as "-" is
run_ok "$P11CA" cert convert "$R/ca.pem" /dev/stdout
openssl x509 -inform DER -in "$WORK/out" -noout || fail "cert convert to /dev/stdout: not DER"

# ---------------------------------------------------------------------
step "what is replaced keeps its mode only when it is a file of ours"
run_ok "$P11CA" cert convert "$R/ca.pem" "$WORK/ca.der"
chmod 600 "$WORK/ca.der"
run_ok "$P11CA" cert convert "$R/ca.pem" "$WORK/ca.der"
[ "$(stat -c %a "$WORK/ca.der")" = 600 ] || fail "a file of ours lost its mode"
_new=$(printf '%o' $((0644 & ~$(umask))))
if [ "$ME" = 0 ]; then
	# someone else's file, writable by all: the output is ours, with the usual mode
	echo planted > "$WORK/planted.der"
	chown 65534 "$WORK/planted.der"
	chmod 666 "$WORK/planted.der"
	run_ok "$P11CA" cert convert "$R/ca.pem" "$WORK/planted.der"
	[ "$(stat -c %u "$WORK/planted.der")" = 0 ] || fail "the output kept a planted owner"
	[ "$(stat -c %a "$WORK/planted.der")" = "$_new" ] ||
		fail "the output kept a planted mode $(stat -c %a "$WORK/planted.der")"
fi
run_ok "$P11CA" cert convert "$R/ca.pem" "$WORK/fresh.der"
[ "$(stat -c %a "$WORK/fresh.der")" = "$_new" ] || fail "a new file has mode $(stat -c %a "$WORK/fresh.der")"

# ---------------------------------------------------------------------
step "stale temporary files of ours are swept, nothing else"
S=$WORK/sweep
mkdir "$S"
for f in old.pem.p11ca.tmp.12345.0 new.pem.p11ca.tmp.12346.0 keep.p11ca.tmp.x.0 \
	keep.tmp.1.0 theirs.pem.p11ca.tmp.12347.0; do
	echo x > "$S/$f"
done
touch -d '2 hours ago' "$S/old.pem.p11ca.tmp.12345.0" "$S/keep.p11ca.tmp.x.0" \
	"$S/keep.tmp.1.0" "$S/theirs.pem.p11ca.tmp.12347.0"
mkdir "$S/dir.p11ca.tmp.1.0"
touch -d '2 hours ago' "$S/dir.p11ca.tmp.1.0"
[ "$ME" = 0 ] && chown -h 65534 "$S/theirs.pem.p11ca.tmp.12347.0"
run_ok "$P11CA" cert convert "$R/ca.pem" "$S/ca.der"
[ -e "$S/old.pem.p11ca.tmp.12345.0" ] && fail "a stale temporary file of ours was not swept"
for f in new.pem.p11ca.tmp.12346.0 keep.p11ca.tmp.x.0 keep.tmp.1.0 dir.p11ca.tmp.1.0; do
	[ -e "$S/$f" ] || fail "the sweep removed $f"
done
if [ "$ME" = 0 ]; then
	[ -e "$S/theirs.pem.p11ca.tmp.12347.0" ] || fail "the sweep removed another user's file"
fi
# ca sign sweeps its --out-dir once
mkdir "$WORK/swept"
echo x > "$WORK/swept/x.pem.p11ca.tmp.1.0"
touch -d '2 hours ago' "$WORK/swept/x.pem.p11ca.tmp.1.0"
run_ok ca sign --dir "$R" --out-dir "$WORK/swept" "$SW/a.csr"
[ -e "$WORK/swept/x.pem.p11ca.tmp.1.0" ] && fail "ca sign --out-dir did not sweep"

# ---------------------------------------------------------------------
step "ca sign --out-dir: files named by CN or CSR and serial, and the mapping printed"
mkdir "$WORK/named"
run_ok ca sign --dir "$R" --out-dir "$WORK/named" "$SW/b.csr" "$SW/noname.csr"
[ "$(ls "$WORK/named" | wc -l)" = 2 ] || fail "--out-dir wrote: $(ls "$WORK/named")"
[ "$(wc -l < "$WORK/out")" = 2 ] || fail "--out-dir printed: $(cat "$WORK/out")"
for c in b noname; do
	f=$(sed -n "s|^$SW/$c.csr -> ||p" "$WORK/out")
	[ -f "$f" ] || fail "no 'CSR -> FILE' line for $c.csr: $(cat "$WORK/out")"
	sn=$(serial_of "$f")
	case $c in
	b) want="$WORK/named/b.example.com-$sn.pem" ;;
	noname) want="$WORK/named/noname-$sn.pem" ;;
	esac
	[ "$f" = "$want" ] || fail "$c.csr: file $f, want $want"
	openssl x509 -in "$f" -noout -pubkey > "$WORK/cert.pub"
	openssl pkey -in "$SW/$c.key" -pubout > "$WORK/key.pub"
	cmp -s "$WORK/cert.pub" "$WORK/key.pub" || fail "$f is not the certificate of $c.csr"
done

# ---------------------------------------------------------------------
step "a second ca sign of a subject and key with a valid certificate: refused, --again issues"
B_SERIAL=$(serial_of "$(sed -n "s|^$SW/b.csr -> ||p" "$WORK/out")")
_db=$(db_state "$R")
# the same key and subject in another CSR, among a good one: nothing issued
swcsr fresh "/CN=fresh.example.com" -addext "subjectAltName=DNS:fresh.example.com"
expect_fail 1 "valid certificate already.*$B_SERIAL" ca sign --dir "$R" "$SW/fresh.csr" "$SW/b2.csr"
grep -q "ca show --dir $R $B_SERIAL --pem" "$WORK/err" ||
	fail "the refusal does not say how to get $B_SERIAL: $(cat "$WORK/err")"
[ "$(db_state "$R")" = "$_db" ] || fail "a refused duplicate changed the database"
run_ok ca sign --dir "$R" --again --out "$WORK/b-again.pem" "$SW/b2.csr"
[ "$(serial_of "$WORK/b-again.pem")" != "$B_SERIAL" ] || fail "--again: the same serial"
verify_ok "$R/ca.pem" "$WORK/b-again.pem"
# revoked, expired or another key: issued again without --again
run_ok ca revoke --dir "$R" --serial "$B_SERIAL"
run_ok ca revoke --dir "$R" --serial "$(serial_of "$WORK/b-again.pem")"
run_ok ca sign --dir "$R" --out "$WORK/b3.pem" "$SW/b.csr"
swcsr b4 "/CN=b.example.com" -addext "subjectAltName=DNS:b.example.com"
run_ok ca sign --dir "$R" --out "$WORK/b4.pem" "$SW/b4.csr"

# ---------------------------------------------------------------------
step "outputs that fail after the commit name what was issued"
swcsr full1 "/CN=full1.example.com" -addext "subjectAltName=DNS:full1.example.com"
swcsr full2 "/CN=full2.example.com" -addext "subjectAltName=DNS:full2.example.com"
_rows=$(db_count "$R")
# /dev/full: every write fails with ENOSPC, as on a full disk
expect_fail 1 "not written" ca sign --dir "$R" --out /dev/full "$SW/full1.csr" "$SW/full2.csr"
cp "$WORK/err" "$WORK/full.err"
[ "$(db_count "$R")" = $((_rows + 2)) ] || fail "the batch was not recorded"
for c in full1 full2; do
	sn=$(sqlite3 "$R/ca.db" "SELECT serial FROM certs WHERE subject = '/CN=$c.example.com'")
	grep -q "$c.csr: issued as serial $sn but not written: 'p11ca ca show --dir $R $sn --pem'" \
		"$WORK/full.err" || fail "$c: serial $sn not reported: $(cat "$WORK/full.err")"
	# what the message says gives it back
	run_ok ca show --dir "$R" "$sn" --pem
	[ "$(serial_of "$WORK/out")" = "$sn" ] || fail "ca show --pem $sn"
	verify_ok "$R/ca.pem" "$WORK/out"
done
grep -q "2 of 2 certificates are issued and recorded but not written" "$WORK/full.err" ||
	fail "no summary: $(cat "$WORK/full.err")"
# and the retry the message warns against issues nothing twice
expect_fail 1 "valid certificate already" ca sign --dir "$R" --out "$WORK/full.pem" \
	"$SW/full1.csr" "$SW/full2.csr"
[ "$(db_count "$R")" = $((_rows + 2)) ] || fail "the retry issued again"
# --out-dir whose files cannot be made (a name beyond PATH_MAX): each reported
_long=$WORK/long
_i=0
while [ ${#_long} -lt 3990 ]; do
	_long="$_long/$(printf '%0200d' $_i)"
	_i=$((_i + 1))
done
mkdir -p "$_long"
swcsr full3 "/CN=full3.example.com" -addext "subjectAltName=DNS:full3.example.com"
expect_fail 1 "not written" ca sign --dir "$R" --out-dir "$_long" "$SW/full3.csr"
sn=$(sqlite3 "$R/ca.db" "SELECT serial FROM certs WHERE subject = '/CN=full3.example.com'")
[ -n "$sn" ] || fail "full3 was not recorded"
grep -q "full3.csr: issued as serial $sn but not written" "$WORK/err" ||
	fail "full3: serial $sn not reported: $(cat "$WORK/err")"
[ -s "$WORK/out" ] && fail "a mapping line for a file not written: $(cat "$WORK/out")"

echo "PASS: outputs"
