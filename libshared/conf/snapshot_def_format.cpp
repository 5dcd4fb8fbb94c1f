// Domain snapshot XML formatting: libvirt 9.0's virDomainSnapshotDefFormat.
// The embedded domain comes from formatDomainDef and is shifted one level in,
// the way libvirt's buffer indentation does it.
#include "conf/snapshot_def.hpp"

#include "conf/xml.hpp"

namespace splitvirt::conf {

namespace {

// virDomainDiskSourceFormat for the modelled source kinds; like
// virXMLFormatElement, nothing at all when there is nothing to say.
void formatSource(XmlWriter& w, const SnapshotDiskDef& d) {
  switch (d.type) {
    case DiskType::File:
      if (d.path) w.open("source").attr("file", *d.path).close();
      return;
    case DiskType::Block:
      if (d.path) w.open("source").attr("dev", *d.path).close();
      return;
    case DiskType::Network:
      if (!d.protocol) return;
      w.open("source").attr("protocol", *d.protocol).attrIf("name", d.path);
      for (const auto& h : d.hosts) {
        w.open("host");
        if (!h.name.empty()) w.attr("name", h.name);
        if (h.port) w.attr("port", h.port);
        if (!h.transport.empty()) w.attr("transport", h.transport);
        w.attrIf("socket", h.socket);
        w.close();
      }
      w.close();
      return;
    default: return;
  }
}

// virDomainSnapshotDiskDefFormat
void formatDisk(XmlWriter& w, const SnapshotDiskDef& d) {
  w.open("disk").attr("name", d.name);
  if (d.snapshot != SnapshotLocation::Default) w.attr("snapshot", snapshotLocationName(d.snapshot));
  if (d.path || d.format) w.attr("type", storageTypeName(d.type));
  if (d.deleteInProgress) w.empty("snapshotDeleteInProgress");
  if (d.path || d.format) {
    if (d.format || d.metadataCacheMaxSize) {
      w.open("driver").attrIf("type", d.format);
      if (d.metadataCacheMaxSize) {
        w.open("metadata_cache");
        w.open("max_size").attr("unit", "bytes").text(std::to_string(d.metadataCacheMaxSize)).close();
        w.close();
      }
      w.close();
    }
    formatSource(w, d);
  }
  w.close();
}

void formatDiskList(XmlWriter& w, std::string_view element, const std::vector<SnapshotDiskDef>& disks) {
  if (disks.empty()) return;
  w.open(element);
  for (const auto& d : disks) formatDisk(w, d);
  w.close();
}

// A formatted domain (indentation 0, newline-terminated) moved one level in,
// root renamed: libvirt's buffer indents every line it starts, so lines
// that continue a multi-line text value keep their column. Such lines never
// start with '<' after blanks, as text is escaped.
std::string nestDomain(const std::string& xml, std::string_view rootName) {
  std::string out;
  out.reserve(xml.size() + xml.size() / 8);
  size_t pos = 0;
  bool first = true;
  while (pos < xml.size()) {
    size_t nl = xml.find('\n', pos);
    size_t end = nl == std::string::npos ? xml.size() : nl;
    std::string_view line(xml.data() + pos, end - pos);
    size_t lead = line.find_first_not_of(' ');
    bool tagLine = lead != std::string_view::npos && line[lead] == '<';
    // The first line is indented by XmlWriter::raw.
    if (tagLine && !first) out += "  ";
    out += line;
    if (nl != std::string::npos && nl + 1 < xml.size()) out += '\n';
    pos = end + 1;
    first = false;
  }
  if (rootName != "domain") {
    std::string open = "<" + std::string(rootName);
    if (out.starts_with("<domain")) out.replace(0, 7, open);
    std::string_view closeTag = "</domain>";
    if (out.ends_with(closeTag))
      out.replace(out.size() - closeTag.size(), closeTag.size(), "</" + std::string(rootName) + ">");
  }
  return out;
}

}  // namespace

std::string_view storageTypeName(DiskType t) {
  switch (t) {
    case DiskType::File: return "file";
    case DiskType::Block: return "block";
    case DiskType::Dir: return "dir";
    case DiskType::Network: return "network";
    case DiskType::Volume: return "volume";
    case DiskType::Nvme: return "nvme";
    case DiskType::Vhostuser: return "vhostuser";
  }
  return "file";
}

unsigned snapshotFormatFlagsFromXmlFlags(unsigned xmlFlags) {
  return (xmlFlags & kSnapshotXmlSecure) ? kSnapshotFormatSecure : 0;
}

std::string formatSnapshotDef(const SnapshotDef& def, unsigned flags, const Uuid* vmUuid) {
  const bool internal = flags & kSnapshotFormatInternal;
  unsigned domFlags = kFormatInactive | ((flags & kSnapshotFormatSecure) ? kFormatSecure : 0);

  XmlWriter w;
  w.open("domainsnapshot");
  w.textElement("name", def.name);
  w.textElementIf("description", def.description);
  if (def.state != SnapshotState::NoState) w.textElement("state", snapshotStateName(def.state));
  if (def.parentName) w.open("parent").textElement("name", *def.parentName).close();
  if (def.creationTime) w.textElement("creationTime", std::to_string(def.creationTime));
  if (def.memory != SnapshotLocation::Default) {
    w.open("memory").attr("snapshot", snapshotLocationName(def.memory)).attrIf("file", def.memoryFile).close();
  }
  formatDiskList(w, "disks", def.disks);
  if (internal) formatDiskList(w, "revertDisks", def.revertDisks);
  if (def.dom) {
    w.raw(nestDomain(formatDomainDef(*def.dom, domFlags, -1), "domain"));
  } else if (vmUuid) {
    w.open("domain").textElement("uuid", formatUuid(*vmUuid)).close();
  }
  if (def.inactiveDom) w.raw(nestDomain(formatDomainDef(*def.inactiveDom, domFlags, -1), "inactiveDomain"));
  if (internal) w.textElement("active", (flags & kSnapshotFormatCurrent) ? "1" : "0");
  w.close();
  return w.take();
}

}  // namespace splitvirt::conf
