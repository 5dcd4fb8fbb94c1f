#include "conf/network_port_def.hpp"

#include "conf/schema.hpp"
#include "conf/xml.hpp"

#include <array>
#include <cstdio>

namespace splitvirt::conf {

namespace {

constexpr std::array<std::string_view, 5> kPlugTypeNames = {"none", "network", "bridge", "direct", "hostdev-pci"};
const std::vector<std::string_view> kPlugTypeList(kPlugTypeNames.begin(), kPlugTypeNames.end());
constexpr std::array<std::string_view, 4> kMacvlanModes = {"vepa", "private", "bridge", "passthrough"};

constexpr ErrorDomain kNet = ErrorDomain::Network;

Error internalErr(std::string msg) { return Error::internal(kNet, std::move(msg)); }
Error xmlErr(std::string msg) { return Error::xmlError(kNet, std::move(msg)); }

Result<Tristate> propTristate(XmlNode node, std::string_view attr) {
  std::optional<bool> b;
  SV_TRY_ASSIGN(b, propYesNo(node, attr));
  if (!b) return Tristate::Absent;
  return *b ? Tristate::Yes : Tristate::No;
}

std::string_view tristateName(Tristate t) { return t == Tristate::Yes ? "yes" : "no"; }

std::string hex(unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

// virPCIDeviceAddressParseXML (validity errors come from virpci.c,
// VIR_FROM_NONE).
Result<void> parsePciAddress(XmlNode node, NetworkPortDef& def) {
  std::optional<unsigned> v;
  SV_TRY_ASSIGN(v, propUInt(node, "domain", 0));
  def.pciDomain = v.value_or(0);
  SV_TRY_ASSIGN(v, propUInt(node, "bus", 0));
  def.pciBus = v.value_or(0);
  SV_TRY_ASSIGN(v, propUInt(node, "slot", 0));
  def.pciSlot = v.value_or(0);
  SV_TRY_ASSIGN(v, propUInt(node, "function", 0));
  def.pciFunction = v.value_or(0);
  std::optional<bool> multi;
  SV_TRY_ASSIGN(multi, propOnOff(node, "multifunction"));
  if (!def.pciDomain && !def.pciBus && !def.pciSlot) return {};
  auto bad = [](std::string msg) { return Error::xmlError(ErrorDomain::None, std::move(msg)); };
  if (def.pciBus > 0xFF) return bad("Invalid PCI address bus='" + hex(def.pciBus) + "', must be <= 0xFF");
  if (def.pciSlot > 0x1F) return bad("Invalid PCI address slot='" + hex(def.pciSlot) + "', must be <= 0x1F");
  if (def.pciFunction > 7) return bad("Invalid PCI address function=" + hex(def.pciFunction) + ", must be <= 7");
  return {};
}

Result<void> parsePlug(XmlNode plug, NetworkPortDef& def) {
  std::optional<unsigned> type;
  SV_TRY_ASSIGN(type, propEnum(plug, "type", kPlugTypeList));
  def.plugType = static_cast<PortPlugType>(type.value_or(0));
  switch (def.plugType) {
    case PortPlugType::None: break;
    case PortPlugType::Network:
    case PortPlugType::Bridge: {
      auto br = plug.attr("bridge");
      if (!br) return xmlErr("Missing network port bridge name");
      def.bridge = *br;
      if (auto mgr = plug.attr("macTableManager")) {
        if (*mgr != "kernel" && *mgr != "libvirt")
          return xmlErr("Invalid macTableManager setting '" + *mgr + "' in network port");
        def.macTableManager = mgr;
      }
      break;
    }
    case PortPlugType::Direct: {
      auto dev = plug.attr("dev");
      if (!dev) return xmlErr("Missing network port link device name");
      def.linkDev = *dev;
      if (auto mode = plug.attr("mode")) {
        bool known = false;
        for (auto m : kMacvlanModes) known = known || m == *mode;
        if (!known) return xmlErr("Invalid mode setting '" + *mode + "' in network port");
        def.directMode = *mode;
      }
      break;
    }
    case PortPlugType::HostdevPci: {
      SV_TRY_ASSIGN(def.managed, propTristate(plug, "managed"));
      auto driver = plug.child("driver").attr("name");
      if (driver && !driver->empty()) {
        if (*driver != "kvm" && *driver != "vfio") return xmlErr("Missing network port driver name");
        def.driverName = driver;
      }
      XmlNode addr = plug.child("address");
      if (!addr) return xmlErr("Missing network port PCI address");
      SV_TRY_VOID(parsePciAddress(addr, def));
      break;
    }
  }
  return {};
}

Result<NetworkPortDef> parsePortNode(XmlNode root) {
  NetworkPortDef def;
  auto uuid = root.childText("uuid");
  if (!uuid) return internalErr("network port has no uuid");
  auto u = parseUuid(*uuid);
  if (!u) return internalErr("Unable to parse UUID '" + *uuid + "'");
  def.uuid = *u;

  XmlNode owner = root.child("owner");
  auto ownerName = owner.childText("name");
  if (!ownerName) return internalErr("network port has no owner name");
  def.ownerName = *ownerName;
  auto ownerUuid = owner.childText("uuid");
  if (!ownerUuid) return internalErr("network port has no owner UUID");
  u = parseUuid(*ownerUuid);
  if (!u) return internalErr("Unable to parse UUID '" + *ownerUuid + "'");
  def.ownerUuid = *u;

  def.group = root.childText("group");

  auto mac = root.child("mac").attr("address");
  if (!mac || mac->empty()) return internalErr("network port has no mac");
  auto m = parseMac(*mac);
  if (!m) return internalErr("Unable to parse MAC '" + *mac + "'");
  def.mac = *m;

  SV_TRY_ASSIGN(def.isolatedPort, propTristate(root.child("port"), "isolated"));
  SV_TRY_ASSIGN(def.trustGuestRxFilters, propTristate(root.child("rxfilters"), "trustGuest"));
  if (XmlNode plug = root.child("plug")) SV_TRY_VOID(parsePlug(plug, def));
  return def;
}

}  // namespace

std::string_view portPlugTypeName(PortPlugType t) { return kPlugTypeNames[static_cast<size_t>(t)]; }

Result<NetworkPortDef> parseNetworkPortDef(std::string_view xml, unsigned flags) {
  auto doc = XmlDoc::parse(xml, "(networkport_definition)", "networkport", ErrorDomain::Network);
  if (!doc) return doc.error();
  if (flags & kNetPortParseValidate) SV_TRY_VOID(validateDocAgainstSchema(*doc, kNetworkPortSchemaPath));
  return parsePortNode(doc->root());
}

std::string formatNetworkPortDef(const NetworkPortDef& def) {
  XmlWriter w;
  w.open("networkport");
  w.textElement("uuid", formatUuid(def.uuid));
  w.open("owner").textElement("name", def.ownerName).textElement("uuid", formatUuid(def.ownerUuid)).close();
  w.textElementIf("group", def.group);
  w.open("mac").attr("address", formatMac(def.mac)).close();
  if (def.isolatedPort != Tristate::Absent) w.open("port").attr("isolated", tristateName(def.isolatedPort)).close();
  if (def.trustGuestRxFilters != Tristate::Absent)
    w.open("rxfilters").attr("trustGuest", tristateName(def.trustGuestRxFilters)).close();
  if (def.plugType != PortPlugType::None) {
    w.open("plug").attr("type", portPlugTypeName(def.plugType));
    switch (def.plugType) {
      case PortPlugType::None: break;
      case PortPlugType::Network:
      case PortPlugType::Bridge: w.attr("bridge", def.bridge).attrIf("macTableManager", def.macTableManager); break;
      case PortPlugType::Direct: w.attr("dev", def.linkDev).attr("mode", def.directMode); break;
      case PortPlugType::HostdevPci: {
        if (def.managed != Tristate::Absent) w.attr("managed", tristateName(def.managed));
        if (def.driverName) w.open("driver").attr("name", *def.driverName).close();
        char buf[96];
        std::snprintf(buf, sizeof buf, "<address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%u'/>",
                      def.pciDomain, def.pciBus, def.pciSlot, def.pciFunction);
        w.raw(buf);
        break;
      }
    }
    w.close();
  }
  w.close();
  return w.take();
}

}  // namespace splitvirt::conf
