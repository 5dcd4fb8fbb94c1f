// The per-domain snapshot tree (libvirt's moment object list semantics, as
// observed on libvirtd 9.0) and its metadata files.
#include "objects/snapshot_store.hpp"
#include "objects/snapshot_tree.hpp"
#include "support/golden.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <unistd.h>

using namespace splitvirt;
using namespace splitvirt::objects;
using conf::SnapshotDef;
using conf::SnapshotLocation;
using conf::SnapshotState;
using Names = std::vector<std::string>;

namespace {

const conf::Uuid kVmUuid = *conf::parseUuid("5a05e0c7-974a-42ee-9a7c-25b5ca3e16fe");

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/svsnaptreeXXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

SnapshotDefPtr snap(const std::string& name, std::optional<std::string> parent, long long ctime = 0,
                    SnapshotState state = SnapshotState::Shutoff, bool external = false) {
  auto d = std::make_shared<SnapshotDef>();
  d->name = name;
  d->parentName = std::move(parent);
  d->creationTime = ctime;
  d->state = state;
  d->memory = SnapshotLocation::No;
  conf::SnapshotDiskDef disk;
  disk.name = "vda";
  disk.snapshot = external ? SnapshotLocation::External : SnapshotLocation::Internal;
  if (external) disk.path = "/img/base." + name;
  d->disks.push_back(disk);
  return d;
}

void add(SnapshotTree& t, SnapshotDefPtr d) { REQUIRE(t.add(std::move(d)).has_value()); }

// The tree of the reference probe: s1 -> s2 (external), then a (b (d), c (e), f), r2.
SnapshotTree probeTree() {
  SnapshotTree t;
  add(t, snap("s1", std::nullopt, 1));
  add(t, snap("s2", "s1", 2, SnapshotState::Shutoff, true));
  for (auto [n, p] : std::vector<std::pair<const char*, const char*>>{
           {"a", nullptr}, {"b", "a"}, {"c", "a"}, {"d", "b"}, {"e", "c"}, {"f", "a"}, {"r2", nullptr}}) {
    add(t, snap(n, p ? std::optional<std::string>(p) : std::nullopt, 2000 + n[0]));
  }
  t.setCurrent("s2");
  return t;
}

Names sorted(Names v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::string slurp(const std::string& p) { return test::readFile(p).value_or("<missing>"); }

}  // namespace

TEST_CASE("snapshot tree: order and listings match libvirtd 9.0") {
  SnapshotTree t = probeTree();
  const std::string a = "a";
  CHECK(t.roots() == Names{"r2", "a", "s1"});
  CHECK(t.topological() == Names{"r2", "a", "f", "c", "e", "b", "d", "s1", "s2"});
  CHECK(t.children("a") == Names{"f", "c", "b"});
  CHECK(t.descendants("a") == Names{"f", "c", "e", "b", "d"});
  CHECK(t.list(nullptr, 0) == t.topological());
  CHECK(t.list(nullptr, kSnapListTopological) == t.topological());
  CHECK(t.list(nullptr, kSnapListRoots) == Names{"r2", "a", "s1"});
  CHECK(sorted(t.list(nullptr, kSnapListLeaves)) == sorted({"d", "s2", "f", "e", "r2"}));
  CHECK(sorted(t.list(nullptr, kSnapListNoLeaves)) == sorted({"b", "s1", "c", "a"}));
  CHECK(t.list(nullptr, kSnapListLeaves | kSnapListNoLeaves).empty());
  CHECK(t.list(nullptr, kSnapListNoMetadata).empty());
  CHECK(t.list(nullptr, kSnapListMetadata | kSnapListNoMetadata).size() == 9);
  CHECK(t.list(&a, 0) == Names{"f", "c", "b"});
  CHECK(t.list(&a, kSnapListDescendants) == Names{"f", "c", "e", "b", "d"});
  CHECK(t.list(&a, kSnapListDescendants | kSnapListTopological) == Names{"f", "c", "e", "b", "d"});
  CHECK(t.list(nullptr, kSnapListInactive).size() == 9);
  CHECK(t.list(nullptr, kSnapListActive).empty());
  CHECK(t.list(nullptr, kSnapListExternal) == Names{"s2"});
  CHECK(t.list(nullptr, kSnapListInternal).size() == 8);
  CHECK(t.count(nullptr, 0) == 9);
  CHECK(t.count(nullptr, kSnapListRoots) == 3);
  CHECK(t.count(&a, kSnapListLeaves) == 1);  // f
  CHECK(t.isCurrent("s2"));
  CHECK(t.parentOf("d") == "b");
  CHECK_FALSE(t.parentOf("a"));
  CHECK(t.isAncestor("a", "d"));
  CHECK_FALSE(t.isAncestor("c", "d"));
  CHECK_FALSE(t.isAncestor("d", "d"));
}

TEST_CASE("snapshot tree: state filters") {
  SnapshotTree t;
  add(t, snap("off", std::nullopt, 1, SnapshotState::Shutoff));
  add(t, snap("run", "off", 2, SnapshotState::Running));
  add(t, snap("pause", "off", 3, SnapshotState::Paused));
  add(t, snap("disk", "run", 4, SnapshotState::DiskSnapshot, true));
  CHECK(t.list(nullptr, kSnapListInactive) == Names{"off"});
  CHECK(t.list(nullptr, kSnapListActive) == Names{"pause", "run"});
  CHECK(t.list(nullptr, kSnapListDiskOnly) == Names{"disk"});
  CHECK(t.list(nullptr, kSnapListDiskOnly | kSnapListInactive) == Names{"off", "disk"});
  CHECK(t.list(nullptr, kSnapFiltersStatus).size() == 4);
  CHECK(t.list(nullptr, kSnapListActive | kSnapListExternal).empty());
  CHECK(t.list(nullptr, kSnapFiltersLocation).size() == 4);
  const std::string off = "off";
  CHECK(t.list(&off, kSnapListDescendants | kSnapListLeaves) == Names{"pause", "disk"});
}

TEST_CASE("snapshot tree: add, duplicate, unknown parent") {
  SnapshotTree t;
  add(t, snap("a", std::nullopt));
  auto dup = t.add(snap("a", std::nullopt));
  REQUIRE_FALSE(dup.has_value());
  CHECK(static_cast<int>(dup.error().code) == 9);
  CHECK(dup.error().message == "operation failed: domain moment a already exists");
  auto r = t.add(snap("orphan", "ghost"));
  REQUIRE(r.has_value());
  CHECK(r->rewrite == Names{"orphan"});
  CHECK(t.roots() == Names{"orphan", "a"});
  CHECK(t.find("orphan")->parentName == "ghost");  // kept, as libvirt keeps it
}

TEST_CASE("snapshot tree: removing a middle snapshot re-parents its children") {
  SnapshotTree t = probeTree();
  auto ch = t.remove("b");
  CHECK(ch.removed == Names{"b"});
  CHECK(ch.rewrite == Names{"d"});
  CHECK(t.children("a") == Names{"d", "f", "c"});
  CHECK(t.find("d")->parentName == "a");
  CHECK(t.parentOf("d") == "a");
  CHECK_FALSE(t.contains("b"));

  // A root with children: they become roots, in front.
  ch = t.remove("a");
  CHECK(ch.rewrite == Names{"d", "f", "c"});
  CHECK(t.roots() == Names{"d", "f", "c", "r2", "s1"});
  CHECK_FALSE(t.find("f")->parentName);
  CHECK(t.size() == 7);
}

TEST_CASE("snapshot tree: current moves to the parent of a removed current snapshot") {
  SnapshotTree t = probeTree();
  auto ch = t.setCurrent("d");
  CHECK(ch.rewrite == Names{"s2", "d"});
  ch = t.remove("d");
  CHECK(t.current() == "b");
  CHECK(ch.rewrite == Names{"b"});
  ch = t.setCurrent("a");
  ch = t.remove("a");
  CHECK_FALSE(t.current());  // a root: no current left
  CHECK(sorted(ch.rewrite) == sorted({"b", "c", "f"}));
  CHECK(t.setCurrent("nope").rewrite.empty());
  CHECK_FALSE(t.current());
}

TEST_CASE("snapshot tree: --children and --children-only") {
  SnapshotTree t = probeTree();
  t.setCurrent("e");
  auto ch = t.removeSubtree("a", false);
  CHECK(sorted(ch.removed) == sorted({"f", "c", "e", "b", "d"}));
  CHECK(ch.rewrite == Names{"a"});  // the new current
  CHECK(t.current() == "a");
  CHECK(t.children("a").empty());
  CHECK(t.size() == 4);

  t = probeTree();
  t.setCurrent("e");
  ch = t.removeSubtree("a", true);
  CHECK(ch.removed.size() == 6);
  CHECK(ch.rewrite.empty());
  CHECK_FALSE(t.current());
  CHECK(t.roots() == Names{"r2", "s1"});

  t = probeTree();
  ch = t.removeSubtree("c", true);
  CHECK(sorted(ch.removed) == sorted({"c", "e"}));
  CHECK(t.children("a") == Names{"f", "b"});
  CHECK(t.current() == "s2");
}

TEST_CASE("snapshot tree: redefine checks and relinking") {
  SnapshotTree t = probeTree();
  auto err = [&](const std::string& name, const std::string& parent) {
    auto d = snap(name, parent);
    auto r = t.checkCycles(*d, "snapvm");
    return r ? std::string("ok") : std::to_string(static_cast<int>(r.error().code)) + " " +
                                       std::to_string(static_cast<int>(r.error().domain)) + " " + r.error().message;
  };
  CHECK(err("x", "x") == "8 20 invalid argument: cannot set moment x as its own parent");
  CHECK(err("x", "zz") == "8 20 invalid argument: parent zz for moment x not found");
  CHECK(err("a", "d") == "8 20 invalid argument: parent b would create cycle to a");
  CHECK(err("a", "r2") == "ok");

  // Redefining an existing snapshot with another parent keeps its children
  // and puts it in front of the new parent's children; a def without
  // <domain> keeps the old one.
  auto withDom = std::make_shared<SnapshotDef>(*t.find("c"));
  withDom->dom = std::make_shared<const conf::DomainDef>();
  REQUIRE(t.replace(withDom).has_value());
  SnapshotDef c2 = *snap("c", "r2");
  c2.description = "moved";
  auto ch = t.redefine(std::move(c2), true);
  REQUIRE(ch.has_value());
  CHECK(ch->rewrite == Names{"c", "s2"});
  CHECK(t.children("r2") == Names{"c"});
  CHECK(t.children("c") == Names{"e"});
  CHECK(t.children("a") == Names{"f", "b"});
  CHECK(t.find("c")->description == "moved");
  CHECK(t.find("c")->dom);
  CHECK(t.isCurrent("c"));

  // A new one is linked like a created snapshot.
  ch = t.redefine(std::move(*std::make_shared<SnapshotDef>(*snap("g", "e"))), false);
  REQUIRE(ch.has_value());
  CHECK(ch->rewrite == Names{"g"});
  CHECK(t.children("e") == Names{"g"});
}

TEST_CASE("snapshot tree: prepareRedefine aligns against the existing snapshot's domain") {
  SnapshotTree t;
  auto dom = conf::parseDomainDef(
      "<domain type='qemu'><name>vm</name><uuid>5a05e0c7-974a-42ee-9a7c-25b5ca3e16fe</uuid><memory>65536</memory>"
      "<os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'><source file='/img/a.qcow2'/>"
      "<target dev='vda' bus='virtio'/></disk></devices></domain>",
      0, ErrorDomain::Domain);
  REQUIRE(dom.has_value());
  auto s = std::make_shared<SnapshotDef>(*snap("s", std::nullopt, 1));
  s->dom = std::make_shared<const conf::DomainDef>(*dom);
  add(t, s);

  auto parsed = conf::parseSnapshotDef(
      "<domainsnapshot><name>s</name><state>shutoff</state><creationTime>9</creationTime>"
      "<description>new text</description></domainsnapshot>",
      {conf::kSnapshotParseRedefine, std::nullopt});
  REQUIRE(parsed.has_value());
  auto other = t.prepareRedefine(parsed->def, kVmUuid, "vm", 0);
  REQUIRE(other.has_value());
  CHECK(*other == t.find("s"));
  REQUIRE(parsed->def.disks.size() == 1);
  CHECK(parsed->def.disks[0].snapshot == SnapshotLocation::Internal);

  parsed->def.state = SnapshotState::Running;
  auto bad = t.prepareRedefine(parsed->def, kVmUuid, "vm", 0);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message == "invalid argument: cannot change between online and offline snapshot state in "
                               "snapshot s");
}

TEST_CASE("snapshot tree: rebuilt from metadata as libvirt loads it") {
  std::vector<SnapshotTree::Loaded> loaded;
  // Given in arbitrary (directory) order; linked by creation time.
  loaded.push_back({*snap("c", "a", 30), false});
  loaded.push_back({*snap("a", std::nullopt, 10), false});
  loaded.push_back({*snap("b", "a", 20), true});
  std::vector<std::string> warnings;
  SnapshotTree t = SnapshotTree::build(loaded, "vm", &warnings);
  CHECK(warnings.empty());
  CHECK(t.children("a") == Names{"c", "b"});
  CHECK(t.current() == "b");

  // A missing parent makes a root, and (as in libvirt) no current snapshot.
  loaded.push_back({*snap("lost", "ghost", 40), false});
  t = SnapshotTree::build(loaded, "vm", &warnings);
  CHECK(t.roots() == Names{"lost", "a"});
  CHECK_FALSE(t.current());
  CHECK(std::find(warnings.begin(), warnings.end(), "moment lost lacks parent ghost") != warnings.end());

  // A cycle is broken at the last link; two "current" files: the later wins.
  std::vector<SnapshotTree::Loaded> cyc;
  cyc.push_back({*snap("x", "y", 1), true});
  cyc.push_back({*snap("y", "x", 2), true});
  warnings.clear();
  t = SnapshotTree::build(cyc, "vm", &warnings);
  CHECK(t.roots() == Names{"y"});
  CHECK(t.children("y") == Names{"x"});
  CHECK_FALSE(t.current());
  CHECK(std::find(warnings.begin(), warnings.end(), "moment y in circular chain") != warnings.end());
  CHECK(std::find(warnings.begin(), warnings.end(), "Too many snapshots claiming to be current for domain vm") !=
        warnings.end());
}

TEST_CASE("snapshot store: files as libvirtd writes them, loaded back with relations and current") {
  // The file libvirtd 9.0 wrote is reproduced byte for byte.
  const std::filesystem::path ref = std::filesystem::path(SV_GOLDEN_DIR) / "snapshotxml2xml" / "ref";
  for (const char* f : {"intvm-s1.meta.xml", "intvm-s2.meta.xml", "goldvm-s1.meta.xml"}) {
    CAPTURE(f);
    auto text = test::readFile(ref / f);
    REQUIRE(text.has_value());
    auto p = conf::parseSnapshotDef(*text, {conf::kSnapshotParseRedefine | conf::kSnapshotParseInternal, {}});
    REQUIRE(p.has_value());
    REQUIRE(p->def.dom);
    std::string again = SnapshotStore::metadataXml(p->def, p->current, p->def.dom->uuid);
    CHECK_MESSAGE(again == *text, test::firstDifference(*text, again));
  }

  TempDir dir;
  SnapshotStore store(dir.path + "/snapshot");
  SnapshotTree t = probeTree();
  REQUIRE(store.saveAll("snapvm", kVmUuid, t).has_value());
  CHECK(std::filesystem::exists(store.filePath("snapvm", "d")));
  std::string s2 = slurp(store.filePath("snapvm", "s2"));
  CHECK(s2.starts_with("<!--\nWARNING: THIS IS AN AUTO-GENERATED FILE."));
  CHECK(s2.find("  virsh snapshot-edit\n") != std::string::npos);
  CHECK(s2.find("<active>1</active>") != std::string::npos);
  CHECK(s2.find("<domain>\n    <uuid>5a05e0c7-974a-42ee-9a7c-25b5ca3e16fe</uuid>") != std::string::npos);
  CHECK(slurp(store.filePath("snapvm", "a")).find("<active>0</active>") != std::string::npos);

  // A crashed write's temp file and an unreadable file are dropped at load.
  std::ofstream(store.domainDir("snapvm") + "/x.xml.new") << "partial";
  std::ofstream(store.domainDir("snapvm") + "/broken.xml") << "<domainsnapshot>";
  std::vector<std::string> warnings;
  SnapshotTree back = store.load("snapvm", &warnings);
  CHECK_FALSE(std::filesystem::exists(store.domainDir("snapvm") + "/x.xml.new"));
  CHECK(warnings.size() == 1);
  CHECK(back.size() == 9);
  CHECK(back.current() == "s2");
  CHECK(back.topological() == t.topological());
  CHECK(back.children("a") == t.children("a"));
  CHECK(back.find("s2")->isExternal());
  std::filesystem::remove(store.domainDir("snapvm") + "/broken.xml");

  // A middle delete: children rewritten, file removed; reload agrees.
  auto cur = t.setCurrent("d");
  CHECK(cur.rewrite == Names{"s2", "d"});
  REQUIRE(store.apply("snapvm", kVmUuid, t, cur).has_value());
  auto ch = t.remove("b");
  REQUIRE(store.apply("snapvm", kVmUuid, t, ch).has_value());
  CHECK_FALSE(std::filesystem::exists(store.filePath("snapvm", "b")));
  warnings.clear();
  back = store.load("snapvm", &warnings);
  CHECK(warnings.empty());
  // Reloaded children are ordered by creation time (newest first).
  CHECK(back.children("a") == Names{"f", "d", "c"});
  CHECK(back.find("d")->parentName == "a");
  CHECK(back.current() == "d");

  // A metadata file naming an unknown parent: a root, no current.
  auto orphan = std::make_shared<SnapshotDef>(*snap("o", "gone", 5000));
  SnapshotTree single;
  add(single, orphan);
  REQUIRE(store.apply("snapvm", kVmUuid, single, {{"o"}, {}}).has_value());
  warnings.clear();
  back = store.load("snapvm", &warnings);
  CHECK(back.roots().front() == "o");
  CHECK_FALSE(back.current());
  CHECK_FALSE(warnings.empty());

  REQUIRE(store.removeAll("snapvm").has_value());
  CHECK_FALSE(std::filesystem::exists(store.domainDir("snapvm")));
  CHECK(store.load("snapvm").empty());
}

TEST_CASE("snapshot store: names that cannot be files are refused") {
  TempDir dir;
  SnapshotStore store(dir.path);
  SnapshotTree t;
  add(t, snap("a/b", std::nullopt));
  CHECK_FALSE(store.apply("vm", kVmUuid, t, {{"a/b"}, {}}).has_value());
}

TEST_CASE("snapshot: not-found error") {
  Error e = noDomainSnapshot(ErrorDomain::Qemu, "s9");
  CHECK(static_cast<int>(e.code) == 72);
  CHECK(e.message == "Domain snapshot not found: no domain snapshot with matching name 's9'");
}
