#!/usr/bin/python3
"""The web dashboard (/ui/) and the API docs page (/docs) in a real browser.

Debian's chromium + chromium-driver driven by Debian's python3-selenium, headless. Each
test runs the real agmem-coordinator (--no-gui) on 127.0.0.1 with a SQLite file of its own
and checks what a person would see: data after pushes, a push arriving live without a
reload, sign-in with a key (and a wrong one refused), the Content-Security-Policy, that
every request stays on the server's origin, and that the console shows no errors.

Usage: test_dashboard.py AGMEM_COORDINATOR_BINARY
A missing browser, driver or selenium skips (exit 77), or fails when CI=true.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

SKIP = 77
BINARY = None


def missing_tools():
    missing = []
    for tool in ("chromium", "chromedriver"):
        if not shutil.which(tool):
            missing.append(tool)
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("python3-selenium")
    return missing


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Coordinator:
    """agmem-coordinator --no-gui on 127.0.0.1 with its own SQLite file."""

    def __init__(self, extra=()):
        self.dir = tempfile.TemporaryDirectory(prefix="agmem-browser-")
        self.db = "sqlite:///" + os.path.join(self.dir.name, "coordinator.db")
        self.extra = list(extra)
        self.process = None
        self.port = None
        self.log = open(os.path.join(self.dir.name, "server.log"), "w")

    def create_key(self, scopes):
        out = subprocess.run([BINARY, "keys", "create", "browser-" + scopes.replace(",", "-"),
                              "--scopes", scopes, "--db", self.db],
                             check=True, capture_output=True, text=True).stdout
        return next(line.strip() for line in out.splitlines() if line.startswith("agm_"))

    def start(self):
        # A port picked here may be taken by the time the server binds: try a few.
        for _ in range(5):
            self.port = free_port()
            self.process = subprocess.Popen(
                [BINARY, "--no-gui", "--host", "127.0.0.1", "--port", str(self.port),
                 "--db", self.db, "--rate-limit", "0"] + self.extra,
                stdout=subprocess.DEVNULL, stderr=self.log)
            deadline = time.time() + 20
            while time.time() < deadline and self.process.poll() is None:
                try:
                    urllib.request.urlopen(self.url("/health"), timeout=2).read()
                    return
                except OSError:
                    time.sleep(0.1)
            self.stop()
        raise RuntimeError("the coordinator did not start")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def close(self):
        self.stop()
        self.log.close()
        self.dir.cleanup()

    @property
    def origin(self):
        return "http://127.0.0.1:%d" % self.port

    def url(self, path):
        return self.origin + path

    def push(self, agent, timestamp, topics, facts, key=None):
        body = json.dumps({"summary": {"agent_id": agent, "timestamp": timestamp,
                                       "topic_counts": topics, "fact_hashes": facts}}).encode()
        request = urllib.request.Request(self.url("/push"), data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        if key:
            request.add_header("Authorization", "Bearer " + key)
        with urllib.request.urlopen(request, timeout=10) as r:
            assert r.status == 200, r.status


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-default-apps", "--disable-sync"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def wait_for(predicate, timeout=20, message="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as e:  # the page may be between renders
            last = e
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s (last: %r)" % (message, last))


class DashboardTest(unittest.TestCase):
    def setUp(self):
        self.servers = []
        self.driver = browser()

    def tearDown(self):
        self.driver.quit()
        for s in self.servers:
            s.close()

    def server(self, extra=()):
        s = Coordinator(extra)
        self.servers.append(s)
        return s

    def agents_in_table(self):
        from selenium.webdriver.common.by import By
        rows = self.driver.find_elements(By.CSS_SELECTOR, "#agents-table tbody tr")
        return [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows]

    def console_errors(self, allowed=()):
        return [e for e in self.driver.get_log("browser")
                if e["level"] == "SEVERE" and not any(a in e["message"] for a in allowed)]

    def requested_urls(self):
        """Every URL the browser asked for, from the DevTools network log."""
        urls = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
        return urls

    def assert_same_origin(self, origin, urls):
        self.assertTrue(urls, "no request was seen")
        for url in urls:
            self.assertTrue(url.startswith(origin + "/"), "request off the origin: " + url)

    def test_data_live_push_csp_origin(self):
        from selenium.webdriver.common.by import By
        s = self.server()
        s.start()
        s.push("alpha", "2025-01-01T00:00:00Z", {"python": 3, "rust": 1}, ["f1", "f2"])
        s.push("beta", "2025-01-02T00:00:00Z", {"python": 2}, ["f2", "f3"])

        # The CSP and friends on the page and on its script.
        for path in ("/ui/", "/ui/app.js", "/ui/app.css", "/docs", "/redoc"):
            with urllib.request.urlopen(s.url(path), timeout=10) as r:
                csp = r.headers["Content-Security-Policy"]
                self.assertIsNotNone(csp, path)
                self.assertIn("default-src 'self'", csp)
                self.assertIn("script-src 'self'", csp)
                self.assertNotIn("unsafe-inline", csp)
                self.assertEqual(r.headers["X-Content-Type-Options"], "nosniff")
        with urllib.request.urlopen(s.url("/ui/"), timeout=10) as r:
            page = r.read().decode()
        self.assertNotIn("<script>", page)  # no inline script
        self.assertNotIn("style=", page)  # no inline style

        started = time.time()
        self.driver.get(s.url("/ui"))  # redirected to /ui/
        self.assertTrue(self.driver.current_url.endswith("/ui/"))
        wait_for(lambda: sorted(self.agents_in_table()) == ["alpha", "beta"],
                 message="the agents of the pushes")
        print("data shown %.2f s after navigation" % (time.time() - started))
        # No sign-in without keys.
        self.assertFalse(self.driver.find_element(By.ID, "signin").is_displayed())
        self.assertEqual(self.driver.find_element(By.ID, "s-agents").text, "2")
        wait_for(lambda: self.driver.find_element(By.ID, "conn").text == "live",
                 message="the event stream")
        paint = self.driver.execute_script(
            "const p = performance.getEntriesByName('first-contentful-paint')[0];"
            "return p ? p.startTime : null;")
        print("first contentful paint: %s ms" % paint)

        # A push appears without a reload: in the table and in the activity view.
        marker = self.driver.execute_script("window.__noReload = 42; return window.__noReload;")
        s.push("gamma-live", "2025-01-03T00:00:00Z", {"go": 5}, ["f9"])
        wait_for(lambda: "gamma-live" in self.agents_in_table(), message="the live push")
        self.assertEqual(self.driver.execute_script("return window.__noReload;"), marker)
        self.driver.find_element(By.CSS_SELECTOR, '.tabs button[data-tab="activity"]').click()
        activity = wait_for(lambda: self.driver.find_element(By.ID, "activity-table").text,
                            message="the activity view")
        self.assertIn("gamma-live", activity)
        self.assertIn("go +5", activity)

        # Topics with their per-agent breakdown, facts with server-side search.
        self.driver.find_element(By.CSS_SELECTOR, '.tabs button[data-tab="topics"]').click()
        wait_for(lambda: "python" in self.driver.find_element(By.ID, "topics-table").text,
                 message="topics")
        row = [r for r in self.driver.find_elements(By.CSS_SELECTOR, "#topics-table tbody tr")
               if r.text.startswith("python")][0]
        row.click()
        wait_for(lambda: "alpha" in self.driver.find_element(By.ID, "t-agents").text,
                 message="the topic's agents")
        self.driver.find_element(By.CSS_SELECTOR, '.tabs button[data-tab="facts"]').click()
        self.driver.find_element(By.ID, "facts-q").send_keys("f9")
        wait_for(lambda: [r.text for r in self.driver.find_elements(
            By.CSS_SELECTOR, "#facts-table tbody tr td:first-child")] == ["f9"],
            message="the fact search")

        # Every request stayed on the server's origin (resource timing and the network log).
        names = self.driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
            ".concat([location.href]);")
        self.assert_same_origin(s.origin, names)
        self.assert_same_origin(s.origin, self.requested_urls())
        self.assertEqual(self.console_errors(), [])

    def test_sign_in_with_key(self):
        from selenium.webdriver.common.by import By
        s = self.server(["--auth", "required"])
        key = s.create_key("pull")
        pusher = s.create_key("push")
        s.start()
        s.push("keyed-agent", "2025-01-01T00:00:00Z", {"t": 1}, ["f"], key=pusher)

        self.driver.get(s.url("/ui/"))
        form = wait_for(lambda: self.driver.find_element(By.ID, "signin").is_displayed(),
                        message="the sign-in form")
        self.assertTrue(form)
        field = self.driver.find_element(By.ID, "key")
        self.assertEqual(field.get_attribute("type"), "password")
        self.assertFalse(self.driver.find_element(By.ID, "app").is_displayed())

        # A wrong key: back to the form, with a message.
        field.send_keys("agm_wrong")
        self.driver.find_element(By.CSS_SELECTOR, "#signin-form button").click()
        message = wait_for(lambda: self.driver.find_element(By.ID, "signin-msg").text,
                           message="the refusal")
        self.assertIn("refused", message)
        self.assertTrue(self.driver.find_element(By.ID, "signin").is_displayed())

        # A key without the pull scope is refused too.
        field = self.driver.find_element(By.ID, "key")
        field.send_keys(pusher)
        self.driver.find_element(By.CSS_SELECTOR, "#signin-form button").click()
        wait_for(lambda: "pull" in self.driver.find_element(By.ID, "signin-msg").text,
                 message="the scope refusal")

        # The right key: the data, live, and the key kept for the tab only.
        field = self.driver.find_element(By.ID, "key")
        field.send_keys(key)
        self.driver.find_element(By.CSS_SELECTOR, "#signin-form button").click()
        wait_for(lambda: self.agents_in_table() == ["keyed-agent"], message="signed-in data")
        wait_for(lambda: self.driver.find_element(By.ID, "conn").text == "live",
                 message="the event stream")
        self.assertEqual(self.driver.execute_script("return sessionStorage.getItem('agmem.key')"),
                         key)
        self.assertIsNone(self.driver.execute_script("return localStorage.getItem('agmem.key')"))
        s.push("second", "2025-01-02T00:00:00Z", {"t": 2}, ["g"], key=pusher)
        wait_for(lambda: "second" in self.agents_in_table(), message="the live push")

        # The key never went into a URL.
        urls = self.requested_urls()
        self.assert_same_origin(s.origin, urls)
        for url in urls:
            self.assertNotIn(key, url)
        # The refused attempts logged their 401/403 responses; nothing else is an error.
        self.assertEqual(self.console_errors(allowed=("401", "403")), [])

    def test_docs_try_a_route(self):
        from selenium.webdriver.common.by import By
        s = self.server()
        s.start()
        s.push("doc-agent", "2025-01-01T00:00:00Z", {"t": 1}, ["f"])
        for path in ("/docs", "/redoc"):
            self.driver.get(s.url(path))
            wait_for(lambda: self.driver.find_elements(By.CSS_SELECTOR, "details.op"),
                     message="the operations of " + path)
        # Every documented path is on the page.
        with urllib.request.urlopen(s.url("/openapi.json"), timeout=10) as r:
            paths = json.load(r)["paths"]
        text = self.driver.find_element(By.ID, "ops").text
        for p in paths:
            self.assertIn(p, text)
        # Try GET /agents from the page.
        section = self.driver.find_element(By.ID, "/agents")
        op = section.find_element(By.CSS_SELECTOR, "details.op")
        op.find_element(By.TAG_NAME, "summary").click()
        op.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        out = wait_for(lambda: op.find_element(By.TAG_NAME, "pre").text, message="the answer")
        wait_for(lambda: "doc-agent" in op.find_element(By.TAG_NAME, "pre").text,
                 message="the answer's body")
        self.assertTrue(out.startswith("GET") or out.startswith("200"))
        self.assert_same_origin(s.origin, self.requested_urls())
        self.assertEqual(self.console_errors(), [])


def main():
    global BINARY
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    BINARY = sys.argv.pop(1)
    missing = missing_tools()
    if missing:
        message = "missing: %s (apt-get install chromium chromium-driver python3-selenium)" % (
            ", ".join(missing))
        if os.environ.get("CI") == "true":
            print("FAIL: " + message)
            return 1
        print("SKIP: " + message)
        return SKIP
    result = unittest.main(exit=False, verbosity=2).result
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
