// libvirt's moment object list semantics (virdomainmomentobjlist.c,
// virdomainsnapshotobjlist.c) over a name-indexed map with ordered child
// lists instead of intrusive sibling pointers.
#include "objects/snapshot_tree.hpp"

#include "util/log.hpp"

#include <algorithm>
#include <set>

namespace splitvirt::objects {

namespace {

// virDomainMomentObjListGetNames' own flag bits.
constexpr unsigned kMomentDescendants = 1u << 0;
constexpr unsigned kMomentLeaves = 1u << 2;
constexpr unsigned kMomentNoLeaves = 1u << 3;
constexpr unsigned kMomentMetadata = 1u << 4;
constexpr unsigned kMomentNoMetadata = 1u << 5;

const std::vector<std::string> kNoNames;

void addUnique(std::vector<std::string>& v, const std::string& s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

}  // namespace

void SnapshotChanges::merge(const SnapshotChanges& o) {
  for (const auto& n : o.rewrite) addUnique(rewrite, n);
  for (const auto& n : o.removed) addUnique(removed, n);
}

Error noDomainSnapshot(ErrorDomain d, std::string_view name) {
  return Error::make(static_cast<ErrorCode>(72), d, "Domain snapshot not found: %s", "Domain snapshot not found",
                     "no domain snapshot with matching name '" + std::string(name) + "'");
}

// ---- lookups and relations ----

SnapshotTree::Node* SnapshotTree::node(std::string_view name) {
  auto it = nodes_.find(name);
  return it == nodes_.end() ? nullptr : &it->second;
}

const SnapshotTree::Node* SnapshotTree::node(std::string_view name) const {
  auto it = nodes_.find(name);
  return it == nodes_.end() ? nullptr : &it->second;
}

SnapshotDefPtr SnapshotTree::find(std::string_view name) const {
  const Node* n = node(name);
  return n ? n->def : nullptr;
}

std::optional<std::string> SnapshotTree::parentOf(std::string_view name) const {
  const Node* n = node(name);
  return n ? n->parent : std::nullopt;
}

const std::vector<std::string>& SnapshotTree::children(std::string_view name) const {
  const Node* n = node(name);
  return n ? n->children : kNoNames;
}

void SnapshotTree::collect(const std::vector<std::string>& from, std::vector<std::string>& out) const {
  for (const auto& c : from) {
    out.push_back(c);
    collect(node(c)->children, out);
  }
}

std::vector<std::string> SnapshotTree::descendants(std::string_view name) const {
  std::vector<std::string> out;
  if (const Node* n = node(name)) collect(n->children, out);
  return out;
}

std::vector<std::string> SnapshotTree::topological() const {
  std::vector<std::string> out;
  collect(roots_, out);
  return out;
}

bool SnapshotTree::isAncestor(std::string_view ancestor, std::string_view name) const {
  const Node* n = node(name);
  while (n && n->parent) {
    if (*n->parent == ancestor) return true;
    n = node(*n->parent);
  }
  return false;
}

// ---- listing ----

bool SnapshotTree::matches(const Node& n, unsigned momentFlags, unsigned filterFlags) const {
  if ((momentFlags & kMomentLeaves) && !n.children.empty()) return false;
  if ((momentFlags & kMomentNoLeaves) && n.children.empty()) return false;
  // virDomainSnapshotFilter
  const conf::SnapshotDef& d = *n.def;
  using conf::SnapshotState;
  if (filterFlags & kSnapFiltersStatus) {
    if (!(filterFlags & kSnapListInactive) && d.state == SnapshotState::Shutoff) return false;
    if (!(filterFlags & kSnapListDiskOnly) && d.state == SnapshotState::DiskSnapshot) return false;
    if (!(filterFlags & kSnapListActive) && d.state != SnapshotState::Shutoff &&
        d.state != SnapshotState::DiskSnapshot)
      return false;
  }
  if ((filterFlags & kSnapListInternal) && d.isExternal()) return false;
  if ((filterFlags & kSnapListExternal) && !d.isExternal()) return false;
  return true;
}

std::vector<std::string> SnapshotTree::list(const std::string* from, unsigned flags) const {
  // virDomainSnapshotObjListGetNames: public flags -> moment flags, with the
  // filter groups that have every bit set dropped. (LEAVES and NO_LEAVES
  // together are moment flags, so they filter out everything, as in libvirt.)
  unsigned moment = 0;
  if (flags & kSnapListRoots) moment |= kMomentDescendants;
  if (flags & kSnapListLeaves) moment |= kMomentLeaves;
  if (flags & kSnapListNoLeaves) moment |= kMomentNoLeaves;
  if (flags & kSnapListMetadata) moment |= kMomentMetadata;
  if (flags & kSnapListNoMetadata) moment |= kMomentNoMetadata;
  unsigned filter = flags & (kSnapFiltersStatus | kSnapFiltersLocation);
  if ((filter & kSnapFiltersStatus) == kSnapFiltersStatus) filter &= ~kSnapFiltersStatus;
  if ((filter & kSnapFiltersLocation) == kSnapFiltersLocation) filter &= ~kSnapFiltersLocation;

  const std::vector<std::string>* start = &roots_;
  if (!from) {
    // ROOTS and DESCENDANTS share a bit with opposite meanings.
    moment ^= kMomentDescendants;
  } else {
    const Node* n = node(*from);
    if (!n) return {};
    start = &n->children;
  }
  // Every snapshot has metadata: NO_METADATA alone matches none.
  if ((moment & (kMomentMetadata | kMomentNoMetadata)) == kMomentNoMetadata) return {};

  std::vector<std::string> candidates;
  if (moment & kMomentDescendants)
    collect(*start, candidates);
  else
    candidates = *start;
  std::vector<std::string> out;
  for (const auto& c : candidates)
    if (matches(*node(c), moment, filter)) out.push_back(c);
  return out;
}

// ---- checks ----

Result<void> SnapshotTree::checkCycles(const conf::SnapshotDef& def, std::string_view domainName) const {
  if (!def.parentName) return {};
  if (def.name == *def.parentName)
    return Error::invalidArg(ErrorDomain::Domain, "cannot set moment " + def.name + " as its own parent");
  const Node* other = node(*def.parentName);
  if (!other)
    return Error::invalidArg(ErrorDomain::Domain,
                             "parent " + *def.parentName + " for moment " + def.name + " not found");
  while (other->def->parentName) {
    if (*other->def->parentName == def.name)
      return Error::invalidArg(ErrorDomain::Domain,
                               "parent " + other->def->name + " would create cycle to " + def.name);
    const Node* next = node(*other->def->parentName);
    if (!next) {
      log::warn("moments are inconsistent for domain %s", std::string(domainName).c_str());
      break;
    }
    other = next;
  }
  return {};
}

Result<SnapshotDefPtr> SnapshotTree::prepareRedefine(conf::SnapshotDef& def, const conf::Uuid& vmUuid,
                                                     std::string_view domainName, unsigned createFlags) const {
  SV_TRY_VOID(checkCycles(def, domainName));
  SnapshotDefPtr other = find(def.name);
  SV_TRY_VOID(conf::validateSnapshotRedefine(def, vmUuid, other.get(), createFlags));
  auto location = (def.state == conf::SnapshotState::DiskSnapshot || def.isExternal())
                      ? conf::SnapshotLocation::External
                      : conf::SnapshotLocation::Internal;
  SV_TRY_VOID(conf::alignSnapshotDisks(def, other ? other->dom.get() : nullptr, location, true));
  return other;
}

// ---- mutations ----

std::vector<std::string>& SnapshotTree::childList(const std::optional<std::string>& parent) {
  if (parent)
    if (Node* p = node(*parent)) return p->children;
  return roots_;
}

void SnapshotTree::link(const std::string& name, const std::optional<std::string>& parent) {
  Node* n = node(name);
  n->parent = parent && node(*parent) ? parent : std::nullopt;
  auto& list = childList(n->parent);
  list.insert(list.begin(), name);
}

void SnapshotTree::unlink(const std::string& name) {
  Node* n = node(name);
  auto& list = childList(n->parent);
  list.erase(std::remove(list.begin(), list.end(), name), list.end());
  n->parent.reset();
}

Result<SnapshotChanges> SnapshotTree::add(SnapshotDefPtr def) {
  if (contains(def->name))
    return Error::operationFailed(ErrorDomain::Domain, "domain moment " + def->name + " already exists");
  std::string name = def->name;
  auto parent = def->parentName;
  if (parent && !contains(*parent))
    log::warn("moment %s lacks parent %s", name.c_str(), parent->c_str());
  nodes_.emplace(name, Node{std::move(def), std::nullopt, {}});
  link(name, parent);
  return SnapshotChanges{{name}, {}};
}

Result<SnapshotChanges> SnapshotTree::replace(SnapshotDefPtr def) {
  Node* n = node(def->name);
  if (!n) return noDomainSnapshot(ErrorDomain::Domain, def->name);
  std::string name = def->name;
  unlink(name);
  n->def = std::move(def);
  link(name, n->def->parentName);
  return SnapshotChanges{{name}, {}};
}

Result<SnapshotChanges> SnapshotTree::redefine(conf::SnapshotDef&& def, bool makeCurrent) {
  SnapshotChanges changes;
  if (SnapshotDefPtr old = find(def.name)) {
    if (!def.dom) def.dom = old->dom;
    SV_TRY_ASSIGN(changes, replace(std::make_shared<const conf::SnapshotDef>(std::move(def))));
  } else {
    SV_TRY_ASSIGN(changes, add(std::make_shared<const conf::SnapshotDef>(std::move(def))));
  }
  if (makeCurrent) changes.merge(setCurrent(changes.rewrite.front()));
  return changes;
}

SnapshotChanges SnapshotTree::setCurrent(const std::optional<std::string>& name) {
  SnapshotChanges changes;
  if (current_ == name) return changes;
  if (current_ && contains(*current_)) changes.rewrite.push_back(*current_);
  current_ = name && contains(*name) ? name : std::nullopt;
  if (current_) changes.rewrite.push_back(*current_);
  return changes;
}

SnapshotChanges SnapshotTree::remove(std::string_view nameView, bool reparent) {
  SnapshotChanges changes;
  Node* n = node(nameView);
  if (!n) return changes;
  std::string name(nameView);
  std::optional<std::string> parent = n->parent;

  if (reparent && !n->children.empty()) {
    // Children take the removed snapshot's parent (qemuSnapshotChildrenReparent)
    // and go, in their order, in front of its children (MoveChildren).
    for (const auto& c : n->children) {
      Node* child = node(c);
      auto def = std::make_shared<conf::SnapshotDef>(*child->def);
      def->parentName = parent;
      child->def = std::move(def);
      child->parent = parent;
      changes.rewrite.push_back(c);
    }
    auto& list = childList(parent);
    list.insert(list.begin(), n->children.begin(), n->children.end());
    n->children.clear();
  }

  if (current_ == name) {
    current_.reset();
    // libvirt follows the recorded parent name, not the link.
    if (reparent && n->def->parentName && contains(*n->def->parentName)) {
      current_ = n->def->parentName;
      addUnique(changes.rewrite, *current_);
    } else if (reparent && n->def->parentName) {
      log::warn("missing parent snapshot matching name '%s'", n->def->parentName->c_str());
    }
  }

  unlink(name);
  // Without reparenting, orphaned children become roots rather than point
  // at a node that no longer exists.
  for (const auto& c : n->children) {
    node(c)->parent.reset();
    roots_.insert(roots_.begin(), c);
  }
  nodes_.erase(name);
  changes.removed.push_back(name);
  return changes;
}

SnapshotChanges SnapshotTree::removeSubtree(std::string_view name, bool includeSelf) {
  SnapshotChanges changes;
  if (!contains(name)) return changes;
  std::vector<std::string> doomed = descendants(name);
  if (includeSelf) doomed.push_back(std::string(name));
  for (const auto& d : doomed) changes.merge(remove(d, true));
  std::set<std::string, std::less<>> gone(changes.removed.begin(), changes.removed.end());
  std::erase_if(changes.rewrite, [&](const std::string& s) { return gone.count(s) > 0; });
  return changes;
}

// ---- loading ----

SnapshotTree SnapshotTree::build(std::vector<Loaded> loaded, std::string_view domainName,
                                 std::vector<std::string>* warnings) {
  auto warn = [&](std::string msg) {
    log::warn("%s", msg.c_str());
    if (warnings) warnings->push_back(std::move(msg));
  };
  std::string domain(domainName);
  SnapshotTree tree;
  std::stable_sort(loaded.begin(), loaded.end(), [](const Loaded& a, const Loaded& b) {
    if (a.def.creationTime != b.def.creationTime) return a.def.creationTime < b.def.creationTime;
    return a.def.name < b.def.name;
  });
  std::optional<std::string> current;
  std::vector<std::string> order;
  for (auto& l : loaded) {
    if (tree.contains(l.def.name)) {
      warn("domain moment " + l.def.name + " already exists");
      continue;
    }
    std::string name = l.def.name;
    if (l.current) {
      if (current) warn("Too many snapshots claiming to be current for domain " + domain);
      current = name;
    }
    tree.nodes_.emplace(name, Node{std::make_shared<const conf::SnapshotDef>(std::move(l.def)), std::nullopt, {}});
    order.push_back(name);
  }

  bool inconsistent = false;
  for (const auto& name : order) {
    const auto& parentName = tree.node(name)->def->parentName;
    std::optional<std::string> parent;
    if (parentName && !tree.contains(*parentName)) {
      warn("moment " + name + " lacks parent " + *parentName);
      inconsistent = true;
    } else if (parentName) {
      parent = parentName;
      // Linking must not close a loop through already linked parents.
      for (const Node* p = tree.node(*parent); p; p = p->parent ? tree.node(*p->parent) : nullptr) {
        if (p->def->name == name) {
          warn("moment " + name + " in circular chain");
          inconsistent = true;
          parent.reset();
          break;
        }
      }
    }
    tree.link(name, parent);
  }
  if (inconsistent) {
    warn("Snapshots have inconsistent relations for domain " + domain);
    current.reset();
  }
  tree.current_ = current;
  return tree;
}

}  // namespace splitvirt::objects
