// Template values in the load tool's --data, in the style of ghz (which uses
// Go's text/template): the request text holds actions between {{ and }},
// replaced before the text is parsed as JSON. Rendering happens before the
// run only: the tool renders a bounded ring of requests, serializes each
// once, and the hot path sends those bytes as it sends any other request.
//
// Supported actions (anything else is an error naming the action):
//   {{.RequestNumber}}        the request's index in the ring, 0..N-1
//   {{.FullyQualifiedName}}   package.Service.Method
//   {{.MethodName}}           Method
//   {{.ServiceName}}          package.Service
//   {{.InputName}}            the request type's full name
//   {{.OutputName}}           the response type's full name
//   {{randomInt MIN MAX}}     a uniform integer in [MIN, MAX) (ghz's rule)
//   {{randomPick "a" "b" ..}} one of the quoted strings, uniformly (\" and
//                             \\ escape inside them); the quotes are plain
//                             '"', not escaped for JSON: the action is
//                             replaced before the text is parsed
// Spaces inside the braces are ignored. The values are inserted as they
// are: quoting them for JSON is the template's business (write
// "{{randomPick "a" "b"}}" inside a JSON string, a number action outside
// one).
#ifndef BENCH_REQUEST_TEMPLATE_H_
#define BENCH_REQUEST_TEMPLATE_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bench {

// The values a template may name.
struct TemplateContext {
  std::uint64_t request_number = 0;
  std::string service;      // package.Service
  std::string method;       // Method
  std::string input_type;   // package.Request
  std::string output_type;  // package.Response
};

class RequestTemplate {
 public:
  // Parses `text`. INVALID_ARGUMENT for an unclosed {{, an unknown action,
  // or bad arguments (randomInt needs two integers MIN < MAX, randomPick at
  // least one quoted string).
  static absl::StatusOr<RequestTemplate> Parse(absl::string_view text);

  // True if the text holds at least one action (else Render returns it
  // unchanged).
  bool has_actions() const { return has_actions_; }
  // True if Render depends on the random generator or the request number
  // (not only on the method's names).
  bool varies() const { return varies_; }

  // The text with every action replaced. Draws from `rng` for the random
  // actions, in the order they appear.
  std::string Render(const TemplateContext& context, std::mt19937_64& rng) const;

 private:
  enum class Kind {
    kLiteral,
    kRequestNumber,
    kFullyQualifiedName,
    kMethodName,
    kServiceName,
    kInputName,
    kOutputName,
    kRandomInt,
    kRandomPick
  };
  struct Part {
    Kind kind = Kind::kLiteral;
    std::string text;                  // kLiteral
    std::int64_t low = 0, high = 0;    // kRandomInt: [low, high)
    std::vector<std::string> choices;  // kRandomPick
  };
  static Part Literal(absl::string_view text);

  std::vector<Part> parts_;
  bool has_actions_ = false;
  bool varies_ = false;
};

}  // namespace bench

#endif  // BENCH_REQUEST_TEMPLATE_H_
