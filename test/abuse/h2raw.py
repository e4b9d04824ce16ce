"""Raw HTTP/2 for the abuse measurements: frames built by hand, so a client
can do what no well-behaved library lets it (never ACK SETTINGS, reset every
stream, repeat one HPACK block), and the server's RSS from /proc."""
import socket
import struct

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
HEADERS, RST_STREAM, SETTINGS, CONTINUATION = 0x1, 0x3, 0x4, 0x9
END_STREAM, END_HEADERS = 0x1, 0x4
GET_PATH = "/inventory.InventoryService/GetProductAvailability"
REQUEST_HEADERS = [(":method", "POST"), (":scheme", "http"), (":authority", "localhost"),
                   (":path", GET_PATH), ("te", "trailers"), ("content-type", "application/grpc")]


def frame(kind, flags, stream_id, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + \
        struct.pack(">I", stream_id) + payload


def connect(host, port):
    """A connection that has sent the preface and an empty SETTINGS, and will
    never ACK the server's."""
    sock = socket.create_connection((host, port))
    sock.sendall(PREFACE + frame(SETTINGS, 0, 0))
    return sock


def drain(sock):
    """Reads and drops whatever the server has sent; False once it closed."""
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
        sock.setblocking(True)


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0
