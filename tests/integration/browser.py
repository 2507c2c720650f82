#!/usr/bin/env python3
"""Drive headless Chromium over the DevTools protocol (--remote-debugging-pipe,
no network port, no extra packages): open a page, wait until a CSS selector
matches, save a screenshot and the page's text.

usage: browser.py URL SELECTOR SCREENSHOT.png TEXT_OUT [TIMEOUT_S [READY_FILE]]

READY_FILE, when given, receives "live alerts=N" once the page says its
event stream is open (#status reads "live"), N being the alert rows then.
exit status: 0 found, 1 not found in time, 2 browser or protocol failure.
"""
import base64
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


class Browser:
    def __init__(self):
        exe = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
        if not exe:
            raise RuntimeError("chromium not found")
        self.profile = tempfile.mkdtemp(prefix="iotad-chromium.")
        to_child, self.w = os.pipe()
        self.r, from_child = os.pipe()

        def fds():  # the pipe ends become fds 3 and 4 of the browser
            a = fcntl.fcntl(to_child, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_child, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.p = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", "--no-default-browser-check", "--mute-audio",
             "--user-data-dir=" + self.profile, "--remote-debugging-pipe", "about:blank"],
            pass_fds=(3, 4, to_child, from_child), preexec_fn=fds,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_child)
        os.close(from_child)
        self.next_id = 0
        self.buf = b""

    def call(self, method, params=None, session=None, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise RuntimeError("%s: %s" % (method, reply["error"]))
                    return reply.get("result", {})
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise RuntimeError("browser closed the pipe")
            self.buf += chunk
        raise RuntimeError(method + ": no answer")

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    url, selector, png, text_out = sys.argv[1:5]
    timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 60
    ready_file = sys.argv[6] if len(sys.argv) > 6 else None
    try:
        b = Browser()
    except Exception as e:
        print("browser: %s" % e, file=sys.stderr)
        return 2
    try:
        target = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = b.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        b.call("Emulation.setDeviceMetricsOverride",
               {"width": 1200, "height": 800, "deviceScaleFactor": 1, "mobile": False}, s)
        b.call("Page.enable", None, s)
        b.call("Page.navigate", {"url": url}, s)
        probe = "document.querySelectorAll(%s).length" % json.dumps(selector)
        found = 0
        deadline = time.monotonic() + timeout
        live = ("(document.getElementById('status') || {}).textContent === 'live' ? "
                "document.querySelectorAll('#alerts tr.alert').length : -1")
        while ready_file and time.monotonic() < deadline:
            r = b.call("Runtime.evaluate", {"expression": live, "returnByValue": True}, s)
            n = r.get("result", {}).get("value")
            if isinstance(n, int) and n >= 0:
                with open(ready_file, "w") as f:
                    f.write("live alerts=%d\n" % n)
                break
            time.sleep(0.1)
        while time.monotonic() < deadline:
            r = b.call("Runtime.evaluate", {"expression": probe, "returnByValue": True}, s)
            found = r.get("result", {}).get("value") or 0
            if found:
                break
            time.sleep(0.2)
        time.sleep(3.0)  # let the sparklines collect a few more points
        text = b.call("Runtime.evaluate", {"expression": "document.body.innerText",
                                           "returnByValue": True}, s)["result"].get("value", "")
        html = b.call("Runtime.evaluate", {"expression": "document.documentElement.outerHTML",
                                           "returnByValue": True}, s)["result"].get("value", "")
        with open(text_out, "w") as f:
            f.write(text + "\n--- DOM ---\n" + html)
        shot = b.call("Page.captureScreenshot", {"format": "png"}, s)["data"]
        with open(png, "wb") as f:
            f.write(base64.b64decode(shot))
        print("browser: %d element(s) match %s" % (found, selector))
        return 0 if found else 1
    except Exception as e:
        print("browser: %s" % e, file=sys.stderr)
        return 2
    finally:
        b.close()


if __name__ == "__main__":
    sys.exit(main())
