#!/usr/bin/python3
"""A 200 means committed, also while the server is stopped under load.

Starts the real binary (its default: the writer thread) on a fresh SQLite file, keeps 16
clients pushing summaries of new agents (each on a new connection, like the agmem client),
stops the server with SIGTERM or SIGKILL in the middle of it, starts it again on the same
file and checks that every push that was answered 200 is in the merged view. Exit 0 when
all are there, 1 otherwise. Talks to 127.0.0.1 only; bounded in time.

Usage: stop_under_load.py path/to/agmem-coordinator SIGTERM|SIGKILL [more server options]
"""
import http.client
import json
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

binary, signame, *extra = sys.argv[1:]
work = tempfile.TemporaryDirectory()
db = "sqlite://" + work.name + "/stop.db"


def start():
    process = subprocess.Popen(
        [binary, "--no-gui", "--port", "0", "--db", db, "--rate-limit", "0", "--no-access-log",
         *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if found:
            # Keep reading its output so that it never blocks on a full pipe.
            threading.Thread(target=lambda: process.stdout.read(), daemon=True).start()
            return process, int(found.group(1))
    process.kill()
    sys.exit(f"the server did not start:\n{process.stdout.read()}")


server, port = start()
acknowledged = set()
lock = threading.Lock()
stopping = threading.Event()


def push_forever(client):
    n = 0
    while not stopping.is_set():
        agent = f"agent-{client}-{n}"
        n += 1
        body = json.dumps({"summary": {"agent_id": agent,
                                       "timestamp": "2026-11-30T10:00:00+00:00",
                                       "topic_counts": {"episodic": 1},
                                       "fact_hashes": [agent]}})
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("POST", "/push", body, {"Content-Type": "application/json",
                                                      "Connection": "close"})
            answer = connection.getresponse()
            answer.read()
            connection.close()
            if answer.status == 200:
                with lock:
                    acknowledged.add(agent)
        except OSError:
            time.sleep(0.01)  # stopped under us: nothing acknowledged


clients = [threading.Thread(target=push_forever, args=(c,)) for c in range(16)]
for c in clients:
    c.start()
time.sleep(1.5)
server.send_signal(getattr(signal, signame))
code = server.wait(timeout=30)
stopping.set()
for c in clients:
    c.join(timeout=30)

server, port = start()
try:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/pull")
    stored = set(json.loads(connection.getresponse().read())["unique_fact_hashes"])
finally:
    server.terminate()
    server.wait(timeout=30)

missing = sorted(acknowledged - stored)
print(f"{signame}: exit code {code}; {len(acknowledged)} pushes answered 200, "
      f"{len(stored)} stored, {len(missing)} answered but missing {missing[:5]}")
if signame == "SIGTERM" and code != 0:
    sys.exit("SIGTERM must stop the server cleanly (exit code 0)")
if not acknowledged:
    sys.exit("no push was answered before the stop: nothing was checked")
sys.exit(1 if missing else 0)
