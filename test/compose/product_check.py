#!/usr/bin/python3
"""Checks through the deployment's published ports, for compose_e2e_test.sh.

  product_check.py [TLS] ADDRESS get PRODUCT_ID EXPECTED_QUANTITY
  product_check.py [TLS] ADDRESS order ORDER_ID PRODUCT_ID QUANTITY EXPECTED_TOTAL_CENTS
  product_check.py [TLS] ADDRESS order_code ORDER_ID PRODUCT_ID QUANTITY EXPECTED_CODE
  product_check.py [TLS] ADDRESS orders PREFIX PRODUCT_ID COUNT INTERVAL_S RETRY_FOR_S
  product_check.py [TLS] ADDRESS availability PRODUCT_ID
  product_check.py [TLS] ADDRESS set_stock PRODUCT_ID QUANTITY [EXPECTED_CODE]
  product_check.py [TLS] ADDRESS reserve ORDER_ID PRODUCT_ID QUANTITY [EXPECTED_CODE]

TLS: --tls_ca=FILE [--tls_cert=FILE --tls_key=FILE] [--tls_server_name=NAME];
without --tls_ca, a plaintext channel.

get and order call the ProductService; `order` places the order twice with
the same order_id and requires the same answer both times (a retry reserves
nothing more). order_code places one order and requires EXPECTED_CODE (e.g.
UNAVAILABLE). orders (compose_scale_test.sh) places COUNT orders
PREFIX-0..COUNT-1 of product PRODUCT_ID, order i for 1 + i % 3 units, one
every INTERVAL_S seconds; an order answered UNAVAILABLE or
DEADLINE_EXCEEDED is placed again with the same order_id (idempotent) every
0.2 s for up to RETRY_FOR_S seconds. Each acknowledged order prints
"ACK ORDER_ID QUANTITY ATTEMPTS UNIX_TIME [CODES OF THE FAILED ATTEMPTS]", as
it happens; any other failure, or a total other than the catalog price times
the quantity, prints "FAILED ..." and exits 1. availability and set_stock call the InventoryService:
availability prints the seed client's line ("Product ID is available.
Quantity: N"); set_stock requires EXPECTED_CODE (default OK; e.g.
PERMISSION_DENIED) and prints the answer; reserve (ReserveStock) likewise. Any other failure prints
"CODE: details". Exits 0 on success, else prints what was wrong.
"""
import argparse
import sys
import time

import grpc
import inventory_pb2
import inventory_pb2_grpc
import product_pb2
import product_pb2_grpc


def channel(args):
    options = [("grpc.enable_http_proxy", 0)]
    if not args.tls_ca:
        return grpc.insecure_channel(args.address, options=options)

    def read(path):
        with open(path, "rb") as f:
            return f.read()

    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(args.tls_ca),
        private_key=read(args.tls_key) if args.tls_key else None,
        certificate_chain=read(args.tls_cert) if args.tls_cert else None)
    if args.tls_server_name:
        options.append(("grpc.ssl_target_name_override", args.tls_server_name))
    return grpc.secure_channel(args.address, credentials, options=options)


def expect_code(what, call, expected, ok_details):
    """Runs call(); unless its status code is `expected` (a name: "OK",
    "PERMISSION_DENIED", ...) exits naming `what`, the code and its details;
    else prints them. ok_details(response) describes an OK answer."""
    try:
        code, details = "OK", ok_details(call())
    except grpc.RpcError as error:
        code, details = error.code().name, error.details()
    if code != expected:
        sys.exit(f"{what}: {code}: {details}; expected {expected}")
    print(f"{what}: {code}: {details}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tls_ca")
    parser.add_argument("--tls_cert")
    parser.add_argument("--tls_key")
    parser.add_argument("--tls_server_name")
    parser.add_argument("address")
    parser.add_argument("command")
    parser.add_argument("args", nargs="*")
    args = parser.parse_args()
    rest = args.args
    ch = channel(args)
    try:
        if args.command == "get":
            stub = product_pb2_grpc.ProductServiceStub(ch)
            product_id, expected = rest[0], int(rest[1])
            response = stub.GetProduct(product_pb2.GetProductRequest(product_id=product_id),
                                       timeout=10)
            if response.quantity != expected or response.is_available != (expected > 0):
                sys.exit(f"GetProduct({product_id}): quantity {response.quantity}, "
                         f"available {response.is_available}; expected {expected}")
            print(f"GetProduct({product_id}): '{response.name}', {response.price_cents} cents, "
                  f"quantity {response.quantity}")
        elif args.command == "order":
            stub = product_pb2_grpc.ProductServiceStub(ch)
            order_id, product_id, quantity, total = rest[0], rest[1], int(rest[2]), int(rest[3])
            request = product_pb2.PlaceOrderRequest(
                order_id=order_id, lines=[product_pb2.OrderLine(product_id=product_id,
                                                                quantity=quantity)])
            first = stub.PlaceOrder(request, timeout=10)
            retry = stub.PlaceOrder(request, timeout=10)
            if first.total_cents != total or retry != first:
                sys.exit(f"PlaceOrder({order_id}): total {first.total_cents} (expected {total}), "
                         f"retry {'same' if retry == first else 'different'}")
            print(f"PlaceOrder({order_id}): {quantity} x {product_id} = {first.total_cents} "
                  f"cents; the retry got the same answer")
        elif args.command == "order_code":
            stub = product_pb2_grpc.ProductServiceStub(ch)
            order_id, product_id, quantity, expected = rest[0], rest[1], int(rest[2]), rest[3]
            expect_code(f"PlaceOrder({order_id})", lambda: stub.PlaceOrder(
                product_pb2.PlaceOrderRequest(
                    order_id=order_id, lines=[product_pb2.OrderLine(product_id=product_id,
                                                                    quantity=quantity)]),
                timeout=10), expected, lambda _: "placed")
        elif args.command == "orders":
            stub = product_pb2_grpc.ProductServiceStub(ch)
            prefix, product_id, count = rest[0], rest[1], int(rest[2])
            interval, retry_for = float(rest[3]), float(rest[4])
            price = stub.GetProduct(product_pb2.GetProductRequest(product_id=product_id),
                                    timeout=10).price_cents
            retryable = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
            for i in range(count):
                order_id, quantity = f"{prefix}-{i}", 1 + i % 3
                request = product_pb2.PlaceOrderRequest(
                    order_id=order_id, lines=[product_pb2.OrderLine(product_id=product_id,
                                                                    quantity=quantity)])
                give_up = time.monotonic() + retry_for
                failed = []
                while True:
                    try:
                        response = stub.PlaceOrder(request, timeout=10)
                        break
                    except grpc.RpcError as error:
                        failed.append(error.code().name)
                        if error.code() not in retryable or time.monotonic() > give_up:
                            print(f"FAILED {order_id} {quantity} {','.join(failed)}: "
                                  f"{error.details()}", flush=True)
                            sys.exit(1)
                        time.sleep(0.2)
                if response.total_cents != price * quantity:
                    print(f"FAILED {order_id} {quantity}: total {response.total_cents}, "
                          f"expected {price * quantity}", flush=True)
                    sys.exit(1)
                print(f"ACK {order_id} {quantity} {len(failed) + 1} {time.time():.3f} "
                      f"{','.join(failed)}".rstrip(), flush=True)
                time.sleep(interval)
        elif args.command == "availability":
            stub = inventory_pb2_grpc.InventoryServiceStub(ch)
            product_id = rest[0]
            response = stub.GetProductAvailability(
                inventory_pb2.GetProductAvailabilityRequest(product_id=product_id), timeout=10)
            if response.is_available:
                print(f"Product {product_id} is available. Quantity: {response.quantity}")
            else:
                print(f"Product {product_id} is not available.")
        elif args.command == "set_stock":
            stub = inventory_pb2_grpc.InventoryServiceStub(ch)
            product_id, quantity = rest[0], int(rest[1])
            expected = rest[2] if len(rest) > 2 else "OK"
            expect_code(f"SetStock({product_id}, {quantity})", lambda: stub.SetStock(
                inventory_pb2.SetStockRequest(product_id=product_id, quantity=quantity),
                timeout=10), expected,
                lambda response: str(response.availability).replace("\n", " ").strip())
        elif args.command == "reserve":
            stub = inventory_pb2_grpc.InventoryServiceStub(ch)
            order_id, product_id, quantity = rest[0], rest[1], int(rest[2])
            expected = rest[3] if len(rest) > 3 else "OK"
            expect_code(f"ReserveStock({order_id}, {quantity} x {product_id})",
                        lambda: stub.ReserveStock(inventory_pb2.ReserveStockRequest(
                            order_id=order_id, lines=[inventory_pb2.StockLine(
                                product_id=product_id, quantity=quantity)]), timeout=10),
                        expected, lambda _: "reserved")
        else:
            sys.exit(f"unknown command {args.command}")
    except grpc.RpcError as error:
        sys.exit(f"{error.code().name}: {error.details()}")


if __name__ == "__main__":
    main()
