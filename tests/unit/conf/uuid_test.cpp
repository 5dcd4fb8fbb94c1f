#include "conf/uuid.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>

using namespace splitvirt::conf;

TEST_CASE("uuid parse/format/generate") {
  const std::string canon = "c7a5fdbd-edaf-9455-926a-d65c16db1809";
  auto u = parseUuid(canon);
  REQUIRE(u.has_value());
  CHECK(formatUuid(*u) == canon);
  CHECK((*u)[0] == 0xc7);
  CHECK((*u)[15] == 0x09);
  // libvirt's liberal scan
  CHECK(parseUuid("C7A5FDBDEDAF9455926AD65C16DB1809") == u);
  CHECK(parseUuid("  c7a5fdbd-edaf-9455-926a-d65c16db1809\n") == u);
  CHECK(parseUuid("c7-a5-fd-bd edaf9455926ad65c16db1809") == u);
  CHECK_FALSE(parseUuid("c7a5fdbd-edaf-9455-926a-d65c16db180").has_value());   // 31 digits
  CHECK_FALSE(parseUuid("c7a5fdbd-edaf-9455-926a-d65c16db18090").has_value());  // 33 digits
  CHECK_FALSE(parseUuid("c7a5fdbd-edaf-9455-926a-d65c16db180g").has_value());
  CHECK_FALSE(parseUuid("c7a5fdbd-edaf-9455-926a-d65c16db1809 x").has_value());
  CHECK_FALSE(parseUuid("c-7a5fdbdedaf9455926ad65c16db1809").has_value());  // '-' inside a pair
  CHECK_FALSE(parseUuid("").has_value());

  std::set<std::string> seen;
  for (int i = 0; i < 16; i++) {
    Uuid g = generateUuid();
    CHECK((g[6] >> 4) == 4);        // version 4
    CHECK((g[8] & 0xC0) == 0x80);   // RFC 4122 variant
    seen.insert(formatUuid(g));
  }
  CHECK(seen.size() == 16);

}
