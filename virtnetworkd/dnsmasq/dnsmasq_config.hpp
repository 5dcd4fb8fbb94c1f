// A network's dnsmasq configuration as text (libvirt's
// networkDnsmasqConfContents and the hosts files of virdnsmasq.c): the conf
// file, the dhcp-hostsfile and the addn-hosts file. Pure: no I/O, so the
// networkxml2conf golden tests cover it completely.
#pragma once

#include "conf/network_def.hpp"
#include "util/error.hpp"

#include <string>
#include <string_view>

namespace splitvirt::network {

// Where one network's dnsmasq files live. dnsmasq drops root and runs as
// `nobody`, so the folder holding the hosts files must be 0755 (0700 makes
// it log "cannot read ...hostsfile: Permission denied": static hosts get
// dynamic addresses and local names stop resolving).
struct DnsmasqFiles {
  std::string conf;       // <stateDir>/<name>.conf
  std::string hostsFile;  // <stateDir>/<name>.hostsfile (dhcp-hostsfile)
  std::string addnHosts;  // <stateDir>/<name>.addnhosts (addn-hosts)
  std::string leaseFile;  // <stateDir>/<name>.leases (dnsmasq's own lease format)
  std::string pidFile;    // <pidDir>/<name>.pid
};
// stateDir is libvirt's dnsmasqStateDir (<root>/var/lib/libvirt/dnsmasq),
// pidDir its pidDir (<root>/run/libvirt/network).
DnsmasqFiles dnsmasqFiles(std::string_view stateDir, std::string_view pidDir, std::string_view networkName);

struct DnsmasqOptions {
  // false (default): `no-resolv` whenever no <forwarder> claims the names
  // nobody else answers, so dnsmasq never asks the resolvers of the host's
  // /etc/resolv.conf. Inside a network namespace those cannot answer
  // (environment.md 4: REFUSED after a detour); names stay local. true:
  // libvirt's behaviour (unknown names go to the host's resolvers), for a
  // daemon that runs in the host's own namespace and wants guests to
  // resolve the outside world.
  bool hostResolvers = false;
};

struct DnsmasqConfig {
  std::string conf;       // the --conf-file
  std::string hostsFile;  // dhcp-hostsfile lines ("mac,ip,name[,lease]")
  std::string addnHosts;  // addn-hosts lines ("ip\tname\t...")
};

// True when the network needs a dnsmasq at all (networkStartDhcpDaemon):
// a mode virtnetworkd serves L3 for (none/nat/route/open), at least one
// <ip>, and DHCP/TFTP on one of them or DNS not disabled.
bool needsDnsmasq(const conf::NetworkDef& def);

// The three files. def.bridge must be set (the driver has chosen it).
// Errors as libvirt reports them: VIR_ERR_CONFIG_UNSUPPORTED for a second
// DHCP block of one family or an unusable localPtr prefix.
Result<DnsmasqConfig> buildDnsmasqConfig(const conf::NetworkDef& def, const DnsmasqFiles& files,
                                         const DnsmasqOptions& opts = {});

// Only the two hosts files, for net-update followed by SIGHUP
// (networkRefreshDhcpDaemon): dnsmasq rereads them, not its conf file.
DnsmasqConfig buildDnsmasqHostsFiles(const conf::NetworkDef& def);

// "infinite" or "<n><s|m|h>" (networkBuildDnsmasqLeaseTime).
std::string dnsmasqLeaseTime(const conf::DhcpLeaseTime& lease);

}  // namespace splitvirt::network
