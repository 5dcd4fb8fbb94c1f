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
  // Storage pool events: lifecycle (0 DEFINED, 1 UNDEFINED, 2 STARTED,
  // 3 STOPPED, 4 CREATED, 5 DELETED) and refresh.
  void poolLifecycle(const protocol::NonnullStoragePool& pool, int event, int detail);
  void poolRefresh(const protocol::NonnullStoragePool& pool);

 private:
  // Sends msg (already encoded after the callbackID) to every client
  // registered for eventId on this domain.
  void deliver(int eventId, int proc, const protocol::NonnullDomain& dom,
               std::function<std::string(int callbackId)> encode);
  void deliverPool(int eventId, int proc, const protocol::Uuid& uuid,
                   std::function<std::string(int callbackId)> encode);

 public:

 private:
  rpc::Server* server_ = nullptr;
};

}  // namespace splitvirt::daemon
