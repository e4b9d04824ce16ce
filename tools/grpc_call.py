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

Examples:
    grpc_call.py localhost:50052 product.ProductService/GetProduct 'product_id: "product123"'
    grpc_call.py localhost:50051 inventory.InventoryService/WatchProductAvailability \\
        'product_ids: "product123"' --count=1
    grpc_call.py localhost:50051 grpc.health.v1.Health/Check
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
        usage="%(prog)s ADDRESS SERVICE/METHOD [REQUEST] [--timeout=S] [--count=N]")
    parser.add_argument("address", help="host:port of the server")
    parser.add_argument("method", help="e.g. inventory.InventoryService/GetProductAvailability")
    parser.add_argument("request", nargs="?", default="", help="request in protobuf text format")
    parser.add_argument("--timeout", type=float, default=10, help="deadline in seconds (10)")
    parser.add_argument("--count", type=int, default=0,
                        help="streams: stop after this many messages (0: until the deadline)")
    parser.add_argument("--proto_dir", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "proto"))
    args = parser.parse_args()

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
    channel = grpc.insecure_channel(args.address, options=[("grpc.enable_http_proxy", 0)])
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
