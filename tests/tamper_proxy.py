#!/usr/bin/python3
"""A lying mirror for the follower test: serves what tcmtrace-web at UPSTREAM serves, but
with one byte changed in the last entry of every entry bundle (its body's last byte).

usage: tamper_proxy.py PORT UPSTREAM"""
import http.server
import sys
import urllib.error
import urllib.request

PORT, UPSTREAM = int(sys.argv[1]), sys.argv[2].rstrip('/')


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        try:
            with urllib.request.urlopen(UPSTREAM + self.path, timeout=30) as r:
                status, body, ctype = r.status, r.read(), r.headers.get('Content-Type', '')
        except urllib.error.HTTPError as e:
            status, body, ctype = e.code, e.read(), e.headers.get('Content-Type', '')
        if status == 200 and '/log/tile/entries/' in self.path and body:
            body = body[:-1] + bytes([body[-1] ^ 0x01])
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)


http.server.ThreadingHTTPServer(('127.0.0.1', PORT), Handler).serve_forever()
