// net-update (virNetworkUpdate): conf::updateNetworkDef changes a copy of
// the live and/or persistent definition; a live change then reaches dnsmasq
// (hosts files + SIGHUP, or a restart when its conf file changes) and the
// firewall, as libvirt's networkUpdate does.
#include "firewall/firewall.hpp"
#include "firewall/nft_rules.hpp"
#include "network_driver.hpp"
#include "protocol/network_procs.hpp"

namespace splitvirt::network {

using namespace protocol;

namespace {

constexpr ErrorDomain kErr = ErrorDomain::Network;
constexpr uint32_t kAffectLive = 1, kAffectConfig = 2;

}  // namespace

void NetworkDriver::bindUpdate(rpc::Program& p) {
  p.bind(kNetworkUpdate, [this](rpc::ConnContext&, NetUpdateArgs&& a) -> Result<Void> {
    if (a.flags & ~(kAffectLive | kAffectConfig)) return Error::unsupportedFlags(kErr, a.flags & ~(kAffectLive | kAffectConfig), "networkUpdate");
    std::lock_guard lk(mutex_);
    NetworkPtr n;
    SV_TRY_ASSIGN(n, byHandle(a.net));
    uint32_t flags = a.flags;
    if (!(flags & (kAffectLive | kAffectConfig))) flags |= n->active ? kAffectLive : kAffectConfig;
    if ((flags & kAffectLive) && !n->active) return Error::operationInvalid(kErr, "network is not running");
    if ((flags & kAffectConfig) && !n->persistent)
      return Error::operationInvalid(kErr, "cannot change persistent config of a transient network");

    // Both copies are changed and checked before either is stored.
    std::optional<conf::NetworkDef> config, live;
    if (flags & kAffectConfig) SV_TRY_ASSIGN(config, conf::updateNetworkDef(n->persistentDef(), a.command, a.section,
                                                                             a.parentIndex, a.xml));
    if (flags & kAffectLive)
      SV_TRY_ASSIGN(live, conf::updateNetworkDef(*n->def, a.command, a.section, a.parentIndex, a.xml));
    if (config) {
      auto def = std::make_shared<const conf::NetworkDef>(std::move(*config));
      SV_TRY_VOID(persist(*def));
      if (n->active)
        n->newDef = def;
      else
        n->def = def;
    }
    if (live) {
      n->def = std::make_shared<const conf::NetworkDef>(std::move(*live));
      writeStatus(*n);
      switch (a.section) {
        case conf::kNetSectionIpDhcpHost:
        case conf::kNetSectionDnsHost:
          // Only the hosts files change: dnsmasq rereads them on SIGHUP.
          SV_TRY_VOID(refreshDnsmasq(*n));
          break;
        case conf::kNetSectionForward:
        case conf::kNetSectionForwardInterface:
          if (hasFirewallRules(*n->def)) SV_TRY_VOID(addNetworkRules(*n->def));
          break;
        default:
          SV_TRY_VOID(restartDnsmasq(*n));
          break;
      }
    }
    return Void{};
  });
}

}  // namespace splitvirt::network
