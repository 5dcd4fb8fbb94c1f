// libvirt's save image layout around a memory snapshot's migration stream:
// what we write is what libvirt 9.0's qemuSaveImageOpen reads (header
// fields, XML, 64 KiB padding, the stream right after), and files we cannot
// load are refused with libvirt's words before any guest is touched.
#include "snapshot/save_image.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;
using namespace splitvirt::qemu;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "sv-saveimg-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

uint32_t u32At(const std::string& s, size_t off) {
  uint32_t v;
  std::memcpy(&v, s.data() + off, 4);
  return v;
}

}  // namespace

TEST_CASE("save image: written as libvirt lays it out, read back") {
  TempDir t;
  const std::string path = (t.path / "m.mem").string();
  const std::string xml = "<domain type='qemu'><name>g</name></domain>";
  auto fd = createSaveImage(path, xml, true);
  REQUIRE(fd.has_value());
  REQUIRE(::write(*fd, "QEVM-stream", 11) == 11);  // what QEMU would append
  ::close(*fd);

  // Until finished, the magic marks the file incomplete.
  auto partial = openSaveImage(path);
  REQUIRE(!partial.has_value());
  CHECK(partial.error().message == "operation failed: save image is incomplete");

  REQUIRE(finishSaveImage(path).has_value());
  std::string bytes = slurp(path);
  CHECK(bytes.substr(0, 16) == "LibvirtQemudSave");
  CHECK(u32At(bytes, 16) == 2);                               // version
  CHECK(u32At(bytes, 20) == xml.size() + 1 + 64 * 1024);      // data_len: XML, NUL, padding
  CHECK(u32At(bytes, 24) == 1);                               // was_running
  CHECK(u32At(bytes, 28) == 0);                               // not compressed
  CHECK(u32At(bytes, 32) == 0);                               // no cookie
  CHECK(bytes.substr(92, xml.size()) == xml);
  CHECK(bytes.substr(92 + u32At(bytes, 20)) == "QEVM-stream");

  auto img = openSaveImage(path);
  REQUIRE(img.has_value());
  CHECK(img->domainXml == xml);
  CHECK(img->wasRunning);
  char buf[11];
  REQUIRE(::read(img->fd, buf, sizeof buf) == 11);  // positioned at the stream
  CHECK(std::string(buf, 11) == "QEVM-stream");
  ::close(img->fd);

  CHECK(!createSaveImage(path, xml, false).has_value());  // never overwrites
}

TEST_CASE("save image: bare streams load from the start, foreign files are refused") {
  TempDir t;
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream((t.path / name).string(), std::ios::binary) << content;
    return (t.path / name).string();
  };
  auto bare = openSaveImage(write("bare.mem", "QEVM" + std::string(200, '\x01')));
  REQUIRE(bare.has_value());
  CHECK(::lseek(bare->fd, 0, SEEK_CUR) == 0);
  ::close(bare->fd);

  auto foreign = openSaveImage(write("x.mem", std::string(200, 'x')));
  REQUIRE(!foreign.has_value());
  CHECK(foreign.error().message == "operation failed: image magic is incorrect");

  std::string newer(92, '\0');
  std::memcpy(newer.data(), "LibvirtQemudSave", 16);
  uint32_t v = 3, len = 16;
  std::memcpy(newer.data() + 16, &v, 4);
  std::memcpy(newer.data() + 20, &len, 4);
  auto tooNew = openSaveImage(write("v3.mem", newer + std::string(16, '\0')));
  REQUIRE(!tooNew.has_value());
  CHECK(tooNew.error().message == "operation failed: image version is not supported (3 > 2)");

  auto missing = openSaveImage((t.path / "none.mem").string());
  REQUIRE(!missing.has_value());
  CHECK(missing.error().message.find("Failed to open file") != std::string::npos);
}

TEST_CASE("save image: the XML is replaced in place, the stream stays where it was") {
  TempDir t;
  const std::string path = (t.path / "m.mem").string();
  auto fd = createSaveImage(path, "<domain><name>g</name></domain>", true);
  REQUIRE(fd.has_value());
  REQUIRE(::write(*fd, "QEVM-stream", 11) == 11);
  ::close(*fd);
  REQUIRE(finishSaveImage(path).has_value());

  REQUIRE(rewriteSaveImage(path, "<domain><name>g</name><description>x</description></domain>", false).has_value());
  auto img = openSaveImage(path);
  REQUIRE(img.has_value());
  CHECK(img->domainXml == "<domain><name>g</name><description>x</description></domain>");
  CHECK(!img->wasRunning);
  char buf[11];
  REQUIRE(::read(img->fd, buf, sizeof buf) == 11);
  CHECK(std::string(buf, 11) == "QEVM-stream");
  ::close(img->fd);

  auto tooBig = rewriteSaveImage(path, std::string(70 * 1024, 'x'), std::nullopt);
  REQUIRE(!tooBig.has_value());
  CHECK(tooBig.error().message == "operation failed: new xml too large to fit in file");
}
