// The qcow2 files a domain's external snapshots involve and which backs
// which, read fresh from the images (qemu-img info -U, works while QEMU
// holds them): what deleting or reverting external snapshots decides from.
#pragma once

#include "util/error.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace splitvirt::qemu {

struct ImageGraph {
  struct Image {
    std::optional<std::string> backing;  // absolute path
    std::string format;                  // "qcow2", "raw", ...
    uint64_t virtualSize = 0;
  };
  std::map<std::string, Image> images;  // existing files only

  bool has(const std::string& f) const { return images.count(f) != 0; }
  std::optional<std::string> backingOf(const std::string& f) const;
  std::string formatOf(const std::string& f) const;
  // Files whose backing file is `f`.
  std::vector<std::string> dependents(const std::string& f) const;
};

// The qcow2 header of `file` read directly (no qemu-img); nullopt when it is
// not a qcow2 image this reader understands.
std::optional<ImageGraph::Image> readQcow2Header(const std::string& file);

// Reads every existing file of `files` and, transitively, their backing files.
Result<ImageGraph> scanImages(const std::set<std::string>& files);

// qemu-img steps, each a single atomic change of one image header (or a
// data copy that leaves every image's visible content unchanged).
Result<void> createOverlay(const std::string& path, const std::string& backing, const std::string& backingFormat,
                           std::optional<uint64_t> sizeIfLocked);
Result<void> commitOffline(const std::string& image);  // into its backing file
// Re-points `image` at `newBacking` without copying (contents known equal).
Result<void> rebaseUnsafe(const std::string& image, const std::string& newBacking, const std::string& newFormat);
// Re-points `image` at `newBacking` ("" = none), copying the clusters that
// differ, so what `image` shows stays the same.
Result<void> rebaseSafe(const std::string& image, const std::string& newBacking, const std::string& newFormat);

}  // namespace splitvirt::qemu
