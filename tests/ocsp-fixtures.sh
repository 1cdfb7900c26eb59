#!/bin/sh
# ocsp-fixtures.sh DIR - software keys and certificates for tests/test-rev-ocsp.c,
# made once with the openssl command (no token, no network):
#   ca.pem/ca.key          the CA that issued the leaves
#   other.pem/other.key    another CA
#   good.pem revoked.pem unknown.pem   leaves of ca.pem (unknown.pem is not in index.txt)
#   resp.pem/resp.key      a delegate of ca.pem with id-kp-OCSPSigning
#   noeku.pem/noeku.key    a delegate of ca.pem without OCSPSigning
#   foreign.pem/foreign.key a delegate with OCSPSigning issued by other.pem
#   forged.pem/forged.key  self-signed, ca.pem's name, another key
#   index.txt              openssl ca's index: good V, revoked R (keyCompromise, 2023-01-02)
#   aia.pem                a leaf with an ldap and then an http OCSP URL in its AIA
set -eu
D=$1
mkdir -p "$D"
cd "$D"
unset OPENSSL_CONF
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2> /dev/null; }
root() { # NAME SUBJECT
	key "$1"
	openssl req -x509 -new -key "$1.key" -subj "$2" -days 3650 -sha256 -out "$1.pem" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign \
		-addext subjectKeyIdentifier=hash 2> /dev/null
}
leaf() { # NAME ISSUER SERIAL SUBJECT EXTENSIONS...
	_n=$1 _i=$2 _s=$3 _subj=$4
	shift 4
	key "$_n"
	printf '%s\n' "authorityKeyIdentifier=keyid" "$@" > "$_n.ext"
	openssl req -new -key "$_n.key" -subj "$_subj" -out "$_n.csr" 2> /dev/null
	openssl x509 -req -in "$_n.csr" -CA "$_i.pem" -CAkey "$_i.key" -set_serial "$_s" \
		-days 30 -sha256 -extfile "$_n.ext" -out "$_n.pem" 2> /dev/null
}
root ca "/O=p11ca tests/CN=OCSP Test CA"
root other "/O=p11ca tests/CN=Other CA"
root forged "/O=p11ca tests/CN=OCSP Test CA"
leaf good ca 0x1001 "/CN=good.example.com" "keyUsage=digitalSignature"
leaf revoked ca 0x1002 "/CN=revoked.example.com" "keyUsage=digitalSignature"
leaf unknown ca 0x1003 "/CN=unknown.example.com" "keyUsage=digitalSignature"
leaf aia ca 0x1004 "/CN=aia.example.com" \
	"authorityInfoAccess=OCSP;URI:ldap://ldap.example.com/x,OCSP;URI:http://ocsp.example.com/a,OCSP;URI:http://second.example.com/"
leaf resp ca 0x2001 "/CN=OCSP Responder" "keyUsage=critical,digitalSignature" \
	"extendedKeyUsage=OCSPSigning"
leaf noeku ca 0x2002 "/CN=Not A Responder" "keyUsage=critical,digitalSignature" \
	"extendedKeyUsage=serverAuth"
leaf foreign other 0x2003 "/CN=Foreign Responder" "keyUsage=critical,digitalSignature" \
	"extendedKeyUsage=OCSPSigning"
exp=$(date -u -d '+30 days' +%y%m%d%H%M%SZ)
printf 'V\t%s\t\t1001\tunknown\t/CN=good.example.com\n' "$exp" > index.txt
printf 'R\t%s\t230102030405Z,keyCompromise\t1002\tunknown\t/CN=revoked.example.com\n' "$exp" \
	>> index.txt
printf 'unique_subject = no\n' > index.txt.attr
