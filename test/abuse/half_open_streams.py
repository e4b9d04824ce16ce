#!/usr/bin/env python3
"""Streams opened and never completed end with their connection's age.

gRPC 1.51.1 keeps a stream whose HEADERS came without its message before any
request matches it, where the engine cannot see or cancel it, and keepalive
and --max_connection_idle do not end it (SECURITY.md). --max_connection_age
does: against an inventory_server started with a short age and grace, this
opens STREAMS such streams on one raw HTTP/2 connection (python3-h2),
answers the server's pings like a live client, and checks that the server
sends GOAWAY at about the age and closes the connection by age + grace.

  half_open_streams.py ADDRESS AGE_S GRACE_S [STREAMS]

Exit status 0 if both happened in time; 1 otherwise.
"""
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions

import h2raw

host, port = sys.argv[1].rsplit(":", 1)
age, grace = float(sys.argv[2]), float(sys.argv[3])
streams = int(sys.argv[4]) if len(sys.argv) > 4 else 100

sock = socket.create_connection((host, int(port)), timeout=1)
conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
conn.initiate_connection()
start = time.monotonic()
for i in range(streams):
    # HEADERS only: no DATA, no END_STREAM. The call waits for its message.
    conn.send_headers(1 + 2 * i, h2raw.REQUEST_HEADERS)
sock.sendall(conn.data_to_send())

goaway_at = closed_at = None
# Jitter is +-10% of the age; the rest is slack for a loaded machine.
give_up = start + age * 1.1 + grace + 20
while time.monotonic() < give_up:
    try:
        chunk = sock.recv(65535)
    except socket.timeout:
        continue
    except ConnectionResetError:
        chunk = b""
    if not chunk:
        closed_at = time.monotonic() - start
        break
    if goaway_at is not None:
        continue  # after GOAWAY h2 takes no more frames; wait for the close
    try:
        events = conn.receive_data(chunk)
    except h2.exceptions.ProtocolError:
        # gRPC follows its GOAWAY with a PING in the same read, which h2
        # refuses once a GOAWAY has closed its side: only that is expected.
        if conn.state_machine.state != h2.connection.ConnectionState.CLOSED:
            raise
        events = [h2.events.ConnectionTerminated()]
    if any(isinstance(event, h2.events.ConnectionTerminated) for event in events):
        goaway_at = time.monotonic() - start
        continue
    sock.sendall(conn.data_to_send())  # SETTINGS and PING acks: a live client
sock.close()

print(f"{streams} half-open streams: GOAWAY at {goaway_at and round(goaway_at, 2)} s, "
      f"closed at {closed_at and round(closed_at, 2)} s (age {age} s, grace {grace} s)")
ok = (goaway_at is not None and age * 0.9 - 0.5 <= goaway_at <= age * 1.1 + 10 and
      closed_at is not None and goaway_at <= closed_at <= goaway_at + grace + 10)
sys.exit(0 if ok else 1)
