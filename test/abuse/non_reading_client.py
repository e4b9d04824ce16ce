#!/usr/bin/env python3
"""One client that never reads must not deny service to everyone else.

Against a running inventory_server at ADDRESS, this opens raw HTTP/2
connections (python3-h2) that send many requests and then never read a byte:
they never ACK the server's SETTINGS (so gRPC never applies its stream limit
to them) and never open their flow-control windows, so the server's answers
to them stay queued and the calls stay in flight. Meanwhile an ordinary gRPC
client (grpcio) must be served: every one of its calls must succeed.

  non_reading_client.py ADDRESS STUBS_DIR

Exit status 0 if every legitimate call succeeded; 1 otherwise (with counts
by status code). Bounded: at most a few thousand requests and ~1 minute.
"""
import socket
import struct
import sys
import time

import grpc
import h2.config
import h2.connection

address, stubs = sys.argv[1], sys.argv[2]
sys.path.insert(0, stubs)
import inventory_pb2  # noqa: E402
import inventory_pb2_grpc  # noqa: E402

host, port = address.rsplit(":", 1)
port = int(port)


def grpc_frame(message):
    body = message.SerializeToString()
    return b"\x00" + struct.pack(">I", len(body)) + body


def hostile_connection(method, message, count):
    """Sends `count` calls of `method` on one connection; never reads."""
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    # Take in the server's first frames (SETTINGS, window updates) for the
    # windows it grants, but drop the SETTINGS ACK h2 queues in reply: the
    # server never learns that its settings (its stream limit) took effect.
    sock.settimeout(2)
    try:
        conn.receive_data(sock.recv(65535))
    except socket.timeout:
        pass
    conn.data_to_send()
    # The stream limit the server announced is not applied to us until we
    # ACK it, so we are free to ignore it: a client may open as many streams
    # as the server takes.
    conn.remote_settings.max_concurrent_streams = 2**31 - 1
    conn.remote_settings.acknowledge()
    frame = grpc_frame(message)
    headers = [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/inventory.InventoryService/" + method),
        (":authority", address),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ]
    sent = 0
    try:
        for _ in range(count):
            stream_id = conn.get_next_available_stream_id()
            conn.send_headers(stream_id, headers)
            if conn.local_flow_control_window(stream_id) < len(frame):
                break  # the server's window is full: it takes no more
            conn.send_data(stream_id, frame, end_stream=True)
            sock.sendall(conn.data_to_send())
            sent += 1
    except (ConnectionError, socket.timeout) as error:
        print("hostile %s connection: the server closed it after %d calls (%s)" %
              (method, sent, error))
    return sock, sent


big_batch = inventory_pb2.BatchGetProductAvailabilityRequest(
    product_ids=["p%04d" % i for i in range(1000)])
single = inventory_pb2.GetProductAvailabilityRequest(product_id="product123")

hostile = []
# Large answers that cannot leave: 256 batches of 1000 ids need about 4 MB,
# against the 64 KiB window this connection never opens further.
hostile.append(hostile_connection("BatchGetProductAvailability", big_batch, 256))
# Many small calls on a connection that never ACKs SETTINGS, so gRPC never
# applies its concurrent-stream limit to it.
hostile.append(hostile_connection("GetProductAvailability", single, 20000))
time.sleep(1.0)  # let the server take them in

channel = grpc.insecure_channel(address)
stub = inventory_pb2_grpc.InventoryServiceStub(channel)
codes = {}
legit = 0
started = time.monotonic()
for i in range(40):
    for call, request in ((stub.GetProductAvailability, single),
                          (stub.BatchGetProductAvailability, big_batch)):
        legit += 1
        try:
            call(request, timeout=5)
            code = "OK"
        except grpc.RpcError as error:
            code = error.code().name
        codes[code] = codes.get(code, 0) + 1
elapsed = time.monotonic() - started
for sock, _ in hostile:
    sock.close()
print("hostile calls sent: %d on %d connections that never read" %
      (sum(sent for _, sent in hostile), len(hostile)))
print("legitimate calls: %d in %.1f s, by status: %s" % (legit, elapsed, codes))
sys.exit(0 if codes.get("OK", 0) == legit else 1)

