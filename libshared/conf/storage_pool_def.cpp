// Storage pool XML: libvirt 9.0's virStoragePoolDefParseXML /
// virStoragePoolDefFormat with the adapter, auth and permissions helpers.
// Checks run in libvirt's order, since the first failure is what virsh shows.
#include "conf/storage_pool_def.hpp"

#include "conf/schema.hpp"
#include "conf/xml.hpp"

#include <cctype>
#include <cstdio>

namespace splitvirt::conf {

namespace {

using Names = std::vector<std::string_view>;

const Names kPoolTypeNames = {"dir",  "fs",    "netfs", "logical",  "disk",   "iscsi", "iscsi-direct",
                              "scsi", "mpath", "rbd",   "sheepdog", "gluster", "zfs",  "vstorage"};
const Names kFsFormats = {"auto", "ext2", "ext3", "ext4", "ufs",  "iso9660", "udf",
                          "gfs",  "gfs2", "vfat", "hfs+", "xfs",  "ocfs2",   "vmfs"};
const Names kNetfsFormats = {"auto", "nfs", "glusterfs", "cifs"};
const Names kDiskFormats = {"unknown", "dos", "dvh", "gpt", "mac", "bsd", "pc98", "sun", "lvm2"};
const Names kLogicalFormats = {"unknown", "lvm2"};
const Names kNoFormats = {};
const Names kAdapterTypeNames = {"default", "scsi_host", "fc_host"};
const Names kAuthTypeNames = {"none", "chap", "ceph"};
const Names kRefreshAllocationNames = {"default", "capacity"};

// virStoragePoolOptions.flags: the mandatory/printed parts of <source>.
enum : unsigned {
  kSrcHost = 1u << 0,
  kSrcDevice = 1u << 1,
  kSrcDir = 1u << 2,
  kSrcAdapter = 1u << 3,
  kSrcName = 1u << 4,
  kSrcIqn = 1u << 5,
  kSrcNetwork = 1u << 6,
};

struct PoolOptions {
  unsigned flags;
  const Names* formats;  // kNoFormats: no <format>
  std::string_view defaultFormat;
};

PoolOptions poolOptions(PoolType t) {
  switch (t) {
    case PoolType::Logical: return {kSrcName | kSrcDevice, &kLogicalFormats, "lvm2"};
    case PoolType::Dir: return {0, &kNoFormats, ""};
    case PoolType::Fs: return {kSrcDevice, &kFsFormats, "auto"};
    case PoolType::Netfs: return {kSrcHost | kSrcDir, &kNetfsFormats, "auto"};
    case PoolType::Iscsi: return {kSrcHost | kSrcDevice | kSrcIqn, &kNoFormats, ""};
    case PoolType::IscsiDirect: return {kSrcHost | kSrcDevice | kSrcNetwork | kSrcIqn, &kNoFormats, ""};
    case PoolType::Scsi: return {kSrcAdapter, &kNoFormats, ""};
    case PoolType::Rbd: return {kSrcHost | kSrcNetwork | kSrcName, &kNoFormats, ""};
    case PoolType::Sheepdog: return {kSrcHost | kSrcNetwork | kSrcName, &kNoFormats, ""};
    case PoolType::Gluster: return {kSrcHost | kSrcNetwork | kSrcName | kSrcDir, &kNoFormats, ""};
    case PoolType::Mpath: return {0, &kNoFormats, ""};
    case PoolType::Disk: return {kSrcDevice, &kDiskFormats, "unknown"};
    case PoolType::Zfs: return {kSrcName | kSrcDevice, &kNoFormats, ""};
    case PoolType::Vstorage: return {kSrcName, &kNoFormats, ""};
  }
  return {0, &kNoFormats, ""};
}

int indexOf(const Names& names, std::string_view s) {
  for (size_t i = 0; i < names.size(); i++)
    if (names[i] == s) return static_cast<int>(i);
  return -1;
}

// A message passed through libvirt's VIR_ERR_XML_DETAIL ("%s") template.
Error detailErr(ErrorDomain d, std::string msg) { return Error::xmlDetail(d, std::move(msg)); }

// virValidateWWN (virutil.c: VIR_ERR_INTERNAL_ERROR, VIR_FROM_NONE).
Result<void> validateWwn(const std::string& wwn) {
  std::string_view p = wwn;
  if (p.starts_with("0x")) p.remove_prefix(2);
  size_t i = 0;
  while (i < p.size() && std::isxdigit(static_cast<unsigned char>(p[i]))) i++;
  if (i != 16 || i != p.size()) return Error::internal(ErrorDomain::None, "Malformed wwn: " + wwn);
  return {};
}

std::string hex(unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

// virPCIDeviceAddressParseXML + virPCIDeviceAddressIsValid(addr, true).
Result<void> parsePciAddress(XmlNode addr, StorageAdapter& a) {
  std::optional<unsigned> v;
  SV_TRY_ASSIGN(v, propUInt(addr, "domain", 0));
  a.parentDomain = v.value_or(0);
  SV_TRY_ASSIGN(v, propUInt(addr, "bus", 0));
  a.parentBus = v.value_or(0);
  SV_TRY_ASSIGN(v, propUInt(addr, "slot", 0));
  a.parentSlot = v.value_or(0);
  SV_TRY_ASSIGN(v, propUInt(addr, "function", 0));
  a.parentFunction = v.value_or(0);
  std::optional<bool> multi;
  SV_TRY_ASSIGN(multi, propOnOff(addr, "multifunction"));
  auto bad = [](std::string msg) { return Error::xmlError(ErrorDomain::None, std::move(msg)); };
  if (a.parentBus > 0xFF) return bad("Invalid PCI address bus='" + hex(a.parentBus) + "', must be <= 0xFF");
  if (a.parentSlot > 0x1F) return bad("Invalid PCI address slot='" + hex(a.parentSlot) + "', must be <= 0x1F");
  if (a.parentFunction > 7) return bad("Invalid PCI address function=" + hex(a.parentFunction) + ", must be <= 7");
  return {};
}

// virStorageAdapterParseXML
Result<StorageAdapter> parseAdapter(XmlNode node, ErrorDomain d) {
  StorageAdapter a;
  std::optional<unsigned> type;
  SV_TRY_ASSIGN(type, propEnum(node, "type", kAdapterTypeNames, kPropNonZero));
  if (!type) {
    // The legacy form: only name= (a scsi_host).
    if (node.attr("wwnn") || node.attr("wwpn") || node.attr("parent"))
      return Error::xmlError(d, "Use of 'wwnn', 'wwpn', and 'parent' attributes requires use of the adapter 'type'");
    if (node.child("parentaddr"))
      return Error::xmlError(d, "Use of 'parentaddr' element requires use of the adapter 'type'");
    if ((a.name = node.attr("name"))) a.type = StorageAdapterType::ScsiHost;
    return a;
  }
  a.type = static_cast<StorageAdapterType>(*type);
  if (a.type == StorageAdapterType::FcHost) {
    SV_TRY_ASSIGN(a.managed, propYesNo(node, "managed"));
    a.parent = node.attr("parent");
    a.parentWwnn = node.attr("parent_wwnn");
    a.parentWwpn = node.attr("parent_wwpn");
    a.parentFabricWwn = node.attr("parent_fabric_wwn");
    a.wwpn = node.attr("wwpn");
    a.wwnn = node.attr("wwnn");
  } else {
    a.name = node.attr("name");
    if (XmlNode pa = node.child("parentaddr")) {
      XmlNode addr = pa.child("address");
      if (!addr) return Error::xmlError(d, "Missing scsi_host PCI address element");
      a.hasParentAddr = true;
      SV_TRY_VOID(parsePciAddress(addr, a));
      auto uid = pa.attr("unique_id");
      auto n = uid && !uid->empty() ? strToInt(*uid) : std::nullopt;
      if (!n || *n < 0) return Error::xmlError(d, "Missing or invalid scsi adapter 'unique_id' value");
      a.uniqueId = *n;
    }
  }
  return a;
}

// virStorageAdapterValidate
Result<void> validateAdapter(const StorageAdapter& a, ErrorDomain d) {
  if (a.type == StorageAdapterType::Default) return Error::xmlError(d, "missing storage pool source adapter");
  if (a.type == StorageAdapterType::FcHost) {
    if (!a.wwnn || !a.wwpn)
      return Error::xmlError(d, "'wwnn' and 'wwpn' must be specified for adapter type 'fchost'");
    SV_TRY_VOID(validateWwn(*a.wwnn));
    SV_TRY_VOID(validateWwn(*a.wwpn));
    if (a.parentWwnn && !a.parentWwpn)
      return Error::xmlError(d, "when providing parent_wwnn='" + *a.parentWwnn +
                                    "', the parent_wwpn must also be provided");
    if (!a.parentWwnn && a.parentWwpn)
      return Error::xmlError(d, "when providing parent_wwpn='" + *a.parentWwpn +
                                    "', the parent_wwnn must also be provided");
    if (a.parentWwnn) SV_TRY_VOID(validateWwn(*a.parentWwnn));
    if (a.parentWwpn) SV_TRY_VOID(validateWwn(*a.parentWwpn));
    if (a.parentFabricWwn) SV_TRY_VOID(validateWwn(*a.parentFabricWwn));
    return {};
  }
  if (!a.name && !a.hasParentAddr)
    return Error::xmlError(d, "Either 'name' or 'parent' must be specified for the 'scsi_host' adapter");
  if (a.name && a.hasParentAddr)
    return Error::xmlError(d, "Both 'name' and 'parent' cannot be specified for the 'scsi_host' adapter");
  return {};
}

void formatAdapter(XmlWriter& w, const StorageAdapter& a) {
  w.open("adapter").attr("type", kAdapterTypeNames[static_cast<size_t>(a.type)]);
  if (a.type == StorageAdapterType::FcHost) {
    w.attrIf("parent", a.parent).attrIf("parent_wwnn", a.parentWwnn).attrIf("parent_wwpn", a.parentWwpn);
    w.attrIf("parent_fabric_wwn", a.parentFabricWwn).attrYesNo("managed", a.managed);
    w.attr("wwnn", a.wwnn.value_or("")).attr("wwpn", a.wwpn.value_or(""));
  } else if (a.name) {
    w.attr("name", *a.name);
  } else {
    char buf[96];
    std::snprintf(buf, sizeof buf, "0x%04x", a.parentDomain);
    std::string domain = buf;
    std::snprintf(buf, sizeof buf, "0x%02x", a.parentBus);
    std::string bus = buf;
    std::snprintf(buf, sizeof buf, "0x%02x", a.parentSlot);
    std::string slot = buf;
    w.open("parentaddr").attr("unique_id", a.uniqueId);
    w.open("address").attr("domain", domain).attr("bus", bus).attr("slot", slot);
    w.attr("function", "0x" + std::to_string(a.parentFunction)).close();
    w.close();
  }
  w.close();
}

// virStorageAuthDefParse plus the pool's "missing auth type" check.
Result<StorageAuth> parseAuth(XmlNode node, ErrorDomain d) {
  StorageAuth auth;
  auto user = node.attr("username");
  if (!user || user->empty()) return Error::xmlError(d, "missing username for auth");
  auth.username = *user;
  int type = 0;
  if (auto t = node.attr("type"); t && !t->empty()) {
    type = indexOf(kAuthTypeNames, *t);
    if (type < 0) return Error::configUnsupported(d, "unknown auth type '" + *t + "'");
  }
  XmlNode secret = node.child("secret");
  if (!secret) return Error::xmlError(d, "Missing <secret> element in auth");
  auth.secretType = secret.attr("type");
  SV_TRY_ASSIGN(auth.secret, storage_detail::parseSecretLookup(secret));
  if (type == 0) return Error::configUnsupported(d, "storage pool missing auth type");
  auth.type = std::string(kAuthTypeNames[static_cast<size_t>(type)]);
  return auth;
}

// virStoragePoolDefParseSource
Result<StoragePoolSource> parseSource(XmlNode node, PoolType type, ErrorDomain d) {
  const PoolOptions opts = poolOptions(type);
  StoragePoolSource src;
  src.name = node.childText("name");
  if (type == PoolType::Rbd && !src.name) return Error::xmlError(d, "element 'name' is mandatory for RBD pool");
  int formatIndex = 0;
  if (!opts.formats->empty()) {
    auto fmt = node.child("format").attr("type");
    if (!fmt || fmt->empty()) {
      src.format = std::string(opts.defaultFormat);
    } else {
      if (indexOf(*opts.formats, *fmt) < 0) return Error::configUnsupported(d, "unknown pool format type " + *fmt);
      src.format = *fmt;
    }
    formatIndex = indexOf(*opts.formats, src.format);
  }
  for (XmlNode h : node.children("host")) {
    StoragePoolSourceHost host;
    auto name = h.attr("name");
    if (!name) return Error::xmlError(d, "missing storage pool host name");
    host.name = *name;
    std::optional<int> port;
    SV_TRY_ASSIGN(port, propInt(h, "port"));
    host.port = port.value_or(0);
    src.hosts.push_back(std::move(host));
  }
  if (auto iqn = node.child("initiator").child("iqn").attr("name"); iqn && !iqn->empty()) src.initiatorIqn = iqn;
  for (XmlNode dn : node.children("device")) {
    StoragePoolSourceDevice dev;
    auto path = dn.attr("path");
    if (!path) return Error::xmlError(d, "missing storage pool source device path");
    dev.path = *path;
    SV_TRY_ASSIGN(dev.partSeparator, propYesNo(dn, "part_separator"));
    src.devices.push_back(std::move(dev));
  }
  if (auto dir = node.child("dir").attr("path"); dir && !dir->empty()) src.dir = sanitizeStoragePath(*dir);
  if (!src.dir && type == PoolType::Gluster) src.dir = "/";
  if (XmlNode an = node.child("adapter")) SV_TRY_ASSIGN(src.adapter, parseAdapter(an, d));
  if (XmlNode auth = node.child("auth")) SV_TRY_ASSIGN(src.auth, parseAuth(auth, d));
  if (auto ver = node.child("protocol").attr("ver"); ver && !ver->empty()) {
    // libvirt reads the format index as a netfs format whatever the pool type.
    if (formatIndex != 1 && formatIndex != 0) {
      std::string_view fmtName = static_cast<size_t>(formatIndex) < kNetfsFormats.size()
                                     ? kNetfsFormats[static_cast<size_t>(formatIndex)]
                                     : std::string_view("(null)");
      return Error::configUnsupported(
          d, "storage pool protocol ver unsupported for pool type '" + std::string(fmtName) + "'");
    }
    if (ver->find(',') != std::string::npos)
      return detailErr(d, "storage pool protocol ver '" + *ver + "' must not contain ','");
    src.protocolVer = ver;
  }
  if (auto v = node.child("vendor").attr("name"); v && !v->empty()) src.vendor = v;
  if (auto p = node.child("product").attr("name"); p && !p->empty()) src.product = p;
  return src;
}

void formatSource(XmlWriter& w, PoolType type, const StoragePoolSource& src, unsigned depth) {
  const PoolOptions opts = poolOptions(type);
  XmlWriter c(depth + 1);
  if (opts.flags & kSrcHost) {
    for (const auto& h : src.hosts) {
      c.open("host").attr("name", h.name);
      if (h.port) c.attr("port", h.port);
      c.close();
    }
  }
  if (opts.flags & kSrcDevice) {
    for (const auto& dev : src.devices) {
      c.open("device").attr("path", dev.path).attrYesNo("part_separator", dev.partSeparator);
      for (const auto& e : dev.freeExtents)
        c.open("freeExtent").attr("start", std::to_string(e.start)).attr("end", std::to_string(e.end)).close();
      c.close();
    }
  }
  if ((opts.flags & kSrcDir) && src.dir) c.open("dir").attr("path", *src.dir).close();
  if ((opts.flags & kSrcAdapter) && src.adapter.type != StorageAdapterType::Default) formatAdapter(c, src.adapter);
  if ((opts.flags & kSrcName) && src.name) c.textElement("name", *src.name);
  if ((opts.flags & kSrcIqn) && src.initiatorIqn) c.open("initiator").open("iqn").attr("name", *src.initiatorIqn).close().close();
  if (!opts.formats->empty()) c.open("format").attr("type", src.format).close();
  if (src.auth) {
    c.open("auth").attr("type", src.auth->type).attr("username", src.auth->username);
    storage_detail::formatSecretLookup(c, src.auth->secretType, src.auth->secret);
    c.close();
  }
  if (src.protocolVer) c.open("protocol").attr("ver", *src.protocolVer).close();
  if (src.vendor) c.open("vendor").attr("name", *src.vendor).close();
  if (src.product) c.open("product").attr("name", *src.product).close();
  storage_detail::formatContainer(w, "<source>", "source", c.str(), depth);
}

Result<void> parsePoolNode(XmlNode root, StoragePoolDef& def, ErrorDomain d) {
  std::optional<unsigned> type;
  SV_TRY_ASSIGN(type, propEnum(root, "type", kPoolTypeNames, kPropRequired));
  def.type = static_cast<PoolType>(*type);
  const PoolOptions opts = poolOptions(def.type);

  if (XmlNode src = root.child("source")) {
    SV_TRY_ASSIGN(def.source, parseSource(src, def.type, d));
  } else {
    def.source.format = std::string(opts.defaultFormat);
  }

  auto name = root.childText("name");
  if (!name && (opts.flags & kSrcName)) name = def.source.name;
  if (!name) return Error::xmlError(d, "missing pool source name element");
  if (name->find('/') != std::string::npos) return Error::xmlError(d, "name " + *name + " cannot contain '/'");
  def.name = *name;

  if (auto uuid = root.childText("uuid")) {
    auto u = parseUuid(*uuid);
    if (!u) return Error::xmlError(d, "malformed uuid element");
    def.uuid = *u;
  } else {
    def.uuid = generateUuid();
  }

  std::optional<bool> cow;
  SV_TRY_ASSIGN(cow, propYesNo(root.child("features").child("cow"), "state"));
  if (cow) {
    if (def.type != PoolType::Fs && def.type != PoolType::Dir)
      return Error::noSupport(d, "cow feature may only be used for 'fs' and 'dir' pools");
    def.cow = cow;
  }

  if ((opts.flags & kSrcHost) && def.source.hosts.empty())
    return Error::xmlError(d, "missing storage pool source host name");
  if ((opts.flags & kSrcDir) && !def.source.dir) return Error::xmlError(d, "missing storage pool source path");
  if ((opts.flags & kSrcName) && !def.source.name) def.source.name = def.name;
  if (opts.flags & kSrcAdapter) SV_TRY_VOID(validateAdapter(def.source.adapter, d));
  if (opts.flags == kSrcDevice && def.source.devices.empty())
    return Error::xmlError(d, "missing storage pool source device name");

  if (!(opts.flags & kSrcNetwork)) {
    std::string path;
    if (def.type == PoolType::Logical) {
      path = "/dev/" + def.source.name.value_or("");
    } else if (def.type == PoolType::Zfs) {
      path = "/dev/zvol/" + def.source.name.value_or("");
    } else {
      auto p = root.child("target").childText("path");
      if (!p) return Error::xmlError(d, "missing storage pool target path");
      path = *p;
    }
    def.targetPath = sanitizeStoragePath(path);
    SV_TRY_ASSIGN(def.targetPerms, storage_detail::parsePerms(root.child("target").child("permissions"), d));
  }

  if (def.type == PoolType::IscsiDirect && !def.source.initiatorIqn)
    return Error::configUnsupported(d, "missing initiator IQN");

  if (auto alloc = root.child("refresh").child("volume").attr("allocation"); alloc && !alloc->empty()) {
    if (indexOf(kRefreshAllocationNames, *alloc) < 0)
      return Error::configUnsupported(d, "unknown storage pool volume refresh allocation type " + *alloc);
    def.refreshVolumeAllocation = alloc;
  }

  // storagePoolDefineXML / storagePoolCreateXML, right after parsing.
  if (def.name.find('\n') != std::string::npos) return detailErr(kFromXml, "invalid char in name: \n");
  return {};
}

}  // namespace

namespace storage_detail {

Result<StoragePerms> parsePerms(XmlNode node, ErrorDomain d) {
  StoragePerms perms;
  if (!node) return perms;
  if (auto mode = node.childText("mode")) {
    auto m = strToInt(*mode, 8);
    if (!m || (*m & ~0777)) return Error::xmlError(d, "malformed octal mode");
    perms.mode = static_cast<unsigned>(*m);
  }
  // "We previously could output -1, so continue to parse it"
  auto parseId = [&](const char* elem, std::optional<uint32_t>& out) -> Result<void> {
    XmlNode n = node.child(elem);
    if (!n) return {};
    auto v = strToLL(n.text());
    if (!v || (*v != -1 && (*v < 0 || *v > 0xFFFFFFFFLL)))
      return Error::xmlError(d, "malformed " + std::string(elem) + " element");
    if (*v != -1 && *v != 0xFFFFFFFFLL) out = static_cast<uint32_t>(*v);
    return {};
  };
  SV_TRY_VOID(parseId("owner", perms.owner));
  SV_TRY_VOID(parseId("group", perms.group));
  perms.label = node.childText("label");
  return perms;
}

void formatPerms(XmlWriter& w, const StoragePerms& perms) {
  if (perms.empty()) return;
  w.open("permissions");
  if (perms.mode) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0%o", *perms.mode);
    w.textElement("mode", buf);
  }
  // libvirt prints "(int) uid".
  if (perms.owner) w.textElement("owner", std::to_string(static_cast<int32_t>(*perms.owner)));
  if (perms.group) w.textElement("group", std::to_string(static_cast<int32_t>(*perms.group)));
  if (perms.label) w.textElement("label", *perms.label);
  w.close();
}

Result<SecretLookup> parseSecretLookup(XmlNode secret) {
  SecretLookup s;
  auto uuid = secret.attr("uuid");
  auto usage = secret.attr("usage");
  if (!uuid && !usage) return Error::xmlError(ErrorDomain::None, "missing secret uuid or usage attribute");
  if (uuid && usage) return Error::xmlError(ErrorDomain::None, "either secret uuid or usage expected");
  if (uuid) {
    auto u = parseUuid(*uuid);
    if (!u) return Error::xmlError(ErrorDomain::None, "invalid secret uuid '" + *uuid + "'");
    s.uuid = *u;
  } else {
    s.usage = usage;
  }
  return s;
}

void formatSecretLookup(XmlWriter& w, const std::optional<std::string>& type, const SecretLookup& s) {
  w.open("secret").attrIf("type", type);
  if (s.uuid)
    w.attr("uuid", formatUuid(*s.uuid));
  else if (s.usage)
    w.attr("usage", *s.usage);
  w.close();
}

void formatContainer(XmlWriter& w, std::string_view openTag, std::string_view name, const std::string& children,
                     unsigned depth) {
  std::string xml(openTag);
  xml += '\n';
  xml += children;
  xml.append(2 * depth, ' ');
  xml += "</";
  xml += name;
  xml += '>';
  w.raw(xml);
}

}  // namespace storage_detail

std::string_view poolTypeName(PoolType t) { return kPoolTypeNames[static_cast<size_t>(t)]; }

std::optional<PoolType> poolTypeFromName(std::string_view s) {
  int i = indexOf(kPoolTypeNames, s);
  if (i < 0) return std::nullopt;
  return static_cast<PoolType>(i);
}

const std::vector<std::string_view>& poolSourceFormats(PoolType type) { return *poolOptions(type).formats; }
std::string_view poolSourceDefaultFormat(PoolType type) { return poolOptions(type).defaultFormat; }

std::string sanitizeStoragePath(std::string_view path) {
  // URIs keep their slashes (rfc3986: "//" may name another resource).
  if (auto uri = path.find("://"); uri != std::string_view::npos && path.find('/') > uri) return std::string(path);
  std::string out;
  size_t i = 0;
  if (path.size() >= 2 && path[0] == '/' && path[1] == '/' && (path.size() == 2 || path[2] != '/')) {
    out = "//";
    i = 2;
  }
  while (i < path.size()) {
    if (path[i] != '/') {
      out += path[i++];
      continue;
    }
    while (i < path.size() && path[i] == '/') i++;
    if (!out.empty() && i == path.size()) break;  // no trailing '/'
    out += '/';
  }
  return out;
}

Result<StoragePoolDef> parseStoragePoolDef(std::string_view xml, ErrorDomain errDomain, unsigned flags) {
  auto doc = XmlDoc::parse(xml, "(storage_pool_definition)", "pool", errDomain);
  if (!doc) return doc.error();
  if (flags & kPoolParseValidate) SV_TRY_VOID(validateDocAgainstSchema(*doc, kStoragePoolSchemaPath));
  StoragePoolDef def;
  SV_TRY_VOID(parsePoolNode(doc->root(), def, errDomain));
  return def;
}

std::string formatStoragePoolDef(const StoragePoolDef& def, unsigned /*flags*/) {
  XmlWriter w;
  w.open("pool").attr("type", poolTypeName(def.type));
  w.textElement("name", def.name);
  w.textElement("uuid", formatUuid(def.uuid));
  w.open("capacity").attr("unit", "bytes").text(std::to_string(def.capacity)).close();
  w.open("allocation").attr("unit", "bytes").text(std::to_string(def.allocation)).close();
  w.open("available").attr("unit", "bytes").text(std::to_string(def.available)).close();
  if (def.cow) w.open("features").open("cow").attrYesNo("state", def.cow).close().close();
  formatSource(w, def.type, def.source, 1);
  // RBD, Sheepdog, Gluster and iSCSI-direct pools have no local target.
  if (def.type != PoolType::Rbd && def.type != PoolType::Sheepdog && def.type != PoolType::Gluster &&
      def.type != PoolType::IscsiDirect) {
    XmlWriter t(2);
    if (!def.targetPath.empty()) t.textElement("path", def.targetPath);
    storage_detail::formatPerms(t, def.targetPerms);
    storage_detail::formatContainer(w, "<target>", "target", t.str(), 1);
  }
  if (def.refreshVolumeAllocation)
    w.open("refresh").open("volume").attr("allocation", *def.refreshVolumeAllocation).close().close();
  w.close();
  return w.take();
}

Result<StoragePoolSource> parseStoragePoolSource(std::string_view xml, PoolType type, ErrorDomain errDomain) {
  auto doc = XmlDoc::parse(xml, "(storage_source_specification)", "source", errDomain);
  if (!doc) return doc.error();
  return parseSource(doc->root(), type, errDomain);
}

std::string formatStoragePoolSourceList(PoolType type, const std::vector<StoragePoolSource>& sources) {
  XmlWriter c(1);
  for (const auto& s : sources) formatSource(c, type, s, 1);
  XmlWriter w;
  storage_detail::formatContainer(w, "<sources>", "sources", c.str(), 0);
  return w.take();
}

}  // namespace splitvirt::conf
