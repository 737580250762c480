#!/usr/bin/python3
"""The real agmem client against agmem-coordinator, end to end, as a person would run it.

Usage: bench/real-client.py AGMEM_SRC_DIR [--coordinator BINARY] [--screenshot PNG]

AGMEM_SRC_DIR is the agmem client's source (the repository vivek-tiwari-vt/agmem, e.g.
`git archive v0.3.0 memvcs pyproject.toml | tar -x -C DIR`); the client runs from it with
Debian's /usr/bin/python3 (`python3 -m memvcs.cli`); its only required dependency is PyYAML
(Debian: python3-yaml). The browser part needs Debian's chromium, chromium-driver and
python3-selenium. Not part of ctest or CI: CI cannot fetch the client.

It checks, printing each step:
 1. Open server (`--no-gui --port 0`, a SQLite file): `agmem init`, memory files, `agmem add`,
    `agmem commit`, `.mem/config.yaml` with `federated: {enabled, coordinator_url}`,
    `agmem federated push` / `pull`: the client's success messages and exit codes, 200s in
    the access log, the agent in GET /pull and GET /agents, the push on GET /events.
 2. The web dashboard (/ui/) in headless chromium: the first repository's agent, then a push
    from a second repository appears in the agents table and the activity view without a
    reload. --screenshot writes that view (1280x800).
 3. Keys on a "LAN" address: an admin creates a pull key and a push key (`keys create`),
    the server listens on 127.0.0.2; the client pushes through `/k/PUSHKEY` in its
    coordinator_url; without a key its push is refused (401), its pull with the push-only
    key is refused (403); the browser opens the page by a network name, gets the sign-in
    form, signs in with the pull key and sees the pushes arrive live.
 4. The client's bytes on the wire (a socket listener that records and answers 200)
    compared with tests/data/client-push.http, the recording the tests replay.
Exit status 0 when every check passed.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "browser"))
from test_dashboard import LAN_ADDRESS, LAN_NAME, browser, wait_for  # noqa: E402

PYTHON = "/usr/bin/python3"
RECORDED_PUSH = os.path.join(ROOT, "tests", "data", "client-push.http")
failures = []


def check(condition, what, detail=""):
    print("  %s %s%s" % ("ok  " if condition else "FAIL", what,
                         (": " + detail) if detail and not condition else ""))
    if not condition:
        failures.append(what)
    return condition


def see(predicate, what, timeout=20):
    """Wait (in the browser) until predicate holds; a check that fails on the timeout."""
    try:
        value = wait_for(predicate, timeout=timeout, message=what)
    except AssertionError as e:
        check(False, what, str(e))
        return None
    check(True, what)
    return value


def step(title):
    print("\n== " + title, flush=True)


class Client:
    """The real agmem client (`python3 -m memvcs.cli`) working in one repository, with a
    configuration home of its own (no ~/.config/agmem of the person running this)."""

    def __init__(self, src, work, name):
        self.src = src
        self.repo = os.path.join(work, name)
        os.makedirs(self.repo)
        self.env = dict(os.environ, PYTHONPATH=src, HOME=os.path.join(work, "home"),
                        XDG_CONFIG_HOME=os.path.join(work, "xdg"))
        self.env.pop("PYTHONHOME", None)

    def run(self, *args):
        r = subprocess.run([PYTHON, "-m", "memvcs.cli"] + list(args), cwd=self.repo,
                           env=self.env, capture_output=True, text=True, timeout=120)
        shown = " ".join(args)
        print("  $ agmem %s  -> exit %d" % (shown, r.returncode))
        for line in (r.stdout + r.stderr).strip().splitlines():
            print("    | " + line)
        return r

    @property
    def agent_id(self):
        # What the client derives (protocol_builder.generate_agent_id): the resolved path.
        return "agent-" + hashlib.sha256(
            os.path.realpath(self.repo).encode()).hexdigest()[:16]

    def write(self, relative, text):
        path = os.path.join(self.repo, "current", relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

    def memories(self, owner, semantic_tags, episodic_title):
        """Memory files that pass the client's schema check (frontmatter with the required
        fields), so `agmem commit` works without --no-verify."""
        self.write("episodic/session.md",
                   "---\nschema_version: \"1.0\"\nsource_agent_id: %s\ntags: [%s]\n---\n"
                   "# %s\n\nWhat happened in the session.\n"
                   % (owner, json.dumps(episodic_title), episodic_title))
        for i, tag in enumerate(semantic_tags):
            self.write("semantic/fact-%d.md" % i,
                       "---\nschema_version: \"1.0\"\nlast_updated: \"2026-11-30T12:00:00Z\"\n"
                       "source_agent_id: %s\nconfidence_score: 0.9\ntags: [%s]\n---\n"
                       "Notes about %s.\n" % (owner, json.dumps(tag), tag))

    def configure(self, coordinator_url):
        with open(os.path.join(self.repo, ".mem", "config.yaml"), "w") as f:
            f.write("federated:\n  enabled: true\n  coordinator_url: \"%s\"\n" % coordinator_url)

    def setup(self, owner, semantic_tags, episodic_title, coordinator_url):
        r = self.run("init")
        check(r.returncode == 0 and os.path.isdir(os.path.join(self.repo, ".mem")), "agmem init")
        self.memories(owner, semantic_tags, episodic_title)
        check(self.run("add", ".").returncode == 0, "agmem add")
        r = self.run("commit", "-m", "memories of " + owner)
        check(r.returncode == 0, "agmem commit")
        self.configure(coordinator_url)

    def push(self, expect_ok=True):
        r = self.run("federated", "push")
        ok = r.returncode == 0 and "Pushed updates to coordinator" in r.stdout
        if expect_ok:
            check(ok, "agmem federated push: 'Pushed updates to coordinator'", r.stdout)
        return r

    def pull(self):
        r = self.run("federated", "pull")
        check(r.returncode == 0 and "Merged summary from coordinator:" in r.stdout,
              "agmem federated pull: 'Merged summary from coordinator'", r.stdout)
        return r


class Server:
    """agmem-coordinator --no-gui --port 0, as a person starts it; the address it prints."""

    def __init__(self, binary, work, name, host="127.0.0.1", extra=()):
        self.binary = binary
        self.db = "sqlite:///" + os.path.join(work, name + ".db")
        self.host = host
        self.extra = list(extra)
        self.errlog = os.path.join(work, name + ".log")
        self.process = None
        self.origin = None

    def keys_create(self, name, scopes):
        out = subprocess.run([self.binary, "keys", "create", name, "--scopes", scopes,
                              "--db", self.db], check=True, capture_output=True,
                             text=True).stdout
        key = next(line.strip() for line in out.splitlines() if line.startswith("agm_"))
        print("  $ agmem-coordinator keys create %s --scopes %s  -> agm_…" % (name, scopes))
        return key

    def start(self):
        args = [self.binary, "--no-gui", "--host", self.host, "--port", "0",
                "--db", self.db] + self.extra
        print("  $ " + " ".join(["agmem-coordinator"] + args[1:]))
        self.err = open(self.errlog, "a")
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.err,
                                        text=True)
        line = self.process.stdout.readline()
        m = re.search(r"listening on (http://\S+)", line)
        if not m:
            raise RuntimeError("the coordinator did not start: %r (see %s)" % (line,
                                                                              self.errlog))
        self.origin = m.group(1)
        print("    | " + line.strip())

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(20)
        if self.process:
            self.process.stdout.close()
            self.err.close()

    def get(self, path, key=None):
        request = urllib.request.Request(self.origin + path)
        if key:
            request.add_header("Authorization", "Bearer " + key)
        with urllib.request.urlopen(request, timeout=10) as r:
            return json.loads(r.read())

    def access_log(self):
        with open(self.errlog, encoding="utf-8") as f:
            return [line for line in f if " agmem.access " in line]


class EventReader(threading.Thread):
    """GET /events, collecting the events' data until stopped."""

    def __init__(self, url, key=None):
        super().__init__(daemon=True)
        self.request = urllib.request.Request(url)
        if key:
            self.request.add_header("Authorization", "Bearer " + key)
        self.events = []
        self.ready = threading.Event()

    def run(self):
        with urllib.request.urlopen(self.request, timeout=60) as r:
            kind = None
            for raw in r:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    self.events.append((kind, json.loads(line[6:])))
                    if kind == "hello":
                        self.ready.set()

    def pushes_of(self, agent):
        return [d for kind, d in self.events if kind == "push" and d.get("agent_id") == agent]


def agents_in_table(driver):
    from selenium.webdriver.common.by import By
    return [r.find_elements(By.TAG_NAME, "td")[0].text
            for r in driver.find_elements(By.CSS_SELECTOR, "#agents-table tbody tr")]


def open_server_part(args, work, driver):
    from selenium.webdriver.common.by import By
    step("1. Open server: the client's push and pull")
    server = Server(args.coordinator, work, "open")
    server.start()
    try:
        events = EventReader(server.origin + "/events")
        events.start()
        check(events.ready.wait(10), "GET /events: the hello event")
        alice = Client(args.src, work, "alice")
        alice.setup("alice", ["python", "databases", "caf\u00e9 r\u00e9sum\u00e9"],
                    "Daily standup", server.origin)
        alice.push()
        alice.pull()
        log = server.access_log()
        check(any("POST /push 200" in line for line in log), "access log: POST /push 200")
        check(any("GET /pull 200" in line for line in log), "access log: GET /pull 200")
        pulled = server.get("/pull")
        check(pulled["contributing_agents"] == 1, "GET /pull: contributing_agents 1")
        check(pulled["merged_topic_counts"] == {"episodic": 1, "semantic": 3},
              "GET /pull: merged_topic_counts {episodic: 1, semantic: 3}",
              json.dumps(pulled["merged_topic_counts"]))
        check(sorted(pulled["unique_fact_hashes"]) ==
              sorted(["Daily standup", "python", "databases", "caf\u00e9 r\u00e9sum\u00e9"]),
              "GET /pull: the client's topic labels as facts (non-ASCII too)",
              json.dumps(pulled["unique_fact_hashes"]))
        agents = server.get("/agents")["agents"]
        check([a["agent_id"] for a in agents] == [alice.agent_id],
              "GET /agents: %s (sha256 of the repository path)" % alice.agent_id,
              json.dumps(agents))
        wait_until(lambda: events.pushes_of(alice.agent_id), 10)
        pushed = events.pushes_of(alice.agent_id)
        check(bool(pushed) and pushed[0]["topic_deltas"] == {"episodic": 1, "semantic": 3},
              "GET /events: the push event with its topic deltas", json.dumps(pushed))

        step("2. The web dashboard in chromium: a push arrives live")
        driver.get(server.origin + "/ui/")
        see(lambda: agents_in_table(driver) == [alice.agent_id],
            "/ui/ shows %s" % alice.agent_id)
        check(not driver.find_element(By.ID, "signin").is_displayed(),
              "no sign-in form (no keys)")
        see(lambda: driver.find_element(By.ID, "conn").text == "live", "badge 'live'")
        marker = driver.execute_script("window.__noReload = 7; return window.__noReload;")
        bob = Client(args.src, work, "bob")
        bob.setup("bob", ["rust", "python"], "Pairing session", server.origin)
        bob.push()
        see(lambda: bob.agent_id in agents_in_table(driver),
            "%s appeared in the agents table" % bob.agent_id)
        check(driver.execute_script("return window.__noReload;") == marker,
              "... without a reload (the page's state survived)")
        check(driver.find_element(By.ID, "s-agents").text == "2", "summary: 2 agents")
        driver.find_element(By.CSS_SELECTOR, '.tabs button[data-tab="activity"]').click()
        text = see(lambda: bob.agent_id in driver.find_element(By.ID, "activity-table").text
                   and driver.find_element(By.ID, "activity-table").text,
                   "activity view: bob's push") or ""
        check("episodic +1" in text and "semantic +2" in text,
              "activity view: 'episodic +1', 'semantic +2'", text)
        # Alice remembers one more thing and pushes again: a second live row with the change.
        alice.write("semantic/fact-9.md",
                    "---\nschema_version: \"1.0\"\nlast_updated: \"2026-11-30T13:00:00Z\"\n"
                    "source_agent_id: alice\nconfidence_score: 0.7\ntags: [release plan]\n"
                    "---\nThe release is on Friday.\n")
        alice.run("add", ".")
        alice.run("commit", "-m", "release plan")
        alice.push()
        text = see(lambda: "semantic +1" in driver.find_element(By.ID, "activity-table").text
                   and driver.find_element(By.ID, "activity-table").text,
                   "activity view: alice's second push, 'semantic +1'") or ""
        check(text.find(alice.agent_id) < text.find(bob.agent_id),
              "activity view: the newest push first", text)
        # Bob forgets one (the file removed from current/): a removal, live.
        os.remove(os.path.join(bob.repo, "current", "semantic", "fact-0.md"))
        bob.push()
        text = see(lambda: "semantic \u22121" in driver.find_element(By.ID, "activity-table").text
                   and driver.find_element(By.ID, "activity-table").text,
                   "activity view: bob's removal, 'semantic \u22121'") or ""
        check("semantic \u22121 \u00b7 \u22121 facts" in text,
              "activity view: 'semantic \u22121 \u00b7 \u22121 facts'", text)
        if args.screenshot:
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})
            time.sleep(0.5)
            driver.save_screenshot(args.screenshot)
            driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
            print("  wrote " + args.screenshot)
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        check(errors == [], "no console errors", json.dumps(errors))
    finally:
        server.stop()


def keys_part(args, work, driver):
    from selenium.webdriver.common.by import By
    step("3. Keys on a LAN address (127.0.0.2): sign in with a pull key")
    server = Server(args.coordinator, work, "lan", host=LAN_ADDRESS,
                    extra=["--allowed-host", LAN_NAME])
    pull_key = server.keys_create("dashboard", "pull")
    push_key = server.keys_create("agents", "push")
    server.start()
    try:
        carol = Client(args.src, work, "carol")
        carol.setup("carol", ["kubernetes", "python"], "On-call handover", server.origin)
        r = carol.push(expect_ok=False)
        check(r.returncode == 1 and "401" in r.stdout,
              "without a key the client's push is refused (401)", r.stdout)
        carol.configure(server.origin + "/k/" + push_key)
        carol.push()
        r = carol.run("federated", "pull")
        check(r.returncode == 1 and "Pull failed" in r.stdout,
              "the client's pull with the push-only key fails (403 on the wire)", r.stdout)
        log = server.access_log()
        # Refused before routing, a 401 is logged with its reason instead of the request line.
        check(any(" - 401 An API key is required" in line for line in log),
              "access log: the keyless push refused with 401")
        check(any("POST /k/***/push 200" in line for line in log),
              "access log: POST /k/***/push 200")
        check(any("GET /k/***/pull 403" in line for line in log),
              "access log: GET /k/***/pull 403")
        check(not any(push_key in line or pull_key in line for line in log),
              "no key in the access log")
        check([a["agent_id"] for a in server.get("/agents", pull_key)["agents"]] ==
              [carol.agent_id], "GET /agents with the pull key: carol's agent")

        port = server.origin.rsplit(":", 1)[1]
        origin = "http://%s:%s" % (LAN_NAME, port)
        driver.get(origin + "/ui/")
        see(lambda: driver.find_element(By.ID, "signin").is_displayed(),
            "%s/ui/ shows the sign-in form" % origin)
        field = driver.find_element(By.ID, "key")
        check(field.get_attribute("type") == "password", "the key field is a password field")
        field.send_keys(push_key)
        driver.find_element(By.CSS_SELECTOR, "#signin-form button").click()
        message = see(lambda: driver.find_element(By.ID, "signin-msg").text,
                      "a message after signing in with the push key") or ""
        check("pull" in message, "the push key is refused at sign-in", message)
        field = driver.find_element(By.ID, "key")
        field.clear()
        field.send_keys(pull_key)
        driver.find_element(By.CSS_SELECTOR, "#signin-form button").click()
        see(lambda: agents_in_table(driver) == [carol.agent_id],
            "signed in with the pull key: %s shown" % carol.agent_id)
        see(lambda: driver.find_element(By.ID, "conn").text == "live", "badge 'live'")
        dave = Client(args.src, work, "dave")
        dave.setup("dave", ["postgresql"], "Migration notes",
                   server.origin + "/k/" + push_key)
        dave.push()
        see(lambda: dave.agent_id in agents_in_table(driver),
            "%s (pushed through /k/KEY) appeared live" % dave.agent_id)
        requested = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name);")
        check(all(u.startswith(origin + "/") and pull_key not in u for u in requested),
              "every request on the page's origin, the key in no URL")
        errors = [e for e in driver.get_log("browser")
                  if e["level"] == "SEVERE" and "403" not in e["message"]]
        check(errors == [], "no console errors (besides the refused push key's 403)",
              json.dumps(errors))
    finally:
        server.stop()


def wire_part(args, work):
    step("4. The client's bytes on the wire, beside tests/data/client-push.http")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(2)
    port = listener.getsockname()[1]
    captured = []

    def serve(count):
        for _ in range(count):
            connection, _ = listener.accept()
            with connection:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += connection.recv(65536)
                head, body = data.split(b"\r\n\r\n", 1)
                lengths = [int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")]
                while len(body) < (lengths[0] if lengths else 0):
                    body += connection.recv(65536)
                captured.append((head, body))
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                   b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")

    thread = threading.Thread(target=serve, args=(2,), daemon=True)
    thread.start()
    erin = Client(args.src, work, "erin")
    erin.setup("erin", ["caf\u00e9 r\u00e9sum\u00e9", "python"], "Daily standup",
               "http://127.0.0.1:%d" % port)
    erin.push()
    erin.pull()
    thread.join(30)
    listener.close()
    if not check(len(captured) == 2, "captured the push and the pull"):
        return
    with open(RECORDED_PUSH, "rb") as f:
        recorded_head, recorded_body = f.read().split(b"\r\n\r\n", 1)
    with open(os.path.join(work, "captured-push.http"), "wb") as f:
        f.write(captured[0][0] + b"\r\n\r\n" + captured[0][1])
    head, body = captured[0]
    print("  captured push (%s):" % os.path.join(work, "captured-push.http"))
    for line in (head + b"\r\n\r\n" + body).decode().split("\r\n"):
        print("    | " + line)
    sent, expected = head.split(b"\r\n"), recorded_head.split(b"\r\n")
    check([line.split(b":")[0] for line in sent] == [line.split(b":")[0] for line in expected],
          "the same request line and header names, in the same order")
    varying = (b"Host:", b"Content-Length:", b"User-Agent:")
    check([line for line in sent if not line.startswith(varying)] ==
          [line for line in expected if not line.startswith(varying)],
          "the same header values (besides Host, Content-Length, User-Agent)")
    check(any(re.fullmatch(rb"User-Agent: Python-urllib/3\.\d+", line) for line in sent),
          "User-Agent: Python-urllib/3.x")
    document = json.loads(body)
    check(json.dumps(document).encode() == body,
          "body is json.dumps output (', ' and ': ' separators, non-ASCII as \\u escapes)")
    summary = document["summary"]
    check(list(summary) == list(json.loads(recorded_body)["summary"]),
          "the same envelope and field order: " + ", ".join(summary))
    check(summary["agent_id"] == erin.agent_id, "agent_id is %s" % erin.agent_id)
    check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00",
                       summary["timestamp"]) is not None,
          "timestamp like 2026-11-27T09:29:35.164165+00:00", summary["timestamp"])
    check(summary["topic_counts"] == {"episodic": 1, "semantic": 2},
          "topic_counts by memory type", json.dumps(summary["topic_counts"]))
    check(sorted(summary["fact_hashes"]) ==
          sorted(["Daily standup", "python", "caf\u00e9 r\u00e9sum\u00e9"]),
          "fact_hashes are topic labels", json.dumps(summary["fact_hashes"]))
    pull_head = captured[1][0].split(b"\r\n")
    check(pull_head[0] == b"GET /pull HTTP/1.1" and captured[1][1] == b"" and
          [line.split(b":")[0] for line in pull_head[1:]] ==
          [b"Accept-Encoding", b"Host", b"User-Agent", b"Connection"],
          "pull: GET /pull, no body, no Content-Type, no Accept",
          repr(captured[1][0]))


def wait_until(predicate, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline and not predicate():
        time.sleep(0.1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", help="the agmem client's source directory (has memvcs/)")
    parser.add_argument("--coordinator",
                        default=os.path.join(ROOT, "build", "src", "app", "agmem-coordinator"))
    parser.add_argument("--screenshot", help="write the dashboard after the live push here")
    args = parser.parse_args()
    args.src = os.path.abspath(args.src)
    args.coordinator = os.path.abspath(args.coordinator)
    if args.screenshot:
        args.screenshot = os.path.abspath(args.screenshot)
    if not os.path.isfile(os.path.join(args.src, "memvcs", "core", "federated.py")):
        sys.exit("not the agmem client's source: %s" % args.src)
    for tool in ("chromium", "chromedriver"):
        if not shutil.which(tool):
            sys.exit("missing %s (apt-get install chromium chromium-driver)" % tool)

    step("The client")
    version = subprocess.run([PYTHON, "-m", "memvcs.cli", "--version"], capture_output=True,
                             text=True, env=dict(os.environ, PYTHONPATH=args.src))
    with open(os.path.join(args.src, "pyproject.toml"), encoding="utf-8") as f:
        declared = re.search(r'^version = "([^"]+)"', f.read(), re.M)
    print("  %s (python3 -m memvcs.cli --version: %s; pyproject.toml: %s)"
          % (args.src, (version.stdout or version.stderr).strip(),
             declared.group(1) if declared else "?"))
    check(version.returncode == 0, "the client runs with " + PYTHON)

    work = tempfile.mkdtemp(prefix="agmem-real-client-")
    driver = browser(["--host-resolver-rules=MAP %s %s" % (LAN_NAME, LAN_ADDRESS)])
    try:
        driver.set_window_size(1280, 800)
        open_server_part(args, work, driver)
        driver.get("about:blank")
        driver.get_log("browser")
        keys_part(args, work, driver)
    finally:
        driver.quit()
    wire_part(args, work)

    step("Result")
    if failures:
        print("  %d check(s) failed: %s\n  (work folder kept: %s)"
              % (len(failures), "; ".join(failures), work))
        return 1
    shutil.rmtree(work)
    print("  every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
