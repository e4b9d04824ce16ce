#!/usr/bin/env python3
"""What streams opened and never completed cost a server: a measurement, not
a test (the bound on their lifetime is tested by half_open_streams.py).

Against a server at ADDRESS (process PID), opens CONNECTIONS raw HTTP/2
connections (python3-h2) that ACK the server's SETTINGS, so gRPC's stream
cap applies, and sends STREAMS HEADERS without their message on each; then
prints the server's RSS growth per stream.

  half_open_memory.py ADDRESS PID [CONNECTIONS=40] [STREAMS=256]
"""
import socket
import sys
import time

import h2.config
import h2.connection

host, port = sys.argv[1].rsplit(":", 1)
pid = sys.argv[2]
connections = int(sys.argv[3]) if len(sys.argv) > 3 else 40
streams = int(sys.argv[4]) if len(sys.argv) > 4 else 256


def rss_kib():
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


before = rss_kib()
held = []
for _ in range(connections):
    sock = socket.create_connection((host, int(port)))
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    sock.settimeout(1)
    try:
        conn.receive_data(sock.recv(65535))
    except socket.timeout:
        pass
    sock.sendall(conn.data_to_send())  # the SETTINGS ACK
    for i in range(streams):
        conn.send_headers(1 + 2 * i, [
            (":method", "POST"), (":scheme", "http"), (":authority", "localhost"),
            (":path", "/inventory.InventoryService/GetProductAvailability"),
            ("te", "trailers"), ("content-type", "application/grpc")])
    sock.sendall(conn.data_to_send())
    held.append((sock, conn))
time.sleep(3)
after = rss_kib()
print(f"{connections} connections x {streams} half-open streams: RSS {before / 1024:.0f} -> "
      f"{after / 1024:.0f} MiB, {(after - before) / (connections * streams):.1f} KiB per stream")
