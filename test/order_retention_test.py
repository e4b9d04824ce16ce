#!/usr/bin/python3
"""Order records are bounded by --order_retention, in memory and on disk.

    order_retention_test.py INVENTORY_SERVER PROTOC [--rounds=N] [--orders=N]
                            [--retention=DURATION] [--report]

Starts a real inventory_server (ephemeral ports, a data directory of its own,
--order_retention short), and over gRPC:
  1. reserves 10 orders and never releases them (they hold stock);
  2. in each of N rounds, reserves and releases ORDERS new order ids, then
     waits until /metrics shows the released ones forgotten
     (inventory_order_records back to 10); records the server's RSS and the
     data directory's size after each round;
  3. checks: a forgotten order's release is NOT_FOUND (stock never returned
     twice); stock is exact; the held orders are still answered from their
     records; the records held never exceeded those the window allows;
  4. stops the server (SIGTERM, exit 0), starts it again on the same
     directory, and checks that the forgotten orders stayed forgotten (the
     deletions reached RocksDB), the held ones came back, and stock is exact.
With --report it prints the RSS and size figures (for docs/); the test part
asserts only what does not depend on the machine's speed.

Exit status: 0 pass, 1 fail, 2 bad usage.
"""

import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import grpc

from server_process import ServerProcess

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL: " + message, file=sys.stderr)
    return condition


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Server(ServerProcess):
    """inventory_server on 127.0.0.1:0 with its metrics port."""

    def __init__(self, binary, args, log_path):
        super().__init__([binary, "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0"] + args,
                         log_path, metrics=True)

    def stop(self):
        code = super().stop()
        check(code == 0, f"the server exited {code} on SIGTERM, not 0")

    def metric(self, name):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics",
                                    timeout=5) as answer:
            text = answer.read().decode()
        match = re.search(rf"^{name}(?:{{}})? ([0-9.e+]+)$", text, re.M)
        return float(match.group(1)) if match else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("server")
    parser.add_argument("protoc")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--orders", type=int, default=1500)
    parser.add_argument("--retention", default="1s")
    parser.add_argument("--report", action="store_true")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="order_retention.")
    try:
        return run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args, work):
    here = os.path.dirname(os.path.abspath(__file__))
    proto_dir = os.path.join(os.path.dirname(here), "proto")
    stubs = os.path.join(work, "stubs")
    os.mkdir(stubs)
    subprocess.run([args.protoc, "-I", proto_dir, f"--python_out={stubs}", f"--grpc_out={stubs}",
                    "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
                    os.path.join(proto_dir, "inventory.proto")], check=True)
    sys.path.insert(0, stubs)
    import inventory_pb2 as pb
    import inventory_pb2_grpc as pb_grpc

    catalog = os.path.join(work, "catalog.csv")
    with open(catalog, "w") as out:
        out.write("product_id,quantity\nheld-sku,1000\nchurn-sku,1000\n")
    data_dir = os.path.join(work, "db")
    server_args = [f"--data_dir={data_dir}", f"--catalog={catalog}",
                   f"--order_retention={args.retention}", "--completion_queues=1"]
    log_path = os.path.join(work, "server.log")
    server = Server(args.server, server_args, log_path)
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}",
                                    options=[("grpc.enable_http_proxy", 0)])
    stub = pb_grpc.InventoryServiceStub(channel)

    def reserve(order_id, sku, quantity):
        return stub.ReserveStock(pb.ReserveStockRequest(
            order_id=order_id, lines=[pb.StockLine(product_id=sku, quantity=quantity)]),
            timeout=10)

    def quantity(sku):
        return stub.GetProductAvailability(
            pb.GetProductAvailabilityRequest(product_id=sku), timeout=10).quantity

    def release_code(order_id):
        try:
            stub.ReleaseReservation(pb.ReleaseReservationRequest(order_id=order_id), timeout=10)
            return grpc.StatusCode.OK
        except grpc.RpcError as error:
            return error.code()

    held = 10
    for i in range(held):
        reserve(f"held-{i}", "held-sku", 2)
    check(quantity("held-sku") == 1000 - 2 * held, "held orders took their stock")

    def churn(order_id):
        reserve(order_id, "churn-sku", 1)
        stub.ReleaseReservation(pb.ReleaseReservationRequest(order_id=order_id), timeout=10)

    samples = []
    peak_records = 0
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        for round_number in range(args.rounds):
            ids = [f"churn-{round_number}-{i}" for i in range(args.orders)]
            list(pool.map(churn, ids))
            deadline = time.monotonic() + 30
            records = server.metric("inventory_order_records")
            while records != held and time.monotonic() < deadline:
                peak_records = max(peak_records, records or 0)
                time.sleep(0.1)
                records = server.metric("inventory_order_records")
            check(records == held, f"round {round_number}: {records} order records held "
                  f"after the window, expected the {held} never released")
            samples.append((rss_kib(server.process.pid), dir_bytes(data_dir)))
    elapsed = time.monotonic() - started
    total = args.rounds * args.orders
    forgotten = server.metric("inventory_orders_forgotten_total")
    check(forgotten == total, f"inventory_orders_forgotten_total is {forgotten}, expected {total}")
    check(peak_records <= held + args.orders,
          f"{peak_records} records held at once, more than the {held} held and one round's "
          f"{args.orders}")
    check(release_code("churn-0-0") == grpc.StatusCode.NOT_FOUND,
          "a forgotten order's release is NOT_FOUND")
    check(quantity("churn-sku") == 1000, "every churned order's stock came back exactly once")
    # A held order is still answered from its record: nothing more is taken.
    reserve("held-3", "held-sku", 2)
    check(quantity("held-sku") == 1000 - 2 * held, "a held order's retry reserved nothing more")
    # A forgotten id is a new order: it takes stock again.
    reserve("churn-0-1", "churn-sku", 5)
    check(quantity("churn-sku") == 995, "a forgotten id reused is a new order")
    channel.close()
    server.stop()

    server = Server(args.server, server_args, log_path)
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}",
                                    options=[("grpc.enable_http_proxy", 0)])
    stub = pb_grpc.InventoryServiceStub(channel)
    loaded = [line for line in server.lines if "orders from" in line]
    match = re.search(r"loaded \d+ products and (\d+) orders", "".join(loaded))
    check(match is not None and int(match.group(1)) == held + 1,
          f"after a restart {match.group(1) if match else '?'} orders were loaded, expected "
          f"{held + 1} (the held ones and the reused id)")
    check(release_code("churn-2-7") == grpc.StatusCode.NOT_FOUND,
          "after a restart a forgotten order is still unknown (deleted from RocksDB)")
    check(quantity("churn-sku") == 995 and quantity("held-sku") == 1000 - 2 * held,
          "stock is exact after a restart")
    check(release_code("held-0") == grpc.StatusCode.OK and quantity("held-sku") == 1000 - 2 * (held - 1),
          "a held order is released after a restart")
    channel.close()
    server.stop()

    first_rss, first_bytes = samples[0]
    last_rss, last_bytes = samples[-1]
    summary = (f"order_retention: {total} orders reserved and released in {args.rounds} rounds "
               f"({total / elapsed:.0f} orders/s), --order_retention={args.retention}: records "
               f"held back to {held} after every round, peak {peak_records:.0f}; server RSS after "
               f"each round (MiB): {', '.join(f'{r / 1024:.1f}' for r, _ in samples)}; data "
               f"directory (MiB): {', '.join(f'{b / 2**20:.2f}' for _, b in samples)}")
    print(summary)
    if args.report:
        print(f"growth from round 1 to round {args.rounds}: RSS {(last_rss - first_rss) / 1024:+.1f}"
              f" MiB, data directory {(last_bytes - first_bytes) / 2**20:+.2f} MiB")
    if failures:
        print(f"{len(failures)} check(s) failed; server log: see above", file=sys.stderr)
        with open(log_path) as log:
            sys.stderr.write(log.read()[-4000:])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
