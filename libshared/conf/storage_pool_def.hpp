// The storage pool XML object model (libvirt 9.0's storage_conf.c,
// storage_adapter_conf.c and the pool half of storage_source_conf.c), for
// virtstoraged: a plain value type, parsed from and formatted to the XML that
// `virsh pool-define` / `pool-dumpxml` exchange.
//
// Three steps (architecture.md 2.7): parseStoragePoolDef (structure, types
// and libvirt's parse-time checks: required source parts per pool type,
// defaults such as the source format and logical/zfs target paths, the
// newline check storagePoolDefineXML/CreateXML make right after parsing),
// then the driver's own checks (backend present: "missing backend for pool
// type N (name)", duplicates), then formatStoragePoolDef.
//
// What the daemon fills, not the parser: capacity/allocation/available (0
// when inactive or never refreshed), the target permissions a backend reads
// back from stat() on refresh, and the free extents of disk pools.
//
// Not modelled (dropped silently like unknown elements): the backend XML
// namespaces (<fs:mount_opts>, <rbd:config_opts>).
#pragma once

#include "conf/uuid.hpp"
#include "util/error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace splitvirt::conf {

// In libvirt's order, so static_cast<int> is the VIR_STORAGE_POOL_* value
// (libvirt prints it: "missing backend for pool type 9 (rbd)").
enum class PoolType {
  Dir, Fs, Netfs, Logical, Disk, Iscsi, IscsiDirect, Scsi, Mpath, Rbd, Sheepdog, Gluster, Zfs, Vstorage
};
inline constexpr int kPoolTypeCount = 14;

std::string_view poolTypeName(PoolType);  // "dir", "iscsi-direct", ...
std::optional<PoolType> poolTypeFromName(std::string_view);

// <permissions> of a pool target, a volume target or a backing store.
// Absent values are libvirt's (mode_t)-1 / (uid_t)-1.
struct StoragePerms {
  std::optional<unsigned> mode;    // 0..0777
  std::optional<uint32_t> owner;   // uid; "-1" and 4294967295 parse as absent
  std::optional<uint32_t> group;
  std::optional<std::string> label;
  bool empty() const { return !mode && !owner && !group && !label; }
  bool operator==(const StoragePerms&) const = default;
};

// <secret uuid='...'/> or <secret usage='...'/> (virSecretLookupTypeDef).
struct SecretLookup {
  std::optional<Uuid> uuid;
  std::optional<std::string> usage;  // set when uuid is not
  bool operator==(const SecretLookup&) const = default;
};

struct StoragePoolSourceHost {
  std::string name;
  int port = 0;  // 0: not printed
  bool operator==(const StoragePoolSourceHost&) const = default;
};

struct StoragePoolFreeExtent {
  uint64_t start = 0, end = 0;
  bool operator==(const StoragePoolFreeExtent&) const = default;
};

struct StoragePoolSourceDevice {
  std::string path;
  std::optional<bool> partSeparator;             // part_separator='yes'/'no'
  std::vector<StoragePoolFreeExtent> freeExtents;  // disk pools, filled on refresh
  bool operator==(const StoragePoolSourceDevice&) const = default;
};

// <adapter> of scsi pools.
enum class StorageAdapterType { Default, ScsiHost, FcHost };
struct StorageAdapter {
  StorageAdapterType type = StorageAdapterType::Default;  // Default: no <adapter>
  // scsi_host: name, or a parent PCI address with unique_id
  std::optional<std::string> name;
  bool hasParentAddr = false;
  unsigned parentDomain = 0, parentBus = 0, parentSlot = 0, parentFunction = 0;
  int uniqueId = 0;
  // fc_host
  std::optional<std::string> parent, parentWwnn, parentWwpn, parentFabricWwn, wwnn, wwpn;
  std::optional<bool> managed;
  bool operator==(const StorageAdapter&) const = default;
};

// <auth type='chap|ceph' username='...'><secret .../></auth>
struct StorageAuth {
  std::string type;  // "chap" or "ceph" (libvirt refuses a pool auth without type)
  std::string username;
  std::optional<std::string> secretType;  // <secret type='...'>, kept as given
  SecretLookup secret;
  bool operator==(const StorageAuth&) const = default;
};

struct StoragePoolSource {
  std::vector<StoragePoolSourceHost> hosts;      // netfs, iscsi, rbd, gluster, ...
  std::vector<StoragePoolSourceDevice> devices;  // fs, logical, disk, iscsi (target IQN), zfs
  std::optional<std::string> dir;                // netfs/gluster: <dir path=.../>, sanitized
  std::optional<std::string> name;               // logical VG, rbd pool, zfs pool, ...
  // <format type=.../>: one of poolSourceFormats(type), defaulted at parse;
  // empty for pool types without source formats.
  std::string format;
  StorageAdapter adapter;                  // scsi
  std::optional<std::string> initiatorIqn;  // iscsi, iscsi-direct
  std::optional<StorageAuth> auth;
  std::optional<std::string> protocolVer;  // netfs nfs: <protocol ver='4.1'/>
  std::optional<std::string> vendor, product;
  bool operator==(const StoragePoolSource&) const = default;
};

struct StoragePoolDef {
  PoolType type = PoolType::Dir;
  std::string name;
  Uuid uuid{};
  uint64_t capacity = 0, allocation = 0, available = 0;  // bytes, filled by the daemon
  std::optional<bool> cow;  // <features><cow state=.../></features> (dir/fs only)
  StoragePoolSource source;
  std::string targetPath;  // sanitized; "/dev/<source name>" for logical; empty for rbd/sheepdog/gluster/iscsi-direct
  StoragePerms targetPerms;
  std::optional<std::string> refreshVolumeAllocation;  // <refresh><volume allocation='default|capacity'/>
  bool operator==(const StoragePoolDef&) const = default;
};

inline constexpr unsigned kPoolParseValidate = 1u << 0;  // VIR_STORAGE_POOL_DEFINE_VALIDATE: check storagepool.rng
inline constexpr std::string_view kStoragePoolSchemaPath = "/usr/share/libvirt/schemas/storagepool.rng";
inline constexpr std::string_view kStorageVolSchemaPath = "/usr/share/libvirt/schemas/storagevol.rng";

// Errors carry libvirt's code, domain and text: `errDomain` (VIR_FROM_STORAGE
// in virtstoraged) for storage_conf's own errors; VIR_FROM_XML for attribute
// helpers, malformed roots and scaled values; VIR_FROM_NONE for WWNs, PCI
// addresses, secret lookups and unit suffixes, as libvirt reports them.
Result<StoragePoolDef> parseStoragePoolDef(std::string_view xml, ErrorDomain errDomain, unsigned flags = 0);

// virStoragePoolDefFormat. No flag changes the output (libvirt's formatter
// takes none): for VIR_STORAGE_XML_INACTIVE the driver picks which def to
// format (the pending newDef when there is one).
std::string formatStoragePoolDef(const StoragePoolDef& def, unsigned flags = 0);

// virStoragePoolDefParseSourceString: a bare <source> (root "source"), as
// virConnectFindStoragePoolSources' srcSpec.
Result<StoragePoolSource> parseStoragePoolSource(std::string_view xml, PoolType type, ErrorDomain errDomain);
// virStoragePoolSourceListFormat: <sources><source>...</source>...</sources>.
std::string formatStoragePoolSourceList(PoolType type, const std::vector<StoragePoolSource>& sources);

// The <format type=.../> names a pool type's <source> accepts, in libvirt's
// enum order (fs: auto, ext2, ..., vmfs; netfs: auto, nfs, glusterfs, cifs;
// disk: unknown, dos, ..., lvm2; logical: unknown, lvm2; others: none), and
// the default applied when <format> is absent (empty: no source formats).
const std::vector<std::string_view>& poolSourceFormats(PoolType type);
std::string_view poolSourceDefaultFormat(PoolType type);

// libvirt's virFileSanitizePath: collapses repeated '/', drops a trailing
// '/', keeps a leading "//" and leaves URIs ("proto://...") alone.
std::string sanitizeStoragePath(std::string_view path);

class XmlNode;
class XmlWriter;

// Shared with storage_vol_def.cpp; not for use outside conf/.
namespace storage_detail {
// virStorageDefParsePerms on the <permissions> element `perms` (may be null).
Result<StoragePerms> parsePerms(XmlNode perms, ErrorDomain errDomain);
void formatPerms(XmlWriter& w, const StoragePerms& perms);
// virSecretLookupParseSecret / virSecretLookupFormatSecret (<secret .../>).
Result<SecretLookup> parseSecretLookup(XmlNode secret);
void formatSecretLookup(XmlWriter& w, const std::optional<std::string>& type, const SecretLookup& s);
// An element libvirt always prints as "<open>\n...</name>\n", even when
// `children` (already indented for `depth` + 1) is empty.
void formatContainer(XmlWriter& w, std::string_view openTag, std::string_view name, const std::string& children,
                     unsigned depth);
}  // namespace storage_detail

}  // namespace splitvirt::conf
