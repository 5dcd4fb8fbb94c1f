// Forwarding a procedure family to the sibling daemon that owns it
// (virtqemud -> virtstoraged for storage calls, protocol.md 5.4): each client
// gets its own backend connection, opened on first use with the caller's
// identity; payloads and the backend's errors pass through unchanged.
#pragma once

#include "protocol/proc_table.hpp"
#include "rpc/program.hpp"

#include <memory>
#include <string>

namespace splitvirt::rpc {
class SyncClient;
struct ConnContext;
}  // namespace splitvirt::rpc

namespace splitvirt::daemon {

struct ForwardTarget {
  protocol::Family family;
  std::string socketPath;  // e.g. <runDir>/virtstoraged-sock
  std::string uri;         // e.g. storage:///system
};

// Binds every procedure of the family that the program has no handler for
// (event callbacks through bindEventForwarding).
void bindForwarding(rpc::Program& program, const ForwardTarget& target);

// A new connection to the target daemon, opened as the caller: CONNECT_OPEN,
// then the caller's identity (CONNECT_SET_IDENTITY) so the backend can apply
// its ACLs.
Result<std::unique_ptr<rpc::SyncClient>> openBackendAs(const rpc::ConnContext& ctx, const ForwardTarget& target);

}  // namespace splitvirt::daemon
