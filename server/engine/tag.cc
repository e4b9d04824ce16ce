#include "server/engine/tag.h"

namespace engine {

const char* CompletionKindName(CompletionKind kind) {
  switch (kind) {
    case CompletionKind::kOperation:
      return "operation";
    case CompletionKind::kCallDone:
      return "call-done";
    case CompletionKind::kWake:
      return "wake";
  }
  return "unknown";
}

}  // namespace engine
