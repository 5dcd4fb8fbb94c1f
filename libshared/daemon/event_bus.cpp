#include "daemon/event_bus.hpp"

#include "protocol/connect_procs.hpp"
#include "rpc/server.hpp"
#include "xdr/codec.hpp"

namespace splitvirt::daemon {

void EventBus::domainLifecycle(const protocol::NonnullDomain& dom, int event, int detail) {
  if (!server_) return;
  server_->forEachClient([dom, event, detail](rpc::ConnContext& ctx) {
    std::lock_guard lk(ctx.eventsMutex);
    for (auto& [id, reg] : ctx.domainEvents) {
      if (reg.eventId != 0) continue;
      if (reg.domainFilter && *reg.domainFilter != dom.uuid) continue;
      protocol::DomainEventCallbackLifecycleMsg m{id, dom, event, detail};
      if (ctx.sendMessage) ctx.sendMessage(protocol::kProcDomainEventCallbackLifecycle, xdr::encodeToString(m));
    }
  });
}

void EventBus::domainReboot(const protocol::NonnullDomain& dom) {
  if (!server_) return;
  server_->forEachClient([dom](rpc::ConnContext& ctx) {
    std::lock_guard lk(ctx.eventsMutex);
    for (auto& [id, reg] : ctx.domainEvents) {
      if (reg.eventId != 1) continue;  // VIR_DOMAIN_EVENT_ID_REBOOT
      if (reg.domainFilter && *reg.domainFilter != dom.uuid) continue;
      protocol::DomainEventCallbackRebootMsg m{id, dom};
      if (ctx.sendMessage) ctx.sendMessage(protocol::kProcDomainEventCallbackReboot, xdr::encodeToString(m));
    }
  });
}

}  // namespace splitvirt::daemon
