// networkxml2conf: network XML -> dnsmasq conf file, dhcp-hostsfile and
// addn-hosts (libvirt's networkxml2conftest), each conf also checked by
// the real `dnsmasq --test`; plus the generator's options and errors.
#include "dnsmasq/dnsmasq_config.hpp"
#include "support/golden.hpp"
#include "util/command.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace splitvirt;
using namespace splitvirt::network;

namespace {

const fs::path kGolden = fs::path(SV_GOLDEN_DIR) / "networkxml2conf";
constexpr const char* kStateDir = "/var/lib/libvirt/dnsmasq";
constexpr const char* kPidDir = "/run/libvirt/network";
constexpr const char* kDnsmasq = "/usr/sbin/dnsmasq";

conf::NetworkDef parseOk(const std::string& xml) {
  auto r = conf::parseNetworkDef(xml);
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  return *r;
}

conf::NetworkDef parseFile(const fs::path& p) {
  auto text = test::readFile(p);
  REQUIRE(text.has_value());
  return parseOk(*text);
}

// An empty hosts file has no golden file: its absence is the expectation.
void compareOptional(const std::string& actual, const fs::path& path) {
  if (!actual.empty()) {
    test::compareToGolden(actual, path);
  } else if (test::regenerateGoldens()) {
    fs::remove(path);
  } else {
    CHECK_MESSAGE(!fs::exists(path), path.string() << " exists but the generated file is empty");
  }
}

std::string confFor(const std::string& xml, const DnsmasqOptions& opts = {}) {
  auto def = parseOk(xml);
  auto cfg = buildDnsmasqConfig(def, dnsmasqFiles(kStateDir, kPidDir, def.name), opts);
  REQUIRE_MESSAGE(cfg.has_value(), (cfg ? "" : cfg.error().message));
  return cfg->conf;
}

bool hasLine(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

const char* kNatNoForwarders = R"(<network><name>n</name><forward mode='nat'/><bridge name='virbr9'/>
  <ip address='10.1.0.1' prefix='24'><dhcp><range start='10.1.0.2' end='10.1.0.9'/></dhcp></ip></network>)";

}  // namespace

TEST_CASE("networkxml2conf: dnsmasq conf, hostsfile and addnhosts match the golden files") {
  auto cases = test::goldenFiles(kGolden, ".xml");
  REQUIRE(cases.size() >= 15);
  for (const auto& xmlPath : cases) {
    const fs::path base = fs::path(xmlPath).replace_extension();
    CAPTURE(xmlPath.filename().string());
    auto def = parseFile(xmlPath);
    auto cfg = buildDnsmasqConfig(def, dnsmasqFiles(kStateDir, kPidDir, def.name));
    REQUIRE_MESSAGE(cfg.has_value(), (cfg ? "" : cfg.error().message));
    test::compareToGolden(cfg->conf, base.string() + ".conf");
    compareOptional(cfg->hostsFile, base.string() + ".hostsfile");
    compareOptional(cfg->addnHosts, base.string() + ".addnhosts");
    // The refresh path (net-update + SIGHUP) writes the same hosts files.
    auto hosts = buildDnsmasqHostsFiles(def);
    CHECK(hosts.hostsFile == cfg->hostsFile);
    CHECK(hosts.addnHosts == cfg->addnHosts);
  }
}

TEST_CASE("networkxml2conf: the real dnsmasq accepts every golden conf (dnsmasq --test)") {
  if (!fs::exists(kDnsmasq)) {
    MESSAGE("skipped: no " << kDnsmasq);
    return;
  }
  const fs::path tmp = fs::temp_directory_path() / ("sv-dnsmasq-test-" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  struct Cleanup {
    fs::path p;
    ~Cleanup() { fs::remove_all(p); }
  } cleanup{tmp};
  for (const auto& xmlPath : test::goldenFiles(kGolden, ".xml")) {
    CAPTURE(xmlPath.filename().string());
    auto def = parseFile(xmlPath);
    // Files of our own: --test opens the hosts files and tftp root it is given.
    auto files = dnsmasqFiles(tmp.string(), tmp.string(), def.name);
    auto cfg = buildDnsmasqConfig(def, files);
    REQUIRE(cfg.has_value());
    std::string conf = cfg->conf;
    for (auto pos = conf.find("tftp-root="); pos != std::string::npos; pos = conf.find("tftp-root=", pos + 1))
      conf.replace(pos, conf.find('\n', pos) - pos, "tftp-root=" + tmp.string());
    std::ofstream(files.conf) << conf;
    std::ofstream(files.hostsFile) << cfg->hostsFile;
    std::ofstream(files.addnHosts) << cfg->addnHosts;
    auto r = runCommand({kDnsmasq, "--test", "--conf-file=" + files.conf});
    REQUIRE(r.has_value());
    CHECK_MESSAGE(r->exitStatus == 0, r->err << "\n" << conf);
  }
}

TEST_CASE("dnsmasq conf: no-resolv keeps names local unless host resolvers are wanted") {
  // Default: no forwarder -> no-resolv (the host's resolv.conf is unusable
  // inside a network namespace).
  CHECK(hasLine(confFor(kNatNoForwarders), "no-resolv"));
  // libvirt's behaviour on request: unclaimed names go to the host's resolvers.
  DnsmasqOptions host;
  host.hostResolvers = true;
  CHECK_FALSE(hasLine(confFor(kNatNoForwarders, host), "no-resolv"));
  // A forwarder without a domain claims everything: no-resolv either way.
  const std::string withFwd = R"(<network><name>n</name><forward mode='nat'/><bridge name='virbr9'/>
    <dns><forwarder addr='10.0.0.1'/></dns><ip address='10.1.0.1' prefix='24'/></network>)";
  CHECK(hasLine(confFor(withFwd, host), "no-resolv"));
  // Isolated networks never forward: libvirt's no-resolv, once.
  const std::string isolated =
      R"(<network><name>n</name><bridge name='virbr9'/><ip address='10.1.0.1' prefix='24'/></network>)";
  auto text = confFor(isolated, host);
  CHECK(hasLine(text, "no-resolv"));
  CHECK(text.find("no-resolv") == text.rfind("no-resolv"));
  // DNS off: nothing to resolve, port=0.
  const std::string noDns = R"(<network><name>n</name><forward mode='nat'/><bridge name='virbr9'/>
    <dns enable='no'/><ip address='10.1.0.1' prefix='24'/></network>)";
  CHECK(hasLine(confFor(noDns), "port=0"));
  CHECK_FALSE(hasLine(confFor(noDns), "no-resolv"));
}

TEST_CASE("dnsmasq conf: DHCP lines carry no-ping, our own lease file and the hosts files") {
  auto text = confFor(kNatNoForwarders);
  CHECK(hasLine(text, "no-ping"));
  CHECK(hasLine(text, "dhcp-leasefile=/var/lib/libvirt/dnsmasq/n.leases"));
  CHECK(hasLine(text, "dhcp-hostsfile=/var/lib/libvirt/dnsmasq/n.hostsfile"));
  CHECK(hasLine(text, "addn-hosts=/var/lib/libvirt/dnsmasq/n.addnhosts"));
  CHECK(hasLine(text, "pid-file=/run/libvirt/network/n.pid"));
  CHECK(hasLine(text, "dhcp-lease-max=8"));
  // Without DHCP: no lease file, no hosts file, no no-ping.
  auto noDhcp = confFor(R"(<network><name>n</name><forward mode='nat'/><bridge name='virbr9'/>
    <ip address='10.1.0.1' prefix='24'/></network>)");
  CHECK(noDhcp.find("dhcp-leasefile") == std::string::npos);
  CHECK(noDhcp.find("dhcp-hostsfile") == std::string::npos);
  CHECK(noDhcp.find("no-ping") == std::string::npos);
}

TEST_CASE("dnsmasq conf: libvirt's errors for a second DHCP block and an unusable PTR prefix") {
  // networkValidate refuses these at define time already; the generator
  // keeps libvirt's own checks for definitions that bypass it.
  auto def = parseOk(kNatNoForwarders);
  auto second = def.ips.front();
  second.address = *conf::IpAddr::parse("10.2.0.1");
  second.ranges.front().start = *conf::IpAddr::parse("10.2.0.2");
  second.ranges.front().end = *conf::IpAddr::parse("10.2.0.9");
  def.ips.push_back(second);
  auto r = buildDnsmasqConfig(def, dnsmasqFiles(kStateDir, kPidDir, def.name));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ErrorCode::ConfigUnsupported);
  CHECK(r.error().message == "unsupported configuration: For IPv4, multiple DHCP definitions cannot be specified.");

  auto ptr = parseOk(R"(<network><name>n</name><forward mode='nat'/><bridge name='virbr9'/>
    <ip address='10.1.0.1' prefix='20' localPtr='yes'/></network>)");
  auto p = buildDnsmasqConfig(ptr, dnsmasqFiles(kStateDir, kPidDir, ptr.name));
  REQUIRE_FALSE(p.has_value());
  CHECK(p.error().message ==
        "unsupported configuration: PTR domain for IPv4 network with prefix 20 cannot be automatically created");
}

TEST_CASE("dnsmasq: needsDnsmasq follows networkStartDhcpDaemon") {
  CHECK(needsDnsmasq(parseOk(kNatNoForwarders)));
  // No <ip>: nothing to serve.
  CHECK_FALSE(needsDnsmasq(parseOk("<network><name>n</name><bridge name='virbr9'/></network>")));
  // DNS off and no DHCP: nothing to serve either.
  CHECK_FALSE(needsDnsmasq(parseOk(R"(<network><name>n</name><bridge name='virbr9'/><dns enable='no'/>
    <ip address='10.1.0.1' prefix='24'/></network>)")));
  // DNS only.
  CHECK(needsDnsmasq(parseOk(
      "<network><name>n</name><bridge name='virbr9'/><ip address='10.1.0.1' prefix='24'/></network>")));
  // A host bridge is not ours to serve.
  CHECK_FALSE(needsDnsmasq(
      parseOk("<network><name>n</name><forward mode='bridge'/><bridge name='br0'/></network>")));
}

TEST_CASE("dnsmasq: lease times and file names") {
  CHECK(dnsmasqLeaseTime({0, "minutes"}) == "infinite");
  CHECK(dnsmasqLeaseTime({90, "seconds"}) == "90s");
  CHECK(dnsmasqLeaseTime({5, "minutes"}) == "5m");
  CHECK(dnsmasqLeaseTime({2, "hours"}) == "2h");
  auto f = dnsmasqFiles("/r/var/lib/libvirt/dnsmasq/", "/r/run/libvirt/network", "default");
  CHECK(f.conf == "/r/var/lib/libvirt/dnsmasq/default.conf");
  CHECK(f.hostsFile == "/r/var/lib/libvirt/dnsmasq/default.hostsfile");
  CHECK(f.addnHosts == "/r/var/lib/libvirt/dnsmasq/default.addnhosts");
  CHECK(f.leaseFile == "/r/var/lib/libvirt/dnsmasq/default.leases");
  CHECK(f.pidFile == "/r/run/libvirt/network/default.pid");
}
