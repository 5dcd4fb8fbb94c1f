#include "daemon/event_bus.hpp"

#include "protocol/connect_procs.hpp"
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

void EventBus::deliverPool(int eventId, int proc, const protocol::Uuid& uuid,
                           std::function<std::string(int callbackId)> encode) {
  if (!server_) return;
  server_->forEachClient([eventId, proc, uuid, encode](rpc::ConnContext& ctx) {
    std::lock_guard lk(ctx.eventsMutex);
    for (auto& [id, reg] : ctx.poolEvents) {
      if (reg.eventId != eventId) continue;
      if (reg.objectFilter && *reg.objectFilter != uuid) continue;
      if (ctx.sendMessage) ctx.sendMessage(proc, encode(id));
    }
  });
}

void EventBus::poolLifecycle(const protocol::NonnullStoragePool& pool, int event, int detail) {
  deliverPool(0, protocol::kProcStoragePoolEventLifecycle, pool.uuid, [=](int id) {
    return xdr::encodeToString(protocol::PoolEventLifecycleMsg{id, pool, event, detail});
  });
}

void EventBus::poolRefresh(const protocol::NonnullStoragePool& pool) {
  deliverPool(1, protocol::kProcStoragePoolEventRefresh, pool.uuid, [=](int id) {
    return xdr::encodeToString(protocol::PoolEventRefreshMsg{id, pool});
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

}  // namespace splitvirt::daemon
