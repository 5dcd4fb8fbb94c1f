// <metadata> elements by namespace (virDomainSetMetadata / GetMetadata type
// ELEMENT): set puts the element in the URI's namespace with the key as
// prefix and replaces one of the same namespace; get returns it without
// the namespace; remove drops it, and the last one takes <metadata> along.
#include "conf/domain_metadata.hpp"

#include <doctest/doctest.h>

using namespace splitvirt::conf;

TEST_CASE("domain metadata: set, replace, get, remove by namespace") {
  auto md = setMetadataElement(std::nullopt, "http://example.org/app/", "app", "<info><a>1</a></info>");
  REQUIRE(md.has_value());
  REQUIRE(md->has_value());
  CHECK(md->value().find("<app:info xmlns:app=\"http://example.org/app/\">") != std::string::npos);
  CHECK(md->value().find("<app:a>1</app:a>") != std::string::npos);

  auto other = setMetadataElement(*md, "http://other.example/", "o", "<x/>");
  REQUIRE(other.has_value());
  auto replaced = setMetadataElement(*other, "http://example.org/app/", "app", "<info><b>2</b></info>");
  REQUIRE(replaced.has_value());
  CHECK(replaced->value().find("<app:a>") == std::string::npos);

  auto got = metadataElement(*replaced, "http://example.org/app/");
  REQUIRE(got.has_value());
  REQUIRE(got->has_value());
  CHECK(got->value() == "<info>\n  <b>2</b>\n</info>");
  auto none = metadataElement(*replaced, "http://nobody.example/");
  REQUIRE(none.has_value());
  CHECK(!none->has_value());

  auto removed = setMetadataElement(*replaced, "http://example.org/app/", "", std::nullopt);
  REQUIRE(removed.has_value());
  REQUIRE(removed->has_value());
  CHECK(removed->value().find("app:") == std::string::npos);
  CHECK(removed->value().find("<o:x") != std::string::npos);
  auto empty = setMetadataElement(*removed, "http://other.example/", "", std::nullopt);
  REQUIRE(empty.has_value());
  CHECK(!empty->has_value());

  CHECK(!setMetadataElement(std::nullopt, "http://x/", "k", "<unclosed>").has_value());
}
