#include "daemon/event_bus.hpp"

#include "protocol/blockjob_procs.hpp"
#include "protocol/connect_procs.hpp"
#include "protocol/network_procs.hpp"
#include "protocol/storage_procs.hpp"
#include "rpc/server.hpp"
#include "xdr/codec.hpp"

namespace splitvirt::daemon {

void EventBus::deliver(int eventId, int proc, const protocol::NonnullDomain& dom,
                       std::function<std::string(int callbackId)> encode) {
  if (!server_) return;
  server_->forEachClient([eventId, proc, dom, encode](rpc::ConnContext& ctx) {
    std::lock_guard lk(ctx.eventsMutex);
    for (auto& [id, reg] : ctx.domainEvents) {
      if (reg.eventId != eventId) continue;
      if (reg.domainFilter && *reg.domainFilter != dom.uuid) continue;
      if (ctx.sendMessage) ctx.sendMessage(proc, encode(id));
    }
  });
}

void EventBus::deliverObject(std::map<int, rpc::ObjectEventRegistration> rpc::ConnContext::*registrations,
                             int eventId, int proc, const protocol::Uuid& uuid,
                             std::function<std::string(int callbackId)> encode) {
  if (!server_) return;
  server_->forEachClient([registrations, eventId, proc, uuid, encode](rpc::ConnContext& ctx) {
    std::lock_guard lk(ctx.eventsMutex);
    for (auto& [id, reg] : ctx.*registrations) {
      if (reg.eventId != eventId) continue;
      if (reg.objectFilter && *reg.objectFilter != uuid) continue;
      if (ctx.sendMessage) ctx.sendMessage(proc, encode(id));
    }
  });
}

void EventBus::poolLifecycle(const protocol::NonnullStoragePool& pool, int event, int detail) {
  deliverObject(&rpc::ConnContext::poolEvents, 0, protocol::kProcStoragePoolEventLifecycle, pool.uuid, [=](int id) {
    return xdr::encodeToString(protocol::PoolEventLifecycleMsg{id, pool, event, detail});
  });
}

void EventBus::poolRefresh(const protocol::NonnullStoragePool& pool) {
  deliverObject(&rpc::ConnContext::poolEvents, 1, protocol::kProcStoragePoolEventRefresh, pool.uuid, [=](int id) {
    return xdr::encodeToString(protocol::PoolEventRefreshMsg{id, pool});
  });
}

void EventBus::networkLifecycle(const protocol::NonnullNetwork& net, int event, int detail) {
  deliverObject(&rpc::ConnContext::networkEvents, 0, protocol::kProcNetworkEventLifecycle, net.uuid, [=](int id) {
    return xdr::encodeToString(protocol::NetEventLifecycleMsg{id, net, event, detail});
  });
}

void EventBus::domainLifecycle(const protocol::NonnullDomain& dom, int event, int detail) {
  deliver(0, protocol::kProcDomainEventCallbackLifecycle, dom, [=](int id) {
    return xdr::encodeToString(protocol::DomainEventCallbackLifecycleMsg{id, dom, event, detail});
  });
}

void EventBus::domainReboot(const protocol::NonnullDomain& dom) {
  deliver(1, protocol::kProcDomainEventCallbackReboot, dom, [=](int id) {
    return xdr::encodeToString(protocol::DomainEventCallbackRebootMsg{id, dom});
  });
}

void EventBus::domainDeviceRemoved(const protocol::NonnullDomain& dom, const std::string& alias) {
  deliver(15, protocol::kProcDomainEventCallbackDeviceRemoved, dom, [=](int id) {
    return xdr::encodeToString(protocol::DomainEventCallbackDeviceRemovedMsg{id, dom, alias});
  });
}

void EventBus::domainMetadataChange(const protocol::NonnullDomain& dom, int type,
                                    const std::optional<std::string>& nsuri) {
  deliver(23, protocol::kProcDomainEventCallbackMetadataChange, dom, [=](int id) {
    protocol::DomainEventCallbackMetadataChangeMsg m{id, dom, type, {}};
    if (nsuri) m.nsuri = *nsuri;
    return xdr::encodeToString(m);
  });
}

void EventBus::domainBalloonChange(const protocol::NonnullDomain& dom, uint64_t actualKiB) {
  deliver(13, protocol::kProcDomainEventCallbackBalloonChange, dom, [=](int id) {
    return xdr::encodeToString(protocol::DomainEventCallbackBalloonChangeMsg{id, {dom, actualKiB}});
  });
}

void EventBus::domainBlockJob(const protocol::NonnullDomain& dom, const std::string& path, const std::string& target,
                              int type, int status) {
  deliver(8, protocol::kProcDomainEventCallbackBlockJob, dom, [=](int id) {
    return xdr::encodeToString(protocol::DomainEventCallbackBlockJobMsg{id, {dom, path, type, status}});
  });
  deliver(16, protocol::kProcDomainEventBlockJob2, dom, [=](int id) {
    return xdr::encodeToString(protocol::DomainEventBlockJob2Msg{id, dom, target, type, status});
  });
}

}  // namespace splitvirt::daemon
