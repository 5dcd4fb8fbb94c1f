// The pool-type specific steps, dispatched on the pool's type. Volumes of
// dir and fs pools are files under the target either way.
#pragma once

#include "conf/storage_pool_def.hpp"
#include "util/error.hpp"

namespace splitvirt::storage {

bool backendAvailable(conf::PoolType type);
Result<void> backendBuild(const conf::StoragePoolDef& def, unsigned flags);
Result<void> backendStart(const conf::StoragePoolDef& def);
Result<void> backendStop(const conf::StoragePoolDef& def);
Result<void> backendDelete(const conf::StoragePoolDef& def, unsigned flags);

}  // namespace splitvirt::storage
