// Storage volume XML: libvirt 9.0's virStorageVolDefParseXML /
// virStorageVolDefFormat and the encryption element, checks in libvirt's order.
#include "conf/storage_vol_def.hpp"

#include "conf/domain_def.hpp"  // scaleInteger (virScaleInteger)
#include "conf/xml.hpp"

#include <climits>
#include <cstdio>

namespace splitvirt::conf {

namespace {

using Names = std::vector<std::string_view>;

const Names kVolTypeNames = {"file", "block", "dir", "network", "netdir", "ploop"};
// virStorageFileFormat without "none" (index 0 there, refused by the volume parser).
const Names kFileFormats = {"raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi",
                            "fat", "vhd", "ploop", "cow", "qcow", "qcow2", "qed", "vmdk"};
const Names kDiskVolFormats = {"none", "linux", "fat16", "fat32", "linux-swap", "linux-lvm", "linux-raid", "extended"};
const Names kNoFormats = {};
const Names kEncryptionFormats = {"default", "qcow", "luks", "luks2"};
const Names kEncryptionEngines = {"default", "qemu", "librbd"};

bool contains(const Names& names, std::string_view s) {
  for (auto n : names)
    if (n == s) return true;
  return false;
}

// virStorageSize: "malformed capacity element" for both capacity and
// allocation; off_t is signed, so LLONG_MAX bytes at most.
Result<uint64_t> parseSize(const std::string& text, const std::optional<std::string>& unit, ErrorDomain d) {
  auto v = strToULLp(text);
  if (!v) return Error::xmlError(d, "malformed capacity element");
  return scaleInteger(*v, unit.value_or(""), 1, LLONG_MAX);
}

// virStorageCheckCompat: "<uint>.<uint>"
bool compatValid(std::string_view compat) {
  auto dot = compat.find('.');
  if (dot == std::string_view::npos) return false;
  return strToUInt(compat.substr(0, dot)).has_value() && strToUInt(compat.substr(dot + 1)).has_value();
}

Result<StorageEncryption> parseEncryption(XmlNode node, ErrorDomain d) {
  StorageEncryption enc;
  auto format = node.attr("format");
  if (!format || format->empty()) return Error::xmlError(d, "unknown volume encryption format");
  if (!contains(kEncryptionFormats, *format))
    return Error::configUnsupported(d, "unknown volume encryption format type " + *format);
  enc.format = *format;
  std::optional<unsigned> engine;
  SV_TRY_ASSIGN(engine, propEnum(node, "engine", kEncryptionEngines, kPropNonZero));
  if (engine) enc.engine = std::string(kEncryptionEngines[*engine]);
  for (XmlNode s : node.children("secret")) {
    auto type = s.attr("type");
    if (!type || type->empty()) return Error::xmlError(d, "unknown volume encryption secret type");
    if (*type != "passphrase") return Error::configUnsupported(d, "unknown volume encryption secret type " + *type);
    SecretLookup lookup;
    SV_TRY_ASSIGN(lookup, storage_detail::parseSecretLookup(s));
    enc.secrets.push_back(std::move(lookup));
  }
  if (enc.format == "luks") {
    if (XmlNode c = node.child("cipher")) {
      enc.cipherName = c.attr("name");
      if (!enc.cipherName) return Error::xmlError(d, "cipher info missing 'name' attribute");
      std::optional<unsigned> size;
      SV_TRY_ASSIGN(size, propUInt(c, "size", 10, kPropRequired));
      enc.cipherSize = *size;
      enc.cipherMode = c.attr("mode");
      enc.cipherHash = c.attr("hash");
    }
    if (XmlNode iv = node.child("ivgen")) {
      if (!enc.cipherName) return Error::xmlError(d, "ivgen element found, but cipher is missing");
      enc.ivgenName = iv.attr("name");
      if (!enc.ivgenName) return Error::xmlError(d, "missing ivgen info name string");
      enc.ivgenHash = iv.attr("hash");
    }
  }
  return enc;
}

void formatEncryption(XmlWriter& w, const StorageEncryption& enc, unsigned depth) {
  XmlWriter c(depth + 1);
  for (const auto& s : enc.secrets) storage_detail::formatSecretLookup(c, std::string("passphrase"), s);
  if (enc.format == "luks" && enc.cipherName) {
    c.open("cipher").attr("name", *enc.cipherName).attr("size", enc.cipherSize);
    c.attrIf("mode", enc.cipherMode).attrIf("hash", enc.cipherHash).close();
    if (enc.ivgenName) c.open("ivgen").attr("name", *enc.ivgenName).attrIf("hash", enc.ivgenHash).close();
  }
  std::string open = "<encryption format='" + xmlEscape(enc.format) + "'";
  if (enc.engine) open += " engine='" + xmlEscape(*enc.engine) + "'";
  open += ">";
  storage_detail::formatContainer(w, open, "encryption", c.str(), depth);
}

void formatTimestamps(XmlWriter& w, const StorageTimestamps& ts, unsigned depth) {
  XmlWriter c(depth + 1);
  auto one = [&](const char* name, const StorageTimestamp& t) {
    if (t.nsec < 0) return;
    std::string v = std::to_string(static_cast<unsigned long long>(t.sec));
    if (t.nsec) {
      char buf[16];
      std::snprintf(buf, sizeof buf, ".%09ld", t.nsec);
      v += buf;
    }
    c.textElement(name, v);
  };
  one("atime", ts.atime);
  one("mtime", ts.mtime);
  one("ctime", ts.ctime);
  one("btime", ts.btime);
  storage_detail::formatContainer(w, "<timestamps>", "timestamps", c.str(), depth);
}

// virStorageVolTargetDefFormat for <target> (all parts) or <backingStore>
// (path, format, permissions, timestamps).
struct TargetView {
  const std::string& path;
  const std::string& format;
  const StoragePerms& perms;
  const std::optional<StorageTimestamps>& timestamps;
  const StorageVolDef* target;  // null for the backing store
};

void formatTarget(XmlWriter& w, const TargetView& t, std::string_view elem, bool hasFormats) {
  constexpr unsigned kDepth = 1;  // child of <volume>
  XmlWriter c(kDepth + 1);
  if (!t.path.empty()) c.textElement("path", t.path);
  if (hasFormats) c.open("format").attr("type", t.format).close();
  storage_detail::formatPerms(c, t.perms);
  if (t.timestamps) formatTimestamps(c, *t.timestamps, kDepth + 1);
  if (const StorageVolDef* v = t.target) {
    if (v->encryption) formatEncryption(c, *v->encryption, kDepth + 1);
    if (v->compat) c.textElement("compat", *v->compat);
    if (v->clusterSize) c.open("clusterSize").attr("unit", "B").text(std::to_string(v->clusterSize)).close();
    if (v->hasFeatures) {
      if (!v->lazyRefcounts && !v->extendedL2) {
        c.empty("features");
      } else {
        c.open("features");
        if (v->lazyRefcounts) c.empty("lazy_refcounts");
        if (v->extendedL2) c.empty("extended_l2");
        c.close();
      }
    }
  }
  storage_detail::formatContainer(w, "<" + std::string(elem) + ">", elem, c.str(), kDepth);
}

Result<std::string> parseFormat(XmlNode formatNode, PoolType poolType, ErrorDomain d) {
  const Names& formats = volFormats(poolType);
  if (formats.empty()) return std::string();
  auto fmt = formatNode.attr("type");
  if (!fmt || fmt->empty()) return std::string(volDefaultFormat(poolType));
  if (!contains(formats, *fmt)) return Error::configUnsupported(d, "unknown volume format type " + *fmt);
  return *fmt;
}

Result<void> parseVolNode(XmlNode root, PoolType poolType, unsigned flags, StorageVolDef& def, ErrorDomain d) {
  auto name = root.childText("name");
  if (!name) return Error::xmlError(d, "missing volume name element");
  def.name = *name;
  def.key = root.childText("key").value_or("");
  if (auto type = root.attr("type"); type && !type->empty()) {
    auto t = volTypeFromName(*type);
    if (!t) return Error::configUnsupported(d, "unknown volume type '" + *type + "'");
    def.type = *t;
  }

  XmlNode backing = root.child("backingStore");
  if (auto path = backing.childText("path")) {
    StorageVolDef::BackingStore bs;
    bs.path = *path;
    SV_TRY_ASSIGN(bs.format, parseFormat(backing.child("format"), poolType, d));
    SV_TRY_ASSIGN(bs.perms, storage_detail::parsePerms(backing.child("permissions"), d));
    def.backingStore = std::move(bs);
  }

  if (auto cap = root.childText("capacity")) {
    SV_TRY_ASSIGN(def.capacity, parseSize(*cap, root.child("capacity").attr("unit"), d));
  } else if (!(flags & kVolParseNoCapacity) && !((flags & kVolParseOptCapacity) && def.backingStore)) {
    return Error::xmlError(d, "missing capacity element");
  }
  if (auto alloc = root.childText("allocation")) {
    uint64_t v = 0;
    SV_TRY_ASSIGN(v, parseSize(*alloc, root.child("allocation").attr("unit"), d));
    def.allocation = v;
  }

  XmlNode target = root.child("target");
  def.targetPath = target.childText("path").value_or("");
  SV_TRY_ASSIGN(def.format, parseFormat(target.child("format"), poolType, d));
  SV_TRY_ASSIGN(def.perms, storage_detail::parsePerms(target.child("permissions"), d));
  if (XmlNode enc = target.child("encryption")) SV_TRY_ASSIGN(def.encryption, parseEncryption(enc, d));
  def.compat = target.childText("compat");
  if (def.compat && !compatValid(*def.compat))
    return Error::xmlError(d, "forbidden characters in 'compat' attribute");
  def.nocow = static_cast<bool>(target.child("nocow"));

  // virParseScaledValue("./target/clusterSize", ..., 1, ULLONG_MAX, false)
  if (auto cs = target.childText("clusterSize")) {
    auto v = strToULLp(*cs);
    if (!v)
      return Error::xmlError(kFromXml, "Invalid value '" + *cs + "' for element or attribute './target/clusterSize'");
    SV_TRY_ASSIGN(def.clusterSize, scaleInteger(*v, target.child("clusterSize").attr("unit").value_or(""), 1, ULLONG_MAX));
  }

  if (XmlNode features = target.child("features")) {
    if (!def.compat) def.compat = "1.1";
    def.hasFeatures = true;
    for (XmlNode f : features.children()) {
      if (f.name() == "lazy_refcounts")
        def.lazyRefcounts = true;
      else if (f.name() == "extended_l2")
        def.extendedL2 = true;
      else
        return Error::configUnsupported(d, "unsupported feature " + std::string(f.name()));
    }
  }
  return {};
}

}  // namespace

std::string_view volTypeName(VolType t) { return kVolTypeNames[static_cast<size_t>(t)]; }

std::optional<VolType> volTypeFromName(std::string_view s) {
  for (size_t i = 0; i < kVolTypeNames.size(); i++)
    if (kVolTypeNames[i] == s) return static_cast<VolType>(i);
  return std::nullopt;
}

const std::vector<std::string_view>& volFormats(PoolType poolType) {
  switch (poolType) {
    case PoolType::Dir:
    case PoolType::Fs:
    case PoolType::Netfs:
    case PoolType::Gluster:
    case PoolType::Vstorage:
    case PoolType::Rbd:
      return kFileFormats;
    case PoolType::Disk:
      return kDiskVolFormats;
    default:
      return kNoFormats;
  }
}

std::string_view volDefaultFormat(PoolType poolType) {
  const auto& f = volFormats(poolType);
  return f.empty() ? std::string_view() : f[0];
}

Result<StorageVolDef> parseStorageVolDef(std::string_view xml, PoolType poolType, ErrorDomain errDomain,
                                         unsigned flags) {
  auto doc = XmlDoc::parse(xml, "(storage_volume_definition)", "volume", errDomain);
  if (!doc) return doc.error();
  StorageVolDef def;
  SV_TRY_VOID(parseVolNode(doc->root(), poolType, flags, def, errDomain));
  return def;
}

Result<void> validateStorageVolDef(const StorageVolDef& def, const StoragePoolDef& pool, ErrorDomain errDomain) {
  if (pool.type != PoolType::Dir && pool.type != PoolType::Fs && pool.type != PoolType::Netfs &&
      pool.type != PoolType::Vstorage)
    return {};
  // Volumes within a directory pool are not recursive: no escape to ../ or a subdir.
  if (def.name.find('/') != std::string::npos)
    return Error::operationInvalid(errDomain, "volume name '" + def.name + "' cannot contain '/'");
  if (def.name == "." || def.name == "..")
    return Error::operationInvalid(errDomain,
                                   "volume target path '" + pool.targetPath + "/" + def.name + "' already exists");
  return {};
}

std::string formatStorageVolDef(const StorageVolDef& def, PoolType poolType) {
  const bool hasFormats = !volFormats(poolType).empty();
  XmlWriter w;
  w.open("volume").attr("type", volTypeName(def.type));
  w.textElement("name", def.name);
  if (!def.key.empty()) w.textElement("key", def.key);
  if (!def.extents.empty()) {
    w.open("source");
    for (size_t i = 0; i < def.extents.size(); i++) {
      if (i == 0 || def.extents[i].path != def.extents[i - 1].path) {
        if (i) w.close();
        w.open("device").attr("path", def.extents[i].path);
      }
      w.open("extent").attr("start", std::to_string(def.extents[i].start));
      w.attr("end", std::to_string(def.extents[i].end)).close();
    }
    w.close().close();
  }
  w.open("capacity").attr("unit", "bytes").text(std::to_string(def.capacity)).close();
  w.open("allocation").attr("unit", "bytes").text(std::to_string(def.effectiveAllocation())).close();
  if (def.physical) w.open("physical").attr("unit", "bytes").text(std::to_string(def.physical)).close();
  formatTarget(w, {def.targetPath, def.format, def.perms, def.timestamps, &def}, "target", hasFormats);
  if (const auto& bs = def.backingStore)
    formatTarget(w, {bs->path, bs->format, bs->perms, bs->timestamps, nullptr}, "backingStore", hasFormats);
  w.close();
  return w.take();
}

}  // namespace splitvirt::conf
