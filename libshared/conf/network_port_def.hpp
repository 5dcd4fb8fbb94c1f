// The network port XML (libvirt 9.0 src/conf/virnetworkportdef.c): what a
// hypervisor daemon sends in NETWORK_PORT_CREATE_XML and the network driver
// returns filled in (plug type and bridge):
//
//   <networkport>
//     <uuid/> <owner><name/><uuid/></owner> <group/>? <mac address=.../>
//     <port isolated=.../>? <rxfilters trustGuest=.../>?
//     <plug type='network|bridge' bridge=... macTableManager=...?/>
//     <plug type='direct' dev=... mode=.../>
//     <plug type='hostdev-pci' managed=...><driver name=.../><address .../></plug>
//   </networkport>
//
// Not modelled (dropped on parse): <bandwidth>, <vlan>, <virtualport>.
#pragma once

#include "conf/mac_addr.hpp"
#include "conf/network_def.hpp"
#include "conf/uuid.hpp"
#include "util/error.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace splitvirt::conf {

// VIR_NETWORK_PORT_PLUG_TYPE_*, in libvirt's order.
enum class PortPlugType { None, Network, Bridge, Direct, HostdevPci };
std::string_view portPlugTypeName(PortPlugType);

struct NetworkPortDef {
  Uuid uuid{};
  std::string ownerName;
  Uuid ownerUuid{};
  std::optional<std::string> group;
  MacAddr mac{};
  Tristate isolatedPort = Tristate::Absent;         // <port isolated=.../>
  Tristate trustGuestRxFilters = Tristate::Absent;  // <rxfilters trustGuest=.../>

  PortPlugType plugType = PortPlugType::None;
  // Network / Bridge
  std::string bridge;
  std::optional<std::string> macTableManager;  // "kernel" / "libvirt"
  // Direct (macvtap)
  std::string linkDev;
  std::string directMode = "vepa";  // vepa|private|bridge|passthrough
  // HostdevPci
  Tristate managed = Tristate::Absent;
  std::optional<std::string> driverName;  // kvm|vfio
  unsigned pciDomain = 0, pciBus = 0, pciSlot = 0, pciFunction = 0;

  bool operator==(const NetworkPortDef&) const = default;
};

inline constexpr std::string_view kNetworkPortSchemaPath = "/usr/share/libvirt/schemas/networkport.rng";
// VIR_NETWORK_PORT_CREATE_VALIDATE (2): validate against networkport.rng.
inline constexpr unsigned kNetPortParseValidate = 1u << 1;

// virNetworkPortDefParse. Errors as libvirt's (VIR_FROM_NETWORK; e.g.
// VIR_ERR_INTERNAL_ERROR "network port has no uuid").
Result<NetworkPortDef> parseNetworkPortDef(std::string_view xml, unsigned flags = 0);
// virNetworkPortDefFormat
std::string formatNetworkPortDef(const NetworkPortDef& def);

}  // namespace splitvirt::conf
