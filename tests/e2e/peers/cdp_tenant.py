#!/usr/bin/python3
"""Drives a headless Chromium through the DevTools protocol, for the tenant page's tests.

  cdp_tenant.py PORT

Attaches to the first page of the browser whose DevTools listen on 127.0.0.1:PORT, then reads
one command a line on stdin and answers each with one line of JSON on stdout, {"ok": VALUE} or
{"error": "TEXT"}:

  viewport WIDTH HEIGHT SCALE mobile|desktop
                        emulate a screen of WIDTH x HEIGHT CSS pixels
  open URL              load URL and wait for its load event
  click SELECTOR        click the first element matching SELECTOR and wait for the page it loads
  reload                reload the page and wait for its load event
  evaluate EXPRESSION   the value of a JavaScript expression in the page
  screenshot FILE       the whole page as a PNG into FILE
  messages              everything the page said so far (see below)

open, click and reload answer {"method": ..., "statuses": [...], "url": ...}: the method of the
first request, the HTTP statuses of the document (redirects first) and the final address.
screenshot answers {"bytes": N, "width": W, "height": H} (pixels, from the file's header).
messages answers a list of {"kind", "level", "source", "text", "url"}: log entries (which is
where the browser reports Content Security Policy violations and failed loads), console calls
and uncaught exceptions, from the start. The page is kept in one DevTools session for the whole
run, so that the emulated screen stays and no message is missed.
"""
import base64
import json
import struct
import sys
import time
import urllib.request

import websocket

TIMEOUT = 20.0  # seconds for any one command


class Browser:
    def __init__(self, port):
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://127.0.0.1:{port}/json/list", timeout=TIMEOUT) as r:
            targets = json.load(r)
        pages = [t for t in targets if t.get("type") == "page"]
        if not pages:
            raise RuntimeError("the browser has no page")
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=TIMEOUT,
                                              suppress_origin=True)
        self.next_id = 0
        self.events = []    # events not yet looked at by a wait
        self.messages = []  # what the page said, for the messages command
        for domain in ("Page", "Network", "Log", "Runtime"):
            self.call(domain + ".enable")
        self.frame = self.call("Page.getFrameTree")["frameTree"]["frame"]["id"]

    def receive(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the browser did not answer in time")
        self.ws.settimeout(left)
        msg = json.loads(self.ws.recv())
        if "method" in msg:
            self.note(msg["method"], msg.get("params", {}))
        return msg

    def call(self, method, params=None):
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params or {}}))
        deadline = time.monotonic() + TIMEOUT
        while True:
            msg = self.receive(deadline)
            if msg.get("id") == ident:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error'].get('message')}")
                return msg.get("result", {})

    def note(self, method, p):
        if method == "Log.entryAdded":
            e = p["entry"]
            self.messages.append({"kind": "log", "level": e.get("level"), "source": e.get("source"),
                                  "text": e.get("text", ""), "url": e.get("url", "")})
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            self.messages.append({"kind": "console", "level": p.get("type"), "source": "console-api",
                                  "text": text, "url": ""})
        elif method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            text = d.get("exception", {}).get("description") or d.get("text", "")
            self.messages.append({"kind": "exception", "level": "error", "source": "javascript",
                                  "text": text, "url": d.get("url", "")})
        else:
            self.events.append((method, p))

    # Runs START (which makes the page load a document), then waits for that document's load
    # event; collects the main frame's document requests and responses on the way.
    def navigation(self, start):
        self.events.clear()
        start()
        deadline = time.monotonic() + TIMEOUT
        method, statuses, url, navigated = None, [], None, False
        while True:
            while self.events:
                name, p = self.events.pop(0)
                if name == "Network.requestWillBeSent" and p.get("type") == "Document" \
                        and p.get("frameId") == self.frame:
                    if "redirectResponse" in p:
                        statuses.append(p["redirectResponse"]["status"])
                    elif method is None:
                        method = p["request"]["method"]
                elif name == "Network.responseReceived" and p.get("type") == "Document" \
                        and p.get("frameId") == self.frame:
                    statuses.append(p["response"]["status"])
                elif name == "Page.frameNavigated" and p["frame"]["id"] == self.frame:
                    navigated, url = True, p["frame"]["url"]
                elif name == "Page.loadEventFired" and navigated:
                    return {"method": method, "statuses": statuses, "url": url}
            self.receive(deadline)

    def command(self, line):
        verb, _, rest = line.partition(" ")
        if verb == "viewport":
            width, height, scale, kind = rest.split()
            self.call("Emulation.setDeviceMetricsOverride", {
                "width": int(width), "height": int(height), "deviceScaleFactor": float(scale),
                "mobile": kind == "mobile"})
            self.call("Emulation.setTouchEmulationEnabled", {"enabled": kind == "mobile"})
            return None
        if verb == "open":
            def start():
                r = self.call("Page.navigate", {"url": rest})
                if r.get("errorText"):
                    raise RuntimeError(f"cannot open {rest}: {r['errorText']}")
            return self.navigation(start)
        if verb == "click":
            expr = f"document.querySelector({json.dumps(rest)}).click()"
            return self.navigation(lambda: self.evaluate(expr))
        if verb == "reload":
            return self.navigation(lambda: self.call("Page.reload", {"ignoreCache": True}))
        if verb == "evaluate":
            return self.evaluate(rest)
        if verb == "screenshot":
            return self.screenshot(rest)
        if verb == "messages":
            return self.messages
        raise RuntimeError(f"unknown command {verb!r}")

    def evaluate(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True})
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise RuntimeError(d.get("exception", {}).get("description") or d.get("text", "exception"))
        return r["result"].get("value")

    def screenshot(self, path):
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        r = self.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
        data = base64.b64decode(r["data"])
        with open(path, "wb") as f:
            f.write(data)
        if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
            raise RuntimeError("the screenshot is not a PNG")
        width, height = struct.unpack(">II", data[16:24])
        return {"bytes": len(data), "width": width, "height": height}


def main():
    browser = Browser(int(sys.argv[1]))
    for line in sys.stdin:
        line = line.rstrip("\n")
        try:
            reply = {"ok": browser.command(line)}
        except Exception as e:  # the test reads the error and fails with it
            reply = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
