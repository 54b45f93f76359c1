#!/usr/bin/env python3
"""Opens a Kindred page in headless Chromium and reports what a user would see, as JSON.

Talks the DevTools protocol over --remote-debugging-pipe (fd 3 in, fd 4 out, messages ending in
NUL), so it needs nothing beyond Python's standard library and Debian's `chromium`.

    browser.py PAGE.html --screenshot OUT.png [--before JS] [--hover ROW] [--click ROW] [--search TEXT]
               [--eval JS] [--width 1280 --height 800] [--wait-for JS]

Prints {"console": [...errors...], "exceptions": [...], "eval": ..., "hover": {...}, ...}.
Mouse events are real input events dispatched through the protocol, not synthetic DOM events.
"""
import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


class Browser:
    def __init__(self, width, height):
        binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        if not binary:
            sys.exit("browser.py: chromium not found (Debian package `chromium`)")
        self.profile = tempfile.mkdtemp(prefix="kindred-chromium-")
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def wire():
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        args = [binary, "--headless=new", "--remote-debugging-pipe", "--no-first-run", "--no-default-browser-check",
                "--disable-gpu", "--disable-extensions", "--disable-background-networking", "--mute-audio",
                f"--user-data-dir={self.profile}", f"--window-size={width},{height}", "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        self.process = subprocess.Popen(args, pass_fds=(3, 4), preexec_fn=wire,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None, timeout=60):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.time() + timeout
        while time.time() < deadline:
            reply = self.read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)
        raise TimeoutError(method)

    def read(self):
        while b"\0" not in self.buffer:
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("page")
    parser.add_argument("--screenshot")
    parser.add_argument("--hover", type=int)
    parser.add_argument("--click", type=int)
    parser.add_argument("--search")
    parser.add_argument("--before", action="append", default=[], help="JS run after load, before any input")
    parser.add_argument("--eval", action="append", default=[], help="JS run after the input; results in order")
    parser.add_argument("--wait-for", default="document.readyState === 'complete'")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    parser.add_argument("--timeout", type=float, default=60)
    options = parser.parse_args()

    browser = Browser(options.width, options.height)
    result = {}
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": options.width, "height": options.height, "deviceScaleFactor": 1, "mobile": False}, session=session)

        def evaluate(expression):
            reply = browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                                 session=session)
            if "exceptionDetails" in reply:
                raise RuntimeError(f"{expression}: {reply['exceptionDetails'].get('exception', {}).get('description')}")
            return reply["result"].get("value")

        started = time.time()
        browser.send("Page.navigate", {"url": "file://" + os.path.abspath(options.page)}, session=session)
        while not evaluate(f"Boolean({options.wait_for})"):
            if time.time() - started > options.timeout:
                raise TimeoutError(f"page never satisfied: {options.wait_for}")
            time.sleep(0.05)
        result["load_seconds"] = round(time.time() - started, 3)
        for expression in options.before:
            evaluate(expression)
        evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")

        def mouse(kind, row):
            point = evaluate(f"kindredMap.screenPosition({row})")
            params = {"type": kind, "x": point["x"], "y": point["y"]}
            if kind != "mouseMoved":
                params.update({"button": "left", "clickCount": 1})
            browser.send("Input.dispatchMouseEvent", params, session=session)
            evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            return point

        if options.hover is not None:
            point = mouse("mouseMoved", options.hover)
            result["hover"] = {"point": point, "hovered": evaluate("kindredMap.hovered"),
                               "tooltip": evaluate("document.getElementById('tooltip').innerText"),
                               "tooltip_visible": evaluate("getComputedStyle(document.getElementById('tooltip')).display !== 'none'")}
        if options.click is not None:
            mouse("mouseMoved", options.click)
            mouse("mousePressed", options.click)
            mouse("mouseReleased", options.click)
            result["click"] = {"selected": evaluate("kindredMap.selected"),
                               "neighbours": evaluate("[...document.querySelectorAll('#neighbours li')].map(li => li.innerText)")}
        if options.search is not None:
            browser.send("Runtime.evaluate", {"expression": "document.getElementById('search').focus()"}, session=session)
            browser.send("Input.insertText", {"text": options.search}, session=session)
            evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            result["search"] = {"matches": evaluate("[...document.querySelectorAll('#matches li')].map(li => (li.querySelector('[title]') || li).title || li.innerText)"),
                                "drawn": evaluate("kindredMap.drawnPoints")}
        result["eval"] = [evaluate(expression) for expression in options.eval]
        if options.screenshot:
            shot = browser.send("Page.captureScreenshot", {"format": "png"}, session=session)
            with open(options.screenshot, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
        # Drain what arrived while we waited, then sort out errors.
        browser.send("Runtime.evaluate", {"expression": "0"}, session=session)
        console, exceptions = [], []
        for event in browser.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                console.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                exceptions.append(details.get("exception", {}).get("description") or details.get("text"))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                console.append(params["entry"].get("text"))
        result["console"] = console
        result["exceptions"] = exceptions
    finally:
        browser.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
