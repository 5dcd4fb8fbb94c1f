#include "daemon/connect_core.hpp"

#include "protocol/connect_procs.hpp"

namespace splitvirt::daemon {

using namespace protocol;
using rpc::ConnContext;

namespace {
// virDrvFeature numbers (protocol.md 3.3).
constexpr int kFeatureFdPassing = 8;
constexpr int kFeatureTypedParamString = 9;
constexpr int kFeatureProgramKeepalive = 10;
constexpr int kFeatureRemoteEventCallback = 14;
constexpr int kFeatureRemoteCloseCallback = 15;
constexpr int kFeatureNetworkUpdateHasCorrectOrder = 16;
}  // namespace

void bindConnectCore(rpc::Program& p, Driver& driver) {
  const ErrorDomain d = p.driverDomain();

  p.bind(kAuthList, [](ConnContext&, Void&&) -> Result<AuthListRet> {
    AuthListRet r;
    r.types.push_back(0);  // REMOTE_AUTH_NONE: socket permissions decide
    return r;
  });

  p.bind(kConnectSupportsFeature, [&driver](ConnContext& ctx, IntArg&& a) -> Result<IntRet> {
    switch (a.value) {
      case kFeatureProgramKeepalive:
        ctx.keepaliveRequested = true;
        return IntRet{1};
      case kFeatureRemoteEventCallback:
      case kFeatureRemoteCloseCallback:
      case kFeatureTypedParamString:
      case kFeatureNetworkUpdateHasCorrectOrder:
        return IntRet{1};
      case kFeatureFdPassing:
        return IntRet{0};
      default:
        // Never an error: a failing feature query breaks the caller's API.
        return IntRet{driver.supportsFeature(a.value) ? 1 : 0};
    }
  });

  p.bind(kConnectOpen, [&driver, d](ConnContext& ctx, ConnectOpenArgs&& a) -> Result<Void> {
    if (ctx.opened) return Error::internal(d, "connection already open");
    auto uri = driver.openConnection(ctx, a.name.value_or(""), a.flags);
    if (!uri) return uri.error();
    ctx.uri = *uri;
    ctx.opened = true;
    if (a.flags & 1u) ctx.readonly = true;  // VIR_CONNECT_RO; other bits are client-internal
    return Void{};
  });

  p.bind(kConnectClose, [](ConnContext& ctx, Void&&) -> Result<Void> {
    std::lock_guard lk(ctx.eventsMutex);
    ctx.domainEvents.clear();
    ctx.poolEvents.clear();
    return Void{};
  });

  p.bind(kConnectGetUri, [](ConnContext& ctx, Void&&) -> Result<StringRet> { return StringRet{ctx.uri}; });
  p.bind(kConnectGetLibVersion, [](ConnContext&, Void&&) -> Result<UHyperRet> { return UHyperRet{kLibVersion}; });
  // A local unix socket is secure (libvirt answers 1 for it).
  p.bind(kConnectIsSecure, [](ConnContext&, Void&&) -> Result<IntRet> { return IntRet{1}; });

  p.bind(kConnectRegisterCloseCallback, [](ConnContext& ctx, Void&&) -> Result<Void> {
    ctx.closeCallbackRegistered = true;
    return Void{};
  });
  p.bind(kConnectUnregisterCloseCallback, [](ConnContext& ctx, Void&&) -> Result<Void> {
    ctx.closeCallbackRegistered = false;
    return Void{};
  });
  // The identity of a forwarded caller; accepted, ACLs come later.
  p.bind(kConnectSetIdentity, [](ConnContext&, SetIdentityArgs&&) -> Result<Void> { return Void{}; });

  p.bind(kConnectDomainEventCallbackRegisterAny,
         [d](ConnContext& ctx, DomainEventCallbackRegisterAnyArgs&& a) -> Result<CallbackIdRet> {
           if (a.eventID < 0 || a.eventID > 26)
             return Error::invalidArg(d, "unsupported event ID " + std::to_string(a.eventID));
           std::lock_guard lk(ctx.eventsMutex);
           int id = ctx.nextCallbackId++;
           rpc::DomainEventRegistration reg{a.eventID, std::nullopt};
           if (a.dom) reg.domainFilter = a.dom->uuid;
           ctx.domainEvents[id] = reg;
           return CallbackIdRet{id};
         });
  p.bind(kConnectDomainEventCallbackDeregisterAny, [](ConnContext& ctx, CallbackIdArg&& a) -> Result<Void> {
    std::lock_guard lk(ctx.eventsMutex);
    if (!ctx.domainEvents.erase(a.callbackID))
      return Error::internal(ErrorDomain::Rpc, "domain event callback " + std::to_string(a.callbackID) + " not registered");
    return Void{};
  });
}

}  // namespace splitvirt::daemon
