// Device hotplug on the domain model: golden attach/detach results generated
// by the reference libvirtd 9.0 (tests/golden/devicexml, see generate.py),
// the live-definition behaviour observed on a running reference guest, and
// unit tests for parsing and matching.
#include "conf/domain_device.hpp"
#include "conf/domain_def_detail.hpp"
#include "support/golden.hpp"

#include <doctest/doctest.h>

#include <filesystem>

namespace fs = std::filesystem;
using namespace splitvirt;
using namespace splitvirt::conf;

namespace {

const fs::path kGolden = fs::path(SV_GOLDEN_DIR) / "devicexml";
constexpr ErrorDomain kDom = ErrorDomain::Domain;

std::string errorText(const Error& e) {
  return std::to_string(static_cast<int>(e.code)) + " " + std::to_string(static_cast<int>(e.domain)) + "\n" +
         e.message;
}

DomainDef parseBase(const std::string& xml) {
  auto def = parseDomainDef(xml, 0, kDom);
  REQUIRE_MESSAGE(def.has_value(), (def ? "" : def.error().message));
  return std::move(*def);
}

DeviceDef parseDev(const std::string& xml, DeviceAction action = DeviceAction::Attach,
                   DeviceScope scope = DeviceScope::Config) {
  auto dev = parseDeviceXml(xml, kDom, action, scope);
  REQUIRE_MESSAGE(dev.has_value(), (dev ? "" : dev.error().message));
  return std::move(*dev);
}

// Attach (or detach) `xml` as the golden test does; the result or the error.
Result<DeviceDef> apply(DomainDef& def, const std::string& xml, DeviceAction action, DeviceScope scope) {
  auto dev = parseDeviceXml(xml, kDom, action, scope);
  if (!dev) return dev.error();
  if (action == DeviceAction::Attach) return attachDevice(def, std::move(*dev), kDom, scope);
  return detachDevice(def, *dev, kDom, scope);
}

const DiskDef& diskOf(const DeviceDef& d) { return std::get<DiskDef>(d.dev); }
const NetDef& netOf(const DeviceDef& d) { return std::get<NetDef>(d.dev); }

std::string pci(const DeviceInfo& info) {
  REQUIRE(info.addressType == AddressType::Pci);
  return detail::formatPciAddress(info.pci);
}

// The reference's running guest: i440fx, vda (virtio), hdc (cdrom), one
// virtio NIC, VNC; with the aliases QEMU got at start.
DomainDef liveGuest() {
  DomainDef def = parseBase(R"(<domain type='qemu'><name>livetest</name>
    <uuid>6f9b2f6e-2f1a-4b7e-9c1d-0a1b2c3d4e09</uuid><memory>65536</memory>
    <os><type>hvm</type></os><features><acpi/></features><devices>
    <disk type='file' device='disk'><source file='/img/a.qcow2'/><driver name='qemu' type='qcow2'/>
      <target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>
    <disk type='file' device='disk'><source file='/img/x.qcow2'/><target dev='hdb'/></disk>
    <interface type='user'><mac address='52:54:00:11:22:33'/><model type='virtio'/></interface>
    <graphics type='vnc'/></devices></domain>)");
  for (auto& d : def.disks)
    d.info.alias = d.targetDev == "vda" ? "virtio-disk0" : d.targetDev == "hdc" ? "ide0-1-0" : "ide0-0-1";
  for (auto& c : def.controllers)
    c.info.alias = c.type == ControllerType::Usb ? "usb" : c.type == ControllerType::Pci ? "pci.0" : "ide";
  def.nets[0].info.alias = "net0";
  return def;
}

}  // namespace

TEST_CASE("devicexml: attach/detach --config match the reference daemon") {
  // in/BASE--OP--DESC.xml + base/BASE.xml -> out/BASE--OP--DESC.{xml,err}
  auto inputs = test::goldenFiles(kGolden / "in", ".xml");
  REQUIRE(inputs.size() >= 40);
  for (const auto& in : inputs) {
    const std::string name = in.stem().string();
    CAPTURE(name);
    const auto sep1 = name.find("--"), sep2 = name.find("--", sep1 + 2);
    REQUIRE(sep2 != std::string::npos);
    const std::string base = name.substr(0, sep1), op = name.substr(sep1 + 2, sep2 - sep1 - 2);
    REQUIRE((op == "attach" || op == "detach"));
    auto baseXml = test::readFile(kGolden / "base" / (base + ".xml"));
    auto devXml = test::readFile(in);
    REQUIRE(baseXml.has_value());
    REQUIRE(devXml.has_value());

    DomainDef def = parseBase(*baseXml);
    const std::string before = formatDomainDef(def, kFormatInactive);
    auto r = apply(def, *devXml, op == "attach" ? DeviceAction::Attach : DeviceAction::Detach, DeviceScope::Config);
    const fs::path outXml = kGolden / "out" / (name + ".xml"), outErr = kGolden / "out" / (name + ".err");
    if (fs::exists(outErr)) {
      REQUIRE_MESSAGE(!r.has_value(), "expected an error like " << outErr.string());
      test::compareToGolden(errorText(r.error()), outErr);
      CHECK(formatDomainDef(def, kFormatInactive) == before);  // unchanged on failure
      continue;
    }
    REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
    const std::string out = formatDomainDef(def, kFormatInactive);
    test::compareToGolden(out, outXml);
    // what we save must load again as the same definition
    CHECK(formatDomainDef(parseBase(out), kFormatInactive) == out);
  }
}

TEST_CASE("the domain post-parse, run again after a device change, is a fixed point") {
  for (const auto& in : test::goldenFiles(fs::path(SV_GOLDEN_DIR) / "domainxml2xml" / "in", ".xml")) {
    CAPTURE(in.string());
    auto xml = test::readFile(in);
    REQUIRE(xml.has_value());
    DomainDef def = parseBase(*xml);
    const std::string once = formatDomainDef(def, 0);
    REQUIRE(detail::postParseDomainDef(def, kDom).has_value());
    CHECK(formatDomainDef(def, 0) == once);
  }
}

TEST_CASE("attach returns the device as inserted, with its address") {
  auto baseXml = test::readFile(kGolden / "base" / "i440fx.xml");
  REQUIRE(baseXml.has_value());
  DomainDef def = parseBase(*baseXml);

  // virsh attach-disk NAME /path/x.qcow2 vdb --subdriver qcow2 --config
  auto r = apply(def, "<disk type='file'>\n  <driver type='qcow2'/>\n  <source file='/path/x.qcow2'/>\n"
                      "  <target dev='vdb'/>\n</disk>\n", DeviceAction::Attach, DeviceScope::Config);
  REQUIRE(r.has_value());
  CHECK(diskOf(*r).bus == DiskBus::Virtio);
  CHECK(diskOf(*r).driverName == "qemu");
  CHECK(diskOf(*r).driverType == "qcow2");
  CHECK(pci(diskOf(*r).info) == "0000:00:08.0");
  CHECK(diskOf(*r).info.alias.empty());  // config: no QEMU alias
  REQUIRE(def.disks.size() == 4);
  CHECK(def.disks[1].targetDev == "vdb");

  // virsh attach-interface NAME network default --config: no MAC given
  auto n = apply(def, "<interface type='network'>\n  <source network='default'/>\n</interface>\n",
                 DeviceAction::Attach, DeviceScope::Config);
  REQUIRE(n.has_value());
  CHECK(n->macGenerated);
  REQUIRE(netOf(*n).mac.has_value());
  CHECK(formatMac(*netOf(*n).mac).starts_with("52:54:00:"));
  CHECK(netOf(*n).model == "rtl8139");
  CHECK(pci(netOf(*n).info) == "0000:00:09.0");
  CHECK(def.nets.back().mac == netOf(*n).mac);

  // its generated MAC does not identify it for detach; the (only) PCI address does
  DeviceDef byPci = parseDev("<interface type='user'><address type='pci' domain='0' bus='0' slot='9' function='0'/>"
                             "</interface>", DeviceAction::Detach);
  CHECK(byPci.macGenerated);
  auto removed = detachDevice(def, byPci, kDom);
  REQUIRE(removed.has_value());
  CHECK(netOf(*removed).mac == netOf(*n).mac);
  CHECK(def.nets.size() == 2);
}

TEST_CASE("live attach: QEMU aliases and addresses as the running reference guest got them") {
  DomainDef def = liveGuest();
  auto vdb = apply(def,
                   "<disk type='file'><driver type='qcow2'/><source file='/img/b.qcow2'/><target dev='vdb'/></disk>",
                   DeviceAction::Attach, DeviceScope::Live);
  REQUIRE(vdb.has_value());
  CHECK(diskOf(*vdb).info.alias == "virtio-disk1");
  CHECK(pci(diskOf(*vdb).info) == "0000:00:06.0");

  auto dup = apply(def, "<disk type='file'><source file='/img/c.qcow2'/><target dev='vdb'/></disk>",
                   DeviceAction::Attach, DeviceScope::Live);
  REQUIRE_FALSE(dup.has_value());
  CHECK(errorText(dup.error()) ==
        "27 20\nXML error: target 'vdb' duplicated for disk sources '/img/b.qcow2' and '/img/c.qcow2'");

  // sdb: the SCSI controller is created with it (alias scsi0, next PCI slot)
  auto sdb = apply(def, "<disk type='file'><source file='/img/x.qcow2'/><target dev='sdb'/></disk>",
                   DeviceAction::Attach, DeviceScope::Live);
  REQUIRE(sdb.has_value());
  CHECK(diskOf(*sdb).info.alias == "scsi0-0-1");
  auto scsi = std::find_if(def.controllers.begin(), def.controllers.end(),
                           [](const ControllerDef& c) { return c.type == ControllerType::Scsi; });
  REQUIRE(scsi != def.controllers.end());
  CHECK(scsi->info.alias == "scsi0");
  CHECK(scsi->model == "lsilogic");
  CHECK(pci(scsi->info) == "0000:00:07.0");

  auto sata = apply(def, "<disk type='file'><source file='/img/s.qcow2'/><target dev='sdc' bus='sata'/></disk>",
                    DeviceAction::Attach, DeviceScope::Live);
  REQUIRE_FALSE(sata.has_value());
  CHECK(errorText(sata.error()) ==
        "1 20\ninternal error: Could not find sata controller with index 0 required for device");

  auto n1 = apply(def, "<interface type='user'><mac address='52:54:00:aa:bb:01'/><model type='virtio'/></interface>",
                  DeviceAction::Attach, DeviceScope::Live);
  REQUIRE(n1.has_value());
  CHECK(netOf(*n1).info.alias == "net1");
  CHECK(pci(netOf(*n1).info) == "0000:00:08.0");
  // a duplicate MAC is accepted; a non-user alias is dropped (attach parses as inactive)
  auto n2 = apply(def, "<interface type='user'><mac address='52:54:00:11:22:33'/><alias name='foo1'/></interface>",
                  DeviceAction::Attach, DeviceScope::Live);
  REQUIRE(n2.has_value());
  CHECK(netOf(*n2).info.alias == "net2");
  CHECK(pci(netOf(*n2).info) == "0000:00:09.0");
  // a user alias is the QEMU id
  auto ua = apply(def, "<disk type='file'><source file='/img/c.qcow2'/><target dev='vdd'/><alias name='ua-x'/></disk>",
                  DeviceAction::Attach, DeviceScope::Live);
  REQUIRE(ua.has_value());
  CHECK(diskOf(*ua).info.alias == "ua-x");
  auto uaDup = apply(def, "<interface type='user'><mac address='52:54:00:aa:bb:77'/><alias name='ua-x'/></interface>",
                     DeviceAction::Attach, DeviceScope::Live);
  REQUIRE_FALSE(uaDup.has_value());
  CHECK(errorText(uaDup.error()) == "67 20\nunsupported configuration: non unique alias detected: ua-x");

  // the live definition formats with the new aliases
  const std::string xml = formatDomainDef(def, 0, 1);
  CHECK(xml.find("<alias name='virtio-disk1'/>") != std::string::npos);
  CHECK(xml.find("<alias name='net2'/>") != std::string::npos);
}

TEST_CASE("live detach: lookups and the devices QEMU cannot unplug") {
  DomainDef def = liveGuest();
  auto check = [&](const std::string& xml, const std::string& expected) {
    CAPTURE(xml);
    auto r = apply(def, xml, DeviceAction::Detach, DeviceScope::Live);
    REQUIRE_FALSE(r.has_value());
    CHECK(errorText(r.error()) == expected);
  };
  check("<disk type='file'><target dev='vdz'/></disk>", "99 10\ndevice not found: disk vdz not found");
  check("<disk type='file' device='cdrom'><target dev='hdc'/></disk>",
        "84 10\nOperation not supported: disk device type 'cdrom' cannot be detached");
  check("<disk type='file'><target dev='hdb'/></disk>",
        "84 10\nOperation not supported: This type of disk cannot be hot unplugged");
  check("<interface type='user'><mac address='52:54:00:de:ad:01'/></interface>",
        "99 20\ndevice not found: no device found at address '(<null>)' matching MAC address '52:54:00:de:ad:01' "
        "and alias '(<null>)'");
  check("<graphics type='vnc'/>", "84 10\nOperation not supported: live detach of device 'graphics' is not supported");

  REQUIRE(apply(def, "<interface type='user'><mac address='52:54:00:aa:bb:01'/></interface>", DeviceAction::Attach,
                DeviceScope::Live)
              .has_value());
  check("<interface type='user'/>", "9 20\noperation failed: multiple matching devices found");
  // a live detach may name the device by its QEMU alias
  DeviceDef byAlias = parseDev("<interface type='user'><alias name='net1'/></interface>", DeviceAction::Detach,
                               DeviceScope::Live);
  auto found = findDevice(def, byAlias, kDom, DeviceScope::Live);
  REQUIRE(found.has_value());
  CHECK(formatMac(*netOf(*found).mac) == "52:54:00:aa:bb:01");
  CHECK(def.nets.size() == 2);  // findDevice leaves the definition alone
  auto removed = detachDevice(def, byAlias, kDom, DeviceScope::Live);
  REQUIRE(removed.has_value());
  CHECK(netOf(*removed).info.alias == "net1");
  REQUIRE(def.nets.size() == 1);

  // virsh detach-disk --live sends the element of the live XML
  auto vda = apply(def, R"(<disk type="file" device="disk">
      <driver name="qemu" type="qcow2"/>
      <source file="/img/a.qcow2" index="2"/>
      <backingStore/>
      <target dev="vda" bus="virtio"/>
      <alias name="virtio-disk0"/>
      <address type="pci" domain="0x0000" bus="0x00" slot="0x04" function="0x0"/>
    </disk>)", DeviceAction::Detach, DeviceScope::Live);
  REQUIRE(vda.has_value());
  CHECK(diskOf(*vda).info.alias == "virtio-disk0");
  CHECK(def.disks.size() == 2);

  // a config detach ignores QEMU aliases (only user aliases are parsed)
  DeviceDef cfg = parseDev("<interface type='user'><alias name='net0'/></interface>", DeviceAction::Detach);
  CHECK(std::get<NetDef>(cfg.dev).info.alias.empty());
}

TEST_CASE("parseDeviceXml: device kinds and wording per action and scope") {
  auto err = [](const std::string& xml, DeviceAction a, DeviceScope s) {
    auto r = parseDeviceXml(xml, kDom, a, s);
    REQUIRE_FALSE(r.has_value());
    return errorText(r.error());
  };
  CHECK(err("<graphics type='vnc'/>", DeviceAction::Attach, DeviceScope::Live) ==
        "84 10\nOperation not supported: live attach of device 'graphics' is not supported");
  CHECK(err("<graphics type='vnc'/>", DeviceAction::Attach, DeviceScope::Config) ==
        "84 10\nOperation not supported: persistent attach of device 'graphics' is not supported");
  CHECK(err("<serial type='pty'/>", DeviceAction::Detach, DeviceScope::Config) ==
        "84 10\nOperation not supported: persistent detach of device 'chr' is not supported");
  CHECK(err("<frob/>", DeviceAction::Attach, DeviceScope::Config) ==
        "67 20\nunsupported configuration: unknown device type 'frob'");
  // detach parses without validation: a disk without source is fine
  DeviceDef d = parseDev("<disk type='file' device='disk'><target dev='vdb'/></disk>", DeviceAction::Detach);
  CHECK(diskOf(d).bus == DiskBus::Virtio);
  CHECK(err("<disk type='file' device='disk'><target dev='vdb'/></disk>", DeviceAction::Attach,
            DeviceScope::Config) == "19 20\nmissing source information for device vdb");

  DeviceDef net = parseDev("<interface type='bridge'><mac address='52:54:00:aa:bb:02'/><source bridge='br0'/>"
                           "<model type='virtio'/></interface>");
  CHECK_FALSE(net.macGenerated);
  CHECK(formatDeviceXml(net, kFormatInactive) ==
        "<interface type='bridge'>\n  <mac address='52:54:00:aa:bb:02'/>\n  <source bridge='br0'/>\n"
        "  <model type='virtio'/>\n</interface>\n");
}
