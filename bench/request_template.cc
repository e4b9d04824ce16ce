#include "bench/request_template.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace bench {

namespace {

// Quoted strings ("a" "b\"c"), separated by spaces; false if malformed.
bool ParseQuoted(absl::string_view args, std::vector<std::string>* out) {
  while (true) {
    args = absl::StripLeadingAsciiWhitespace(args);
    if (args.empty()) return true;
    if (args.front() != '"') return false;
    args.remove_prefix(1);
    std::string value;
    bool closed = false;
    while (!args.empty()) {
      const char c = args.front();
      args.remove_prefix(1);
      if (c == '"') {
        closed = true;
        break;
      }
      if (c == '\\') {
        if (args.empty()) return false;
        value.push_back(args.front());
        args.remove_prefix(1);
        continue;
      }
      value.push_back(c);
    }
    if (!closed) return false;
    out->push_back(std::move(value));
  }
}

}  // namespace

RequestTemplate::Part RequestTemplate::Literal(absl::string_view text) {
  Part part;
  part.text = std::string(text);
  return part;
}

absl::StatusOr<RequestTemplate> RequestTemplate::Parse(absl::string_view text) {
  RequestTemplate out;
  while (!text.empty()) {
    const std::size_t open = text.find("{{");
    if (open == absl::string_view::npos) {
      out.parts_.push_back(Literal(text));
      break;
    }
    if (open > 0) out.parts_.push_back(Literal(text.substr(0, open)));
    // The action ends at the first "}}" outside a quoted string.
    std::size_t close = absl::string_view::npos;
    bool quoted = false;
    for (std::size_t i = open + 2; i + 1 < text.size(); ++i) {
      if (quoted) {
        if (text[i] == '\\') {
          ++i;
        } else if (text[i] == '"') {
          quoted = false;
        }
      } else if (text[i] == '"') {
        quoted = true;
      } else if (text[i] == '}' && text[i + 1] == '}') {
        close = i;
        break;
      }
    }
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("template: '{{' at offset ", open, " is not closed by '}}'"));
    }
    const absl::string_view action =
        absl::StripAsciiWhitespace(text.substr(open + 2, close - open - 2));
    text.remove_prefix(close + 2);
    Part part;
    absl::string_view args = action;
    const std::size_t space = action.find_first_of(" \t");
    const absl::string_view name = action.substr(0, space);
    args = space == absl::string_view::npos ? absl::string_view() : action.substr(space + 1);
    const bool no_args = absl::StripAsciiWhitespace(args).empty();
    if (name == ".RequestNumber" && no_args) {
      part.kind = Kind::kRequestNumber;
    } else if (name == ".FullyQualifiedName" && no_args) {
      part.kind = Kind::kFullyQualifiedName;
    } else if (name == ".MethodName" && no_args) {
      part.kind = Kind::kMethodName;
    } else if (name == ".ServiceName" && no_args) {
      part.kind = Kind::kServiceName;
    } else if (name == ".InputName" && no_args) {
      part.kind = Kind::kInputName;
    } else if (name == ".OutputName" && no_args) {
      part.kind = Kind::kOutputName;
    } else if (name == "randomInt") {
      part.kind = Kind::kRandomInt;
      std::vector<absl::string_view> numbers =
          absl::StrSplit(absl::StripAsciiWhitespace(args), ' ', absl::SkipWhitespace());
      if (numbers.size() != 2 || !absl::SimpleAtoi(numbers[0], &part.low) ||
          !absl::SimpleAtoi(numbers[1], &part.high) || part.low >= part.high) {
        return absl::InvalidArgumentError(
            absl::StrCat("template: {{", action, "}}: randomInt takes two integers MIN < MAX"));
      }
    } else if (name == "randomPick") {
      part.kind = Kind::kRandomPick;
      if (!ParseQuoted(args, &part.choices) || part.choices.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "template: {{", action, "}}: randomPick takes one or more quoted strings"));
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "template: unknown action {{", action,
          "}}; supported: .RequestNumber, .FullyQualifiedName, .MethodName, .ServiceName, "
          ".InputName, .OutputName, randomInt MIN MAX, randomPick \"a\" \"b\" ..."));
    }
    out.has_actions_ = true;
    if (part.kind == Kind::kRequestNumber || part.kind == Kind::kRandomInt ||
        part.kind == Kind::kRandomPick) {
      out.varies_ = true;
    }
    out.parts_.push_back(std::move(part));
  }
  return out;
}

std::string RequestTemplate::Render(const TemplateContext& context, std::mt19937_64& rng) const {
  std::string out;
  for (const Part& part : parts_) {
    switch (part.kind) {
      case Kind::kLiteral:
        out += part.text;
        break;
      case Kind::kRequestNumber:
        absl::StrAppend(&out, context.request_number);
        break;
      case Kind::kFullyQualifiedName:
        absl::StrAppend(&out, context.service, ".", context.method);
        break;
      case Kind::kMethodName:
        out += context.method;
        break;
      case Kind::kServiceName:
        out += context.service;
        break;
      case Kind::kInputName:
        out += context.input_type;
        break;
      case Kind::kOutputName:
        out += context.output_type;
        break;
      case Kind::kRandomInt:
        absl::StrAppend(&out,
                        std::uniform_int_distribution<std::int64_t>(part.low, part.high - 1)(rng));
        break;
      case Kind::kRandomPick:
        out += part.choices[std::uniform_int_distribution<std::size_t>(
            0, part.choices.size() - 1)(rng)];
        break;
    }
  }
  return out;
}

}  // namespace bench
