#!/usr/bin/env python3
"""Writes the seed corpora in tests/fuzz/corpus/ from the rows of the unit-test tables
(tst_summaryparser.cpp, tst_ratelimiter.cpp's RequestHeadScanner table) and the real
client's request in tests/data/client-push.http. Run it again after adding rows."""
import hashlib
import pathlib

here = pathlib.Path(__file__).resolve().parent
client = (here.parent / "data" / "client-push.http").read_bytes()
client_body = client.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in client else client.split(b"\n\n", 1)[1]

HEAD = b'"agent_id": "agent-1", "timestamp": "2025-01-01T00:00:00+00:00"'


def env(fields: bytes) -> bytes:
    return b'{"summary": {' + fields + b"}}"


def with_head(extra: bytes = b"") -> bytes:
    return env(HEAD + (b", " + extra if extra else b""))


summaries = [
    client_body,
    with_head(),
    with_head(b'"topic_counts": {"a": 1, "b": 2}, "fact_hashes": ["x", "y", "x"]'),
    with_head(b'"metadata": {"k": [1, 2, {"n": null}]}, "memory_types": ["episodic"]'),
    b"", b"null", b"{", b"[]", b'{"summary": null}', b'{"summary": []}', b"{}",
    env(b'"timestamp": "2025-01-01"'), env(b'"agent_id": "a"'),
    env(b'"agent_id": 123, "timestamp": "2025-01-01"'),
    env(b'"agent_id": "", "timestamp": "2025-01-01"'),
    env(b'"agent_id": "a", "timestamp": "yesterday"'),
    env(b'"agent_id": "a", "timestamp": ""'),
    env(b'"agent_id": "a", "timestamp": "2025-13-01T00:00:00"'),
    env(b'"agent_id": "a", "timestamp": "2025-01-01T00:00:00Z"'),
    env(b'"agent_id": "a", "timestamp": "2025-01-01 00:00:00"'),
    env(b'"agent_id": "a", "timestamp": "20250101T000000Z"'),
    env(b'"agent_id": "a", "timestamp": "2025-01-01T02:30:00+02:30"'),
    env(b'"agent_id": "a", "timestamp": "2026-11-27T09:29:35.164165+00:00"'),
    with_head(b'"topic_counts": {"t": "5"}'), with_head(b'"topic_counts": {"t": true}'),
    with_head(b'"topic_counts": {"t": 5.7}'), with_head(b'"topic_counts": {"t": -3}'),
    with_head(b'"topic_counts": {"t": 18446744073709551616}'),
    with_head(b'"topic_counts": {"t": 9223372036854775807, "u": 1e3}'),
    with_head(b'"topic_counts": []'), with_head(b'"fact_hashes": [1, 2]'),
    with_head(b'"fact_hashes": ["ok", "\\ud800"]'), with_head(b'"fact_hashes": ["\\udc00\\ud800"]'),
    with_head(b'"topic_counts": {"\\u00e9t\\u00e9": 1}'),
    b'{"summary": {"agent_id": "\xff\xfe", "timestamp": "2025-01-01"}}',
    with_head(b'"topic_counts": {"a": 1, "a": 2}'),
]

requests = [
    client,
    b"GET /pull HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /pull HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /push HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.0\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n",
    b"POST /push HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    b"POST /push HTTP/1.1\r\nExpect: something\r\n\r\n",
    b"POST /push HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"POST /push HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
    b"POST /push HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
    b"POST /push HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /push HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    b"POST /push HTTP/1.1\r\nContent-Length: +1\r\n\r\n",
    b"POST /push HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
    b"GET /pull\r\n\r\n", b"GET  /pull HTTP/1.1\r\n\r\n", b"G@T /pull HTTP/1.1\r\n\r\n",
    b"GET /pull HTTP/2.0\r\n\r\n", b"GET /pull HTTP/1.12\r\n\r\n",
    b"GET /pull HTTP/1.1\r\nno colon\r\n\r\n", b"GET /pull HTTP/1.1\r\n: empty\r\n\r\n",
    b"GET /pull HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
    b"GET /pull HTTP/1.1\nHost: x\n\n",
    b"\r\n\r\nGET /pull HTTP/1.1\r\n\r\n",
    b"GET /pull HTTP/1.1\r\nX: " + b"a" * 300 + b"\r\n\r\n",
    # issue 11: QHttpServer 6.4's header limits, WebSocket upgrades, nothing after close
    b"POST /push HTTP/1.1\r\n" + b"a:\r\n" * 101 + b"Content-Length: 4\r\n\r\nGET ",
    b"GET / HTTP/1.1\r\n" + b"a:\r\n" * 100 + b"\r\n",
    b"GET / HTTP/1.1\r\nX: " + b"a" * 8190 + b"\r\n\r\n",
    b"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    b"GET / HTTP/1.1\r\nConnection: close\r\n\r\nPOST /push HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
    b"GET / HTTP/1.0\r\n\r\nGET / HTTP/1.1\r\n\r\n",
    b"\r\n\r\n\r\n",
]

for name, items, prefix in (("summaryparser", summaries, b""), ("headscanner", requests, None)):
    out = here / "corpus" / name
    out.mkdir(parents=True, exist_ok=True)
    for item in items:
        # headscanner: the first byte seeds how the stream is split into reads.
        data = item if prefix is not None else bytes([len(item) % 256]) + item
        (out / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)
