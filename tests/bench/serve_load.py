#!/usr/bin/env python3
"""Load for kwh serve: tenants reading their page and a payment provider posting webhooks.

Usage: serve_load.py BASE COOKIE_FILE SECRET_FILE ACCOUNTS SECONDS PAGE_CLIENTS WEBHOOK_CLIENTS
COOKIE_FILE holds one session cookie value per line (kwh=VALUE); ACCOUNTS is a comma-separated
list of account IDs the webhooks pay. Each client keeps one keep-alive connection and sends
requests back to back. Prints one line per kind: requests, requests/s, p50, p99 and max in ms,
and the count of answers that were not 200."""
import hashlib
import hmac
import http.client
import json
import sys
import threading
import time
import urllib.parse

base, cookie_file, secret_file, accounts, seconds, page_clients, webhook_clients = sys.argv[1:8]
seconds = float(seconds)
url = urllib.parse.urlparse(base)
cookies = [line.strip() for line in open(cookie_file) if line.strip()]
secret = open(secret_file).read().strip().encode()
accounts = accounts.split(",")
results = {"page": [], "webhook": []}
errors = {"page": 0, "webhook": 0}
lock = threading.Lock()
stop_at = time.monotonic() + seconds


def client(kind, n):
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    times, bad, i = [], 0, 0
    while time.monotonic() < stop_at:
        i += 1
        if kind == "page":
            headers = {"Cookie": cookies[(n + i) % len(cookies)]}
            method, path, body = "GET", "/", None
        else:
            body = json.dumps({"id": f"bench-{n}-{i}-{time.time_ns()}", "account": accounts[(n + i) % len(accounts)],
                               "amount": 100, "currency": "CNY"}).encode()
            t = str(int(time.time()))
            sig = hmac.new(secret, t.encode() + b"." + body, hashlib.sha256).hexdigest()
            headers = {"Kwh-Signature": f"t={t},v1={sig}", "Content-Type": "application/json"}
            method, path = "POST", "/webhooks/paybox"
        start = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            res = conn.getresponse()
            res.read()
            status = res.status
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
            status = 0
        times.append(time.perf_counter() - start)
        if status != 200:
            bad += 1
    with lock:
        results[kind].extend(times)
        errors[kind] += bad


threads = [threading.Thread(target=client, args=("page", n)) for n in range(int(page_clients))]
threads += [threading.Thread(target=client, args=("webhook", n)) for n in range(int(webhook_clients))]
for th in threads:
    th.start()
for th in threads:
    th.join()
for kind in ("page", "webhook"):
    t = sorted(results[kind])
    if not t:
        continue
    pct = lambda p: t[min(len(t) - 1, int(p * len(t)))] * 1000
    print(f"{kind:8} {len(t):8d} {len(t) / seconds:9.1f} {pct(0.5):8.1f} {pct(0.99):8.1f} {t[-1] * 1000:8.1f} {errors[kind]:6d}")
