// <interface> and MAC addresses.
#include "conf/domain_def_detail.hpp"

#include <cstdio>

namespace splitvirt::conf {

using namespace detail;

namespace {
const Names kNetDriverNames = {"default", "qemu", "vhost", "vfio"};
const Names kMacvtapModeNames = {"vepa", "private", "bridge", "passthrough"};

bool isXDigit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
}  // namespace

std::string formatMac(const MacAddr& m) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return buf;
}

// virMacAddrParse: six ':'-separated groups of 1 or 2 hex digits; anything
// at or below ' ' may follow the last one.
std::optional<MacAddr> parseMac(std::string_view s) {
  MacAddr out{};
  size_t p = 0;
  for (size_t i = 0; i < out.size(); i++) {
    if (p >= s.size() || !isXDigit(s[p])) return std::nullopt;
    size_t start = p;
    unsigned v = 0;
    while (p < s.size() && isXDigit(s[p])) {
      char c = s[p];
      v = v * 16 + static_cast<unsigned>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
      p++;
      if (p - start > 2) return std::nullopt;
    }
    out[i] = static_cast<uint8_t>(v);
    if (i == 5) {
      if (p == s.size() || static_cast<unsigned char>(s[p]) <= ' ') return out;
      return std::nullopt;
    }
    if (p >= s.size() || s[p] != ':') return std::nullopt;
    p++;
  }
  return std::nullopt;
}

MacAddr generateMac() {
  MacAddr m{0x52, 0x54, 0x00, 0, 0, 0};
  randomBytes(m.data() + 3, 3);
  return m;
}

Result<NetDef> detail::parseNet(XmlNode node, ErrorDomain d) {
  NetDef net;
  std::optional<unsigned> v;
  SV_TRY_ASSIGN(v, propEnum(node, "type", kNetTypeNames));
  if (v) net.type = static_cast<NetType>(*v);
  const std::string typeName(enumName(kNetTypeNames, net.type));

  XmlNode src = node.child("source");
  auto requireSource = [&](const char* attr, std::optional<std::string>& out) -> Result<void> {
    if (!src) return xmlErr(d, "interface type='" + typeName + "' requires a 'source' element");
    out = src.attr(attr);
    if (!out)
      return xmlErr(kFromXml, "Missing required attribute '" + std::string(attr) + "' in element 'source'");
    return {};
  };
  switch (net.type) {
    case NetType::Network:
      SV_TRY_VOID(requireSource("network", net.sourceNetwork));
      net.sourcePortgroup = src.attr("portgroup");
      break;
    case NetType::Bridge:
      SV_TRY_VOID(requireSource("bridge", net.sourceBridge));
      break;
    case NetType::Direct:
      SV_TRY_VOID(requireSource("dev", net.sourceDev));
      SV_TRY_ASSIGN(v, propEnum(src, "mode", kMacvtapModeNames));
      if (v) net.sourceMode = std::string(kMacvtapModeNames[*v]);
      break;
    default:
      break;
  }

  if (XmlNode mac = node.child("mac")) {
    if (auto addr = mac.attr("address")) {
      auto m = parseMac(*addr);
      if (!m) return xmlErr(d, "unable to parse mac address '" + *addr + "'");
      if ((*m)[0] & 1) return xmlErr(d, "expected unicast mac address, found multicast '" + *addr + "'");
      net.mac = *m;
    }
  }

  if (XmlNode target = node.child("target")) {
    net.targetDev = target.attr("dev");
    SV_TRY_ASSIGN(net.targetManaged, propYesNo(target, "managed"));
    // Names libvirt generates itself are not kept in the persistent config.
    if (net.targetDev && (net.targetDev->starts_with("vnet") || net.targetDev->starts_with("macvtap") ||
                          net.targetDev->starts_with("macvlan")))
      net.targetDev.reset();
  }
  if (XmlNode model = node.child("model")) {
    if (auto t = model.attr("type"); t && !t->empty()) {
      if (t->find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != std::string::npos)
        return Error::invalidArg(d, "Model name contains invalid characters");
      net.model = *t;
    }
  }
  const bool virtio = net.model && net.model->starts_with("virtio");
  if (XmlNode drv = node.child("driver"); drv && virtio) {
    SV_TRY_ASSIGN(v, propEnum(drv, "name", kNetDriverNames, kPropNonZero));
    if (v) net.driverName = std::string(kNetDriverNames[*v]);
    SV_TRY_ASSIGN(net.driverQueues, propUInt(drv, "queues"));
  }
  SV_TRY_VOID(parseDeviceInfo(node, net.info, d, true));
  return net;
}

void detail::formatNet(XmlWriter& w, const NetDef& net, unsigned flags) {
  w.open("interface").attr("type", enumName(kNetTypeNames, net.type));
  if (net.mac) w.open("mac").attr("address", formatMac(*net.mac)).close();
  switch (net.type) {
    case NetType::Network:
      w.open("source").attrIf("network", net.sourceNetwork).attrIf("portgroup", net.sourcePortgroup).close();
      break;
    case NetType::Bridge:
      w.open("source").attrIf("bridge", net.sourceBridge).close();
      break;
    case NetType::Direct:
      w.open("source").attrIf("dev", net.sourceDev).attrIf("mode", net.sourceMode).close();
      break;
    default:
      break;
  }
  if (net.targetDev) w.open("target").attr("dev", *net.targetDev).attrYesNo("managed", net.targetManaged).close();
  if (net.model) w.open("model").attr("type", *net.model).close();
  if (net.driverName || net.driverQueues > 1u) {
    w.open("driver").attrIf("name", net.driverName);
    if (net.driverQueues > 1u) w.attr("queues", *net.driverQueues);  // libvirt omits the default of 1
    w.close();
  }
  formatDeviceInfo(w, net.info, flags);
  w.close();
}

}  // namespace splitvirt::conf
