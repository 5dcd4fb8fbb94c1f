// libvirt's save image layout, which its external memory snapshots (and
// virsh save) use: a header ("LibvirtQemudSave", version 2, native byte
// order), the domain XML, zero padding (64 KiB, room for an edited XML),
// then QEMU's migration stream. While the stream is written the magic says
// "LibvirtQemudPart"; it is set to the final one once the stream is
// complete, so a torn file is never taken for a whole one.
#pragma once

#include "util/error.hpp"

#include <optional>
#include <string>

namespace splitvirt::qemu {

// Creates `path` and writes the header, the XML and the padding; returns
// the descriptor, positioned where the stream goes. An existing file is an
// error unless `overwrite` (virsh save replaces one, as libvirt does).
Result<int> createSaveImage(const std::string& path, const std::string& domainXml, bool wasRunning,
                            bool overwrite = false);

// Marks the image complete (final magic, synced to disk).
Result<void> finishSaveImage(const std::string& path);

// Replaces the domain XML (and, when given, the was-running flag) of a
// complete image in place; the stream does not move, so the XML must fit
// the space the header reserved.
Result<void> rewriteSaveImage(const std::string& path, const std::string& domainXml, std::optional<bool> wasRunning);

struct SaveImage {
  int fd = -1;  // positioned at the start of the migration stream
  std::string domainXml;
  bool wasRunning = false;
};

// Opens an image for loading, with libvirt's errors for a torn, foreign or
// newer file. A bare QEMU migration stream (splitvirt's memory files before
// it wrote the header) is accepted too, from offset 0.
Result<SaveImage> openSaveImage(const std::string& path);

}  // namespace splitvirt::qemu
