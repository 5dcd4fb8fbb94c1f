#include "objects/snapshot_store.hpp"

#include "objects/definition_store.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <cerrno>
#include <dirent.h>
#include <unistd.h>

namespace splitvirt::objects {

namespace {

bool endsWith(std::string_view s, std::string_view suf) {
  return s.size() >= suf.size() && s.substr(s.size() - suf.size()) == suf;
}

// Names the driver refuses for snapshots with metadata; never a path here.
bool safeFileName(std::string_view n) { return !n.empty() && n[0] != '.' && n.find('/') == std::string_view::npos; }

std::vector<std::string> listDir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(std::move(n));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::string SnapshotStore::domainDir(std::string_view domainName) const {
  return baseDir_ + "/" + std::string(domainName);
}

std::string SnapshotStore::filePath(std::string_view domainName, std::string_view snapName) const {
  return domainDir(domainName) + "/" + std::string(snapName) + ".xml";
}

std::string SnapshotStore::metadataXml(const conf::SnapshotDef& def, bool current, const conf::Uuid& vmUuid) {
  unsigned flags = conf::kSnapshotFormatSecure | conf::kSnapshotFormatInternal;
  if (current) flags |= conf::kSnapshotFormatCurrent;
  return withGeneratedWarning("virsh snapshot-edit", conf::formatSnapshotDef(def, flags, &vmUuid));
}

SnapshotTree SnapshotStore::load(std::string_view domainName, std::vector<std::string>* warnings) const {
  std::string dir = domainDir(domainName);
  auto warn = [&](std::string msg) {
    log::warn("%s", msg.c_str());
    if (warnings) warnings->push_back(std::move(msg));
  };
  std::vector<SnapshotTree::Loaded> loaded;
  for (const auto& n : listDir(dir)) {
    std::string path = dir + "/" + n;
    if (endsWith(n, fs::kTempSuffix)) {
      // An interrupted atomic write: the previous file (if any) is intact.
      log::info("removing stale temp file %s", path.c_str());
      ::unlink(path.c_str());
      continue;
    }
    if (!endsWith(n, ".xml")) continue;
    auto text = fs::readFile(path, err_);
    if (!text) {
      warn("Failed to read snapshot file " + path + ": " + text.error().message);
      continue;
    }
    auto parsed = conf::parseSnapshotDef(
        *text, {conf::kSnapshotParseRedefine | conf::kSnapshotParseInternal, std::nullopt});
    if (!parsed) {
      warn("Failed to parse snapshot XML from file '" + path + "': " + parsed.error().message);
      continue;
    }
    if (parsed->def.name + ".xml" != n)
      warn("snapshot file '" + path + "' holds snapshot '" + parsed->def.name + "'");
    loaded.push_back({std::move(parsed->def), parsed->current});
  }
  return SnapshotTree::build(std::move(loaded), domainName, warnings);
}

Result<void> SnapshotStore::apply(std::string_view domainName, const conf::Uuid& vmUuid, const SnapshotTree& tree,
                                  const SnapshotChanges& changes) const {
  std::string dir = domainDir(domainName);
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& name : changes.rewrite) {
    SnapshotDefPtr def = tree.find(name);
    if (!def) continue;
    if (!safeFileName(name)) return Error::internal(err_, "invalid snapshot name '" + name + "' for a metadata file");
    files.emplace_back(name + ".xml", metadataXml(*def, tree.isCurrent(name), vmUuid));
  }
  if (!files.empty()) {
    bool fresh = !fs::exists(dir);
    SV_TRY_VOID(fs::makeDirs(dir, 0755, err_));
    if (fresh) SV_TRY_VOID(fs::fsyncDir(baseDir_, err_));
    SV_TRY_VOID(fs::atomicWriteFiles(dir, files, 0600, err_));
  }
  bool removedAny = false;
  for (const auto& name : changes.removed) {
    if (tree.contains(name) || !safeFileName(name)) continue;
    std::string path = dir + "/" + name + ".xml";
    if (::unlink(path.c_str()) < 0) {
      if (errno != ENOENT) log::warn("Failed to unlink %s", path.c_str());
      continue;
    }
    removedAny = true;
  }
  if (removedAny) SV_TRY_VOID(fs::fsyncDir(dir, err_));
  return {};
}

Result<void> SnapshotStore::saveAll(std::string_view domainName, const conf::Uuid& vmUuid,
                                    const SnapshotTree& tree) const {
  return apply(domainName, vmUuid, tree, SnapshotChanges{tree.topological(), {}});
}

Result<void> SnapshotStore::removeAll(std::string_view domainName) const {
  std::string dir = domainDir(domainName);
  if (!fs::exists(dir)) return {};
  for (const auto& n : listDir(dir)) {
    std::string path = dir + "/" + n;
    if (::unlink(path.c_str()) < 0 && errno != ENOENT)
      return Error::systemError(err_, errno, "cannot remove file '" + path + "'");
  }
  if (::rmdir(dir.c_str()) < 0 && errno != ENOENT)
    return Error::systemError(err_, errno, "cannot remove directory '" + dir + "'");
  return fs::fsyncDir(baseDir_, err_);
}

}  // namespace splitvirt::objects
