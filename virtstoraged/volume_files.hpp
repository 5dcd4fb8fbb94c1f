// What a dir/fs pool does to the files that are its volumes: probe, create,
// clone, resize, wipe, delete. Images are handled by qemu-img; raw files by
// plain file calls. All of it blocks: call from the blocking pool only.
#pragma once

#include "util/error.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace splitvirt::storage {

struct FileInfo {
  bool isDir = false;
  std::string format;  // "raw", "qcow2", "dir", ...
  uint64_t capacity = 0;    // virtual size
  uint64_t allocation = 0;  // bytes actually allocated on disk
  uint64_t physical = 0;    // file size
  std::optional<std::string> backingPath, backingFormat;
  unsigned qcow2Version = 0;   // 2 (compat 0.10) or 3 (compat 1.1)
  uint64_t clusterSize = 0;
  bool lazyRefcounts = false;
};

// Reads the header itself (no qemu-img run per file: refreshing a pool of
// thousands of volumes must stay cheap).
Result<FileInfo> probeFile(const std::string& path);

struct CreateSpec {
  std::string path;
  std::string format = "raw";
  uint64_t capacity = 0;
  std::optional<uint64_t> allocation;  // raw: bytes to preallocate
  bool preallocMetadata = false;       // qcow2 preallocation=metadata
  std::optional<std::string> compat;   // qcow2 "0.10" / "1.1"
  bool lazyRefcounts = false;
  std::optional<std::string> backingPath, backingFormat;
  unsigned mode = 0600;
};

// Creates the volume file; never overwrites an existing one; on failure
// leaves nothing behind.
Result<void> createVolumeFile(const CreateSpec& spec);
// Copies `src` (format srcFormat) into a new volume described by `spec`.
Result<void> cloneVolumeFile(const std::string& src, const std::string& srcFormat, const CreateSpec& spec);
Result<void> resizeVolumeFile(const std::string& path, const std::string& format, uint64_t capacity, bool shrink,
                              bool allocate);
// Zeroes the volume's data, keeping its size (and its format header for images).
Result<void> wipeVolumeFile(const std::string& path, const std::string& format, uint64_t capacity);
Result<void> deleteVolumeFile(const std::string& path);

}  // namespace splitvirt::storage
