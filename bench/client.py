#!/usr/bin/env python3
"""Load patterns wrk cannot express, for bench/run.sh (Python 3 standard library only).

  client.py seed URL AGENTS FACTS [THREADS]
      one push per agent, FACTS fact hashes each (the state the next commands need)
  client.py pairs URL AGENTS FACTS CLIENTS SECONDS [gzip]
      the real client's pattern: each client pushes a changed summary for a random agent
      and then pulls, each request on a new connection; prints pairs/s and pair latency
  client.py change URL AGENTS FACTS ROUNDS
      a pull right after a one-agent change, against a pull of an unchanged view, plain
      and gzip; prints the p50 of each

Talks to the given URL only (127.0.0.1 in bench/run.sh). Facts are hex strings derived
from (agent, index, version): 64 characters when FACTS_HEX=64, else 40.
"""
import hashlib
import http.client
import json
import random
import statistics
import sys
import threading
import time
import urllib.parse

HEX = 40


def fact(agent, index, version):
    digest = hashlib.sha256(f"{agent}/{index}/{version}".encode()).hexdigest()
    return digest[:HEX]


def body(agent, facts, version):
    seconds = version % 60
    minutes = (version // 60) % 60
    hours = (version // 3600) % 24
    summary = {
        "agent_id": f"agent-{agent:06d}",
        "timestamp": f"2026-11-27T{hours:02d}:{minutes:02d}:{seconds:02d}.{agent % 1000000:06d}+00:00",
        "topic_counts": {"episodic": version % 7 + 1, "semantic": agent % 11, f"t{agent % 50}": 1},
        "fact_hashes": [fact(agent, i, version) for i in range(facts)],
    }
    return json.dumps({"summary": summary}).encode()


class Target:
    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port

    def connect(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=120)

    def request(self, method, path, payload=None, headers=None, conn=None, close=True):
        own = conn is None
        c = conn or self.connect()
        h = dict(headers or {})
        if payload is not None:
            h["Content-Type"] = "application/json"
        if close:
            h["Connection"] = "close"
        c.request(method, path, body=payload, headers=h)
        r = c.getresponse()
        data = r.read()
        if own:
            c.close()
        if r.status != 200:
            raise RuntimeError(f"{method} {path}: {r.status} {data[:200]!r}")
        return r, data


def seed(target, agents, facts, threads=16):
    def work(start):
        conn = target.connect()
        for a in range(start, agents, threads):
            target.request("POST", "/push", body(a, facts, 0), conn=conn, close=False)
        conn.close()

    ts = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def pairs(target, agents, facts, clients, seconds, gzip):
    stop = time.monotonic() + seconds
    lat = []
    lock = threading.Lock()
    version = [1]
    pull_headers = {"Accept-Encoding": "gzip" if gzip else "identity"}

    def work(seed_value):
        rnd = random.Random(seed_value)
        while time.monotonic() < stop:
            with lock:
                version[0] += 1
                v = version[0]
            t0 = time.monotonic()
            target.request("POST", "/push", body(rnd.randrange(agents), facts, v))
            target.request("GET", "/pull", headers=pull_headers)
            with lock:
                lat.append(time.monotonic() - t0)

    t_start = time.monotonic()
    ts = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.monotonic() - t_start
    lat.sort()
    p50 = lat[len(lat) // 2] * 1000 if lat else float("nan")
    print(f"pairs {len(lat)} pairs_per_s {len(lat) / elapsed:.2f} p50_ms {p50:.1f}")


def change(target, agents, facts, rounds):
    def timed_pull(enc):
        t0 = time.perf_counter()
        _, data = target.request("GET", "/pull", headers={"Accept-Encoding": enc})
        return (time.perf_counter() - t0) * 1000, len(data)

    out = {"changed_plain": [], "changed_gzip": [], "cached_plain": [], "cached_gzip": []}
    size = {}
    conn = target.connect()
    for r in range(rounds):
        for enc, key in (("identity", "plain"), ("gzip", "gzip")):
            target.request("POST", "/push", body(r % agents, facts, 1000 + 2 * r + (key == "gzip")),
                           conn=conn, close=False)
            ms, n = timed_pull(enc)
            out["changed_" + key].append(ms)
            ms, n = timed_pull(enc)
            out["cached_" + key].append(ms)
            size[key] = n
    conn.close()
    med = {k: statistics.median(v) for k, v in out.items()}
    print(" ".join(f"{k}_ms {v:.2f}" for k, v in med.items()),
          f"plain_bytes {size['plain']} gzip_bytes {size['gzip']}")


def main():
    global HEX
    import os
    HEX = int(os.environ.get("FACTS_HEX", "40"))
    cmd, url = sys.argv[1], sys.argv[2]
    t = Target(url)
    a = [int(x) for x in sys.argv[3:5]]
    if cmd == "seed":
        seed(t, a[0], a[1], int(sys.argv[5]) if len(sys.argv) > 5 else 16)
    elif cmd == "pairs":
        pairs(t, a[0], a[1], int(sys.argv[5]), float(sys.argv[6]),
              len(sys.argv) > 7 and sys.argv[7] == "gzip")
    elif cmd == "change":
        change(t, a[0], a[1], int(sys.argv[5]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
