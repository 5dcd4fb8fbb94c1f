// Bringing a network up and down (libvirt's networkStartNetworkVirtual /
// networkShutdownNetworkVirtual): bridge, addresses, forwarding, firewall,
// dnsmasq. Every step that succeeded is undone when a later one fails, so a
// failed start leaves nothing behind.
#include "dnsmasq/dnsmasq_config.hpp"
#include "dnsmasq/dnsmasq_process.hpp"
#include "firewall/firewall.hpp"
#include "firewall/nft_rules.hpp"
#include "host/netlink.hpp"
#include "network_driver.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <vector>

namespace splitvirt::network {

namespace {

constexpr ErrorDomain kErr = ErrorDomain::Network;

host::InetAddr toInet(const conf::IpAddr& a) {
  return host::InetAddr{static_cast<host::InetAddr::Family>(a.family), a.bytes};
}

// Steps done so far, undone in reverse unless the start completes.
class Rollback {
 public:
  void add(std::function<void()> undo) { steps_.push_back(std::move(undo)); }
  void commit() { steps_.clear(); }
  ~Rollback() {
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) (*it)();
  }

 private:
  std::vector<std::function<void()>> steps_;
};

bool hasV6(const conf::NetworkDef& def) {
  for (auto& ip : def.ips)
    if (ip.isV6()) return true;
  return false;
}

bool hasV4(const conf::NetworkDef& def) {
  for (auto& ip : def.ips)
    if (ip.address.isV4()) return true;
  return false;
}

Result<void> writeProc(const std::string& path, const char* value) {
  std::FILE* f = std::fopen(path.c_str(), "we");
  if (!f) return Error::systemError(kErr, errno, "cannot open " + path);
  bool ok = std::fputs(value, f) >= 0;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) return Error::systemError(kErr, errno, "cannot write " + path);
  return {};
}

// dnsmasq drops root and runs as `nobody`, and reads its hosts files only
// then: a folder above them that others cannot search (a 0700 --root made
// by mktemp -d) silently costs static hosts and local names
// (environment.md 4). Refuse to start instead.
Result<void> checkReachableByDnsmasq(const std::string& dir) {
  std::string path;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    path = dir.substr(0, pos);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return Error::systemError(kErr, errno, "cannot stat " + path);
    if (!(st.st_mode & S_IXOTH))
      return Error::operationFailed(kErr, "dnsmasq runs as user nobody and cannot reach " + dir + ": " + path +
                                              " is not searchable by others (chmod o+x " + path + ")");
  }
  return {};
}

uint32_t hexToU32(const std::string& s) { return static_cast<uint32_t>(std::stoul(s, nullptr, 16)); }

}  // namespace

// networkCheckRouteCollision: a subnet some interface already routes (another
// network's bridge, a host interface) would make the new one unreachable.
Result<void> NetworkDriver::checkRouteCollision(const conf::NetworkDef& def) {
  std::ifstream routes("/proc/net/route");
  std::string line;
  std::getline(routes, line);  // header
  while (std::getline(routes, line)) {
    std::istringstream in(line);
    std::string iface, dest, gw, flags, refcnt, use, metric, mask;
    if (!(in >> iface >> dest >> gw >> flags >> refcnt >> use >> metric >> mask)) continue;
    uint32_t d = hexToU32(dest), m = hexToU32(mask);  // host byte order of a little-endian dump
    if (d == 0 && m == 0) continue;                    // default route
    for (auto& ip : def.ips) {
      if (!ip.address.isV4()) continue;
      unsigned prefix = ip.effectivePrefix();
      conf::IpAddr net = conf::networkAddress(ip.address, prefix);
      conf::IpAddr msk = conf::prefixToNetmask(prefix, conf::IpAddr::Family::V4);
      uint32_t nd, nm;
      std::memcpy(&nd, net.bytes.data(), 4);
      std::memcpy(&nm, msk.bytes.data(), 4);
      if (nd == d && nm == m)
        return Error::internal(ErrorDomain::None, "Network is already in use by interface " + iface);
    }
  }
  return {};
}

Result<void> NetworkDriver::startNetwork(Network& net) {
  const conf::NetworkDef& def = *net.def;
  if (def.forward.mode == conf::NetForwardMode::Bridge) {
    // An existing host bridge: nothing of ours to create.
    const std::string br = def.bridge.value_or("");
    auto exists = host::linkExists(br);
    if (!exists) return exists.error();
    if (!*exists) return Error::systemError(kErr, ENODEV, "Cannot get interface MTU on '" + br + "'");
    net.active = true;
    writeStatus(net);
    return {};
  }
  if (!def.ownsBridge())
    return Error::configUnsupported(kErr, "network '" + def.name + "' has forward mode '" +
                                              std::string(conf::netForwardModeName(def.forward.mode)) +
                                              "', which virtnetworkd does not support");
  if (!def.bridge) return Error::internal(kErr, "network '" + def.name + "' has no bridge name defined");
  const std::string br = *def.bridge;
  SV_TRY_VOID(conf::checkBridgeNameLength(br));
  for (auto& ip : def.ips)
    if (ip.libvirtPrefix() < 0)
      return Error::internal(kErr, "bridge '" + br + "' has an invalid netmask or IP address");
  SV_TRY_VOID(checkRouteCollision(def));

  Rollback undo;
  host::BridgeParams params;
  params.mac = def.mac;
  params.mtu = def.mtu;
  params.stp = def.stp != conf::Tristate::No;  // libvirt's default is stp on
  params.forwardDelayMs = static_cast<unsigned>(def.delay);
  SV_TRY_VOID(host::createBridge(br, params));
  undo.add([br] { (void)host::deleteLink(br); });

  // networkSetIPv6Sysctls: no router advertisements from guests on our
  // bridge; IPv6 off entirely when the network has no IPv6 address.
  if (hasV6(def)) {
    (void)host::setIpv6Sysctl(br, "disable_ipv6", "0", true);
    (void)host::setIpv6Sysctl(br, "accept_ra", "0", true);
    (void)host::setIpv6Sysctl(br, "autoconf", "0", true);
  } else {
    (void)host::setIpv6Sysctl(br, "disable_ipv6", "1", true);
  }
  for (auto& ip : def.ips) SV_TRY_VOID(host::addAddress(br, toInet(ip.address), ip.effectivePrefix()));
  SV_TRY_VOID(host::setLinkUp(br, true));

  if (def.forward.mode == conf::NetForwardMode::Nat || def.forward.mode == conf::NetForwardMode::Route) {
    if (hasV4(def)) SV_TRY_VOID(writeProc("/proc/sys/net/ipv4/ip_forward", "1\n"));
    if (hasV6(def)) SV_TRY_VOID(writeProc("/proc/sys/net/ipv6/conf/all/forwarding", "1\n"));
  }

  if (hasFirewallRules(def)) {
    SV_TRY_VOID(addNetworkRules(def));
    undo.add([&def] { (void)removeNetworkRules(def.name); });
  }

  net.dnsmasqPid = 0;
  if (needsDnsmasq(def)) {
    auto files = dnsmasqFiles(paths_.stateDir + "/dnsmasq", statusDir_, def.name);
    SV_TRY_VOID(fs::makeDirs(paths_.stateDir + "/dnsmasq", 0755, kErr));
    SV_TRY_VOID(checkReachableByDnsmasq(paths_.stateDir + "/dnsmasq"));
    auto cfg = buildDnsmasqConfig(def, files);
    if (!cfg) return cfg.error();
    auto pid = startDnsmasq(files, *cfg);
    if (!pid) return pid.error();
    net.dnsmasqPid = *pid;
  }
  undo.commit();
  net.active = true;
  net.ports.clear();
  writeStatus(net);
  log::info("network '%s' started on bridge %s", def.name.c_str(), br.c_str());
  return {};
}

Result<void> NetworkDriver::stopNetwork(Network& net) {
  const conf::NetworkDef& def = *net.def;
  if (def.ownsBridge() && def.bridge) {
    auto files = dnsmasqFiles(paths_.stateDir + "/dnsmasq", statusDir_, def.name);
    if (net.dnsmasqPid > 0) {
      if (auto r = stopDnsmasq(net.dnsmasqPid, files); !r)
        log::warn("network '%s': %s", def.name.c_str(), r.error().message.c_str());
    }
    ::unlink(files.pidFile.c_str());
    ::unlink(files.conf.c_str());
    ::unlink(files.hostsFile.c_str());
    ::unlink(files.addnHosts.c_str());
    if (auto r = removeNetworkRules(def.name); !r)
      log::warn("network '%s': %s", def.name.c_str(), r.error().message.c_str());
    (void)host::setLinkUp(*def.bridge, false);
    if (auto r = host::deleteLink(*def.bridge); !r)
      log::warn("network '%s': %s", def.name.c_str(), r.error().message.c_str());
  }
  net.dnsmasqPid = 0;
  net.active = false;
  net.ports.clear();
  removeStatus(def.name);
  // The last network with rules takes our (then empty) table with it, so a
  // host without running networks has no trace of us in its ruleset.
  bool anyRules = false;
  for (auto& [u, other] : nets_) anyRules = anyRules || (other->active && hasFirewallRules(*other->def));
  if (!anyRules) {
    std::string table = std::string(kNftFamily) + " " + std::string(kNftTable);
    (void)applyNftScript("add table " + table + "\ndelete table " + table + "\n");
  }
  if (net.newDef) net.def = std::exchange(net.newDef, nullptr);
  log::info("network '%s' stopped", def.name.c_str());
  return {};
}

// The network was running when the daemon went away. Its bridge, rules and
// dnsmasq kept serving meanwhile; adopt them, restarting only what died.
bool NetworkDriver::takeOver(Network& net) {
  const conf::NetworkDef& def = *net.def;
  if (def.ownsBridge() && def.bridge) {
    auto exists = host::linkExists(*def.bridge);
    if (!exists || !*exists) {
      log::warn("network '%s': bridge %s is gone since the last run", def.name.c_str(), def.bridge->c_str());
      (void)removeNetworkRules(def.name);
      auto files = dnsmasqFiles(paths_.stateDir + "/dnsmasq", statusDir_, def.name);
      if (auto pid = readDnsmasqPid(files.pidFile); pid && isOurDnsmasq(*pid, files.conf))
        (void)stopDnsmasq(*pid, files);
      removeStatus(def.name);
      return false;
    }
    if (hasFirewallRules(def))
      if (auto r = addNetworkRules(def); !r)
        log::warn("network '%s': cannot reload firewall rules: %s", def.name.c_str(), r.error().message.c_str());
    if (needsDnsmasq(def)) {
      auto files = dnsmasqFiles(paths_.stateDir + "/dnsmasq", statusDir_, def.name);
      auto pid = readDnsmasqPid(files.pidFile);
      if (pid && isOurDnsmasq(*pid, files.conf)) {
        net.dnsmasqPid = *pid;
      } else if (auto cfg = buildDnsmasqConfig(def, files)) {
        log::warn("network '%s': dnsmasq is gone, starting it again", def.name.c_str());
        if (auto started = startDnsmasq(files, *cfg)) net.dnsmasqPid = *started;
      }
    }
  }
  net.active = true;
  auto portsDir = filesFor(def.name).portsDir;
  if (DIR* d = ::opendir(portsDir.c_str())) {
    while (auto* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n.size() < 5 || n.compare(n.size() - 4, 4, ".xml") != 0) continue;
      auto xml = fs::readFile(portsDir + "/" + n, kErr);
      if (!xml) continue;
      if (auto port = conf::parseNetworkPortDef(*xml)) net.ports[port->uuid] = std::move(*port);
    }
    ::closedir(d);
  }
  log::info("network '%s' taken over (%zu ports)", def.name.c_str(), net.ports.size());
  return true;
}

Result<void> NetworkDriver::restartDnsmasq(Network& net) {
  const conf::NetworkDef& def = *net.def;
  auto files = dnsmasqFiles(paths_.stateDir + "/dnsmasq", statusDir_, def.name);
  if (net.dnsmasqPid > 0) SV_TRY_VOID(stopDnsmasq(net.dnsmasqPid, files));
  net.dnsmasqPid = 0;
  if (!needsDnsmasq(def)) return {};
  auto cfg = buildDnsmasqConfig(def, files);
  if (!cfg) return cfg.error();
  auto pid = startDnsmasq(files, *cfg);
  if (!pid) return pid.error();
  net.dnsmasqPid = *pid;
  return {};
}

Result<void> NetworkDriver::refreshDnsmasq(Network& net) {
  const conf::NetworkDef& def = *net.def;
  // A network that had no DHCP before may need a dnsmasq now.
  if (net.dnsmasqPid <= 0 || !needsDnsmasq(def)) return restartDnsmasq(net);
  auto files = dnsmasqFiles(paths_.stateDir + "/dnsmasq", statusDir_, def.name);
  SV_TRY_VOID(writeDnsmasqHostsFiles(files, buildDnsmasqHostsFiles(def)));
  return reloadDnsmasq(net.dnsmasqPid);
}

}  // namespace splitvirt::network
