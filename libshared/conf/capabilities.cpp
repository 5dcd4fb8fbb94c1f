// virCapabilitiesFormatXML (libvirt 9.0 src/conf/capabilities.c) as plain
// text output: same element order, indentation, blank lines and attributes.
#include "conf/capabilities.hpp"

#include <sstream>
#include <string_view>

namespace splitvirt::conf {
namespace {

// virBufferEscapeString's rules for text and attribute values.
std::string esc(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '\'': out += "&apos;"; break;
      case '"': out += "&quot;"; break;
      default:
        // libvirt drops control characters other than TAB/LF/CR.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') break;
        out += c;
    }
  }
  return out;
}

// A line writer with libvirt's two-space indentation.
class Out {
 public:
  void line(std::string_view text) {
    s_.append(static_cast<size_t>(indent_), ' ');
    s_ += text;
    s_ += '\n';
  }
  void blank() { s_ += '\n'; }
  void in() { indent_ += 2; }
  void out() { indent_ -= 2; }
  std::string take() { return std::move(s_); }

 private:
  std::string s_;
  int indent_ = 0;
};

std::string machineLine(const GuestMachine& m) {
  std::string l = "<machine";
  if (m.canonical) l += " canonical='" + esc(*m.canonical) + "'";
  if (m.maxCpus > 0) l += " maxCpus='" + std::to_string(m.maxCpus) + "'";
  if (m.deprecated) l += " deprecated='yes'";
  l += ">" + esc(m.name) + "</machine>";
  return l;
}

void formatCpu(Out& o, const HostCpuCaps& c) {
  o.line("<cpu>");
  o.in();
  if (!c.arch.empty()) o.line("<arch>" + esc(c.arch) + "</arch>");
  if (!c.model.empty()) o.line("<model>" + esc(c.model) + "</model>");
  if (!c.vendor.empty()) o.line("<vendor>" + esc(c.vendor) + "</vendor>");
  if (c.microcode) o.line("<microcode version='" + std::to_string(c.microcode) + "'/>");
  if (c.sigFamily)
    o.line("<signature family='" + std::to_string(c.sigFamily) + "' model='" + std::to_string(c.sigModel) +
           "' stepping='" + std::to_string(c.sigStepping) + "'/>");
  if (c.tscFrequency) {
    std::string l = "<counter name='tsc' frequency='" + std::to_string(c.tscFrequency) + "'";
    if (c.tscScaling) l += std::string(" scaling='") + (*c.tscScaling ? "yes" : "no") + "'";
    o.line(l + "/>");
  }
  if (c.sockets && c.dies && c.cores && c.threads)
    o.line("<topology sockets='" + std::to_string(c.sockets) + "' dies='" + std::to_string(c.dies) + "' cores='" +
           std::to_string(c.cores) + "' threads='" + std::to_string(c.threads) + "'/>");
  if (c.maxPhysAddrBits >= 0) o.line("<maxphysaddr mode='emulate' bits='" + std::to_string(c.maxPhysAddrBits) + "'/>");
  for (auto& f : c.features) o.line("<feature name='" + esc(f) + "'/>");
  for (unsigned p : c.pageSizesKiB) o.line("<pages unit='KiB' size='" + std::to_string(p) + "'/>");
  o.out();
  o.line("</cpu>");
}

void formatNuma(Out& o, const std::vector<NumaCellCaps>& cells) {
  o.line("<topology>");
  o.in();
  o.line("<cells num='" + std::to_string(cells.size()) + "'>");
  o.in();
  for (auto& cell : cells) {
    o.line("<cell id='" + std::to_string(cell.id) + "'>");
    o.in();
    if (cell.memoryKiB) o.line("<memory unit='KiB'>" + std::to_string(cell.memoryKiB) + "</memory>");
    for (auto& [size, count] : cell.pages)
      o.line("<pages unit='KiB' size='" + std::to_string(size) + "'>" + std::to_string(count) + "</pages>");
    if (!cell.distances.empty()) {
      o.line("<distances>");
      o.in();
      for (auto& [id, v] : cell.distances)
        o.line("<sibling id='" + std::to_string(id) + "' value='" + std::to_string(v) + "'/>");
      o.out();
      o.line("</distances>");
    }
    o.line("<cpus num='" + std::to_string(cell.cpus.size()) + "'>");
    o.in();
    for (auto& cpu : cell.cpus) {
      std::string l = "<cpu id='" + std::to_string(cpu.id) + "'";
      if (cpu.hasTopology)
        l += " socket_id='" + std::to_string(cpu.socketId) + "' die_id='" + std::to_string(cpu.dieId) +
             "' core_id='" + std::to_string(cpu.coreId) + "' siblings='" + esc(cpu.siblings) + "'";
      o.line(l + "/>");
    }
    o.out();
    o.line("</cpus>");
    o.out();
    o.line("</cell>");
  }
  o.out();
  o.line("</cells>");
  o.out();
  o.line("</topology>");
}

void formatHost(Out& o, const HostCaps& h) {
  o.line("<host>");
  o.in();
  if (!h.uuid.empty()) o.line("<uuid>" + esc(h.uuid) + "</uuid>");
  formatCpu(o, h.cpu);
  if (h.powerManagement.empty()) {
    o.line("<power_management/>");
  } else {
    o.line("<power_management>");
    o.in();
    for (auto& t : h.powerManagement) o.line("<" + t + "/>");
    o.out();
    o.line("</power_management>");
  }
  o.line(std::string("<iommu support='") + (h.iommu ? "yes" : "no") + "'/>");
  if (h.offlineMigrate) {
    o.line("<migration_features>");
    o.in();
    if (h.liveMigrate) o.line("<live/>");
    if (!h.migrateTransports.empty()) {
      o.line("<uri_transports>");
      o.in();
      for (auto& t : h.migrateTransports) o.line("<uri_transport>" + esc(t) + "</uri_transport>");
      o.out();
      o.line("</uri_transports>");
    }
    o.out();
    o.line("</migration_features>");
  }
  if (h.cells) formatNuma(o, *h.cells);
  if (!h.cache.empty()) {
    o.line("<cache>");
    o.in();
    for (auto& b : h.cache) {
      auto [size, unit] = formatIntPretty(b.sizeBytes);
      o.line("<bank id='" + std::to_string(b.id) + "' level='" + std::to_string(b.level) + "' type='" + esc(b.type) +
             "' size='" + std::to_string(size) + "' unit='" + unit + "' cpus='" + esc(b.cpus) + "'/>");
    }
    o.out();
    o.line("</cache>");
  }
  for (auto& sm : h.secModels) {
    o.line("<secmodel>");
    o.in();
    o.line("<model>" + esc(sm.model) + "</model>");
    o.line("<doi>" + esc(sm.doi) + "</doi>");
    for (auto& [type, label] : sm.baseLabels)
      o.line("<baselabel type='" + esc(type) + "'>" + esc(label) + "</baselabel>");
    o.out();
    o.line("</secmodel>");
  }
  o.out();
  o.line("</host>");
  o.blank();
}

void formatGuest(Out& o, const GuestCaps& g) {
  o.line("<guest>");
  o.in();
  o.line("<os_type>" + esc(g.osType) + "</os_type>");
  o.line("<arch name='" + esc(g.arch) + "'>");
  o.in();
  o.line("<wordsize>" + std::to_string(g.wordsize) + "</wordsize>");
  if (!g.emulator.empty()) o.line("<emulator>" + esc(g.emulator) + "</emulator>");
  for (auto& m : g.machines) o.line(machineLine(m));
  for (auto& d : g.domains) {
    if (!d.emulator && d.machines.empty()) {
      o.line("<domain type='" + esc(d.type) + "'/>");
      continue;
    }
    o.line("<domain type='" + esc(d.type) + "'>");
    o.in();
    if (d.emulator) o.line("<emulator>" + esc(*d.emulator) + "</emulator>");
    for (auto& m : d.machines) o.line(machineLine(m));
    o.out();
    o.line("</domain>");
  }
  o.out();
  o.line("</arch>");
  if (!g.features.empty()) {
    o.line("<features>");
    o.in();
    for (auto& f : g.features) {
      std::string l = "<" + f.name;
      if (f.defaultOn) l += std::string(" default='") + (*f.defaultOn ? "on" : "off") + "'";
      if (f.toggle) l += std::string(" toggle='") + (*f.toggle ? "yes" : "no") + "'";
      o.line(l + "/>");
    }
    o.out();
    o.line("</features>");
  }
  o.out();
  o.line("</guest>");
  o.blank();
}

}  // namespace

std::vector<GuestFeature> GuestCaps::qemuFeaturesFor(const std::string& arch) {
  // Printed in libvirt's enum order: pae nonpae ia64_be acpi apic
  // cpuselection deviceboot disksnapshot externalSnapshot. The last is
  // libvirt >= 9.9's sign that reverting to external snapshots works.
  std::vector<GuestFeature> f;
  bool x86 = arch == "i686" || arch == "x86_64";
  if (arch == "i686") {
    f.push_back({"pae", {}, {}});
    f.push_back({"nonpae", {}, {}});
  }
  if (x86) {
    f.push_back({"acpi", true, true});
    f.push_back({"apic", true, false});
  }
  f.push_back({"cpuselection", {}, {}});
  f.push_back({"deviceboot", {}, {}});
  f.push_back({"disksnapshot", true, false});
  f.push_back({"externalSnapshot", {}, {}});
  return f;
}

std::pair<uint64_t, const char*> formatIntPretty(uint64_t val) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  size_t u = 0;
  while (u + 1 < sizeof units / sizeof units[0] && val != 0 && val % 1024 == 0) {
    val /= 1024;
    ++u;
  }
  return {val, units[u]};
}

std::string formatCapabilities(const Capabilities& caps) {
  Out o;
  o.line("<capabilities>");
  o.blank();
  o.in();
  formatHost(o, caps.host);
  for (auto& g : caps.guests) formatGuest(o, g);
  o.out();
  o.line("</capabilities>");
  return o.take();
}

}  // namespace splitvirt::conf
