"""Raw HTTP/2 for the abuse tests and measurements: frames built by hand, so
a client can do what no well-behaved library lets it (never ACK SETTINGS,
reset every stream, repeat one HPACK block); an h2 (python3-h2) connection
that has taken in the server's first frames; and the server's RSS."""
import socket
import struct

import h2.config
import h2.connection

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
HEADERS, RST_STREAM, SETTINGS, CONTINUATION = 0x1, 0x3, 0x4, 0x9
END_STREAM, END_HEADERS = 0x1, 0x4
GET_PATH = "/inventory.InventoryService/GetProductAvailability"
REQUEST_HEADERS = [(":method", "POST"), (":scheme", "http"), (":authority", "localhost"),
                   (":path", GET_PATH), ("te", "trailers"), ("content-type", "application/grpc")]


def frame(kind, flags, stream_id, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + \
        struct.pack(">I", stream_id) + payload


def open_h2(host, port, ack_settings, receive_buffer=None):
    """An h2 client connection that has sent its preface and taken in the
    server's first frames (SETTINGS, window updates, for the windows they
    grant). With `ack_settings` False the SETTINGS ACK h2 queues in reply is
    dropped: the server never learns that its settings, its stream limit
    among them, took effect. `receive_buffer` sets SO_RCVBUF before the
    connection is made. The socket has a 2 s timeout."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect((host, port))
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    sock.settimeout(2)
    try:
        conn.receive_data(sock.recv(65535))
    except socket.timeout:
        pass
    ack = conn.data_to_send()
    if ack_settings:
        sock.sendall(ack)
    return sock, conn


def connect(host, port):
    """A connection that has sent the preface and an empty SETTINGS, and will
    never ACK the server's. Its socket has a 5 s timeout."""
    sock = socket.create_connection((host, port), timeout=5)
    sock.sendall(PREFACE + frame(SETTINGS, 0, 0))
    return sock


def drain(sock):
    """Reads and drops whatever the server has sent; False once it closed.
    The socket's timeout is kept."""
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        while True:
            if not sock.recv(1 << 16):
                return False
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.settimeout(timeout)


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0
