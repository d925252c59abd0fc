"""A page loaded in headless Chromium, driven through the DevTools protocol over a pipe
(--remote-debugging-pipe: no port, no websocket library): what the page logged as errors,
every request it made, where its images lie, and screenshots of it on screen and as
printed."""
import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium():
    """The path of a Chromium executable, or None."""
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One headless Chromium; messages go in on fd 3 and come out on fd 4, each a JSON
    object ended by a NUL byte."""

    def __init__(self, executable, timeout=60.0):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="neuralcli-chromium-")
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()
        # the child's fds 3 and 4 are the pipe ends chromium expects (moved out of the
        # way first, in case either end is itself 3 or 4)
        def child():
            ends = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser, from_browser)]
            os.dup2(ends[0], 3)
            os.dup2(ends[1], 4)
        self.proc = subprocess.Popen(
            [executable, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--hide-scrollbars",
             "--remote-debugging-pipe", f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            pass_fds=(3, 4), preexec_fn=child)
        os.close(to_browser)
        os.close(from_browser)
        self._id = 0
        self._replies = {}
        self.events = queue.Queue()
        self._lock = threading.Condition()
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    def _read_loop(self):
        buf = b""
        while True:
            try:
                chunk = os.read(self._read, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._lock:
                    self._replies["closed"] = True
                    self._lock.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self._lock:
                        self._replies[msg["id"]] = msg
                        self._lock.notify_all()
                else:
                    self.events.put(msg)

    def send(self, method, params=None, session=None):
        """The result of one command; RuntimeError when chromium reports an error."""
        self._id += 1
        mid = self._id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._write, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        with self._lock:
            while mid not in self._replies:
                if self._replies.get("closed"):
                    raise RuntimeError(f"chromium closed the pipe during {method}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"chromium did not answer {method}")
                self._lock.wait(left)
            reply = self._replies.pop(mid)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def close(self):
        try:
            self.send("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._write, self._read):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.proc.stderr:
            self.proc.stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Loaded:
    """What loading a page gave: errors (console errors, uncaught exceptions and failed
    loads, as text), requests (every URL the page asked for), images (each <img>'s
    document rectangle, natural width and whether it decoded), screenshot (PNG bytes of
    the whole page at the given width), pdf (the page printed, PDF bytes)."""

    def __init__(self):
        self.errors = []
        self.requests = []
        self.images = []
        self.screenshot = None
        self.pdf = None
        self.width = self.height = 0


def load(url, *, width=1366, height=900, executable=None, timeout=60.0):
    """Load `url` in a fresh headless Chromium at a laptop's viewport and return Loaded."""
    out = Loaded()
    with Browser(executable or find_chromium(), timeout) as b:
        target = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = b.send("Target.attachToTarget", {"targetId": target,
                                                   "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            b.send(f"{domain}.enable", session=session)
        b.send("Emulation.setDeviceMetricsOverride",
               {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
               session=session)
        b.send("Page.navigate", {"url": url}, session=session)
        deadline = time.monotonic() + timeout
        loaded = False
        while not loaded:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{url} did not finish loading")
            try:
                event = b.events.get(timeout=left)
            except queue.Empty:
                continue
            loaded = _note(out, event) or loaded
        # what arrives just after the load event (late errors) still counts
        time.sleep(0.5)
        while not b.events.empty():
            _note(out, b.events.get())
        rects = b.send("Runtime.evaluate", {"returnByValue": True, "expression": """
            Array.from(document.images).map(i => {
                const r = i.getBoundingClientRect();
                return {x: r.left + scrollX, y: r.top + scrollY, width: r.width,
                        height: r.height, natural: i.naturalWidth,
                        decoded: i.complete && i.naturalWidth > 0, alt: i.alt};
            })"""}, session=session)
        out.images = rects["result"]["value"]
        size = b.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
        out.width, out.height = int(size["width"]), int(size["height"])
        b.send("Emulation.setDeviceMetricsOverride",
               {"width": width, "height": out.height, "deviceScaleFactor": 1,
                "mobile": False}, session=session)
        shot = b.send("Page.captureScreenshot", {"format": "png"}, session=session)
        out.screenshot = base64.b64decode(shot["data"])
        pdf = b.send("Page.printToPDF", {"printBackground": False,
                                         "preferCSSPageSize": True}, session=session)
        out.pdf = base64.b64decode(pdf["data"])
        while not b.events.empty():
            _note(out, b.events.get())
    return out


def _note(out, event):
    """Record what an event says; True for the page's load event."""
    method, params = event.get("method"), event.get("params", {})
    if method == "Page.loadEventFired":
        return True
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        args = " ".join(str(a.get("value", a.get("description", ""))) for a in
                        params.get("args", []))
        out.errors.append(f"console.{params['type']}: {args}")
    elif method == "Runtime.exceptionThrown":
        d = params.get("exceptionDetails", {})
        out.errors.append("exception: " + d.get("exception", {}).get(
            "description", d.get("text", "")))
    elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
        e = params["entry"]
        out.errors.append(f"{e.get('source')}: {e.get('text')} {e.get('url', '')}".strip())
    elif method == "Network.requestWillBeSent":
        out.requests.append(params.get("request", {}).get("url", ""))
    elif method == "Network.loadingFailed":
        out.errors.append(f"failed to load: {params.get('errorText')}")
    return False
