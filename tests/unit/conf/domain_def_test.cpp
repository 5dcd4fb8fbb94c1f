// Domain XML object model: golden round trips (domainxml2xml), schema
// validity of the golden output, expected failures with libvirt's exact
// errors, and unit tests for the value helpers.
#include "conf/domain_def.hpp"
#include "conf/domain_def_detail.hpp"
#include "conf/schema.hpp"
#include "support/golden.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <set>

namespace fs = std::filesystem;
using namespace splitvirt;
using namespace splitvirt::conf;

namespace {

const fs::path kGolden = fs::path(SV_GOLDEN_DIR) / "domainxml2xml";

std::string errorText(const Error& e) {
  return std::to_string(static_cast<int>(e.code)) + " " + std::to_string(static_cast<int>(e.domain)) + "\n" +
         e.message;
}

Result<DomainDef> parse(const std::string& xml, unsigned flags = 0) {
  return parseDomainDef(xml, flags, ErrorDomain::Domain);
}

// A minimal domain with `extra` inside <domain> and `mem` as the <memory> element.
std::string domainXml(const std::string& extra, const std::string& mem = "<memory>131072</memory>") {
  return "<domain type='qemu'><name>t</name><uuid>6f9b2f6e-2f1a-4b7e-9c1d-0a1b2c3d4eff</uuid>" + mem +
         "<os><type>hvm</type></os>" + extra + "</domain>";
}

uint64_t memoryKiB(const std::string& unit, const std::string& value) {
  auto r = parse(domainXml("", "<memory unit='" + unit + "'>" + value + "</memory>"));
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  return r->maxMemoryKiB;
}

}  // namespace

TEST_CASE("domainxml2xml: golden round trips") {
  auto inputs = test::goldenFiles(kGolden / "in", ".xml");
  REQUIRE(inputs.size() >= 12);
  for (const auto& in : inputs) {
    CAPTURE(in.string());
    auto xml = test::readFile(in);
    REQUIRE(xml.has_value());
    auto def = parse(*xml);
    REQUIRE_MESSAGE(def.has_value(), (def ? "" : def.error().message));
    std::string out = formatDomainDef(*def, 0);
    test::compareToGolden(out, kGolden / "out" / in.filename());

    // What we print must define again (virsh edit, dumpxml | define). Like
    // libvirt, a redefinition may still reorder devices once (disks are
    // sorted by bus, implicit controllers move into place); after that the
    // document is a fixed point.
    auto again = parse(out);
    REQUIRE_MESSAGE(again.has_value(), (again ? "" : again.error().message));
    std::string out2 = formatDomainDef(*again, 0);
    auto third = parse(out2);
    REQUIRE_MESSAGE(third.has_value(), (third ? "" : third.error().message));
    CHECK(formatDomainDef(*third, 0) == out2);
  }
}

TEST_CASE("domainxml2xml: golden output validates against libvirt's domain.rng") {
  if (!fs::exists(kDomainSchemaPath)) {
    MESSAGE("skipped: " << kDomainSchemaPath << " is not installed");
    return;
  }
  for (const auto& out : test::goldenFiles(kGolden / "out", ".xml")) {
    CAPTURE(out.string());
    auto xml = test::readFile(out);
    REQUIRE(xml.has_value());
    auto r = validateAgainstSchema(*xml, kDomainSchemaPath, ErrorDomain::Domain);
    CHECK_MESSAGE(r.has_value(), (r ? "" : r.error().message));
    auto r2 = parse(*xml, kParseValidateSchema);
    CHECK_MESSAGE(r2.has_value(), (r2 ? "" : r2.error().message));
  }
}

TEST_CASE("domainxml2xml: expected failures match the reference daemon") {
  // fail/NAME.err: first line "<code> <domain>", then the message verbatim
  // (as libvirtd 9.0 reported it). fail/validate-*.xml are defined with
  // VIR_DOMAIN_DEFINE_VALIDATE.
  auto inputs = test::goldenFiles(kGolden / "fail", ".xml");
  REQUIRE(inputs.size() >= 8);
  for (const auto& in : inputs) {
    CAPTURE(in.string());
    const bool validate = in.filename().string().starts_with("validate-");
    if (validate && !fs::exists(kDomainSchemaPath)) continue;
    auto xml = test::readFile(in);
    REQUIRE(xml.has_value());
    auto def = parse(*xml, validate ? kParseValidateSchema : 0);
    REQUIRE_FALSE(def.has_value());
    fs::path err = in;
    err.replace_extension(".err");
    test::compareToGolden(errorText(def.error()), err);
  }
}

TEST_CASE("memory units follow virScaleInteger") {
  CHECK(memoryKiB("", "1024") == 1024);
  CHECK(memoryKiB("KiB", "1024") == 1024);
  CHECK(memoryKiB("k", "3") == 3);
  CHECK(memoryKiB("K", "3") == 3);
  CHECK(memoryKiB("kib", "3") == 3);
  CHECK(memoryKiB("b", "1024") == 1);
  CHECK(memoryKiB("bytes", "1025") == 2);  // rounded up to whole KiB
  CHECK(memoryKiB("byte", "1") == 1);
  CHECK(memoryKiB("KB", "1000") == 977);
  CHECK(memoryKiB("M", "1") == 1024);
  CHECK(memoryKiB("MiB", "2") == 2048);
  CHECK(memoryKiB("MB", "1") == 977);
  CHECK(memoryKiB("G", "1") == 1048576);
  CHECK(memoryKiB("GiB", "4") == 4194304);
  CHECK(memoryKiB("GB", "1") == 976563);
  CHECK(memoryKiB("T", "1") == 1073741824ull);
  CHECK(memoryKiB("TB", "1") == 976562500ull);
  CHECK(memoryKiB("PiB", "1") == 1099511627776ull);
  CHECK(memoryKiB("KiB", " 42") == 42);  // strtoull skips leading blanks

  auto unknown = scaleInteger(1, "KIBI", 1024, UINT64_MAX);
  REQUIRE_FALSE(unknown.has_value());
  CHECK(unknown.error().code == ErrorCode::InvalidArg);
  CHECK(unknown.error().message == "invalid argument: unknown suffix 'KIBI'");
  auto big = scaleInteger(20, "EiB", 1024, INT64_MAX);
  REQUIRE_FALSE(big.has_value());
  CHECK(static_cast<int>(big.error().code) == 82);
  CHECK(big.error().message == "numerical overflow: value too large: 20EiB");
  CHECK(scaleInteger(0, "EiB", 1024, 1).value() == 0);

  auto trailing = parse(domainXml("", "<memory>1024 </memory>"));
  REQUIRE_FALSE(trailing.has_value());
  CHECK(trailing.error().message == "XML error: Invalid value '1024 ' for element or attribute './memory[1]'");

  // currentMemory defaults to, and is capped at, <memory>
  auto cur = parse(domainXml("<currentMemory unit='GiB'>8</currentMemory>"));
  REQUIRE(cur.has_value());
  CHECK(cur->currentMemoryKiB == 131072);
  auto none = parse(domainXml(""));
  REQUIRE(none.has_value());
  CHECK(none->currentMemoryKiB == 131072);
}

TEST_CASE("a missing uuid is generated") {
  auto a = parse("<domain type='qemu'><name>n</name><memory>1024</memory><os><type>hvm</type></os></domain>");
  auto b = parse("<domain type='qemu'><name>n</name><memory>1024</memory><os><type>hvm</type></os></domain>");
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK((a->uuid[6] >> 4) == 4);
  CHECK(a->uuid != b->uuid);
}

TEST_CASE("MAC addresses: parse, format, generate") {
  auto m = parseMac("52:54:00:AB:cd:0f");
  REQUIRE(m.has_value());
  CHECK(formatMac(*m) == "52:54:00:ab:cd:0f");
  CHECK(parseMac("2:4:0:a:b:c").has_value());  // one hex digit per group is fine
  CHECK_FALSE(parseMac("52:54:00:ab:cd").has_value());
  CHECK_FALSE(parseMac("52:54:00:ab:cd:0f:00").has_value());
  CHECK_FALSE(parseMac("52-54-00-ab-cd-0f").has_value());
  CHECK_FALSE(parseMac("525:4:00:ab:cd:0f").has_value());
  CHECK_FALSE(parseMac(" 52:54:00:ab:cd:0f").has_value());

  std::set<std::string> seen;
  for (int i = 0; i < 16; i++) {
    std::string s = formatMac(generateMac());
    CHECK(s.starts_with("52:54:00:"));
    seen.insert(s);
  }
  CHECK(seen.size() > 1);

  // generated on parse when absent, as libvirt does
  auto def = parse(domainXml("<devices><interface type='user'/><interface type='network'>"
                             "<source network='default'/></interface></devices>"));
  REQUIRE(def.has_value());
  REQUIRE(def->nets.size() == 2);
  for (const auto& n : def->nets) {
    REQUIRE(n.mac.has_value());
    CHECK(formatMac(*n.mac).starts_with("52:54:00:"));
    CHECK(((*n.mac)[0] & 1) == 0);
  }
  CHECK(def->nets[0].mac != def->nets[1].mac);
}

TEST_CASE("format flags: running id and secure information") {
  auto def = parse(domainXml("<devices><graphics type='vnc' passwd='pw'/></devices>"));
  REQUIRE(def.has_value());
  std::string plain = formatDomainDef(*def, 0);
  CHECK(plain.starts_with("<domain type='qemu'>\n"));
  CHECK(plain.find("passwd") == std::string::npos);
  CHECK(formatDomainDef(*def, 0, 7).starts_with("<domain type='qemu' id='7'>\n"));
  CHECK(formatDomainDef(*def, kFormatInactive, 7).starts_with("<domain type='qemu'>\n"));
  CHECK(formatDomainDef(*def, kFormatSecure).find(" passwd='pw'") != std::string::npos);
}

TEST_CASE("disk names map to indexes like virDiskNameToIndex") {
  using conf::diskNameToIndex;
  CHECK(diskNameToIndex("vda") == 0);
  CHECK(diskNameToIndex("sdb") == 1);
  CHECK(diskNameToIndex("hdz") == 25);
  CHECK(diskNameToIndex("hdaa") == 26);
  CHECK(diskNameToIndex("xvdc") == 2);
  CHECK(diskNameToIndex("vda1") == 0);
  CHECK(diskNameToIndex("nvme0n1") == -1);
  CHECK(diskNameToIndex("vd1a") == -1);
}

TEST_CASE("not-well-formed XML reports libxml2's message with libvirt's context lines") {
  auto r = parse("<domain type='qemu'>\n\t<name>x</nam>\n</domain>");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ErrorCode::XmlDetail);
  CHECK(r.error().domain == ErrorDomain::Domain);
  CHECK(r.error().message ==
        "(domain_definition):2: Opening and ending tag mismatch: name line 2 and nam\n"
        "\t<name>x</nam>\n"
        "\t-------------^");
}
