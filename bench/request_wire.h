// Protocol-buffer wire encoding of the load tool's requests, written by hand
// so that a request that changes on every call (a new order id, other ids in
// a batch) is assembled with a few memcpy from pre-encoded pieces instead of
// filling and serializing a message. Only what the requests need: varints
// and length-delimited fields. request_wire_test.cc checks every encoding
// byte for byte against protobuf's own serializer.
//
// The requests share a layout:
//   GetProductAvailabilityRequest, GetProductRequest  {1: product_id}
//   BatchGetProductAvailabilityRequest                {1: product_id}*
//   ReserveStockRequest, PlaceOrderRequest            {1: order_id, 2: line*}
//   StockLine, OrderLine                              {1: product_id, 2: quantity}
// so a product-id field ("id field") is a whole single-id request and one
// element of a batch, and a line field is one line of either order request.
#ifndef BENCH_REQUEST_WIRE_H_
#define BENCH_REQUEST_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace bench::wire {

inline std::size_t VarintSize(std::uint64_t value) {
  std::size_t size = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++size;
  }
  return size;
}

inline char* PutVarint(char* out, std::uint64_t value) {
  while (value >= 0x80) {
    *out++ = static_cast<char>(value | 0x80);
    value >>= 7;
  }
  *out++ = static_cast<char>(value);
  return out;
}

// Field number < 16 and wire type 2 (length-delimited): a one-byte tag.
inline constexpr char LengthDelimitedTag(int field) { return static_cast<char>(field << 3 | 2); }

inline std::size_t LengthDelimitedSize(std::size_t length) {
  return 1 + VarintSize(length) + length;
}

inline char* PutLengthDelimited(char* out, int field, absl::string_view bytes) {
  *out++ = LengthDelimitedTag(field);
  out = PutVarint(out, bytes.size());
  std::memcpy(out, bytes.data(), bytes.size());
  return out + bytes.size();
}

// {1: id}: a GetProductAvailabilityRequest or GetProductRequest, or one
// element of a BatchGetProductAvailabilityRequest.
std::string IdField(absl::string_view id);

// {2: {1: id, 2: quantity}}: one line of a ReserveStockRequest or
// PlaceOrderRequest.
std::string LineField(absl::string_view id, std::int32_t quantity);

// Pre-encoded fields, one per id, in one contiguous block.
class FieldTable {
 public:
  void Add(absl::string_view field) {
    offsets_.push_back(bytes_.size());
    bytes_.append(field.data(), field.size());
  }
  absl::string_view Get(std::size_t index) const {
    const std::size_t begin = offsets_[index];
    const std::size_t end = index + 1 < offsets_.size() ? offsets_[index + 1] : bytes_.size();
    return absl::string_view(bytes_).substr(begin, end - begin);
  }
  std::size_t size() const { return offsets_.size(); }

 private:
  std::string bytes_;
  std::vector<std::size_t> offsets_;
};

}  // namespace bench::wire

#endif  // BENCH_REQUEST_WIRE_H_
