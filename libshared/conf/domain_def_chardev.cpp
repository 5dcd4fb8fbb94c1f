// <serial> and <console>, including libvirt's back-compat rule that the
// first console of an HVM guest is an alias of the first serial port.
#include "conf/domain_def_detail.hpp"

#include <algorithm>

namespace splitvirt::conf {

using namespace detail;

namespace {

const Names kSerialTargetNames = {"none", "isa-serial", "usb-serial", "pci-serial", "spapr-vio-serial",
                                  "system-serial", "sclp-serial", "isa-debug"};
const Names kConsoleTargetNames = {"none", "serial", "xen", "uml", "virtio", "lxc", "openvz", "sclp", "sclplm"};
const Names kSerialModelNames = {"none", "isa-serial", "usb-serial", "pci-serial", "spapr-vty", "pl011",
                                 "sclpconsole", "sclplmconsole", "16550a", "isa-debugcon"};
const Names kProtocolNames = {"raw", "telnet", "telnets", "tls"};
const Names kModeNames = {"bind", "connect"};

bool usesPath(ChrType t) {
  return t == ChrType::File || t == ChrType::Dev || t == ChrType::Pipe || t == ChrType::Unix;
}

void formatSource(XmlWriter& w, const ChrDef& c) {
  switch (c.type) {
    case ChrType::File:
    case ChrType::Dev:
    case ChrType::Pipe:
      if (c.sourcePath) w.open("source").attr("path", *c.sourcePath).attrOnOff("append", c.sourceAppend).close();
      break;
    case ChrType::Pty:
      break;  // the pty path only exists while running
    case ChrType::Unix:
      w.open("source").attr("mode", c.sourceMode.value_or("connect")).attrIf("path", c.sourcePath).close();
      break;
    case ChrType::Tcp:
      w.open("source").attr("mode", c.sourceMode.value_or("connect"));
      w.attrIf("host", c.sourceHost).attrIf("service", c.sourceService).close();
      w.open("protocol").attr("type", c.protocol.value_or("raw")).close();
      break;
    default:
      break;
  }
}

}  // namespace

Result<ChrDef> detail::parseChr(XmlNode node, bool isConsole, ErrorDomain d) {
  ChrDef c;
  if (auto type = node.attr("type")) {
    int t = enumIndex(kChrTypeNames, *type);
    if (t < 0) return cfgErr(d, "unknown type presented to host for character device: " + *type);
    c.type = static_cast<ChrType>(t);
  }
  if (XmlNode src = node.child("source")) {
    if (c.type != ChrType::Pty) c.sourcePath = src.attr("path");  // '' is kept, as libvirt does
    if (c.type == ChrType::Tcp || c.type == ChrType::Unix) {
      std::optional<unsigned> mode;
      SV_TRY_ASSIGN(mode, propEnum(src, "mode", kModeNames));
      if (mode) c.sourceMode = std::string(kModeNames[*mode]);
    }
    if (c.type == ChrType::Tcp) {
      c.sourceHost = src.attr("host");
      c.sourceService = src.attr("service");
    }
    if (c.type == ChrType::File) SV_TRY_ASSIGN(c.sourceAppend, propOnOff(src, "append"));
  }
  if (c.type == ChrType::Tcp) {
    if (XmlNode proto = node.child("protocol")) {
      if (auto p = proto.attr("type")) {
        if (enumIndex(kProtocolNames, *p) < 0) return cfgErr(d, "Unknown protocol '" + *p + "'");
        c.protocol = *p;
      }
    }
    if (!c.sourceHost) return intErr(d, "Missing source host attribute for char device");
    if (!c.sourceService) return intErr(d, "Missing source service attribute for char device");
  }
  if (usesPath(c.type) && !c.sourcePath)
    return intErr(d, "Missing source path attribute for char device");

  if (XmlNode target = node.child("target")) {
    if (auto tt = target.attr("type")) {
      const Names& names = isConsole ? kConsoleTargetNames : kSerialTargetNames;
      int idx = enumIndex(names, *tt);
      if (idx < 0) return cfgErr(d, "unknown target type '" + *tt + "' specified for character device");
      if (idx > 0) c.targetType = *tt;  // 'none' is the same as no type
    }
    if (auto port = target.attr("port")) {
      auto p = strToInt(*port);
      if (!p || *p < 0) return xmlErr(d, "Invalid port number: " + *port);
      c.targetPort = *p;
    }
    if (!isConsole) {
      if (XmlNode model = target.child("model")) {
        if (auto name = model.attr("name"); name && !name->empty()) {
          int idx = enumIndex(kSerialModelNames, *name);
          if (idx < 0) return cfgErr(d, "unknown target model '" + *name + "' specified for character device");
          if (idx > 0) c.targetModel = *name;  // 'none' is the same as no model
        }
      }
    }
  }
  SV_TRY_VOID(parseDeviceInfo(node, c.info, d, false));
  return c;
}

bool detail::chrSourceEqual(const ChrDef& a, const ChrDef& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case ChrType::File:
      return a.sourcePath == b.sourcePath && a.sourceAppend == b.sourceAppend;
    case ChrType::Dev:
    case ChrType::Pipe:
    case ChrType::Pty:
      return a.sourcePath == b.sourcePath;
    case ChrType::Unix:
      return a.sourcePath == b.sourcePath && a.sourceMode == b.sourceMode;
    case ChrType::Tcp:
      return a.sourceHost == b.sourceHost && a.sourceService == b.sourceService &&
             a.sourceMode == b.sourceMode && a.protocol == b.protocol;
    default:
      return true;
  }
}

Result<void> detail::postParseChardevs(DomainDef& def, ErrorDomain d) {
  // Serial port numbers, in the two passes libvirt 9.0 makes (observed):
  // first a serial with an explicit target type but no port gets the lowest
  // port no other typed serial uses; then any other unnumbered serial gets
  // one more than the highest port in use.
  for (auto& c : def.serials) {
    if (c.targetPort || !c.targetType) continue;
    int port = 0;
    auto used = [&](int p) {
      return std::any_of(def.serials.begin(), def.serials.end(),
                         [&](const ChrDef& o) { return o.targetType && o.targetPort == p; });
    };
    while (used(port)) port++;
    c.targetPort = port;
  }
  for (auto& c : def.serials) {
    if (c.targetPort) continue;
    int maxport = -1;
    for (const auto& o : def.serials) maxport = std::max(maxport, o.targetPort.value_or(-1));
    c.targetPort = maxport + 1;
  }
  for (size_t i = 1; i < def.consoles.size(); i++) {
    if (def.consoles[i].targetType == "serial")
      return cfgErr(d, "Only the first console can be a serial port");
  }
  const bool hvm = def.osType == "hvm";
  auto isSerialConsole = [](const ChrDef& c) { return !c.targetType || *c.targetType == "serial"; };
  if (!def.consoles.empty() && hvm && isSerialConsole(def.consoles[0])) {
    bool replace = false;
    if (def.serials.empty()) {
      ChrDef serial = def.consoles[0];
      serial.targetType.reset();
      serial.targetModel.reset();
      serial.targetPort = 0;
      def.serials.push_back(std::move(serial));
      replace = true;
    } else if (!chrSourceEqual(def.serials[0], def.consoles[0])) {
      replace = true;
    }
    if (replace) {
      ChrDef stub;
      stub.type = def.serials[0].type;
      stub.targetType = "serial";
      def.consoles[0] = std::move(stub);
    }
    def.consoles[0].targetType = "serial";
  } else if (hvm && !def.serials.empty() &&
             (!def.serials[0].targetType || *def.serials[0].targetType == "isa-serial")) {
    ChrDef stub;
    stub.type = def.serials[0].type;
    stub.targetType = "serial";
    def.consoles.insert(def.consoles.begin(), std::move(stub));
  }

  // qemu's x86 defaults for serial targets and their models
  for (auto& s : def.serials) {
    if (!s.targetType) s.targetType = "isa-serial";
    if (!s.targetModel) {
      if (*s.targetType == "isa-serial" || *s.targetType == "usb-serial" || *s.targetType == "pci-serial")
        s.targetModel = *s.targetType;
    }
  }
  for (auto& c : def.consoles) {
    if (!c.targetType) c.targetType = "serial";
  }
  return {};
}

void detail::formatSerial(XmlWriter& w, const ChrDef& c, unsigned flags) {
  w.open("serial").attr("type", enumName(kChrTypeNames, c.type));
  formatSource(w, c);
  w.open("target").attrIf("type", c.targetType).attr("port", c.targetPort.value_or(0));
  if (c.targetModel) w.open("model").attr("name", *c.targetModel).close();
  w.close();
  formatDeviceInfo(w, c.info, flags);
  w.close();
}

void detail::formatConsoles(XmlWriter& w, const DomainDef& def, unsigned flags) {
  for (size_t i = 0; i < def.consoles.size(); i++) {
    const ChrDef& con = def.consoles[i];
    const bool alias = i == 0 && !def.serials.empty() && con.targetType == "serial";
    const ChrDef& src = alias ? def.serials[0] : con;
    w.open("console").attr("type", enumName(kChrTypeNames, src.type));
    formatSource(w, src);
    w.open("target").attrIf("type", con.targetType).attr("port", src.targetPort.value_or(0)).close();
    formatDeviceInfo(w, src.info, flags);
    w.close();
  }
}

}  // namespace splitvirt::conf
