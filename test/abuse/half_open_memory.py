#!/usr/bin/env python3
"""What streams opened and never completed cost a server: a measurement, not
a test (the bound on their lifetime is tested by half_open_streams.py).

Against a server at ADDRESS (process PID), opens CONNECTIONS raw HTTP/2
connections (python3-h2) that ACK the server's SETTINGS, so gRPC's stream
cap applies, and sends STREAMS HEADERS without their message on each; then
prints the server's RSS growth per stream.

  half_open_memory.py ADDRESS PID [CONNECTIONS=40] [STREAMS=256]
"""
import sys
import time

import h2raw

host, port = sys.argv[1].rsplit(":", 1)
pid = sys.argv[2]
connections = int(sys.argv[3]) if len(sys.argv) > 3 else 40
streams = int(sys.argv[4]) if len(sys.argv) > 4 else 256

before = h2raw.rss_mb(pid) * 1024
held = []
for _ in range(connections):
    sock, conn = h2raw.open_h2(host, int(port), ack_settings=True)
    for i in range(streams):
        conn.send_headers(1 + 2 * i, h2raw.REQUEST_HEADERS)
    sock.sendall(conn.data_to_send())
    held.append((sock, conn))
time.sleep(3)
after = h2raw.rss_mb(pid) * 1024
print(f"{connections} connections x {streams} half-open streams: RSS {before / 1024:.0f} -> "
      f"{after / 1024:.0f} MiB, {(after - before) / (connections * streams):.1f} KiB per stream")
