#include "volume_files.hpp"

#include "util/command.hpp"

#include <cerrno>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

namespace splitvirt::storage {

namespace {

constexpr ErrorDomain kErr = ErrorDomain::Storage;

uint64_t be64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}
uint32_t be32(const unsigned char* p) { return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]; }

std::string sizeArg(uint64_t bytes) { return std::to_string(bytes); }

}  // namespace

Result<FileInfo> probeFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) < 0) return Error::systemError(kErr, errno, "cannot stat file '" + path + "'");
  FileInfo fi;
  if (S_ISDIR(st.st_mode)) {
    fi.isDir = true;
    fi.format = "dir";
    fi.capacity = fi.allocation = fi.physical = static_cast<uint64_t>(st.st_blocks) * 512;
    return fi;
  }
  fi.physical = static_cast<uint64_t>(st.st_size);
  fi.allocation = static_cast<uint64_t>(st.st_blocks) * 512;
  fi.capacity = fi.physical;
  fi.format = "raw";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return fi;  // a file we cannot read is still listed, as raw
  unsigned char h[512];
  ssize_t n = ::pread(fd, h, sizeof h, 0);
  if (n >= 72 && h[0] == 'Q' && h[1] == 'F' && h[2] == 'I' && h[3] == 0xfb) {
    fi.format = "qcow2";
    fi.qcow2Version = be32(h + 4);
    fi.clusterSize = uint64_t(1) << std::min<uint32_t>(be32(h + 20), 62);
    fi.capacity = be64(h + 24);
    // v3: compatible_features at 80, bit 0 = lazy refcounts.
    if (fi.qcow2Version >= 3 && n >= 88) fi.lazyRefcounts = be64(h + 80) & 1;
    uint64_t boff = be64(h + 8);
    uint32_t blen = be32(h + 16);
    if (boff && blen && blen < 4096) {
      std::string b(blen, '\0');
      if (::pread(fd, b.data(), blen, static_cast<off_t>(boff)) == static_cast<ssize_t>(blen)) fi.backingPath = b;
    }
  } else if (n >= 0x8006 || (n >= 4 && std::string(reinterpret_cast<char*>(h), 4) == "KDMV")) {
    if (std::string(reinterpret_cast<char*>(h), 4) == "KDMV") fi.format = "vmdk";
  }
  // ISO 9660: "CD001" at 0x8001
  char iso[5];
  if (fi.format == "raw" && ::pread(fd, iso, 5, 0x8001) == 5 && std::string(iso, 5) == "CD001") fi.format = "iso";
  ::close(fd);
  return fi;
}

Result<void> createVolumeFile(const CreateSpec& spec) {
  if (spec.format == "raw" || spec.format == "iso") {
    int fd = ::open(spec.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, spec.mode);
    if (fd < 0) return Error::systemError(kErr, errno, "cannot create path '" + spec.path + "'");
    int rc = ::ftruncate(fd, static_cast<off_t>(spec.capacity));
    int e = errno;
    uint64_t alloc = std::min(spec.allocation.value_or(0), spec.capacity);
    if (rc == 0 && alloc > 0) {
      rc = ::fallocate(fd, 0, 0, static_cast<off_t>(alloc));
      e = errno;
    }
    if (rc == 0 && ::fsync(fd) < 0) {
      rc = -1;
      e = errno;
    }
    ::close(fd);
    if (rc < 0) {
      ::unlink(spec.path.c_str());
      return Error::systemError(kErr, e, "cannot allocate " + std::to_string(alloc) + " bytes in file '" + spec.path + "'");
    }
    return {};
  }
  if (spec.format == "dir") {
    if (::mkdir(spec.path.c_str(), spec.mode ? spec.mode : 0755) < 0)
      return Error::systemError(kErr, errno, "cannot create path '" + spec.path + "'");
    return {};
  }
  if (::access(spec.path.c_str(), F_OK) == 0)
    return Error::systemError(kErr, EEXIST, "cannot create path '" + spec.path + "'");
  std::vector<std::string> argv{"qemu-img", "create", "-f", spec.format};
  std::string opts;
  auto addOpt = [&opts](const std::string& o) { opts += (opts.empty() ? "" : ",") + o; };
  if (spec.backingPath) {
    addOpt("backing_fmt=" + spec.backingFormat.value_or("raw"));
    argv.push_back("-b");
    argv.push_back(*spec.backingPath);
  }
  if (spec.format == "qcow2") {
    addOpt("compat=" + spec.compat.value_or("0.10"));  // libvirt 9.0's default
    if (spec.lazyRefcounts) addOpt("lazy_refcounts");
    if (spec.preallocMetadata) addOpt("preallocation=metadata");
  }
  if (!opts.empty()) {
    argv.push_back("-o");
    argv.push_back(opts);
  }
  argv.push_back(spec.path);
  if (!spec.backingPath || spec.capacity) argv.push_back(sizeArg(spec.capacity));
  auto r = runCommandChecked(argv, std::chrono::minutes(10), kErr);
  if (!r) {
    ::unlink(spec.path.c_str());
    return r.error();
  }
  ::chmod(spec.path.c_str(), spec.mode);
  return {};
}

Result<void> cloneVolumeFile(const std::string& src, const std::string& srcFormat, const CreateSpec& spec) {
  if (::access(spec.path.c_str(), F_OK) == 0)
    return Error::systemError(kErr, EEXIST, "cannot create path '" + spec.path + "'");
  std::vector<std::string> argv{"qemu-img", "convert", "-f", srcFormat, "-O", spec.format};
  if (spec.format == "qcow2") {
    argv.push_back("-o");
    argv.push_back("compat=" + spec.compat.value_or("0.10") + (spec.lazyRefcounts ? ",lazy_refcounts" : ""));
  }
  argv.push_back(src);
  argv.push_back(spec.path);
  auto r = runCommandChecked(argv, std::chrono::hours(2), kErr);
  if (!r) {
    ::unlink(spec.path.c_str());
    return r.error();
  }
  ::chmod(spec.path.c_str(), spec.mode);
  // A bigger target than the source: grow it as libvirt does.
  if (auto fi = probeFile(spec.path); fi && spec.capacity > fi->capacity)
    return resizeVolumeFile(spec.path, spec.format, spec.capacity, false, false);
  return {};
}

Result<void> resizeVolumeFile(const std::string& path, const std::string& format, uint64_t capacity, bool shrink,
                              bool allocate) {
  if (format == "raw") {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Error::systemError(kErr, errno, "Unable to open '" + path + "'");
    struct stat st {};
    ::fstat(fd, &st);
    int rc = 0;
    if (allocate && capacity > static_cast<uint64_t>(st.st_size))
      rc = ::fallocate(fd, 0, st.st_size, static_cast<off_t>(capacity - static_cast<uint64_t>(st.st_size)));
    if (rc == 0) rc = ::ftruncate(fd, static_cast<off_t>(capacity));
    int e = errno;
    ::close(fd);
    if (rc < 0) return Error::systemError(kErr, e, "Failed to truncate volume with path '" + path + "' to " +
                                                       std::to_string(capacity) + " bytes");
    return {};
  }
  std::vector<std::string> argv{"qemu-img", "resize"};
  if (shrink) argv.push_back("--shrink");
  argv.insert(argv.end(), {"-f", format, path, sizeArg(capacity)});
  auto r = runCommandChecked(argv, std::chrono::minutes(10), kErr);
  if (!r) return r.error();
  return {};
}

Result<void> wipeVolumeFile(const std::string& path, const std::string& format, uint64_t capacity) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Error::systemError(kErr, errno, "Failed to open storage volume with path '" + path + "'");
  struct stat st {};
  ::fstat(fd, &st);
  off_t size = st.st_size;
  // Zero the range the fast way (keeps the file's size and allocation), or write zeros.
  int rc = ::fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, size);
  if (rc < 0) {
    std::string zeros(1 << 20, '\0');
    for (off_t off = 0; off < size;) {
      size_t n = static_cast<size_t>(std::min<off_t>(static_cast<off_t>(zeros.size()), size - off));
      ssize_t w = ::pwrite(fd, zeros.data(), n, off);
      if (w < 0) {
        if (errno == EINTR) continue;
        int e = errno;
        ::close(fd);
        return Error::systemError(kErr, e, "Failed to write " + std::to_string(n) + " bytes to storage volume with path '" + path + "'");
      }
      off += w;
    }
  }
  int e = ::fsync(fd) < 0 ? errno : 0;
  ::close(fd);
  if (e) return Error::systemError(kErr, e, "cannot sync data to file '" + path + "'");
  // An image zeroed this way loses its header; recreate an empty one of the
  // same size so the volume stays usable, as libvirt does for non-raw files.
  if (format != "raw" && format != "iso") {
    if (::unlink(path.c_str()) < 0) return Error::systemError(kErr, errno, "cannot remove '" + path + "'");
    CreateSpec spec;
    spec.path = path;
    spec.format = format;
    spec.capacity = capacity;
    spec.mode = st.st_mode & 07777;
    return createVolumeFile(spec);
  }
  return {};
}

Result<void> deleteVolumeFile(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) < 0) return Error::systemError(kErr, errno, "cannot unlink file '" + path + "'");
  int rc = S_ISDIR(st.st_mode) ? ::rmdir(path.c_str()) : ::unlink(path.c_str());
  if (rc < 0) return Error::systemError(kErr, errno, "cannot unlink file '" + path + "'");
  return {};
}

}  // namespace splitvirt::storage
