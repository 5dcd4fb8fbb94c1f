// <interface> of the domain model.
#include "conf/domain_def_detail.hpp"

namespace splitvirt::conf {

using namespace detail;

namespace {
const Names kNetDriverNames = {"default", "qemu", "vhost", "vfio"};
const Names kMacvtapModeNames = {"vepa", "private", "bridge", "passthrough"};
}  // namespace

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
      // Status XML of a running guest; a fresh definition has neither.
      net.sourcePortId = src.attr("portid");
      net.sourceBridge = src.attr("bridge");
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
      w.open("source").attrIf("network", net.sourceNetwork).attrIf("portgroup", net.sourcePortgroup);
      if (!(flags & kFormatInactive)) w.attrIf("portid", net.sourcePortId).attrIf("bridge", net.sourceBridge);
      w.close();
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
