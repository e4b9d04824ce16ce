#!/usr/bin/python3
"""Measures the ProductService and BatchGet goals of the README with h2load.

  bench/service_goals.py [--build-dir=build] [--duration=10] [--runs=3] [only ...]

Goals (README, Performance):
  batching     GetProduct through product_server over 8 connections x 64
               streams, batching on vs --batching=false; both servers and
               h2load share the machine's 2 cores (nothing pinned). Rounds
               interleave on/off; the ratio of the medians is reported.
  latency      GetProduct at 1 request in flight (h2load -c1 -m1 with
               --log-file, which records every request's latency): p50 with
               batching on vs off.
  batchget     BatchGetProductAvailability with 100 ids per call straight to
               inventory_server pinned to CPU 0 (1 completion queue), h2load
               pinned to CPU 1, 8 connections x 16 streams: look-ups/s =
               calls/s x 100.

h2load counts any HTTP 200 as a success and gRPC errors are HTTP 200 too, so
every run is checked: DATA bytes must equal OK responses x the size of the
one correct response (computed here with the generated Python messages).
"""
import argparse, os, re, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def frame(message_bytes):
    return b"\x00" + len(message_bytes).to_bytes(4, "big") + message_bytes


class Server:
    def __init__(self, argv, cpu=None, log=None):
        self.log = open(log or os.devnull, "wb")
        prefix = ["taskset", "-c", str(cpu)] if cpu is not None else []
        self.process = subprocess.Popen(prefix + argv, stdout=self.log, stderr=subprocess.STDOUT)
        self.argv = argv

    def wait_listening(self, port):
        for _ in range(400):
            if self.process.poll() is not None:
                sys.exit(f"server exited early: {' '.join(self.argv)}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        sys.exit(f"server did not listen: {' '.join(self.argv)}")

    def stop(self):
        self.process.terminate()
        code = self.process.wait(timeout=20)
        if code != 0:
            sys.exit(f"server exited with {code} after SIGTERM: {' '.join(self.argv)}")


def h2load(port, path, body_file, ok_bytes, duration, connections, streams, cpu=None,
           log_file=None):
    argv = (["taskset", "-c", str(cpu)] if cpu is not None else []) + [
        "h2load", "-D", str(duration), "-c", str(connections), "-m", str(streams), "-t", "1",
        "-H", "content-type: application/grpc", "-H", "te: trailers", "-d", body_file]
    if log_file:
        argv += ["--log-file", log_file]
    argv.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"finished in [^,]+, ([0-9.]+) req/s", out).group(1))
    m = re.search(r"requests: .* (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    succeeded, failed, errored = map(int, m.groups())
    data = int(re.search(r"traffic: .*\((\d+)\) data", out).group(1))
    if succeeded == 0 or failed or errored or data != succeeded * ok_bytes:
        sys.exit(f"h2load run not all OK: {succeeded} ok, {failed} failed, {errored} errored, "
                 f"{data} DATA bytes != {succeeded} x {ok_bytes}\n{out}")
    return rps, " ".join(argv)


def p50_from_log(log_file):
    latencies = sorted(int(line.split()[2]) for line in open(log_file) if line.strip())
    return latencies[len(latencies) // 2], len(latencies)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--product-args", default="",
                        help="extra product_server flags for the batching and latency goals")
    parser.add_argument("--inventory-args", default="",
                        help="extra inventory_server flags for the batching and latency goals")
    parser.add_argument("only", nargs="*", choices=["batching", "latency", "batchget", []],
                        default=[])
    args = parser.parse_args()
    goals = args.only or ["batching", "latency", "batchget"]

    work = tempfile.mkdtemp(prefix="service_goals.")
    subprocess.run(["protoc", "-I", os.path.join(ROOT, "proto"), f"--python_out={work}",
                    "inventory.proto", "product.proto"], check=True)
    sys.path.insert(0, work)
    import inventory_pb2, product_pb2

    inventory_bin = os.path.join(args.build_dir, "server/inventory/inventory_server")
    product_bin = os.path.join(args.build_dir, "server/product/product_server")
    get_body = os.path.join(work, "get_product.bin")
    open(get_body, "wb").write(frame(
        product_pb2.GetProductRequest(product_id="sku-00000042").SerializeToString()))

    if "batching" in goals or "latency" in goals:
        inventory_port = free_port()
        inventory = Server([inventory_bin, f"--listen=127.0.0.1:{inventory_port}",
                            "--synthetic_products=100000"] + args.inventory_args.split(),
                           log=os.path.join(work, "inventory.log")).wait_listening(inventory_port)
        stock = 42 * 2654435761 % (1 << 32) % 1000  # the synthetic catalog's quantity
        ok_bytes = len(frame(product_pb2.GetProductResponse(
            product_id="sku-00000042", name="Synthetic product 42",
            price_cents=100 + 42 * 7919 % 100000, is_available=stock > 0,
            quantity=stock).SerializeToString()))

        def product(batching):
            port = free_port()
            server = Server([product_bin, f"--listen=127.0.0.1:{port}",
                             f"--inventory=127.0.0.1:{inventory_port}",
                             "--synthetic_products=100000", f"--batching={str(batching).lower()}"]
                            + args.product_args.split(),
                            log=os.path.join(work, f"product-{batching}.log"))
            return server.wait_listening(port), port

        if "batching" in goals:
            rates = {True: [], False: []}
            for run in range(args.runs):
                for batching in (True, False):
                    server, port = product(batching)
                    h2load(port, "/product.ProductService/GetProduct", get_body, ok_bytes, 1, 8, 64)
                    rps, command = h2load(port, "/product.ProductService/GetProduct", get_body,
                                          ok_bytes, args.duration, 8, 64)
                    server.stop()
                    rates[batching].append(rps)
                    print(f"batching run {run + 1} {'on ' if batching else 'off'}: {rps:.0f} req/s",
                          flush=True)
            on, off = statistics.median(rates[True]), statistics.median(rates[False])
            print(f"GOAL batching: GetProduct median {on:.0f} req/s with batching, {off:.0f} "
                  f"without: {on / off:.2f}x (goal >= 2.5x)")
            print(f"  load: {command}")

        if "latency" in goals:
            p50 = {True: [], False: []}
            for run in range(args.runs):
                for batching in (True, False):
                    server, port = product(batching)
                    log = os.path.join(work, f"latency-{batching}-{run}.log")
                    h2load(port, "/product.ProductService/GetProduct", get_body, ok_bytes, 1, 1, 1)
                    _, command = h2load(port, "/product.ProductService/GetProduct", get_body,
                                        ok_bytes, args.duration, 1, 1, log_file=log)
                    server.stop()
                    value, count = p50_from_log(log)
                    p50[batching].append(value)
                    print(f"latency run {run + 1} {'on ' if batching else 'off'}: p50 {value} us "
                          f"over {count} requests", flush=True)
            on, off = statistics.median(p50[True]), statistics.median(p50[False])
            print(f"GOAL latency: p50 at 1 in flight {on} us with batching, {off} us without: "
                  f"{(on / off - 1) * 100:+.1f}% (goal <= +10%)")
            print(f"  load: {command}")
        inventory.stop()

    if "batchget" in goals:
        ids = [f"sku-{i * 997 % 100000:08d}" for i in range(100)]
        body = os.path.join(work, "batch.bin")
        open(body, "wb").write(frame(inventory_pb2.BatchGetProductAvailabilityRequest(
            product_ids=ids).SerializeToString()))
        items = []
        for product_id in ids:
            number = int(product_id[4:])
            quantity = number * 2654435761 % (1 << 32) % 1000
            items.append(inventory_pb2.ProductAvailability(
                product_id=product_id, is_available=quantity > 0, quantity=quantity))
        ok_bytes = len(frame(inventory_pb2.BatchGetProductAvailabilityResponse(
            items=items).SerializeToString()))
        rates = []
        for run in range(args.runs):
            port = free_port()
            server = Server([inventory_bin, f"--listen=127.0.0.1:{port}",
                             "--synthetic_products=100000", "--completion_queues=1"], cpu=0,
                            log=os.path.join(work, "batchget.log")).wait_listening(port)
            path = "/inventory.InventoryService/BatchGetProductAvailability"
            h2load(port, path, body, ok_bytes, 1, 8, 16, cpu=1)
            rps, command = h2load(port, path, body, ok_bytes, args.duration, 8, 16, cpu=1)
            server.stop()
            rates.append(rps * len(ids))
            print(f"batchget run {run + 1}: {rps:.0f} calls/s = {rps * len(ids):.0f} look-ups/s",
                  flush=True)
        print(f"GOAL batchget: median {statistics.median(rates):.0f} look-ups/s on one inventory "
              f"core (goal >= 2,000,000)")
        print(f"  server: taskset -c 0 {inventory_bin} --synthetic_products=100000 "
              f"--completion_queues=1; load: {command}")


if __name__ == "__main__":
    main()
