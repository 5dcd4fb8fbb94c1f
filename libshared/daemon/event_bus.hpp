// Delivers events to every client that registered for them, in libvirt's
// callback form (protocol.md 3.7).
#pragma once

#include "protocol/remote_types.hpp"

#include <functional>
#include <string>

namespace splitvirt::rpc {
class Server;
}

namespace splitvirt::daemon {

class EventBus {
 public:
  void attach(rpc::Server* server) { server_ = server; }
  void domainLifecycle(const protocol::NonnullDomain& dom, int event, int detail);
  void domainReboot(const protocol::NonnullDomain& dom);
  void domainDeviceRemoved(const protocol::NonnullDomain& dom, const std::string& alias);

 private:
  // Sends msg (already encoded after the callbackID) to every client
  // registered for eventId on this domain.
  void deliver(int eventId, int proc, const protocol::NonnullDomain& dom,
               std::function<std::string(int callbackId)> encode);

 public:

 private:
  rpc::Server* server_ = nullptr;
};

}  // namespace splitvirt::daemon
