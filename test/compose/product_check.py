#!/usr/bin/python3
"""Checks through the ProductService's published port, for compose_e2e_test.sh.

  product_check.py ADDRESS get PRODUCT_ID EXPECTED_QUANTITY
  product_check.py ADDRESS order ORDER_ID PRODUCT_ID QUANTITY EXPECTED_TOTAL_CENTS

`order` places the order twice with the same order_id and requires the same
answer both times (a retry reserves nothing more). Exits 0 on success, else
prints what was wrong.
"""
import sys

import grpc
import product_pb2
import product_pb2_grpc


def main():
    address, command, *args = sys.argv[1:]
    stub = product_pb2_grpc.ProductServiceStub(grpc.insecure_channel(address))
    if command == "get":
        product_id, expected = args[0], int(args[1])
        response = stub.GetProduct(product_pb2.GetProductRequest(product_id=product_id),
                                   timeout=10)
        if response.quantity != expected or response.is_available != (expected > 0):
            sys.exit(f"GetProduct({product_id}): quantity {response.quantity}, "
                     f"available {response.is_available}; expected {expected}")
        print(f"GetProduct({product_id}): '{response.name}', {response.price_cents} cents, "
              f"quantity {response.quantity}")
    elif command == "order":
        order_id, product_id, quantity, total = args[0], args[1], int(args[2]), int(args[3])
        request = product_pb2.PlaceOrderRequest(
            order_id=order_id, lines=[product_pb2.OrderLine(product_id=product_id,
                                                            quantity=quantity)])
        first = stub.PlaceOrder(request, timeout=10)
        retry = stub.PlaceOrder(request, timeout=10)
        if first.total_cents != total or retry != first:
            sys.exit(f"PlaceOrder({order_id}): total {first.total_cents} (expected {total}), "
                     f"retry {'same' if retry == first else 'different'}")
        print(f"PlaceOrder({order_id}): {quantity} x {product_id} = {first.total_cents} cents; "
              f"the retry got the same answer")
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
