#!/usr/bin/python3
"""Stateless inventory replicas on one PostgreSQL, under write load (#14).

    postgres_replicas_test.py INVENTORY_SERVER PRODUCT_SERVER PROTOC

Starts PostgreSQL 15 itself (initdb + pg_ctl in a temp directory, as user
nobody when run as root, on a unix socket only), two inventory_server
replicas with --postgres, and a product_server whose --inventory lists both
(ipv4:127.0.0.1:A,127.0.0.1:B: its channel balances round_robin). Then:

  1. a replica killed under load: client threads reserve unique order ids
     over both replicas; replica A gets SIGKILL mid-run. Every acknowledged
     reservation is in inventory_orders, every order there was acknowledged
     or had an unknown outcome (a call to A that failed: it may have
     committed before the kill), stock is exactly initial - orders in the
     database, replica B answered every call OK throughout, and the
     product_server keeps answering GetProduct and PlaceOrder without a
     restart.
  2. PostgreSQL restarted under load (a new replica A' plus B): calls
     during the outage are OK or UNAVAILABLE, nothing else; writes recover
     after pg_ctl start; the same acknowledged/unknown accounting holds;
     both caches converge, including a change made in the database that no
     notification announced (the trigger disabled), which only the reload
     on reconnect brings.

Exit status: 0 pass, 1 fail, 2 bad usage.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import grpc

from server_process import ServerProcess

PG_BIN = "/usr/lib/postgresql/15/bin/"
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL: " + message, file=sys.stderr)
    return condition


class Postgres:
    def __init__(self, work):
        self.dir = os.path.join(work, "pg")
        os.mkdir(self.dir)
        self.prefix = []
        if os.geteuid() == 0:
            subprocess.run(["chown", "nobody", self.dir], check=True)
            self.prefix = ["runuser", "-u", "nobody", "--"]
        self.run(["initdb", "-D", self.path("data"), "-U", "postgres", "--auth=trust",
                  "--no-locale", "-E", "UTF8", "--no-sync"])
        self.start()

    def path(self, name):
        return os.path.join(self.dir, name)

    def run(self, command):
        with open(self.path("commands.log"), "a") as log:
            subprocess.run(self.prefix + [PG_BIN + command[0]] + command[1:], cwd=self.dir,
                           stdout=log, stderr=subprocess.STDOUT, check=True)

    def start(self):
        self.run(["pg_ctl", "-D", self.path("data"), "-l", self.path("server.log"), "-w", "-t",
                  "60", "-o", f"-c listen_addresses='' -k {self.dir} -p 5432 "
                  "-c max_connections=100", "start"])

    def stop(self, mode="fast"):
        self.run(["pg_ctl", "-D", self.path("data"), "-m", mode, "-w", "-t", "60", "stop"])

    def uri(self):
        return f"host={self.dir} port=5432 user=postgres dbname=postgres"

    def query(self, sql):
        out = subprocess.run([PG_BIN + "psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                              self.uri(), "-c", sql], capture_output=True, text=True,
                             check=True)
        return out.stdout.strip()


class Process(ServerProcess):
    """A server whose SIGTERM exit status is checked (0) by stop()."""

    def stop(self):
        code = super().stop()
        check(code == 0, f"{self.process.args[0]} exited {code} on SIGTERM, not 0")


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="postgres_replicas.")
    os.chmod(work, 0o755)
    pg = None
    try:
        pg = Postgres(work)
        return run(sys.argv[1], sys.argv[2], sys.argv[3], work, pg)
    finally:
        if pg is not None:
            try:
                pg.stop("immediate")
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(work, ignore_errors=True)


def run(inventory_server, product_server, protoc, work, pg):
    here = os.path.dirname(os.path.abspath(__file__))
    proto_dir = os.path.join(os.path.dirname(here), "proto")
    stubs = os.path.join(work, "stubs")
    os.mkdir(stubs)
    subprocess.run([protoc, "-I", proto_dir, f"--python_out={stubs}", f"--grpc_out={stubs}",
                    "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
                    os.path.join(proto_dir, "inventory.proto"),
                    os.path.join(proto_dir, "product.proto")], check=True)
    sys.path.insert(0, stubs)
    import inventory_pb2 as pb
    import inventory_pb2_grpc as pb_grpc
    import product_pb2 as ppb
    import product_pb2_grpc as ppb_grpc

    initial = 1000000
    catalog = os.path.join(work, "catalog.csv")
    with open(catalog, "w") as out:
        out.write(f"product_id,quantity\nhot,{initial}\ncold,50\nshop,{initial}\n")
    products = os.path.join(work, "products.csv")
    with open(products, "w") as out:
        out.write("product_id,name,price_cents\nshop,Shop item,250\n")

    def replica(name):
        return Process([inventory_server, "--listen=127.0.0.1:0", f"--catalog={catalog}",
                        f"--postgres={pg.uri()}", "--completion_queues=1"],
                       os.path.join(work, f"{name}.log"))

    def stub_for(port):
        channel = grpc.insecure_channel(f"127.0.0.1:{port}",
                                        options=[("grpc.enable_http_proxy", 0)])
        return pb_grpc.InventoryServiceStub(channel)

    def quantity(stub, sku):
        return stub.GetProductAvailability(
            pb.GetProductAvailabilityRequest(product_id=sku), timeout=5).quantity

    def db_orders(prefix):
        rows = pg.query(f"SELECT order_id FROM inventory_orders WHERE order_id LIKE '{prefix}%'")
        return set(rows.split("\n")) if rows else set()

    def db_quantity(sku):
        return int(pg.query(f"SELECT quantity FROM inventory_stock WHERE product_id = '{sku}'"))

    def load(prefix, targets, seconds, event_at, event, allowed):
        """Threads reserving unique ids on `targets` (stubs, by thread);
        `event` runs at `event_at` s. Returns (acked, unknown, codes)."""
        acked, unknown, codes = set(), set(), {}
        lock = threading.Lock()
        stop = time.monotonic() + seconds

        def client(t, stub):
            i = 0
            while time.monotonic() < stop:
                order_id = f"{prefix}{t}-{i}"
                i += 1
                try:
                    stub.ReserveStock(pb.ReserveStockRequest(
                        order_id=order_id, lines=[pb.StockLine(product_id="hot", quantity=1)]),
                        timeout=10)
                    code = grpc.StatusCode.OK
                except grpc.RpcError as error:
                    code = error.code()
                with lock:
                    codes[(t, code)] = codes.get((t, code), 0) + 1
                    if code == grpc.StatusCode.OK:
                        acked.add(order_id)
                    else:
                        unknown.add(order_id)
                if code != grpc.StatusCode.OK:
                    if not allowed(t, code):
                        return
                    time.sleep(0.05)

        threads = [threading.Thread(target=client, args=(t, s)) for t, s in enumerate(targets)]
        for thread in threads:
            thread.start()
        time.sleep(event_at)
        event()
        for thread in threads:
            thread.join()
        return acked, unknown, codes

    def account(prefix, acked, unknown, what):
        in_db = db_orders(prefix)
        check(acked <= in_db, f"{what}: {len(acked - in_db)} acknowledged reservations "
              "missing from the database")
        check(in_db <= acked | unknown, f"{what}: {len(in_db - acked - unknown)} orders in "
              "the database that were never sent")
        check(len(acked) > 100, f"{what}: only {len(acked)} reservations acknowledged")
        print(f"{what}: {len(acked)} acknowledged, {len(unknown)} unknown outcome, "
              f"{len(in_db & unknown)} of those committed")

    a = replica("a")
    b = replica("b")
    shop = Process([product_server, "--listen=127.0.0.1:0", f"--products={products}",
                    f"--inventory=ipv4:127.0.0.1:{a.port},127.0.0.1:{b.port}"],
                   os.path.join(work, "product.log"))
    shop_stub = ppb_grpc.ProductServiceStub(grpc.insecure_channel(
        f"127.0.0.1:{shop.port}", options=[("grpc.enable_http_proxy", 0)]))
    stub_a, stub_b = stub_for(a.port), stub_for(b.port)
    check(shop_stub.GetProduct(ppb.GetProductRequest(product_id="shop"), timeout=5).is_available,
          "product_server answers before the kill")

    # 1. Replica A killed under load. Threads 0..3 on A stop at their first
    # error (the kill); threads 4..7 on B must never see one.
    killed_at = []

    def kill_a():
        a.process.send_signal(signal.SIGKILL)
        a.process.wait()
        killed_at.append(time.monotonic())

    acked, unknown, codes = load("k-", [stub_a] * 4 + [stub_b] * 4, 4.0, 1.5, kill_a,
                                 lambda t, code: False)
    b_errors = {key: n for key, n in codes.items() if key[0] >= 4 and key[1] != grpc.StatusCode.OK}
    check(not b_errors, f"replica B failed calls while A was killed: {b_errors}")
    account("k-", acked, unknown, "replica killed")
    check(db_quantity("hot") == initial - len(db_orders("k-")),
          "stock is initial minus the orders in the database")

    # The product_server over both: after at most a few seconds to drop the
    # dead address, every call answers.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            shop_stub.GetProduct(ppb.GetProductRequest(product_id="shop"), timeout=5)
            break
        except grpc.RpcError:
            time.sleep(0.2)
    shop_errors = []
    for i in range(40):
        try:
            shop_stub.GetProduct(ppb.GetProductRequest(product_id="shop"), timeout=5)
            placed = shop_stub.PlaceOrder(ppb.PlaceOrderRequest(
                order_id=f"shop-{i}", lines=[ppb.OrderLine(product_id="shop", quantity=1)]),
                timeout=5)
            check(placed.total_cents == 250, f"PlaceOrder shop-{i}: total {placed.total_cents}")
        except grpc.RpcError as error:
            shop_errors.append(f"{error.code()}: {error.details()}")
    check(not shop_errors, f"product_server after the kill: {shop_errors[:3]} "
          f"({len(shop_errors)} of 40)")
    check(db_quantity("shop") == initial - 40 + len(shop_errors), "shop stock exact")
    shop.stop()

    # 2. PostgreSQL restarted under load, replicas A' and B.
    a2 = replica("a2")
    stub_a2 = stub_for(a2.port)
    # A change no notification announces: only a reload brings it.
    pg.query("ALTER TABLE inventory_stock DISABLE TRIGGER USER; "
             "UPDATE inventory_stock SET quantity = 7, version = version + 1 "
             "WHERE product_id = 'cold'; ALTER TABLE inventory_stock ENABLE TRIGGER USER")
    time.sleep(0.3)
    check(quantity(stub_b, "cold") == 50, "an unannounced change is not in the cache yet")

    def restart_pg():
        pg.stop()
        time.sleep(1.5)
        pg.start()

    expected = {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE}
    acked, unknown, codes = load("r-", [stub_a2, stub_b] * 3, 8.0, 1.5, restart_pg,
                                 lambda t, code: code in expected)
    seen = {code for (_, code) in codes}
    totals = {}
    for (_, code), n in codes.items():
        totals[code.name] = totals.get(code.name, 0) + n
    print("codes during the restart:", totals)
    check(seen <= expected, f"codes other than OK/UNAVAILABLE during the restart: {seen}")
    check(grpc.StatusCode.UNAVAILABLE in seen, "no call saw the outage")
    account("r-", acked, unknown, "PostgreSQL restarted")
    # Writes recovered: the last call of every thread succeeded.
    check(stub_a2.ReserveStock(pb.ReserveStockRequest(
        order_id="after-restart", lines=[pb.StockLine(product_id="hot", quantity=1)]),
        timeout=10) is not None, "a write after the restart")
    want_hot = db_quantity("hot")
    check(want_hot == initial - len(db_orders("k-")) - len(db_orders("r-")) - 1,
          "stock is initial minus every order in the database")
    deadline = time.monotonic() + 10
    converged = False
    while time.monotonic() < deadline and not converged:
        converged = all(quantity(s, "hot") == want_hot and quantity(s, "cold") == 7
                        for s in (stub_a2, stub_b))
        time.sleep(0.1)
    check(converged, "both caches converge on the database after the restart "
          f"(hot {quantity(stub_a2, 'hot')}/{quantity(stub_b, 'hot')} want {want_hot}, "
          f"cold {quantity(stub_a2, 'cold')}/{quantity(stub_b, 'cold')} want 7)")
    a2.stop()
    b.stop()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
