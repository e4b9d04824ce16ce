// Who may call the admin methods of a server (inventory_server's SetStock)
// and its order methods (ReserveStock, ReleaseReservation):
// the engine::CallAuthorizer every ServerHost installs on its engine, so the
// check runs on the engine's call path before the request is parsed or the
// handler runs (engine/call_authorizer.h), never inside a handler.
//
// A call of an admin method is let through when it carries
//   - "authorization: Bearer TOKEN" metadata with the token of
//     admin_token_file (compared with CRYPTO_memcmp over the token's length
//     whatever the presented length, so the timing shows neither), or
//   - a verified client certificate (mTLS) with a subject alternative name
//     (DNS, URI, e-mail or IP, as the certificate writes it) in
//     admin_identities.
// The certificate is checked first; a call it admits is let through whatever
// metadata it also carries. Otherwise the token decides, when there is an
// authorization header. Otherwise it is refused:
//   UNAUTHENTICATED     no credential at all, an authorization header that
//                       is not "Bearer TOKEN", or a token that is not the
//                       admin token;
//   PERMISSION_DENIED   a verified client certificate whose names are not in
//                       admin_identities; or admin methods turned off
//                       (admin_enabled = false) for everyone.
//
// A call of an order method (inventory_server's ReserveStock and
// ReleaseReservation), when order_identities is not empty, is let through
// only with a verified client certificate (mTLS) whose subject alternative
// name is in order_identities; that name becomes the call's principal
// (engine::UnaryResponder::principal()), which the service records as the
// order's owner. No certificate: UNAUTHENTICATED; another name:
// PERMISSION_DENIED. With order_identities empty, order methods are not
// checked: every caller that reaches the port may order.
//
// Every refusal is counted in grpc_server_authz_denied_total{grpc_service,
// grpc_method, grpc_code}. Methods that are not checked cost nothing per
// call.
#ifndef SERVER_HOST_AUTHORIZATION_H_
#define SERVER_HOST_AUTHORIZATION_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

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

  // The methods that place and release orders, "package.Service/Method".
  std::vector<std::string> order_methods;
  // Subject alternative names of the client certificates that may call
  // order_methods. Empty: order methods are not checked. Needs mTLS.
  std::vector<std::string> order_identities;
};

// INVALID_ARGUMENT naming the flag: admin or order identities without mTLS
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

  // engine::CallAuthorizer: the admin check for admin methods, the ordering
  // check for order methods when order_identities is set, else null.
  const engine::MethodAuthorizer* ForMethod(const std::string& full_method) override;

  // One line for the start-up log, or "" when there is no admin method.
  // `plaintext`: the server serves no TLS.
  std::string Describe(bool plaintext) const;
  bool insecure() const { return options_.allow_unauthenticated_admin; }
  // One line for the start-up log on the order methods, or "" when there are
  // none.
  std::string DescribeOrders() const;
  // Whether order methods are checked (order_identities is set).
  bool ordering_checked() const { return !options_.order_identities.empty(); }

  // The principal of a call let in by the admin bearer token.
  static constexpr const char* kTokenPrincipal = "admin-token";

 private:
  struct Role;
  class MethodCheck;

  const AuthorizationOptions options_;
  const absl::flat_hash_set<std::string> identities_;
  const absl::flat_hash_set<std::string> order_identities_;
  const std::unique_ptr<Role> admin_role_;
  const std::unique_ptr<Role> order_role_;
  prometheus::Family<prometheus::Counter>* denied_family_ = nullptr;
  bool has_token_ = false;
  // Whether the server verifies client certificates (Load's mtls): without,
  // no call has one to check.
  bool mtls_ = false;
  std::string token_;  // the admin bearer token (when has_token_)
  std::vector<std::unique_ptr<MethodCheck>> checks_;
};

}  // namespace server::host

#endif  // SERVER_HOST_AUTHORIZATION_H_
