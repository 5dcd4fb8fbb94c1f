// Who the proxy's client is, as the CONNECT_SET_IDENTITY arguments the
// daemons receive (protocol.md 5.4): user and group (names and ids), process
// id and start time for local clients, the certificate's DN for TLS ones.
#pragma once

#include "rpc/conn_context.hpp"
#include "rpc/packet_router.hpp"

#include <string>

namespace splitvirt::proxy {

// The encoded SetIdentityArgs.
std::string encodeClientIdentity(const rpc::ConnContext& ctx, const rpc::PeerInfo& peer);

}  // namespace splitvirt::proxy
