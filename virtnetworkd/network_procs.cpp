// Network procedures: define / create / start / destroy / undefine /
// autostart / lookups / XML / lists / events.
#include "dnsmasq/dnsmasq_leases.hpp"
#include "dnsmasq/dnsmasq_process.hpp"
#include "network_driver.hpp"
#include "protocol/network_procs.hpp"
#include "util/log.hpp"

#include <ctime>

namespace splitvirt::network {

using namespace protocol;
using rpc::ConnContext;

namespace {

constexpr ErrorDomain kErr = ErrorDomain::Network;

// virConnectListAllNetworksFlags
constexpr uint32_t kInactive = 1, kActive = 2, kPersistent = 4, kTransient = 8, kAutostart = 16, kNoAutostart = 32;
// virNetworkEventLifecycleType
constexpr int kEvDefined = 0, kEvUndefined = 1, kEvStarted = 2, kEvStopped = 3;

bool netMatches(const Network& n, uint32_t f) {
  auto group = [&](uint32_t a, uint32_t b, bool isA) {
    if (!(f & (a | b))) return true;
    return isA ? (f & a) != 0 : (f & b) != 0;
  };
  return group(kActive, kInactive, n.active) && group(kPersistent, kTransient, n.persistent) &&
         group(kAutostart, kNoAutostart, n.autostart);
}

}  // namespace

void NetworkDriver::bindNetworks(rpc::Program& p) {
  auto define = [this](const std::string& xml, uint32_t flags) -> Result<NetRet> {
    if (flags & ~1u) return Error::unsupportedFlags(kErr, flags & ~1u, "networkDefineXMLFlags");
    auto def = conf::parseNetworkDef(xml, (flags & 1u) ? conf::kNetParseValidate : 0);
    if (!def) return def.error();
    std::lock_guard lk(mutex_);
    SV_TRY_VOID(assignBridge(*def));
    SV_TRY_VOID(conf::validateNetworkDef(*def));
    NetworkPtr n;
    SV_TRY_ASSIGN(n, checkDuplicate(*def, false));
    auto newDef = std::make_shared<const conf::NetworkDef>(std::move(*def));
    SV_TRY_VOID(persist(*newDef));
    if (!n) {
      n = std::make_shared<Network>();
      n->def = newDef;
      nets_[newDef->uuid] = n;
    } else if (n->active) {
      n->newDef = newDef;
    } else {
      n->def = newDef;
    }
    n->persistent = true;
    events_->networkLifecycle(handle(*n), kEvDefined, 0);
    return NetRet{handle(*n)};
  };
  p.bind(kNetworkDefineXml, [define](ConnContext&, NetXmlArg&& a) { return define(a.xml, 0); });
  p.bind(kNetworkDefineXmlFlags, [define](ConnContext&, NetXmlFlagsArg&& a) { return define(a.xml, a.flags); });

  auto create = [this](const std::string& xml, uint32_t flags) -> Result<NetRet> {
    if (flags & ~1u) return Error::unsupportedFlags(kErr, flags & ~1u, "networkCreateXMLFlags");
    auto def = conf::parseNetworkDef(xml, (flags & 1u) ? conf::kNetParseValidate : 0);
    if (!def) return def.error();
    std::lock_guard lk(mutex_);
    SV_TRY_VOID(assignBridge(*def));
    SV_TRY_VOID(conf::validateNetworkDef(*def));
    NetworkPtr existing;
    SV_TRY_ASSIGN(existing, checkDuplicate(*def, true));
    auto live = std::make_shared<const conf::NetworkDef>(std::move(*def));
    NetworkPtr n = existing ? existing : std::make_shared<Network>();
    auto saved = n->def;
    if (existing) {
      n->newDef = n->def;  // the persistent definition comes back at destroy
    } else {
      n->persistent = false;
    }
    n->def = live;
    if (auto r = startNetwork(*n); !r) {
      n->def = saved;
      n->newDef = nullptr;
      return r.error();
    }
    nets_[live->uuid] = n;
    events_->networkLifecycle(handle(*n), kEvStarted, 0);
    return NetRet{handle(*n)};
  };
  p.bind(kNetworkCreateXml, [create](ConnContext&, NetXmlArg&& a) { return create(a.xml, 0); });
  p.bind(kNetworkCreateXmlFlags, [create](ConnContext&, NetXmlFlagsArg&& a) { return create(a.xml, a.flags); });

  p.bind(kNetworkCreate, [this](ConnContext&, NetArg&& a) -> Result<Void> {
    std::lock_guard lk(mutex_);
    NetworkPtr n;
    SV_TRY_ASSIGN(n, byHandle(a.net));
    if (n->active) return Error::operationInvalid(kErr, "network is already active");
    SV_TRY_VOID(startNetwork(*n));
    events_->networkLifecycle(handle(*n), kEvStarted, 0);
    return Void{};
  });

  p.bind(kNetworkDestroy, [this](ConnContext&, NetArg&& a) -> Result<Void> {
    std::lock_guard lk(mutex_);
    NetworkPtr n;
    SV_TRY_ASSIGN(n, activeByHandle(a.net));
    SV_TRY_VOID(stopNetwork(*n));
    events_->networkLifecycle(handle(*n), kEvStopped, 0);
    if (!n->persistent) nets_.erase(n->def->uuid);
    return Void{};
  });

  p.bind(kNetworkUndefine, [this](ConnContext&, NetArg&& a) -> Result<Void> {
    std::lock_guard lk(mutex_);
    NetworkPtr n;
    SV_TRY_ASSIGN(n, byHandle(a.net));
    if (!n->persistent) return Error::operationInvalid(kErr, "can't undefine transient network");
    auto ticket = store_->remove(n->def->name);
    if (!ticket) return ticket.error();
    SV_TRY_VOID(store_->waitDurable(*ticket));
    events_->networkLifecycle(handle(*n), kEvUndefined, 0);
    if (n->active) {
      n->persistent = false;
      n->autostart = false;
      n->newDef = nullptr;
    } else {
      // networkRemoveInactive: the leases and hosts files go with the network.
      (void)removeDnsmasqFiles(dnsmasqFiles(paths_.stateDir + "/dnsmasq", statusDir_, n->def->name));
      nets_.erase(n->def->uuid);
    }
    return Void{};
  });

  p.bind(kNetworkSetAutostart, [this](ConnContext&, NetIntArg&& a) -> Result<Void> {
    std::lock_guard lk(mutex_);
    NetworkPtr n;
    SV_TRY_ASSIGN(n, byHandle(a.net));
    if (!n->persistent) return Error::operationInvalid(kErr, "cannot set autostart for transient network");
    bool on = a.value != 0;
    if (n->autostart == on) return Void{};
    auto ticket = store_->setAutostart(n->def->name, on);
    if (!ticket) return ticket.error();
    SV_TRY_VOID(store_->waitDurable(*ticket));
    n->autostart = on;
    return Void{};
  });
}

void NetworkDriver::bindQueries(rpc::Program& p) {
  p.bind(kNetworkLookupByName, [this](ConnContext&, NetNameArg&& a) -> Result<NetRet> {
    std::lock_guard lk(mutex_);
    NetworkPtr n;
    SV_TRY_ASSIGN(n, byName(a.name));
    return NetRet{handle(*n)};
  });
  p.bind(kNetworkLookupByUuid, [this](ConnContext&, NetUuidArg&& a) -> Result<NetRet> {
    std::lock_guard lk(mutex_);
    auto it = nets_.find(a.uuid);
    if (it == nets_.end())
      return Error::noNetwork("no network with matching uuid '" + conf::formatUuid(a.uuid) + "'");
    return NetRet{handle(*it->second)};
  });
  p.bind(kNetworkGetXmlDesc, [this](ConnContext&, NetFlagsArg&& a) -> Result<StringRet> {
    if (a.flags & ~1u) return Error::unsupportedFlags(kErr, a.flags & ~1u, "networkGetXMLDesc");
    std::lock_guard lk(mutex_);
    NetworkPtr n;
    SV_TRY_ASSIGN(n, byHandle(a.net));
    if (a.flags & 1u) return StringRet{conf::formatNetworkDef(n->persistentDef(), conf::kNetFormatInactive)};
    conf::NetworkDef live = *n->def;
    live.connections = n->active ? static_cast<unsigned>(n->ports.size()) : 0;
    return StringRet{conf::formatNetworkDef(live)};
  });
  p.bind(kNetworkGetAutostart, [this](ConnContext&, NetArg&& a) -> Result<IntRet> {
    std::lock_guard lk(mutex_);
    NetworkPtr n;
    SV_TRY_ASSIGN(n, byHandle(a.net));
    return IntRet{n->autostart ? 1 : 0};
  });
  p.bind(kNetworkGetBridgeName, [this](ConnContext&, NetArg&& a) -> Result<StringRet> {
    std::lock_guard lk(mutex_);
    NetworkPtr n;
    SV_TRY_ASSIGN(n, byHandle(a.net));
    if (!n->def->bridge)
      return Error::internal(kErr, "network '" + n->def->name + "' does not have a bridge name.");
    return StringRet{*n->def->bridge};
  });
  p.bind(kNetworkIsActive, [this](ConnContext&, NetArg&& a) -> Result<IntRet> {
    std::lock_guard lk(mutex_);
    NetworkPtr n;
    SV_TRY_ASSIGN(n, byHandle(a.net));
    return IntRet{n->active ? 1 : 0};
  });
  p.bind(kNetworkIsPersistent, [this](ConnContext&, NetArg&& a) -> Result<IntRet> {
    std::lock_guard lk(mutex_);
    NetworkPtr n;
    SV_TRY_ASSIGN(n, byHandle(a.net));
    return IntRet{n->persistent ? 1 : 0};
  });
  p.bind(kConnectListAllNetworks, [this](ConnContext&, ListAllArgs&& a) -> Result<ListAllNetworksRet> {
    if (a.flags & ~63u) return Error::unsupportedFlags(kErr, a.flags & ~63u, "networkConnectListAllNetworks");
    std::lock_guard lk(mutex_);
    ListAllNetworksRet ret;
    for (auto& [u, n] : nets_) {
      if (!netMatches(*n, a.flags)) continue;
      if (a.need_results) ret.nets.push_back(handle(*n));
      ret.ret++;
    }
    return ret;
  });
  p.bind(kNetworkGetDhcpLeases, [this](ConnContext&, NetGetDhcpLeasesArgs&& a) -> Result<NetGetDhcpLeasesRet> {
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "networkGetDHCPLeases");
    if (a.mac && !conf::parseMac(*a.mac))
      return Error::make(ErrorCode::InvalidMac, kErr, "invalid MAC address: %s", "invalid MAC address", *a.mac);
    std::shared_ptr<const conf::NetworkDef> def;
    {
      std::lock_guard lk(mutex_);
      NetworkPtr n;
      SV_TRY_ASSIGN(n, byHandle(a.net));
      def = n->def;
    }
    auto files = dnsmasqFiles(paths_.stateDir + "/dnsmasq", statusDir_, def->name);
    std::optional<std::string_view> mac;
    if (a.mac) mac = *a.mac;
    auto leases = readDnsmasqLeases(files.leaseFile, *def, static_cast<int64_t>(std::time(nullptr)), mac);
    if (!leases) return leases.error();
    NetGetDhcpLeasesRet ret;
    for (auto& l : *leases) {
      if (a.need_results)
        ret.leases.push_back(NetworkDhcpLease{l.iface, l.expiryTime, l.type, l.mac, l.iaid, l.ipaddr, l.prefix,
                                              l.hostname, l.clientId});
      ret.ret++;
    }
    return ret;
  });

  auto count = [this](bool active) {
    std::lock_guard lk(mutex_);
    int c = 0;
    for (auto& [u, n] : nets_) c += n->active == active;
    return IntRet{c};
  };
  auto names = [this](bool active, int32_t max) -> Result<NetNamesRet> {
    if (max < 0 || static_cast<uint32_t>(max) > kNetworkListMax)
      return Error::rpc(ErrorDomain::Rpc, "maxnames > REMOTE_NETWORK_LIST_MAX");
    std::lock_guard lk(mutex_);
    NetNamesRet ret;
    for (auto& [u, n] : nets_)
      if (n->active == active && ret.names.size() < static_cast<size_t>(max)) ret.names.push_back(n->def->name);
    return ret;
  };
  p.bind(kConnectNumOfNetworks, [count](ConnContext&, Void&&) -> Result<IntRet> { return count(true); });
  p.bind(kConnectNumOfDefinedNetworks, [count](ConnContext&, Void&&) -> Result<IntRet> { return count(false); });
  p.bind(kConnectListNetworks, [names](ConnContext&, NetListNamesArg&& a) { return names(true, a.maxnames); });
  p.bind(kConnectListDefinedNetworks, [names](ConnContext&, NetListNamesArg&& a) { return names(false, a.maxnames); });
}

void NetworkDriver::bindEvents(rpc::Program& p) {
  p.bind(kConnectNetworkEventRegisterAny, [](ConnContext& ctx, NetEventRegisterAnyArgs&& a) -> Result<CallbackIdRet> {
    if (a.eventID != 0)  // VIR_NETWORK_EVENT_ID_LIFECYCLE is the only one in 9.0
      return Error::invalidArg(kErr, "unsupported network event ID " + std::to_string(a.eventID));
    std::lock_guard lk(ctx.eventsMutex);
    int id = ctx.nextCallbackId++;
    rpc::ObjectEventRegistration reg{a.eventID, std::nullopt};
    if (a.net) reg.objectFilter = a.net->uuid;
    ctx.networkEvents[id] = reg;
    return CallbackIdRet{id};
  });
  p.bind(kConnectNetworkEventDeregisterAny, [](ConnContext& ctx, CallbackIdArg&& a) -> Result<Void> {
    std::lock_guard lk(ctx.eventsMutex);
    if (!ctx.networkEvents.erase(a.callbackID))
      return Error::internal(ErrorDomain::Rpc, "network event callback " + std::to_string(a.callbackID) + " not registered");
    return Void{};
  });
}

}  // namespace splitvirt::network
