# The seed article's Python InventoryService server, the peer a reader of the
# article would run: its servicer and its server (a thread pool of 10) are the
# article's code unchanged. Three departures, all outside the service, so that
# bench/bench.py can run it like the other servers:
#   - the address comes from argv[1] (default the article's '[::]:50051'), and
#     port 0 picks a free one;
#   - it prints "seed_server listening on HOST:PORT" with the bound port;
#   - SIGTERM or SIGINT stops it (5 s of grace) with exit status 0.
# Stubs: protoc -I proto --python_out=D --grpc_out=D
#   --plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin proto/inventory.proto,
# then PYTHONPATH=D /usr/bin/python3 bench/peers/seed_server.py 127.0.0.1:0
import signal
import sys

import grpc
import inventory_pb2
import inventory_pb2_grpc
from concurrent import futures

class InventoryServicer(inventory_pb2_grpc.InventoryServiceServicer):
    def GetProductAvailability(self, request, context):
        product_id = request.product_id
        # Simulate checking product availability in a database or other data source
        if product_id == "product123":
            is_available = True
            quantity = 10
        else:
            is_available = False
            quantity = 0

        return inventory_pb2.GetProductAvailabilityResponse(is_available=is_available, quantity=quantity)


def serve(address):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=10))
    inventory_pb2_grpc.add_InventoryServiceServicer_to_server(InventoryServicer(), server)
    port = server.add_insecure_port(address)
    if port == 0:
        sys.exit(f"seed_server: cannot listen on {address}")
    server.start()
    stop = lambda signum, frame: server.stop(5)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"seed_server listening on {address.rsplit(':', 1)[0]}:{port}", flush=True)
    server.wait_for_termination()

if __name__ == '__main__':
    print("Starting gRPC Inventory Service...")
    serve(sys.argv[1] if len(sys.argv) > 1 else '[::]:50051')
