// The real dnsmasq driven by dnsmasq_process: inside a fresh network
// namespace with a bridge and a veth "guest", start it from a generated
// configuration, give the guest a lease (busybox udhcpc), read the lease
// back, reload the hosts files, stop it. Skipped when not root or when
// dnsmasq/busybox are missing.
#include "dnsmasq/dnsmasq_config.hpp"
#include "dnsmasq/dnsmasq_leases.hpp"
#include "dnsmasq/dnsmasq_process.hpp"
#include "netns_thread.hpp"
#include "util/command.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <ctime>
#include <filesystem>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace splitvirt;
using namespace splitvirt::network;

namespace {

constexpr const char* kBusybox = "/usr/bin/busybox";

void run(const std::vector<std::string>& argv) {
  auto r = runCommand(argv, std::chrono::seconds(20));
  REQUIRE(r.has_value());
  REQUIRE_MESSAGE(r->exitStatus == 0, argv[0] << " " << argv[1] << ": " << r->err);
}

// A 0755 scratch folder: dnsmasq reads the hosts files as `nobody`.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "sv-dnsmasq-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
    ::chmod(path.c_str(), 0755);
  }
  ~TempDir() { fs::remove_all(path); }
};

conf::NetworkDef testNet() {
  auto r = conf::parseNetworkDef(R"(<network><name>svtest</name><forward mode='nat'/>
    <bridge name='svbr0'/><domain name='test'/>
    <ip address='10.99.0.1' netmask='255.255.255.0'><dhcp>
      <range start='10.99.0.100' end='10.99.0.110'/>
      <host mac='52:54:00:aa:bb:02' name='fixedhost' ip='10.99.0.50'/>
    </dhcp></ip></network>)");
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  return *r;
}

bool usable() {
  if (!fs::exists(std::string(kDnsmasqBinary)) || !fs::exists(kBusybox)) {
    MESSAGE("skipped: dnsmasq or busybox missing");
    return false;
  }
  if (!test::canUnshareNet()) {
    MESSAGE("skipped: not root, cannot make a network namespace");
    return false;
  }
  return true;
}

}  // namespace

TEST_CASE("dnsmasq process: start, lease, adopt check, reload, stop (real dnsmasq in a netns)") {
  if (!usable()) return;
  TempDir tmp;
  test::runInNewNetns([&] {
    run({"ip", "link", "set", "lo", "up"});
    run({"ip", "link", "add", "svbr0", "type", "bridge"});
    run({"ip", "addr", "add", "10.99.0.1/24", "dev", "svbr0"});
    run({"ip", "link", "set", "svbr0", "up"});
    run({"ip", "link", "add", "svh0", "type", "veth", "peer", "name", "svc0"});
    run({"ip", "link", "set", "svh0", "master", "svbr0", "up"});
    run({"ip", "link", "set", "svc0", "address", "52:54:00:aa:bb:01", "up"});

    auto def = testNet();
    const auto files = dnsmasqFiles((tmp.path / "lib").string(), (tmp.path / "run").string(), def.name);
    auto cfg = buildDnsmasqConfig(def, files);
    REQUIRE(cfg.has_value());
    auto pid = startDnsmasq(files, *cfg);
    REQUIRE_MESSAGE(pid.has_value(), (pid ? "" : pid.error().message));
    CHECK(*pid > 0);
    // A failed REQUIRE below must not leave the daemon running.
    struct Reaper {
      pid_t pid;
      const DnsmasqFiles& files;
      ~Reaper() {
        if (isOurDnsmasq(pid, files.conf)) (void)stopDnsmasq(pid, files);
      }
    } reaper{*pid, files};
    CHECK(readDnsmasqPid(files.pidFile).value() == *pid);
    CHECK(isOurDnsmasq(*pid, files.conf));
    CHECK_FALSE(isOurDnsmasq(*pid, files.conf + ".other"));
    CHECK_FALSE(isOurDnsmasq(::getpid(), files.conf));
    CHECK((fs::status(files.hostsFile).permissions() & fs::perms::others_read) != fs::perms::none);

    // A guest asks for a lease and gets one quickly (no-ping: no 3 s wait).
    const auto t0 = std::chrono::steady_clock::now();
    run({kBusybox, "udhcpc", "-i", "svc0", "-f", "-q", "-n", "-t", "5", "-T", "1", "-s", "/bin/true"});
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(2500));
    std::vector<DhcpLease> leases;
    for (int i = 0; i < 100 && leases.empty(); ++i) {
      auto r = readDnsmasqLeases(files.leaseFile, def, ::time(nullptr));
      REQUIRE(r.has_value());
      leases = *r;
      if (leases.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE(leases.size() == 1);
    CHECK(leases[0].mac == "52:54:00:aa:bb:01");
    CHECK(leases[0].iface == "svbr0");
    CHECK(leases[0].prefix == 24);
    CHECK(leases[0].type == 0);
    CHECK(leases[0].ipaddr.starts_with("10.99.0.1"));
    CHECK(leases[0].expiryTime > ::time(nullptr));

    // net-update path: new hosts files, SIGHUP, same daemon keeps running.
    def.ips[0].hosts.push_back({"52:54:00:aa:bb:05", std::nullopt, "late", *conf::IpAddr::parse("10.99.0.55"), {}});
    auto hosts = buildDnsmasqHostsFiles(def);
    REQUIRE(writeDnsmasqHostsFiles(files, hosts).has_value());
    REQUIRE(reloadDnsmasq(*pid).has_value());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(isOurDnsmasq(*pid, files.conf));

    REQUIRE(stopDnsmasq(*pid, files).has_value());
    CHECK_FALSE(isOurDnsmasq(*pid, files.conf));
    CHECK_FALSE(fs::exists(files.pidFile));
    // Stopping what is already gone is fine.
    CHECK(stopDnsmasq(*pid, files).has_value());
    CHECK(removeDnsmasqFiles(files).has_value());
    CHECK_FALSE(fs::exists(files.conf));
  });
}

TEST_CASE("dnsmasq process: a missing binary and a refused configuration are reported") {
  if (!usable()) return;
  TempDir tmp;
  const auto files = dnsmasqFiles((tmp.path / "lib").string(), (tmp.path / "run").string(), "bad");
  DnsmasqConfig cfg;
  cfg.conf = "no-such-option-here\n";
  auto missing = startDnsmasq(files, cfg, "/nonexistent/dnsmasq");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().message.find("Cannot find '/nonexistent/dnsmasq' in path") != std::string::npos);

  test::runInNewNetns([&] {
    auto bad = startDnsmasq(files, cfg);
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().code == ErrorCode::InternalError);
    CHECK(bad.error().message.find("unexpected exit status") != std::string::npos);
    CHECK(bad.error().message.find("bad option at line 1") != std::string::npos);
  });
  CHECK_FALSE(reloadDnsmasq(0).has_value());
}
