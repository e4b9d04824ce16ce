#!/usr/bin/env python3
"""Writes the request fuzzers' seed corpus: fuzz/corpus/inventory/ and
fuzz/corpus/product/, one file per scenario.

Each file is a sequence of records in the fuzzers' input format
(fuzz_support.h): [kind] [cut] [length, 2 bytes big-endian] [payload], the
payload a request serialized by hand here (the protobuf wire format: a tag
byte, then a varint or a length-delimited field), so no generated code is
needed. The kinds and product ids are the ones the fuzzers' header comments
and initial stock define. Run from anywhere; it rewrites both directories.

  python3 fuzz/make_corpus.py
"""
import os
import pathlib
import shutil
import struct

HERE = pathlib.Path(__file__).resolve().parent

# Operation kinds, as the fuzzers number them.
(INV_GET, INV_BATCH, INV_RESERVE, INV_RELEASE, INV_SET, INV_WATCH, INV_ROUND_TRIP,
 INV_FAIL_JOURNAL) = range(8)
PROD_GET, PROD_ORDER, PROD_RELEASE = range(3)


def varint(value):
    value &= (1 << 64) - 1  # negative int32 values are 10-byte varints
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_bytes(number, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def field_int(number, value):
    return varint(number << 3) + varint(value)


# Messages. Field numbers are those of proto/inventory.proto and
# proto/product.proto; both services' request messages share them.
def get(product_id):  # GetProductAvailabilityRequest, GetProductRequest
    return field_bytes(1, product_id)


def ids(product_ids):  # Batch... and WatchProductAvailabilityRequest
    return b"".join(field_bytes(1, i) for i in product_ids)


def order(order_id, lines):  # ReserveStockRequest, PlaceOrderRequest
    body = field_bytes(1, order_id) if order_id is not None else b""
    for product_id, quantity in lines:
        body += field_bytes(2, field_bytes(1, product_id) + field_int(2, quantity))
    return body


def release(order_id):  # ReleaseReservationRequest
    return field_bytes(1, order_id)


def set_stock(product_id, quantity):  # SetStockRequest
    return field_bytes(1, product_id) + field_int(2, quantity)


def record(kind, payload, cut=0):
    return bytes([kind, cut]) + struct.pack(">H", len(payload)) + payload


INVENTORY = {
    "get_known": [record(INV_GET, get("p3"))],
    "get_unknown_and_bad": [
        record(INV_GET, get("nope")),
        record(INV_GET, b""),  # empty id
        record(INV_GET, get("bad\x01id")),  # control character
        record(INV_GET, get("x" * 129)),  # one byte over the limit
    ],
    "get_not_utf8": [record(INV_GET, field_bytes(1, b"\xff\xfe"))],  # does not parse
    "get_garbage": [record(INV_GET, b"\x0a\x7f\x01")],  # length past the end
    "get_sliced": [record(INV_GET, get("p5"), cut=3)],  # 4 slices
    "batch": [record(INV_BATCH, ids(["p0", "p1", "p1", "nope"]), cut=1)],
    "batch_bad_id": [record(INV_BATCH, ids(["p1", "", "p2"]))],
    "batch_1000": [record(INV_BATCH, ids(["p%d" % (i % 8) for i in range(1000)]))],
    "batch_1001": [record(INV_BATCH, ids(["p1"] * 1001))],
    "reserve_replay_release": [
        record(INV_RESERVE, order("o1", [("p2", 3), ("p3", 1)])),
        record(INV_RESERVE, order("o1", [("p3", 1), ("p2", 3)])),  # replay, other line order
        record(INV_RESERVE, order("o1", [("p2", 2)])),  # ALREADY_EXISTS
        record(INV_RELEASE, release("o1")),
        record(INV_RELEASE, release("o1")),  # repeat: changes nothing
        record(INV_RESERVE, order("o1", [("p2", 3), ("p3", 1)])),  # replay after release
        record(INV_RELEASE, release("o9")),  # NOT_FOUND
        record(INV_RELEASE, release("")),  # bad id
    ],
    "reserve_rejected": [
        record(INV_RESERVE, order("o2", [("p1", 2)])),  # short
        record(INV_RESERVE, order("o2", [("p0", 1)])),  # short: p0 has none
        record(INV_RESERVE, order("o2", [("p1", 1), ("nope", 1)])),  # unknown product
        record(INV_RESERVE, order("o2", [("p1", 1), ("p1", 1)])),  # named twice
        record(INV_RESERVE, order("o2", [("p1", 0)])),  # zero
        record(INV_RESERVE, order("o2", [("p1", -1)])),  # negative
        record(INV_RESERVE, order("o2", [])),  # no lines
        record(INV_RESERVE, order(None, [("p1", 1)])),  # no order id
        record(INV_RESERVE, order("o2", [("p1", 1)])),  # and now it works
    ],
    "reserve_101_lines": [record(INV_RESERVE, order("o3", [("q%d" % i, 1) for i in range(101)]))],
    # Too many lines is refused before the order id is looked at.
    "reserve_101_lines_bad_order_id": [
        record(INV_RESERVE, order("", [("q%d" % i, 1) for i in range(101)]))
    ],
    "reserve_100_lines": [
        record(INV_SET, set_stock("q%d" % i, 3)) for i in range(100)
    ] + [record(INV_RESERVE, order("o4", [("q%d" % i, 1) for i in range(100)]))],
    "release_saturates": [
        record(INV_RESERVE, order("o5", [("p6", 5), ("p5", 10)])),
        record(INV_SET, set_stock("p6", 2147483647)),
        record(INV_RELEASE, release("o5")),  # p6 saturates at INT32_MAX
    ],
    "set_stock": [
        record(INV_SET, set_stock("new", 7)),
        record(INV_SET, set_stock("p1", 0)),
        record(INV_SET, set_stock("p2", -3)),  # negative
        record(INV_SET, set_stock("", 3)),  # bad id
        record(INV_GET, get("new")),
    ],
    "watch_then_change": [
        record(INV_WATCH, ids(["p1", "p2", "p1", "later"])),
        record(INV_SET, set_stock("p1", 9)),
        record(INV_RESERVE, order("o6", [("p2", 5)])),
        record(INV_SET, set_stock("later", 1)),
        record(INV_RELEASE, release("o6")),
    ],
    "watch_bad": [
        record(INV_WATCH, b""),  # no ids
        record(INV_WATCH, ids(["p1", "\x7f"])),  # DEL
        record(INV_WATCH, ids(["p1"] * 1001)),
    ],
    "watch_many": [record(INV_WATCH, ids(["p%d" % (i % 3)])) for i in range(6)]
    + [record(INV_SET, set_stock("p0", 4))],
    "round_trip": [
        record(INV_ROUND_TRIP, order("o7", [("p4", 40), ("p5", 999), ("p7", 1)])),
        record(INV_ROUND_TRIP, order("o7", [("p4", 40), ("p5", 999), ("p7", 1)])),  # replay
    ],
    "journal_fails": [
        record(INV_RESERVE, order("o8", [("p3", 2)])),
        record(INV_FAIL_JOURNAL, b""),
        record(INV_SET, set_stock("p3", 50)),  # UNAVAILABLE
        record(INV_SET, set_stock("p3", -1)),  # still INVALID_ARGUMENT
        record(INV_RESERVE, order("o9", [("p3", 1)])),  # UNAVAILABLE
        record(INV_RESERVE, order("o8", [("p3", 2)])),  # even a replay
        record(INV_RELEASE, release("o8")),  # UNAVAILABLE
        record(INV_GET, get("p3")),  # reads still answer
    ],
}

PRODUCT = {
    "get": [
        record(PROD_GET, get("p1")),
        record(PROD_GET, get("p8")),  # stocked, not sold: NOT_FOUND
        record(PROD_GET, get("")),
    ],
    "order_retry_release": [
        record(PROD_ORDER, order("o1", [("p1", 2), ("p0", 3)])),
        record(PROD_ORDER, order("o1", [("p0", 3), ("p1", 2)])),  # retry
        record(PROD_ORDER, order("o1", [("p1", 1)])),  # ALREADY_EXISTS
        record(PROD_RELEASE, release("o1")),
        record(PROD_ORDER, order("o1", [("p1", 2), ("p0", 3)])),  # retry after release
        record(PROD_RELEASE, release("o2")),  # NOT_FOUND
    ],
    "order_rejected": [
        record(PROD_ORDER, order("o3", [("p2", 2)])),  # short
        record(PROD_ORDER, order("o3", [("p7", 1)])),  # sold, not stocked
        record(PROD_ORDER, order("o3", [("p8", 1)])),  # stocked, not sold: NOT_FOUND
        record(PROD_ORDER, order("o3", [("p1", 1), ("p1", 2)])),
        record(PROD_ORDER, order("o3", [("p1", 0)])),
        record(PROD_ORDER, order("", [("p1", 1)])),
        record(PROD_ORDER, order("o3", [])),
        record(PROD_ORDER, order("o3", [("p%d" % (i % 5), 1) for i in range(101)])),
    ],
    "order_overflow": [
        record(PROD_ORDER, order("o4", [("p3", 4)])),  # 4 x (max/4) still fits in int64
        record(PROD_ORDER, order("o5", [("p3", 5)])),  # over int64
        record(PROD_ORDER, order("o6", [("p4", 1), ("p1", 1)])),  # over int64 on line 1
        record(PROD_ORDER, order("o7", [("p4", 1), ("p0", 1000)])),  # free line: fits
    ],
    # Too many lines is refused before the order id is looked at.
    "order_101_lines_bad_order_id": [
        record(PROD_ORDER, order("", [("p%d" % (i % 5), 1) for i in range(101)]))
    ],
    "order_not_utf8": [record(PROD_ORDER, field_bytes(1, b"o\xc0\x80"))],
}


def write(directory, scenarios):
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    for name, records in scenarios.items():
        (directory / name).write_bytes(b"".join(records))


def main():
    write(HERE / "corpus" / "inventory", INVENTORY)
    write(HERE / "corpus" / "product", PRODUCT)
    for name in ("inventory", "product"):
        print("fuzz/corpus/%s: %d files" % (name, len(os.listdir(HERE / "corpus" / name))))


if __name__ == "__main__":
    main()
