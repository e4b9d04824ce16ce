#!/usr/bin/python3
"""TLS and mTLS of the real binaries, with real certificates.

    tls_test.py --inventory_server=BIN --product_server=BIN --health_probe=BIN
                --protoc=BIN [--case=NAME]...

Makes a fresh set of certificates with Debian's openssl (make_test_certs.sh
next to this file), starts the servers on 127.0.0.1 with ephemeral ports and
talks to them with grpcio (Debian's python3-grpcio) and health_probe. Every
server must stop with exit status 0 on SIGTERM. Each case prints PASS or
FAIL; the exit status is 1 if any failed. Waits are polls with a bound, never
speed asserts.
"""

import argparse
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

import grpc
from google.protobuf import symbol_database

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
LISTENING = re.compile(r"listening on [^ ]*:(\d+) ")
METRICS_PORT = re.compile(r"metrics on port (\d+)")
ADMIN_TOKEN = "s3cret-admin-token-0123456789"


ARGS = None
CERTS = None
_attempt = 0


def load_messages(protoc):
    """The project's message classes, compiled by tools/grpc_call.py's loader."""
    os.environ["PROTOC"] = protoc
    spec = importlib.util.spec_from_file_location(
        "grpc_call", os.path.join(ROOT, "tools", "grpc_call.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.load_protos(os.path.join(ROOT, "proto"))
    symbols = symbol_database.Default()
    return {name: symbols.GetSymbol(name) for name in [
        "inventory.GetProductAvailabilityRequest", "inventory.GetProductAvailabilityResponse",
        "product.GetProductRequest", "product.GetProductResponse",
        "product.PlaceOrderRequest", "product.PlaceOrderResponse",
        "inventory.SetStockRequest", "inventory.SetStockResponse",
        "inventory.ReserveStockRequest", "inventory.ReserveStockResponse",
        "inventory.ReleaseReservationRequest", "inventory.ReleaseReservationResponse"]}


MESSAGES = None


def cert(name):
    return os.path.join(CERTS, name)


def read(name):
    with open(cert(name), "rb") as f:
        return f.read()


class Server:
    """A server binary on 127.0.0.1:0; stop() requires exit status 0."""

    def __init__(self, binary, *flags, expect_start=True):
        self.log_path = tempfile.mktemp(prefix="tls_test.", suffix=".log")
        self.log = open(self.log_path, "w+")
        self.process = subprocess.Popen(
            [binary, "--listen=127.0.0.1:0", *flags], stdin=subprocess.DEVNULL,
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.port = None
        if expect_start:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                match = LISTENING.search(self.text())
                if match:
                    self.port = int(match.group(1))
                    return
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
            self.kill()
            raise AssertionError(f"{binary} did not start:\n{self.text()}")

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def text(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_exit(self, timeout=30):
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"did not exit within {timeout}s:\n{self.text()}")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.wait_exit(30)
        assert code == 0, f"exit status {code} after SIGTERM:\n{self.text()}"
        os.unlink(self.log_path)

    def kill(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None:
            self.stop()
        else:
            self.kill()


def channel(address, root=None, key=None, chain=None, plaintext=False, server_name=None):
    """A new channel with a connection of its own (a unique channel argument
    keeps grpcio from sharing a subchannel with an earlier channel)."""
    global _attempt
    _attempt += 1
    options = [("grpc.enable_http_proxy", 0), ("tls_test.attempt", _attempt)]
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    if plaintext:
        return grpc.insecure_channel(address, options=options)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(root) if root else None,
        private_key=read(key) if key else None,
        certificate_chain=read(chain) if chain else None)
    return grpc.secure_channel(address, credentials, options=options)


def get_availability(ch, timeout=5):
    """GetProductAvailability(product123): the response, or raises RpcError."""
    request_type = MESSAGES["inventory.GetProductAvailabilityRequest"]
    response_type = MESSAGES["inventory.GetProductAvailabilityResponse"]
    call = ch.unary_unary("/inventory.InventoryService/GetProductAvailability",
                          request_type.SerializeToString, response_type.FromString)
    return call(request_type(product_id="product123"), timeout=timeout)


def code_of(function):
    """The status code `function` ends with (OK if it returns)."""
    try:
        function()
        return grpc.StatusCode.OK
    except grpc.RpcError as error:
        return error.code()


def expect_refused(ch, what):
    code = code_of(lambda: get_availability(ch))
    assert code == grpc.StatusCode.UNAVAILABLE, f"{what}: expected UNAVAILABLE, got {code}"
    ch.close()


def expect_ok(ch, what):
    response = get_availability(ch)
    assert response.is_available and response.quantity == 10, f"{what}: answer {response}"
    ch.close()


def probe(address, *flags, service=""):
    result = subprocess.run(
        [ARGS.health_probe, f"-addr={address}", f"-service={service}", "-connect-timeout=5s",
         "-rpc-timeout=5s", *flags], capture_output=True, text=True, timeout=60)
    return result.returncode, result.stdout + result.stderr


def inventory_tls(*extra, mtls=True, cert_file=None, key_file=None):
    flags = [f"--tls_cert={cert_file or cert('server.pem')}",
             f"--tls_key={key_file or cert('server.key')}", *extra]
    if mtls:
        flags.append(f"--tls_client_ca={cert('ca.pem')}")
    return Server(ARGS.inventory_server, *flags)


# ---------------------------------------------------------------------------
# Cases.

def case_start_up_errors():
    """A TLS file that cannot be used stops each binary at start (exit 1),
    naming the file."""
    missing = cert("no-such.pem")
    garbage = cert("garbage.pem")
    with open(garbage, "w") as f:
        f.write("not a certificate\n")
    inv = ARGS.inventory_server
    bad = [
        ([f"--tls_cert={missing}", f"--tls_key={cert('server.key')}"], missing),
        ([f"--tls_cert={cert('server.pem')}", f"--tls_key={missing}"], missing),
        ([f"--tls_cert={cert('server.pem')}"], "--tls_key"),
        ([f"--tls_key={cert('server.key')}"], "--tls_cert"),
        ([f"--tls_client_ca={cert('ca.pem')}"], "--tls_cert"),
        ([f"--tls_cert={garbage}", f"--tls_key={cert('server.key')}"], garbage),
        ([f"--tls_cert={cert('server.pem')}", f"--tls_key={garbage}"], garbage),
        ([f"--tls_cert={cert('server.pem')}", f"--tls_key={cert('client.key')}"],
         cert("client.key")),
        ([f"--tls_cert={cert('server.pem')}", f"--tls_key={cert('server.key')}",
          f"--tls_client_ca={missing}"], missing),
        ([f"--tls_cert={cert('server.pem')}", f"--tls_key={cert('server.key')}",
          "--tls_refresh_interval=0s"], "--tls_refresh_interval"),
    ]
    for flags, named in bad:
        for binary in (inv, ARGS.product_server):
            server = Server(binary, *flags, expect_start=False)
            code = server.wait_exit(30)
            text = server.text()
            assert code == 1, f"{binary} {flags}: exit {code}, expected 1:\n{text}"
            assert named in text, f"{binary} {flags}: the message does not name {named}:\n{text}"
            assert "listening on" not in text, f"{binary} {flags} served:\n{text}"
    for flags, named in [
        ([f"--inventory_tls_ca={missing}"], missing),
        ([f"--inventory_tls_cert={cert('client.pem')}"], "--inventory_tls_key"),
        ([f"--inventory_tls_ca={cert('ca.pem')}", f"--inventory_tls_cert={cert('client.pem')}",
          f"--inventory_tls_key={cert('server.key')}"], cert("server.key")),
    ]:
        server = Server(ARGS.product_server, *flags, expect_start=False)
        code = server.wait_exit(30)
        assert code == 1 and named in server.text(), \
            f"product_server {flags}: exit {code}:\n{server.text()}"
    for flags, named in [
        (["-tls", f"-tls-ca-cert={missing}"], missing),
        ([f"-tls-ca-cert={cert('ca.pem')}"], "TLS is off"),
        (["-tls", f"-tls-client-cert={cert('client.pem')}"], "--tls_client_key"),
    ]:
        code, text = probe("127.0.0.1:1", *flags)
        assert code == 1 and named in text, f"health_probe {flags}: exit {code}: {text}"


def case_plaintext_warning():
    """Plaintext on a non-loopback address is logged loudly; on loopback,
    and with TLS, it is not."""
    server = Server(ARGS.inventory_server, "--listen=0.0.0.0:0")
    try:
        assert "PLAINTEXT on 0.0.0.0:0" in server.text(), server.text()
    finally:
        server.stop()
    with Server(ARGS.inventory_server) as server:
        assert "PLAINTEXT" not in server.text(), server.text()
    server = Server(ARGS.inventory_server, "--listen=0.0.0.0:0",
                    f"--tls_cert={cert('server.pem')}", f"--tls_key={cert('server.key')}")
    try:
        assert "PLAINTEXT" not in server.text() and "serves TLS" in server.text(), server.text()
    finally:
        server.stop()


def case_tls_server():
    """TLS without client certificates: a plaintext client and a client that
    trusts another CA fail; one that trusts the right CA is answered."""
    with inventory_tls(mtls=False) as server:
        expect_refused(channel(server.address, plaintext=True), "plaintext client")
        expect_refused(channel(server.address, root="other-ca.pem"), "client trusting CA B")
        expect_refused(channel(server.address, root="ca.pem", server_name="wrong.example"),
                       "client expecting another name")
        expect_ok(channel(server.address, root="ca.pem"), "client trusting CA A")
        expect_ok(channel(f"localhost:{server.port}", root="ca.pem"), "by name localhost")


def case_mtls_server():
    """mTLS: no client certificate, or one from another CA, is refused; the
    right one is answered."""
    with inventory_tls() as server:
        expect_refused(channel(server.address, plaintext=True), "plaintext client")
        expect_refused(channel(server.address, root="ca.pem"), "no client certificate")
        expect_refused(channel(server.address, root="ca.pem", key="other-client.key",
                               chain="other-client.pem"), "client certificate from CA B")
        expect_refused(channel(server.address, root="other-ca.pem", key="client.key",
                               chain="client.pem"), "client trusting CA B")
        expect_ok(channel(server.address, root="ca.pem", key="client.key", chain="client.pem"),
                  "client certificate from CA A")


def case_health_probe():
    """health_probe's grpc_health_probe-style TLS flags against an mTLS
    server: exit 0 only with the right CA, client certificate and name."""
    with inventory_tls() as server:
        right = ["-tls", f"-tls-ca-cert={cert('ca.pem')}",
                 f"-tls-client-cert={cert('client.pem')}", f"-tls-client-key={cert('client.key')}"]
        for flags, want in [
            ([], 2),
            (["-tls", f"-tls-ca-cert={cert('ca.pem')}"], 2),
            (["-tls", f"-tls-ca-cert={cert('other-ca.pem')}",
              f"-tls-client-cert={cert('client.pem')}", f"-tls-client-key={cert('client.key')}"], 2),
            (["-tls", f"-tls-ca-cert={cert('ca.pem')}",
              f"-tls-client-cert={cert('other-client.pem')}",
              f"-tls-client-key={cert('other-client.key')}"], 2),
            (right + ["-tls-server-name=wrong.example"], 2),
            (right, 0),
            (right + ["-tls-server-name=inventory"], 0),
            (["--tls", f"--tls_ca_cert={cert('ca.pem')}", f"--tls_client_cert={cert('client.pem')}",
              f"--tls_client_key={cert('client.key')}"], 0),
        ]:
            code, text = probe(server.address, *flags)
            assert code == want, f"health_probe {flags}: exit {code}, expected {want}: {text}"
        code, text = probe(server.address, *right, service="inventory.InventoryService")
        assert code == 0, text


def case_rotation():
    """Certificate and key replaced on disk (by a pair from CA C, new serial)
    are served to new connections within the refresh interval, no restart."""
    live = tempfile.mkdtemp(prefix="tls_test.live.", dir=CERTS)
    cert_file, key_file = os.path.join(live, "tls.crt"), os.path.join(live, "tls.key")
    shutil.copy(cert("server.pem"), cert_file)
    shutil.copy(cert("server.key"), key_file)
    with inventory_tls("--tls_refresh_interval=1s", cert_file=cert_file,
                       key_file=key_file) as server:
        both = dict(key="client.key", chain="client.pem")
        expect_ok(channel(server.address, root="ca.pem", **both), "before rotation, CA A")
        expect_refused(channel(server.address, root="rotated-ca.pem", **both),
                       "before rotation, CA C")
        # Replace each file in one step (rename), as a renewal tool does.
        for source, target in (("rotated-server.key", key_file),
                               ("rotated-server.pem", cert_file)):
            shutil.copy(cert(source), target + ".new")
            os.rename(target + ".new", target)
        deadline = time.monotonic() + 30
        while True:
            ch = channel(server.address, root="rotated-ca.pem", **both)
            code = code_of(lambda: get_availability(ch, timeout=2))
            ch.close()
            if code == grpc.StatusCode.OK:
                break
            assert time.monotonic() < deadline, \
                f"the rotated certificate was not served within 30s (last: {code})"
            time.sleep(0.2)
        expect_refused(channel(server.address, root="ca.pem", **both), "after rotation, CA A")
        code, text = probe(server.address, "-tls", f"-tls-ca-cert={cert('rotated-ca.pem')}",
                           f"-tls-client-cert={cert('client.pem')}",
                           f"-tls-client-key={cert('client.key')}")
        assert code == 0, f"health_probe after rotation: {text}"


def product_call(address, method, request, **tls):
    ch = channel(address, **tls)
    try:
        name = method.split("/")[1]
        request_type = MESSAGES[f"product.{name}Request"]
        response_type = MESSAGES[f"product.{name}Response"]
        call = ch.unary_unary(f"/product.ProductService/{name}", request_type.SerializeToString,
                              response_type.FromString)
        return call(request, timeout=5)
    finally:
        ch.close()


def wait_probe(address, want, flags, service, bound=30):
    deadline = time.monotonic() + bound
    while True:
        code, text = probe(address, *flags, service=service)
        if code == want:
            return
        assert time.monotonic() < deadline, f"health_probe {service}: exit {code}, want {want}: {text}"
        time.sleep(0.2)


def case_product_to_inventory_mtls():
    """product_server serves TLS and calls an mTLS inventory (look-ups,
    reservations and readiness) with its client certificate; with a
    certificate from another CA its calls fail and readiness turns
    NOT_SERVING."""
    product_tls = ["-tls", f"-tls-ca-cert={cert('ca.pem')}"]
    with inventory_tls() as inventory:
        common = [f"--inventory=127.0.0.1:{inventory.port}", "--inventory_health_interval=200ms",
                  f"--tls_cert={cert('server.pem')}", f"--tls_key={cert('server.key')}",
                  f"--inventory_tls_ca={cert('ca.pem')}", "--inventory_tls_server_name=inventory"]
        with Server(ARGS.product_server, *common, f"--inventory_tls_cert={cert('client.pem')}",
                    f"--inventory_tls_key={cert('client.key')}") as product:
            assert "over mTLS" in product.text(), product.text()
            tls = dict(root="ca.pem")
            response = product_call(product.address, "/GetProduct",
                                    MESSAGES["product.GetProductRequest"](product_id="product123"),
                                    **tls)
            assert response.is_available and response.quantity == 10, response
            order = MESSAGES["product.PlaceOrderRequest"](order_id="tls-order-1")
            order.lines.add(product_id="product123", quantity=3)
            placed = product_call(product.address, "/PlaceOrder", order, **tls)
            assert placed.order_id == "tls-order-1" and placed.total_cents > 0, placed
            response = product_call(product.address, "/GetProduct",
                                    MESSAGES["product.GetProductRequest"](product_id="product123"),
                                    **tls)
            assert response.quantity == 7, response
            # Readiness checks the inventory over mTLS: SERVING after several
            # intervals, i.e. its checks succeed.
            time.sleep(1)
            wait_probe(product.address, 0, product_tls, "product.ProductService")
            code = code_of(lambda: product_call(
                product.address, "/GetProduct",
                MESSAGES["product.GetProductRequest"](product_id="product123"), plaintext=True))
            assert code == grpc.StatusCode.UNAVAILABLE, f"plaintext to product_server: {code}"

        with Server(ARGS.product_server, *common,
                    f"--inventory_tls_cert={cert('other-client.pem')}",
                    f"--inventory_tls_key={cert('other-client.key')}") as product:
            code = code_of(lambda: product_call(
                product.address, "/GetProduct",
                MESSAGES["product.GetProductRequest"](product_id="product123"), root="ca.pem"))
            assert code == grpc.StatusCode.UNAVAILABLE, f"with a CA B client cert: {code}"
            wait_probe(product.address, 4, product_tls, "product.ProductService")
        with Server(ARGS.product_server, f"--inventory=127.0.0.1:{inventory.port}",
                    "--inventory_health_interval=200ms") as product:
            code = code_of(lambda: product_call(
                product.address, "/GetProduct",
                MESSAGES["product.GetProductRequest"](product_id="product123"), plaintext=True))
            assert code == grpc.StatusCode.UNAVAILABLE, f"plaintext to an mTLS inventory: {code}"


def set_stock(ch, quantity, token=None, header=None):
    """SetStock(product123, quantity): the status code it ends with."""
    request_type = MESSAGES["inventory.SetStockRequest"]
    response_type = MESSAGES["inventory.SetStockResponse"]
    call = ch.unary_unary("/inventory.InventoryService/SetStock", request_type.SerializeToString,
                          response_type.FromString)
    metadata = []
    if token is not None:
        metadata.append(("authorization", f"Bearer {token}"))
    if header is not None:
        metadata.append(("authorization", header))
    code = code_of(lambda: call(request_type(product_id="product123", quantity=quantity),
                                timeout=5, metadata=metadata))
    ch.close()
    return code


def quantity(ch):
    response = get_availability(ch)
    ch.close()
    return response.quantity


def denied_counts(metrics_port):
    """{grpc_code: value} of grpc_server_authz_denied_total for SetStock."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as page:
        text = page.read().decode()
    counts = {}
    for line in text.splitlines():
        if line.startswith("grpc_server_authz_denied_total{") and 'grpc_method="SetStock"' in line:
            code = re.search(r'grpc_code="([A-Za-z]+)"', line).group(1)
            counts[code] = float(line.rsplit(" ", 1)[1])
    return counts


def case_admin_authorization():
    """SetStock needs an admin (a listed client certificate, or the bearer
    token) and is refused with the right code otherwise, before its handler
    (the stock does not change); other methods are not affected; each
    refusal is counted by code."""
    token_file = cert("admin.token")
    with open(token_file, "w") as f:
        f.write(ADMIN_TOKEN + "\n")
    UNAUTH, DENIED, OK = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED,
                          grpc.StatusCode.OK)
    # The default: no admin configured, plaintext: refused, unauthenticated.
    with Server(ARGS.inventory_server) as server:
        assert "no admin is configured" in server.text(), server.text()
        assert set_stock(channel(server.address, plaintext=True), 1) == UNAUTH
        assert set_stock(channel(server.address, plaintext=True), 1, token=ADMIN_TOKEN) == UNAUTH
        assert quantity(channel(server.address, plaintext=True)) == 10

    # TLS (no client certificates) with a token.
    with inventory_tls(f"--admin_token_file={token_file}", mtls=False) as server:
        tls = dict(root="ca.pem")
        assert set_stock(channel(server.address, **tls), 1) == UNAUTH
        assert set_stock(channel(server.address, **tls), 1, token="wrong-token-0123456789") == UNAUTH
        assert set_stock(channel(server.address, **tls), 1, token=ADMIN_TOKEN[:-1]) == UNAUTH
        # The same length with one byte changed, and the token with one more.
        assert set_stock(channel(server.address, **tls), 1, token=ADMIN_TOKEN[:-1] + "X") == UNAUTH
        assert set_stock(channel(server.address, **tls), 1, token=ADMIN_TOKEN + "9") == UNAUTH
        assert set_stock(channel(server.address, **tls), 1, header=f"Basic {ADMIN_TOKEN}") == UNAUTH
        assert quantity(channel(server.address, **tls)) == 10
        assert set_stock(channel(server.address, **tls), 4, token=ADMIN_TOKEN) == OK
        assert quantity(channel(server.address, **tls)) == 4

    # mTLS with admin identities and a token, metrics on.
    with inventory_tls("--admin_identities=admin.example,spiffe://x/admin",
                       f"--admin_token_file={token_file}", "--metrics_listen=127.0.0.1:0") as server:
        metrics_port = int(METRICS_PORT.search(server.text()).group(1))
        assert "admins are client certificates named admin.example" in server.text(), server.text()
        client = dict(root="ca.pem", key="client.key", chain="client.pem")
        admin = dict(root="ca.pem", key="admin.key", chain="admin.pem")
        assert set_stock(channel(server.address, **client), 1) == DENIED
        assert set_stock(channel(server.address, **client), 1) == DENIED
        assert set_stock(channel(server.address, **client), 1, token="wrong-token-0123456789") == UNAUTH
        assert quantity(channel(server.address, **client)) == 10  # not refused, not changed
        assert denied_counts(metrics_port) == {"Unauthenticated": 1.0, "PermissionDenied": 2.0}, \
            denied_counts(metrics_port)
        assert set_stock(channel(server.address, **admin), 7) == OK
        assert quantity(channel(server.address, **client)) == 7
        assert set_stock(channel(server.address, **client), 6, token=ADMIN_TOKEN) == OK
        assert quantity(channel(server.address, **client)) == 6
        # An admin certificate is enough: a stray header does not undo it.
        assert set_stock(channel(server.address, **admin), 5, token="wrong-token-0123456789") == OK
        assert quantity(channel(server.address, **client)) == 5
        assert denied_counts(metrics_port) == {"Unauthenticated": 1.0, "PermissionDenied": 2.0}

    # Turned off: refused to admins too.
    with inventory_tls("--admin_identities=admin.example", "--admin_set_stock=false") as server:
        admin = dict(root="ca.pem", key="admin.key", chain="admin.pem")
        assert set_stock(channel(server.address, **admin), 1) == DENIED
        assert quantity(channel(server.address, **admin)) == 10

    # The insecure development mode: open, and said so.
    with Server(ARGS.inventory_server, "--allow_unauthenticated_admin") as server:
        assert "OPEN TO EVERY CALLER" in server.text(), server.text()
        assert set_stock(channel(server.address, plaintext=True), 2) == OK
        assert quantity(channel(server.address, plaintext=True)) == 2

    # Bad authorization settings stop the server at start.
    short = cert("short.token")
    with open(short, "w") as f:
        f.write("short\n")
    for flags, named in [
        (["--admin_identities=admin.example"], "--tls_client_ca"),
        ([f"--tls_cert={cert('server.pem')}", f"--tls_key={cert('server.key')}",
          "--admin_identities=admin.example"], "--tls_client_ca"),
        ([f"--admin_token_file={cert('no-such.token')}"], cert("no-such.token")),
        ([f"--admin_token_file={short}"], short),
        (["--allow_unauthenticated_admin", f"--admin_token_file={token_file}"],
         "--allow_unauthenticated_admin"),
    ]:
        server = Server(ARGS.inventory_server, *flags, expect_start=False)
        code = server.wait_exit(30)
        assert code == 1 and named in server.text(), f"{flags}: exit {code}:\n{server.text()}"


def reserve(ch, order_id, units=1):
    """ReserveStock(order_id: product123 x units): the status code."""
    request_type = MESSAGES["inventory.ReserveStockRequest"]
    response_type = MESSAGES["inventory.ReserveStockResponse"]
    call = ch.unary_unary("/inventory.InventoryService/ReserveStock",
                          request_type.SerializeToString, response_type.FromString)
    request = request_type(order_id=order_id)
    line = request.lines.add()
    line.product_id, line.quantity = "product123", units
    code = code_of(lambda: call(request, timeout=5))
    ch.close()
    return code


def release(ch, order_id):
    """ReleaseReservation(order_id): the status code."""
    request_type = MESSAGES["inventory.ReleaseReservationRequest"]
    response_type = MESSAGES["inventory.ReleaseReservationResponse"]
    call = ch.unary_unary("/inventory.InventoryService/ReleaseReservation",
                          request_type.SerializeToString, response_type.FromString)
    code = code_of(lambda: call(request_type(order_id=order_id), timeout=5))
    ch.close()
    return code


def order_denied_counts(metrics_port):
    """{(method, grpc_code): value} of grpc_server_authz_denied_total for the
    order methods."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as page:
        text = page.read().decode()
    counts = {}
    for line in text.splitlines():
        method = re.search(r'grpc_method="(ReserveStock|ReleaseReservation)"', line)
        if line.startswith("grpc_server_authz_denied_total{") and method:
            code = re.search(r'grpc_code="([A-Za-z]+)"', line).group(1)
            value = float(line.rsplit(" ", 1)[1])
            if value:
                counts[(method.group(1), code)] = value
    return counts


def case_order_authorization():
    """With --order_identities, ReserveStock and ReleaseReservation are open
    only to the listed client certificates, refused before the handler
    otherwise (stock unchanged, counted by code); an order is replayed and
    released only by the identity that reserved it, also after a restart."""
    OK, DENIED = grpc.StatusCode.OK, grpc.StatusCode.PERMISSION_DENIED
    product = dict(root="ca.pem", key="client.key", chain="client.pem")  # DNS:product-server
    shop = dict(root="ca.pem", key="shop.key", chain="shop.pem")  # DNS:shop.example
    admin = dict(root="ca.pem", key="admin.key", chain="admin.pem")  # DNS:admin.example
    data_dir = tempfile.mkdtemp(prefix="tls_test.orders.")
    flags = ["--order_identities=product-server,shop.example", f"--data_dir={data_dir}",
             "--catalog=" + os.path.join(ROOT, "data", "catalog.csv")]
    try:
        with inventory_tls(*flags, "--metrics_listen=127.0.0.1:0") as server:
            metrics_port = int(METRICS_PORT.search(server.text()).group(1))
            assert "only client certificates named product-server, shop.example" in server.text(), \
                server.text()
            # A verified certificate that may not order: refused, nothing held.
            assert reserve(channel(server.address, **admin), "by-admin") == DENIED
            assert release(channel(server.address, **admin), "by-admin") == DENIED
            assert quantity(channel(server.address, **admin)) == 10
            assert order_denied_counts(metrics_port) == {
                ("ReserveStock", "PermissionDenied"): 1.0,
                ("ReleaseReservation", "PermissionDenied"): 1.0}, order_denied_counts(metrics_port)
            # Reads stay open to every verified client.
            assert quantity(channel(server.address, **admin)) == 10

            assert reserve(channel(server.address, **product), "o-1", 3) == OK
            assert quantity(channel(server.address, **shop)) == 7
            # Another ordering identity can neither release nor replay it.
            assert release(channel(server.address, **shop), "o-1") == DENIED
            assert reserve(channel(server.address, **shop), "o-1", 3) == DENIED
            assert quantity(channel(server.address, **shop)) == 7
            # The owner can.
            assert reserve(channel(server.address, **product), "o-1", 3) == OK
            assert quantity(channel(server.address, **shop)) == 7
            assert reserve(channel(server.address, **shop), "o-2", 2) == OK
            assert quantity(channel(server.address, **shop)) == 5
        # The owner is durable: after a restart the same rules hold.
        with inventory_tls(*flags) as server:
            assert quantity(channel(server.address, **shop)) == 5
            assert release(channel(server.address, **shop), "o-1") == DENIED
            assert release(channel(server.address, **product), "o-2") == DENIED
            assert quantity(channel(server.address, **shop)) == 5
            assert release(channel(server.address, **product), "o-1") == OK
            assert release(channel(server.address, **shop), "o-2") == OK
            assert quantity(channel(server.address, **shop)) == 10
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    # Without --order_identities every caller may order, and the log says so;
    # listening beyond loopback makes it a warning.
    with Server(ARGS.inventory_server) as server:
        assert "open to every caller that reaches the port" in server.text(), server.text()
        assert reserve(channel(server.address, plaintext=True), "anyone") == OK
        assert release(channel(server.address, plaintext=True), "anyone") == OK
    # Identities need mTLS to be verified: refused at start otherwise.
    for extra in [[], [f"--tls_cert={cert('server.pem')}", f"--tls_key={cert('server.key')}"]]:
        server = Server(ARGS.inventory_server, "--order_identities=product-server", *extra,
                        expect_start=False)
        code = server.wait_exit(30)
        assert code == 1 and "--order_identities" in server.text() and \
            "--tls_client_ca" in server.text(), f"{extra}: exit {code}:\n{server.text()}"


CASES = {name[len("case_"):]: function for name, function in globals().items()
         if name.startswith("case_")}


def main():
    global ARGS, CERTS, MESSAGES
    parser = argparse.ArgumentParser()
    for flag in ("inventory_server", "product_server", "health_probe", "protoc"):
        parser.add_argument(f"--{flag}", required=True)
    parser.add_argument("--case", action="append", choices=sorted(CASES))
    ARGS = parser.parse_args()
    MESSAGES = load_messages(ARGS.protoc)
    CERTS = tempfile.mkdtemp(prefix="tls_test.")
    failed = 0
    try:
        subprocess.run(["bash", os.path.join(HERE, "make_test_certs.sh"), CERTS], check=True)
        for name in ARGS.case or CASES:
            try:
                CASES[name]()
                print(f"PASS {name}", flush=True)
            except Exception:  # noqa: BLE001 - report every case
                failed += 1
                print(f"FAIL {name}\n{traceback.format_exc()}", flush=True)
    finally:
        shutil.rmtree(CERTS, ignore_errors=True)
    print(f"{len(ARGS.case or CASES) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
