// Domain snapshot XML (snapshotxml2xml): golden round trips per parse mode,
// schema validity of the output, expected failures with the reference
// daemon's exact errors, output identical to libvirtd 9.0's
// snapshot-dumpxml, and the driver-side checks (redefine validation, disk
// alignment with default external names).
#include "conf/schema.hpp"
#include "conf/snapshot_def.hpp"
#include "support/golden.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace splitvirt;
using namespace splitvirt::conf;

namespace {

const fs::path kGolden = fs::path(SV_GOLDEN_DIR) / "snapshotxml2xml";
constexpr long long kNow = 1555419243;
const Uuid kVmUuid = *parseUuid("9d37b878-a7cc-9f9a-b78f-49b3abad25a8");

std::string errorText(const Error& e) {
  return std::to_string(static_cast<int>(e.code)) + " " + std::to_string(static_cast<int>(e.domain)) + "\n" +
         e.message;
}

// Golden file names start with the parse mode:
//   create-   a new snapshot of a running VM (no flags)
//   offline-  a new snapshot of a shut-off VM or a disk-only one
//   redefine- VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE
//   internal- our own metadata file (redefine + internal, internal format)
struct Mode {
  unsigned parse = 0;
  unsigned format = kSnapshotFormatSecure;
};

Mode modeOf(const fs::path& p) {
  std::string n = p.filename().string();
  if (n.starts_with("offline-")) return {kSnapshotParseOffline};
  if (n.starts_with("redefine-")) return {kSnapshotParseRedefine};
  if (n.starts_with("internal-"))
    return {kSnapshotParseRedefine | kSnapshotParseInternal, kSnapshotFormatSecure | kSnapshotFormatInternal};
  REQUIRE_MESSAGE(n.starts_with("create-"), "no parse mode prefix in " << n);
  return {};
}

ParsedSnapshot parseOk(const std::string& xml, unsigned flags) {
  auto r = parseSnapshotDef(xml, {flags, kNow});
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  return std::move(*r);
}

std::string parseErr(const std::string& xml, unsigned flags) {
  auto r = parseSnapshotDef(xml, {flags, kNow});
  REQUIRE_FALSE(r.has_value());
  return errorText(r.error());
}

std::string format(const ParsedSnapshot& p, Mode m) {
  unsigned f = m.format;
  if (p.current) f |= kSnapshotFormatCurrent;
  return formatSnapshotDef(p.def, f, &kVmUuid);
}

// libvirt 9.0's schema has neither of our metadata extensions.
bool schemaApplies(const std::string& xml) {
  return xml.find("<revertDisks>") == std::string::npos && xml.find("snapshotDeleteInProgress") == std::string::npos;
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/svsnapconfXXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string touch(const std::string& name) const {
    std::ofstream(path + "/" + name) << "x";
    return path + "/" + name;
  }
};

std::shared_ptr<const DomainDef> domain(const std::string& devices) {
  auto d = parseDomainDef("<domain type='qemu'><name>guest</name><uuid>9d37b878-a7cc-9f9a-b78f-49b3abad25a8</uuid>"
                          "<memory>65536</memory><os><type arch='x86_64'>hvm</type></os><devices>" +
                              devices + "</devices></domain>",
                          0, ErrorDomain::Domain);
  REQUIRE_MESSAGE(d.has_value(), (d ? "" : d.error().message));
  return std::make_shared<const DomainDef>(std::move(*d));
}

std::string fileDisk(const std::string& target, const std::string& path, const std::string& type = "qcow2") {
  return "<disk type='file' device='disk'><driver name='qemu' type='" + type + "'/><source file='" + path +
         "'/><target dev='" + target + "' bus='virtio'/></disk>";
}
const std::string kCdrom = "<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>";

SnapshotDef snapWith(const std::string& xml, std::shared_ptr<const DomainDef> dom) {
  SnapshotDef def = parseOk(xml, 0).def;
  def.dom = std::move(dom);
  return def;
}

std::string alignErr(SnapshotDef def, SnapshotLocation loc, bool uniform = true) {
  auto r = alignSnapshotDisks(def, nullptr, loc, uniform);
  REQUIRE_FALSE(r.has_value());
  return errorText(r.error());
}

}  // namespace

TEST_CASE("snapshotxml2xml: golden round trips") {
  auto inputs = test::goldenFiles(kGolden / "in", ".xml");
  REQUIRE(inputs.size() >= 15);
  for (const auto& in : inputs) {
    CAPTURE(in.string());
    Mode m = modeOf(in);
    auto xml = test::readFile(in);
    REQUIRE(xml.has_value());
    std::string out = format(parseOk(*xml, m.parse), m);
    test::compareToGolden(out, kGolden / "out" / in.filename());
    // dumpxml | redefine (or re-create) is a fixed point.
    CHECK(format(parseOk(out, m.parse), m) == out);
  }
}

TEST_CASE("snapshotxml2xml: output validates against libvirt's domainsnapshot.rng") {
  if (!fs::exists(kDomainSnapshotSchemaPath)) {
    MESSAGE("skipped: " << kDomainSnapshotSchemaPath << " is not installed");
    return;
  }
  int checked = 0;
  auto files = test::goldenFiles(kGolden / "out", ".xml");
  for (const char* suffix : {".dumpxml.xml", ".secure.xml"})
    for (const auto& f : test::goldenFiles(kGolden / "ref", suffix)) files.push_back(f);
  for (const auto& out : files) {
    CAPTURE(out.string());
    auto xml = test::readFile(out);
    REQUIRE(xml.has_value());
    if (!schemaApplies(*xml)) continue;
    auto r = validateAgainstSchema(*xml, kDomainSnapshotSchemaPath, kFromDomainSnapshot);
    CHECK_MESSAGE(r.has_value(), (r ? "" : r.error().message));
    // ... and the validating parse accepts it (ref files: as a redefine).
    unsigned mode = out.parent_path().filename() == "ref" ? kSnapshotParseRedefine : modeOf(out).parse;
    auto p = parseSnapshotDef(*xml, {mode | kSnapshotParseValidate, kNow});
    CHECK_MESSAGE(p.has_value(), (p ? "" : p.error().message));
    ++checked;
  }
  CHECK(checked >= 12);
}

TEST_CASE("snapshotxml2xml: expected failures match the reference daemon") {
  // fail/NAME.err: "<code> <domain>" then the message, as libvirtd 9.0
  // reported it for virDomainSnapshotCreateXML (internal-*: libvirt's text).
  auto inputs = test::goldenFiles(kGolden / "fail", ".xml");
  REQUIRE(inputs.size() >= 25);
  for (const auto& in : inputs) {
    CAPTURE(in.string());
    auto xml = test::readFile(in);
    REQUIRE(xml.has_value());
    fs::path err = in;
    err.replace_extension(".err");
    test::compareToGolden(parseErr(*xml, modeOf(in).parse), err);
  }
}

TEST_CASE("snapshotxml2xml: snapshot-dumpxml output equals libvirtd 9.0's") {
  // ref/VM-SNAP.meta.xml is the metadata file libvirtd wrote; .dumpxml.xml
  // and .secure.xml what `virsh snapshot-dumpxml [--security-info]` printed.
  auto metas = test::goldenFiles(kGolden / "ref", ".meta.xml");
  REQUIRE(metas.size() >= 3);
  for (const auto& meta : metas) {
    CAPTURE(meta.string());
    auto xml = test::readFile(meta);
    REQUIRE(xml.has_value());
    ParsedSnapshot p = parseOk(*xml, kSnapshotParseRedefine | kSnapshotParseInternal);
    std::string stem = meta.filename().string();
    stem.resize(stem.size() - std::string(".meta.xml").size());
    auto dump = test::readFile(kGolden / "ref" / (stem + ".dumpxml.xml"));
    auto secure = test::readFile(kGolden / "ref" / (stem + ".secure.xml"));
    REQUIRE(dump.has_value());
    REQUIRE(secure.has_value());
    unsigned xmlFlagsPublic = snapshotFormatFlagsFromXmlFlags(0);
    unsigned xmlFlagsSecure = snapshotFormatFlagsFromXmlFlags(kSnapshotXmlSecure);
    CHECK_MESSAGE(formatSnapshotDef(p.def, xmlFlagsPublic) == *dump,
                  test::firstDifference(*dump, formatSnapshotDef(p.def, xmlFlagsPublic)));
    CHECK_MESSAGE(formatSnapshotDef(p.def, xmlFlagsSecure) == *secure,
                  test::firstDifference(*secure, formatSnapshotDef(p.def, xmlFlagsSecure)));
    // The metadata body (after libvirt's warning comment) round-trips.
    std::string body = xml->substr(xml->find("<domainsnapshot>"));
    unsigned f = kSnapshotFormatSecure | kSnapshotFormatInternal | (p.current ? kSnapshotFormatCurrent : 0);
    CHECK_MESSAGE(formatSnapshotDef(p.def, f) == body, test::firstDifference(body, formatSnapshotDef(p.def, f)));
  }
}

TEST_CASE("snapshot: the recorded domain is the one libvirtd 9.0 records") {
  // ref/intvm.domain.xml: `virsh dumpxml --inactive --security-info` of the VM
  // whose snapshot s1 is ref/intvm-s1.meta.xml (internal snapshots leave
  // the definition unchanged).
  auto vmXml = test::readFile(kGolden / "ref" / "intvm.domain.xml");
  auto meta = test::readFile(kGolden / "ref" / "intvm-s1.meta.xml");
  REQUIRE(vmXml.has_value());
  REQUIRE(meta.has_value());
  auto vm = parseDomainDef(*vmXml, 0, ErrorDomain::Domain);
  REQUIRE_MESSAGE(vm.has_value(), (vm ? "" : vm.error().message));
  // As libvirt re-parses it, the implicit controllers move (ide first).
  CHECK(formatDomainDef(*vm, kFormatInactive | kFormatSecure) == *vmXml);
  auto recorded = snapshotDomainFromVm(*vm);
  REQUIRE(recorded.has_value());
  ParsedSnapshot p = parseOk(*meta, kSnapshotParseRedefine | kSnapshotParseInternal);
  std::string expected = formatDomainDef(*p.def.dom, kFormatInactive | kFormatSecure);
  std::string actual = formatDomainDef(**recorded, kFormatInactive | kFormatSecure);
  CHECK_MESSAGE(actual == expected, test::firstDifference(expected, actual));
  CHECK(actual != *vmXml);
}

TEST_CASE("snapshot parse: creation time, default name, flags") {
  auto p = parseOk("<domainsnapshot/>", 0);
  CHECK(p.def.name == "1555419243");
  CHECK(p.def.creationTime == kNow);
  CHECK(p.def.memory == SnapshotLocation::Default);
  CHECK_FALSE(p.current);
  // Without REDEFINE, stored fields are not taken from the user.
  p = parseOk("<domainsnapshot><name>a</name><state>running</state><parent><name>b</name></parent>"
              "</domainsnapshot>",
              0);
  CHECK(p.def.state == SnapshotState::NoState);
  CHECK_FALSE(p.def.parentName);
  // A redefined online snapshot defaults to internal memory, offline to none.
  p = parseOk("<domainsnapshot><name>a</name><state>paused</state><creationTime>5</creationTime></domainsnapshot>",
              kSnapshotParseRedefine);
  CHECK(p.def.memory == SnapshotLocation::Internal);
  CHECK(p.def.creationTime == 5);
  p = parseOk("<domainsnapshot><name>a</name><state>disk-snapshot</state><creationTime>5</creationTime>"
              "</domainsnapshot>",
              kSnapshotParseRedefine);
  CHECK(p.def.memory == SnapshotLocation::No);
  // <revertDisks> only from stored metadata and redefine.
  const std::string withRevert =
      "<domainsnapshot><name>a</name><state>shutoff</state><creationTime>5</creationTime><revertDisks>"
      "<disk name='vda' snapshot='external'><source file='/r'/></disk></revertDisks><active>1</active>"
      "</domainsnapshot>";
  p = parseOk(withRevert, kSnapshotParseRedefine | kSnapshotParseInternal);
  REQUIRE(p.def.revertDisks.size() == 1);
  CHECK(p.def.revertDisks[0].path == "/r");
  CHECK(p.current);
  CHECK(parseOk(withRevert, 0).def.revertDisks.empty());
  // Schema validation on request.
  auto bad = parseSnapshotDef("<domainsnapshot><bogus/></domainsnapshot>", {kSnapshotParseValidate, kNow});
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().code == ErrorCode::XmlInvalidSchema);
}

TEST_CASE("snapshot format: internal format keeps <active> and <revertDisks>, the public one neither") {
  auto p = parseOk(*test::readFile(kGolden / "in" / "internal-current-revert-disks.xml"),
                   kSnapshotParseRedefine | kSnapshotParseInternal);
  std::string pub = formatSnapshotDef(p.def, 0);
  CHECK(pub.find("<active>") == std::string::npos);
  CHECK(pub.find("<revertDisks>") == std::string::npos);
  CHECK(pub.find("passwd=") == std::string::npos);
  std::string internal = formatSnapshotDef(p.def, kSnapshotFormatInternal);
  CHECK(internal.find("<active>0</active>") != std::string::npos);
  CHECK(internal.find("<revertDisks>") != std::string::npos);
  CHECK(formatSnapshotDef(p.def, kSnapshotFormatInternal | kSnapshotFormatCurrent).find("<active>1</active>") !=
        std::string::npos);
  CHECK(formatSnapshotDef(p.def, kSnapshotFormatSecure).find("passwd='topsecret'") != std::string::npos);
  // No domain: libvirt prints the VM's uuid when it is given.
  SnapshotDef bare;
  bare.name = "x";
  CHECK(formatSnapshotDef(bare, 0) == "<domainsnapshot>\n  <name>x</name>\n</domainsnapshot>\n");
  CHECK(formatSnapshotDef(bare, 0, &kVmUuid).find("<domain>\n    <uuid>9d37b878") != std::string::npos);
}

TEST_CASE("snapshot: default external file names follow libvirt's rule") {
  CHECK(defaultExternalSnapshotPath("/img/base.qcow2", "s1") == "/img/base.s1");
  CHECK(defaultExternalSnapshotPath("/img/s4.qcow2", "s5") == "/img/s4.s5");
  CHECK(defaultExternalSnapshotPath("/img/base.s1", "s2") == "/img/base.s2");
  CHECK(defaultExternalSnapshotPath("/img/base", "s1") == "/img/base.s1");
  CHECK(defaultExternalSnapshotPath("/img.d/base", "s1") == "/img.d/base.s1");
  CHECK(defaultExternalSnapshotPath("/img/a.b.c", "1700000000") == "/img/a.b.1700000000");
}

TEST_CASE("snapshot align: defaults per disk, as the reference daemon chose them") {
  TempDir t;
  std::string a = t.touch("a.qcow2"), b = t.touch("b.img");
  auto dom = domain(fileDisk("vda", a) + fileDisk("vdb", b, "raw") + kCdrom);

  // snapshot-create-as (internal, shut off): every disk internal, the empty cdrom 'no'.
  SnapshotDef def = snapWith("<domainsnapshot><name>s1</name></domainsnapshot>", dom);
  REQUIRE(alignSnapshotDisks(def, nullptr, SnapshotLocation::Internal, true).has_value());
  REQUIRE(def.disks.size() == 3);
  CHECK(def.disks[0].name == "vda");
  CHECK(def.disks[0].snapshot == SnapshotLocation::Internal);
  CHECK(def.disks[1].snapshot == SnapshotLocation::Internal);
  CHECK(def.disks[2].name == "hdc");
  CHECK(def.disks[2].snapshot == SnapshotLocation::No);
  CHECK_FALSE(def.isExternal());

  // --disk-only --diskspec vdb,snapshot=no: vda external with the default name.
  def = snapWith("<domainsnapshot><name>s2</name><disks><disk name='vdb' snapshot='no'/></disks></domainsnapshot>",
                 dom);
  REQUIRE(alignSnapshotDisks(def, nullptr, SnapshotLocation::External, true).has_value());
  REQUIRE(def.disks.size() == 3);
  CHECK(def.disks[0].snapshot == SnapshotLocation::External);
  CHECK(def.disks[0].path == t.path + "/a.s2");
  CHECK(def.disks[0].type == DiskType::File);
  CHECK(def.disks[1].name == "vdb");
  CHECK(def.disks[1].snapshot == SnapshotLocation::No);
  CHECK(def.disks[2].snapshot == SnapshotLocation::No);
  CHECK(def.isExternal());
  CHECK(formatSnapshotDef(def, 0).find("<disk name='vda' snapshot='external' type='file'>\n      <source file='" +
                                       t.path + "/a.s2'/>") != std::string::npos);

  // A disk named by its source path becomes its target; --diskspec file= is kept.
  def = snapWith("<domainsnapshot><name>s3</name><disks><disk name='" + b +
                     "'><source file='/elsewhere/b.new'/></disk></disks></domainsnapshot>",
                 dom);
  REQUIRE(alignSnapshotDisks(def, nullptr, SnapshotLocation::External, true).has_value());
  CHECK(def.disks[1].name == "vdb");
  CHECK(def.disks[1].path == "/elsewhere/b.new");
  CHECK(def.disks[0].path == t.path + "/a.s3");

  // Redefine without a <domain>: the existing snapshot's domain is used.
  def = parseOk("<domainsnapshot><name>s4</name><state>shutoff</state><creationTime>1</creationTime></domainsnapshot>",
                kSnapshotParseRedefine)
            .def;
  REQUIRE(alignSnapshotDisks(def, dom.get(), SnapshotLocation::Internal, true).has_value());
  CHECK(def.disks.size() == 3);
  CHECK_FALSE(def.dom);
}

TEST_CASE("snapshot align: libvirt's errors") {
  TempDir t;
  std::string a = t.touch("a.qcow2");
  auto dom = domain(fileDisk("vda", a) + fileDisk("vdb", "/nonexistent/b.img", "raw") + kCdrom);
  auto with = [&](const std::string& disks) {
    return snapWith("<domainsnapshot><name>x</name><disks>" + disks + "</disks></domainsnapshot>", dom);
  };
  CHECK(alignErr(with("<disk name='vdz'/>"), SnapshotLocation::Internal) ==
        "67 35\nunsupported configuration: no disk named 'vdz'");
  CHECK(alignErr(with("<disk name='vda'/><disk name='" + a + "'/>"), SnapshotLocation::Internal) ==
        "67 35\nunsupported configuration: disk '" + a + "' specified twice");
  CHECK(alignErr(with("<disk name='vda' snapshot='internal'><source file='/a'/></disk>"),
                 SnapshotLocation::Internal) ==
        "67 35\nunsupported configuration: file '/a' for disk 'vda' requires use of external snapshot mode");
  CHECK(alignErr(with("<disk name='vda'/><disk name='vdb'/><disk name='hdc'/><disk name='hdd'/>"),
                 SnapshotLocation::Internal) ==
        "67 35\nunsupported configuration: too many disk snapshot requests for domain");
  CHECK(alignErr(with("<disk name='vda' snapshot='external'/>"), SnapshotLocation::Internal) ==
        "67 35\nunsupported configuration: disk 'vda' must use snapshot mode 'internal'");
  // Mixed modes are fine when the driver does not require uniformity.
  SnapshotDef mixed = with("<disk name='vdb' snapshot='no'/><disk name='vda' snapshot='external'/>");
  CHECK(alignSnapshotDisks(mixed, nullptr, SnapshotLocation::Internal, false).has_value());
  // Default external names need a regular file.
  CHECK(alignErr(with("<disk name='vda' snapshot='no'/>"), SnapshotLocation::External) ==
        "67 35\nunsupported configuration: source for disk 'vdb' is not a regular file; refusing to generate "
        "external snapshot name");
  CHECK(alignErr(with("<disk name='vdb' snapshot='no'/><disk name='hdc' snapshot='external'/>"),
                 SnapshotLocation::External) ==
        "67 35\nunsupported configuration: cannot generate external snapshot name for disk 'hdc' without source");
  CHECK(alignErr(with("<disk name='vdb' snapshot='no'/><disk name='vda' snapshot='external' type='block'>"
                      "<driver type='qcow2'/></disk>"),
                 SnapshotLocation::External) ==
        "67 35\nunsupported configuration: cannot generate external snapshot name for disk 'vda' on a 'block' device");
  SnapshotDef noDom = with("");
  noDom.dom.reset();
  CHECK(alignErr(noDom, SnapshotLocation::Internal) == "1 35\ninternal error: missing domain in snapshot");

  // Two disks on images that differ only in their suffix collide.
  std::string a2 = t.touch("a.img");
  auto dom2 = domain(fileDisk("vda", a) + fileDisk("vdb", a2, "raw"));
  SnapshotDef collide = snapWith("<domainsnapshot><name>x</name></domainsnapshot>", dom2);
  CHECK(alignErr(collide, SnapshotLocation::External) ==
        "67 35\nunsupported configuration: cannot generate external snapshot name for disk 'vdb': collision with "
        "disk 'vda'");
}

TEST_CASE("snapshot align: forcing the default location (external revert)") {
  TempDir t;
  std::string a = t.touch("a.qcow2");
  auto dom = domain(fileDisk("vda", a) + kCdrom);
  SnapshotDef def = snapWith("<domainsnapshot><name>1700000000</name></domainsnapshot>", dom);
  REQUIRE(alignSnapshotDisks(def, nullptr, SnapshotLocation::External, false, true).has_value());
  CHECK(def.disks[0].snapshot == SnapshotLocation::External);
  CHECK(def.disks[0].path == t.path + "/a.1700000000");
  CHECK(def.disks[1].snapshot == SnapshotLocation::No);
}

TEST_CASE("snapshot redefine validation: libvirt's errors") {
  auto dom = domain(fileDisk("vda", "/img/a.qcow2"));
  auto redefined = [&](const std::string& state) {
    SnapshotDef d = parseOk("<domainsnapshot><name>s</name><state>" + state +
                                "</state><creationTime>1</creationTime></domainsnapshot>",
                            kSnapshotParseRedefine)
                        .def;
    d.dom = dom;
    return d;
  };
  auto err = [](const Result<void>& r) { return r ? std::string("ok") : errorText(r.error()); };
  constexpr unsigned kDiskOnly = 1u << 4;
  CHECK(err(validateSnapshotRedefine(redefined("shutoff"), kVmUuid, nullptr, kDiskOnly)) ==
        "8 35\ninvalid argument: disk-only flag for snapshot s requires disk-snapshot state");
  CHECK(err(validateSnapshotRedefine(redefined("disk-snapshot"), kVmUuid, nullptr, kDiskOnly)) == "ok");
  Uuid other = *parseUuid("5a05e0c7-974a-42ee-9a7c-25b5ca3e16fe");
  CHECK(err(validateSnapshotRedefine(redefined("shutoff"), other, nullptr, 0)) ==
        "8 35\ninvalid argument: definition for snapshot s must use uuid 5a05e0c7-974a-42ee-9a7c-25b5ca3e16fe");
  SnapshotDef existing = redefined("shutoff");
  CHECK(err(validateSnapshotRedefine(redefined("running"), kVmUuid, &existing, 0)) ==
        "8 35\ninvalid argument: cannot change between online and offline snapshot state in snapshot s");
  CHECK(err(validateSnapshotRedefine(redefined("disk-snapshot"), kVmUuid, &existing, 0)) ==
        "8 35\ninvalid argument: cannot change between disk only and full system in snapshot s");
  CHECK(err(validateSnapshotRedefine(redefined("crashed"), kVmUuid, &existing, 0)) == "ok");
}
