// Links: bridges, veth pairs, state, MTU, MAC, master (RTM_*LINK).
#include "host/netlink.hpp"
#include "host/netlink_socket.hpp"

#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace splitvirt::host {

using nl::kFromNet;
using nl::kFromNone;

namespace {

// The kernel speaks bridge timers in clock_t (USER_HZ) units.
unsigned long clockTicks() {
  long hz = ::sysconf(_SC_CLK_TCK);
  return hz > 0 ? static_cast<unsigned long>(hz) : 100;
}
uint32_t msToClock(unsigned ms) { return static_cast<uint32_t>(uint64_t{ms} * clockTicks() / 1000); }
unsigned clockToMs(uint32_t t) { return static_cast<unsigned>(uint64_t{t} * 1000 / clockTicks()); }

std::string formatMac(const MacBytes& m) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return buf;
}

// A request naming its device by IFLA_IFNAME (ifi_index 0 means "look the
// name up"), so no separate index lookup can race with a rename.
nl::Message linkRequest(uint16_t type, uint16_t flags, const std::string& name, unsigned ifiFlags = 0,
                        unsigned ifiChange = 0) {
  nl::Message m(type, flags);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_flags = ifiFlags;
  ifi.ifi_change = ifiChange;
  m.putHeader(ifi);
  m.putString(IFLA_IFNAME, name);
  return m;
}

// The kernel's errno for a request answered by an ACK alone (0 = done).
Result<int> kernelErr(nl::Message& m) {
  nl::Answer a;
  SV_TRY_ASSIGN(a, nl::transact(m));
  return a.err;
}

// Creation takes the name literally: an empty one or a "%d" template would
// make the kernel pick a name the caller never learns.
Result<void> checkNewName(const std::string& name) {
  if (name.empty()) return Error::invalidArg(kFromNone, "interface name must not be empty");
  if (name.find('%') != std::string::npos)
    return Error::invalidArg(kFromNone, "interface name '" + name + "' must not be a template");
  return {};
}

// RTM_NEWLINK on an existing bridge with only IFLA_BR_* attributes.
Result<int> changeBridge(const std::string& bridge, std::optional<bool> stp, std::optional<unsigned> delayMs) {
  nl::Message m = linkRequest(RTM_NEWLINK, 0, bridge);
  size_t info = m.beginNest(IFLA_LINKINFO);
  m.putString(IFLA_INFO_KIND, "bridge");
  size_t data = m.beginNest(IFLA_INFO_DATA);
  if (delayMs) m.putU32(IFLA_BR_FORWARD_DELAY, msToClock(*delayMs));
  if (stp) m.putU32(IFLA_BR_STP_STATE, *stp ? 1 : 0);
  m.endNest(data);
  m.endNest(info);
  return kernelErr(m);
}

std::optional<LinkInfo> parseLink(const nl::Received& r) {
  auto ifi = r.header<ifinfomsg>();
  if (r.type != RTM_NEWLINK || !ifi) return std::nullopt;
  nl::Attrs tb(r.attrs(sizeof(ifinfomsg)), IFLA_MAX);
  if (!tb.valid()) return std::nullopt;
  LinkInfo li;
  li.index = static_cast<unsigned>(ifi->ifi_index);
  li.up = ifi->ifi_flags & IFF_UP;
  li.name = tb.str(IFLA_IFNAME).value_or("");
  li.mtu = tb.u32(IFLA_MTU).value_or(0);
  li.masterIndex = tb.u32(IFLA_MASTER).value_or(0);
  if (auto a = tb.get(IFLA_ADDRESS); a && a->size() == 6) {
    MacBytes mac;
    std::copy(a->begin(), a->end(), mac.begin());
    li.mac = mac;
  }
  if (auto info = tb.get(IFLA_LINKINFO)) {
    nl::Attrs in(*info, IFLA_INFO_MAX);
    if (!in.valid()) return std::nullopt;
    li.kind = in.str(IFLA_INFO_KIND).value_or("");
    auto data = in.get(IFLA_INFO_DATA);
    if (li.kind == "bridge" && data) {
      nl::Attrs br(*data, IFLA_BR_MAX);
      if (!br.valid()) return std::nullopt;
      if (auto v = br.u32(IFLA_BR_STP_STATE)) li.stp = *v != 0;
      if (auto v = br.u32(IFLA_BR_FORWARD_DELAY)) li.forwardDelayMs = clockToMs(*v);
    }
  }
  if (li.name.empty()) return std::nullopt;
  return li;
}

struct LinkAnswer {
  int err = 0;
  LinkInfo info;
};

Result<LinkAnswer> queryLink(const std::string& name) {
  nl::Message m = linkRequest(RTM_GETLINK, 0, name);
  m.putU32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  nl::Answer a;
  SV_TRY_ASSIGN(a, nl::transact(m));
  LinkAnswer out;
  out.err = a.err;
  if (a.err) return out;
  for (const auto& r : a.messages) {
    if (auto li = parseLink(r)) {
      out.info = std::move(*li);
      return out;
    }
  }
  return nl::malformed();
}

}  // namespace

Result<void> createBridge(const std::string& name, const BridgeParams& params) {
  SV_TRY_VOID(checkNewName(name));
  nl::Message m = linkRequest(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, name);
  if (params.mac) m.put(IFLA_ADDRESS, params.mac->data(), params.mac->size());
  size_t info = m.beginNest(IFLA_LINKINFO);
  m.putString(IFLA_INFO_KIND, "bridge");
  if (params.stp || params.forwardDelayMs) {
    // The kernel applies the delay before the STP state, on a bridge whose
    // STP is still off, so any delay is accepted (STP on then clamps it).
    size_t data = m.beginNest(IFLA_INFO_DATA);
    if (params.forwardDelayMs) m.putU32(IFLA_BR_FORWARD_DELAY, msToClock(*params.forwardDelayMs));
    if (params.stp) m.putU32(IFLA_BR_STP_STATE, *params.stp ? 1 : 0);
    m.endNest(data);
  }
  m.endNest(info);
  int err = 0;
  SV_TRY_ASSIGN(err, kernelErr(m));
  if (err) return Error::systemError(kFromNone, err, "error creating bridge interface " + name);
  if (params.mtu) {
    // Not IFLA_MTU in the creation above: only a later change marks the MTU
    // as set by the user, which keeps the bridge from following its ports.
    auto r = setLinkMtu(name, params.mtu);
    if (!r) {
      (void)deleteLink(name);
      return r.error();
    }
  }
  return {};
}

Result<void> setBridgeStp(const std::string& bridge, bool enable) {
  int err = 0;
  SV_TRY_ASSIGN(err, changeBridge(bridge, enable, std::nullopt));
  if (err) return Error::systemError(kFromNone, err, "Failed to set bridge " + bridge + " stp_state");
  return {};
}

Result<void> setBridgeForwardDelay(const std::string& bridge, unsigned delayMs) {
  int err = 0;
  SV_TRY_ASSIGN(err, changeBridge(bridge, std::nullopt, delayMs));
  if (err) return Error::systemError(kFromNone, err, "Failed to set bridge " + bridge + " forward_delay");
  return {};
}

Result<void> createVethPair(const std::string& a, const std::string& b) {
  SV_TRY_VOID(checkNewName(a));
  SV_TRY_VOID(checkNewName(b));
  nl::Message m = linkRequest(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, a);
  size_t info = m.beginNest(IFLA_LINKINFO);
  m.putString(IFLA_INFO_KIND, "veth");
  size_t data = m.beginNest(IFLA_INFO_DATA);
  size_t peer = m.beginNest(VETH_INFO_PEER);
  ifinfomsg peerIfi{};
  peerIfi.ifi_family = AF_UNSPEC;
  m.append(&peerIfi, sizeof peerIfi);
  m.putString(IFLA_IFNAME, b);
  m.endNest(peer);
  m.endNest(data);
  m.endNest(info);
  int err = 0;
  SV_TRY_ASSIGN(err, kernelErr(m));
  if (err) return Error::systemError(kFromNone, err, "unable to create " + a + " <-> " + b + " veth pair");
  return {};
}

Result<void> deleteLink(const std::string& name) {
  nl::Message m = linkRequest(RTM_DELLINK, 0, name);
  int err = 0;
  SV_TRY_ASSIGN(err, kernelErr(m));
  if (err) return Error::systemError(kFromNet, err, "error destroying network device " + name);
  return {};
}

Result<bool> linkExists(const std::string& name) {
  LinkAnswer a;
  SV_TRY_ASSIGN(a, queryLink(name));
  if (a.err == ENODEV) return false;
  if (a.err) return Error::systemError(kFromNone, a.err, "Unable to check interface flags for " + name);
  return true;
}

Result<unsigned> ifIndex(const std::string& name) {
  LinkAnswer a;
  SV_TRY_ASSIGN(a, queryLink(name));
  if (a.err) return Error::systemError(kFromNone, a.err, "Unable to get index for interface " + name);
  return a.info.index;
}

Result<LinkInfo> linkInfo(const std::string& name) {
  LinkAnswer a;
  SV_TRY_ASSIGN(a, queryLink(name));
  if (a.err) return Error::systemError(kFromNone, a.err, "Unable to get interface info for " + name);
  return std::move(a.info);
}

Result<void> setLinkUp(const std::string& name, bool up) {
  nl::Message m = linkRequest(RTM_SETLINK, 0, name, up ? IFF_UP : 0, IFF_UP);
  int err = 0;
  SV_TRY_ASSIGN(err, kernelErr(m));
  if (err) return Error::systemError(kFromNone, err, "Cannot set interface flags on '" + name + "'");
  return {};
}

Result<void> setLinkMtu(const std::string& name, unsigned mtu) {
  nl::Message m = linkRequest(RTM_SETLINK, 0, name);
  m.putU32(IFLA_MTU, mtu);
  int err = 0;
  SV_TRY_ASSIGN(err, kernelErr(m));
  if (err) return Error::systemError(kFromNone, err, "Cannot set interface MTU on '" + name + "'");
  return {};
}

Result<void> setLinkMac(const std::string& name, const MacBytes& mac) {
  nl::Message m = linkRequest(RTM_SETLINK, 0, name);
  m.put(IFLA_ADDRESS, mac.data(), mac.size());
  int err = 0;
  SV_TRY_ASSIGN(err, kernelErr(m));
  if (err)
    return Error::systemError(kFromNone, err, "Cannot set interface MAC to " + formatMac(mac) + " on '" + name + "'");
  return {};
}

Result<void> setMaster(const std::string& ifname, const std::string& bridge) {
  LinkAnswer br;
  SV_TRY_ASSIGN(br, queryLink(bridge));
  int err = br.err;
  if (!err) {
    nl::Message m = linkRequest(RTM_SETLINK, 0, ifname);
    m.putU32(IFLA_MASTER, br.info.index);
    SV_TRY_ASSIGN(err, kernelErr(m));
  }
  if (err) return Error::systemError(kFromNone, err, "Unable to add bridge " + bridge + " port " + ifname);
  return {};
}

Result<void> clearMaster(const std::string& ifname) {
  nl::Message m = linkRequest(RTM_SETLINK, 0, ifname);
  m.putU32(IFLA_MASTER, 0);
  int err = 0;
  SV_TRY_ASSIGN(err, kernelErr(m));
  if (err) return Error::systemError(kFromNone, err, "Unable to remove interface " + ifname + " from its bridge");
  return {};
}

Result<std::vector<std::string>> listLinksWithMaster(const std::string& bridge) {
  LinkAnswer br;
  SV_TRY_ASSIGN(br, queryLink(bridge));
  if (br.err) return Error::systemError(kFromNone, br.err, "Unable to get index for interface " + bridge);
  nl::Message m(RTM_GETLINK, NLM_F_DUMP);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  m.putHeader(ifi);
  m.putU32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  // The kernel filters by master too, but older ones ignore it: we check below.
  m.putU32(IFLA_MASTER, br.info.index);
  nl::Answer a;
  SV_TRY_ASSIGN(a, nl::transact(m));
  if (a.err) return Error::systemError(kFromNone, a.err, "Unable to list the ports of bridge " + bridge);
  std::vector<LinkInfo> ports;
  for (const auto& r : a.messages) {
    auto li = parseLink(r);
    if (!li) return nl::malformed();
    if (li->masterIndex == br.info.index) ports.push_back(std::move(*li));
  }
  std::sort(ports.begin(), ports.end(), [](const LinkInfo& x, const LinkInfo& y) { return x.index < y.index; });
  std::vector<std::string> names;
  for (auto& p : ports) names.push_back(std::move(p.name));
  return names;
}

}  // namespace splitvirt::host
