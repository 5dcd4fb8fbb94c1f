// Lifecycle procedures: create, destroy, shutdown, reboot, reset, suspend,
// resume. Each takes the domain's job lock; queries never wait for it.
#include "domain/domain_common.hpp"
#include "domain/runtime.hpp"
#include "monitor/qmp_commands.hpp"
#include "protocol/domain_procs.hpp"
#include "qemu_driver.hpp"

namespace splitvirt::qemu {

using namespace protocol;
using objects::DomainState;
using objects::DomainView;
using rpc::ConnContext;

void QemuDriver::bindLifecycle(rpc::Program& p) {
  // START_PAUSED | BYPASS_CACHE | FORCE_BOOT | RESET_NVRAM (no NVRAM here);
  // AUTODESTROY is not supported. A managed save image is restored.
  auto create = [this](const NonnullDomain& dom, uint32_t flags) -> Result<DomainView> {
    if (flags & ~(1u | 4u | 8u | 32u)) return Error::unsupportedFlags(kErr, flags & ~(1u | 4u | 8u | 32u), "qemuDomainCreateWithFlags");
    auto v = domains_.findByUuid(dom.uuid);
    if (!v) return noDomainByHandle(dom);
    auto lock = jobLock(dom.uuid);
    std::lock_guard jl(*lock);
    return startOrRestore(dom.uuid, flags);
  };
  p.bind(kDomainCreate, [create](ConnContext&, DomArg&& a) -> Result<Void> {
    auto r = create(a.dom, 0);
    if (!r) return r.error();
    return Void{};
  });
  p.bind(kDomainCreateWithFlags, [create](ConnContext&, DomFlagsArg&& a) -> Result<DomRet> {
    auto r = create(a.dom, a.flags);
    if (!r) return r.error();
    return DomRet{handleOf(*r)};
  });

  p.bind(kDomainCreateXml, [this](ConnContext&, XmlFlagsArg&& a) -> Result<DomRet> {
    if (a.flags & ~(1u | 4u | 8u | 16u | 32u)) return Error::unsupportedFlags(kErr, a.flags & ~(1u | 4u | 8u | 16u | 32u), "qemuDomainCreateXML");
    auto parsed = conf::parseDomainDef(a.xml, (a.flags & 16u) ? conf::kParseValidateSchema : 0, ErrorDomain::Domain);
    if (!parsed) return parsed.error();
    auto def = std::make_shared<const conf::DomainDef>(std::move(*parsed));
    if (auto claimed = claimLiveDomain(def, false); !claimed) return claimed.error();
    auto lock = jobLock(def->uuid);
    std::lock_guard jl(*lock);
    auto r = startDomain(def->uuid, a.flags & 1u);
    if (!r) {
      if (auto cur = domains_.findByUuid(def->uuid); cur && !cur->persistent && !cur->active())
        domains_.remove(def->uuid);
      return r.error();
    }
    return DomRet{handleOf(*r)};
  });

  auto destroy = [this](const NonnullDomain& dom, uint32_t flags) -> Result<Void> {
    // GRACEFUL | REMOVE_LOGS
    if (flags & ~3u) return Error::unsupportedFlags(kErr, flags & ~3u, "qemuDomainDestroyFlags");
    if (!domains_.findByUuid(dom.uuid)) return noDomainByHandle(dom);
    auto lock = jobLock(dom.uuid);
    std::lock_guard jl(*lock);
    auto r = stopDomain(dom.uuid, flags & 1u);
    if (!r) return r.error();
    return Void{};
  };
  p.bind(kDomainDestroy, [destroy](ConnContext&, DomArg&& a) { return destroy(a.dom, 0); });
  p.bind(kDomainDestroyFlags, [destroy](ConnContext&, DomFlagsArg&& a) { return destroy(a.dom, a.flags); });

  // Runs fn with the QMP client of a running domain, under its job lock. The
  // "not running" error comes from libvirt's generic check (domain DOMAIN)
  // except where the qemu driver checks itself (shutdown: domain QEMU).
  auto withRunningIn = [this](ErrorDomain notRunningDomain, const NonnullDomain& dom,
                              const std::function<Result<void>(Runtime&, DomainView&)>& fn) -> Result<Void> {
    if (!domains_.findByUuid(dom.uuid)) return noDomainByHandle(dom);
    auto lock = jobLock(dom.uuid);
    std::lock_guard jl(*lock);
    auto v = domains_.findByUuid(dom.uuid);
    if (!v) return noDomainByHandle(dom);
    auto rt = runtime(dom.uuid);
    if (!v->active() || !rt || !rt->mon) return Error::operationInvalid(notRunningDomain, "domain is not running");
    if (auto r = fn(*rt, *v); !r) return r.error();
    return Void{};
  };
  auto withRunning = [withRunningIn](const NonnullDomain& dom,
                                     const std::function<Result<void>(Runtime&, DomainView&)>& fn) {
    return withRunningIn(ErrorDomain::Domain, dom, fn);
  };

  // ACPI power button; the guest decides. Agent/initctl/signal modes are not available.
  auto shutdown = [withRunningIn](const NonnullDomain& dom, uint32_t flags) -> Result<Void> {
    if (flags & ~1u) {
      if (flags & ~0x1fu) return Error::unsupportedFlags(kErr, flags & ~0x1fu, "qemuDomainShutdownFlags");
      return Error::argumentUnsupported(kErr, "only the ACPI power button shutdown mode is supported");
    }
    return withRunningIn(kErr, dom, [](Runtime& rt, DomainView&) -> Result<void> { return systemPowerdown(*rt.mon); });
  };
  p.bind(kDomainShutdown, [shutdown](ConnContext&, DomArg&& a) { return shutdown(a.dom, 0); });
  p.bind(kDomainShutdownFlags, [shutdown](ConnContext&, DomFlagsArg&& a) { return shutdown(a.dom, a.flags); });

  p.bind(kDomainReboot, [withRunning](ConnContext&, DomFlagsArg&& a) -> Result<Void> {
    if (a.flags & ~1u) {
      if (a.flags & ~0x1fu) return Error::unsupportedFlags(kErr, a.flags & ~0x1fu, "qemuDomainReboot");
      return Error::argumentUnsupported(kErr, "only the ACPI power button reboot mode is supported");
    }
    // As libvirt: power the guest off by ACPI, then reset it instead of ending it.
    return withRunning(a.dom, [](Runtime& rt, DomainView&) -> Result<void> {
      rt.fakeReboot = true;
      auto r = systemPowerdown(*rt.mon);
      if (!r) rt.fakeReboot = false;
      return r;
    });
  });

  p.bind(kDomainReset, [withRunning](ConnContext&, DomFlagsArg&& a) -> Result<Void> {
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "qemuDomainReset");
    return withRunning(a.dom, [](Runtime& rt, DomainView&) -> Result<void> { return systemReset(*rt.mon); });
  });

  p.bind(kDomainSuspend, [this, withRunning](ConnContext&, DomArg&& a) -> Result<Void> {
    return withRunning(a.dom, [this](Runtime& rt, DomainView& v) -> Result<void> {
      if (v.state == DomainState::Paused) return {};
      rt.expectStop = true;  // consumed by the STOP event handler
      auto r = stop(*rt.mon);
      if (!r) {
        rt.expectStop = false;
        return r;
      }
      auto nv = domains_.update(v.def->uuid, [](DomainView& d) {
        d.state = DomainState::Paused;
        d.reason = kPausedUser;
      });
      if (nv) {
        (void)saveStatus(*nv, rt);
        events_->domainLifecycle(handleOf(*nv), kEvSuspended, 0);
      }
      return {};
    });
  });

  p.bind(kDomainResume, [this, withRunning](ConnContext&, DomArg&& a) -> Result<Void> {
    return withRunning(a.dom, [this](Runtime& rt, DomainView& v) -> Result<void> {
      if (v.state == DomainState::Running) return Error::operationInvalid(kErr, "domain is already running");
      if (v.state != DomainState::Paused) return {};
      rt.expectResume = true;  // consumed by the RESUME event handler
      auto r = cont(*rt.mon);
      if (!r) {
        rt.expectResume = false;
        return r;
      }
      auto nv = domains_.update(v.def->uuid, [](DomainView& d) {
        d.state = DomainState::Running;
        d.reason = kRunningUnpaused;
      });
      if (nv) {
        (void)saveStatus(*nv, rt);
        events_->domainLifecycle(handleOf(*nv), kEvResumed, 0);
      }
      return {};
    });
  });
}

}  // namespace splitvirt::qemu
