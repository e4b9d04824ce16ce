#include "bench/request_wire.h"

namespace bench::wire {

std::string IdField(absl::string_view id) {
  std::string out(LengthDelimitedSize(id.size()), '\0');
  PutLengthDelimited(out.data(), 1, id);
  return out;
}

std::string LineField(absl::string_view id, std::int32_t quantity) {
  // StockLine {1: id, 2: quantity} (quantity omitted when 0, as protobuf
  // does; a negative int32 is a 10-byte varint).
  std::string line(LengthDelimitedSize(id.size()), '\0');
  PutLengthDelimited(line.data(), 1, id);
  if (quantity != 0) {
    const std::uint64_t value = static_cast<std::uint64_t>(static_cast<std::int64_t>(quantity));
    char varint[11];
    varint[0] = static_cast<char>(2 << 3 | 0);  // field 2, varint
    char* end = PutVarint(varint + 1, value);
    line.append(varint, end);
  }
  std::string out(LengthDelimitedSize(line.size()), '\0');
  PutLengthDelimited(out.data(), 2, line);
  return out;
}

}  // namespace bench::wire
