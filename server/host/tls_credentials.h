// TLS for every binary of the project, in one place: the servers'
// credentials (TLS, or mTLS with a client CA) and the clients' (a CA to
// trust, an optional client certificate, an optional server name). Both are
// gRPC's own: grpc::experimental::TlsServerCredentials and TlsCredentials
// over a grpc::experimental::FileWatcherCertificateProvider, which re-reads
// the files every refresh interval, so a renewed certificate and key on disk
// are served to (or presented on) new connections without a restart.
// Connections already open keep the certificate they were made with.
//
// The files are checked once before anything is built (readable, PEM, the
// key matches the certificate), so a mistake stops a binary at start with a
// message naming the file. A later bad rotation (a half-written file, a key
// that does not match) is logged by gRPC and the last good pair stays in use.
#ifndef SERVER_HOST_TLS_CREDENTIALS_H_
#define SERVER_HOST_TLS_CREDENTIALS_H_

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace server::host {

// How often the certificate files are re-read unless told otherwise.
inline constexpr absl::Duration kDefaultTlsRefreshInterval = absl::Seconds(60);

struct ServerTlsOptions {
  // PEM certificate chain (leaf first) and its PEM private key. Both or
  // neither: neither serves plaintext.
  std::string cert_file;
  std::string key_file;
  // PEM CA certificates. Non-empty: every client must present a certificate
  // that chains to one of them (mTLS); a client without one, or with one
  // from another CA, fails the handshake. Needs cert_file and key_file.
  std::string client_ca_file;
  // How often the files above are re-read (whole seconds, at least 1s).
  absl::Duration refresh_interval = kDefaultTlsRefreshInterval;

  bool enabled() const {
    return !cert_file.empty() || !key_file.empty() || !client_ca_file.empty();
  }
};

// OK for plaintext (nothing set) or for files that are usable now.
// INVALID_ARGUMENT naming the flag and the file otherwise: a certificate
// without a key (or the reverse), a client CA without a certificate, a file
// that cannot be read, holds no PEM certificate or key, or a key that does
// not match its certificate; or a refresh interval below 1s.
absl::Status ValidateServerTlsOptions(const ServerTlsOptions& options);

// Validates, then returns TlsServerCredentials over a file watcher, or
// grpc::InsecureServerCredentials() when !options.enabled().
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsOptions& options);

// One line for the start-up log: "plaintext", "TLS (cert ...)" or
// "mTLS (cert ..., client CA ...)".
std::string DescribeServerTls(const ServerTlsOptions& options);

// True for addresses only this machine can reach: 127.0.0.0/8, [::1],
// localhost, unix: sockets. Anything else (0.0.0.0, [::], a name, a
// routable IP) is reachable from the network.
bool IsLoopbackListenAddress(absl::string_view listen_address);

struct ChannelTlsOptions {
  // false: plaintext (every other field must then be empty).
  bool enabled = false;
  // PEM CA certificates to trust for the server's certificate. Empty: the
  // system's roots (read once; only a CA file is watched).
  std::string ca_file;
  // The client certificate chain and key to present (mTLS): both or
  // neither.
  std::string cert_file;
  std::string key_file;
  // The name the server's certificate must carry, instead of the host of
  // the target (e.g. dialing 10.0.0.7:50051 and expecting "inventory").
  std::string server_name;
  // With ca_file: how often the files are re-read (whole seconds, >= 1s).
  absl::Duration refresh_interval = kDefaultTlsRefreshInterval;
  // The flag names a message uses for the fields above, in this order:
  // ca_file, cert_file, key_file, server_name (binaries name them
  // differently).
  std::string ca_flag = "ca_file";
  std::string cert_flag = "cert_file";
  std::string key_flag = "key_file";
  std::string server_name_flag = "server_name";
};

// As ValidateServerTlsOptions, for a client: INVALID_ARGUMENT naming the
// flag and file. A file set while enabled is false is an error too (the
// user meant TLS).
absl::Status ValidateChannelTlsOptions(const ChannelTlsOptions& options);

// Validates, then returns TLS credentials that verify the server's
// certificate chain and its name (the target's host, or server_name), or
// grpc::InsecureChannelCredentials() when !options.enabled.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ChannelTlsOptions& options);

// Adds what the channel needs besides its credentials (the server name
// override) to `args`. A no-op without TLS or server_name.
void ApplyChannelTlsArguments(const ChannelTlsOptions& options, grpc::ChannelArguments& args);

// Keeps OpenSSL's global state alive until the process is gone: call it
// first thing in main, before any thread exists. gRPC 1.51 never joins its
// own threads, so one of them can still be starting a TLS handshake (a
// subchannel reconnecting after a failed connect) while exit() runs, and
// OpenSSL's atexit cleanup would free the locks under it: a rare SIGSEGV at
// exit (seen under ASan as a hang). The memory stays reachable until the
// kernel reclaims it; nothing is reported as leaked. Returns false if
// OpenSSL refused (it was initialized before without the option).
bool KeepOpenSslThroughExit();

}  // namespace server::host

#endif  // SERVER_HOST_TLS_CREDENTIALS_H_
