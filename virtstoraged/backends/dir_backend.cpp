#include "backends/dir_backend.hpp"

#include "util/fs.hpp"
#include "volume_files.hpp"

#include <cerrno>
#include <fcntl.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace splitvirt::storage {

namespace {
constexpr ErrorDomain kErr = ErrorDomain::Storage;
}

Result<void> dirBuild(const conf::StoragePoolDef& def, unsigned flags) {
  constexpr unsigned kNoOverwrite = 4, kOverwrite = 8;
  if ((flags & kNoOverwrite) && (flags & kOverwrite))
    return Error::make(ErrorCode::OperationInvalid, kErr, "Requested operation is not valid: %s", "",
                       std::string("Overwrite and no overwrite flags are mutually exclusive"));
  const std::string& path = def.targetPath;
  // Parents with the default mode, the target with the pool's.
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0)
    if (auto r = fs::makeDirs(path.substr(0, slash), 0755, kErr); !r) return r;
  unsigned mode = def.targetPerms.mode.value_or(0711);
  if (::mkdir(path.c_str(), mode) < 0 && errno != EEXIST)
    return Error::systemError(kErr, errno, "cannot create path '" + path + "'");
  if (::chmod(path.c_str(), mode) < 0) return Error::systemError(kErr, errno, "cannot set mode of '" + path + "'");
  if (def.targetPerms.owner || def.targetPerms.group) {
    uid_t uid = def.targetPerms.owner ? *def.targetPerms.owner : static_cast<uid_t>(-1);
    gid_t gid = def.targetPerms.group ? *def.targetPerms.group : static_cast<gid_t>(-1);
    if (::chown(path.c_str(), uid, gid) < 0) return Error::systemError(kErr, errno, "cannot chown '" + path + "'");
  }
  return {};
}

Result<void> dirCheck(const conf::StoragePoolDef& def) {
  struct stat st {};
  if (::stat(def.targetPath.c_str(), &st) < 0)
    return Error::systemError(ErrorDomain::None, errno, "cannot open directory '" + def.targetPath + "'");
  if (!S_ISDIR(st.st_mode))
    return Error::make(ErrorCode::OperationInvalid, kErr, "Requested operation is not valid: %s", "",
                       std::string("storage pool target path '" + def.targetPath + "' is not a directory"));
  return {};
}

Result<conf::StorageVolDef> dirVolumeFromFile(const conf::StoragePoolDef& def, const std::string& name) {
  std::string path = def.targetPath + "/" + name;
  auto fi = probeFile(path);
  if (!fi) return fi.error();
  conf::StorageVolDef v;
  v.name = name;
  v.key = path;
  v.targetPath = path;
  v.type = fi->isDir ? conf::VolType::Dir : conf::VolType::File;
  v.format = fi->format;
  v.capacity = fi->capacity;
  v.allocation = fi->allocation;
  v.physical = fi->physical;
  struct statx sx {};
  if (::statx(AT_FDCWD, path.c_str(), 0, STATX_BASIC_STATS | STATX_BTIME, &sx) == 0) {
    v.perms.mode = sx.stx_mode & 07777;
    v.perms.owner = sx.stx_uid;
    v.perms.group = sx.stx_gid;
    conf::StorageTimestamps ts;
    ts.atime = {sx.stx_atime.tv_sec, static_cast<long>(sx.stx_atime.tv_nsec)};
    if (sx.stx_mask & STATX_BTIME) ts.btime = {sx.stx_btime.tv_sec, static_cast<long>(sx.stx_btime.tv_nsec)};
    ts.mtime = {sx.stx_mtime.tv_sec, static_cast<long>(sx.stx_mtime.tv_nsec)};
    ts.ctime = {sx.stx_ctime.tv_sec, static_cast<long>(sx.stx_ctime.tv_nsec)};
    v.timestamps = ts;
  }
  if (fi->format == "qcow2") {
    // libvirt reports what the header says: compat and features only for v3.
    if (fi->qcow2Version >= 3) {
      v.clusterSize = fi->clusterSize;
      v.compat = "1.1";
      v.hasFeatures = true;
      v.lazyRefcounts = fi->lazyRefcounts;
    }
  }
  if (fi->backingPath) {
    conf::StorageVolDef::BackingStore b;
    b.path = *fi->backingPath;
    b.format = fi->backingFormat.value_or("raw");
    v.backingStore = b;
  }
  return v;
}

Result<std::vector<conf::StorageVolDef>> dirScan(const conf::StoragePoolDef& def) {
  DIR* d = ::opendir(def.targetPath.c_str());
  if (!d) return Error::systemError(kErr, errno, "cannot open directory '" + def.targetPath + "'");
  std::vector<conf::StorageVolDef> out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    // Files that vanish or cannot be probed are simply not volumes (yet).
    if (auto v = dirVolumeFromFile(def, n)) out.push_back(std::move(*v));
  }
  ::closedir(d);
  return out;
}

conf::StoragePerms dirPerms(const conf::StoragePoolDef& def) {
  conf::StoragePerms p = def.targetPerms;
  struct stat st {};
  if (::stat(def.targetPath.c_str(), &st) == 0) {
    p.mode = st.st_mode & 07777;
    p.owner = st.st_uid;
    p.group = st.st_gid;
  }
  return p;
}

Result<PoolUsage> dirUsage(const conf::StoragePoolDef& def) {
  struct statvfs sb {};
  if (::statvfs(def.targetPath.c_str(), &sb) < 0)
    return Error::systemError(kErr, errno, "cannot statvfs path '" + def.targetPath + "'");
  PoolUsage u;
  u.capacity = static_cast<uint64_t>(sb.f_frsize) * sb.f_blocks;
  u.available = static_cast<uint64_t>(sb.f_bavail) * sb.f_frsize;
  u.allocation = (static_cast<uint64_t>(sb.f_blocks) - sb.f_bfree) * sb.f_frsize;
  return u;
}

Result<void> dirDelete(const conf::StoragePoolDef& def) {
  if (::rmdir(def.targetPath.c_str()) < 0 && errno != ENOENT)
    return Error::systemError(kErr, errno, "failed to remove pool '" + def.targetPath + "'");
  return {};
}

}  // namespace splitvirt::storage
