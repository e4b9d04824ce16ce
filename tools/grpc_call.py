#!/usr/bin/python3
"""Calls one gRPC method of this project's servers and prints the answer.

    grpc_call.py ADDRESS SERVICE/METHOD [REQUEST]

REQUEST is the request message in protobuf text format, e.g.
'product_id: "product123"' (empty: the empty message). Each response is
printed on one line in the same format; a server-streaming method prints one
line per message until --count messages arrived or --timeout passed. A call
that fails prints "CODE: details" on stderr.

Exit status: 0 OK (for a stream: --count messages, or the server ended it with
OK), 1 the call failed, 2 bad usage. Message types come from proto/ next to
this script, compiled with protoc (Debian's python3-grpcio and
python3-protobuf, no generated stubs to keep around).

TLS: --tls_ca=FILE (the CA to verify the server with) switches to TLS;
--tls_cert and --tls_key add a client certificate (mTLS), and
--tls_server_name names the certificate's name when it differs from the
host in ADDRESS (e.g. 127.0.0.1 and "inventory" in the docker-compose
deployment). Without --tls_ca: plaintext.

Examples:
    grpc_call.py localhost:50052 product.ProductService/GetProduct 'product_id: "product123"'
    grpc_call.py localhost:50051 inventory.InventoryService/WatchProductAvailability \\
        'product_ids: "product123"' --count=1
    grpc_call.py localhost:50051 grpc.health.v1.Health/Check
    grpc_call.py 127.0.0.1:50051 inventory.InventoryService/SetStock \\
        'product_id: "product123" quantity: 100' --tls_ca=tls/ca.crt \\
        --tls_cert=tls/client.crt --tls_key=tls/client.key --tls_server_name=inventory
"""

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

import grpc
from google.protobuf import symbol_database, text_format

PROTOS = ["inventory.proto", "product.proto", "grpc/health/v1/health.proto"]


def load_protos(proto_dir):
    """Compiles the project's protos and returns the descriptor pool."""
    protoc = os.environ.get("PROTOC") or shutil.which("protoc")
    if protoc is None:
        sys.exit("grpc_call: protoc not found (apt install protobuf-compiler, or set PROTOC)")
    out = tempfile.mkdtemp(prefix="grpc_call.")
    try:
        subprocess.run([protoc, f"-I{proto_dir}", f"--python_out={out}"] + PROTOS, check=True)
        for proto in PROTOS:
            # By file, under a name of its own: grpc/health/v1/health_pb2.py
            # would otherwise be looked for inside the grpc package.
            name = "grpc_call_" + os.path.basename(proto)[: -len(".proto")] + "_pb2"
            path = os.path.join(out, proto[: -len(".proto")] + "_pb2.py")
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return symbol_database.Default().pool


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        usage="%(prog)s ADDRESS SERVICE/METHOD [REQUEST] [--timeout=S] [--count=N] "
              "[--tls_ca=FILE [--tls_cert=FILE --tls_key=FILE] [--tls_server_name=NAME]]")
    parser.add_argument("address", help="host:port of the server")
    parser.add_argument("method", help="e.g. inventory.InventoryService/GetProductAvailability")
    parser.add_argument("request", nargs="?", default="", help="request in protobuf text format")
    parser.add_argument("--timeout", type=float, default=10, help="deadline in seconds (10)")
    parser.add_argument("--count", type=int, default=0,
                        help="streams: stop after this many messages (0: until the deadline)")
    parser.add_argument("--tls_ca", help="PEM CA file: use TLS, verifying the server with it")
    parser.add_argument("--tls_cert", help="with --tls_ca: PEM client certificate (mTLS)")
    parser.add_argument("--tls_key", help="with --tls_cert: its PEM private key")
    parser.add_argument("--tls_server_name",
                        help="with --tls_ca: the name the server's certificate must carry")
    parser.add_argument("--proto_dir", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "proto"))
    args = parser.parse_args()

    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls_cert and --tls_key go together")
    if args.tls_ca is None and (args.tls_cert or args.tls_server_name):
        parser.error("--tls_cert, --tls_key and --tls_server_name need --tls_ca")
    pool = load_protos(args.proto_dir)
    service_name, _, method_name = args.method.rpartition("/")
    try:
        method = pool.FindServiceByName(service_name).FindMethodByName(method_name)
    except KeyError:
        method = None
    if method is None:
        parser.error(f"no method {args.method} in {', '.join(PROTOS)}")
    if method.client_streaming:
        parser.error(f"{args.method} is client-streaming; only unary and server-streaming work")
    symbols = symbol_database.Default()
    request_type = symbols.GetSymbol(method.input_type.full_name)
    response_type = symbols.GetSymbol(method.output_type.full_name)
    try:
        request = text_format.Parse(args.request, request_type())
    except text_format.ParseError as error:
        parser.error(f"REQUEST does not parse as {method.input_type.full_name} (text format): {error}")

    # Loopback and private addresses only: never through an HTTP proxy from
    # the environment.
    options = [("grpc.enable_http_proxy", 0)]
    if args.tls_ca is None:
        channel = grpc.insecure_channel(args.address, options=options)
    else:
        def read(path):
            try:
                with open(path, "rb") as f:
                    return f.read()
            except OSError as error:
                parser.error(f"cannot read {path}: {error.strerror}")
        credentials = grpc.ssl_channel_credentials(
            root_certificates=read(args.tls_ca),
            private_key=read(args.tls_key) if args.tls_key else None,
            certificate_chain=read(args.tls_cert) if args.tls_cert else None)
        if args.tls_server_name:
            options.append(("grpc.ssl_target_name_override", args.tls_server_name))
        channel = grpc.secure_channel(args.address, credentials, options=options)
    path = f"/{service_name}/{method_name}"
    serialize, parse = request_type.SerializeToString, response_type.FromString
    received = 0
    try:
        if method.server_streaming:
            stream = channel.unary_stream(path, serialize, parse)(request, timeout=args.timeout)
            for message in stream:
                print(text_format.MessageToString(message, as_one_line=True), flush=True)
                received += 1
                if received == args.count:
                    stream.cancel()
                    return 0
        else:
            response = channel.unary_unary(path, serialize, parse)(request, timeout=args.timeout)
            print(text_format.MessageToString(response, as_one_line=True))
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED and method.server_streaming \
                and args.count == 0 and received > 0:
            return 0  # a stream read until the deadline, as asked
        print(f"{error.code().name}: {error.details()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
