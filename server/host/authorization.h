// Who may call the admin methods of a server (inventory_server's SetStock):
// the engine::CallAuthorizer every ServerHost installs on its engine, so the
// check runs on the engine's call path before the request is parsed or the
// handler runs (engine/call_authorizer.h), never inside a handler.
//
// A call of an admin method is let through when it carries
//   - "authorization: Bearer TOKEN" metadata with the token of
//     admin_token_file (compared as SHA-256 digests with CRYPTO_memcmp, so in
//     constant time whatever the length), or
//   - a verified client certificate (mTLS) with a subject alternative name
//     (DNS, URI, e-mail or IP, as the certificate writes it) in
//     admin_identities.
// Otherwise it is refused:
//   UNAUTHENTICATED     no credential at all, an authorization header that
//                       is not "Bearer TOKEN", or a token that is not the
//                       admin token;
//   PERMISSION_DENIED   a verified client certificate whose names are not in
//                       admin_identities; or admin methods turned off
//                       (admin_enabled = false) for everyone.
// Every refusal is counted in grpc_server_authz_denied_total{grpc_service,
// grpc_method, grpc_code}. Methods that are not admin methods are not
// checked and cost nothing per call.
#ifndef SERVER_HOST_AUTHORIZATION_H_
#define SERVER_HOST_AUTHORIZATION_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/call_authorizer.h"

namespace server::host {

struct AuthorizationOptions {
  // The methods that need an admin, "package.Service/Method". Empty: no
  // method is checked.
  std::vector<std::string> admin_methods;
  // false: every call of an admin method is refused (PERMISSION_DENIED).
  bool admin_enabled = true;
  // Subject alternative names of client certificates that are admins. Only
  // meaningful with mTLS (ServerTlsOptions::client_ca_file), which verifies
  // the certificate.
  std::vector<std::string> admin_identities;
  // A file whose first line is the admin bearer token (at least 16
  // characters, no whitespace). Empty: no token is accepted.
  std::string admin_token_file;
  // The insecure mode for local development: every caller is an admin.
  // Excludes admin_identities and admin_token_file.
  bool allow_unauthenticated_admin = false;
};

// INVALID_ARGUMENT naming the flag: identities without mTLS
// (`mtls` = ServerTlsOptions::client_ca_file is set), an unreadable or bad
// token file, or the insecure mode together with a credential.
absl::Status ValidateAuthorizationOptions(const AuthorizationOptions& options, bool mtls);

class Authorization : public engine::CallAuthorizer {
 public:
  // `registry` (not owned, may be null) gets the denial counters; it must
  // outlive this object.
  Authorization(AuthorizationOptions options, prometheus::Registry* registry);
  ~Authorization() override;

  // Reads the token file; INVALID_ARGUMENT as ValidateAuthorizationOptions.
  // Before the engine starts.
  absl::Status Load(bool mtls);

  // engine::CallAuthorizer: the admin check for admin methods, else null.
  const engine::MethodAuthorizer* ForMethod(const std::string& full_method) override;

  // One line for the start-up log, or "" when there is no admin method.
  // `plaintext`: the server serves no TLS.
  std::string Describe(bool plaintext) const;
  bool insecure() const { return options_.allow_unauthenticated_admin; }

  static constexpr int kDigestBytes = 32;  // SHA-256

 private:
  class AdminCheck;

  const AuthorizationOptions options_;
  const absl::flat_hash_set<std::string> identities_;
  prometheus::Family<prometheus::Counter>* denied_family_ = nullptr;
  bool has_token_ = false;
  std::array<unsigned char, kDigestBytes> token_digest_{};
  std::vector<std::unique_ptr<AdminCheck>> checks_;
};

}  // namespace server::host

#endif  // SERVER_HOST_AUTHORIZATION_H_
