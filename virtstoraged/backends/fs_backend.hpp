// The `fs` pool backend: a file system on a block device (or an image file,
// which mount(8) loop-attaches) mounted on the target directory.
#pragma once

#include "conf/storage_pool_def.hpp"
#include "util/error.hpp"

namespace splitvirt::storage {

// pool-build: the target directory; with OVERWRITE / NO_OVERWRITE also mkfs.
Result<void> fsBuild(const conf::StoragePoolDef& def, unsigned flags);
// pool-start: mounts the source device on the target (if not already).
Result<void> fsMount(const conf::StoragePoolDef& def);
// pool-destroy: unmounts it.
Result<void> fsUnmount(const conf::StoragePoolDef& def);
bool fsIsMounted(const conf::StoragePoolDef& def);

}  // namespace splitvirt::storage
