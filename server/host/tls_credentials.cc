#include "server/host/tls_credentials.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace server::host {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* x509) const { X509_free(x509); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using UniqueBio = std::unique_ptr<BIO, BioFree>;
using UniqueX509 = std::unique_ptr<X509, X509Free>;
using UniquePkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

absl::Status Invalid(absl::string_view flag, absl::string_view file, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, "=", file, ": ", why));
}

absl::StatusOr<std::string> ReadFile(absl::string_view flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Invalid(flag, path, absl::StrCat("cannot read: ", std::strerror(errno)));
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return Invalid(flag, path, "cannot read");
  if (contents.str().empty()) return Invalid(flag, path, "the file is empty");
  return contents.str();
}

UniqueBio MemoryBio(const std::string& pem) {
  return UniqueBio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The first certificate of a PEM file (the leaf of a chain).
absl::StatusOr<UniqueX509> ReadCertificate(absl::string_view flag, const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFile(flag, path);
  if (!pem.ok()) return pem.status();
  UniqueBio bio = MemoryBio(*pem);
  UniqueX509 cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (cert == nullptr) return Invalid(flag, path, "no PEM certificate in it");
  return cert;
}

absl::StatusOr<UniquePkey> ReadPrivateKey(absl::string_view flag, const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFile(flag, path);
  if (!pem.ok()) return pem.status();
  UniqueBio bio = MemoryBio(*pem);
  UniquePkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    return Invalid(flag, path, "no unencrypted PEM private key in it");
  }
  return key;
}

// Both files readable, PEM, and the key is the certificate's.
absl::Status CheckKeyPair(absl::string_view cert_flag, const std::string& cert_file,
                          absl::string_view key_flag, const std::string& key_file) {
  if (cert_file.empty() != key_file.empty()) {
    return cert_file.empty() ? absl::InvalidArgumentError(absl::StrCat(
                                   "--", key_flag, "=", key_file, " needs --", cert_flag, " too"))
                             : absl::InvalidArgumentError(absl::StrCat(
                                   "--", cert_flag, "=", cert_file, " needs --", key_flag, " too"));
  }
  if (cert_file.empty()) return absl::OkStatus();
  absl::StatusOr<UniqueX509> cert = ReadCertificate(cert_flag, cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<UniquePkey> key = ReadPrivateKey(key_flag, key_file);
  if (!key.ok()) return key.status();
  const int matches = X509_check_private_key(cert->get(), key->get());
  ERR_clear_error();
  if (matches != 1) {
    return Invalid(key_flag, key_file,
                   absl::StrCat("is not the private key of --", cert_flag, "=", cert_file));
  }
  return absl::OkStatus();
}

absl::Status CheckRefresh(absl::string_view flag, absl::Duration interval) {
  if (interval < absl::Seconds(1) || interval > absl::Hours(24 * 365)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag, " must be between 1s and 8760h, got ", absl::FormatDuration(interval)));
  }
  return absl::OkStatus();
}

unsigned int RefreshSeconds(absl::Duration interval) {
  return static_cast<unsigned int>(absl::ToInt64Seconds(interval));
}

}  // namespace

absl::Status ValidateServerTlsOptions(const ServerTlsOptions& options) {
  if (!options.enabled()) return absl::OkStatus();
  if (absl::Status status = CheckRefresh("tls_refresh_interval", options.refresh_interval);
      !status.ok()) {
    return status;
  }
  if (options.cert_file.empty() && options.key_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--tls_client_ca=", options.client_ca_file,
                                                   " needs --tls_cert and --tls_key too"));
  }
  if (absl::Status status =
          CheckKeyPair("tls_cert", options.cert_file, "tls_key", options.key_file);
      !status.ok()) {
    return status;
  }
  if (!options.client_ca_file.empty()) {
    absl::StatusOr<UniqueX509> ca = ReadCertificate("tls_client_ca", options.client_ca_file);
    if (!ca.ok()) return ca.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsOptions& options) {
  if (!options.enabled()) return grpc::InsecureServerCredentials();
  if (absl::Status valid = ValidateServerTlsOptions(options); !valid.ok()) return valid;
  const bool mtls = !options.client_ca_file.empty();
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      options.key_file, options.cert_file, options.client_ca_file,
      RefreshSeconds(options.refresh_interval));
  grpc::experimental::TlsServerCredentialsOptions tls(provider);
  tls.watch_identity_key_cert_pairs();
  if (mtls) {
    tls.watch_root_certs();
    tls.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    tls.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::experimental::TlsServerCredentials(tls);
  if (credentials == nullptr) {
    return absl::InternalError("gRPC refused the TLS server credentials");
  }
  return credentials;
}

std::string DescribeServerTls(const ServerTlsOptions& options) {
  if (!options.enabled()) return "plaintext";
  std::string text =
      absl::StrCat(options.client_ca_file.empty() ? "TLS" : "mTLS", " (cert ", options.cert_file);
  if (!options.client_ca_file.empty()) {
    absl::StrAppend(&text, ", client certificates required, client CA ", options.client_ca_file);
  }
  absl::StrAppend(&text, ", files re-read every ", absl::FormatDuration(options.refresh_interval),
                  ")");
  return text;
}

bool IsLoopbackListenAddress(absl::string_view address) {
  if (absl::StartsWith(address, "unix:") || absl::StartsWith(address, "unix-abstract:")) {
    return true;
  }
  const std::size_t colon = address.rfind(':');
  absl::string_view host = colon == absl::string_view::npos ? address : address.substr(0, colon);
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) {
    host = host.substr(1, host.size() - 2);
  }
  const std::string lower = absl::AsciiStrToLower(host);
  return lower == "localhost" || lower == "::1" || absl::StartsWith(lower, "127.");
}

absl::Status ValidateChannelTlsOptions(const ChannelTlsOptions& options) {
  if (!options.enabled) {
    for (const auto& [flag, value] :
         {std::pair<const std::string&, const std::string&>{options.ca_flag, options.ca_file},
          {options.cert_flag, options.cert_file},
          {options.key_flag, options.key_file},
          {options.server_name_flag, options.server_name}}) {
      if (!value.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", flag, "=", value, " is a TLS setting, but TLS is off"));
      }
    }
    return absl::OkStatus();
  }
  if (!options.ca_file.empty()) {
    if (absl::Status status = CheckRefresh("refresh_interval", options.refresh_interval);
        !status.ok()) {
      return status;
    }
    absl::StatusOr<UniqueX509> ca = ReadCertificate(options.ca_flag, options.ca_file);
    if (!ca.ok()) return ca.status();
  }
  return CheckKeyPair(options.cert_flag, options.cert_file, options.key_flag, options.key_file);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ChannelTlsOptions& options) {
  if (absl::Status valid = ValidateChannelTlsOptions(options); !valid.ok()) return valid;
  if (!options.enabled) return grpc::InsecureChannelCredentials();
  const bool identity = !options.cert_file.empty();
  if (options.ca_file.empty()) {
    // The system's roots: SslCredentials finds them; the client pair is
    // read once.
    grpc::SslCredentialsOptions ssl;
    if (identity) {
      absl::StatusOr<std::string> key = ReadFile(options.key_flag, options.key_file);
      if (!key.ok()) return key.status();
      absl::StatusOr<std::string> chain = ReadFile(options.cert_flag, options.cert_file);
      if (!chain.ok()) return chain.status();
      ssl.pem_private_key = *std::move(key);
      ssl.pem_cert_chain = *std::move(chain);
    }
    return grpc::SslCredentials(ssl);
  }
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      options.key_file, options.cert_file, options.ca_file,
      RefreshSeconds(options.refresh_interval));
  grpc::experimental::TlsChannelCredentialsOptions tls;
  tls.set_certificate_provider(provider);
  tls.watch_root_certs();
  if (identity) tls.watch_identity_key_cert_pairs();
  tls.set_verify_server_certs(true);
  // Checks that the certificate names the host dialed (or server_name).
  tls.set_certificate_verifier(std::make_shared<grpc::experimental::HostNameCertificateVerifier>());
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::experimental::TlsCredentials(tls);
  if (credentials == nullptr)
    return absl::InternalError("gRPC refused the TLS channel credentials");
  return credentials;
}

void ApplyChannelTlsArguments(const ChannelTlsOptions& options, grpc::ChannelArguments& args) {
  if (options.enabled && !options.server_name.empty()) {
    args.SetSslTargetNameOverride(options.server_name);
  }
}

bool KeepOpenSslThroughExit() { return OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr) == 1; }

}  // namespace server::host
