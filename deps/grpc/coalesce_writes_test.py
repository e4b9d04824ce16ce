"""Coalesced writes (deps/grpc/patches/0001-coalesce-writes.patch): N
GetProductAvailability requests sent in one TCP segment on one connection,
and the sendmsg calls the server (every thread of it, traced with strace -f
-c) makes to answer them all. Every answer must be grpc-status 0 with the
built-in catalog's product123 (quantity 10). The TCP segments the answers
arrived in are printed too, for information only: the kernel's autocorking
merges small writes on loopback, more so on a busy machine, so segments say
little about the server's writes.

  coalesce_writes_test.py HOST:PORT [SERVER_PID] --expect=coalesced|separate [--calls=N]

coalesced: at most N/16 sendmsg calls (the server sent many answers per
write); separate: at least N/2 (gRPC's own behaviour: one per answer).
Run the server with one completion queue: with two, gRPC sometimes hands a
busy connection's work to its executor thread, which does not hold writes.
Exit status 77 if the server cannot be traced (ptrace not permitted).
"""
import argparse
import glob
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "test", "abuse"))
import h2.events  # noqa: E402

import h2raw  # noqa: E402

# struct tcp_info (linux/tcp.h): tcpi_data_segs_in, the segments received
# that carried data, is the u32 at byte 152 (after tcpi_min_rtt).
DATA_SEGS_IN_OFFSET = 152
# The request: product_id = "product123"; the answer: available = true,
# quantity = 10 (the built-in catalog).
REQUEST = b"\x00" + struct.pack(">I", 12) + b"\x0a\x0aproduct123"
ANSWER = b"\x00" + struct.pack(">I", 4) + b"\x08\x01\x10\x0a"


def data_segments_in(sock):
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    if len(info) < DATA_SEGS_IN_OFFSET + 4:
        sys.exit(f"FAIL: struct tcp_info is {len(info)} bytes, too old a kernel for "
                 "tcpi_data_segs_in")
    return struct.unpack_from("I", info, DATA_SEGS_IN_OFFSET)[0]


class SendmsgCounter:
    """strace -f -c on every thread of `pid`, counting sendmsg calls, from
    start() (which returns once every thread is traced) to stop()."""

    def __init__(self, pid):
        self.pid = pid
        self.out = tempfile.NamedTemporaryFile(prefix="coalesce_strace.", delete=False).name
        self.proc = None

    def traced(self):
        for status in glob.glob(f"/proc/{self.pid}/task/*/status"):
            try:
                with open(status) as f:
                    if "TracerPid:\t0\n" in f.read():
                        return False
            except OSError:
                pass  # a thread that just exited
        return True

    def start(self, deadline):
        self.proc = subprocess.Popen(
            ["strace", "-f", "-qq", "-c", "-e", "trace=sendmsg", "-o", self.out,
             "-p", str(self.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while not self.traced():
            if self.proc.poll() is not None:
                print("SKIP: cannot trace the server: "
                      + self.proc.stderr.read().decode(errors="replace").strip())
                sys.exit(77)
            if time.monotonic() > deadline:
                sys.exit("FAIL: strace did not attach to every server thread in time")
            time.sleep(0.01)

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=20)
        calls = 0
        with open(self.out) as f:
            for line in f:
                fields = line.split()
                if fields and fields[-1] == "sendmsg":
                    calls = int(fields[3])  # % time, seconds, usecs/call, calls
        os.unlink(self.out)
        return calls


def call_all(sock, conn, count, deadline):
    """Sends `count` requests in one write and reads until every stream has
    ended; returns {stream_id: (data, trailers)}."""
    streams = {}
    for _ in range(count):
        stream_id = conn.get_next_available_stream_id()
        conn.send_headers(stream_id, h2raw.REQUEST_HEADERS)
        conn.send_data(stream_id, REQUEST, end_stream=True)
        streams[stream_id] = [b"", None]
    sock.sendall(conn.data_to_send())
    open_streams = set(streams)
    while open_streams:
        if time.monotonic() > deadline:
            sys.exit(f"FAIL: {len(open_streams)} of {count} calls unanswered in time")
        data = sock.recv(1 << 16)
        if not data:
            sys.exit("FAIL: the server closed the connection")
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.DataReceived):
                streams[event.stream_id][0] += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.TrailersReceived):
                streams[event.stream_id][1] = dict(event.headers)
            elif isinstance(event, h2.events.StreamEnded):
                open_streams.discard(event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                sys.exit(f"FAIL: stream {event.stream_id} reset (code {event.error_code})")
        pending = conn.data_to_send()
        if pending:
            sock.sendall(pending)
    for stream_id, (data, trailers) in streams.items():
        status = (trailers or {}).get(b"grpc-status")
        if status != b"0" or data != ANSWER:
            sys.exit(f"FAIL: stream {stream_id}: grpc-status {status!r}, data {data!r}")
    return streams


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("address")
    parser.add_argument("server_pid", type=int, nargs="?",
                        default=int(os.environ.get("SERVER_PID", "0")),
                        help="default: $SERVER_PID (test/run_with_server.sh sets it)")
    parser.add_argument("--expect", choices=["coalesced", "separate"], required=True)
    parser.add_argument("--calls", type=int, default=64)
    args = parser.parse_args()
    if args.server_pid <= 0:
        sys.exit("FAIL: no server pid (argument or $SERVER_PID)")
    host, port = args.address.rsplit(":", 1)
    sock, conn = h2raw.open_h2(host, int(port), ack_settings=True)
    sock.settimeout(10)
    deadline = time.monotonic() + 30
    # One call first, so the handshake's frames are behind us; then let any
    # straggler (a window update, a settings ACK) arrive before counting.
    call_all(sock, conn, 1, deadline)
    sock.settimeout(0.2)
    try:
        while True:
            data = sock.recv(1 << 16)
            if not data:
                sys.exit("FAIL: the server closed the connection")
            conn.receive_data(data)
    except socket.timeout:
        pass
    sock.settimeout(10)
    counter = SendmsgCounter(args.server_pid)
    counter.start(deadline)
    before = data_segments_in(sock)
    call_all(sock, conn, args.calls, deadline)
    segments = data_segments_in(sock) - before
    writes = counter.stop()
    sock.close()
    print(f"{args.calls} answers, all OK, written with {writes} sendmsg call(s); "
          f"they arrived in {segments} TCP segment(s) with data")
    if args.expect == "coalesced" and writes > args.calls // 16:
        sys.exit(f"FAIL: expected coalesced writes (at most {args.calls // 16} sendmsg), "
                 f"got {writes}")
    if args.expect == "separate" and writes < args.calls // 2:
        sys.exit(f"FAIL: expected gRPC's own writes (at least {args.calls // 2} sendmsg), "
                 f"got {writes}")
    print(f"ok: {args.expect}")


if __name__ == "__main__":
    main()
