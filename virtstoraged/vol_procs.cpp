// Storage volume procedures: create / clone / delete / wipe / resize /
// lookups / info / XML / path / lists / upload / download.
#include "backends/dir_backend.hpp"
#include "protocol/storage_procs.hpp"
#include "storage_driver.hpp"
#include "volume_files.hpp"
#include "volume_streams.hpp"

#include <unistd.h>

namespace splitvirt::storage {

using namespace protocol;
using rpc::ConnContext;

namespace {

constexpr ErrorDomain kErr = ErrorDomain::Storage;

VolGetInfoRet infoOf(const conf::StorageVolDef& v) {
  return VolGetInfoRet{static_cast<int32_t>(v.type), v.capacity, v.effectiveAllocation()};
}

CreateSpec specFor(const conf::StorageVolDef& v, const std::string& path, bool preallocMetadata) {
  CreateSpec s;
  s.path = path;
  s.format = v.format.empty() ? "raw" : v.format;
  s.capacity = v.capacity;
  s.allocation = v.effectiveAllocation();  // libvirt: no <allocation> means fully allocated
  s.preallocMetadata = preallocMetadata;
  s.compat = v.compat;
  s.lazyRefcounts = v.lazyRefcounts;
  s.mode = v.perms.mode.value_or(0600);
  if (v.backingStore) {
    s.backingPath = v.backingStore->path;
    s.backingFormat = v.backingStore->format;
  }
  return s;
}

}  // namespace

void StorageDriver::bindVolumes(rpc::Program& p) {
  // Reserves the name, runs the (slow) file work without the driver lock,
  // then records the volume as found on disk.
  auto createCommon = [this](const NonnullStoragePool& ph, const std::string& xml, unsigned parseFlags, bool clone,
                             const std::function<Result<void>(const conf::StorageVolDef&, const std::string&)>& make)
      -> Result<VolRet> {
    auto pool = activePool(ph);
    if (!pool) return pool.error();
    PoolPtr pl = *pool;
    conf::StorageVolDef def;
    std::string path;
    {
      std::unique_lock lk(mutex_);
      auto parsed = conf::parseStorageVolDef(xml, pl->def->type, kErr, parseFlags);
      if (!parsed) return parsed.error();
      if (auto r = conf::validateStorageVolDef(*parsed, *pl->def, kErr); !r) return r.error();
      def = std::move(*parsed);
      if (def.name.find('/') != std::string::npos)
        return Error::operationInvalid(kErr, "volume name '" + def.name + "' cannot contain '/'");
      if (pl->vols.count(def.name) || pl->busy.count(def.name)) {
        if (clone) return Error::internal(kErr, "storage volume name '" + def.name + "' already in use.");
        return Error::storageVolExist(def.name);
      }
      path = pl->def->targetPath + "/" + def.name;
      // Also catches "." and "..", and files made behind our back; never overwritten.
      if (::access(path.c_str(), F_OK) == 0)
        return Error::operationInvalid(kErr, "volume target path '" + path + "' already exists");
      pl->busy.insert(def.name);
    }
    auto r = make(def, path);
    std::unique_lock lk(mutex_);
    pl->busy.erase(def.name);
    if (!r) return r.error();
    auto onDisk = dirVolumeFromFile(*pl->def, def.name);
    if (!onDisk) return onDisk.error();
    pl->vols[def.name] = *onDisk;
    return VolRet{volHandle(*pl, *onDisk)};
  };

  p.bind(kStorageVolCreateXml, [createCommon](ConnContext&, VolCreateXmlArgs&& a) -> Result<VolRet> {
    // PREALLOC_METADATA | REFLINK | VALIDATE
    if (a.flags & ~7u) return Error::unsupportedFlags(kErr, a.flags & ~7u, "storageVolCreateXML");
    bool prealloc = a.flags & 1u;
    return createCommon(a.pool, a.xml, conf::kVolParseOptCapacity, false,
                        [prealloc](const conf::StorageVolDef& def, const std::string& path) -> Result<void> {
                          if (prealloc && def.format != "qcow2")
                            return Error::make(ErrorCode::OperationUnsupported, kErr, "Operation not supported: %s", "",
                                               std::string("metadata preallocation is only available with qcow2"));
                          return createVolumeFile(specFor(def, path, prealloc));
                        });
  });

  p.bind(kStorageVolCreateXmlFrom, [this, createCommon](ConnContext&, VolCreateXmlFromArgs&& a) -> Result<VolRet> {
    if (a.flags & ~7u) return Error::unsupportedFlags(kErr, a.flags & ~7u, "storageVolCreateXMLFrom");
    auto src = volByHandle(a.clonevol);
    if (!src) return src.error();
    conf::StorageVolDef srcVol = src->second;
    return createCommon(a.pool, a.xml, conf::kVolParseNoCapacity, true,
                        [srcVol](const conf::StorageVolDef& def, const std::string& path) -> Result<void> {
                          CreateSpec spec = specFor(def, path, false);
                          spec.capacity = std::max(def.capacity, srcVol.capacity);
                          return cloneVolumeFile(srcVol.targetPath, srcVol.format.empty() ? "raw" : srcVol.format,
                                                 spec);
                        });
  });

  p.bind(kStorageVolDelete, [this](ConnContext&, VolFlagsArg&& a) -> Result<Void> {
    // ZEROED | WITH_SNAPSHOTS
    if (a.flags & ~3u) return Error::unsupportedFlags(kErr, a.flags & ~3u, "storageVolDelete");
    auto vol = volByHandle(a.vol);
    if (!vol) return vol.error();
    auto& [pl, v] = *vol;
    {
      std::unique_lock lk(mutex_);
      if (pl->busy.count(v.name))
        return Error::operationInvalid(kErr, "volume '" + v.name + "' is still in use.");
      pl->busy.insert(v.name);
    }
    Result<void> r;
    if (a.flags & 1u) r = wipeVolumeFile(v.targetPath, "raw", v.capacity);
    if (r) r = deleteVolumeFile(v.targetPath);
    std::unique_lock lk(mutex_);
    pl->busy.erase(v.name);
    if (!r) return r.error();
    pl->vols.erase(v.name);
    return Void{};
  });

  p.bind(kStorageVolLookupByName, [this](ConnContext&, VolLookupByNameArgs&& a) -> Result<VolRet> {
    auto pool = activePool(a.pool);
    if (!pool) return pool.error();
    std::shared_lock lk(mutex_);
    auto it = (*pool)->vols.find(a.name);
    if (it == (*pool)->vols.end()) return Error::noStorageVol("no storage vol with matching name '" + a.name + "'");
    return VolRet{volHandle(**pool, it->second)};
  });
  auto findVol = [this](const std::function<bool(const conf::StorageVolDef&)>& match) -> std::optional<VolRet> {
    std::shared_lock lk(mutex_);
    for (auto& [u, pool] : pools_) {
      if (!pool->active) continue;
      for (auto& [n, v] : pool->vols)
        if (match(v)) return VolRet{volHandle(*pool, v)};
    }
    return std::nullopt;
  };
  p.bind(kStorageVolLookupByKey, [findVol](ConnContext&, PoolNameArg&& a) -> Result<VolRet> {
    if (auto r = findVol([&](const conf::StorageVolDef& v) { return v.key == a.name; })) return *r;
    return Error::noStorageVol("no storage vol with matching key " + a.name);
  });
  p.bind(kStorageVolLookupByPath, [findVol](ConnContext&, PoolNameArg&& a) -> Result<VolRet> {
    std::string path = conf::sanitizeStoragePath(a.name);
    if (auto r = findVol([&](const conf::StorageVolDef& v) { return v.targetPath == path; })) return *r;
    return Error::noStorageVol("no storage vol with matching path '" + a.name + "'");
  });

  // Info and XML re-read the file: allocation changes as the guest writes.
  auto current = [this](const NonnullStorageVol& h) -> Result<std::pair<PoolPtr, conf::StorageVolDef>> {
    auto vol = volByHandle(h);
    if (!vol) return vol;
    auto fresh = dirVolumeFromFile(*vol->first->def, h.name);
    if (!fresh) return vol;
    std::unique_lock lk(mutex_);
    vol->first->vols[h.name] = *fresh;
    return std::make_pair(vol->first, *fresh);
  };
  p.bind(kStorageVolGetInfo, [current](ConnContext&, VolArg&& a) -> Result<VolGetInfoRet> {
    auto vol = current(a.vol);
    if (!vol) return vol.error();
    return infoOf(vol->second);
  });
  p.bind(kStorageVolGetInfoFlags, [current](ConnContext&, VolFlagsArg&& a) -> Result<VolGetInfoRet> {
    if (a.flags & ~1u) return Error::unsupportedFlags(kErr, a.flags & ~1u, "storageVolGetInfoFlags");
    auto vol = current(a.vol);
    if (!vol) return vol.error();
    VolGetInfoRet r = infoOf(vol->second);
    if (a.flags & 1u) r.allocation = vol->second.physical;  // GET_PHYSICAL
    return r;
  });
  p.bind(kStorageVolGetXmlDesc, [current](ConnContext&, VolFlagsArg&& a) -> Result<StringRet> {
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "storageVolGetXMLDesc");
    auto vol = current(a.vol);
    if (!vol) return vol.error();
    return StringRet{conf::formatStorageVolDef(vol->second, vol->first->def->type)};
  });
  p.bind(kStorageVolGetPath, [this](ConnContext&, VolArg&& a) -> Result<StringRet> {
    auto vol = volByHandle(a.vol);
    if (!vol) return vol.error();
    return StringRet{vol->second.targetPath};
  });

  auto wipe = [this](const NonnullStorageVol& h, uint32_t algorithm, uint32_t flags) -> Result<Void> {
    if (flags) return Error::unsupportedFlags(kErr, flags, "storageVolWipePattern");
    if (algorithm > 9) return Error::invalidArg(kErr, "wiping algorithm " + std::to_string(algorithm) + " not supported");
    auto vol = volByHandle(h);
    if (!vol) return vol.error();
    // Only zeroing is done in-process; the other patterns are scrub's, as in libvirt.
    if (algorithm != 0) return Error::systemError(kErr, ENOENT, "Cannot find 'scrub' in path");
    auto& [pl, v] = *vol;
    {
      std::unique_lock lk(mutex_);
      if (pl->busy.count(v.name)) return Error::operationInvalid(kErr, "volume '" + v.name + "' is still in use.");
      pl->busy.insert(v.name);
    }
    auto r = wipeVolumeFile(v.targetPath, v.format.empty() ? "raw" : v.format, v.capacity);
    std::unique_lock lk(mutex_);
    pl->busy.erase(v.name);
    if (!r) return r.error();
    return Void{};
  };
  p.bind(kStorageVolWipe, [wipe](ConnContext&, VolFlagsArg&& a) { return wipe(a.vol, 0, a.flags); });
  p.bind(kStorageVolWipePattern,
         [wipe](ConnContext&, VolWipePatternArgs&& a) { return wipe(a.vol, a.algorithm, a.flags); });

  p.bind(kStorageVolResize, [this](ConnContext&, VolResizeArgs&& a) -> Result<Void> {
    constexpr uint32_t kAllocate = 1, kDelta = 2, kShrink = 4;
    if (a.flags & ~7u) return Error::unsupportedFlags(kErr, a.flags & ~7u, "storageVolResize");
    auto vol = volByHandle(a.vol);
    if (!vol) return vol.error();
    auto& [pl, v] = *vol;
    uint64_t target = a.capacity;
    if (a.flags & kDelta) {
      if (a.flags & kShrink) {
        if (a.capacity > v.capacity)
          return Error::invalidArg(kErr, "can't shrink capacity below size 0");
        target = v.capacity - a.capacity;
      } else {
        target = v.capacity + a.capacity;
      }
    }
    if (target < v.capacity && !(a.flags & kShrink))
      return Error::invalidArg(kErr, "Can't shrink capacity below current capacity unless shrink flag explicitly specified");
    if (target > v.capacity && (a.flags & kAllocate) && target - v.capacity > pl->def->available)
      return Error::make(ErrorCode::OperationFailed, kErr, "operation failed: %s", "",
                         std::string("Not enough space left in storage pool"));
    if (target < v.effectiveAllocation())
      return Error::invalidArg(kErr, "can't shrink capacity below existing allocation");
    {
      std::unique_lock lk(mutex_);
      if (pl->busy.count(v.name)) return Error::operationInvalid(kErr, "volume '" + v.name + "' is still in use.");
      pl->busy.insert(v.name);
    }
    auto r = resizeVolumeFile(v.targetPath, v.format.empty() ? "raw" : v.format, target, target < v.capacity,
                              a.flags & kAllocate);
    std::unique_lock lk(mutex_);
    pl->busy.erase(v.name);
    if (!r) return r.error();
    if (auto fresh = dirVolumeFromFile(*pl->def, v.name)) pl->vols[v.name] = *fresh;
    return Void{};
  });

  p.bindStream(kStorageVolUpload, [this](ConnContext&, VolTransferArgs&& a) -> Result<rpc::StreamEndpointPtr> {
    if (a.flags & ~1u) return Error::unsupportedFlags(kErr, a.flags & ~1u, "storageVolUpload");
    auto vol = volByHandle(a.vol);
    if (!vol) return vol.error();
    auto s = UploadStream::open(vol->second.targetPath, a.offset, a.length, a.flags & 1u);
    if (!s) return s.error();
    return rpc::StreamEndpointPtr(*s);
  });
  p.bindStream(kStorageVolDownload, [this](ConnContext&, VolTransferArgs&& a) -> Result<rpc::StreamEndpointPtr> {
    if (a.flags & ~1u) return Error::unsupportedFlags(kErr, a.flags & ~1u, "storageVolDownload");
    auto vol = volByHandle(a.vol);
    if (!vol) return vol.error();
    auto s = DownloadStream::open(vol->second.targetPath, a.offset, a.length, a.flags & 1u);
    if (!s) return s.error();
    return rpc::StreamEndpointPtr(*s);
  });

  p.bind(kStoragePoolNumOfVolumes, [this](ConnContext&, PoolArg&& a) -> Result<IntRet> {
    auto pool = activePool(a.pool);
    if (!pool) return pool.error();
    std::shared_lock lk(mutex_);
    return IntRet{static_cast<int32_t>((*pool)->vols.size())};
  });
  p.bind(kStoragePoolListVolumes, [this](ConnContext&, PoolListVolumesArgs&& a) -> Result<NamesRet> {
    if (a.maxnames < 0 || static_cast<uint32_t>(a.maxnames) > kStorageVolListMax)
      return Error::rpc(ErrorDomain::Rpc, "maxnames > REMOTE_STORAGE_VOL_LIST_MAX");
    auto pool = activePool(a.pool);
    if (!pool) return pool.error();
    std::shared_lock lk(mutex_);
    NamesRet r;
    for (auto& [n, v] : (*pool)->vols)
      if (r.names.size() < static_cast<size_t>(a.maxnames)) r.names.push_back(n);
    return r;
  });
  p.bind(kStoragePoolListAllVolumes, [this](ConnContext&, PoolListAllVolumesArgs&& a) -> Result<PoolListAllVolumesRet> {
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "storagePoolListAllVolumes");
    auto pool = activePool(a.pool);
    if (!pool) return pool.error();
    std::shared_lock lk(mutex_);
    PoolListAllVolumesRet r;
    for (auto& [n, v] : (*pool)->vols) {
      if (a.need_results) r.vols.push_back(volHandle(**pool, v));
      ++r.ret;
    }
    return r;
  });
}

}  // namespace splitvirt::storage
