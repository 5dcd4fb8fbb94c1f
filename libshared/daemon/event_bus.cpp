#include "daemon/event_bus.hpp"

#include "protocol/connect_procs.hpp"
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
