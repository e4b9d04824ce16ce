#include "server/host/authorization.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "metrics/grpc_prometheus.h"

namespace server::host {
namespace {

constexpr std::size_t kMinTokenLength = 16;
constexpr absl::string_view kBearer = "bearer ";

// Whether `candidate` is `token`, in a time that depends on token's length
// only: CRYPTO_memcmp runs over token.size() bytes whether or not the
// lengths match (against token itself when they do not), so neither the
// content nor the candidate's length shows in the timing. A digest would do
// the same at about twenty times the cost per call (docs/performance.md).
bool TokenEquals(absl::string_view token, absl::string_view candidate) {
  const bool same_size = candidate.size() == token.size();
  const absl::string_view compared = same_size ? candidate : token;
  const bool same_bytes = CRYPTO_memcmp(compared.data(), token.data(), token.size()) == 0;
  return same_size & same_bytes;
}

absl::StatusOr<std::string> ReadToken(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("--admin_token_file=", path, ": cannot read: ", std::strerror(errno)));
  }
  std::string line;
  std::getline(in, line);
  absl::string_view token = absl::StripAsciiWhitespace(line);
  if (token.size() < kMinTokenLength) {
    return absl::InvalidArgumentError(absl::StrCat("--admin_token_file=", path,
                                                   ": the token (its first line) must have at "
                                                   "least ",
                                                   kMinTokenLength, " characters"));
  }
  if (std::any_of(token.begin(), token.end(), [](char c) {
        return absl::ascii_isspace(static_cast<unsigned char>(c)) ||
               !absl::ascii_isprint(static_cast<unsigned char>(c));
      })) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--admin_token_file=", path, ": the token must be printable ASCII without spaces"));
  }
  return std::string(token);
}

// A list of client certificate names: needs mTLS, which verifies them.
absl::Status ValidateIdentities(const std::vector<std::string>& identities, absl::string_view flag,
                                bool mtls) {
  if (!identities.empty() && !mtls) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag,
                     " names client certificates, which only mTLS verifies: give "
                     "--tls_client_ca (with --tls_cert and --tls_key) too"));
  }
  for (const std::string& identity : identities) {
    if (identity.empty()) return absl::InvalidArgumentError(absl::StrCat(flag, ": an empty name"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateAuthorizationOptions(const AuthorizationOptions& options, bool mtls) {
  if (options.allow_unauthenticated_admin &&
      (!options.admin_identities.empty() || !options.admin_token_file.empty())) {
    return absl::InvalidArgumentError(
        "--allow_unauthenticated_admin lets every caller in: it excludes --admin_identities and "
        "--admin_token_file");
  }
  for (const auto& [identities, flag] :
       {std::pair{&options.admin_identities, "--admin_identities"},
        std::pair{&options.order_identities, "--order_identities"}}) {
    if (absl::Status valid = ValidateIdentities(*identities, flag, mtls); !valid.ok()) {
      return valid;
    }
  }
  if (!options.admin_token_file.empty()) {
    absl::StatusOr<std::string> token = ReadToken(options.admin_token_file);
    if (!token.ok()) return token.status();
  }
  return absl::OkStatus();
}

// What a guarded method needs: an admin, or an identity that may order.
struct Authorization::Role {
  std::string needs;            // "an admin", for messages
  std::string identities_flag;  // the flag that lists its identities
  const absl::flat_hash_set<std::string>* identities = nullptr;
  bool admin = false;  // the admin role: its switches, and the bearer token
};

// The check of one guarded method, with its denial counters resolved once.
class Authorization::MethodCheck final : public engine::MethodAuthorizer {
 public:
  MethodCheck(const Authorization& policy, const Role& role, std::string method,
              prometheus::Counter* unauthenticated, prometheus::Counter* denied)
      : policy_(policy),
        role_(role),
        method_(std::move(method)),
        unauthenticated_(unauthenticated),
        denied_(denied) {}

  absl::Status Authorize(grpc::ServerContext& context, std::string* principal) const override {
    const AuthorizationOptions& options = policy_.options_;
    if (role_.admin) {
      if (!options.admin_enabled) {
        return Deny(absl::PermissionDeniedError(
            absl::StrCat(method_, " is turned off on this server (--admin_set_stock=false)")));
      }
      if (options.allow_unauthenticated_admin) return absl::OkStatus();
    }

    // A listed client certificate first: it needs no metadata, whose map
    // gRPC builds on first use. Without mTLS there is none to look for (and
    // the auth context is not built either).
    std::shared_ptr<const grpc::AuthContext> auth;
    if (policy_.mtls_) auth = context.auth_context();
    const bool verified_peer = auth != nullptr && auth->IsPeerAuthenticated();
    std::vector<grpc::string_ref> sans;
    if (verified_peer) {
      sans = auth->FindPropertyValues(GRPC_X509_SAN_PROPERTY_NAME);
      for (const grpc::string_ref& name : sans) {
        // A look-up by string_view (the set's hash is transparent): no copy
        // of the name unless it is let in.
        const absl::string_view text(name.data(), name.size());
        if (role_.identities->contains(text)) {
          principal->assign(text.data(), text.size());
          return absl::OkStatus();
        }
      }
    }
    // Then, for an admin method, the bearer token.
    if (role_.admin) {
      const auto& metadata = context.client_metadata();
      if (auto header = metadata.find("authorization"); header != metadata.end()) {
        return CheckToken(absl::string_view(header->second.data(), header->second.size()),
                          principal);
      }
    }

    if (verified_peer) {
      std::vector<std::string> names;
      names.reserve(sans.size());
      for (const grpc::string_ref& name : sans) names.emplace_back(name.data(), name.size());
      return Deny(absl::PermissionDeniedError(
          absl::StrCat(method_, " needs ", role_.needs, ": the client certificate (",
                       names.empty() ? "no subject alternative name" : absl::StrJoin(names, ", "),
                       ") is not one of ", role_.identities_flag)));
    }
    if (role_.admin) {
      return Deny(absl::UnauthenticatedError(absl::StrCat(
          method_,
          " needs an admin credential: a client certificate named in --admin_identities (mTLS), "
          "or 'authorization: Bearer TOKEN' metadata with the token of --admin_token_file")));
    }
    return Deny(absl::UnauthenticatedError(absl::StrCat(method_, " needs ", role_.needs,
                                                        ": a client certificate (mTLS) named in ",
                                                        role_.identities_flag)));
  }

 private:
  absl::Status CheckToken(absl::string_view value, std::string* principal) const {
    if (value.size() <= kBearer.size() || !absl::StartsWithIgnoreCase(value, kBearer)) {
      return Deny(absl::UnauthenticatedError(
          "the authorization metadata is not of the form 'Bearer TOKEN'"));
    }
    if (!policy_.has_token_) {
      return Deny(absl::UnauthenticatedError(
          "this server accepts no bearer token (no --admin_token_file)"));
    }
    if (!TokenEquals(policy_.token_, absl::StripAsciiWhitespace(value.substr(kBearer.size())))) {
      return Deny(absl::UnauthenticatedError("the bearer token is not the admin token"));
    }
    *principal = kTokenPrincipal;
    return absl::OkStatus();
  }

  absl::Status Deny(absl::Status status) const {
    prometheus::Counter* counter =
        status.code() == absl::StatusCode::kUnauthenticated ? unauthenticated_ : denied_;
    if (counter != nullptr) counter->Increment();
    return status;
  }

  const Authorization& policy_;
  const Role& role_;
  const std::string method_;
  prometheus::Counter* const unauthenticated_;
  prometheus::Counter* const denied_;
};

Authorization::Authorization(AuthorizationOptions options, prometheus::Registry* registry)
    : options_(std::move(options)),
      identities_(options_.admin_identities.begin(), options_.admin_identities.end()),
      order_identities_(options_.order_identities.begin(), options_.order_identities.end()),
      admin_role_(std::make_unique<Role>(
          Role{"an admin", "--admin_identities", &identities_, /*admin=*/true})),
      order_role_(std::make_unique<Role>(Role{"an identity allowed to place orders",
                                              "--order_identities", &order_identities_,
                                              /*admin=*/false})) {
  if (registry != nullptr && (!options_.admin_methods.empty() || ordering_checked())) {
    denied_family_ = &prometheus::BuildCounter()
                          .Name("grpc_server_authz_denied_total")
                          .Help("Calls refused by authorization before their handler, by code.")
                          .Register(*registry);
  }
}

Authorization::~Authorization() = default;

absl::Status Authorization::Load(bool mtls) {
  if (absl::Status valid = ValidateAuthorizationOptions(options_, mtls); !valid.ok()) return valid;
  mtls_ = mtls;
  if (!options_.admin_token_file.empty()) {
    absl::StatusOr<std::string> token = ReadToken(options_.admin_token_file);
    if (!token.ok()) return token.status();
    token_ = *std::move(token);
    has_token_ = true;
  }
  return absl::OkStatus();
}

const engine::MethodAuthorizer* Authorization::ForMethod(const std::string& full_method) {
  auto listed = [&](const std::vector<std::string>& methods) {
    return std::find(methods.begin(), methods.end(), full_method) != methods.end();
  };
  const Role* role = nullptr;
  if (listed(options_.admin_methods)) {
    role = admin_role_.get();
  } else if (ordering_checked() && listed(options_.order_methods)) {
    role = order_role_.get();
  } else {
    return nullptr;
  }
  prometheus::Counter* unauthenticated = nullptr;
  prometheus::Counter* denied = nullptr;
  if (denied_family_ != nullptr) {
    const std::size_t slash = full_method.find('/');
    const std::string service = full_method.substr(0, slash);
    const std::string method = slash == std::string::npos ? "" : full_method.substr(slash + 1);
    for (auto [code, counter] : {std::pair{grpc::StatusCode::UNAUTHENTICATED, &unauthenticated},
                                 std::pair{grpc::StatusCode::PERMISSION_DENIED, &denied}}) {
      *counter = &denied_family_->Add({{"grpc_service", service},
                                       {"grpc_method", method},
                                       {"grpc_code", metrics::GoCodeName(code)}});
    }
  }
  checks_.push_back(
      std::make_unique<MethodCheck>(*this, *role, full_method, unauthenticated, denied));
  return checks_.back().get();
}

std::string Authorization::Describe(bool plaintext) const {
  if (options_.admin_methods.empty()) return "";
  const std::string methods = absl::StrJoin(options_.admin_methods, ", ");
  if (!options_.admin_enabled) return absl::StrCat(methods, ": turned off for everyone");
  if (options_.allow_unauthenticated_admin) {
    return absl::StrCat(methods,
                        ": OPEN TO EVERY CALLER (--allow_unauthenticated_admin); for local "
                        "development only");
  }
  std::vector<std::string> who;
  if (!options_.admin_identities.empty()) {
    who.push_back(
        absl::StrCat("client certificates named ", absl::StrJoin(options_.admin_identities, ", ")));
  }
  if (!options_.admin_token_file.empty()) {
    who.push_back(absl::StrCat("the bearer token of ", options_.admin_token_file,
                               plaintext ? " (sent in the clear: this server has no TLS)" : ""));
  }
  if (who.empty()) {
    return absl::StrCat(methods,
                        ": no admin is configured (--admin_identities, --admin_token_file), so "
                        "every call is refused");
  }
  return absl::StrCat(methods, ": admins are ", absl::StrJoin(who, " or "));
}

std::string Authorization::DescribeOrders() const {
  if (options_.order_methods.empty()) return "";
  const std::string methods = absl::StrJoin(options_.order_methods, ", ");
  if (!ordering_checked()) {
    return absl::StrCat(methods,
                        ": open to every caller that reaches the port, and any caller may "
                        "release any order (no --order_identities)");
  }
  return absl::StrCat(methods, ": only client certificates named ",
                      absl::StrJoin(options_.order_identities, ", "),
                      "; an order is released only by the identity that reserved it");
}

}  // namespace server::host
