#!/usr/bin/env python3
"""Keeps N clients on GET /events in one process (Python standard library only) and
discards what they receive: the cheap readers of bench/events-cost.sh.

  sse-readers.py URL N [gzip]
      prints "ready" once every stream got its first bytes, then reads until killed; on
      SIGTERM prints the bytes received (as sent: compressed with gzip, which asks for
      Accept-Encoding: gzip as browsers do).
"""
import selectors
import signal
import socket
import sys
import urllib.parse


def main():
    url, count = sys.argv[1], int(sys.argv[2])
    extra = b"Accept-Encoding: gzip\r\n" if sys.argv[3:] == ["gzip"] else b""
    u = urllib.parse.urlsplit(url)
    sel = selectors.DefaultSelector()
    waiting = set()
    for i in range(count):
        s = socket.create_connection((u.hostname, u.port))
        s.sendall(b"GET /events HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n%s\r\n"
                  % (u.hostname.encode(), u.port, extra))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        waiting.add(s)
    total = 0
    # One buffer for every recv: no new 64 KiB bytes object per read.
    buffer = memoryview(bytearray(1 << 16))
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    if not waiting:
        print("ready", flush=True)
    while not stop:
        for key, _ in sel.select(timeout=0.5):
            try:
                size = key.fileobj.recv_into(buffer)
            except (BlockingIOError, InterruptedError):
                continue
            if not size:
                sel.unregister(key.fileobj)
                continue
            total += size
            if key.fileobj in waiting:
                waiting.discard(key.fileobj)
                if not waiting:
                    print("ready", flush=True)
    print("received %d bytes" % total, flush=True)


if __name__ == "__main__":
    main()
