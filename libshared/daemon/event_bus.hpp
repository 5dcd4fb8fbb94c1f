// Delivers events to every client that registered for them, in libvirt's
// callback form (protocol.md 3.7).
#pragma once

#include "protocol/remote_types.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>

namespace splitvirt::rpc {
class Server;
struct ConnContext;
struct ObjectEventRegistration;
}

namespace splitvirt::daemon {

class EventBus {
 public:
  void attach(rpc::Server* server) { server_ = server; }
  void domainLifecycle(const protocol::NonnullDomain& dom, int event, int detail);
  void domainReboot(const protocol::NonnullDomain& dom);
  void domainDeviceRemoved(const protocol::NonnullDomain& dom, const std::string& alias);
  void domainMetadataChange(const protocol::NonnullDomain& dom, int type, const std::optional<std::string>& nsuri);
  void domainBalloonChange(const protocol::NonnullDomain& dom, uint64_t actualKiB);
  // BLOCK_JOB (event id 8, by the disk's source path) and BLOCK_JOB_2 (16, by its target).
  void domainBlockJob(const protocol::NonnullDomain& dom, const std::string& path, const std::string& target,
                      int type, int status);
  // Storage pool events: lifecycle (0 DEFINED, 1 UNDEFINED, 2 STARTED,
  // 3 STOPPED, 4 CREATED, 5 DELETED) and refresh.
  void poolLifecycle(const protocol::NonnullStoragePool& pool, int event, int detail);
  void poolRefresh(const protocol::NonnullStoragePool& pool);
  // Network lifecycle: 0 DEFINED, 1 UNDEFINED, 2 STARTED, 3 STOPPED.
  void networkLifecycle(const protocol::NonnullNetwork& net, int event, int detail);

 private:
  // Sends msg (already encoded after the callbackID) to every client
  // registered for eventId on this domain.
  void deliver(int eventId, int proc, const protocol::NonnullDomain& dom,
               std::function<std::string(int callbackId)> encode);
  // Storage pool and network registrations share one shape.
  void deliverObject(std::map<int, rpc::ObjectEventRegistration> rpc::ConnContext::*registrations, int eventId,
                     int proc, const protocol::Uuid& uuid, std::function<std::string(int callbackId)> encode);

 private:
  rpc::Server* server_ = nullptr;
};

}  // namespace splitvirt::daemon
