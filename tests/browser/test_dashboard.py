#!/usr/bin/python3
"""The web dashboard (/ui/) and the API docs page (/docs) in a real browser.

Debian's chromium + chromium-driver driven by Debian's python3-selenium, headless. Each
test runs the real agmem-coordinator (--no-gui) with a SQLite file of its own and checks
what a person would see: data after pushes, a push arriving live without a reload,
sign-in with a key (and a wrong one refused), the Content-Security-Policy, that every
request stays on the server's origin, and that the console shows no errors.

Pushes come from AgmemClient, which sends what the real agmem client (v0.3.0,
`agmem federated push|pull`) sends, byte for byte (tests/data/client-push.http; checked by
ClientWireTest). The "LAN" case: the server listens on 127.0.0.2 and the browser reaches
it by a network name (coordinator.lan, mapped by chromium's resolver rules): not
localhost, not a secure context, keys required; tests talk to 127.0.0.0/8 only.

Usage: test_dashboard.py AGMEM_COORDINATOR_BINARY
A missing browser, driver or selenium skips (exit 77), or fails when CI=true.
"""

import datetime
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import threading
import urllib.error
import urllib.request

SKIP = 77
BINARY = None
HERE = os.path.dirname(os.path.abspath(__file__))
RECORDED_PUSH = os.path.join(HERE, "..", "data", "client-push.http")
# The "LAN" server: a loopback address of its own, reached by a network name.
LAN_ADDRESS = "127.0.0.2"
LAN_NAME = "coordinator.lan"


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


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class AgmemClient:
    """What the real agmem client does (v0.3.0, `agmem federated push|pull`; recorded in
    tests/data/client-push.http): urllib.request, the body from json.dumps with its default
    separators (non-ASCII escaped), Content-Type: application/json and no other header of
    its own (urllib adds Accept-Encoding: identity, Host, User-Agent: Python-urllib/3.x and
    Connection: close: one connection per request), a 30 s timeout; a push counts only on
    200 or 201. No auth header: with keys, the key rides in coordinator_url (/k/KEY)."""

    def __init__(self, coordinator_url):
        self.base = coordinator_url.rstrip("/")

    @staticmethod
    def agent_id(repository):
        # agent- and 16 hex characters, stable per repository.
        return "agent-" + hashlib.sha256(repository.encode()).hexdigest()[:16]

    @staticmethod
    def timestamp(when=None):
        # Python's isoformat(): +00:00 (never Z), the fraction dropped when it is zero.
        return (when or datetime.datetime.now(datetime.timezone.utc)).isoformat()

    def push(self, agent_id, topic_counts, fact_hashes, timestamp=None):
        summary = {"agent_id": agent_id, "timestamp": timestamp or self.timestamp(),
                   "topic_counts": topic_counts, "fact_hashes": fact_hashes}
        request = urllib.request.Request(self.base + "/push",
                                         data=json.dumps({"summary": summary}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as r:
            if r.status not in (200, 201):
                raise AssertionError("push refused: %d" % r.status)
            return json.loads(r.read())

    def pull(self):
        with urllib.request.urlopen(self.base + "/pull", timeout=30) as r:
            return json.loads(r.read())


class Coordinator:
    """agmem-coordinator --no-gui on `host` (127.0.0.x) with its own SQLite file."""

    def __init__(self, extra=(), host="127.0.0.1"):
        self.dir = tempfile.TemporaryDirectory(prefix="agmem-browser-")
        self.db = "sqlite:///" + os.path.join(self.dir.name, "coordinator.db")
        self.extra = list(extra)
        self.host = host
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
            self.port = free_port(self.host)
            self.process = subprocess.Popen(
                [BINARY, "--no-gui", "--host", self.host, "--port", str(self.port),
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
        return "http://%s:%d" % (self.host, self.port)

    def url(self, path):
        return self.origin + path

    def client(self, key=None):
        """The agmem client configured for this server (coordinator_url)."""
        return AgmemClient(self.origin + ("/k/" + key if key else ""))

    def push(self, agent, timestamp, topics, facts, key=None):
        """`agmem federated push`, then `agmem federated pull`, as the client does them."""
        client = self.client(key)
        answer = client.push(agent, topics, facts, timestamp)
        assert answer["status"] == "accepted", answer
        client.pull()


def browser(extra_args=()):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in extra_args:
        options.add_argument(arg)
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


class ClientWireTest(unittest.TestCase):
    """AgmemClient sends what the real agmem client sent (tests/data/client-push.http)."""

    def test_push_matches_the_recording(self):
        with open(RECORDED_PUSH, "rb") as f:
            recorded_head, recorded_body = f.read().split(b"\r\n\r\n", 1)
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        captured = []

        def answer():
            connection, _ = listener.accept()
            with connection:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += connection.recv(65536)
                head, body = data.split(b"\r\n\r\n", 1)
                length = int([line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:")][0])
                while len(body) < length:
                    body += connection.recv(65536)
                captured.append((head, body))
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                   b"Content-Length: 22\r\nConnection: close\r\n\r\n"
                                   b'{"status": "accepted"}')

        thread = threading.Thread(target=answer)
        thread.start()
        summary = json.loads(recorded_body)["summary"]
        AgmemClient("http://127.0.0.1:%d" % port).push(
            summary["agent_id"], summary["topic_counts"], summary["fact_hashes"],
            summary["timestamp"])
        thread.join(30)
        listener.close()
        head, body = captured[0]
        # The same body, byte for byte (json.dumps separators), and the same header lines in
        # the same order; only Host (the port) and the Python version may differ.
        self.assertEqual(body, recorded_body)
        sent = head.split(b"\r\n")
        expected = recorded_head.split(b"\r\n")
        self.assertEqual([line.split(b":")[0] for line in sent],
                         [line.split(b":")[0] for line in expected])
        for line, want in zip(sent, expected):
            if line.startswith(b"Host:"):
                self.assertEqual(line, b"Host: 127.0.0.1:%d" % port)
            elif line.startswith(b"User-Agent:"):
                self.assertTrue(line.startswith(b"User-Agent: Python-urllib/3."), line)
            else:
                self.assertEqual(line, want)


class DashboardTest(unittest.TestCase):
    def setUp(self):
        self.servers = []
        lan = self._testMethodName.startswith("test_lan")
        self.driver = browser(
            ["--host-resolver-rules=MAP %s %s" % (LAN_NAME, LAN_ADDRESS)] if lan else [])

    def tearDown(self):
        self.driver.quit()
        for s in self.servers:
            s.close()

    def server(self, extra=(), host="127.0.0.1"):
        s = Coordinator(extra, host)
        self.servers.append(s)
        return s

    def agents_in_table(self):
        from selenium.webdriver.common.by import By
        rows = self.driver.find_elements(By.CSS_SELECTOR, "#agents-table tbody tr")
        return [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows]

    def console_errors(self, allowed=()):
        return [e for e in self.driver.get_log("browser")
                if e["level"] == "SEVERE" and not any(a in e["message"] for a in allowed)]

    def network_log(self, forget=False):
        """The DevTools network log so far (reading the driver's log empties it)."""
        if not hasattr(self, "_network"):
            self._network = []
        self._network += [json.loads(e["message"])["message"]
                          for e in self.driver.get_log("performance")]
        if forget:
            self._network = []
        return self._network

    def requested_urls(self):
        """Every URL the browser asked for, from the DevTools network log."""
        urls = []
        for message in self.network_log():
            if message.get("method") == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
        return urls

    def response_headers(self, url):
        """The headers (lower-case names) of the browser's last response from `url`."""
        found = None
        for message in self.network_log():
            if message.get("method") == "Network.responseReceived":
                response = message["params"]["response"]
                if response["url"] == url:
                    found = {k.lower(): v for k, v in response["headers"].items()}
        self.assertIsNotNone(found, "no response from " + url)
        return found

    def assert_same_origin(self, origin, urls):
        self.assertTrue(urls, "no request was seen")
        for url in urls:
            self.assertTrue(url.startswith(origin + "/"), "request off the origin: " + url)

    def test_data_live_push_csp_origin(self):
        from selenium.webdriver.common.by import By
        s = self.server()
        s.start()
        s.push("alpha", "2025-01-01T00:00:00+00:00", {"python": 3, "rust": 1}, ["f1", "f2"])
        s.push("beta", "2025-01-02T00:00:00.250000+00:00", {"python": 2}, ["f2", "f3"])

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

        # The agmem client's push appears without a reload: in the table and in the
        # activity view (its agent id, its memory types, its topic labels, non-ASCII too).
        marker = self.driver.execute_script("window.__noReload = 42; return window.__noReload;")
        live = AgmemClient.agent_id("/home/dev/gamma-live")
        s.push(live, AgmemClient.timestamp(), {"episodic": 5, "semantic": 0},
               ["Daily standup", "caf\u00e9 notes", "f9"])
        wait_for(lambda: live in self.agents_in_table(), message="the live push")
        self.assertEqual(self.driver.execute_script("return window.__noReload;"), marker)
        self.driver.find_element(By.CSS_SELECTOR, '.tabs button[data-tab="activity"]').click()
        activity = wait_for(lambda: self.driver.find_element(By.ID, "activity-table").text,
                            message="the activity view")
        self.assertIn(live, activity)
        self.assertIn("episodic +5", activity)
        # The same agent forgets: its counts and facts go down, both with the same minus sign.
        s.push(live, AgmemClient.timestamp(), {"episodic": 3, "semantic": 0},
               ["Daily standup", "caf\u00e9 notes"])
        activity = wait_for(
            lambda: "episodic \u22122" in self.driver.find_element(By.ID, "activity-table").text
            and self.driver.find_element(By.ID, "activity-table").text,
            message="the removal in the activity view")
        self.assertIn("episodic \u22122 \u00b7 \u22121 facts", activity)

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
        self.driver.find_element(By.ID, "facts-q").send_keys("caf\u00e9")
        wait_for(lambda: [r.text for r in self.driver.find_elements(
            By.CSS_SELECTOR, "#facts-table tbody tr td:first-child")] == ["caf\u00e9 notes"],
            message="the fact search")

        # The stream came gzip-compressed (one piece per batch, shared by every stream), and
        # the browser decoded it: the live push above arrived through it.
        self.assertEqual(self.response_headers(s.url("/events")).get("content-encoding"), "gzip")

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
        client_key = s.create_key("push,pull")  # the agmem client's, in its coordinator_url
        s.start()
        s.push("keyed-agent", "2025-01-01T00:00:00+00:00", {"t": 1}, ["f"], key=client_key)

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
        s.push("second", "2025-01-02T00:00:00+00:00", {"t": 2}, ["g"], key=client_key)
        wait_for(lambda: "second" in self.agents_in_table(), message="the live push")

        # The key never went into a URL.
        urls = self.requested_urls()
        self.assert_same_origin(s.origin, urls)
        for url in urls:
            self.assertNotIn(key, url)
        # The refused attempts logged their 401/403 responses; nothing else is an error.
        self.assertEqual(self.console_errors(allowed=("401", "403")), [])

    def test_lan_address_sign_in_with_pull_key(self):
        """A coordinator on a network address, opened by its name: no sign-in while no key
        exists (auth mode auto), then, with keys, a sign-in exactly as the API wants a key
        from this client, and the agmem client's pushes (key in its URL) arriving live."""
        from selenium.webdriver.common.by import By
        s = self.server(["--allowed-host", LAN_NAME], host=LAN_ADDRESS)
        s.start()
        first = AgmemClient.agent_id("/srv/team/repo-one")
        s.push(first, AgmemClient.timestamp(), {"episodic": 2, "semantic": 1}, ["Daily standup"])
        self.driver.get("http://%s:%d/ui/" % (LAN_NAME, s.port))
        wait_for(lambda: first in self.agents_in_table(), message="the data without a key")
        self.assertFalse(self.driver.find_element(By.ID, "signin").is_displayed())
        # Plain HTTP to a network name: not a secure context, and the page works anyway.
        self.assertFalse(self.driver.execute_script("return window.isSecureContext"))
        self.driver.get("about:blank")  # leave before the server stops
        s.stop()
        self.driver.get_log("browser")
        self.network_log(forget=True)

        # Keys now: a pull key for the person, a push+pull key in the client's URL.
        pull_key = s.create_key("pull")
        client_key = s.create_key("push,pull")
        s.start()
        origin = "http://%s:%d" % (LAN_NAME, s.port)
        with self.assertRaises(urllib.error.HTTPError) as refused:
            s.client().pull()
        self.assertEqual(refused.exception.code, 401)
        self.driver.get(origin + "/ui/")
        wait_for(lambda: self.driver.find_element(By.ID, "signin").is_displayed(),
                 message="the sign-in form")
        self.assertFalse(self.driver.find_element(By.ID, "app").is_displayed())
        field = self.driver.find_element(By.ID, "key")
        self.assertEqual(field.get_attribute("type"), "password")
        field.send_keys(pull_key)
        self.driver.find_element(By.CSS_SELECTOR, "#signin-form button").click()
        wait_for(lambda: first in self.agents_in_table(), message="the data after sign-in")
        wait_for(lambda: self.driver.find_element(By.ID, "conn").text == "live",
                 message="the event stream")

        client = s.client(client_key)
        second = AgmemClient.agent_id("/srv/team/repo-two")
        answer = client.push(second, {"episodic": 1, "semantic": 3}, ["databases", "python"])
        self.assertEqual(answer["agent_id"], second)
        self.assertIn("databases", client.pull()["unique_fact_hashes"])
        wait_for(lambda: second in self.agents_in_table(), message="the client's live push")
        self.driver.find_element(By.CSS_SELECTOR, '.tabs button[data-tab="activity"]').click()
        wait_for(lambda: second in self.driver.find_element(By.ID, "activity-table").text,
                 message="the push in the activity view")

        urls = self.requested_urls()
        self.assert_same_origin(origin, urls)
        for url in urls:
            self.assertNotIn(pull_key, url)
        self.assertEqual(self.console_errors(), [])

    def test_docs_try_a_route(self):
        from selenium.webdriver.common.by import By
        s = self.server()
        s.start()
        s.push("doc-agent", "2025-01-01T00:00:00+00:00", {"t": 1}, ["f"])
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
