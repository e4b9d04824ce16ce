#!/usr/bin/python3
"""The bench driver: every measurement in docs/benchmarking.md, one command each.

  bench/bench.py list                          the scenarios and what they measure
  bench/bench.py SCENARIO... [options]         run them (a group name runs its members)
  bench/bench.py plot RUN.json [RUN2.json...] OUT.svg   p50/p99 against rate, as SVG
  bench/bench.py setup                         install the bench's extra Debian packages (Go, perf)
  bench/bench.py self-test [SERVER...]         what ctest runs: the driver's checks against
                                               real servers (default: baseline inventory_server
                                               seed_server; grpc_go_server builds the Go peer)

The scenarios are data (SCENARIOS below): which servers with which flags, which
load with which arguments, how many rounds, which CPUs. Every scenario runs the
same way:

  - rounds interleave the variants (A, B, C, A, B, C, ...), 3 by default, and
    each figure is the median over the rounds;
  - every run starts its servers afresh on port 0 (127.0.0.1:0) and reads the
    bound address from the "listening on HOST:PORT" line each one prints; the
    servers must exit 0 on SIGTERM after the run;
  - with pinning, the servers run under `taskset -c 0` and the load under
    `taskset -c 1`;
  - an h2load run is a fixed number of requests, after a 1 s warm-up run, and
    every response is verified (run_h2load): h2load counts every HTTP 200 as a
    success and gRPC errors come back as HTTP 200, so first one call through
    nghttp must return grpc-status 0 and exactly the expected response bytes,
    then the run's DATA total must be (requests) x (bytes of that one OK
    response), which an error (no DATA) or a different answer breaks;
  - server CPU per RPC: utime + stime of the measured server from
    /proc/PID/stat, before and after the measured run, over its request count;
  - syscalls per RPC: a separate, shorter run of the same load under
    `perf stat -e raw_syscalls:sys_enter,syscalls:sys_enter_<read|write|...>
    -p PID` (counted in the kernel; strace -c -f when perf cannot), over that
    run's request count. "reads" are read, readv, recvfrom, recvmsg, recvmmsg;
    "writes" are write, writev, sendto, sendmsg, sendmmsg, on any descriptor.

Options (after the scenario names):
  --build-dir=DIR      the CMake build with the binaries (default: <repo>/build)
  --out-dir=DIR        also write each scenario's report to DIR/SCENARIO.txt
                       (and the sweep's JSON and SVG next to it)
  --rounds=N           rounds per scenario (default: the scenario's, usually 3)
  --requests=N         requests per measured h2load run (default: the scenario's)
  --duration=S         seconds per measured inventory_bench run (default: the scenario's)
  --warmup=S           seconds of the warm-up run before each measured run (default 1)
  --syscall-requests=N requests of the syscall-counting run (default: requests / 10)
  --no-syscalls        skip the syscall-counting runs
  --pin=S,L|none       CPUs of the servers and the load (default: the scenario's)
  --bin NAME=PATH      use PATH for binary NAME (see `list`), e.g. an older build
  --server-args NAME=FLAGS  append FLAGS to every server NAME of the scenario
"""
import argparse
import dataclasses
import html
import json
import math
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = "/usr/bin/python3"  # Debian's, which has python3-grpcio


class BenchError(Exception):
    """A run that cannot be trusted: the driver stops and says why."""


# --- the calls: a method, one request, and its one correct answer -------------


def _varint(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pb(*fields):
    """Serializes a proto3 message from (field number, value) pairs, in order.

    str/bytes are length-delimited, bool/int varints (non-negative), a list is
    a repeated message field of pb() results. Default values are left out, as
    proto3 serializers do, so the bytes equal the C++ serializer's."""
    out = bytearray()
    for number, value in fields:
        if isinstance(value, list):
            for item in value:
                out += _varint(number << 3 | 2) + _varint(len(item)) + item
        elif isinstance(value, (str, bytes)):
            data = value.encode() if isinstance(value, str) else value
            if data:
                out += _varint(number << 3 | 2) + _varint(len(data)) + data
        elif value:
            out += _varint(number << 3) + _varint(int(value))
    return bytes(out)


def grpc_frame(message):
    return b"\0" + len(message).to_bytes(4, "big") + message


@dataclasses.dataclass(frozen=True)
class Call:
    path: str
    request: bytes  # the serialized request message
    response: bytes  # the serialized OK response it must get


def synthetic_quantity(i):  # inventory_server --synthetic_products=N (domain/inventory/catalog.cc)
    return (i * 2654435761) % (1 << 32) % 1000


def availability(product_id, quantity):
    return pb((1, quantity > 0), (2, quantity))


GET = "/inventory.InventoryService/GetProductAvailability"
BATCH_IDS = [f"sku-{i * 997 % 100000:08d}" for i in range(100)]
CALLS = {
    # The seed article's call: product123 has quantity 10 (the built-in catalog).
    "get": Call(GET, pb((1, "product123")), availability("product123", 10)),
    "get-product456": Call(GET, pb((1, "product456")), availability("product456", 0)),
    "get-sku42": Call(GET, pb((1, "sku-00000042")), availability("sku-00000042", synthetic_quantity(42))),
    "product-sku42": Call(
        "/product.ProductService/GetProduct", pb((1, "sku-00000042")),
        pb((1, "sku-00000042"), (2, "Synthetic product 42"), (3, 100 + 42 * 7919 % 100000),
           (4, synthetic_quantity(42) > 0), (5, synthetic_quantity(42)))),
    "batchget-100": Call(
        "/inventory.InventoryService/BatchGetProductAvailability",
        b"".join(pb((1, i)) for i in BATCH_IDS),  # repeated string product_ids = 1
        pb((1, [pb((1, i), (2, synthetic_quantity(int(i[4:])) > 0), (3, synthetic_quantity(int(i[4:]))))
                for i in BATCH_IDS]))),
    # The admin call of the authorization scenarios: always the same product and
    # quantity, so every answer is the same bytes (the built-in catalog).
    "set-stock": Call("/inventory.InventoryService/SetStock", pb((1, "product123"), (2, 10)),
                      pb((1, pb((1, "product123"), (2, True), (3, 10))))),
    # Only for self-test: a method the servers do not have (grpc-status 12 in a 200).
    "unknown-method": Call("/inventory.InventoryService/NoSuchMethod", pb((1, "product123")),
                           availability("product123", 10)),
}

# --- the scenarios, as data --------------------------------------------------


@dataclasses.dataclass
class Server:
    name: str  # a key of BINARIES
    args: tuple = ()  # placeholders: {listen} {backend} {run_dir} {file:NAME}
    env: tuple = ()  # (NAME, VALUE) pairs


@dataclasses.dataclass
class H2Load:
    call: str  # a key of CALLS
    connections: int = 8
    streams: int = 64
    requests: int = 1_100_000  # about 10 s at 120k req/s
    latency: bool = False  # --log-file: p50 and p99 over every request
    tls: bool = False  # https:// (ALPN h2; the run must report "Application protocol: h2")
    headers: tuple = ()  # extra request headers, "name: value"
    repeat: int = 1  # measured runs back to back (new connections each), summed
    syscalls: bool = True  # the syscall-counting run (off where it says nothing)


@dataclasses.dataclass
class SecLoad:
    """bench/security_load (mTLS, a new connection per call, SetStock): a
    fixed count; it stops at the first error, so a run that exits 0 was all OK."""
    args: tuple  # placeholders: {target} {certs} {file:NAME}
    count: int


@dataclasses.dataclass
class Churn:
    """The retention proof: security_load --mode=churn against the server while
    its RSS, data directory and inventory_order_records are sampled."""
    args: tuple
    count: int = 1_000_000
    sample_s: float = 1.0
    settle_s: float = 10.0  # sampling goes on this long after the last order


@dataclasses.dataclass
class Bench:
    """inventory_bench's load mode (it checks every status itself)."""
    args: tuple
    duration: int = 10
    binary: str = "inventory_bench"  # a BINARIES name


@dataclasses.dataclass
class PgBench:
    """pgbench on the scenario's PostgreSQL: a custom script (a generated file),
    `clients` connections on one pgbench thread, for `duration` seconds. It
    stops a client at its first failed transaction, so every counted one committed.
    -M prepared: each statement is parsed once per connection, as the service's are."""
    script: str  # a make_file name
    clients: int = 4
    duration: int = 10
    per_script: int = 1  # reservations one run of the script makes (its rate is tps x this)


@dataclasses.dataclass
class Propagation:
    """bench/pg_propagation_bench on the scenario's PostgreSQL: two replicas in
    one process, writes on A at a fixed rate, visibility timed on B."""
    args: tuple  # placeholders: {postgres}
    duration: int = 10


@dataclasses.dataclass
class Variant:
    label: str
    servers: tuple  # started in order; the last one gets the load and is measured
    load: object
    background: Bench = None  # also runs from 1 s before to 3 s after the load


@dataclasses.dataclass
class Scenario:
    name: str
    what: str
    variants: list
    pin: tuple = ("0", "1")  # CPUs (servers, load), or None: nothing pinned
    rounds: int = 3
    sweep: bool = False  # keep the bench's JSON and draw it (bench.py plot)
    # A PostgreSQL server of the scenario's own (Postgres below), started once
    # before the rounds and shared by every variant ({postgres} is its URI),
    # on the servers' CPU when pinned. pg_seed: a server started and stopped
    # once before the rounds, so that the schema and the rows exist before a
    # variant without servers (pgbench) runs.
    postgres: bool = False
    pg_seed: object = None


LISTEN = "--listen={listen}"
INV = Server("inventory_server", (LISTEN,))
BASE = Server("baseline", (LISTEN,))
GET_8x64 = H2Load("get")


def inv(*flags):
    return Server("inventory_server", tuple(flags) + (LISTEN,))


def ab(name, what, a_label, a, b_label, b, load=GET_8x64):
    return Scenario(name, what, [Variant(a_label, (a,), load), Variant(b_label, (b,), load)])


SYNTH = "--synthetic_products=100000"
PRODUCT_BACKEND = Server("inventory_server", (LISTEN, SYNTH))


def product(*flags, binary="product_server"):
    return (PRODUCT_BACKEND,
            Server(binary, (LISTEN, "--inventory={backend}", SYNTH) + tuple(flags)))


GET_PRODUCT = H2Load("product-sku42", requests=600_000)
DURABLE = Server("inventory_server",
                 (LISTEN, "--data_dir={run_dir}/data", "--sync=true", "--catalog={file:durable_catalog}"))
BENCH_LOAD = ("--target={target}", "--catalog_size=100000", "--connections=8", "--progress=false")
RESERVE_256 = Bench(BENCH_LOAD + ("--method=reserve", "--inflight=256"))
GET_256 = Bench(BENCH_LOAD + ("--method=get", "--inflight=256"))
DURABLE_VARIANTS = [Variant("reads", (DURABLE,), GET_256),
                    Variant("reads-beside-writes", (DURABLE,), GET_256, background=RESERVE_256),
                    Variant("writes", (DURABLE,), RESERVE_256)]
PEER_LOAD = H2Load("get", requests=500_000)
GO_PEER = Server("grpc_go_server", ("-listen={listen}",), (("GOMAXPROCS", "1"),))
OPEN_LOOP_RATES = "5000,10000,20000,40000,60000,70000,80000,90000,100000,110000"

# PostgreSQL (issue #14). The reservations' catalog names its products
# sku-10000000 .. sku-10099999 (pg_catalog) so that pgbench's script can write
# every id as the same literal the service sends ('sku-:p', p a number);
# inventory_bench asks for the same ids with --id_prefix=sku-1 --id_width=7.
PG_POOL = 4  # --postgres_pool_size's default, and pgbench's clients
PG_PIPELINE = 16  # PostgresStockMutations::kMaxReservePipeline
PG_RESERVER = inv("--postgres={postgres}", "--catalog={file:pg_catalog}",
                  f"--postgres_pool_size={PG_POOL}")
PG_RESERVE_256 = Bench(("--target={target}", "--method=reserve", "--inflight=256",
                        "--connections=8", "--catalog_size=100000", "--id_prefix=sku-1",
                        "--id_width=7", "--progress=false"))
PG_READS = H2Load("get-sku42")
PROPAGATION = Propagation(("--postgres={postgres}", "--rate=5000", "--products=1000",
                           f"--pool_size={PG_POOL}"))

# TLS and mTLS, with the certificates of test/tls/make_test_certs.sh (made
# afresh in the driver's work directory for every invocation: {certs}).
TLS = ("--tls_cert={certs}/server.pem", "--tls_key={certs}/server.key")
MTLS = TLS + ("--tls_client_ca={certs}/ca.pem",)
ADMIN_TOKEN = "bench-admin-token-0123456789abcdef"  # the file admin_token's line
TOKEN_FILE = "--admin_token_file={file:admin_token}"
SEC_TLS = ("--target={target}", "--tls_ca={certs}/ca.pem")
SEC_CLIENT = SEC_TLS + ("--tls_cert={certs}/client.pem", "--tls_key={certs}/client.key")
SEC_ADMIN = SEC_TLS + ("--tls_cert={certs}/admin.pem", "--tls_key={certs}/admin.key")
# New connections: 500 h2load clients of one request each, 4 runs back to back.
NEW_CONN = dict(connections=500, streams=1, requests=500, repeat=4, syscalls=False)
CONNECT = ("--mode=connect", "--threads=16", "--progress_seconds=0")
SET_STOCK = ("--mode=set_stock", "--threads=64", "--connections=8", "--products=1",
             "--progress_seconds=0")
SET_STOCK_H2 = H2Load("set-stock", requests=400_000, syscalls=False)
CHURN_SERVER = ("--data_dir={run_dir}/data", "--sync=false", "--catalog={file:durable_catalog}",
                "--metrics_listen=127.0.0.1:0", LISTEN)
ORDER_CHURN = ("--mode=churn", "--threads=256", "--connections=8", "--products=100000",
               "--progress_seconds=0")
CHURN = Churn(("--target={target}", "--mode=churn", "--threads=256", "--connections=8",
               "--products=100000", "--max_seconds=900", "--progress_seconds=10"))

SCENARIOS = [
    ab("headline", "InventoryService against the plain async baseline, each with its defaults",
       "inventory_server", INV, "baseline", BASE),
    ab("same-queues", "the same, both with one completion queue",
       "inventory_server-1cq", inv("--completion_queues=1"), "baseline-1cq",
       Server("baseline", ("--cqs=1", LISTEN))),
    ab("depth", "pre-posting depth 64 (default) against 512 per queue and method",
       "depth-64", INV, "depth-512", inv("--requests_per_method=512")),
    ab("depth-1", "pre-posting depth 64 against 1", "depth-64", INV, "depth-1",
       inv("--requests_per_method=1")),
    ab("deadlock-detection", "abseil Mutex deadlock detection off (default) against on",
       "detection-off", INV, "detection-on", inv("--mutex_deadlock_detection")),
    ab("allocator", "jemalloc against glibc malloc (needs the build-nojemalloc tree, see list)",
       "jemalloc", INV, "glibc-malloc", Server("inventory_server_nojemalloc", (LISTEN,))),
    ab("queues", "one completion queue on one core against two", "1cq", inv("--completion_queues=1"),
       "2cq", inv("--completion_queues=2")),
    ab("reflection", "reflection off (default) against on", "reflection-off", INV, "reflection-on",
       inv("--reflection")),
    ab("channel-args", "default channel arguments against grpc.http2.bdp_probe=0", "default-args",
       INV, "bdp_probe=0", inv("--grpc_channel_args=grpc.http2.bdp_probe=0")),
    Scenario("peers", "the servers a user would pick instead, same contract and load: "
             "inventory_server, the plain C++ async baseline, grpc-go (GOMAXPROCS=1) and the "
             "seed article's Python server", [
                 Variant("inventory_server", (INV,), PEER_LOAD),
                 Variant("baseline", (BASE,), PEER_LOAD),
                 Variant("grpc-go", (GO_PEER,), PEER_LOAD),
                 Variant("python-seed", (Server("seed_server", ("{listen}",)),), PEER_LOAD),
             ]),
    Scenario("peers-latency", "the same servers at 1 call in flight (1 connection, 1 stream): "
             "p50 and p99 over every request (h2load --log-file)", [
                 Variant("inventory_server", (INV,), H2Load("get", 1, 1, 40_000, latency=True)),
                 Variant("baseline", (BASE,), H2Load("get", 1, 1, 40_000, latency=True)),
                 Variant("grpc-go", (GO_PEER,), H2Load("get", 1, 1, 40_000, latency=True)),
             ]),
    ab("grpc-build", "gRPC built in release mode from Debian's source (coalescing off) against "
       "Debian's binary package (needs the build-sys tree, see list)", "release-grpc",
       inv("--coalesce_writes=false"), "debian-grpc",
       Server("inventory_server_debian_grpc", (LISTEN,)), load=PEER_LOAD),
    Scenario("grpc-build-latency", "today's defaults (release gRPC, coalescing on) against "
             "Debian's binary gRPC at 1 call in flight: p50 and p99 over every request", [
                 Variant("release-grpc", (INV,), H2Load("get", 1, 1, 40_000, latency=True)),
                 Variant("debian-grpc", (Server("inventory_server_debian_grpc", (LISTEN,)),),
                         H2Load("get", 1, 1, 40_000, latency=True))]),
    ab("grpc-patches", "this build against an inventory_server on a gRPC without the "
       "HTTP/2 denial-of-service patches (--bin inventory_server_unpatched=PATH), same "
       "load as peers", "patched", INV, "unpatched",
       Server("inventory_server_unpatched", (LISTEN,)), load=PEER_LOAD),
    ab("coalescing", "write coalescing on (default) against off, 8 connections x 64 streams",
       "coalesce-on", INV, "coalesce-off", inv("--coalesce_writes=false"), load=PEER_LOAD),
    Scenario("coalescing-latency", "write coalescing on against off at 1 call in flight: "
             "p50 and p99 over every request", [
                 Variant("coalesce-on", (INV,), H2Load("get", 1, 1, 40_000, latency=True)),
                 Variant("coalesce-off", (inv("--coalesce_writes=false"),),
                         H2Load("get", 1, 1, 40_000, latency=True))]),
    Scenario("product-coalescing", "GetProduct through product_server with its write coalescing "
             "on (default) and off (the inventory behind it keeps its default); all on the 2 "
             "cores", [Variant("coalesce-on", product(), GET_PRODUCT),
                       Variant("coalesce-off", product("--coalesce_writes=false"), GET_PRODUCT)],
             pin=None),
    Scenario("client-coalescing", "inventory_bench's load client with write coalescing on "
             "(default) and off, same server, 8 connections x 64 calls in flight", [
                 Variant(label, (inv(SYNTH, "--completion_queues=1"),), Bench(
                     ("--target={target}", "--method=get", "--ids_file={file:ids_sku42}",
                      "--connections=8", "--inflight=512", "--progress=false",
                      f"--coalesce_writes={flag}")))
                 for label, flag in (("coalesce-on", "true"), ("coalesce-off", "false"))]),
    Scenario("client-vs-h2load", "inventory_bench's gRPC client against h2load on the same core, "
             "same server, 8 connections x 64 calls in flight", [
                 Variant("h2load", (inv(SYNTH, "--completion_queues=1"),), H2Load("get-sku42")),
                 Variant("inventory_bench", (inv(SYNTH, "--completion_queues=1"),), Bench(
                     ("--target={target}", "--method=get", "--ids_file={file:ids_sku42}",
                      "--connections=8", "--inflight=512", "--progress=false"))),
             ]),
    Scenario("call-vs-h2load", "inventory_bench --call (the method from the .proto file, the "
             "request from JSON) against h2load on the same core, same server and request, 8 "
             "connections x 64 calls in flight", [
                 Variant("h2load", (inv(SYNTH, "--completion_queues=1"),), H2Load("get-sku42")),
                 Variant("inventory_bench-call", (inv(SYNTH, "--completion_queues=1"),), Bench(
                     ("--target={target}",
                      "--call=inventory.InventoryService/GetProductAvailability",
                      f"--proto={REPO}/proto/inventory.proto",
                      '--data={{"product_id": "sku-00000042"}}', "--connections=8",
                      "--inflight=512", "--progress=false"))),
             ]),
    Scenario("client-api", "inventory_bench --call through gRPC's C API (--client_api=core, the "
             "default) and its C++ API (--client_api=cpp), against h2load on the same core, "
             "same server and request, 8 connections x 64 calls in flight", [
                 Variant("h2load", (inv(SYNTH, "--completion_queues=1"),), H2Load("get-sku42")),
             ] + [
                 Variant(f"inventory_bench-{api}", (inv(SYNTH, "--completion_queues=1"),), Bench(
                     ("--target={target}",
                      "--call=inventory.InventoryService/GetProductAvailability",
                      f"--proto={REPO}/proto/inventory.proto",
                      '--data={{"product_id": "sku-00000042"}}', "--connections=8",
                      "--inflight=512", "--progress=false", f"--client_api={api}")))
                 for api in ("core", "cpp")]),
    Scenario("client-grpc-build", "inventory_bench --call built on our release gRPC and on "
             "Debian's libgrpc++ (build-sys), against one server, 8 connections x 64 calls in "
             "flight", [
                 Variant(label, (inv(SYNTH, "--completion_queues=1"),), Bench(
                     ("--target={target}",
                      "--call=inventory.InventoryService/GetProductAvailability",
                      f"--proto={REPO}/proto/inventory.proto",
                      '--data={{"product_id": "sku-00000042"}}', "--connections=8",
                      "--inflight=512", "--progress=false"), binary=binary))
                 for label, binary in (("release-grpc", "inventory_bench"),
                                       ("debian-grpc", "inventory_bench_debian_grpc"))]),
    Scenario("batching", "GetProduct through product_server with batching on and off, and "
             "inventory_server answering GetProductAvailability itself; all on the 2 cores",
             [Variant("batching-on", product("--batching=true"), GET_PRODUCT),
              Variant("batching-off", product("--batching=false"), GET_PRODUCT),
              Variant("inventory-direct", (inv(SYNTH),), H2Load("get-sku42"))], pin=None),
    Scenario("batching-latency", "GetProduct at 1 request in flight, batching on and off: "
             "p50 and p99 over every request (h2load --log-file)", [
                 Variant("batching-on", product("--batching=true"),
                         H2Load("product-sku42", 1, 1, 40_000, latency=True)),
                 Variant("batching-off", product("--batching=false"),
                         H2Load("product-sku42", 1, 1, 40_000, latency=True))], pin=None),
    Scenario("batchget", "BatchGetProductAvailability, 100 ids per call, one inventory core "
             "(8 connections x 16 streams): look-ups/s = calls/s x 100", [
                 Variant("batchget-100", (inv(SYNTH, "--completion_queues=1"),),
                         H2Load("batchget-100", 8, 16, 400_000))]),
    Scenario("product-tuning", "product_server's batch size and batches in flight (unpinned)", [
        Variant("default", product(), GET_PRODUCT),
        Variant("batch250", product("--max_batch_size=250"), GET_PRODUCT),
        Variant("batch500", product("--max_batch_size=500"), GET_PRODUCT),
        Variant("inflight2", product("--max_in_flight_batches=2"), GET_PRODUCT),
        Variant("inflight8", product("--max_in_flight_batches=8"), GET_PRODUCT)], pin=None),
    Scenario("product-lanes", "an older product_server (--bin product_server_old=PATH) against "
             "today's, both with 64 posted calls per queue, batching on and off", [
                 Variant("old", product(binary="product_server_old"), GET_PRODUCT),
                 Variant("new", product("--calls_per_queue=64"), GET_PRODUCT),
                 Variant("old-unbatched", product("--batching=false", binary="product_server_old"),
                         GET_PRODUCT),
                 Variant("new-unbatched", product("--batching=false", "--calls_per_queue=64"),
                         GET_PRODUCT)], pin=None),
    Scenario("durable", "durable ReserveStock (--sync=true, 256 in flight) and reads with and "
             "without that write load beside them; nothing pinned (the goal's setting)",
             DURABLE_VARIANTS, pin=None),
    Scenario("durable-pinned", "the same, server on CPU 0 and every load on CPU 1",
             DURABLE_VARIANTS),
    Scenario("tls", "the core goal's load (GetProductAvailability, h2load 8 connections x 64 "
             "streams, reused connections) over plaintext and over TLS (https://, ALPN h2)", [
                 Variant("plaintext", (INV,), GET_8x64),
                 Variant("tls", (inv(*TLS),), H2Load("get", tls=True))], rounds=5),
    Scenario("tls-connect", "new connections one server core accepts: h2load with 500 clients "
             "of one call each, 4 runs back to back (req/s = connections/s), and "
             "security_load's gRPC client with a new channel per call (16 threads), over "
             "plaintext, TLS and mTLS", [
                 Variant("plaintext-h2load", (INV,), H2Load("get", **NEW_CONN)),
                 Variant("tls-h2load", (inv(*TLS),), H2Load("get", tls=True, **NEW_CONN)),
                 Variant("plaintext-grpc", (INV,), SecLoad(("--target={target}",) + CONNECT, 1000)),
                 Variant("tls-grpc", (inv(*TLS),), SecLoad(SEC_TLS + CONNECT, 1000)),
                 Variant("mtls-grpc", (inv(*MTLS),), SecLoad(SEC_CLIENT + CONNECT, 1000))]),
    Scenario("authz-cost", "SetStock's admin check: a bearer token checked against "
             "--allow_unauthenticated_admin (no check), plaintext, h2load 8 x 64, the same "
             "request each time; unchecked-header sends the same authorization header to the "
             "unchecked server, so that token minus unchecked-header is the check alone and "
             "unchecked-header minus unchecked is the header's own cost in gRPC", [
                 Variant("unchecked", (inv("--allow_unauthenticated_admin"),), SET_STOCK_H2),
                 Variant("unchecked-header", (inv("--allow_unauthenticated_admin"),),
                         dataclasses.replace(SET_STOCK_H2,
                                             headers=(f"authorization: Bearer {ADMIN_TOKEN}",))),
                 Variant("token", (inv(TOKEN_FILE),), dataclasses.replace(
                     SET_STOCK_H2, headers=(f"authorization: Bearer {ADMIN_TOKEN}",)))],
             rounds=5),
    Scenario("authz-cost-mtls", "SetStock's admin check over mTLS (security_load, 64 threads "
             "on 8 connections): the client certificate's SAN in --admin_identities, and a "
             "bearer token, against --allow_unauthenticated_admin", [
                 Variant("unchecked", (inv(*MTLS, "--allow_unauthenticated_admin"),),
                         SecLoad(SEC_ADMIN + SET_STOCK, 100_000)),
                 Variant("admin-san", (inv(*MTLS, "--admin_identities=admin.example"),),
                         SecLoad(SEC_ADMIN + SET_STOCK, 100_000)),
                 Variant("token", (inv(*MTLS, TOKEN_FILE),),
                         SecLoad(SEC_ADMIN + SET_STOCK + ("--token_file={file:admin_token}",),
                                 100_000))], rounds=5),
    Scenario("authz-orders", "ReserveStock + ReleaseReservation over mTLS (security_load "
             "--mode=churn, 256 orders in flight, the product-server client certificate), "
             "in memory: --order_identities=product-server against no order check", [
                 Variant("orders-open", (inv(*MTLS, "--catalog={file:durable_catalog}"),),
                         SecLoad(SEC_CLIENT + ORDER_CHURN, 50_000)),
                 Variant("order-identities", (inv(*MTLS, "--catalog={file:durable_catalog}",
                                                  "--order_identities=product-server"),),
                         SecLoad(SEC_CLIENT + ORDER_CHURN, 50_000))], rounds=5),
    Scenario("retention", "1,000,000 new orders (ReserveStock then ReleaseReservation each, "
             "security_load, 256 in flight) against a durable server (--data_dir, --sync=false) "
             "with --order_retention=2s: RSS, data directory and inventory_order_records "
             "sampled every second", [
                 Variant("retention-2s", (Server("inventory_server", CHURN_SERVER + (
                     "--order_retention=2s",)),), CHURN)], rounds=1),
    Scenario("retention-off", "the same with --order_retention=0 (records kept forever), for "
             "contrast (inventory_order_records is only updated by the sweep, so it stays 0)", [
                 Variant("retention-off", (Server("inventory_server", CHURN_SERVER + (
                     "--order_retention=0",)),), CHURN)], rounds=1),
    Scenario("open-loop", "latency against throughput: an open loop at rising rates, each call "
             "timed from its schedule, 5 s per rate", [
                 Variant("open-loop", (inv(SYNTH, "--completion_queues=1"),), Bench(
                     ("--target={target}", "--method=get", "--rate=" + OPEN_LOOP_RATES,
                      "--progress=false"), duration=5))], rounds=1, sweep=True),
    Scenario("pg-reserve", "durable ReserveStock through inventory_server --postgres (4 "
             "connections, synchronous_commit on, inventory_bench 256 in flight) against "
             "pgbench running the same transaction (the same prepared inventory_reserve call "
             "in one round trip, bench/bench.py PG_RESERVE_SCRIPT) on 4 connections, same database, "
             "rounds interleaved; PostgreSQL and the server on CPU 0, the load on CPU 1", [
                 Variant("pgbench", (), PgBench("pg_reserve_script", clients=PG_POOL)),
                 Variant("inventory_server", (PG_RESERVER,), PG_RESERVE_256),
                 Variant("pgbench-pipelined", (), PgBench(
                     "pg_reserve_pipelined_script", clients=PG_POOL,
                     per_script=PG_PIPELINE))],
             rounds=5, postgres=True, pg_seed=PG_RESERVER),
    Scenario("pg-reads", "GetProductAvailability (the core goal's h2load load, 8 connections x "
             "64 streams) on a replica whose system of record is PostgreSQL (its cache) against "
             "the embedded RocksDB store (--data_dir), both --synthetic_products=100000; "
             "PostgreSQL idle beside the server on CPU 0", [
                 Variant("rocksdb", (inv(SYNTH, "--data_dir={run_dir}/data"),), PG_READS),
                 Variant("postgres", (inv(SYNTH, "--postgres={postgres}"),), PG_READS)],
             rounds=5, postgres=True),
    Scenario("pg-propagation", "a change acknowledged on replica A visible in replica B's "
             "cache (what B's readers and Watch streams see), two PostgresStockMutations on one "
             "database, 5,000 SetStock-style writes/s on A (open loop, 1,000 products in turn); "
             "PostgreSQL on CPU 0, the tool (both replicas) on CPU 1", [
                 Variant("5000-writes-per-s", (), PROPAGATION),
                 Variant("2000-writes-per-s", (), dataclasses.replace(PROPAGATION, args=tuple(
                     a.replace("--rate=5000", "--rate=2000") for a in PROPAGATION.args)))],
             rounds=3, postgres=True),
]
GROUPS = {
    "ablation": ["headline", "same-queues", "depth", "depth-1", "deadlock-detection", "allocator",
                 "queues", "reflection", "channel-args", "grpc-build", "grpc-build-latency",
                 "coalescing", "coalescing-latency"],
    "service-goals": ["batching", "batching-latency", "batchget"],
    "postgres": ["pg-reserve", "pg-reads", "pg-propagation"],
    "security": ["tls", "tls-connect", "authz-cost", "authz-cost-mtls", "authz-orders",
                 "retention", "retention-off"],
}
BINARIES = {  # {build}: --build-dir
    "inventory_server": "{build}/server/inventory/inventory_server",
    "product_server": "{build}/server/product/product_server",
    "baseline": "{build}/bench/baseline_async_server",
    "inventory_bench": "{build}/bench/inventory_bench",
    "security_load": "{build}/bench/security_load",
    "pg_propagation_bench": "{build}/bench/pg_propagation_bench",
    "inventory_server_nojemalloc": "{build}-nojemalloc/server/inventory/inventory_server",
    "inventory_server_debian_grpc": "{build}-sys/server/inventory/inventory_server",
    "inventory_bench_debian_grpc": "{build}-sys/bench/inventory_bench",
    "grpc_go_server": "{build}/bench/peers/grpc_go_server",
    "seed_server": "{repo}/bench/peers/seed_server.py",
    "product_server_old": None,
    "inventory_server_unpatched": None,
}
BINARY_NOTES = {
    "inventory_server_nojemalloc": "cmake -S . -B build-nojemalloc -G Ninja "
    "-DINVENTORY_JEMALLOC=OFF && cmake --build build-nojemalloc --target inventory_server",
    "inventory_server_debian_grpc": "cmake -S . -B build-sys -G Ninja -DINVENTORY_SYSTEM_GRPC=ON "
    "-DINVENTORY_BUILD_TESTS=OFF && cmake --build build-sys --target inventory_server",
    "inventory_bench_debian_grpc": "cmake -S . -B build-sys -G Ninja -DINVENTORY_SYSTEM_GRPC=ON "
    "-DINVENTORY_BUILD_TESTS=OFF && cmake --build build-sys --target inventory_bench",
    "grpc_go_server": "built by the driver (go build, GOPATH mode, offline)",
    "seed_server": "run by /usr/bin/python3 with stubs the driver generates",
    "product_server_old": "only with --bin product_server_old=PATH, e.g. a product_server "
    "built from `git worktree add /tmp/old ac802f7^`",
    "inventory_server_unpatched": "only with --bin inventory_server_unpatched=PATH, e.g. an "
    "inventory_server configured with -DINVENTORY_GRPC_PREFIX= a gRPC built without 0002-0004",
}
# What scripts/install_deps.sh --bench adds: the grpc-go peer's build, and perf.
PEER_PACKAGES = ["golang-go", "golang-google-grpc-dev", "golang-goprotobuf-dev",
                 "protoc-gen-go-grpc", "linux-perf"]

# --- processes ----------------------------------------------------------------

_live = []  # servers to kill on any way out
_scratch = []  # the drivers' work directories: removed after success, kept after a failure


def log(message):
    print(message, file=sys.stderr, flush=True)


def pin_prefix(cpu):
    return ["taskset", "-c", cpu] if cpu is not None else []


def peak_rss_mb(pid):
    """The process's peak resident set (VmHWM) so far, in MiB; None if unknown."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def rss_mb(pid):
    """The process's resident set (VmRSS) now, in MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise BenchError(f"no VmRSS for {pid}")


def dir_mb(path):
    """Bytes of the files under path (as du --apparent-size), in MiB; 0 if missing."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass  # RocksDB deletes files as we walk
    return total / (1 << 20)


def cpu_seconds(pid):
    """utime + stime of a process (all its threads) from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RunningServer:
    LISTENING = re.compile(r"listening on (\S+):(\d+)")

    def __init__(self, name, argv, env, log_path, cpu, timeout=30):
        self.name, self.argv, self.env, self.log_path = name, argv, dict(env), log_path
        self.log_file = open(log_path, "wb")
        full_env = dict(os.environ, **dict(env))
        self.process = subprocess.Popen(pin_prefix(cpu) + argv, stdin=subprocess.DEVNULL,
                                        stdout=self.log_file, stderr=subprocess.STDOUT,
                                        env=full_env, start_new_session=True)
        _live.append(self)
        deadline = time.monotonic() + timeout
        while True:
            match = self.LISTENING.search(open(log_path, errors="replace").read())
            if match:
                self.address = f"{match.group(1).strip('[]')}:{match.group(2)}"
                self.port = int(match.group(2))
                metrics = re.search(r"metrics on port (\d+)", open(log_path, errors="replace").read())
                self.metrics_port = int(metrics.group(1)) if metrics else None
                if self.port == 0:
                    raise BenchError(f"{name} reported port 0: {self.tail()}")
                return
            if self.process.poll() is not None:
                raise BenchError(f"{name} exited with status {self.process.returncode} before "
                                 f"printing 'listening on HOST:PORT':\n{self.tail()}")
            if time.monotonic() > deadline:
                raise BenchError(f"{name} printed no 'listening on HOST:PORT' in {timeout} s:\n"
                                 f"{self.tail()}")
            time.sleep(0.05)

    @property
    def pid(self):
        return self.process.pid

    def tail(self, lines=20):
        return "\n".join(open(self.log_path, errors="replace").read().splitlines()[-lines:])

    def stop(self, timeout=20):
        """SIGTERM; the server must exit 0 within the timeout."""
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise BenchError(f"{self.name} still running {timeout} s after SIGTERM:\n{self.tail()}")
        self.kill()  # anything left in its process group
        if code != 0:
            raise BenchError(f"{self.name} exited with status {code} after SIGTERM:\n{self.tail()}")

    def kill(self):
        if self in _live:
            _live.remove(self)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        self.log_file.close()


PG_BIN = "/usr/lib/postgresql/15/bin"
# The settings a deployment would keep for durability (the defaults, stated),
# and the memory a small dedicated database would get.
PG_SETTINGS = ("fsync=on", "synchronous_commit=on", "full_page_writes=on", "wal_sync_method=fdatasync",
               "shared_buffers=256MB", "max_connections=100", "max_wal_size=4GB",
               "checkpoint_timeout=15min")


class Postgres:
    """A PostgreSQL 15 server of the driver's own: initdb into DIR/data (on
    the disk of the driver's work directory, not tmpfs), the server started
    with PG_SETTINGS, listening only on its Unix socket in DIR (as
    test/postgres_test_server.cc does; as user nobody when run as root), on
    `cpu` when pinned (postmaster and every backend inherit the affinity)."""

    USER = "nobody"

    def __init__(self, root, cpu):
        self.dir = root
        self.data = os.path.join(root, "data")
        self.cpu = cpu
        self.as_owner = ["runuser", "-u", self.USER, "--"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            os.chown(root, pwd_uid(self.USER), -1)
        self._run([f"{PG_BIN}/initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
                   "--no-locale", "-E", "UTF8"], "initdb.log")
        options = " ".join([f"-c listen_addresses='' -k {root} -p 5432"] +
                           [f"-c {setting}" for setting in PG_SETTINGS])
        self._run(pin_prefix(cpu) + [f"{PG_BIN}/pg_ctl", "-D", self.data, "-l",
                                     os.path.join(root, "server.log"), "-w", "-t", "60", "-o",
                                     options, "start"], "pg_ctl.log")
        self.running = True
        self.uri = f"host={root} port=5432 user=postgres dbname=postgres"
        self.postmaster = int(open(os.path.join(self.data, "postmaster.pid")).readline())

    def _run(self, argv, log_name):
        log_path = os.path.join(self.dir, log_name)
        with open(log_path, "wb") as out:
            code = subprocess.run(self.as_owner + argv if argv[0] != "taskset" else
                                  argv[:3] + self.as_owner + argv[3:], stdout=out,
                                  stderr=subprocess.STDOUT, cwd=self.dir, timeout=120).returncode
        if code != 0:
            raise BenchError(f"{shlex.join(argv)} exited {code}:\n{open(log_path).read()[-2000:]}")

    def cpu_seconds(self):
        """CPU time of every process of the server: the postmaster's own and its
        exited children's (cutime + cstime: it waits for every backend), and
        the running children's."""
        with open(f"/proc/{self.postmaster}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total = sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
        for pid in children(self.postmaster):
            try:
                total += cpu_seconds(pid)
            except OSError:
                pass  # a backend that exited
        return total

    def query(self, sql):
        out = subprocess.run([f"{PG_BIN}/psql", self.uri, "-At", "-c", sql], capture_output=True,
                             text=True, timeout=60)
        if out.returncode != 0:
            raise BenchError(f"psql {sql!r}: {out.stderr}")
        return out.stdout.strip()

    def stop(self):
        if self.running:
            self.running = False
            self._run([f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "60",
                       "stop"], "pg_ctl.log")


def pwd_uid(user):
    import pwd
    return pwd.getpwnam(user).pw_uid


def children(pid):
    """Direct children of pid (the postmaster's backends and workers)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def run_timed(argv, out_path, timeout, env=None):
    """Runs argv with stdout+stderr to out_path; returns (status, CPU seconds it used)."""
    with open(out_path, "wb") as out:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, env=env)
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
    if timer.finished.is_set() and process.returncode < 0:
        raise BenchError(f"killed after {timeout} s: {shlex.join(argv)}")
    return process.returncode, usage.ru_utime + usage.ru_stime


# --- h2load, and the one check of its responses -------------------------------


@dataclasses.dataclass
class H2Result:
    rps: float
    requests: int
    data_bytes: int
    load_cpu_s: float
    latencies_us: list = None
    tls: str = None  # what h2load negotiated: protocol, cipher, key exchange, ALPN


def parse_h2load(text, expected_requests, ok_frame_bytes):
    """The figures of one h2load report, or BenchError unless every response was OK.

    An OK response has DATA = the expected frame; a gRPC error is an HTTP 200
    with no DATA (trailers only), so the DATA total exposes any error."""
    rps = re.search(r"^finished in [^,]+, ([0-9.]+) req/s", text, re.M)
    req = re.search(r"^requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, "
                    r"(\d+) failed, (\d+) errored, (\d+) timeout", text, re.M)
    codes = re.search(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text, re.M)
    data = re.search(r"^traffic: .*\((\d+)\) data$", text, re.M)
    if not (rps and req and codes and data):
        raise BenchError(f"cannot parse h2load's report:\n{text[-2000:]}")
    total, done, succeeded, failed, errored, timeouts = map(int, req.groups())
    two_xx = int(codes.group(1))
    data_bytes = int(data.group(1))
    problems = []
    if expected_requests is not None and succeeded != expected_requests:
        problems.append(f"{succeeded} of {expected_requests} requests succeeded")
    if succeeded == 0:
        problems.append("no request succeeded")
    if failed or errored or timeouts:
        problems.append(f"{failed} failed, {errored} errored, {timeouts} timed out")
    if two_xx != succeeded:
        problems.append(f"{two_xx} HTTP 2xx for {succeeded} successes")
    if data_bytes != succeeded * ok_frame_bytes:
        problems.append(f"DATA bytes {data_bytes} != {succeeded} responses x {ok_frame_bytes} "
                        f"bytes of the OK response = {succeeded * ok_frame_bytes}: not every "
                        f"response was the expected OK answer (a gRPC error carries no DATA)")
    if problems:
        raise BenchError("h2load run not all OK: " + "; ".join(problems))
    return float(rps.group(1)), succeeded, data_bytes


def probe(address, call, work, tls=False, headers=()):
    """One call through nghttp: grpc-status must be 0 and the answer exactly call.response."""
    url = f"{'https' if tls else 'http'}://{address}{call.path}"
    body = write_frame(work, call)
    argv = ["nghttp", "-H", ":method: POST", "-H", "content-type: application/grpc",
            "-H", "te: trailers"] + [a for h in headers for a in ("-H", h)] + ["-d", body, url]
    verbose = subprocess.run(argv[:1] + ["-v"] + argv[1:], capture_output=True, timeout=30)
    statuses = re.findall(rb"recv \(stream_id=\d+\) grpc-status: (\d+)", verbose.stdout)
    if verbose.returncode != 0 or statuses != [b"0"]:
        message = re.findall(rb"grpc-message: (.*)", verbose.stdout)
        raise BenchError(f"{call.path} on {address}: grpc-status {[s.decode() for s in statuses]} "
                         f"({[m.decode(errors='replace') for m in message]}), expected 0; "
                         f"nghttp exit {verbose.returncode}")
    answer = subprocess.run(argv, capture_output=True, timeout=30).stdout
    if answer != grpc_frame(call.response):
        raise BenchError(f"{call.path} on {address}: answer {answer.hex()} != expected "
                         f"{grpc_frame(call.response).hex()}")


def write_frame(work, call):
    path = os.path.join(work, "request-" + call.request.hex()[:40] + ".bin")
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(grpc_frame(call.request))
    return path


def h2load_argv(address, call, load, requests=None, duration=None, cpu=None, body="FRAME",
                log_file=None):
    argv = pin_prefix(cpu) + ["h2load"]
    argv += ["-n", str(requests)] if requests is not None else ["-D", f"{round(duration * 1000)}ms"]
    argv += ["-c", str(load.connections), "-m", str(load.streams), "-t", "1",
             "-H", "content-type: application/grpc", "-H", "te: trailers"]
    argv += [a for h in load.headers for a in ("-H", h)] + ["-d", body]
    if log_file:
        argv += ["--log-file", log_file]
    return argv + [f"{'https' if load.tls else 'http'}://{address}{call.path}"]


def run_h2load(address, call, load, work, requests=None, duration=None, cpu=None,
               check_first=True, timeout=900):
    """THE h2load routine: runs one load and verifies every response, or raises.

    requests: a fixed count (-n), or duration: seconds (-D). check_first
    (always, except in self-test) probes one call for grpc-status 0 and the
    exact answer first; the report's DATA total then covers every response."""
    if check_first:
        probe(address, call, work, load.tls, load.headers)
    out = os.path.join(work, "h2load.txt")
    log_file = os.path.join(work, "h2load-latency.log") if load.latency else None
    argv = h2load_argv(address, call, load, requests, duration, cpu, write_frame(work, call),
                       log_file)
    status, load_cpu = run_timed(argv, out, timeout)
    text = open(out, errors="replace").read()
    if status != 0:
        raise BenchError(f"h2load exited {status}: {shlex.join(argv)}\n{text[-2000:]}")
    rps, succeeded, data_bytes = parse_h2load(text, requests, len(grpc_frame(call.response)))
    if load.tls:  # the gRPC server must have negotiated HTTP/2 by ALPN, over TLS
        alpn = re.search(r"^Application protocol: (\S+)", text, re.M)
        proto = re.search(r"^TLS Protocol: (\S+)", text, re.M)
        if not alpn or alpn.group(1) != "h2" or not proto:
            raise BenchError(f"h2load over TLS did not report ALPN h2:\n{text[:1000]}")
        cipher = re.search(r"^Cipher: (\S+)", text, re.M)
        key = re.search(r"^Server Temp Key: (.+)$", text, re.M)
        tls_seen = (f"{proto.group(1)}, {cipher.group(1) if cipher else '?'}, "
                             f"{key.group(1).strip() if key else '?'}, ALPN h2")
    else:
        tls_seen = None
    latencies = None
    if log_file:
        latencies = sorted(int(line.split()[2]) for line in open(log_file) if line.strip())
        if len(latencies) != succeeded:
            raise BenchError(f"--log-file has {len(latencies)} lines for {succeeded} requests")
    return H2Result(rps, succeeded, data_bytes, load_cpu, latencies, tls_seen)


# --- syscalls -----------------------------------------------------------------

READS = ["read", "readv", "recvfrom", "recvmsg", "recvmmsg"]
WRITES = ["write", "writev", "sendto", "sendmsg", "sendmmsg"]


class SyscallCounter:
    """Counts a process's syscalls while a load runs: perf stat (in-kernel
    counters) if it works here, else strace -c -f (ptrace: slows the server)."""

    tool = None

    @classmethod
    def choose(cls):
        if cls.tool is None:
            cls.tool = "none"
            try:
                if subprocess.run(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter,"
                                   "syscalls:sys_enter_write", "--", "true"],
                                  capture_output=True, timeout=30).returncode == 0:
                    cls.tool = "perf"
            except (OSError, subprocess.TimeoutExpired):
                pass
            if cls.tool == "none":
                try:
                    subprocess.run(["strace", "-V"], capture_output=True, check=True)
                    cls.tool = "strace"
                except (OSError, subprocess.CalledProcessError):
                    pass
        return cls.tool

    def __init__(self, pid, work):
        self.out = os.path.join(work, "syscalls.txt")
        tool = self.choose()
        if tool == "perf":
            events = ",".join(["raw_syscalls:sys_enter"] +
                              [f"syscalls:sys_enter_{s}" for s in READS + WRITES])
            argv = ["perf", "stat", "-x,", "-e", events, "-p", str(pid), "-o", self.out]
        elif tool == "strace":
            argv = ["strace", "-f", "-c", "-q", "-p", str(pid), "-o", self.out]
        else:
            raise BenchError("neither perf (linux-perf) nor strace can count syscalls here")
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)  # attached to every thread before the load starts
        if self.process.poll() is not None:
            raise BenchError(f"{tool} failed: {self.process.stderr.read().decode(errors='replace')}")

    def stop(self):
        """Returns {"all": n, "reads": n, "writes": n}."""
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=30)
        text = open(self.out).read()
        counts = {}
        if self.tool == "perf":
            for line in text.splitlines():
                parts = line.split(",")
                if len(parts) > 2 and parts[0].isdigit():
                    counts[parts[2].split(":")[-1].replace("sys_enter_", "")] = int(parts[0])
            total = counts.get("sys_enter", 0)
        else:  # % time, seconds, usecs/call, calls, [errors,] syscall
            for line in text.splitlines():
                parts = line.split()
                if len(parts) >= 5 and parts[3].isdigit() and parts[-1] != "total":
                    counts[parts[-1]] = int(parts[3])
            total = sum(counts.values())
        return {"all": total, "reads": sum(counts.get(s, 0) for s in READS),
                "writes": sum(counts.get(s, 0) for s in WRITES)}


# --- inventory_bench's load mode ------------------------------------------------


def run_bench(binary, load, target, work, subs, duration, cpu, name, timeout=900):
    """One inventory_bench run; returns its JSON's benchmarks (it fails on any error)."""
    out_json = os.path.join(work, f"{name}.json")
    args = [a.format(target=target, **subs) for a in load.args]
    argv = pin_prefix(cpu) + [binary] + args + [
        f"--duration={duration}s", "--warmup=0s", f"--benchmark_out={out_json}",
        "--benchmark_out_format=json"]
    status, load_cpu = run_timed(argv, os.path.join(work, f"{name}.txt"), timeout)
    if status != 0:
        text = open(os.path.join(work, f"{name}.txt"), errors="replace").read()
        raise BenchError(f"inventory_bench exited {status} (errors?): {shlex.join(argv)}\n"
                         f"{text[-3000:]}")
    runs = json.load(open(out_json))["benchmarks"]
    for run in runs:
        if run.get("error_occurred") or run.get("errors", 0) != 0:
            raise BenchError(f"inventory_bench run with errors: {run}")
    return runs, load_cpu, out_json


# --- peers: build and set up ----------------------------------------------------


def setup_peers():
    """Installs the peers' Debian packages (scripts/install_deps.sh --bench)."""
    missing = [p for p in PEER_PACKAGES if subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True,
        text=True).stdout != "install ok installed"]
    if missing:
        log(f"bench: installing the peers' packages {' '.join(missing)}: "
            f"scripts/install_deps.sh --bench")
        subprocess.run(["bash", os.path.join(REPO, "scripts/install_deps.sh"), "--bench"],
                       check=True)


def build_go_peer(build_dir):
    """Builds bench/peers/grpc_go_server.go offline in GOPATH mode from Debian's
    packages; the stubs come from a copy of proto/inventory.proto with a
    go_package option added (the wire format does not change)."""
    root = os.path.join(build_dir, "bench/peers")
    gopath = os.path.join(root, "gopath")
    for d in ("proto", "src/example/inventorypb", "src/example/grpc_go_server"):
        os.makedirs(os.path.join(gopath, d), exist_ok=True)
    proto = open(os.path.join(REPO, "proto/inventory.proto")).read()
    with open(os.path.join(gopath, "proto/inventory.proto"), "w") as f:
        f.write(proto + '\noption go_package = "example/inventorypb";\n')
    subprocess.run(["protoc", "-I", os.path.join(gopath, "proto"),
                    "--go_out=" + os.path.join(gopath, "src"),
                    "--go-grpc_out=" + os.path.join(gopath, "src"), "inventory.proto"], check=True)
    with open(os.path.join(REPO, "bench/peers/grpc_go_server.go")) as src, \
            open(os.path.join(gopath, "src/example/grpc_go_server/main.go"), "w") as dst:
        dst.write(src.read())
    env = dict(os.environ, GOPATH=f"{gopath}:/usr/share/gocode", GO111MODULE="off",
               GOFLAGS="", GOPROXY="off")
    binary = os.path.join(root, "grpc_go_server")
    log(f"bench: go build -o {binary} example/grpc_go_server (GOPATH mode, offline)")
    subprocess.run(["go", "build", "-o", binary, "example/grpc_go_server"], env=env, check=True,
                   cwd=gopath)
    return binary


def python_stubs(build_dir):
    stubs = os.path.join(build_dir, "bench/peers/python")
    os.makedirs(stubs, exist_ok=True)
    subprocess.run(["protoc", "-I", os.path.join(REPO, "proto"), f"--python_out={stubs}",
                    f"--grpc_out={stubs}", "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
                    "inventory.proto"], check=True)
    return stubs


# --- generated input files ---------------------------------------------------------


def make_file(name, work):
    path = os.path.join(work, name)
    if os.path.exists(path):
        return path
    with open(path, "w") as f:
        if name == "durable_catalog":  # stock no run can exhaust
            f.write("product_id,quantity\n")
            f.writelines(f"sku-{i:08d},100000000\n" for i in range(100000))
        elif name == "pg_catalog":  # the PostgreSQL scenarios' ids (see PG_RESERVER)
            f.write("product_id,quantity\n")
            f.writelines(f"sku-1{i:07d},100000000\n" for i in range(100000))
        elif name == "pg_reserve_script":
            f.write(PG_RESERVE_SCRIPT)
        elif name == "pg_reserve_pipelined_script":
            f.write(pg_reserve_pipelined_script())
        elif name == "ids_sku42":
            f.write("sku-00000042\n")
        elif name == "admin_token":
            f.write(ADMIN_TOKEN + "\n")
        else:
            raise BenchError(f"no generated file {name}")
    return path


# pgbench's ReserveStock: the transaction of PostgresStockMutations::Reserve
# (storage/postgres/postgres_stock_mutations.cc) for a new order of one line,
# quantity 1, as inventory_bench --method=reserve sends it: the same prepared
# call of inventory_reserve (migration 3) in one round trip, its own
# transaction (pgbench -M prepared, as the service prepares it on every
# connection). The order id is pgb-<client>-<random 63-bit number>, unique
# in practice as the service's (a repeat answers 'existing': then fewer
# orders than transactions are recorded, which the self-test checks).
PG_RESERVE_SCRIPT = r"""\set p random(10000000, 10099999)
\set o random(1, 9223372036854775806)
SELECT out_outcome, out_product, out_a, out_b, out_owner, out_released FROM inventory_reserve('pgb-' || :client_id || '-' || :o, '', ARRAY['sku-' || :p], ARRAY[1]);
"""


# The service pipelines the reservations waiting for a connection, up to
# PostgresStockMutations::kMaxReservePipeline, each its own BEGIN, call and
# COMMIT, one Sync after them all. This script does the same with a full
# pipeline every time (the service's are as long as its queue): the
# database's rate with pipelining, for comparison (PG_PIPELINE, above).


def pg_reserve_pipelined_script():
    lines = []
    for i in range(PG_PIPELINE):
        lines += [f"\\set p{i} random(10000000, 10099999)",
                  f"\\set o{i} random(1, 9223372036854775806)"]
    lines.append("\\startpipeline")
    for i in range(PG_PIPELINE):
        lines += ["BEGIN;",
                  "SELECT out_outcome, out_product, out_a, out_b, out_owner, out_released FROM "
                  f"inventory_reserve('pgb-' || :client_id || '-' || :o{i}, '', "
                  f"ARRAY['sku-' || :p{i}], ARRAY[1]);",
                  "COMMIT;"]
    lines.append("\\endpipeline")
    return "\n".join(lines) + "\n"


# --- running a scenario --------------------------------------------------------------


class Driver:
    def __init__(self, opts, install=True):
        self.opts = opts
        self.install = install  # may run setup_peers(); never in self-test (ctest, CI)
        self.build = os.path.abspath(opts.build_dir)
        self.bins = dict(BINARIES)
        for item in opts.bin:
            name, _, path = item.partition("=")
            if name not in self.bins or not path:
                raise BenchError(f"--bin {item}: expected NAME=PATH with NAME one of {list(self.bins)}")
            self.bins[name] = os.path.abspath(path)
        self.server_args = {}
        for item in opts.server_args:
            name, _, flags = item.partition("=")
            self.server_args.setdefault(name, []).extend(shlex.split(flags))
        self.work = tempfile.mkdtemp(prefix="bench.")
        _scratch.append(self.work)
        self.prepared = {}
        self.pg = None  # the running scenario's Postgres, if it has one

    def binary(self, name):
        if name in self.prepared:
            return self.prepared[name]
        template = self.bins[name]
        if template is None:
            raise BenchError(f"this scenario needs --bin {name}=PATH")
        path = template.format(build=self.build, repo=REPO)
        argv, env = [path], {}
        overridden = name in [i.partition("=")[0] for i in self.opts.bin]
        if name == "grpc_go_server" and not overridden:
            if self.install:
                setup_peers()
            argv = [build_go_peer(self.build)]
        elif name == "seed_server":  # python3-grpcio: in install_deps.sh's main list
            argv, env = [PYTHON, path], {"PYTHONPATH": python_stubs(self.build),
                                        "PYTHONNOUSERSITE": "1"}
        if not os.access(argv[0], os.X_OK):
            raise BenchError(f"{name}: {argv[0]} is not built (see `bench/bench.py list` for "
                             f"where each binary comes from), or pass --bin {name}=PATH")
        self.prepared[name] = (argv, env)
        return self.prepared[name]

    def server_argv(self, server, subs):
        argv, env = self.binary(server.name)
        args = [a.format(**subs) for a in server.args] + self.server_args.get(server.name, [])
        return argv + args, dict(env, **dict(server.env))

    def run_variant(self, scenario, variant, run_dir, pin):
        server_cpu, load_cpu = pin if pin else (None, None)
        subs = {"listen": "127.0.0.1:0", "run_dir": run_dir, "certs": self.certs()}
        if self.pg:
            subs["postgres"] = self.pg.uri
        if isinstance(variant.load, (PgBench, Propagation)):
            return self.pg_variant(variant.load, run_dir, load_cpu, subs)
        files = {}
        for spec in variant.servers + ((variant.background,) if variant.background else ()):
            for a in spec.args:
                for f in re.findall(r"\{file:(\w+)\}", a):
                    files[f"file:{f}"] = make_file(f, self.work)
        if isinstance(variant.load, (Bench, SecLoad, Churn)):
            for a in variant.load.args:
                for f in re.findall(r"\{file:(\w+)\}", a):
                    files[f"file:{f}"] = make_file(f, self.work)
        fmt = lambda s: re.sub(r"\{file:(\w+)\}", lambda m: files[f"file:{m.group(1)}"], s)
        servers, result = [], {}
        try:
            for i, spec in enumerate(variant.servers):
                argv, env = self.server_argv(dataclasses.replace(
                    spec, args=tuple(fmt(a) for a in spec.args)), subs)
                servers.append(RunningServer(spec.name, argv, env,
                                             os.path.join(run_dir, f"server-{i}.log"), server_cpu))
                if i == 0:
                    subs["backend"] = servers[0].address
            measured = servers[-1]
            result["commands"] = [shlex.join(
                [f"{k}={v}" for k, v in s.env.items()] + pin_prefix(server_cpu) + s.argv).replace(
                run_dir, "RUN_DIR").replace(self.work, "WORK").replace(REPO + "/", "").replace(
                subs["backend"], "BACKEND") for s in servers]
            if isinstance(variant.load, H2Load):
                self.h2load_variant(variant.load, measured, servers, run_dir, load_cpu, result)
            elif isinstance(variant.load, (SecLoad, Churn)):
                load = dataclasses.replace(variant.load, args=tuple(
                    fmt(a).format(certs=subs["certs"], target=measured.address)
                    for a in variant.load.args))
                if isinstance(load, SecLoad):
                    self.sec_variant(load, measured, run_dir, load_cpu, result)
                else:
                    self.churn_variant(load, measured, run_dir, load_cpu, result)
            else:
                load = dataclasses.replace(variant.load, args=tuple(fmt(a) for a in variant.load.args))
                bg = variant.background and dataclasses.replace(
                    variant.background, args=tuple(fmt(a) for a in variant.background.args))
                self.bench_variant(load, bg, measured, servers, run_dir, load_cpu, result)
            result["rss_mb"] = peak_rss_mb(measured.pid)
            for server in reversed(servers):
                server.stop()
        finally:
            for server in servers:
                if server in _live:
                    server.kill()
        return result

    def pg_variant(self, load, run_dir, load_cpu, subs):
        """pgbench or pg_propagation_bench against the scenario's PostgreSQL
        (no gRPC server). The PostgreSQL CPU of the run goes in the result."""
        if self.pg is None:
            raise BenchError("a PostgreSQL load in a scenario without postgres=True")
        result = {"commands": []}
        duration = self.opts.duration or load.duration
        before = self.pg.cpu_seconds()
        if isinstance(load, PgBench):
            script = make_file(load.script, self.work)
            argv = ["pgbench", "-n", "-M", "prepared", "-c", str(load.clients), "-j", "1",
                    "-f", script]
            if self.opts.warmup:
                run_timed(pin_prefix(load_cpu) + argv + ["-T", str(max(1, round(self.opts.warmup))),
                                                         self.pg.uri],
                          os.path.join(run_dir, "pgbench-warmup.txt"), 120)
                before = self.pg.cpu_seconds()
            argv += ["-T", str(duration)]
            out = os.path.join(run_dir, "pgbench.txt")
            status, load_cpu_s = run_timed(pin_prefix(load_cpu) + argv + [self.pg.uri], out,
                                           duration + 120)
            text = open(out, errors="replace").read()
            tps = re.search(r"^tps = ([0-9.]+) \(without initial connection time\)", text, re.M)
            done = re.search(r"^number of transactions actually processed: (\d+)", text, re.M)
            failed = re.search(r"^number of failed transactions: (\d+)", text, re.M)
            if status != 0 or not tps or not done or (failed and int(failed.group(1))):
                raise BenchError(f"pgbench exited {status} or had failures:\n{text[-3000:]}")
            calls = int(done.group(1))
            latency = re.search(r"^latency average = ([0-9.]+) ms", text, re.M)
            calls *= load.per_script
            result.update(rps=float(tps.group(1)) * load.per_script, calls=calls,
                          load_cpu_us=load_cpu_s * 1e6 / calls)
            if latency:
                result["mean_ms"] = float(latency.group(1))
            result["load_command"] = shlex.join(pin_prefix(load_cpu) + argv + ["PG_URI"]).replace(
                script, "bench/bench.py:" + {"pg_reserve_script": "PG_RESERVE_SCRIPT"}.get(
                    load.script, load.script + "()"))
        else:
            binary = self.binary("pg_propagation_bench")[0][0]
            args = [a.format(**subs) for a in load.args]
            argv = pin_prefix(load_cpu) + [binary] + args + [f"--duration={duration}s"]
            out = os.path.join(run_dir, "propagation.txt")
            status, load_cpu_s = run_timed(argv, out, duration + 300)
            text = open(out, errors="replace").read()
            line = next((l for l in text.splitlines() if l.startswith("{")), None)
            if status != 0 or line is None:
                raise BenchError(f"pg_propagation_bench exited {status}:\n{text[-3000:]}")
            report = json.loads(line)
            result.update(rps=report["acked_rate"], calls=report["writes"] - report["failed"],
                          offered=report["rate"], failed=report["failed"],
                          p50_ms=report["ack_to_visible"]["p50_ms"],
                          p99_ms=report["ack_to_visible"]["p99_ms"],
                          max_ms=report["ack_to_visible"]["max_ms"],
                          sched_p99_ms=report["scheduled_to_visible"]["p99_ms"],
                          commit_p50_ms=report["commit"]["p50_ms"],
                          commit_p99_ms=report["commit"]["p99_ms"],
                          late=report["late_starts"], propagation=report)
            result["load_command"] = shlex.join(argv).replace(self.pg.uri, "PG_URI").replace(
                binary, "pg_propagation_bench")
        result["pg_cpu_us"] = (self.pg.cpu_seconds() - before) * 1e6 / result["calls"]
        return result

    def h2load_variant(self, load, measured, servers, run_dir, load_cpu, result):
        call = CALLS[load.call]
        address = measured.address
        plain = dataclasses.replace(load, latency=False)
        if load.repeat > 1:
            # One request per client, so --requests does not apply; the warm-up
            # is one run of the same shape (h2load -D with hundreds of TLS
            # clients still connecting never returns).
            requests = load.requests
            run_h2load(address, call, plain, run_dir, requests=requests, cpu=load_cpu)
        else:
            requests = self.opts.requests or load.requests
            run_h2load(address, call, plain, run_dir, duration=self.opts.warmup, cpu=load_cpu)
        before = [cpu_seconds(s.pid) for s in servers]
        # load.repeat > 1: runs back to back, each with new connections; the
        # rate is all their requests over the sum of h2load's own run times.
        runs = [run_h2load(address, call, load, run_dir, requests=requests, cpu=load_cpu)
                for _ in range(load.repeat)]
        after = [cpu_seconds(s.pid) for s in servers]
        calls = sum(h.requests for h in runs)
        elapsed = sum(h.requests / h.rps for h in runs)
        h2 = runs[0]
        result.update(rps=calls / elapsed, calls=calls,
                      load_cpu_us=sum(h.load_cpu_s for h in runs) * 1e6 / calls,
                      cpu_us=(after[-1] - before[-1]) * 1e6 / calls,
                      cpu_all_us=(sum(after) - sum(before)) * 1e6 / calls,
                      server_util=(after[-1] - before[-1]) / elapsed)
        if h2.tls:
            result["tls"] = h2.tls
        if h2.latencies_us:
            lat = h2.latencies_us
            result.update(p50_us=lat[len(lat) // 2], p99_us=lat[min(len(lat) - 1, len(lat) * 99 // 100)])
        result["load_command"] = shlex.join(h2load_argv("ADDRESS", call, load, requests, cpu=load_cpu))
        if load.repeat > 1:
            result["load_command"] += f"  (x{load.repeat}, back to back)"
        if not self.opts.no_syscalls and load.syscalls:
            n = self.opts.syscall_requests or max(1000, requests // 10)
            counter = SyscallCounter(measured.pid, run_dir)
            try:
                run_h2load(address, call, plain, run_dir, requests=n, cpu=load_cpu)
            finally:
                counts = counter.stop()
            result.update({f"sys_{k}": v / n for k, v in counts.items()})
            result["syscall_tool"] = SyscallCounter.tool

    def certs(self):
        """The test certificates (test/tls/make_test_certs.sh), made once per driver."""
        path = os.path.join(self.work, "certs")
        if not os.path.exists(os.path.join(path, "server.pem")):
            subprocess.run(["bash", os.path.join(REPO, "test/tls/make_test_certs.sh"), path],
                           check=True, capture_output=True, timeout=60)
        return path

    def run_security_load(self, args, count, work, cpu, name, timeout=1200):
        """One security_load run; returns (calls done, seconds, load CPU seconds)."""
        binary = self.binary("security_load")[0][0]
        argv = pin_prefix(cpu) + [binary] + list(args) + [f"--count={count}"]
        out = os.path.join(work, f"{name}.txt")
        status, load_cpu = run_timed(argv, out, timeout)
        text = open(out, errors="replace").read()
        done = re.search(r"^done: (\d+) \w+ in ([0-9.]+) s", text, re.M)
        if status != 0 or not done or int(done.group(1)) != count:
            raise BenchError(f"security_load exited {status}: {shlex.join(argv)}\n{text[-3000:]}")
        return int(done.group(1)), float(done.group(2)), load_cpu

    def sec_variant(self, load, measured, run_dir, load_cpu, result):
        count = self.opts.requests or load.count
        self.run_security_load(load.args, max(100, count // 10), run_dir, load_cpu, "warmup")
        before = cpu_seconds(measured.pid)
        calls, seconds, client_cpu = self.run_security_load(load.args, count, run_dir, load_cpu,
                                                            "load")
        used = cpu_seconds(measured.pid) - before
        result.update(rps=calls / seconds, calls=calls, cpu_us=used * 1e6 / calls,
                      cpu_all_us=used * 1e6 / calls, load_cpu_us=client_cpu * 1e6 / calls,
                      server_util=used / seconds)
        result["load_command"] = shlex.join(pin_prefix(load_cpu) + ["security_load"] + [
            a.replace(measured.address, "ADDRESS").replace(self.work, "WORK") for a in load.args] +
            [f"--count={count}"])

    def churn_variant(self, load, measured, run_dir, load_cpu, result):
        """Runs the churn while a thread samples the server every load.sample_s,
        and on for load.settle_s after it; the samples go into the result."""
        count = self.opts.requests or load.count
        data_dir = os.path.join(run_dir, "data")
        if measured.metrics_port is None:
            raise BenchError("the retention server printed no 'metrics on port N'")
        samples, stop, start = [], threading.Event(), time.monotonic()

        def sample():
            while True:
                records = None
                try:
                    with urllib.request.urlopen(
                            f"http://127.0.0.1:{measured.metrics_port}/metrics", timeout=5) as r:
                        m = re.search(rb"^inventory_order_records(?:\{[^}]*\})? ([0-9.e+]+)$",
                                      r.read(), re.M)
                        records = float(m.group(1)) if m else None
                except OSError:
                    pass
                samples.append((time.monotonic() - start, rss_mb(measured.pid),
                                dir_mb(data_dir), records))
                if stop.wait(load.sample_s):
                    return

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            before = cpu_seconds(measured.pid)
            calls, seconds, client_cpu = self.run_security_load(
                load.args, count, run_dir, load_cpu, "churn")
            used = cpu_seconds(measured.pid) - before
            churn_end = time.monotonic() - start
            time.sleep(load.settle_s)
        finally:
            stop.set()
            sampler.join()
        during = [s for s in samples if s[0] <= churn_end]
        result.update(rps=calls / seconds, calls=calls, load_cpu_us=client_cpu * 1e6 / calls,
                      cpu_us=used * 1e6 / calls, server_util=used / seconds,
                      samples=samples, churn_end_s=churn_end)
        result.update(
            rss_peak=max(s[1] for s in samples), rss_final=samples[-1][1],
            dir_peak=max(s[2] for s in samples), dir_final=samples[-1][2],
            records_peak=max((s[3] for s in samples if s[3] is not None), default=None),
            records_final=samples[-1][3],
            # After the first tenth of the run, once the window is full: the
            # level a bounded server holds from then on.
            rss_tenth=next((s[1] for s in during if s[0] >= churn_end / 10), None),
            dir_tenth=next((s[2] for s in during if s[0] >= churn_end / 10), None))
        result["load_command"] = shlex.join(pin_prefix(load_cpu) + ["security_load"] + [
            a.replace(measured.address, "ADDRESS").replace(self.work, "WORK") for a in load.args] +
            [f"--count={count}"])

    def bench_variant(self, load, background, measured, servers, run_dir, load_cpu, result):
        binary = self.binary(load.binary)[0][0]
        duration = self.opts.duration or load.duration
        target = measured.address
        run_bench(binary, load, target, run_dir, {}, max(1, round(self.opts.warmup)), load_cpu,
                  "warmup")
        bg_thread = None
        if background:
            bg_result = {}

            def run_bg():
                try:
                    bg_result["runs"] = run_bench(binary, background, target, run_dir, {},
                                                  duration + 4, load_cpu, "background")[0]
                except BenchError as e:
                    bg_result["error"] = e

            bg_thread = threading.Thread(target=run_bg)
            bg_thread.start()
            time.sleep(1)
        before = [cpu_seconds(s.pid) for s in servers]
        pg_before = self.pg.cpu_seconds() if self.pg else 0
        runs, load_cpu_s, out_json = run_bench(binary, load, target, run_dir, {}, duration,
                                               load_cpu, "load")
        after = [cpu_seconds(s.pid) for s in servers]
        if self.pg:
            result["pg_cpu_us"] = (self.pg.cpu_seconds() - pg_before) * 1e6 / sum(
                r["calls"] for r in runs)
        if bg_thread:
            bg_thread.join()
            if "error" in bg_result:
                raise bg_result["error"]
            result["background_rate"] = bg_result["runs"][0]["items_per_second"]
        calls = sum(r["calls"] for r in runs)
        result.update(rps=sum(r["items_per_second"] for r in runs) if len(runs) == 1 else None,
                      calls=calls, json=out_json, entries=runs)
        if len(runs) == 1:
            result.update(cpu_us=(after[-1] - before[-1]) * 1e6 / calls,
                          cpu_all_us=(sum(after) - sum(before)) * 1e6 / calls,
                          load_cpu_us=load_cpu_s * 1e6 / calls)
        result["load_command"] = shlex.join(pin_prefix(load_cpu) + ["inventory_bench"] + [
            a.format(target="ADDRESS").replace(self.work, "WORK") for a in load.args] +
            [f"--duration={duration}s", "--warmup=0s"])
        if not self.opts.no_syscalls and not background and len(runs) == 1:
            short = max(1, duration // 5)
            counter = SyscallCounter(measured.pid, run_dir)
            try:
                short_runs = run_bench(binary, load, target, run_dir, {}, short, load_cpu,
                                       "syscalls")[0]
            finally:
                counts = counter.stop()
            n = sum(r["calls"] for r in short_runs)
            result.update({f"sys_{k}": v / n for k, v in counts.items()})
            result["syscall_tool"] = SyscallCounter.tool

    def run(self, scenario):
        rounds = self.opts.rounds or scenario.rounds
        pin = scenario.pin
        if self.opts.pin:
            pin = None if self.opts.pin == "none" else tuple(self.opts.pin.split(","))
        lines = [f"# {scenario.name}: {scenario.what}",
                 f"# command: /usr/bin/python3 bench/bench.py {' '.join(sys.argv[1:])}",
                 f"# date: {time.strftime('%Y-%m-%dT%H:%M:%S%z')}; commit: {git_describe()}; "
                 f"{os.cpu_count()} CPUs, Linux {os.uname().release}; "
                 f"load average before: {load_average()}",
                 f"# pinning: " + (f"servers on CPU {pin[0]}, load on CPU {pin[1]} (taskset -c)"
                                   if pin else "nothing pinned (all share the machine's CPUs)"),
                 f"# {rounds} round(s), variants interleaved; figures are medians over the rounds",
                 ""]
        if scenario.postgres:
            self.start_postgres(scenario, pin, lines)
        try:
            results = self.run_rounds(scenario, rounds, pin, lines)
        finally:
            if self.pg:
                self.pg.stop()
                self.pg = None
        self.report(scenario, results, lines)

    def start_postgres(self, scenario, pin, lines):
        root = tempfile.mkdtemp(prefix="postgres.", dir=self.work)
        os.chmod(self.work, 0o711)  # the server's user (nobody) must reach its directory
        self.pg = Postgres(root, pin[0] if pin else None)
        fs = subprocess.run(["df", "--output=fstype", root], capture_output=True,
                            text=True).stdout.split()[-1]
        lines.insert(-2, f"# PostgreSQL {self.pg.query('SHOW server_version')}: data directory "
                         f"{self.pg.data} ({fs}), " + ", ".join(PG_SETTINGS) +
                     (f"; postmaster and backends on CPU {pin[0]}" if pin else "; unpinned"))
        if scenario.pg_seed:
            log(f"== {scenario.name}: seeding PostgreSQL through {scenario.pg_seed.name}")
            run_dir = tempfile.mkdtemp(prefix="seed.", dir=self.work)
            subs = {"listen": "127.0.0.1:0", "run_dir": run_dir, "postgres": self.pg.uri}
            args = tuple(re.sub(r"\{file:(\w+)\}", lambda m: make_file(m.group(1), self.work), a)
                         for a in scenario.pg_seed.args)
            argv, env = self.server_argv(dataclasses.replace(scenario.pg_seed, args=args), subs)
            RunningServer(scenario.pg_seed.name, argv, env, os.path.join(run_dir, "seed.log"),
                          None, timeout=300).stop()
            rows = self.pg.query("SELECT count(*) FROM inventory_stock")
            lines.insert(-2, f"# seeded before the rounds: {rows} rows in inventory_stock")

    def run_rounds(self, scenario, rounds, pin, lines):
        results = {v.label: [] for v in scenario.variants}
        for r in range(rounds):
            for variant in scenario.variants:
                run_dir = tempfile.mkdtemp(prefix=f"{variant.label}-{r}.", dir=self.work)
                log(f"== {scenario.name} round {r + 1}/{rounds}: {variant.label}")
                res = self.run_variant(scenario, variant, run_dir, pin)
                results[variant.label].append(res)
                line = f"round {r + 1} {variant.label}: " + describe(res)
                log("   " + line)
                lines.append(line)
        return results

    def report(self, scenario, results, lines):
        lines += [""] + summary_table(scenario, results) + [""]
        for label, runs in results.items():
            for res in runs:
                if "samples" in res:
                    lines += retention_samples(label, res) + [""]
        first = {label: runs[0] for label, runs in results.items()}
        lines.append("Commands (ADDRESS: the address the last server printed, BACKEND the first's; "
                     "FRAME: the request's gRPC frame; WORK, RUN_DIR: the driver's scratch "
                     "directories):")
        for variant in scenario.variants:
            res = first[variant.label]
            for command in res["commands"]:
                lines.append(f"  {variant.label} server: {command}")
            lines.append(f"  {variant.label} load:   {res['load_command']}")
            if variant.background:
                lines.append(f"  {variant.label} beside: the writes load above, started 1 s "
                             f"before and running 4 s longer")
        if any(isinstance(v.load, PgBench) for v in scenario.variants):
            lines.append("pgbench's script (bench/bench.py PG_RESERVE_SCRIPT):")
            lines += ["  " + l for l in PG_RESERVE_SCRIPT.splitlines()]
        tools = {res.get("syscall_tool") for runs in results.values() for res in runs} - {None}
        if tools:
            lines.append(f"Syscalls counted with {', '.join(sorted(tools))} on a separate run of "
                         f"the same load (a tenth of the requests; inventory_bench: a fifth of "
                         f"the duration).")
        lines.append("Every h2load run verified (grpc-status 0 and exact answer of one probe call; "
                     "DATA total = requests x OK response); every server exited 0 on SIGTERM.")
        lines.append(f"# load average after: {load_average()}")
        report = "\n".join(lines) + "\n"
        print(report, flush=True)
        if self.opts.out_dir:
            os.makedirs(self.opts.out_dir, exist_ok=True)
            with open(os.path.join(self.opts.out_dir, f"{scenario.name}.txt"), "w") as f:
                f.write(report)
            if scenario.sweep:
                src = results[scenario.variants[0].label][-1]["json"]
                dst = os.path.join(self.opts.out_dir, f"{scenario.name}.json")
                with open(src) as s, open(dst, "w") as d:
                    d.write(s.read())
                plot([dst], os.path.join(self.opts.out_dir, f"{scenario.name}.svg"))


def describe(res):
    parts = []
    if res.get("entries") and len(res["entries"]) > 1:
        parts.append(", ".join(f"{e['name'].split('/')[2]} -> {e['calls_per_second']:.0f}/s "
                               f"p50 {e['p50_us']:.0f} p99 {e['p99_us']:.0f} us"
                               for e in res["entries"]))
    if res.get("rps") is not None:
        parts.append(f"{res['rps']:.0f} /s over {res['calls']:.0f} calls")
    if "p50_us" in res:
        parts.append(f"p50 {res['p50_us']} us, p99 {res['p99_us']} us")
    if "p99_ms" in res:
        parts.append(f"offered {res['offered']}/s, {res['failed']} writes refused or failed")
        parts.append(f"ack on A to visible on B p50 {res['p50_ms']:.2f} p99 {res['p99_ms']:.2f} "
                     f"max {res['max_ms']:.2f} ms (from schedule p99 {res['sched_p99_ms']:.2f}); "
                     f"commit on A p50 {res['commit_p50_ms']:.2f} p99 {res['commit_p99_ms']:.2f} ms; "
                     f"{res['late']} writes started > 1 ms late")
    if "mean_ms" in res:
        parts.append(f"mean latency {res['mean_ms']:.2f} ms")
    if "cpu_us" in res:
        parts.append(f"server CPU {res['cpu_us']:.2f} us/RPC")
    if "pg_cpu_us" in res:
        parts.append(f"PostgreSQL CPU {res['pg_cpu_us']:.1f} us/transaction")
    if "server_util" in res:
        parts.append(f"server core {res['server_util'] * 100:.0f}% busy")
    if "tls" in res:
        parts.append(res["tls"])
    if "rss_peak" in res:
        parts.append(f"RSS peak {res['rss_peak']:.0f} final {res['rss_final']:.0f} MiB; data dir "
                     f"peak {res['dir_peak']:.0f} final {res['dir_final']:.0f} MiB; order records "
                     f"peak {res['records_peak']:.0f} final {res['records_final']:.0f}")
    if res.get("cpu_all_us", 0) - res.get("cpu_us", 0) > 0.005:
        parts.append(f"all servers {res['cpu_all_us']:.2f} us/RPC")
    if "load_cpu_us" in res:
        parts.append(f"load CPU {res['load_cpu_us']:.2f} us/RPC")
    if "sys_all" in res:
        parts.append(f"syscalls/RPC {res['sys_all']:.2f} (reads {res['sys_reads']:.2f}, "
                     f"writes {res['sys_writes']:.2f})")
    if "background_rate" in res:
        parts.append(f"writes beside {res['background_rate']:.0f}/s")
    if res.get("rss_mb") is not None:
        parts.append(f"peak RSS {res['rss_mb']:.0f} MiB")
    return "; ".join(parts)


def retention_samples(label, res, rows=30):
    """The sampled series of a churn run, thinned to about `rows` lines."""
    samples = res["samples"]
    step = max(1, len(samples) // rows)
    picked = samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else [])
    lines = [f"{label}: samples (every {step} of {len(samples)}; the churn ended at "
             f"{res['churn_end_s']:.1f} s)", "| t s | RSS MiB | data dir MiB | order records |",
             "|---|---|---|---|"]
    for t, rss, size, records in picked:
        lines.append(f"| {t:.1f} | {rss:.0f} | {size:.1f} | "
                     f"{'-' if records is None else f'{records:,.0f}'} |")
    return lines


def summary_table(scenario, results):
    columns = [  # (key, header, format)
        ("rps", "req/s (median)", "{:,.0f}"), ("ratio", "vs first", "{:.2f}"),
        ("p50_us", "p50 us", "{:.0f}"), ("p99_us", "p99 us", "{:.0f}"),
        ("failed", "writes refused", "{:,.0f}"), ("p50_ms", "A->B p50 ms", "{:.2f}"), ("p99_ms", "A->B p99 ms", "{:.2f}"),
        ("max_ms", "A->B max ms", "{:.2f}"), ("commit_p99_ms", "commit p99 ms", "{:.2f}"),
        ("cpu_us", "server CPU us/RPC", "{:.2f}"), ("cpu_ratio", "CPU vs first", "{:.3f}"),
        ("pg_cpu_us", "PostgreSQL CPU us/txn", "{:.1f}"),
        ("server_util", "server core busy", "{:.0%}"),
        ("cpu_all_us", "all servers us/RPC", "{:.2f}"),
        ("load_cpu_us", "load CPU us/RPC", "{:.2f}"), ("sys_reads", "reads/RPC", "{:.2f}"),
        ("sys_writes", "writes/RPC", "{:.2f}"), ("sys_all", "syscalls/RPC", "{:.2f}"),
        ("background_rate", "writes beside (/s)", "{:,.0f}"),
        ("rss_tenth", "RSS at 1/10 MiB", "{:.0f}"), ("rss_peak", "RSS peak MiB", "{:.0f}"),
        ("rss_final", "RSS final MiB", "{:.0f}"), ("dir_tenth", "data dir at 1/10 MiB", "{:.1f}"),
        ("dir_peak", "data dir peak MiB", "{:.1f}"), ("dir_final", "data dir final MiB", "{:.1f}"),
        ("records_peak", "order records peak", "{:,.0f}"),
        ("records_final", "order records final", "{:,.0f}"),
        ("rss_mb", "peak RSS MiB", "{:.0f}")]
    medians = {}
    for label, runs in results.items():
        row = {}
        for key, _, _ in columns:
            values = [r[key] for r in runs if r.get(key) is not None]
            if values:
                row[key] = statistics.median(values)
        medians[label] = row
    first = medians[scenario.variants[0].label].get("rps")
    first_cpu = medians[scenario.variants[0].label].get("cpu_us")
    for row in medians.values():
        if first and row.get("rps"):
            row["ratio"] = row["rps"] / first
        if first_cpu and row.get("cpu_us"):
            row["cpu_ratio"] = row["cpu_us"] / first_cpu
    if all(abs(r.get("cpu_all_us", 0) - r.get("cpu_us", 0)) < 0.005 for r in medians.values()):
        columns = [c for c in columns if c[0] != "cpu_all_us"]
    used = [c for c in columns if any(c[0] in row for row in medians.values())]
    lines = []
    sweep = any(len(r.get("entries") or []) > 1 for runs in results.values() for r in runs)
    if sweep:
        lines += ["| level | achieved calls/s | p50 us | p99 us | p99.9 us | unsent |",
                  "|---|---|---|---|---|---|"]
        for runs in results.values():
            for e in runs[-1]["entries"]:
                lines.append(f"| {e['name'].split('/')[2]} | {e['calls_per_second']:,.0f} | "
                             f"{e['p50_us']:.0f} | {e['p99_us']:.0f} | {e['p999_us']:.0f} | "
                             f"{e.get('unsent', 0):.0f} |")
        if not used:
            return lines
        lines.append("")
    lines.append("| variant | " + " | ".join(h for _, h, _ in used) + " |")
    lines.append("|---|" + "---|" * len(used))
    for label, row in medians.items():
        lines.append(f"| {label} | " + " | ".join(
            f.format(row[k]) if k in row else "-" for k, _, f in used) + " |")
    return lines


def git_describe():
    try:
        head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return head + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load_average():
    return " ".join(open("/proc/loadavg").read().split()[:3])


# --- plot: latency against throughput as SVG -----------------------------------------


def plot(inputs, output):
    """p50 and p99 against the achieved rate for every load benchmark of each
    JSON (inventory_bench --benchmark_out), one colour per file, log latency."""
    series = []
    for path in inputs:
        data = json.load(open(path))
        points = []
        for run in data.get("benchmarks", []):
            if not run["name"].startswith("Load/") or run.get("error_occurred") or \
                    run.get("run_type") == "aggregate":
                continue
            level = re.search(r"/(rate|inflight):([0-9.]+)", run["name"])
            label = (f"{level.group(2)}/s" if level.group(1) == "rate" else
                     f"{level.group(2)} in flight") if level else ""
            order = float(level.group(2)) if level else run["calls_per_second"]
            points.append((run["calls_per_second"], run["p50_us"], run["p99_us"], label,
                           run.get("errors", 0), order))
        if not points:
            raise BenchError(f"plot: no load benchmark in {path}")
        # In the order of the load offered: past saturation the line bends back.
        points.sort(key=lambda p: p[5])
        context = data.get("context", {})
        series.append((os.path.basename(path).removesuffix(".json"),
                       context.get("load_method", "").rsplit("/", 1)[-1], context, points))
    W, H, left, right, top, bottom = 860, 520, 80, 30, 60, 70
    pw, ph = W - left - right, H - top - bottom
    x_max = max(p[0] for s in series for p in s[3]) * 1.08
    ys = [v for s in series for p in s[3] for v in (p[1], p[2]) if v > 0]
    y_lo = 10 ** math.floor(math.log10(min(ys)))
    y_hi = max(10 ** math.ceil(math.log10(max(ys))), y_lo * 100)
    sx = lambda x: left + pw * x / x_max
    sy = lambda y: top + ph * (1 - (math.log10(max(y, y_lo)) - math.log10(y_lo)) /
                               (math.log10(y_hi) - math.log10(y_lo)))
    fmt_rate = lambda v: f"{v / 1000:g}k" if v >= 1000 else f"{v:g}"
    fmt_us = lambda v: f"{v / 1000:g} ms" if v >= 1000 else f"{v:g} us"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'font-family="sans-serif" font-size="12">', f'<rect width="{W}" height="{H}" fill="white"/>']
    title = f"{series[0][1] or 'load'}: latency against throughput"
    out.append(f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="16">{html.escape(title)}</text>')
    out.append(f'<text x="{W / 2}" y="40" text-anchor="middle" fill="#555">'
               f'{html.escape(series[0][2].get("load_shape", ""))}</text>')
    raw = x_max / 6
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    x = 0.0
    while x <= x_max:
        out.append(f'<line x1="{sx(x):.1f}" y1="{top}" x2="{sx(x):.1f}" y2="{top + ph}" stroke="#eee"/>')
        out.append(f'<text x="{sx(x):.1f}" y="{top + ph + 16}" text-anchor="middle">{fmt_rate(x)}</text>')
        x += step
    decade = y_lo
    while decade <= y_hi * 1.0001:
        for m in (1, 2, 5):
            y = decade * m
            if y > y_hi * 1.0001:
                break
            out.append(f'<line x1="{left}" y1="{sy(y):.1f}" x2="{left + pw}" y2="{sy(y):.1f}" '
                       f'stroke="{"#ccc" if m == 1 else "#f0f0f0"}"/>')
            out.append(f'<text x="{left - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{fmt_us(y)}</text>')
        decade *= 10
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    out.append(f'<text x="{left + pw / 2}" y="{H - 28}" text-anchor="middle">achieved rate, '
               f'successful calls per second</text>')
    out.append(f'<text x="18" y="{top + ph / 2}" text-anchor="middle" '
               f'transform="rotate(-90 18 {top + ph / 2})">latency (log scale)</text>')
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
    legend_y = top + 14
    for i, (name, _, _, points) in enumerate(series):
        colour = colours[i % len(colours)]
        for column, dash, what in ((1, "5,4", "p50"), (2, "", "p99")):
            path = " ".join(f"{'M' if j == 0 else 'L'}{sx(p[0]):.1f},{sy(p[column]):.1f}"
                            for j, p in enumerate(points))
            out.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2" '
                       f'stroke-dasharray="{dash}"/>')
            for p in points:
                if column == 2:
                    out.append(f'<circle cx="{sx(p[0]):.1f}" cy="{sy(p[2]):.1f}" r="3.5" fill="{colour}"/>')
                else:
                    out.append(f'<rect x="{sx(p[0]) - 3:.1f}" y="{sy(p[1]) - 3:.1f}" width="6" '
                               f'height="6" fill="white" stroke="{colour}"/>')
            label = f"{what}{' ' + name if len(series) > 1 else ''}"
            out.append(f'<line x1="{left + 12}" y1="{legend_y}" x2="{left + 42}" y2="{legend_y}" '
                       f'stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>')
            out.append(f'<text x="{left + 48}" y="{legend_y + 4}">{html.escape(label)}</text>')
            legend_y += 16
        for p in points:
            note = p[3] + (f", {p[4]:g} errors" if p[4] else "")
            out.append(f'<text x="{sx(p[0]):.1f}" y="{sy(p[2]) - 8:.1f}" text-anchor="middle" '
                       f'font-size="10" fill="#444">{html.escape(note)}</text>')
    footer = " | ".join(f"{n}: {c.get('load_target', '')} {c.get('load_ids', '')}, {c.get('date', '')}"
                        for n, _, c, _ in series)
    out.append(f'<text x="{left}" y="{H - 8}" font-size="10" fill="#777">{html.escape(footer)}</text>')
    out.append("</svg>")
    with open(output, "w") as f:
        f.write("\n".join(out) + "\n")
    log(f"plot: wrote {output} ({sum(len(s[3]) for s in series)} points)")


# --- self-test: what ctest runs -----------------------------------------------------


SELF_TEST_ARGS = {
    "baseline": ["--listen=127.0.0.1:0", "--cqs=1"],
    "inventory_server": ["--listen=127.0.0.1:0", "--completion_queues=1",
                         f"--catalog={REPO}/data/catalog.csv"],
    "seed_server": ["127.0.0.1:0"],
    "grpc_go_server": ["-listen=127.0.0.1:0", f"-catalog={REPO}/data/catalog.csv"],
}


def self_test(opts, names):
    """The driver's checks against real servers: the verification must accept
    an all-OK run and reject errors that h2load itself counts as successes."""
    driver = Driver(opts, install=False)
    work = driver.work
    small = H2Load("get", connections=2, streams=8)
    failures = []

    def expect_rejected(what, fn):
        try:
            fn()
        except BenchError as e:
            log(f"ok: {what} rejected: {str(e).splitlines()[0][:160]}")
            return
        failures.append(f"{what} was accepted")
        log(f"FAIL: {what} was accepted")

    # The report parser on canned output: counts, 2xx, DATA.
    ok = ("finished in 3.00s, 119302.33 req/s, 4.58MB/s\n"
          "requests: 1000 total, 1000 started, 1000 done, 1000 succeeded, 0 failed, 0 errored, "
          "0 timeout\nstatus codes: 1000 2xx, 0 3xx, 0 4xx, 0 5xx\n"
          "traffic: 50KB (51000) total, 1KB (1074) headers (space savings 96.29%), 9KB (9000) data\n")
    if parse_h2load(ok, 1000, 9) != (119302.33, 1000, 9000):
        failures.append("parse_h2load misread a good report")
    expect_rejected("a report with no DATA (all gRPC errors)",
                    lambda: parse_h2load(ok.replace("(9000) data", "(0) data"), 1000, 9))
    expect_rejected("a report one response short of DATA",
                    lambda: parse_h2load(ok.replace("(9000) data", "(8995) data"), 1000, 9))
    expect_rejected("a report with fewer successes than requests",
                    lambda: parse_h2load(ok, 1001, 9))

    def check_server(name, argv, env, go=False):
        server = RunningServer(name, argv, env, os.path.join(work, f"{name}.log"), None)
        try:
            log(f"ok: {name} started on {server.address} (port read from its start-up line)")
            before = cpu_seconds(server.pid)
            res = run_h2load(server.address, CALLS["get"], small, work, requests=2000)
            if res.requests != 2000 or cpu_seconds(server.pid) <= before:
                failures.append(f"{name}: {res.requests} requests, no CPU time counted")
            log(f"ok: {name}: 2000 verified GetProductAvailability(product123) calls")
            probe(server.address, CALLS["get-product456"], work)  # unknown/0 stock: not available
            expect_rejected(f"{name}: an unknown method (grpc-status 12 inside HTTP 200)",
                            lambda: run_h2load(server.address, CALLS["unknown-method"], small,
                                               work, requests=200))
            expect_rejected(f"{name}: the same without the probe, by the DATA total alone",
                            lambda: run_h2load(server.address, CALLS["unknown-method"], small,
                                               work, requests=200, check_first=False))
            wrong = Call(GET, pb((1, "product456")), availability("product123", 10))
            expect_rejected(f"{name}: a different answer than expected",
                            lambda: run_h2load(server.address, wrong, small, work, requests=200))
            expect_rejected(f"{name}: the same without the probe, by the DATA total alone",
                            lambda: run_h2load(server.address, wrong, small, work, requests=200,
                                               check_first=False))
            if SyscallCounter.choose() == "none":
                log(f"skipped: {name}: syscall counting (neither perf nor strace works here)")
            else:
                counter = SyscallCounter(server.pid, work)
                run_h2load(server.address, CALLS["get"], small, work, requests=1000)
                counts = counter.stop()
                if counts["reads"] <= 0 or counts["writes"] <= 0 or counts["all"] < counts["reads"]:
                    failures.append(f"{name}: syscall counts {counts}")
                log(f"ok: {name}: {SyscallCounter.tool} counted {counts} over 1000 calls")
        finally:
            if server in _live:
                server.stop()
        log(f"ok: {name} exited 0 on SIGTERM")

    if names == ["postgres"]:
        return self_test_postgres(driver)
    unknown = [n for n in names if n not in SELF_TEST_ARGS]
    if unknown:
        raise BenchError(f"self-test: unknown server {unknown}; one of {list(SELF_TEST_ARGS)}")
    for name in names or ["baseline", "inventory_server", "seed_server"]:
        argv, env = driver.binary(name)
        env = dict(env, GOMAXPROCS="1") if name == "grpc_go_server" else env
        check_server(name, argv + SELF_TEST_ARGS[name], env)
    if failures:
        log("self-test FAILED:\n  " + "\n  ".join(failures))
        return 1
    log("self-test: PASS")
    return 0


def self_test_postgres(driver):
    """The PostgreSQL scenarios' machinery, briefly (no speed asserted): the
    driver's own PostgreSQL starts with PG_SETTINGS, inventory_server seeds
    it, pgbench's ReserveStock script commits orders of the service's shape
    without a failure, ReserveStock through the service works on the same
    database, and pg_propagation_bench sees on B every value written on A."""
    failures = []
    for name in ("pg-reserve", "pg-reads", "pg-propagation"):
        if not any(s.name == name for s in SCENARIOS):
            failures.append(f"scenario {name} is missing")
    scenario = next(s for s in SCENARIOS if s.name == "pg-reserve")
    lines = ["", ""]
    driver.start_postgres(scenario, None, lines)
    try:
        log("ok: " + lines[0][2:120])
        settings = driver.pg.query("SELECT string_agg(name || '=' || setting, ',' ORDER BY name) "
                                   "FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit')")
        if settings != "fsync=on,synchronous_commit=on":
            failures.append(f"PostgreSQL settings {settings}")
        run_dir = tempfile.mkdtemp(prefix="selftest.", dir=driver.work)
        short = dataclasses.replace(scenario.variants[0].load, duration=1)
        res = driver.pg_variant(short, run_dir, None, {"postgres": driver.pg.uri})
        orders = int(driver.pg.query("SELECT count(*) FROM inventory_order_lines l JOIN "
                                     "inventory_orders o USING (order_id) WHERE o.order_id "
                                     "LIKE 'pgb-%' AND l.quantity = 1"))
        if res["calls"] < 1 or orders != res["calls"]:
            failures.append(f"pgbench: {res['calls']} transactions, {orders} orders recorded")
        log(f"ok: pgbench's ReserveStock script: {res['calls']} orders committed, as many recorded")
        driver.opts.duration, driver.opts.no_syscalls = 1, True
        service = next(v for v in scenario.variants if v.servers)
        res = driver.run_variant(scenario, service, run_dir, None)
        if res["calls"] < 1:
            failures.append("the service reserved nothing")
        log(f"ok: ReserveStock through inventory_server --postgres: {res['calls']} orders")
        if os.access(driver.bins["pg_propagation_bench"].format(build=driver.build, repo=REPO),
                     os.X_OK):
            slow = Propagation(("--postgres={postgres}", "--rate=200", "--products=10",
                                "--warmup=0s"), duration=1)
            res = driver.pg_variant(slow, run_dir, None, {"postgres": driver.pg.uri})
            if res["failed"] or res["propagation"]["visible"] < 1:
                failures.append(f"pg_propagation_bench: {res['propagation']}")
            log(f"ok: pg_propagation_bench: {res['propagation']['visible']} values seen on B")
        else:
            log("skipped: pg_propagation_bench is not built")
    finally:
        driver.pg.stop()
        driver.pg = None
    if failures:
        log("self-test postgres FAILED:\n  " + "\n  ".join(failures))
        return 1
    log("self-test postgres: PASS")
    return 0


# --- command line ---------------------------------------------------------------------


def list_scenarios():
    for s in SCENARIOS:
        pin = f"servers CPU {s.pin[0]}, load CPU {s.pin[1]}" if s.pin else "unpinned"
        print(f"{s.name:20} {s.what} [{len(s.variants)} variants, {s.rounds} rounds, {pin}]")
        for v in s.variants:
            servers = " -> ".join(f"{sv.name} {' '.join(sv.args)}" for sv in v.servers)
            if isinstance(v.load, H2Load):
                load = (f"h2load {v.load.call} {v.load.connections}x{v.load.streams} "
                        f"n={v.load.requests}" + (" https" if v.load.tls else "") +
                        (f" x{v.load.repeat}" if v.load.repeat > 1 else ""))
            elif isinstance(v.load, (SecLoad, Churn)):
                load = f"security_load {' '.join(v.load.args)} --count={v.load.count}"
            elif isinstance(v.load, PgBench):
                load = f"pgbench -M prepared -c {v.load.clients} -j 1 -f {v.load.script} -T {v.load.duration}"
            elif isinstance(v.load, Propagation):
                load = f"pg_propagation_bench {' '.join(v.load.args)} {v.load.duration}s"
            else:
                load = f"inventory_bench {' '.join(v.load.args)} {v.load.duration}s"
            print(f"{'':22}{v.label}: {servers} | {load}"
                  + (" | beside: writes" if v.background else ""))
    for name, members in GROUPS.items():
        print(f"{name:20} group: {' '.join(members)}")
    print("\nbinaries (--bin NAME=PATH overrides):")
    for name, path in BINARIES.items():
        note = f"  ({BINARY_NOTES[name]})" if name in BINARY_NOTES else ""
        print(f"  {name:28} {path or '-'}{note}")


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, add_help=True,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="+")
    parser.add_argument("--build-dir", default=os.path.join(REPO, "build"))
    parser.add_argument("--out-dir")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--requests", type=int)
    parser.add_argument("--duration", type=int)
    parser.add_argument("--warmup", type=float, default=1)
    parser.add_argument("--syscall-requests", type=int)
    parser.add_argument("--no-syscalls", action="store_true")
    parser.add_argument("--pin")
    parser.add_argument("--bin", action="append", default=[])
    parser.add_argument("--server-args", action="append", default=[])
    opts = parser.parse_args(argv)
    command = opts.what[0]
    if command == "list":
        list_scenarios()
        return 0
    if command == "setup":
        setup_peers()
        return 0
    if command == "plot":
        if len(opts.what) < 3:
            parser.error("plot RUN.json [RUN2.json ...] OUT.svg")
        plot(opts.what[1:-1], opts.what[-1])
        return 0
    if command == "self-test":
        return self_test(opts, opts.what[1:])
    by_name = {s.name: s for s in SCENARIOS}
    names = [n for w in opts.what for n in GROUPS.get(w, [w])]
    unknown = [n for n in names if n not in by_name]
    if unknown:
        parser.error(f"unknown scenario {unknown}; see: bench/bench.py list")
    driver = Driver(opts)
    for name in names:
        driver.run(by_name[name])
    return 0


def _terminated(signum, frame):
    raise KeyboardInterrupt  # SIGTERM (e.g. timeout(1)): kill the servers on the way out


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminated)
    try:
        status = main(sys.argv[1:])
    except BenchError as e:
        log(f"bench: ERROR: {e}")
        status = 1
    except KeyboardInterrupt:
        status = 130
    finally:
        for server in list(_live):
            server.kill()
    for work in _scratch:
        if status == 0:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"bench: logs and outputs kept in {work}")
    sys.exit(status)
