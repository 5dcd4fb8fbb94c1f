#include "objects/definition_journal.hpp"
#include "util/fs.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace splitvirt;
using namespace splitvirt::objects;

namespace {
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/svjournalXXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};
std::string slurp(const std::string& p) {
  std::ifstream f(p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
}  // namespace

TEST_CASE("committed changes are applied at once") {
  TempDir t;
  std::filesystem::create_directories(t.path + "/autostart");
  DefinitionJournal j(t.path, ErrorDomain::Qemu, 64 * 1024);
  REQUIRE(j.open().has_value());
  REQUIRE(j.commit({{JournalOp::WriteFile, "a.xml", "<a/>"}}).has_value());
  REQUIRE(j.commit({{JournalOp::Symlink, "autostart/a.xml", t.path + "/a.xml"}}).has_value());
  CHECK(slurp(t.path + "/a.xml") == "<a/>");
  CHECK(std::filesystem::is_symlink(t.path + "/autostart/a.xml"));
  REQUIRE(j.commit({{JournalOp::RemoveFile, "autostart/a.xml", ""}, {JournalOp::RemoveFile, "a.xml", ""}}).has_value());
  CHECK_FALSE(fs::exists(t.path + "/a.xml"));
}

TEST_CASE("a crash after commit is repaired by replay on open") {
  TempDir t;
  {
    DefinitionJournal j(t.path, ErrorDomain::Qemu, 64 * 1024);
    REQUIRE(j.open().has_value());
    REQUIRE(j.commit({{JournalOp::WriteFile, "a.xml", "<v1/>"}}).has_value());
    REQUIRE(j.commit({{JournalOp::WriteFile, "a.xml", "<v2/>"}}).has_value());
    REQUIRE(j.commit({{JournalOp::WriteFile, "b.xml", "<b/>"}}).has_value());
    // Simulate lost, never-synced file writes: the journal alone survives.
    ::unlink((t.path + "/a.xml").c_str());
    ::unlink((t.path + "/b.xml").c_str());
    j.abandonForTest();
  }
  DefinitionJournal j2(t.path, ErrorDomain::Qemu, 64 * 1024);
  REQUIRE(j2.open().has_value());
  CHECK(slurp(t.path + "/a.xml") == "<v2/>");
  CHECK(slurp(t.path + "/b.xml") == "<b/>");
}

TEST_CASE("checkpointed records are not replayed; a full journal rolls over") {
  TempDir t;
  {
    DefinitionJournal j(t.path, ErrorDomain::Qemu, 8 * 1024);
    REQUIRE(j.open().has_value());
    for (int i = 0; i < 100; ++i)  // far more than 8 KiB: forces generations
      REQUIRE(j.commit({{JournalOp::WriteFile, "x.xml", std::string(200, char('a' + i % 26))}}).has_value());
    REQUIRE(j.checkpoint().has_value());
    // A later manual edit must not be overwritten by old records.
    std::ofstream(t.path + "/x.xml") << "manual";
    j.abandonForTest();
  }
  DefinitionJournal j2(t.path, ErrorDomain::Qemu, 8 * 1024);
  REQUIRE(j2.open().has_value());
  CHECK(slurp(t.path + "/x.xml") == "manual");
}

TEST_CASE("records may not escape the directory") {
  TempDir t;
  DefinitionJournal j(t.path, ErrorDomain::Qemu, 64 * 1024);
  REQUIRE(j.open().has_value());
  CHECK_FALSE(j.commit({{JournalOp::WriteFile, "../evil.xml", "x"}}).has_value());
  CHECK_FALSE(j.commit({{JournalOp::WriteFile, "/etc/evil.xml", "x"}}).has_value());
}
