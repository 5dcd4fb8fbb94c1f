// The storage volume XML object model (libvirt 9.0's virStorageVolDefParseXML
// / virStorageVolDefFormat and storage_encryption_conf.c), for virtstoraged.
//
// Three steps (architecture.md 2.7): parseStorageVolDef (structure, types,
// libvirt's parse-time checks, and its defaults: the pool type's default
// format, compat 1.1 when <features> is given), validateStorageVolDef (what
// the fs/logical backends check when creating: '/' in the name, "." and ".."
// which always exist), formatStorageVolDef.
//
// The pool type decides which <format> names are valid (virStorageVolOptions):
// dir/fs/netfs/gluster/vstorage/rbd take file formats (raw, dir, bochs, cloop,
// dmg, iso, vpc, vdi, fat, vhd, ploop, cow, qcow, qcow2, qed, vmdk; default
// raw), disk pools partition types (none, linux, fat16, ...; default none);
// logical, iscsi, scsi, mpath, sheepdog, zfs and iscsi-direct volumes have no
// format (it is neither parsed nor printed).
//
// What the daemon fills, not the parser (libvirt's refresh does the same):
// key, target path, type (dir for format 'dir', block on logical pools),
// allocation/physical from stat(), target permissions and timestamps,
// logical extents. libvirt wipes a user-given key on create.
//
// Not in the XML: preallocation (VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA is
// a create flag) and reflink.
#pragma once

#include "conf/storage_pool_def.hpp"
#include "util/error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace splitvirt::conf {

enum class VolType { File = 0, Block, Dir, Network, Netdir, Ploop };

std::string_view volTypeName(VolType);
std::optional<VolType> volTypeFromName(std::string_view);

// <timestamps>: one entry is printed only when nsec >= 0 ("sec" or
// "sec.nnnnnnnnn"), as libvirt does for the stat() times it has.
struct StorageTimestamp {
  int64_t sec = 0;
  long nsec = -1;
  bool operator==(const StorageTimestamp&) const = default;
};
struct StorageTimestamps {
  StorageTimestamp atime, mtime, ctime, btime;
  bool operator==(const StorageTimestamps&) const = default;
};

// <encryption format='default|qcow|luks|luks2' [engine='qemu|librbd']>
struct StorageEncryption {
  std::string format;
  std::optional<std::string> engine;
  std::vector<SecretLookup> secrets;  // each <secret type='passphrase' .../>
  // luks only: <cipher name size [mode] [hash]/>, <ivgen name [hash]/>
  std::optional<std::string> cipherName, cipherMode, cipherHash;
  unsigned cipherSize = 0;
  std::optional<std::string> ivgenName, ivgenHash;
  bool operator==(const StorageEncryption&) const = default;
};

struct StorageVolExtent {  // logical volumes: <source><device path><extent/></device></source>
  std::string path;
  uint64_t start = 0, end = 0;
  bool operator==(const StorageVolExtent&) const = default;
};

struct StorageVolDef {
  std::string name;
  std::string key;  // empty: not printed
  VolType type = VolType::File;
  std::vector<StorageVolExtent> extents;
  uint64_t capacity = 0;                // bytes
  std::optional<uint64_t> allocation;   // bytes; absent: "same as capacity" (printed so)
  uint64_t physical = 0;                // bytes, printed when non-zero (daemon only)

  // <target>
  std::string targetPath;  // empty: not printed
  std::string format;      // a name valid for the pool type, defaulted; empty when it has none
  StoragePerms perms;
  std::optional<StorageTimestamps> timestamps;
  std::optional<StorageEncryption> encryption;
  std::optional<std::string> compat;  // "0.10", "1.1"
  uint64_t clusterSize = 0;           // bytes, printed when non-zero
  bool hasFeatures = false;           // <features> given (even empty): printed back
  bool lazyRefcounts = false;         // <features><lazy_refcounts/>
  bool extendedL2 = false;            // <features><extended_l2/>
  bool nocow = false;                 // <nocow/>: parsed only (libvirt never prints it)

  struct BackingStore {
    std::string path;
    std::string format;  // defaulted like the target's
    StoragePerms perms;
    std::optional<StorageTimestamps> timestamps;
    bool operator==(const BackingStore&) const = default;
  };
  std::optional<BackingStore> backingStore;

  uint64_t effectiveAllocation() const { return allocation.value_or(capacity); }
  bool operator==(const StorageVolDef&) const = default;
};

// virStorageVolDefParseXML flags
inline constexpr unsigned kVolParseNoCapacity = 1u << 0;   // VIR_VOL_XML_PARSE_NO_CAPACITY (createXMLFrom)
inline constexpr unsigned kVolParseOptCapacity = 1u << 1;  // VIR_VOL_XML_PARSE_OPT_CAPACITY (createXML: optional with a backing store)

// Errors as libvirt reports them: `errDomain` (VIR_FROM_STORAGE) for
// storage_conf's own, VIR_FROM_XML for attribute helpers / <clusterSize>,
// VIR_FROM_NONE for unit suffixes, numeric overflow and secret lookups.
// Capacity and allocation take libvirt's units (bytes by default; b/bytes,
// K/KiB/M/MiB/.../E/EiB powers of 1024, KB/MB/... powers of 1000) up to
// LLONG_MAX bytes.
Result<StorageVolDef> parseStorageVolDef(std::string_view xml, PoolType poolType, ErrorDomain errDomain,
                                         unsigned flags = 0);

// The storage backends' checks on create (virStorageBackendVolCreateLocal,
// the logical backend): VIR_ERR_OPERATION_INVALID "volume name 'a/b' cannot
// contain '/'"; for dir/fs/netfs pools "." and ".." fail as libvirt's
// existence check does: "volume target path '<pool>/..' already exists".
Result<void> validateStorageVolDef(const StorageVolDef& def, const StoragePoolDef& pool, ErrorDomain errDomain);

std::string formatStorageVolDef(const StorageVolDef& def, PoolType poolType);
inline std::string formatStorageVolDef(const StorageVolDef& def, PoolType poolType, const StoragePoolDef&) {
  return formatStorageVolDef(def, poolType);
}

// The <format> names volumes of a pool type take (empty: none) and the default.
const std::vector<std::string_view>& volFormats(PoolType poolType);
std::string_view volDefaultFormat(PoolType poolType);

}  // namespace splitvirt::conf
