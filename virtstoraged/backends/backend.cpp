#include "backends/backend.hpp"

#include "backends/dir_backend.hpp"
#include "backends/fs_backend.hpp"

namespace splitvirt::storage {

namespace {
Error missingBackend(conf::PoolType type) {
  return Error::internal(ErrorDomain::Storage, "missing backend for pool type " +
                                                   std::to_string(static_cast<int>(type)) + " (" +
                                                   std::string(conf::poolTypeName(type)) + ")");
}
}  // namespace

bool backendAvailable(conf::PoolType type) { return type == conf::PoolType::Dir || type == conf::PoolType::Fs; }

Result<void> backendBuild(const conf::StoragePoolDef& def, unsigned flags) {
  switch (def.type) {
    case conf::PoolType::Dir: return dirBuild(def, flags);
    case conf::PoolType::Fs: return fsBuild(def, flags);
    default: return missingBackend(def.type);
  }
}

Result<void> backendStart(const conf::StoragePoolDef& def) {
  switch (def.type) {
    case conf::PoolType::Dir: return dirCheck(def);
    case conf::PoolType::Fs: return fsMount(def);
    default: return missingBackend(def.type);
  }
}

Result<void> backendStop(const conf::StoragePoolDef& def) {
  switch (def.type) {
    case conf::PoolType::Dir: return {};
    case conf::PoolType::Fs: return fsUnmount(def);
    default: return missingBackend(def.type);
  }
}

Result<void> backendDelete(const conf::StoragePoolDef& def, unsigned) {
  switch (def.type) {
    case conf::PoolType::Dir:
    case conf::PoolType::Fs: return dirDelete(def);
    default: return missingBackend(def.type);
  }
}

}  // namespace splitvirt::storage
