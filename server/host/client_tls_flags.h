// The client TLS flags every client binary of the project shares
// (health_probe, inventory_bench), spelled as grpc_health_probe and ghz spell
// theirs:
//   --tls              connect with TLS, verifying the server's certificate
//   --tls_ca_cert      PEM CA certificates to trust (empty: the system's roots)
//   --tls_client_cert  PEM client certificate to present (mTLS)
//   --tls_client_key   its PEM private key
//   --tls_server_name  the name the server's certificate must carry
//
// Linking this library defines the flags; a binary reads them once, after
// parsing, with ChannelTlsOptionsFromFlags(). The servers' own client side
// (product_server's inventory channel) has flags of its own, named for the
// peer they reach.
#ifndef SERVER_HOST_CLIENT_TLS_FLAGS_H_
#define SERVER_HOST_CLIENT_TLS_FLAGS_H_

#include "server/host/tls_credentials.h"

namespace server::host {

// The five flags above as ChannelTlsOptions, with the flags' names for its
// messages. Not validated here: MakeChannelCredentials() checks the files
// and says which flag is wrong (a file given without --tls is an error).
ChannelTlsOptions ChannelTlsOptionsFromFlags();

}  // namespace server::host

#endif  // SERVER_HOST_CLIENT_TLS_FLAGS_H_
