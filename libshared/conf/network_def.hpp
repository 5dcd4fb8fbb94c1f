// The virtual network XML object model (libvirt 9.0's network_conf.c and
// the parts of virnetdev*.c it formats), for virtnetworkd: a plain value
// type parsed from and formatted to the XML of `virsh net-define` /
// `net-dumpxml`, valid against /usr/share/libvirt/schemas/network.rng.
//
// Three steps (architecture.md 2.7): parseNetworkDef (structure, types and
// libvirt's parse-time checks: virNetworkDefParseXML and the IP/DHCP/DNS
// helpers), validateNetworkDef (the network driver's define-time checks,
// networkValidate: bridge name length, ranges inside the subnet, forward
// modes it supports), then formatNetworkDef (virNetworkDefFormatBuf).
//
// Not modelled (dropped silently like unknown elements): <bandwidth>,
// <vlan>, <virtualport>, <portgroup>, <route>, dnsmasq namespace options,
// and the PCI addresses of hostdev forward pools (counted for libvirt's
// checks, not kept). libvirt 9.0 has no <title>/<description> for networks
// (they came in 9.7): they are neither parsed nor formatted.
#pragma once

#include "conf/mac_addr.hpp"
#include "conf/net_addr.hpp"
#include "conf/uuid.hpp"
#include "util/error.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace splitvirt::conf {

// In libvirt's order (VIR_NETWORK_FORWARD_*); None is an isolated network
// (no <forward> element).
enum class NetForwardMode { None, Nat, Route, Open, Bridge, Private, Vepa, Passthrough, Hostdev };
std::string_view netForwardModeName(NetForwardMode);  // "none" for None, "nat", ...
std::optional<NetForwardMode> netForwardModeFromName(std::string_view);

enum class Tristate : uint8_t { Absent, Yes, No };

// <lease expiry='N' unit='seconds|minutes|hours'/>; expiry 0 = infinite.
struct DhcpLeaseTime {
  uint64_t expiry = 0;
  std::string unit = "minutes";  // libvirt's default unit
  bool operator==(const DhcpLeaseTime&) const = default;
};

struct DhcpRange {
  IpAddr start, end;
  std::optional<DhcpLeaseTime> lease;
  bool operator==(const DhcpRange&) const = default;
};

// <host mac=... id=... name=... ip=...>. At least one of mac/id/name, and
// ip for IPv4 (libvirt's rules).
struct DhcpHost {
  // As written (libvirt keeps and prints the original text, e.g. upper
  // case); it parsed as a unicast MAC address.
  std::optional<std::string> mac;
  std::optional<std::string> id;   // IPv6 DUID
  std::optional<std::string> name;
  IpAddr ip;                       // None when absent
  std::optional<DhcpLeaseTime> lease;
  bool operator==(const DhcpHost&) const = default;
};

struct NetIpDef {
  // "ipv4" or "ipv6"; absent family attribute means ipv4 and is formatted
  // absent again.
  std::optional<std::string> familyAttr;
  IpAddr address;
  std::optional<IpAddr> netmask;   // IPv4 only, when given as netmask
  std::optional<unsigned> prefix;  // when given as prefix
  Tristate localPtr = Tristate::Absent;
  std::vector<DhcpRange> ranges;
  std::vector<DhcpHost> hosts;
  std::optional<std::string> tftpRoot;
  std::optional<std::string> bootFile;
  IpAddr bootServer;  // None when absent
  bool isV6() const { return address.isV6(); }
  // The effective prefix: `prefix`, else from `netmask`, else the classful
  // default libvirt applies for IPv4 (virNetworkIPDefPrefix), 64 for IPv6.
  // 0 when libvirt's value is -1 (see libvirtPrefix).
  unsigned effectivePrefix() const;
  // virNetworkIPDefPrefix exactly: -1 when no prefix can be derived (a
  // non-contiguous netmask, a class D/E IPv4 address without prefix). The
  // driver must refuse such an <ip> where libvirt does (net-start).
  int libvirtPrefix() const;
  bool operator==(const NetIpDef&) const = default;
};

struct DnsHost {
  IpAddr ip;
  std::vector<std::string> hostnames;
  bool operator==(const DnsHost&) const = default;
};
struct DnsTxt {
  std::string name, value;
  bool operator==(const DnsTxt&) const = default;
};
struct DnsSrv {
  std::string service, protocol;
  std::optional<std::string> domain, target;
  std::optional<unsigned> port, priority, weight;
  bool operator==(const DnsSrv&) const = default;
};
struct DnsForwarder {
  IpAddr addr;                        // None when only a domain is given
  std::optional<std::string> domain;
  bool operator==(const DnsForwarder&) const = default;
};
struct NetDns {
  Tristate enable = Tristate::Absent;
  Tristate forwardPlainNames = Tristate::Absent;
  std::vector<DnsForwarder> forwarders;
  std::vector<DnsTxt> txts;
  std::vector<DnsHost> hosts;
  std::vector<DnsSrv> srvs;
  bool empty() const {
    return enable == Tristate::Absent && forwardPlainNames == Tristate::Absent && forwarders.empty() && txts.empty() &&
           hosts.empty() && srvs.empty();
  }
  bool operator==(const NetDns&) const = default;
};

struct NetForward {
  NetForwardMode mode = NetForwardMode::None;
  std::optional<std::string> dev;               // <forward dev=...>
  std::vector<std::string> interfaces;          // <interface dev=.../> (bridge/macvtap pools)
  // <nat><address start end/><port start end/></nat>, and <nat ipv6='yes'/>
  IpAddr natAddrStart, natAddrEnd;
  unsigned natPortStart = 0, natPortEnd = 0;
  Tristate natIpv6 = Tristate::Absent;
  bool managed = false;                         // <forward managed='yes'> (hostdev)
  std::optional<std::string> driverName;        // <driver name='kvm|vfio'/>
  std::optional<std::string> pfDev;             // <pf dev=.../>
  unsigned pciAddrCount = 0;                    // <address type='pci'/> entries (not kept)
  bool operator==(const NetForward&) const = default;
};

struct NetworkDef {
  std::string name;
  Uuid uuid{};
  std::optional<std::string> title, description;
  // <bridge name=... stp=... delay=... macTableManager=... zone=.../>.
  // `bridge` is filled by the driver (virbrN) when absent for the modes that
  // need one; the template "virbr%d" is kept as given until then.
  std::optional<std::string> bridge;
  // Absent and Yes mean on; printed as stp='on|off' (with delay) for the
  // modes that own a bridge. Kept as given because "stp given" matters to
  // libvirt's bridge-mode check.
  Tristate stp = Tristate::Absent;
  unsigned long delay = 0;
  std::optional<std::string> macTableManager;  // "kernel" / "libvirt"
  std::optional<std::string> bridgeZone;
  std::optional<MacAddr> mac;                  // <mac address=.../>
  unsigned mtu = 0;                            // <mtu size=.../>; 0 = unset
  std::optional<std::string> domainName;       // <domain name=... localOnly=.../>
  Tristate domainLocalOnly = Tristate::Absent;
  Tristate ipv6NoGateway = Tristate::Absent;   // <network ipv6='yes'>
  Tristate trustGuestRxFilters = Tristate::Absent;
  NetForward forward;
  std::vector<NetIpDef> ips;
  NetDns dns;
  Tristate isolatedPort = Tristate::Absent;    // <port isolated=.../>
  // <metadata> as libvirt re-formats it (XmlNode::dumpFormatted(1, true)).
  std::optional<std::string> metadataXml;
  // Live only: ports plugged in; printed as <network connections='N'> when
  // > 0 unless kNetFormatInactive.
  unsigned connections = 0;
  bool operator==(const NetworkDef&) const = default;

  // True for modes where virtnetworkd owns a bridge (none/nat/route/open).
  bool ownsBridge() const;
};

inline constexpr std::string_view kNetworkSchemaPath = "/usr/share/libvirt/schemas/network.rng";

// Parse flags (VIR_NETWORK_DEFINE_VALIDATE = 1: validate against network.rng).
inline constexpr unsigned kNetParseValidate = 1u << 0;
// Format flags: VIR_NETWORK_XML_INACTIVE = 1 (drops the live-only parts).
inline constexpr unsigned kNetFormatInactive = 1u << 0;

// Errors carry libvirt's code and text, domain VIR_FROM_NETWORK (19) for
// network_conf's own errors, VIR_FROM_XML/VIR_FROM_NONE where libvirt's
// helpers report them.
Result<NetworkDef> parseNetworkDef(std::string_view xml, unsigned flags = 0);
// networkValidate (the driver's checks at define/create time), except what
// needs the driver's network list: bridge name assignment (virbr%d
// templates, "bridge name '%s' already in use.") and generating the bridge
// MAC for none/nat/route/open. Also refuses forward modes
// private/vepa/passthrough/hostdev (VIR_ERR_CONFIG_UNSUPPORTED), which
// libvirt accepts but splitvirt cannot run (no macvtap / SR-IOV).
Result<void> validateNetworkDef(const NetworkDef& def);
std::string formatNetworkDef(const NetworkDef& def, unsigned flags = 0);

// Pieces net-update (virNetworkDefUpdateSection) parses on their own: a
// bare <host .../> (DHCP host, `ipv6` picks the family rules) and a bare
// <host ip=...><hostname>..</hostname></host> (DNS host).
Result<DhcpHost> parseDhcpHostXml(std::string_view xml, bool ipv6);
Result<DnsHost> parseDnsHostXml(std::string_view xml);

// The same with libvirt's full rules, as virNetworkDefUpdateSection runs
// them: the document must be a <host> ("unexpected element <x>, expecting
// <host>, while updating network 'n'"), messages name `networkName`, and
// `partialOkay` (true for VIR_NETWORK_UPDATE_COMMAND_DELETE; for DNS hosts
// true for everything but the ADD commands) relaxes the required
// attributes to "at least one". `ip` is the <ip> the host goes into (its
// family and, for ranges, its subnet matter).
Result<DhcpHost> parseDhcpHostXml(std::string_view xml, const NetIpDef& ip, std::string_view networkName,
                                  bool partialOkay);
Result<DnsHost> parseDnsHostXml(std::string_view xml, std::string_view networkName, bool partialOkay);
Result<DhcpRange> parseDhcpRangeXml(std::string_view xml, const NetIpDef& ip, std::string_view networkName);
Result<DnsTxt> parseDnsTxtXml(std::string_view xml, std::string_view networkName, bool partialOkay);
Result<DnsSrv> parseDnsSrvXml(std::string_view xml, std::string_view networkName, bool partialOkay);

// virNetworkUpdate's command and section numbers (the wire values).
enum NetUpdateCommand : unsigned {
  kNetUpdateModify = 1,
  kNetUpdateDelete = 2,
  kNetUpdateAddLast = 3,
  kNetUpdateAddFirst = 4,
};
enum NetUpdateSection : unsigned {
  kNetSectionBridge = 1,
  kNetSectionDomain = 2,
  kNetSectionIp = 3,
  kNetSectionIpDhcpHost = 4,
  kNetSectionIpDhcpRange = 5,
  kNetSectionForward = 6,
  kNetSectionForwardInterface = 7,
  kNetSectionForwardPf = 8,
  kNetSectionPortgroup = 9,
  kNetSectionDnsHost = 10,
  kNetSectionDnsTxt = 11,
  kNetSectionDnsSrv = 12,
};

// virNetworkDefUpdateSection followed by libvirt's "final format/parse
// cycle" (virNetworkObjUpdate): applies one net-update to a copy of `def`
// and returns it, with libvirt's errors (VIR_ERR_OPERATION_INVALID for
// missing/duplicate entries, VIR_ERR_OPERATION_UNSUPPORTED for sections
// libvirt cannot update). The driver applies it to the live and/or the
// persistent definition per the AFFECT flags, then refreshes dnsmasq and
// the firewall as networkUpdate does. <portgroup> is not modelled, so that
// section is refused as unsupported.
Result<NetworkDef> updateNetworkDef(const NetworkDef& def, unsigned command, unsigned section, int parentIndex,
                                    std::string_view xml);

// libvirt 9.0 has no bridge name length check at define time: the kernel
// refuses a name over IFNAMSIZ-1 (15) characters when the bridge is
// created at net-start, and libvirt reports that as VIR_ERR_SYSTEM_ERROR
// (VIR_FROM_NONE) "error creating bridge interface <name>: Numerical result
// out of range" (ERANGE). This returns that error for a too long name, for
// the driver to raise at start time before touching the host.
Result<void> checkBridgeNameLength(std::string_view bridge);
inline constexpr size_t kIfNameMax = 15;  // IFNAMSIZ - 1

}  // namespace splitvirt::conf
