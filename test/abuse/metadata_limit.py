#!/usr/bin/env python3
"""--max_metadata_bytes from two kinds of client: a measurement, not a test
(the grpcio side is asserted by inventory_service_test's transport limits).

Against a server at ADDRESS, sends GetProductAvailability("product123") with
one extra header of each SIZE: from grpcio, then over raw HTTP/2 (python3-h2,
which Huffman-codes the value and splits a large header block into HEADERS
and CONTINUATION frames), once on a connection that ACKed the server's
SETTINGS and once on one that never does; after each grpcio call, a plain
call on the same channel. Prints how every call ended.

  metadata_limit.py ADDRESS STUBS_DIR [SIZE...]   (default 8000 20000 100000)
"""
import socket
import struct
import sys

import grpc
import hpack
from hyperframe.frame import Frame, HeadersFrame

import h2raw

address, stubs = sys.argv[1], sys.argv[2]
sizes = [int(size) for size in sys.argv[3:]] or [8000, 20000, 100000]
sys.path.insert(0, stubs)
import inventory_pb2  # noqa: E402
import inventory_pb2_grpc  # noqa: E402

host, port = address.rsplit(":", 1)
port = int(port)
request = inventory_pb2.GetProductAvailabilityRequest(product_id="product123")
body = request.SerializeToString()
frame = b"\x00" + struct.pack(">I", len(body)) + body

# The client's own limit raised, so only the server's limit is measured.
channel = grpc.insecure_channel(address, options=[("grpc.max_metadata_size", 1 << 24)])
stub = inventory_pb2_grpc.InventoryServiceStub(channel)


def grpcio_call(size):
    metadata = [("x-padding", "a" * size)] if size else None
    try:
        stub.GetProductAvailability(request, metadata=metadata, timeout=5)
        return "OK"
    except grpc.RpcError as error:
        return f"{error.code().name} ({error.details()})"


def raw_call(size, ack_settings):
    """The first grpc-status the server sends for the call, read frame by
    frame (hyperframe, python3-h2's own parser) rather than through h2's
    state machine, which refuses what gRPC sends after resetting a stream."""
    sock, conn = h2raw.open_h2(host, port, ack_settings=ack_settings)
    conn.send_headers(1, h2raw.REQUEST_HEADERS + [("x-padding", "a" * size)])
    conn.send_data(1, frame, end_stream=True)
    sock.sendall(conn.data_to_send())
    decoder = hpack.Decoder()
    received = b""
    try:
        while True:
            while len(received) >= 9:
                header, length = Frame.parse_frame_header(memoryview(received[:9]))
                if len(received) < 9 + length:
                    break
                header.parse_body(memoryview(received[9:9 + length]))
                received = received[9 + length:]
                if isinstance(header, HeadersFrame):
                    fields = dict(decoder.decode(header.data))
                    if header.stream_id == 1 and "grpc-status" in fields:
                        return f"grpc-status {fields['grpc-status']} " \
                               f"{fields.get('grpc-message', '')}".strip()
            data = sock.recv(65535)
            if not data:
                return "connection closed, no status"
            received += data
    except socket.timeout:
        return "no status within 2 s"
    finally:
        sock.close()


for size in sizes:
    print(f"{size}-byte header:\n"
          f"  grpcio: {grpcio_call(size)}; then a plain call on that channel: {grpcio_call(0)}\n"
          f"  raw HTTP/2, SETTINGS ACKed: {raw_call(size, True)}\n"
          f"  raw HTTP/2, SETTINGS never ACKed: {raw_call(size, False)}")
