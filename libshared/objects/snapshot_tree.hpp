// The snapshots of one domain (libvirt's virDomainSnapshotObjList over
// virDomainMomentObjList): definitions by name, parent/children links,
// the current snapshot and libvirt's list filters. The metadata files are
// objects/snapshot_store.hpp.
//
// Order, as libvirt keeps it: a newly linked snapshot goes in front of its
// parent's children (so children and roots list newest first); removing a
// snapshot with reparenting puts its children, in their order, in front of
// its parent's children. Whole-domain listings are topological (parents
// before children: depth first in that child order), which also satisfies
// VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL (libvirt leaves the order of the
// other listings unspecified; virsh sorts them).
//
// Not thread-safe: the owner (the domain object) serialises access. Readers
// may keep a SnapshotDefPtr after releasing the owner's lock.
//
// Mutations return the metadata files to rewrite and to remove; pass them to
// SnapshotStore::apply. A failed write leaves the tree changed: the caller
// decides whether to roll back (the tree is a value, cheap to copy: the
// definitions are shared).
#pragma once

#include "conf/snapshot_def.hpp"
#include "util/error.hpp"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace splitvirt::objects {

using SnapshotDefPtr = std::shared_ptr<const conf::SnapshotDef>;

// virDomainSnapshotListFlags (include/libvirt/libvirt-domain-snapshot.h).
inline constexpr unsigned kSnapListRoots = 1u << 0;        // whole-domain listings
inline constexpr unsigned kSnapListDescendants = 1u << 0;  // listings from a snapshot
inline constexpr unsigned kSnapListMetadata = 1u << 1;
inline constexpr unsigned kSnapListLeaves = 1u << 2;
inline constexpr unsigned kSnapListNoLeaves = 1u << 3;
inline constexpr unsigned kSnapListNoMetadata = 1u << 4;
inline constexpr unsigned kSnapListInactive = 1u << 5;
inline constexpr unsigned kSnapListActive = 1u << 6;
inline constexpr unsigned kSnapListDiskOnly = 1u << 7;
inline constexpr unsigned kSnapListInternal = 1u << 8;
inline constexpr unsigned kSnapListExternal = 1u << 9;
inline constexpr unsigned kSnapListTopological = 1u << 10;

inline constexpr unsigned kSnapFiltersMetadata = kSnapListMetadata | kSnapListNoMetadata;
inline constexpr unsigned kSnapFiltersLeaves = kSnapListLeaves | kSnapListNoLeaves;
inline constexpr unsigned kSnapFiltersStatus = kSnapListInactive | kSnapListActive | kSnapListDiskOnly;
inline constexpr unsigned kSnapFiltersLocation = kSnapListInternal | kSnapListExternal;
inline constexpr unsigned kSnapFiltersAll =
    kSnapFiltersMetadata | kSnapFiltersLeaves | kSnapFiltersStatus | kSnapFiltersLocation;
// What the qemu driver's virCheckFlags allows: ListAllSnapshots, SnapshotNum,
// SnapshotListNames (domain) and the *Children* calls (snapshot).
inline constexpr unsigned kSnapListDomainFlags = kSnapListRoots | kSnapListTopological | kSnapFiltersAll;
inline constexpr unsigned kSnapListChildrenFlags = kSnapListDescendants | kSnapListTopological | kSnapFiltersAll;

// Metadata files to bring in line with the tree, in this order.
struct SnapshotChanges {
  std::vector<std::string> rewrite;  // names whose <snap>.xml must be (re)written
  std::vector<std::string> removed;  // names whose <snap>.xml must go
  void merge(const SnapshotChanges& o);
};

class SnapshotTree {
 public:
  // ---- lookups ----
  SnapshotDefPtr find(std::string_view name) const;  // null when unknown
  bool contains(std::string_view name) const { return nodes_.find(name) != nodes_.end(); }
  size_t size() const { return nodes_.size(); }
  bool empty() const { return nodes_.empty(); }
  const std::optional<std::string>& current() const { return current_; }
  SnapshotDefPtr currentDef() const { return current_ ? find(*current_) : nullptr; }
  bool isCurrent(std::string_view name) const { return current_ && *current_ == name; }

  // ---- relations (unknown names: empty results) ----
  // The linked parent; nullopt for a root (also for a snapshot whose
  // recorded parent is missing: libvirt treats it as a root).
  std::optional<std::string> parentOf(std::string_view name) const;
  const std::vector<std::string>& children(std::string_view name) const;  // newest first
  const std::vector<std::string>& roots() const { return roots_; }
  std::vector<std::string> descendants(std::string_view name) const;  // topological
  std::vector<std::string> topological() const;                       // every snapshot
  // True when `ancestor` is a proper ancestor of `name`.
  bool isAncestor(std::string_view ancestor, std::string_view name) const;

  // virDomainSnapshotObjListGetNames / ...Num: `from` null lists the
  // domain (bit 0 = ROOTS), else `from`'s children (bit 0 = DESCENDANTS).
  // Flags are assumed checked against kSnapList{Domain,Children}Flags.
  std::vector<std::string> list(const std::string* from, unsigned flags) const;
  int count(const std::string* from, unsigned flags) const { return static_cast<int>(list(from, flags).size()); }

  // ---- checks ----
  // virDomainMomentCheckCycles: the parent of `def` must exist and not lead
  // back to it (errors VIR_ERR_INVALID_ARG in VIR_FROM_DOMAIN).
  Result<void> checkCycles(const conf::SnapshotDef& def, std::string_view domainName) const;
  // virDomainSnapshotRedefinePrep: cycles, redefine validation, disk
  // alignment (against the existing snapshot's domain when `def` has none).
  // Returns the snapshot being redefined, or null for a new one.
  Result<SnapshotDefPtr> prepareRedefine(conf::SnapshotDef& def, const conf::Uuid& vmUuid,
                                         std::string_view domainName, unsigned createFlags) const;

  // ---- mutations ----
  // virDomainSnapshotAssignDef + LinkParent: a new snapshot in front of its
  // parent's children (a root, with a warning, when the parent is unknown).
  // Fails with libvirt's "domain moment %s already exists".
  Result<SnapshotChanges> add(SnapshotDefPtr def);
  // A new definition for an existing snapshot; children stay, and it is
  // relinked in front of the children of its (possibly new) parent, as
  // virDomainSnapshotReplaceDef + LinkParent do.
  Result<SnapshotChanges> replace(SnapshotDefPtr def);
  // qemuSnapshotRedefine's list part (after prepareRedefine): replace
  // (keeping the old <domain> when `def` has none) or add, then current.
  Result<SnapshotChanges> redefine(conf::SnapshotDef&& def, bool makeCurrent);
  // nullopt: no current snapshot. Rewrites the old and the new current.
  SnapshotChanges setCurrent(const std::optional<std::string>& name);
  // qemuSnapshotDiscardMetadata(update_parent=true): children get the
  // removed snapshot's parent (their <parent> rewritten), and a removed
  // current snapshot passes "current" to its parent.
  // With reparent=false (libvirt's update_parent=false) only the node goes:
  // the caller removes its descendants too.
  SnapshotChanges remove(std::string_view name, bool reparent = true);
  // Deletes with VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN (includeSelf) or
  // _CHILDREN_ONLY: every descendant (and the snapshot), pre-order, each as
  // remove(reparent=true) would; "current" ends at the nearest survivor.
  SnapshotChanges removeSubtree(std::string_view name, bool includeSelf);

  // ---- loading (qemuDomainSnapshotLoad + virDomainSnapshotUpdateRelations) ----
  struct Loaded {
    conf::SnapshotDef def;
    bool current = false;
  };
  // Links in creation-time order (so children come out newest first, as at
  // run time). A missing parent or a cycle makes the snapshot a root with a
  // warning and, as in libvirt, leaves no current snapshot. Duplicate names:
  // the first wins. Warnings are logged and appended to `warnings`.
  static SnapshotTree build(std::vector<Loaded> loaded, std::string_view domainName,
                            std::vector<std::string>* warnings = nullptr);

 private:
  struct Node {
    SnapshotDefPtr def;
    std::optional<std::string> parent;  // linked parent
    std::vector<std::string> children;  // newest first
  };
  Node* node(std::string_view name);
  const Node* node(std::string_view name) const;
  std::vector<std::string>& childList(const std::optional<std::string>& parent);
  void link(const std::string& name, const std::optional<std::string>& parent);  // in front
  void unlink(const std::string& name);
  void collect(const std::vector<std::string>& from, std::vector<std::string>& out) const;
  bool matches(const Node& n, unsigned momentFlags, unsigned filterFlags) const;

  std::map<std::string, Node, std::less<>> nodes_;
  std::vector<std::string> roots_;  // newest first
  std::optional<std::string> current_;
};

// libvirt's "no domain snapshot with matching name '%s'" (VIR_ERR_NO_DOMAIN_SNAPSHOT).
Error noDomainSnapshot(ErrorDomain d, std::string_view name);

}  // namespace splitvirt::objects
