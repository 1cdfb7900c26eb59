#!/usr/bin/env python3
"""ocsp-responder.py PORT INDEX CA RSIGNER RKEY: an OCSP responder for the
tests on 127.0.0.1 only: each POST is answered by `openssl ocsp -index`
(which echoes the request's nonce).  Prints "ready" once listening."""
import http.server
import subprocess
import sys

port, index, ca, rsigner, rkey = sys.argv[1:6]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        if n <= 0 or n > 65536:
            self.send_error(400)
            return
        req = self.rfile.read(n)
        p = subprocess.run(["openssl", "ocsp", "-index", index, "-CA", ca, "-rsigner", rsigner,
                            "-rkey", rkey, "-reqin", "/dev/stdin", "-respout", "/dev/stdout",
                            "-nmin", "10"], input=req, capture_output=True, timeout=20)
        if p.returncode != 0:
            self.send_error(500)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/ocsp-response")
        self.send_header("Content-Length", str(len(p.stdout)))
        self.end_headers()
        self.wfile.write(p.stdout)

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", int(port)), Handler)
print("ready", flush=True)
srv.serve_forever()
