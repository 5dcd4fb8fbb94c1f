#include "conf/xml.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace splitvirt;
using namespace splitvirt::conf;

TEST_CASE("XmlWriter produces libvirt-style output") {
  XmlWriter w;
  w.open("a").attr("x", "it's <&>\"").open("b").close().textElement("c", "t\x01<").open("d").attr("n", 5);
  w.text("v").close().close();
  CHECK(w.str() ==
        "<a x='it&apos;s &lt;&amp;&gt;&quot;'>\n"
        "  <b/>\n"
        "  <c>t&lt;</c>\n"
        "  <d n='5'>v</d>\n"
        "</a>\n");
}

TEST_CASE("XmlDoc::parse reports libvirt's errors") {
  auto wrongRoot = XmlDoc::parse("<network/>", "(domain_definition)", "domain", ErrorDomain::Domain);
  REQUIRE_FALSE(wrongRoot.has_value());
  CHECK(wrongRoot.error().code == ErrorCode::XmlError);
  CHECK(wrongRoot.error().domain == kFromXml);
  CHECK(wrongRoot.error().message == "XML error: expecting root element of 'domain', not 'network'");

  auto empty = XmlDoc::parse("", "(network_definition)", "network", ErrorDomain::Network);
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.error().code == ErrorCode::XmlDetail);
  CHECK(empty.error().domain == ErrorDomain::Network);
  CHECK(empty.error().message == "(network_definition):1: Document is empty\n(null)\n^");

  auto ok = XmlDoc::parse("<a x='1'><b>t</b><b/><c> </c></a>", "u", "a", ErrorDomain::Domain);
  REQUIRE(ok.has_value());
  XmlNode root = ok->root();
  CHECK(root.name() == "a");
  CHECK(root.attr("x") == "1");
  CHECK_FALSE(root.attr("y").has_value());
  CHECK(root.children("b").size() == 2);
  CHECK(root.childText("b") == "t");
  CHECK(root.childText("c") == " ");
  CHECK_FALSE(root.childText("d").has_value());
}

TEST_CASE("attribute helpers use virXMLProp* wording") {
  auto doc = XmlDoc::parse("<e n='abc' z='0' neg='-1' k='on' t='maybe'/>", "u", "", ErrorDomain::Domain);
  REQUIRE(doc.has_value());
  XmlNode e = doc->root();
  auto bad = propUInt(e, "n");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message ==
        "XML error: Invalid value for attribute 'n' in element 'e': 'abc'. Expected non-negative integer value");
  auto zero = propUInt(e, "z", 10, kPropNonZero);
  REQUIRE_FALSE(zero.has_value());
  CHECK(zero.error().message == "XML error: Invalid value for attribute 'z' in element 'e': Zero is not permitted");
  CHECK_FALSE(propUInt(e, "neg").has_value());
  CHECK(propInt(e, "neg").value() == -1);
  auto missing = propEnum(e, "m", {"a"}, kPropRequired);
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().message == "XML error: Missing required attribute 'm' in element 'e'");
  CHECK(propOnOff(e, "k").value() == true);
  auto tri = propYesNo(e, "t");
  REQUIRE_FALSE(tri.has_value());
  CHECK(tri.error().message == "XML error: Invalid value for attribute 't' in element 'e': 'maybe'.");
  CHECK_FALSE(propYesNo(e, "absent").value().has_value());
}

TEST_CASE("virStrToLong equivalents") {
  CHECK(strToUInt("-1") == 4294967295u);  // virStrToLong_ui wraps -1
  CHECK_FALSE(strToUIntp("-1").has_value());
  CHECK(strToUIntp(" 7") == 7u);
  CHECK_FALSE(strToUIntp("7 ").has_value());
  CHECK_FALSE(strToUIntp("").has_value());
  CHECK(strToUIntp("0x1f", 0) == 31u);
  CHECK_FALSE(strToInt("4294967296").has_value());
  CHECK(strToULLp("18446744073709551615") == 18446744073709551615ull);
  CHECK_FALSE(strToULLp("18446744073709551616").has_value());
}
