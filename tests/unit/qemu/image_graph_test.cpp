// scanImages against images made by the real qemu-img: the qcow2 headers it
// reads itself must give what `qemu-img info` says (format, virtual size,
// full backing file name), and what it cannot read goes through qemu-img.
#include "snapshot/image_graph.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;
using namespace splitvirt::qemu;

namespace {

bool run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "sv-imggraph-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { fs::remove_all(path); }
};

}  // namespace

TEST_CASE("image graph: qcow2 headers read directly, relative and absolute backing names") {
  if (::access("/usr/bin/qemu-img", X_OK) != 0) {
    MESSAGE("qemu-img missing: skipped");
    return;
  }
  TempDir t;
  const std::string d = t.path.string();
  REQUIRE(run("/usr/bin/qemu-img create -q -f raw " + d + "/base.raw 4M"));
  REQUIRE(run("/usr/bin/qemu-img create -q -f qcow2 -F raw -b " + d + "/base.raw " + d + "/a.qcow2"));
  // relative name, as users' own chains often have
  REQUIRE(run("cd " + d + " && /usr/bin/qemu-img create -q -f qcow2 -F qcow2 -b a.qcow2 b.qcow2"));
  REQUIRE(run("/usr/bin/qemu-img create -q -f qcow2 " + d + "/lone.qcow2 1G"));
  // qcow2 version 2 (compat=0.10) headers have no header length field
  REQUIRE(run("/usr/bin/qemu-img create -q -f qcow2 -o compat=0.10 -F qcow2 -b " + d + "/b.qcow2 " + d + "/v2.qcow2"));

  auto g = scanImages({d + "/v2.qcow2", d + "/lone.qcow2", d + "/missing.qcow2"});
  REQUIRE(g.has_value());
  CHECK(g->images.size() == 5);
  CHECK(!g->has(d + "/missing.qcow2"));
  CHECK(g->backingOf(d + "/v2.qcow2") == d + "/b.qcow2");
  CHECK(g->backingOf(d + "/b.qcow2") == d + "/a.qcow2");  // qemu's full-backing-filename
  CHECK(g->backingOf(d + "/a.qcow2") == d + "/base.raw");
  CHECK(!g->backingOf(d + "/base.raw"));
  CHECK(!g->backingOf(d + "/lone.qcow2"));
  CHECK(g->formatOf(d + "/base.raw") == "raw");  // not qcow2: qemu-img says
  CHECK(g->images.at(d + "/lone.qcow2").virtualSize == (1ULL << 30));
  CHECK(g->images.at(d + "/v2.qcow2").virtualSize == (4ULL << 20));
  CHECK(g->dependents(d + "/a.qcow2") == std::vector<std::string>{d + "/b.qcow2"});
}

TEST_CASE("image graph: a torn qcow2 header is an error, not a guess") {
  if (::access("/usr/bin/qemu-img", X_OK) != 0) {
    MESSAGE("qemu-img missing: skipped");
    return;
  }
  TempDir t;
  const std::string f = (t.path / "torn.qcow2").string();
  {
    std::ofstream o(f, std::ios::binary);
    o.write("QFI\xfb\0\0\0\x03", 8);  // magic and version, then nothing
  }
  auto g = scanImages({f});
  CHECK(!g.has_value());
}
