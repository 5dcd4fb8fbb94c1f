// Domain snapshot XML parsing: libvirt 9.0's virDomainSnapshotDefParse and
// virDomainSnapshotDiskDefParseXML. Checks run in libvirt's order, since the
// first failure is what virsh shows.
#include "conf/snapshot_def.hpp"

#include "conf/schema.hpp"
#include "conf/xml.hpp"
#include "util/log.hpp"

#include <chrono>
#include <limits>

namespace splitvirt::conf {

namespace {

using Names = std::vector<std::string_view>;

const Names kStateNames = {"nostate", "running", "blocked",     "paused",       "shutdown",
                           "shutoff", "crashed", "pmsuspended", "disk-snapshot"};
const Names kLocationNames = {"default", "no", "internal", "external", "manual"};
// virStorageType; index == DiskType value.
const Names kStorageTypeNames = {"none", "file", "block", "dir", "network", "volume", "nvme", "vhostuser"};
// virStorageFileFormat: "none" (index 0) is refused like an unknown name.
const Names kFormatNames = {"none", "raw", "dir",  "bochs", "cloop", "dmg",  "iso",  "vpc",  "vdi",
                            "fat",  "vhd", "ploop", "cow",  "qcow", "qcow2", "qed", "vmdk"};
const Names kNetProtocolNames = {"none",  "nbd",  "rbd",  "sheepdog", "gluster", "iscsi", "http",
                                 "https", "ftp", "ftps", "tftp",     "ssh",     "vxhs",  "nfs"};
const Names kHostTransportNames = {"tcp", "unix", "rdma"};

int indexOf(const Names& names, std::string_view s) {
  for (size_t i = 0; i < names.size(); i++)
    if (names[i] == s) return static_cast<int>(i);
  return -1;
}

constexpr ErrorDomain kSnap = kFromDomainSnapshot;

// virStringParsePort (VIR_FROM_NONE).
Result<unsigned> parsePort(const std::string& s) {
  auto p = strToUIntp(s);
  if (!p) return Error::invalidArg(ErrorDomain::None, "failed to parse port number '" + s + "'");
  if (*p > 65535) return Error::invalidArg(ErrorDomain::None, "port '" + s + "' out of range");
  return *p;
}

// virDomainStorageNetworkParseHost (domain_conf.c: VIR_FROM_DOMAIN).
Result<SnapshotNetHost> parseHost(XmlNode node) {
  SnapshotNetHost h;
  auto transport = node.attr("transport");
  int t = 0;
  if (transport) {
    t = indexOf(kHostTransportNames, *transport);
    if (t < 0)
      return Error::configUnsupported(ErrorDomain::Domain, "unknown protocol transport type '" + *transport + "'");
    if (t > 0) h.transport = *transport;
  }
  h.socket = node.attr("socket");
  if (t == 1 && !h.socket) return Error::xmlError(ErrorDomain::Domain, "missing socket for unix transport");
  if (t != 1 && h.socket)
    return Error::xmlError(ErrorDomain::Domain,
                           "transport '" + transport.value_or("(null)") + "' does not support socket attribute");
  if (t != 1) {
    auto name = node.attr("name");
    if (!name) return Error::xmlError(ErrorDomain::Domain, "missing name for host");
    h.name = *name;
    if (auto port = node.attr("port")) SV_TRY_ASSIGN(h.port, parsePort(*port));
  }
  return h;
}

// virDomainStorageSourceParse for the source kinds a snapshot target has.
Result<void> parseSource(XmlNode src, SnapshotDiskDef& disk) {
  switch (disk.type) {
    case DiskType::File: disk.path = src.attr("file"); break;
    case DiskType::Block: disk.path = src.attr("dev"); break;
    case DiskType::Network: {
      std::optional<unsigned> proto;
      SV_TRY_ASSIGN(proto, propEnum(src, "protocol", kNetProtocolNames, kPropRequired | kPropNonZero));
      disk.protocol = std::string(kNetProtocolNames[*proto]);
      disk.path = src.attr("name");
      if (!disk.path && *disk.protocol != "nbd")
        return Error::xmlError(ErrorDomain::Domain, "missing name for disk source");
      if (disk.path && (*disk.protocol == "gluster" || *disk.protocol == "rbd")) {
        // Kept whole ("volume/image"), but it must split as libvirt splits it.
        auto slash = disk.path->find('/');
        if (slash == std::string::npos || slash == 0)
          return Error::xmlError(ErrorDomain::Domain,
                                 "can't split path '" + *disk.path + "' into pool name and image name");
      }
      for (XmlNode h : src.children("host")) {
        SnapshotNetHost host;
        SV_TRY_ASSIGN(host, parseHost(h));
        disk.hosts.push_back(std::move(host));
      }
      break;
    }
    default: break;  // nvme, vhost-user: nothing modelled
  }
  // A bogus '' path means "no source" (libvirt's compatibility rule).
  if (disk.path && disk.path->empty()) disk.path.reset();
  return {};
}

// virParseScaledValue("./driver/metadata_cache/max_size", ..., 1, ULLONG_MAX, false)
Result<void> parseMetadataCache(XmlNode driver, SnapshotDiskDef& disk) {
  XmlNode maxSize = driver.child("metadata_cache").child("max_size");
  if (!maxSize) return {};
  std::string text = maxSize.text();
  if (text.empty()) return {};
  auto bytes = strToULLp(text);
  if (!bytes)
    return Error::xmlError(kFromXml, "Invalid value '" + text +
                                         "' for element or attribute './driver/metadata_cache/max_size'");
  SV_TRY_ASSIGN(disk.metadataCacheMaxSize,
                scaleInteger(*bytes, maxSize.attr("unit").value_or(""), 1, std::numeric_limits<uint64_t>::max()));
  return {};
}

// virDomainSnapshotDiskDefParseXML
Result<SnapshotDiskDef> parseDisk(XmlNode node, unsigned flags) {
  SnapshotDiskDef disk;
  auto name = node.attr("name");
  if (!name) return Error::internal(kSnap, "missing name from disk snapshot element");
  disk.name = *name;

  std::optional<unsigned> v;
  SV_TRY_ASSIGN(v, propEnum(node, "snapshot", kLocationNames, kPropNonZero));
  if (v) disk.snapshot = static_cast<SnapshotLocation>(*v);
  SV_TRY_ASSIGN(v, propEnum(node, "type", kStorageTypeNames, kPropNonZero));
  if (v) disk.type = static_cast<DiskType>(*v);
  if (disk.type == DiskType::Volume || disk.type == DiskType::Dir)
    return Error::xmlError(kSnap, "unsupported disk snapshot type '" +
                                      std::string(kStorageTypeNames[static_cast<size_t>(disk.type)]) + "'");

  if (flags & kSnapshotParseRedefine) disk.deleteInProgress = static_cast<bool>(node.child("snapshotDeleteInProgress"));

  if (XmlNode src = node.child("source")) SV_TRY_VOID(parseSource(src, disk));

  XmlNode driver = node.child("driver");
  if (auto type = driver ? driver.attr("type") : std::nullopt; type && !type->empty()) {
    if (indexOf(kFormatNames, *type) <= 0)
      return Error::configUnsupported(kSnap, "unknown disk snapshot driver '" + *type + "'");
    disk.format = *type;
  }
  if (driver) SV_TRY_VOID(parseMetadataCache(driver, disk));

  bool local = disk.type == DiskType::File || disk.type == DiskType::Block;
  if (local && disk.path && !disk.path->starts_with('/'))
    return Error::xmlError(kSnap, "disk snapshot image path '" + *disk.path + "' must be absolute");

  if (disk.snapshot == SnapshotLocation::Default && (disk.path || disk.format))
    disk.snapshot = SnapshotLocation::External;
  return disk;
}

Result<std::vector<SnapshotDiskDef>> parseDiskList(XmlNode list, unsigned flags) {
  std::vector<SnapshotDiskDef> out;
  // libvirt takes every element child ("./disks/*"), whatever its name.
  for (XmlNode n : list.children()) {
    SnapshotDiskDef d;
    SV_TRY_ASSIGN(d, parseDisk(n, flags));
    out.push_back(std::move(d));
  }
  return out;
}

// virDomainDefParseNode on ./domain or ./inactiveDomain (a domain whose root
// has another name).
Result<std::shared_ptr<const DomainDef>> parseEmbeddedDomain(XmlNode node) {
  std::string xml = node.dumpFormatted(0);
  std::string_view root = node.name();
  if (root != "domain") {
    // "<inactiveDomain ...>...</inactiveDomain>" -> "<domain ...>...</domain>"
    std::string open = "<" + std::string(root);
    std::string close = "</" + std::string(root) + ">";
    if (xml.starts_with(open)) xml.replace(0, open.size(), "<domain");
    if (auto pos = xml.rfind(close); pos != std::string::npos) xml.replace(pos, close.size(), "</domain>");
  }
  auto def = parseDomainDef(xml, 0, ErrorDomain::Domain);
  if (!def) return def.error();
  return std::make_shared<const DomainDef>(std::move(*def));
}

long long clockNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The REDEFINE-only part: creation time, parent, state, domains. Returns
// whether the recorded state makes the snapshot an offline one.
Result<bool> parseRedefined(XmlNode root, SnapshotDef& def) {
  auto ctime = root.childText("creationTime");
  auto ct = ctime ? strToLL(*ctime) : std::nullopt;
  if (!ct) return Error::internal(kSnap, "missing creationTime from existing snapshot");
  def.creationTime = *ct;

  def.parentName = root.child("parent").childText("name");

  auto state = root.childText("state");
  if (!state) return Error::xmlError(kSnap, "missing state from existing snapshot");
  int s = indexOf(kStateNames, *state);
  if (s <= 0) return Error::configUnsupported(kSnap, "Invalid state '" + *state + "' in domain snapshot XML");
  def.state = static_cast<SnapshotState>(s);
  bool offline = def.state == SnapshotState::Shutoff || def.state == SnapshotState::DiskSnapshot;

  // Snapshots of libvirt < 0.9.5 have just <domain><uuid>: no type, no dom.
  XmlNode dom = root.child("domain");
  if (auto type = dom ? dom.attr("type") : std::nullopt; type && !type->empty()) {
    SV_TRY_ASSIGN(def.dom, parseEmbeddedDomain(dom));
  } else {
    log::warn("parsing older snapshot that lacks domain");
  }
  if (XmlNode inactive = root.child("inactiveDomain")) SV_TRY_ASSIGN(def.inactiveDom, parseEmbeddedDomain(inactive));
  return offline;
}

Result<void> parseMemory(XmlNode root, SnapshotDef& def, unsigned flags, bool offline) {
  if (XmlNode mem = root.child("memory")) {
    def.memoryFile = mem.attr("file");
    std::optional<unsigned> v;
    SV_TRY_ASSIGN(v, propEnum(mem, "snapshot", kLocationNames, kPropNonZero));
    if (v) def.memory = static_cast<SnapshotLocation>(*v);
    if (def.memory == SnapshotLocation::Manual)
      return Error::xmlError(kSnap, "'manual' memory snapshot mode not supported");
  }
  if (def.memory == SnapshotLocation::Default) {
    if (def.memoryFile)
      def.memory = SnapshotLocation::External;
    else if (flags & kSnapshotParseRedefine)
      def.memory = offline ? SnapshotLocation::No : SnapshotLocation::Internal;
  }
  if (def.memoryFile && def.memory != SnapshotLocation::External)
    return Error::xmlError(kSnap, "memory filename '" + *def.memoryFile + "' requires external snapshot");
  if (!def.memoryFile && def.memory == SnapshotLocation::External)
    return Error::xmlError(kSnap, "external memory snapshots require a filename");
  if (offline && def.memory != SnapshotLocation::Default && def.memory != SnapshotLocation::No)
    return Error::xmlError(kSnap, "memory state cannot be saved with offline or disk-only snapshot");
  if (def.memoryFile && !def.memoryFile->starts_with('/'))
    return Error::xmlError(kSnap, "memory snapshot file path (" + *def.memoryFile + ") must be absolute");
  return {};
}

}  // namespace

std::string_view snapshotStateName(SnapshotState s) { return kStateNames[static_cast<size_t>(s)]; }
std::string_view snapshotLocationName(SnapshotLocation l) { return kLocationNames[static_cast<size_t>(l)]; }

bool SnapshotDef::isExternal() const {
  if (memory == SnapshotLocation::External) return true;
  for (const auto& d : disks)
    if (d.snapshot == SnapshotLocation::External) return true;
  return false;
}

Result<ParsedSnapshot> parseSnapshotDef(std::string_view xml, const SnapshotParseOptions& opts) {
  const unsigned flags = opts.flags;
  auto parsed = XmlDoc::parse(xml, "(domain_snapshot)", "domainsnapshot", kSnap);
  if (!parsed) return parsed.error();
  XmlDoc doc = std::move(*parsed);
  if (flags & kSnapshotParseValidate) SV_TRY_VOID(validateDocAgainstSchema(doc, kDomainSnapshotSchemaPath));
  XmlNode root = doc.root();

  ParsedSnapshot out;
  SnapshotDef& def = out.def;
  bool offline = flags & kSnapshotParseOffline;

  auto name = root.childText("name");
  if (!name && (flags & kSnapshotParseRedefine))
    return Error::xmlError(kSnap, "a redefined snapshot must have a name");
  def.description = root.childText("description");

  if (flags & kSnapshotParseRedefine) {
    def.name = *name;
    SV_TRY_ASSIGN(offline, parseRedefined(root, def));
  } else {
    // virDomainMomentDefPostParse
    def.creationTime = opts.now ? *opts.now : clockNow();
    def.name = name ? *name : std::to_string(def.creationTime);
  }

  SV_TRY_VOID(parseMemory(root, def, flags, offline));

  SV_TRY_ASSIGN(def.disks, parseDiskList(root.child("disks"), flags));
  if (flags & kSnapshotParseRedefine) SV_TRY_ASSIGN(def.revertDisks, parseDiskList(root.child("revertDisks"), flags));

  if (flags & kSnapshotParseInternal) {
    auto active = root.childText("active");
    auto a = active ? strToInt(*active) : std::nullopt;
    if (!a) return Error::internal(kSnap, "Could not find 'active' element");
    out.current = *a != 0;
  }
  return out;
}

}  // namespace splitvirt::conf
