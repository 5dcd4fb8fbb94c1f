// IPv4/IPv6 address helpers (libvirt's virSocketAddr subset).
#include "conf/net_addr.hpp"

#include <doctest/doctest.h>

using namespace splitvirt;
using namespace splitvirt::conf;

namespace {

IpAddr ip(const char* s) {
  auto a = IpAddr::parse(s);
  REQUIRE_MESSAGE(a.has_value(), s);
  return *a;
}

std::string rangeErr(const char* start, const char* end, const char* net, int prefix) {
  IpAddr n = ip(net);
  auto r = checkAddrRange(ip(start), ip(end), &n, prefix);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ErrorCode::InternalError);
  CHECK(r.error().domain == ErrorDomain::None);
  return r.error().message;
}

}  // namespace

TEST_CASE("IpAddr parse and format") {
  CHECK(ip("192.168.1.1").isV4());
  CHECK(ip("192.168.1.1").str() == "192.168.1.1");
  CHECK(ip("fd00:0:0::1").isV6());
  CHECK(ip("fd00:0:0::1").str() == "fd00::1");
  CHECK(ip("::ffff:1.2.3.4").str() == "::ffff:1.2.3.4");
  CHECK_FALSE(IpAddr::parse("10.1").has_value());  // strict inet_pton
  CHECK_FALSE(IpAddr::parse("").has_value());
  CHECK_FALSE(IpAddr::parse("fe80::1%eth0").has_value());
  CHECK(IpAddr{}.str().empty());
  CHECK_FALSE(IpAddr{}.valid());
}

TEST_CASE("parseSocketAddr accepts what getaddrinfo(AI_NUMERICHOST) accepts") {
  auto a = parseSocketAddr("10.1");
  REQUIRE(a.has_value());
  CHECK(a->str() == "10.0.0.1");
  CHECK(parseSocketAddr("0x0a000001")->str() == "10.0.0.1");
  CHECK(parseSocketAddr("2001:db8::1")->isV6());
  auto bad = parseSocketAddr("host.example");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().code == ErrorCode::SystemError);
  CHECK(bad.error().domain == ErrorDomain::None);
  CHECK(bad.error().message == "Cannot parse socket address 'host.example': Name or service not known");
  CHECK_FALSE(parseSocketAddr("fd00::1", IpAddr::Family::V4).has_value());
  CHECK(parseSocketAddr("1.2.3.4", IpAddr::Family::V4).has_value());
  CHECK_FALSE(parseSocketAddr("").has_value());
}

TEST_CASE("netmask and prefix") {
  CHECK(netmaskToPrefix(ip("255.255.255.0")) == 24u);
  CHECK(netmaskToPrefix(ip("255.255.254.0")) == 23u);
  CHECK(netmaskToPrefix(ip("0.0.0.0")) == 0u);
  CHECK(netmaskToPrefix(ip("255.255.255.255")) == 32u);
  CHECK_FALSE(netmaskToPrefix(ip("255.0.255.0")).has_value());
  CHECK_FALSE(netmaskToPrefix(ip("255.255.255.1")).has_value());
  CHECK(netmaskToPrefix(ip("ffff:ffff:ffff:ff80::")) == 57u);
  CHECK_FALSE(netmaskToPrefix(IpAddr{}).has_value());
  CHECK(prefixToNetmask(24, IpAddr::Family::V4).str() == "255.255.255.0");
  CHECK(prefixToNetmask(0, IpAddr::Family::V4).str() == "0.0.0.0");
  CHECK(prefixToNetmask(21, IpAddr::Family::V4).str() == "255.255.248.0");
  CHECK(prefixToNetmask(64, IpAddr::Family::V6).str() == "ffff:ffff:ffff:ffff::");
  CHECK(prefixToNetmask(128, IpAddr::Family::V6).str() == "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
}

TEST_CASE("subnet arithmetic") {
  CHECK(networkAddress(ip("192.168.122.77"), 24).str() == "192.168.122.0");
  CHECK(networkAddress(ip("10.1.2.3"), 12).str() == "10.0.0.0");
  CHECK(networkAddress(ip("fd00:1:2:3::9"), 48).str() == "fd00:1:2::");
  CHECK(broadcastAddress(ip("192.168.122.1"), 24).str() == "192.168.122.255");
  CHECK(broadcastAddress(ip("10.0.0.1"), 8).str() == "10.255.255.255");
  CHECK(sameSubnet(ip("192.168.1.1"), ip("192.168.1.200"), 24));
  CHECK_FALSE(sameSubnet(ip("192.168.1.1"), ip("192.168.2.1"), 24));
  CHECK(sameSubnet(ip("192.168.1.1"), ip("192.168.2.1"), 16));
  CHECK_FALSE(sameSubnet(ip("192.168.1.1"), ip("fd00::1"), 0));
  CHECK(sameSubnet(ip("fd00::1"), ip("fd00::ffff"), 64));
  CHECK(compareAddr(ip("10.0.0.1"), ip("10.0.0.2")) == -1);
  CHECK(compareAddr(ip("10.0.1.0"), ip("10.0.0.255")) == 1);
  CHECK(compareAddr(ip("fd00::1"), ip("fd00::1")) == 0);
}

TEST_CASE("rangeSize") {
  CHECK(rangeSize(ip("192.168.122.2"), ip("192.168.122.254")) == 253u);
  CHECK(rangeSize(ip("10.0.0.1"), ip("10.0.0.1")) == 1u);
  CHECK(rangeSize(ip("10.0.0.0"), ip("10.1.0.0")) == 65537u);
  CHECK_FALSE(rangeSize(ip("10.0.0.2"), ip("10.0.0.1")).has_value());
  CHECK_FALSE(rangeSize(ip("10.0.0.2"), ip("fd00::1")).has_value());
  CHECK(rangeSize(ip("fd00::10"), ip("fd00::ff")) == 240u);
  CHECK(rangeSize(ip("::"), ip("ffff::")) == UINT64_MAX);
}

TEST_CASE("ipPrefix (virSocketAddrGetIPPrefix)") {
  CHECK(ipPrefix(ip("10.0.0.1"), std::nullopt, 0) == 8);
  CHECK(ipPrefix(ip("172.20.0.1"), std::nullopt, 0) == 16);
  CHECK(ipPrefix(ip("192.0.2.1"), std::nullopt, 0) == 24);
  CHECK(ipPrefix(ip("240.0.0.1"), std::nullopt, 0) == -1);
  CHECK(ipPrefix(ip("0.0.0.0"), std::nullopt, 0) == 0);
  CHECK(ipPrefix(ip("10.0.0.1"), ip("255.255.0.0"), 0) == 16);
  CHECK(ipPrefix(ip("10.0.0.1"), ip("255.0.255.0"), 0) == -1);
  CHECK(ipPrefix(ip("10.0.0.1"), std::nullopt, 30) == 30);
  CHECK(ipPrefix(ip("fd00::1"), std::nullopt, 0) == 64);
  CHECK(ipPrefix(ip("::"), std::nullopt, 0) == 0);
  CHECK(ipPrefix(IpAddr{}, std::nullopt, 0) == 0);
}

TEST_CASE("checkAddrRange (virSocketAddrGetRange)") {
  IpAddr net = ip("192.168.122.1");
  CHECK(checkAddrRange(ip("192.168.122.2"), ip("192.168.122.254"), &net, 24).value() == 253u);
  CHECK(checkAddrRange(ip("1.1.1.1"), ip("1.1.1.9")).value() == 9u);
  CHECK(checkAddrRange(ip("10.0.0.0"), ip("10.0.255.255")).value() == 65536u);
  IpAddr net6 = ip("fd00::1");
  CHECK(checkAddrRange(ip("fd00::100"), ip("fd00::1ff"), &net6, 64).value() == 256u);

  CHECK(rangeErr("192.168.123.2", "192.168.123.9", "192.168.122.1", 24) ==
        "internal error: range 192.168.123.2 - 192.168.123.9 is not entirely within network 192.168.122.1/24");
  CHECK(rangeErr("192.168.122.0", "192.168.122.9", "192.168.122.1", 24) ==
        "internal error: start of range 192.168.122.0 - 192.168.122.9 in network 192.168.122.1/24 is the network "
        "address");
  CHECK(rangeErr("192.168.122.2", "192.168.122.255", "192.168.122.1", 24) ==
        "internal error: end of range 192.168.122.2 - 192.168.122.255 in network 192.168.122.1/24 is the broadcast "
        "address");
  CHECK(rangeErr("192.168.122.9", "192.168.122.2", "192.168.122.1", 24) ==
        "internal error: range 192.168.122.9 - 192.168.122.2 is reversed ");
  CHECK(rangeErr("10.0.0.2", "10.1.0.2", "10.0.0.1", 8) == "internal error: range 10.0.0.2 - 10.1.0.2 is too large (> 65535)");
  CHECK(rangeErr("10.0.0.2", "10.0.0.9", "10.0.0.1", -1) ==
        "internal error: bad prefix -1 for network 10.0.0.1 when  checking range 10.0.0.2 - 10.0.0.9");
  CHECK(rangeErr("fd00::2", "fd00::9", "10.0.0.1", 8) ==
        "internal error: mismatch of address family in range fd00::2 - fd00::9 for network 10.0.0.1");
  CHECK(rangeErr("fd00::20", "fd00::10", "fd00::1", 64) == "internal error: range fd00::20 - fd00::10 start larger than end");
  CHECK(rangeErr("fd00::1:0:10", "fd00::2:0:10", "fd00::1", 64) ==
        "internal error: range fd00::1:0:10 - fd00::2:0:10 is too large (> 65535)");
  auto mixed = checkAddrRange(ip("10.0.0.1"), ip("fd00::1"));
  REQUIRE_FALSE(mixed.has_value());
  CHECK(mixed.error().message == "internal error: mismatch of address family in range 10.0.0.1 - fd00::1");
}
