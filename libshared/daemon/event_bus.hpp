// Delivers events to every client that registered for them, in libvirt's
// callback form (protocol.md 3.7).
#pragma once

#include "protocol/remote_types.hpp"

namespace splitvirt::rpc {
class Server;
}

namespace splitvirt::daemon {

class EventBus {
 public:
  void attach(rpc::Server* server) { server_ = server; }
  void domainLifecycle(const protocol::NonnullDomain& dom, int event, int detail);
  void domainReboot(const protocol::NonnullDomain& dom);

 private:
  rpc::Server* server_ = nullptr;
};

}  // namespace splitvirt::daemon
