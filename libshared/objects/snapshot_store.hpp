// The snapshot metadata files of libvirt's qemu driver:
// <snapshotDir>/<domain>/<snap>.xml in the internal format (with <active>),
// headed by the generated-file warning, loaded back into a SnapshotTree at
// daemon start (qemuDomainSnapshotLoad).
#pragma once

#include "objects/snapshot_tree.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace splitvirt::objects {

// The metadata files: <baseDir>/<domain>/<snap>.xml, libvirt's internal
// format with the generated-file warning, written atomically (temp file,
// fsync, rename; one directory fsync per apply).
class SnapshotStore {
 public:
  explicit SnapshotStore(std::string baseDir, ErrorDomain errDomain = ErrorDomain::Qemu)
      : baseDir_(std::move(baseDir)), err_(errDomain) {}

  const std::string& baseDir() const { return baseDir_; }
  std::string domainDir(std::string_view domainName) const;
  std::string filePath(std::string_view domainName, std::string_view snapName) const;

  // Every <domain>/*.xml parsed as internal metadata; files that fail to
  // parse are skipped (logged with libvirt's "Failed to parse snapshot XML
  // from file '%s'"), leftover temp files removed. No directory: empty tree.
  SnapshotTree load(std::string_view domainName, std::vector<std::string>* warnings = nullptr) const;
  // Writes `changes.rewrite` from the tree (a name no longer in the tree is
  // skipped; the directory is created on demand), then removes the files of
  // `changes.removed` that are not back in the tree. Writes come first, so
  // a crash in between leaves a consistent tree (the removed snapshot still
  // a leaf of its parent).
  Result<void> apply(std::string_view domainName, const conf::Uuid& vmUuid, const SnapshotTree& tree,
                     const SnapshotChanges& changes) const;
  Result<void> saveAll(std::string_view domainName, const conf::Uuid& vmUuid, const SnapshotTree& tree) const;
  // Removes the domain's directory and everything in it (metadata-only
  // undefine / qemuDomainRemoveInactive).
  Result<void> removeAll(std::string_view domainName) const;

  // The file content: "virsh snapshot-edit" warning + internal format.
  static std::string metadataXml(const conf::SnapshotDef& def, bool current, const conf::Uuid& vmUuid);

 private:
  std::string baseDir_;
  ErrorDomain err_;
};

}  // namespace splitvirt::objects
