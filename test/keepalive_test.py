#!/usr/bin/python3
"""An idle client that keeps its channel alive with pings keeps its connection.

    keepalive_test.py ADDRESS [--keepalive_ms=N] [--idle_s=S] [--expect_goaway]

Opens one grpcio channel with keepalive pings on an idle connection
(keepalive_time N ms, keepalive_permit_without_calls, no cap on pings without
data), makes a health Check, idles S seconds with no call in progress, and
makes another Check. It records every connectivity state the channel passes
through.

Without --expect_goaway it passes if both calls succeed and the channel stayed
READY from the first call to the second (the server never closed the
connection, e.g. with GOAWAY too_many_pings). With --expect_goaway it passes
only if the channel left READY while idle (the server closed it), so the same
script shows the server's other policy takes effect.

Exit status: 0 pass, 1 fail, 2 bad usage.
"""

import argparse
import sys
import threading
import time

import grpc

CHECK = "/grpc.health.v1.Health/Check"
SERVING = b"\x08\x01"  # HealthCheckResponse{status: SERVING}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("address")
    parser.add_argument("--keepalive_ms", type=int, default=1000)
    parser.add_argument("--idle_s", type=float, default=6.0)
    parser.add_argument("--expect_goaway", action="store_true")
    args = parser.parse_args()

    options = [
        ("grpc.keepalive_time_ms", args.keepalive_ms),
        ("grpc.keepalive_timeout_ms", 5000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        # No proxy between this client and loopback.
        ("grpc.enable_http_proxy", 0),
    ]
    channel = grpc.insecure_channel(args.address, options=options)
    states = []
    lock = threading.Lock()

    def record(state):
        with lock:
            states.append((time.monotonic(), state))

    channel.subscribe(record, try_to_connect=True)
    check = channel.unary_unary(CHECK)

    def call(when):
        try:
            answer = check(b"", timeout=5)
        except grpc.RpcError as error:
            print(f"FAIL Check {when}: {error.code().name}: {error.details()}", file=sys.stderr)
            return False
        if answer != SERVING:
            print(f"FAIL Check {when}: answer {answer!r}, expected SERVING", file=sys.stderr)
            return False
        return True

    if not call("before idling"):
        return 1
    time.sleep(args.idle_s)
    second_ok = call(f"after idling {args.idle_s:g} s")
    idle_to = time.monotonic()
    channel.unsubscribe(record)
    channel.close()

    with lock:
        order = [state for at, state in states if at <= idle_to]
        seen = [state.name for _, state in states]
    # What the channel did once READY (the first call succeeded, so it got
    # there). grpcio delivers these callbacks on its own thread, in order but
    # late under load, so a notification's time does not say when the state
    # changed: the order does. A late IDLE -> READY is not "left READY".
    ready_at = order.index(grpc.ChannelConnectivity.READY) \
        if grpc.ChannelConnectivity.READY in order else len(order)
    during = order[ready_at:]
    left_ready = any(state != grpc.ChannelConnectivity.READY for state in during)
    print(f"states: {' -> '.join(seen)}")
    if args.expect_goaway:
        if not left_ready:
            print(f"FAIL the server kept the idle, pinging connection open for {args.idle_s:g} s "
                  "(expected it to close it)", file=sys.stderr)
            return 1
        print(f"ok   the server closed the idle, pinging connection: "
              f"{' -> '.join(s.name for s in during)}")
        return 0
    if not second_ok:
        return 1
    if left_ready:
        print(f"FAIL the channel left READY while idle with keepalive pings every "
              f"{args.keepalive_ms} ms: {' -> '.join(s.name for s in during)}", file=sys.stderr)
        return 1
    print(f"ok   idle {args.idle_s:g} s with a ping every {args.keepalive_ms} ms: the channel "
          "stayed READY and the next call succeeded on the same connection")
    return 0


if __name__ == "__main__":
    sys.exit(main())
