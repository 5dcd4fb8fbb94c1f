// dnsmasq's lease file -> NETWORK_GET_DHCP_LEASES records
// (networkGetDHCPLeases' field rules on dnsmasq's own format).
#include "dnsmasq/dnsmasq_leases.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace splitvirt;
using namespace splitvirt::network;

namespace {

conf::NetworkDef dualNet() {
  auto r = conf::parseNetworkDef(R"(<network><name>dual</name><forward mode='nat'/><bridge name='virbr7'/>
    <ip address='10.78.0.1' netmask='255.255.255.0'><dhcp><range start='10.78.0.100' end='10.78.0.200'/></dhcp></ip>
    <ip family='ipv6' address='fd00:78::1' prefix='64'><dhcp><range start='fd00:78::100' end='fd00:78::1ff'/></dhcp></ip>
    </network>)");
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  return *r;
}

// Shaped like dnsmasq 2.90's output (environment.md 4), IPv6 part added.
constexpr const char* kLeases =
    "1796004249 52:54:00:aa:bb:02 10.78.0.50 fixedhost 01:52:54:00:aa:bb:02\n"
    "1796004249 52:54:00:aa:bb:01 10.78.0.160 * 01:52:54:00:aa:bb:01\n"
    "1000 52:54:00:aa:bb:09 10.78.0.170 expired *\n"
    "0 52:54:00:aa:bb:0a 10.78.0.171 forever *\n"
    "duid 00:01:00:01:2c:6b:9f:31:52:54:00:00:00:01\n"
    "1796004300 1234567 fd00:78::150 guest6 00:01:00:01:2c:6b:9f:31:52:54:00:aa:bb:03\n"
    "1796004301 T42 fd00:78::151 * 00:03:00:01:52:54:00:aa:bb:04\n"
    "1796004302 99 fd00:78::152 * 00:02:00:00:ab:11:01:02:03:04\n"
    "garbage line\n";

constexpr int64_t kNow = 1796000000;

}  // namespace

TEST_CASE("dnsmasq leases: IPv4 and IPv6 records as libvirt fills them") {
  auto leases = parseDnsmasqLeases(kLeases, dualNet(), kNow);
  REQUIRE(leases.size() == 6);

  DhcpLease fixed{"virbr7", 1796004249, 0, "52:54:00:aa:bb:02", std::nullopt, "10.78.0.50", 24, "fixedhost",
                  "01:52:54:00:aa:bb:02"};
  CHECK(leases[0] == fixed);
  // "*" is no hostname.
  CHECK(leases[1].ipaddr == "10.78.0.160");
  CHECK_FALSE(leases[1].hostname.has_value());
  // Infinite lease (expiry 0) is kept; the expired one is not.
  CHECK(leases[2].ipaddr == "10.78.0.171");
  CHECK(leases[2].expiryTime == 0);
  CHECK_FALSE(leases[2].clientId.has_value());

  DhcpLease six{"virbr7", 1796004300, 1, "52:54:00:aa:bb:03", "1234567", "fd00:78::150", 64, "guest6",
                "00:01:00:01:2c:6b:9f:31:52:54:00:aa:bb:03"};
  CHECK(leases[3] == six);
  // Temporary address: the T is dropped from the IAID; DUID-LL gives the MAC.
  CHECK(leases[4].iaid == "42");
  CHECK(leases[4].mac == "52:54:00:aa:bb:04");
  // DUID-EN carries no MAC.
  CHECK(leases[5].type == 1);
  CHECK_FALSE(leases[5].mac.has_value());
}

TEST_CASE("dnsmasq leases: filter by MAC, case-insensitively") {
  auto one = parseDnsmasqLeases(kLeases, dualNet(), kNow, std::string_view("52:54:00:AA:BB:01"));
  REQUIRE(one.size() == 1);
  CHECK(one[0].ipaddr == "10.78.0.160");
  auto six = parseDnsmasqLeases(kLeases, dualNet(), kNow, std::string_view("52:54:00:aa:bb:03"));
  REQUIRE(six.size() == 1);
  CHECK(six[0].ipaddr == "fd00:78::150");
  CHECK(parseDnsmasqLeases(kLeases, dualNet(), kNow, std::string_view("52:54:00:00:00:00")).empty());
}

TEST_CASE("dnsmasq leases: empty or missing file is no leases") {
  CHECK(parseDnsmasqLeases("", dualNet(), kNow).empty());
  auto missing = readDnsmasqLeases("/nonexistent/dual.leases", dualNet(), kNow);
  REQUIRE(missing.has_value());
  CHECK(missing->empty());

  const auto path = std::filesystem::temp_directory_path() / ("sv-leases-" + std::to_string(::getpid()));
  std::ofstream(path) << kLeases;
  auto fromFile = readDnsmasqLeases(path.string(), dualNet(), kNow);
  REQUIRE(fromFile.has_value());
  CHECK(fromFile->size() == 6);
  std::filesystem::remove(path);
}
