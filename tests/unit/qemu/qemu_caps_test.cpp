#include "caps/qemu_caps.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>

using namespace splitvirt;
using namespace splitvirt::qemu;

namespace {

const char* kMachineHelp =
    "Supported machines are:\n"
    "microvm              microvm (i386)\n"
    "pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-7.2)\n"
    "pc-i440fx-7.2        Standard PC (i440FX + PIIX, 1996) (default)\n"
    "pc-i440fx-1.4        Standard PC (i440FX + PIIX, 1996) (deprecated)\n"
    "q35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-7.2)\n"
    "pc-q35-7.2           Standard PC (Q35 + ICH9, 2009)\n"
    "isapc                ISA-only PC\n"
    "none                 empty machine\n";

// query-machines as QEMU 7.2 answers it (hash order, default not first).
const char* kQueryMachines =
    R"({"return": [{"hotpluggable-cpus": true, "name": "pc-q35-5.2", "numa-mem-supported": false, )"
    R"("default-cpu-type": "qemu64-x86_64-cpu", "cpu-max": 288, "deprecated": false, "default-ram-id": "pc.ram"}, )"
    R"({"hotpluggable-cpus": true, "name": "pc-i440fx-7.2", "numa-mem-supported": false, "is-default": true, )"
    R"("default-cpu-type": "qemu64-x86_64-cpu", "cpu-max": 255, "deprecated": false, "alias": "pc", )"
    R"("default-ram-id": "pc.ram"}, )"
    R"({"hotpluggable-cpus": false, "name": "none", "numa-mem-supported": false, "cpu-max": 1, )"
    R"("deprecated": false}, )"
    R"({"hotpluggable-cpus": true, "name": "pc-i440fx-1.4", "cpu-max": 255, "deprecated": true}, )"
    R"({"hotpluggable-cpus": true, "name": "pc-q35-7.2", "cpu-max": 288, "deprecated": false, "alias": "q35"}, )"
    R"({"hotpluggable-cpus": false, "name": "x-\u0072emote", "cpu-max": 1, "deprecated": false}]})";

}  // namespace

TEST_CASE("qemu --version parsing") {
  auto v = parseQemuVersion(
      "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n"
      "Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n");
  REQUIRE(v);
  CHECK(v->version == 7002022);
  CHECK(v->package == "Debian 1:7.2+dfsg-7+deb12u18+b3");
  v = parseQemuVersion("QEMU emulator version 8.1.0\n");
  REQUIRE(v);
  CHECK(v->version == 8001000);
  CHECK(v->package.empty());
  CHECK(parseQemuVersion("QEMU emulator version 2.5 \n")->version == 2005000);
  CHECK_FALSE(parseQemuVersion("garbage"));
}

TEST_CASE("-machine help parsing folds aliases into their target") {
  auto m = parseMachineHelp(kMachineHelp);
  REQUIRE(m.size() == 6);
  CHECK(m[0].name == "microvm");
  CHECK(m[1].name == "pc-i440fx-7.2");
  CHECK(m[1].isDefault);
  CHECK(*m[1].alias == "pc");
  CHECK(m[2].deprecated);
  CHECK(*m[3].alias == "q35");
  CHECK(m[5].name == "none");
  CHECK(m[1].maxCpus == 0);  // not printed by -machine help
}

TEST_CASE("query-machines parsing and libvirt's ordering") {
  auto m = parseQueryMachines(kQueryMachines);
  REQUIRE(m);
  REQUIRE(m->size() == 6);
  CHECK((*m)[1].isDefault);
  CHECK((*m)[1].maxCpus == 255);
  CHECK((*m)[0].defaultRamId == "pc.ram");
  CHECK((*m)[5].name == "x-remote");
  CHECK_FALSE(parseQueryMachines("{\"return\": {}}"));
  CHECK_FALSE(parseQueryMachines("[{\"name\": 1"));

  auto ordered = orderMachines(*m);
  REQUIRE(ordered.size() == 5);  // "none" dropped
  CHECK(ordered[0].name == "pc-i440fx-7.2");
  CHECK(ordered[1].name == "pc-q35-5.2");

  auto caps = machinesToCaps(ordered);
  std::vector<std::string> names;
  for (auto& g : caps) names.push_back(g.name);
  CHECK(names ==
        std::vector<std::string>{"pc-i440fx-7.2", "pc", "pc-q35-5.2", "pc-i440fx-1.4", "pc-q35-7.2", "q35", "x-remote"});
  CHECK_FALSE(caps[0].canonical);
  CHECK(*caps[1].canonical == "pc-i440fx-7.2");
  CHECK(caps[1].maxCpus == 255);
  CHECK(caps[3].deprecated);
  CHECK(caps[5].maxCpus == 288);
}

TEST_CASE("binary names map to libvirt arch names") {
  CHECK(archFromBinaryName("/usr/bin/qemu-system-x86_64") == "x86_64");
  CHECK(archFromBinaryName("/usr/bin/qemu-system-i386") == "i686");
  CHECK(archFromBinaryName("qemu-system-aarch64") == "aarch64");
  CHECK(archFromBinaryName("/usr/bin/kvm") == "");
}

TEST_CASE("a missing binary gives libvirt's error") {
  auto r = probeQemuBinary("/nonexistent/qemu-system-x86_64");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ErrorCode::SystemError);
  CHECK(r.error().domain == ErrorDomain::Qemu);
  CHECK(r.error().message == "Cannot check QEMU binary /nonexistent/qemu-system-x86_64: No such file or directory");
}

TEST_CASE("probing the real qemu-system-x86_64") {
  const std::string bin = "/usr/bin/qemu-system-x86_64";
  if (::access(bin.c_str(), X_OK) != 0) {
    MESSAGE("qemu-system-x86_64 not installed: skipped");
    return;
  }
  auto r = probeQemuBinary(bin);
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  CHECK(r->version >= 2000000);
  CHECK(r->arch == "x86_64");
  CHECK(r->fromQmp);
  REQUIRE_FALSE(r->machines.empty());
  CHECK(r->defaultMachine.rfind("pc-i440fx-", 0) == 0);
  CHECK(r->machines[0].name == r->defaultMachine);
  auto pc = std::find_if(r->machines.begin(), r->machines.end(), [](auto& m) { return m.name == "pc"; });
  REQUIRE(pc != r->machines.end());
  CHECK(*pc->canonical == r->defaultMachine);
  CHECK(pc->maxCpus > 0);
  CHECK(std::none_of(r->machines.begin(), r->machines.end(), [](auto& m) { return m.name == "none"; }));

  // Second probe comes from the in-process cache.
  auto t0 = std::chrono::steady_clock::now();
  auto again = probeQemuBinary(bin);
  auto dt = std::chrono::steady_clock::now() - t0;
  REQUIRE(again.has_value());
  CHECK(again->machines.size() == r->machines.size());
  CHECK(dt < std::chrono::milliseconds(50));

  auto xml = buildCapabilitiesXml(bin);
  REQUIRE(xml.has_value());
  CHECK(xml->find("<emulator>" + bin + "</emulator>") != std::string::npos);
  CHECK(xml->find("<arch name='x86_64'>\n      <wordsize>64</wordsize>") != std::string::npos);
  CHECK(xml->find("<domain type='qemu'/>") != std::string::npos);
  bool kvm = ::access("/dev/kvm", R_OK | W_OK) == 0;
  if (!kvm) CHECK(xml->find("<domain type='kvm'/>") == std::string::npos);
  CHECK(xml->find("<secmodel>\n      <model>none</model>") != std::string::npos);
}
