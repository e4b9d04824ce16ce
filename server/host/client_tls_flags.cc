#include "server/host/client_tls_flags.h"

#include <string>

#include "absl/flags/flag.h"

ABSL_FLAG(bool, tls, false,
          "Connect with TLS, verifying the server's certificate and name. false: plaintext.");
ABSL_FLAG(std::string, tls_ca_cert, "",
          "With --tls: PEM CA certificates to verify the server with. Empty: the system's "
          "roots.");
ABSL_FLAG(std::string, tls_client_cert, "",
          "With --tls: PEM client certificate to present (mTLS); needs --tls_client_key.");
ABSL_FLAG(std::string, tls_client_key, "", "With --tls: PEM private key of --tls_client_cert.");
ABSL_FLAG(std::string, tls_server_name, "",
          "With --tls: the name the server's certificate must carry. Empty: the host of the "
          "target.");

namespace server::host {

ChannelTlsOptions ChannelTlsOptionsFromFlags() {
  ChannelTlsOptions tls;
  tls.enabled = absl::GetFlag(FLAGS_tls);
  tls.ca_file = absl::GetFlag(FLAGS_tls_ca_cert);
  tls.cert_file = absl::GetFlag(FLAGS_tls_client_cert);
  tls.key_file = absl::GetFlag(FLAGS_tls_client_key);
  tls.server_name = absl::GetFlag(FLAGS_tls_server_name);
  tls.ca_flag = "tls_ca_cert";
  tls.cert_flag = "tls_client_cert";
  tls.key_flag = "tls_client_key";
  tls.server_name_flag = "tls_server_name";
  return tls;
}

}  // namespace server::host
