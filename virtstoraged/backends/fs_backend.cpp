#include "backends/fs_backend.hpp"

#include "backends/dir_backend.hpp"
#include "util/command.hpp"

#include <fstream>
#include <sstream>

namespace splitvirt::storage {

namespace {

constexpr ErrorDomain kErr = ErrorDomain::Storage;
constexpr unsigned kNoOverwrite = 4, kOverwrite = 8;

Result<std::string> sourceDevice(const conf::StoragePoolDef& def) {
  if (def.source.devices.empty() || def.source.devices[0].path.empty())
    return Error::internal(kErr, "missing source device");
  return def.source.devices[0].path;
}

// /proc/mounts escapes spaces and friends as \ooo.
std::string unescapeMount(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8)));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

bool fsIsMounted(const conf::StoragePoolDef& def) {
  std::ifstream f("/proc/mounts");
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string dev, dir;
    in >> dev >> dir;
    if (unescapeMount(dir) == def.targetPath) return true;
  }
  return false;
}

Result<void> fsBuild(const conf::StoragePoolDef& def, unsigned flags) {
  if ((flags & kNoOverwrite) && (flags & kOverwrite))
    return Error::make(ErrorCode::OperationInvalid, kErr, "Requested operation is not valid: %s", "",
                       std::string("Overwrite and no overwrite flags are mutually exclusive"));
  if (auto r = dirBuild(def, 0); !r) return r;
  if (!(flags & (kOverwrite | kNoOverwrite))) return {};
  auto dev = sourceDevice(def);
  if (!dev) return dev.error();
  std::string format = def.source.format.empty() || def.source.format == "auto" ? "ext4" : def.source.format;
  if (flags & kNoOverwrite) {
    // Refuse to format a device that already holds a file system.
    auto probe = runCommand({"blkid", "-o", "value", "-s", "TYPE", *dev}, std::chrono::seconds(30), kErr);
    if (probe && probe->exitStatus == 0 && !probe->out.empty())
      return Error::make(ErrorCode::StoragePoolBuilt, kErr, "Storage pool already built: %s", "",
                         std::string("Device '" + *dev + "' already formatted using '" +
                                     probe->out.substr(0, probe->out.find('\n')) + "'"));
  }
  std::vector<std::string> mkfs{"mkfs", "-t", format};
  if (format.rfind("ext", 0) == 0) mkfs.push_back("-F");  // not interactive on an image file
  mkfs.push_back(*dev);
  if (auto r = runCommandChecked(mkfs, std::chrono::minutes(10), kErr); !r) return r.error();
  return {};
}

Result<void> fsMount(const conf::StoragePoolDef& def) {
  if (auto r = dirCheck(def); !r) return r;
  if (fsIsMounted(def)) return {};
  auto dev = sourceDevice(def);
  if (!dev) return dev.error();
  std::vector<std::string> argv{"mount"};
  if (!def.source.format.empty() && def.source.format != "auto") argv.insert(argv.end(), {"-t", def.source.format});
  argv.insert(argv.end(), {*dev, def.targetPath});
  if (auto r = runCommandChecked(argv, std::chrono::minutes(2), kErr); !r) return r.error();
  return {};
}

Result<void> fsUnmount(const conf::StoragePoolDef& def) {
  if (!fsIsMounted(def)) return {};
  if (auto r = runCommandChecked({"umount", def.targetPath}, std::chrono::minutes(2), kErr); !r) return r.error();
  return {};
}

}  // namespace splitvirt::storage
