#include "bench/request_data.h"

#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace bench {

namespace pb = google::protobuf;

namespace {

// gRPC's rule for metadata keys: lower-case letters, digits, '-', '_', '.'.
bool ValidKey(absl::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> SerializeJsonRequest(const pb::Descriptor& type,
                                                 absl::string_view json) {
  pb::DynamicMessageFactory factory(type.file()->pool());
  const pb::Message* prototype = factory.GetPrototype(&type);
  std::unique_ptr<pb::Message> message(prototype->New());
  pb::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = pb::util::JsonStringToMessage(std::string(json), message.get(), options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a valid ", type.full_name(), " in JSON: ", status.message().ToString()));
  }
  std::string bytes;
  if (!message->SerializeToString(&bytes)) {
    return absl::InvalidArgumentError(absl::StrCat("cannot serialize the ", type.full_name()));
  }
  return bytes;
}

namespace {

// --data's request texts: the one JSON text, or FILE's non-empty lines, each
// with its line number (0 for --data itself) for messages.
absl::StatusOr<std::vector<std::pair<int, std::string>>> RequestTexts(absl::string_view data,
                                                                      std::string* where) {
  std::vector<std::pair<int, std::string>> out;
  if (!absl::ConsumePrefix(&data, "@")) {
    *where = "--data";
    out.emplace_back(0, std::string(data));
    return out;
  }
  const std::string path(data);
  *where = absl::StrCat("--data @", path);
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("--data @", path, ": cannot open the file"));
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    out.emplace_back(number, line);
  }
  if (out.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--data @", path, " holds no request"));
  }
  return out;
}

std::string LineLabel(const std::string& where, int line) {
  return line == 0 ? where : absl::StrCat(where, " line ", line);
}

}  // namespace

absl::StatusOr<std::vector<std::string>> SerializeRequests(const pb::Descriptor& type,
                                                           absl::string_view data) {
  std::vector<std::string> out;
  if (data.empty()) {
    out.emplace_back();  // the empty message serializes to no bytes
    return out;
  }
  std::string where;
  absl::StatusOr<std::vector<std::pair<int, std::string>>> texts = RequestTexts(data, &where);
  if (!texts.ok()) return texts.status();
  for (const auto& [line, text] : *texts) {
    absl::StatusOr<std::string> one = SerializeJsonRequest(type, text);
    if (!one.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(LineLabel(where, line), ": ", one.status().message()));
    }
    out.push_back(*std::move(one));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> SerializeRequests(const pb::Descriptor& type,
                                                           absl::string_view data,
                                                           const TemplateOptions& templates) {
  if (data.empty()) return SerializeRequests(type, data);
  std::string where;
  absl::StatusOr<std::vector<std::pair<int, std::string>>> texts = RequestTexts(data, &where);
  if (!texts.ok()) return texts.status();
  std::vector<RequestTemplate> parsed;
  bool varies = false;
  for (const auto& [line, text] : *texts) {
    absl::StatusOr<RequestTemplate> one = RequestTemplate::Parse(text);
    if (!one.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(LineLabel(where, line), ": ", one.status().message()));
    }
    varies = varies || one->varies();
    parsed.push_back(*std::move(one));
  }
  const int lines = static_cast<int>(parsed.size());
  if (varies && (templates.ring < 1 || templates.ring > TemplateOptions::kMaxRing)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--data_ring must be in 1..", TemplateOptions::kMaxRing, ", got ", templates.ring));
  }
  if (varies && templates.ring < lines) {
    return absl::InvalidArgumentError(absl::StrCat("--data_ring=", templates.ring,
                                                   " is smaller than the ", lines, " requests of ",
                                                   where, ": each must be rendered at least once"));
  }
  std::mt19937_64 rng(templates.seed);
  TemplateContext context = templates.names;
  const int count = varies ? templates.ring : lines;
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(count));
  for (int k = 0; k < count; ++k) {
    const int index = k % lines;
    context.request_number = static_cast<std::uint64_t>(k);
    const std::string text = parsed[static_cast<std::size_t>(index)].Render(context, rng);
    absl::StatusOr<std::string> one = SerializeJsonRequest(type, text);
    if (!one.ok()) {
      const int line = (*texts)[static_cast<std::size_t>(index)].first;
      return absl::InvalidArgumentError(
          parsed[static_cast<std::size_t>(index)].has_actions()
              ? absl::StrCat(LineLabel(where, line), ", rendered as request ", k, " (", text,
                             "): ", one.status().message())
              : absl::StrCat(LineLabel(where, line), ": ", one.status().message()));
    }
    out.push_back(*std::move(one));
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseMetadata(
    absl::string_view metadata) {
  std::vector<std::pair<std::string, std::string>> out;
  const absl::string_view text = absl::StripAsciiWhitespace(metadata);
  if (text.empty()) return out;
  auto add = [&](absl::string_view key, absl::string_view value) -> absl::Status {
    std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(key));
    if (!ValidKey(lower)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--metadata: key '", key,
                       "' is empty or not a valid gRPC metadata key (letters, digits, "
                       "'-', '_', '.')"));
    }
    out.emplace_back(std::move(lower), std::string(absl::StripAsciiWhitespace(value)));
    return absl::OkStatus();
  };
  if (text.front() == '{') {
    pb::Struct object;
    const auto parsed = pb::util::JsonStringToMessage(std::string(text), &object);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--metadata is not a JSON object: ", parsed.message().ToString()));
    }
    // The object's entries through reflection, not Struct::fields(): that
    // map's code is inlined here but instantiated in libprotobuf too, and a
    // ThreadSanitizer build's inlined copy does not match the library's
    // (iterating it crashed the TSan pass).
    const pb::Reflection* reflection = object.GetReflection();
    const pb::FieldDescriptor* fields = object.GetDescriptor()->FindFieldByName("fields");
    for (int i = 0; i < reflection->FieldSize(object, fields); ++i) {
      const pb::Message& entry = reflection->GetRepeatedMessage(object, fields, i);
      const pb::Descriptor* entry_type = entry.GetDescriptor();
      const std::string key =
          entry.GetReflection()->GetString(entry, entry_type->FindFieldByName("key"));
      const auto* value = dynamic_cast<const pb::Value*>(
          &entry.GetReflection()->GetMessage(entry, entry_type->FindFieldByName("value")));
      if (value == nullptr || value->kind_case() != pb::Value::kStringValue) {
        return absl::InvalidArgumentError(
            absl::StrCat("--metadata: the value of '", key, "' is not a string"));
      }
      if (absl::Status added = add(key, value->string_value()); !added.ok()) return added;
    }
    return out;
  }
  for (absl::string_view pair : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    const std::size_t colon = pair.find(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--metadata: '", pair, "' is not key:value (or pass a JSON object)"));
    }
    if (absl::Status added = add(pair.substr(0, colon), pair.substr(colon + 1)); !added.ok()) {
      return added;
    }
  }
  return out;
}

}  // namespace bench
