#!/usr/bin/env python3
"""One client that never reads must not deny service to everyone else.

Against a running inventory_server at ADDRESS (started with
--synthetic_products=1000, so the batches' ids exist and their answers are
large), this opens raw HTTP/2 connections (python3-h2), one attack at a
time, that send many requests and never take in an answer: they never ACK
the server's SETTINGS (so gRPC never applies its stream limit to them) and
never open their flow-control windows, so the server's answers to them stay
queued and the calls stay in flight. After each, an ordinary gRPC client
(grpcio) must be served: every one of its calls must succeed. Against the
engine before its slot pool, the large batches pinned every BatchGet slot
and the ordinary client's batches ended DEADLINE_EXCEEDED.

  non_reading_client.py ADDRESS STUBS_DIR

Exit status 0 if every legitimate call succeeded; 1 otherwise (with counts
by status code). Bounded: at most a few thousand requests and ~1 minute.
"""
import socket
import struct
import sys
import time

import grpc
import h2raw

address, stubs = sys.argv[1], sys.argv[2]
sys.path.insert(0, stubs)
import inventory_pb2  # noqa: E402
import inventory_pb2_grpc  # noqa: E402

host, port = address.rsplit(":", 1)
port = int(port)


def grpc_frame(message):
    body = message.SerializeToString()
    return b"\x00" + struct.pack(">I", len(body)) + body


def wait_for_window(sock, conn, stream_id, size):
    """Until the server's window takes `size` more bytes: takes in what the
    server sends (its WINDOW_UPDATEs as it consumes requests, its answers)
    without ever acknowledging received data, so this client's own window
    stays shut and the answers cannot leave the server. False after 2 s."""
    deadline = time.monotonic() + 2
    while conn.local_flow_control_window(stream_id) < size:
        if time.monotonic() > deadline:
            return False
        try:
            data = sock.recv(65535)
        except socket.timeout:
            continue
        if not data:
            raise ConnectionError("closed by the server")
        conn.receive_data(data)
        # PING acks only: h2 sends no WINDOW_UPDATE unless told to, and the
        # SETTINGS ACK was dropped when the connection opened.
        sock.sendall(conn.data_to_send())
    return True


def hostile_connection(method, message, count):
    """Sends `count` calls of `method` on one connection; never reads."""
    sock, conn = h2raw.open_h2(host, port, ack_settings=False, receive_buffer=4096)
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
            if not wait_for_window(sock, conn, stream_id, len(frame)):
                break  # the server's window stays full: it takes no more
            conn.send_data(stream_id, frame, end_stream=True)
            sock.sendall(conn.data_to_send())
            sent += 1
    except (ConnectionError, socket.timeout) as error:
        print("hostile %s connection: the server closed it after %d calls (%s)" %
              (method, sent, error))
    return sock, sent


big_batch = inventory_pb2.BatchGetProductAvailabilityRequest(
    product_ids=["sku-%08d" % i for i in range(1000)])
single = inventory_pb2.GetProductAvailabilityRequest(product_id="product123")

channel = grpc.insecure_channel(address)
stub = inventory_pb2_grpc.InventoryServiceStub(channel)


def legitimate_calls(rounds=10):
    """Both methods from an ordinary client, `rounds` times: codes by name."""
    codes = {}
    for _ in range(rounds):
        for call, request in ((stub.GetProductAvailability, single),
                              (stub.BatchGetProductAvailability, big_batch)):
            try:
                call(request, timeout=2)
                code = "OK"
            except grpc.RpcError as error:
                code = error.code().name
            codes[code] = codes.get(code, 0) + 1
    return codes


failed = False
# One attack at a time, each with its own check: gRPC may close one hostile
# connection because of the other, which would free what the first pins.
for name, method, message, count in (
        # Large answers that cannot leave: 256 batches of 1000 known ids need
        # about 5 MB, against the 64 KiB window this connection never opens.
        ("256 large batches, never read", "BatchGetProductAvailability", big_batch, 256),
        # Many small calls on a connection that never ACKs SETTINGS, so gRPC
        # never applies its concurrent-stream limit to it.
        ("20,000 small calls, no SETTINGS ACK", "GetProductAvailability", single, 20000)):
    sock, sent = hostile_connection(method, message, count)
    time.sleep(1.0)  # let the server take them in
    started = time.monotonic()
    codes = legitimate_calls()
    elapsed = time.monotonic() - started
    sock.close()
    legit = sum(codes.values())
    print("%s: %d hostile calls sent; legitimate calls: %d in %.1f s, by status: %s" %
          (name, sent, legit, elapsed, codes))
    failed = failed or codes.get("OK", 0) != legit
sys.exit(1 if failed else 0)
