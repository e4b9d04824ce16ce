#!/usr/bin/env python3
"""Broken gRPC framing over raw HTTP/2 gets the answers docs/api.md states.

The engine parses request messages itself, so bytes that are not the
method's message get INVALID_ARGUMENT; a broken 5-byte message prefix is
answered by gRPC 1.51.1 before the engine sees the call (INTERNAL "Unable to
parse request"), and the server must still serve afterwards.

  broken_framing.py ADDRESS

Exit status 0 if every framing got its documented answer; 1 otherwise.
"""
import socket
import struct
import sys

import h2.config
import h2.connection
import h2.events

host, port = sys.argv[1].rsplit(":", 1)
port = int(port)
METHOD = "/inventory.InventoryService/GetProductAvailability"
BODY = b"\x0a\x0aproduct123"  # GetProductAvailabilityRequest{product_id: "product123"}


def prefixed(body, flag=0, length=None):
    return bytes([flag]) + struct.pack(">I", len(body) if length is None else length) + body


INVALID, INTERNAL, OK = "3", "13", "0"
# (name, DATA sent, extra headers, expected grpc-status or "RST", message part)
CASES = [
    ("well formed", prefixed(BODY), [], OK, None),
    ("length longer than the data", prefixed(BODY, length=len(BODY) + 5), [], INTERNAL,
     "Unable to parse request"),
    ("prefix cut short", b"\x00\x00\x00", [], INTERNAL, "Unable to parse request"),
    ("no DATA at all", b"", [], INTERNAL, "Unable to parse request"),
    ("length 2^32-1", b"\x00\xff\xff\xff\xff" + BODY, [], INTERNAL, "Unable to parse request"),
    ("length shorter than the data", prefixed(BODY, length=len(BODY) - 3), [], INVALID,
     "not a valid inventory.GetProductAvailabilityRequest"),
    ("bytes that are not the message", prefixed(b"\xff\xff\xff"), [], INVALID,
     "not a valid inventory.GetProductAvailabilityRequest"),
    ("compressed flag without grpc-encoding", prefixed(BODY, flag=1), [], OK, None),
    ("two messages on a unary call", prefixed(BODY) * 2, [], OK, None),
    ("gzip encoding, data not gzip", prefixed(BODY, flag=1), [("grpc-encoding", "gzip")], "RST",
     None),
]


def call(data, extra_headers):
    """One call on a fresh connection: its trailers (or RST) as a dict."""
    sock = socket.create_connection((host, port), timeout=10)
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    conn.send_headers(1, [(":method", "POST"), (":scheme", "http"), (":path", METHOD),
                          (":authority", "localhost"), ("te", "trailers"),
                          ("content-type", "application/grpc")] + extra_headers)
    conn.send_data(1, data, end_stream=True)
    sock.sendall(conn.data_to_send())
    result = {}
    try:
        while "done" not in result:
            chunk = sock.recv(65535)
            if not chunk:
                result["closed"] = True
                break
            for event in conn.receive_data(chunk):
                if isinstance(event, (h2.events.ResponseReceived, h2.events.TrailersReceived)):
                    result.update(dict(event.headers))
                elif isinstance(event, h2.events.StreamReset):
                    result["grpc-status"] = "RST"
                    result["done"] = True
                elif isinstance(event, h2.events.StreamEnded):
                    result["done"] = True
            sock.sendall(conn.data_to_send())
    finally:
        sock.close()
    return result


failures = 0
for name, data, headers, status, message in CASES:
    got = call(data, headers)
    ok = got.get("grpc-status") == status and (message is None or
                                                message in got.get("grpc-message", ""))
    print(f"{'ok  ' if ok else 'FAIL'} {name}: grpc-status {got.get('grpc-status')} "
          f"{got.get('grpc-message', '')!r} (expected {status}{' ' + repr(message) if message else ''})")
    failures += not ok
# After all of it the server still answers.
after = call(prefixed(BODY), [])
if after.get("grpc-status") != OK:
    print(f"FAIL the server no longer answers a well formed call: {after}")
    failures += 1
sys.exit(1 if failures else 0)
