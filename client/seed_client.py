# The ProductService client exactly as the seed article wrote it, kept
# verbatim as a compatibility promise: it must keep working against our
# InventoryService. Only the target address may be overridden (argv[1]).
import sys

import grpc
import inventory_pb2
import inventory_pb2_grpc

TARGET = sys.argv[1] if len(sys.argv) > 1 else 'localhost:50051'


def check_product_availability(product_id):
    with grpc.insecure_channel(TARGET) as channel:
        stub = inventory_pb2_grpc.InventoryServiceStub(channel)
        request = inventory_pb2.GetProductAvailabilityRequest(product_id=product_id)
        response = stub.GetProductAvailability(request)
        return response.is_available, response.quantity

if __name__ == '__main__':
    product_id = "product123"
    is_available, quantity = check_product_availability(product_id)
    if is_available:
        print(f"Product {product_id} is available. Quantity: {quantity}")
    else:
        print(f"Product {product_id} is not available.")
