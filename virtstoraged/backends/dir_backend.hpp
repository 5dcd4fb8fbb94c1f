// The `dir` pool backend: a directory whose files are the volumes.
#pragma once

#include "conf/storage_pool_def.hpp"
#include "conf/storage_vol_def.hpp"
#include "util/error.hpp"

#include <vector>

namespace splitvirt::storage {

struct PoolUsage {
  uint64_t capacity = 0, allocation = 0, available = 0;
};

// pool-build: creates the target directory (and parents) with the pool's
// permissions. flags: VIR_STORAGE_POOL_BUILD_OVERWRITE / NO_OVERWRITE.
Result<void> dirBuild(const conf::StoragePoolDef& def, unsigned flags);
// pool-start: the target must be an existing directory.
Result<void> dirCheck(const conf::StoragePoolDef& def);
// Every volume in the directory and the file system usage.
Result<std::vector<conf::StorageVolDef>> dirScan(const conf::StoragePoolDef& def);
Result<PoolUsage> dirUsage(const conf::StoragePoolDef& def);
// The target directory's actual mode and owner (what libvirt reports).
conf::StoragePerms dirPerms(const conf::StoragePoolDef& def);
// pool-delete: removes the (empty) target directory.
Result<void> dirDelete(const conf::StoragePoolDef& def);
// A volume definition filled from what is on disk.
Result<conf::StorageVolDef> dirVolumeFromFile(const conf::StoragePoolDef& def, const std::string& name);

}  // namespace splitvirt::storage
