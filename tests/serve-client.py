#!/usr/bin/env python3
# serve-client.py - the raw HTTP side of tests/serve.sh and bench/serve-bench.sh,
# written apart from the server (python3's http.client and a few lines of DER):
#
#   status FILE                  the responseStatus of an OCSP response file
#                                (successful, malformedRequest, ...; "not-ocsp")
#   post URL FILE [CTYPE]        POSTs FILE; prints "HTTP STATUS" and writes the
#                                body to FILE.resp
#   get URL OUT                  GETs URL as it is (no normalisation of the path);
#                                prints "HTTP STATUS", the body to OUT
#   plusslash REQ OUT            a request equal to REQ (DER, with a nonce) but
#                                for the nonce's bytes, chosen so that its base64
#                                holds both '+' and '//'; OUT the DER; prints the
#                                base64 (unencoded)
#   corpus URL REQ DIR           the malformed corpus, made from the real request
#                                REQ and sent (POST) one by one; each answer must
#                                be malformedRequest or HTTP 413; prints a
#                                line per kind; exit 1 on the first wrong answer
#   statuses FILE...             "COUNT STATUS" lines, one per responseStatus seen
#   certstatus FILE              the first SingleResponse's certStatus of an OCSP
#                                response (good, revoked, unknown), or its
#                                responseStatus when not successful
#   mkreqs TEMPLATE SERIALS DIR  DIR/1 ... DIR/N: a request (DER, no nonce) for
#                                each hex serial of the file SERIALS (one a
#                                line), with the CertID hashes of TEMPLATE (a
#                                request openssl made for the same issuer)
#   poll URL REQ WANT MAX_MS     POSTs REQ every 20 ms until the certStatus is
#                                WANT; prints the milliseconds; exit 1 after MAX_MS
#   b64 FILE                     the base64 of FILE, urlencoded as RFC 5019 says
#   b64raw FILE                  the base64 of FILE as it is
# Every network call is bounded (10 s).
import base64
import http.client
import os
import random
import select
import socket
import sys
import time
import urllib.parse

TIMEOUT = 10
STATUS = {0: "successful", 1: "malformedRequest", 2: "internalError", 3: "tryLater",
          5: "sigRequired", 6: "unauthorized"}


def tlv(d, o):
    """(tag, content offset, content length) of the DER element at o"""
    if o + 2 > len(d):
        raise ValueError("short")
    t, l, o = d[o], d[o + 1], o + 2
    if l & 0x80:
        n = l & 0x7F
        if n == 0 or n > 4 or o + n > len(d):
            raise ValueError("bad length")
        l, o = int.from_bytes(d[o:o + n], "big"), o + n
    if o + l > len(d):
        raise ValueError("short")
    return t, o, l


def resp_status(d):
    try:
        t, o, l = tlv(d, 0)
        if t != 0x30 or o + l != len(d):
            return "not-ocsp"
        t, so, sl = tlv(d, o)
        if t != 0x0A or sl != 1:
            return "not-ocsp"
        return STATUS.get(d[so], "status-%d" % d[so])
    except ValueError:
        return "not-ocsp"


def split(url):
    u = urllib.parse.urlsplit(url)
    path = u.path or "/"
    if u.query:
        path += "?" + u.query
    return u.hostname, u.port or 80, path


def request(url, method, body=None, ctype="application/ocsp-request", path=None):
    host, port, p = split(url)
    c = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    headers = {}
    if body is not None and ctype:
        headers["Content-Type"] = ctype
    c.putrequest(method, path if path is not None else p, skip_accept_encoding=True)
    for k, v in headers.items():
        c.putheader(k, v)
    if body is not None:
        c.putheader("Content-Length", str(len(body)))
    c.endheaders()
    if body:
        c.send(body)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def big_post(url, body):
    """POSTs body while reading: a server may answer (413) and close before
    it has all of it.  (HTTP status, OCSP body)"""
    host, port, path = split(url)
    s = socket.create_connection((host, port), TIMEOUT)
    s.settimeout(TIMEOUT)
    s.sendall(("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/ocsp-request\r\n"
               "Content-Length: %d\r\nConnection: close\r\n\r\n" % (path, host, len(body))).encode())
    sent, got, deadline = 0, b"", time.monotonic() + TIMEOUT
    # a server that refuses on the headers alone answers before the body:
    # give it a second (a body sent then would make its close a reset)
    select.select([s], [], [], 1)
    while time.monotonic() < deadline:
        r, w, _ = select.select([s], [s] if sent < len(body) else [], [], 1)
        if r:
            try:
                c = s.recv(65536)
            except ConnectionResetError:
                if got:
                    break
                raise
            if not c:
                break
            got += c
        elif w:
            try:
                sent += s.send(body[sent:sent + 65536])
            except OSError:
                sent = len(body)
    s.close()
    head, _, data = got.partition(b"\r\n\r\n")
    try:
        st = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        raise OSError("no HTTP answer (%d bytes sent)" % sent)
    return st, data


def der(tag, content):
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(b)]) + b + content


def mkreqs(template, serials, outdir):
    # OCSPRequest { TBSRequest { requestList { Request { CertID } } } }
    _, o, _ = tlv(template, 0)
    _, o, _ = tlv(template, o)
    _, o, _ = tlv(template, o)
    _, o, _ = tlv(template, o)
    _, co, cl = tlv(template, o)
    # CertID: hashAlgorithm, issuerNameHash, issuerKeyHash, serialNumber
    p = co
    for _ in range(3):
        _, c, l = tlv(template, p)
        p = c + l
    prefix = template[co:p]
    os.makedirs(outdir, exist_ok=True)
    n = 0
    for line in open(serials):
        h = line.strip()
        if not h:
            continue
        b = bytes.fromhex(h if len(h) % 2 == 0 else "0" + h).lstrip(b"\0") or b"\0"
        if b[0] & 0x80:
            b = b"\0" + b
        certid = der(0x30, prefix + der(0x02, b))
        n += 1
        with open(os.path.join(outdir, str(n)), "wb") as f:
            f.write(der(0x30, der(0x30, der(0x30, der(0x30, certid)))))
    print(n)


def cert_status(d):
    st = resp_status(d)
    if st != "successful":
        return st
    try:
        _, o, _ = tlv(d, 0)
        _, so, sl = tlv(d, o)            # responseStatus
        _, o, _ = tlv(d, so + sl)        # [0] responseBytes
        _, o, _ = tlv(d, o)              # ResponseBytes
        _, to, tl = tlv(d, o)            # responseType
        _, o, _ = tlv(d, to + tl)        # OCTET STRING
        _, o, _ = tlv(d, o)              # BasicOCSPResponse
        _, o, _ = tlv(d, o)              # ResponseData
        while True:                      # [0] version, responderID, producedAt
            t, c, l = tlv(d, o)
            if t == 0x30:                # responses
                break
            o = c + l
        _, o, _ = tlv(d, c)              # SingleResponse
        _, c, l = tlv(d, o)              # certID
        t, _, _ = tlv(d, c + l)          # certStatus
        return {0x80: "good", 0xA1: "revoked", 0x82: "unknown"}.get(t, "tag-%x" % t)
    except (ValueError, IndexError):
        return "not-ocsp"


def poll(url, req, want, max_ms):
    t0 = time.monotonic()
    while True:
        try:
            st, data = request(url, "POST", req)
            got = cert_status(data) if st == 200 else "http-%d" % st
        except (OSError, http.client.HTTPException) as e:
            got = str(e)
        ms = (time.monotonic() - t0) * 1000
        if got == want:
            print("%.0f" % ms)
            return
        if ms > max_ms:
            sys.exit("poll: still %s after %d ms" % (got, max_ms))
        time.sleep(0.02)


def plusslash(req, out):
    # the nonce: the last OCTET STRING of the request is the extension's
    # value, itself an OCTET STRING holding the nonce's bytes
    d = bytearray(req)
    i = d.rfind(b"\x04\x10", 0, len(d) - 16)  # 16 nonce bytes (openssl's default)
    if i < 0 or i + 18 != len(d):
        sys.exit("plusslash: no 16-byte nonce at the end of the request")
    rng = random.Random(1)
    for _ in range(200000):
        d[i + 2:] = bytes(rng.getrandbits(8) for _ in range(16))
        b = base64.b64encode(bytes(d)).decode()
        if "+" in b and "//" in b:
            open(out, "wb").write(bytes(d))
            print(b)
            return
    sys.exit("plusslash: no nonce found")


def corpus(url, req, outdir):
    os.makedirs(outdir, exist_ok=True)
    cases = []
    # truncated at many lengths (every one: a request is short)
    for n in range(0, len(req)):
        cases.append(("truncated", req[:n], "application/ocsp-request"))
    # trailing garbage, a wrong outer length, nested garbage
    cases.append(("trailing", req + b"\x00", "application/ocsp-request"))
    cases.append(("garbage", bytes(random.Random(2).getrandbits(8) for _ in range(300)),
                  "application/ocsp-request"))
    cases.append(("deep", b"\x30\x80" * 2000, "application/ocsp-request"))
    cases.append(("longlen", b"\x30\x84\xff\xff\xff\xff" + req[2:], "application/ocsp-request"))
    cases.append(("empty", b"", "application/ocsp-request"))
    cases.append(("text", b"GET / HTTP/1.0\r\n\r\n", "application/ocsp-request"))
    # bit flips in the DER structure (tags and lengths): never a valid request
    _, o, l = tlv(req, 0)
    heads = [0, 1]
    def walk(o, end):
        while o < end:
            t, c, l = tlv(req, o)
            heads.extend([o, o + 1])
            if t & 0x20:
                walk(c, c + l)
            o = c + l
    walk(o, o + l)
    rng = random.Random(3)
    for h in heads:
        for bit in (0, 1, 5, 7):
            m = bytearray(req)
            m[h] ^= 1 << bit
            cases.append(("bitflip", bytes(m), "application/ocsp-request"))
    # a body of 1 MiB: 413 (or malformedRequest), never read whole
    cases.append(("huge", b"\x30\x83\x10\x00\x00" + b"\x00" * (1 << 20), "application/ocsp-request"))
    counts = {}
    for i, (kind, body, ctype) in enumerate(cases):
        try:
            if kind == "huge":
                st, data = big_post(url, body)
            else:
                st, data = request(url, "POST", body, ctype)
        except (OSError, http.client.HTTPException) as e:
            sys.exit("corpus: %s case %d: %s" % (kind, i, e))
        rs = resp_status(data) if st == 200 else "-"
        ok = (st == 200 and rs == "malformedRequest") or st == 413
        if kind == "bitflip" and st == 200 and rs in ("successful", "unauthorized"):
            # a flipped bit can leave valid DER (a tag's class, say): any
            # well-formed answer will do, never internalError or a crash
            ok = True
        if not ok:
            open(os.path.join(outdir, "bad-%d.der" % i), "wb").write(body)
            sys.exit("corpus: %s case %d (%d bytes): HTTP %d, %s" % (kind, i, len(body), st, rs))
        if st == 200 and i % 7 == 0:
            open(os.path.join(outdir, "resp-%s-%d.der" % (kind, i)), "wb").write(data)
        k = "%s %s" % (kind, "413" if st == 413 else rs)
        counts[k] = counts.get(k, 0) + 1
    for k in sorted(counts):
        print("%s x%d" % (k, counts[k]))


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    if a[0] == "status":
        print(resp_status(open(a[1], "rb").read()))
    elif a[0] == "post":
        st, data = request(a[1], "POST", open(a[2], "rb").read(),
                           a[3] if len(a) > 3 else "application/ocsp-request")
        open(a[2] + ".resp", "wb").write(data)
        print(st, resp_status(data) if st == 200 else "-")
    elif a[0] == "get":
        host, port, _ = split(a[1])
        # the path exactly as given: after the third '/' of the URL
        raw = "/" + a[1].split("/", 3)[3] if a[1].count("/") >= 3 else "/"
        st, data = request(a[1], "GET", path=raw)
        open(a[2], "wb").write(data)
        print(st, resp_status(data) if st == 200 else "-")
    elif a[0] == "plusslash":
        plusslash(open(a[1], "rb").read(), a[2])
    elif a[0] == "corpus":
        corpus(a[1], open(a[2], "rb").read(), a[3])
    elif a[0] == "statuses":
        # statuses FILE...: "COUNT STATUS" lines over the files
        counts = {}
        for f in a[1:]:
            k = resp_status(open(f, "rb").read())
            counts[k] = counts.get(k, 0) + 1
        for k in sorted(counts):
            print(counts[k], k)
    elif a[0] == "certstatus":
        print(cert_status(open(a[1], "rb").read()))
    elif a[0] == "mkreqs":
        mkreqs(open(a[1], "rb").read(), a[2], a[3])
    elif a[0] == "poll":
        poll(a[1], open(a[2], "rb").read(), a[3], int(a[4]))
    elif a[0] == "b64":
        print(urllib.parse.quote(base64.b64encode(open(a[1], "rb").read()).decode(), safe=""))
    elif a[0] == "b64raw":
        print(base64.b64encode(open(a[1], "rb").read()).decode())
    else:
        sys.exit("unknown command " + a[0])


if __name__ == "__main__":
    main()
