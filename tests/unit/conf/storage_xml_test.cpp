// Storage pool and volume XML (poolxml2xml, volxml2xml): golden round trips,
// schema validity of the output, expected failures with the reference
// daemon's exact errors, and the value helpers.
#include "conf/schema.hpp"
#include "conf/storage_pool_def.hpp"
#include "conf/storage_vol_def.hpp"
#include "support/golden.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>

namespace fs = std::filesystem;
using namespace splitvirt;
using namespace splitvirt::conf;

namespace {

const fs::path kPoolGolden = fs::path(SV_GOLDEN_DIR) / "poolxml2xml";
const fs::path kVolGolden = fs::path(SV_GOLDEN_DIR) / "volxml2xml";
constexpr ErrorDomain kStorage = ErrorDomain::Storage;

std::string errorText(const Error& e) {
  return std::to_string(static_cast<int>(e.code)) + " " + std::to_string(static_cast<int>(e.domain)) + "\n" +
         e.message;
}

// volxml2xml files are named "<pool type>-<case>.xml".
PoolType volPoolType(const fs::path& p) {
  std::string name = p.filename().string();
  auto t = poolTypeFromName(name.substr(0, name.find('-')));
  REQUIRE_MESSAGE(t.has_value(), "no pool type prefix in " << name);
  return *t;
}

// The pool the reference daemon's volumes were created in.
StoragePoolDef refPool(PoolType type) {
  auto pool = parseStoragePoolDef(
      "<pool type='dir'><name>dir</name><target><path>/var/lib/libvirt/images</path></target></pool>", kStorage);
  REQUIRE(pool.has_value());
  pool->type = type;
  return *pool;
}

void checkSchema(const std::string& xml, std::string_view rng) {
  if (!fs::exists(rng)) return;
  auto r = validateAgainstSchema(xml, rng, kStorage);
  CHECK_MESSAGE(r.has_value(), (r ? "" : r.error().message) << "\n" << xml);
}

StoragePoolDef poolOk(const std::string& xml) {
  auto r = parseStoragePoolDef(xml, kStorage);
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  return *r;
}

std::string poolErr(const std::string& xml) {
  auto r = parseStoragePoolDef(xml, kStorage);
  REQUIRE_FALSE(r.has_value());
  return errorText(r.error());
}

StorageVolDef volOk(const std::string& xml, PoolType t = PoolType::Dir) {
  auto r = parseStorageVolDef(xml, t, kStorage);
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  return *r;
}

const std::string kPoolHead = "<pool type='dir'><name>p</name><target><path>/x</path><permissions>";
const std::string kPoolTail = "</permissions></target></pool>";

}  // namespace

TEST_CASE("poolxml2xml: golden round trips") {
  auto inputs = test::goldenFiles(kPoolGolden / "in", ".xml");
  REQUIRE(inputs.size() >= 10);
  for (const auto& in : inputs) {
    CAPTURE(in.string());
    auto xml = test::readFile(in);
    REQUIRE(xml.has_value());
    StoragePoolDef def = poolOk(*xml);
    std::string out = formatStoragePoolDef(def);
    test::compareToGolden(out, kPoolGolden / "out" / in.filename());
    // pool-dumpxml | pool-define is a fixed point (parts of <source> the
    // pool type does not use are parsed, kept and not printed, as in libvirt).
    CHECK(formatStoragePoolDef(poolOk(out)) == out);
  }
}

TEST_CASE("poolxml2xml: output validates against libvirt's storagepool.rng") {
  if (!fs::exists(kStoragePoolSchemaPath)) {
    MESSAGE("skipped: " << kStoragePoolSchemaPath << " is not installed");
    return;
  }
  for (const auto& out : test::goldenFiles(kPoolGolden / "out", ".xml")) {
    CAPTURE(out.string());
    auto xml = test::readFile(out);
    REQUIRE(xml.has_value());
    checkSchema(*xml, kStoragePoolSchemaPath);
    auto r = parseStoragePoolDef(*xml, kStorage, kPoolParseValidate);
    CHECK_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  }
}

TEST_CASE("poolxml2xml: expected failures match the reference daemon") {
  // fail/NAME.err: "<code> <domain>" then the message, as libvirtd 9.0 reported
  // it for virStoragePoolDefineXML.
  auto inputs = test::goldenFiles(kPoolGolden / "fail", ".xml");
  REQUIRE(inputs.size() >= 30);
  for (const auto& in : inputs) {
    CAPTURE(in.string());
    auto xml = test::readFile(in);
    REQUIRE(xml.has_value());
    auto def = parseStoragePoolDef(*xml, kStorage);
    REQUIRE_FALSE(def.has_value());
    fs::path err = in;
    err.replace_extension(".err");
    test::compareToGolden(errorText(def.error()), err);
  }
}

TEST_CASE("volxml2xml: golden round trips") {
  auto inputs = test::goldenFiles(kVolGolden / "in", ".xml");
  REQUIRE(inputs.size() >= 10);
  for (const auto& in : inputs) {
    CAPTURE(in.string());
    const PoolType pt = volPoolType(in);
    auto xml = test::readFile(in);
    REQUIRE(xml.has_value());
    auto def = parseStorageVolDef(*xml, pt, kStorage, kVolParseOptCapacity);
    REQUIRE_MESSAGE(def.has_value(), (def ? "" : def.error().message));
    CHECK(validateStorageVolDef(*def, refPool(pt), kStorage).has_value());
    std::string out = formatStorageVolDef(*def, pt);
    test::compareToGolden(out, kVolGolden / "out" / in.filename());
    checkSchema(out, kStorageVolSchemaPath);
    auto again = parseStorageVolDef(out, pt, kStorage);
    REQUIRE_MESSAGE(again.has_value(), (again ? "" : again.error().message));
    CHECK(formatStorageVolDef(*again, pt) == out);
  }
}

TEST_CASE("volxml2xml: expected failures match the reference daemon") {
  // As virStorageVolCreateXML on the reference's active dir pool
  // /var/lib/libvirt/images: parse (optional capacity with a backing
  // store), then the backend's name checks.
  auto inputs = test::goldenFiles(kVolGolden / "fail", ".xml");
  REQUIRE(inputs.size() >= 30);
  for (const auto& in : inputs) {
    CAPTURE(in.string());
    const PoolType pt = volPoolType(in);
    auto xml = test::readFile(in);
    REQUIRE(xml.has_value());
    auto def = parseStorageVolDef(*xml, pt, kStorage, kVolParseOptCapacity);
    Error e;
    if (def) {
      auto v = validateStorageVolDef(*def, refPool(pt), kStorage);
      REQUIRE_FALSE(v.has_value());
      e = v.error();
    } else {
      e = def.error();
    }
    fs::path err = in;
    err.replace_extension(".err");
    test::compareToGolden(errorText(e), err);
  }
}

TEST_CASE("pool XML of a started pool is the reference's pool-dumpxml") {
  // `virsh pool-define-as p1 dir --target ...; pool-start p1; pool-dumpxml p1`
  // on the reference: the dir backend filled the numbers and the target's
  // permissions from statvfs()/stat(). --inactive prints the same.
  StoragePoolDef def = poolOk(
      "<pool type='dir'><name>p1</name><uuid>4563afe0-4720-4ee7-8a94-72ddd04656b6</uuid>"
      "<source></source><target><path>/work/scratch-stor/pool1</path></target></pool>");
  CHECK(formatStoragePoolDef(def) ==
        "<pool type='dir'>\n"
        "  <name>p1</name>\n"
        "  <uuid>4563afe0-4720-4ee7-8a94-72ddd04656b6</uuid>\n"
        "  <capacity unit='bytes'>0</capacity>\n"
        "  <allocation unit='bytes'>0</allocation>\n"
        "  <available unit='bytes'>0</available>\n"
        "  <source>\n"
        "  </source>\n"
        "  <target>\n"
        "    <path>/work/scratch-stor/pool1</path>\n"
        "  </target>\n"
        "</pool>\n");
  def.capacity = 270553174016ull;
  def.allocation = 21993676800ull;
  def.available = 248559497216ull;
  def.targetPerms = StoragePerms{0755, 0, 0, std::nullopt};
  const std::string active = formatStoragePoolDef(def);
  CHECK(active ==
        "<pool type='dir'>\n"
        "  <name>p1</name>\n"
        "  <uuid>4563afe0-4720-4ee7-8a94-72ddd04656b6</uuid>\n"
        "  <capacity unit='bytes'>270553174016</capacity>\n"
        "  <allocation unit='bytes'>21993676800</allocation>\n"
        "  <available unit='bytes'>248559497216</available>\n"
        "  <source>\n"
        "  </source>\n"
        "  <target>\n"
        "    <path>/work/scratch-stor/pool1</path>\n"
        "    <permissions>\n"
        "      <mode>0755</mode>\n"
        "      <owner>0</owner>\n"
        "      <group>0</group>\n"
        "    </permissions>\n"
        "  </target>\n"
        "</pool>\n");
  CHECK(formatStoragePoolDef(def, 1) == active);  // flags change nothing
  // Numbers in the input are the daemon's business: parsing ignores them.
  CHECK(poolOk(active).capacity == 0);
  checkSchema(active, kStoragePoolSchemaPath);
}

TEST_CASE("volume XML after creation is the reference's vol-dumpxml") {
  // `virsh vol-create-as p1 v1 10M --format qcow2; vol-dumpxml --pool p1 v1`
  StorageVolDef def = volOk("<volume><name>v1</name><capacity unit='M'>10</capacity>"
                            "<target><format type='qcow2'/></target></volume>");
  def.key = "/work/scratch-stor/pool1/v1";
  def.targetPath = def.key;
  def.allocation = 200704;
  def.physical = 196616;
  def.perms = StoragePerms{0600, 0, 0, std::nullopt};
  def.timestamps = StorageTimestamps{{1796009259, 709024410}, {1796009259, 702903611}, {1796009259, 706903611}, {0, 0}};
  const std::string out = formatStorageVolDef(def, PoolType::Dir, refPool(PoolType::Dir));
  CHECK(out ==
        "<volume type='file'>\n"
        "  <name>v1</name>\n"
        "  <key>/work/scratch-stor/pool1/v1</key>\n"
        "  <capacity unit='bytes'>10485760</capacity>\n"
        "  <allocation unit='bytes'>200704</allocation>\n"
        "  <physical unit='bytes'>196616</physical>\n"
        "  <target>\n"
        "    <path>/work/scratch-stor/pool1/v1</path>\n"
        "    <format type='qcow2'/>\n"
        "    <permissions>\n"
        "      <mode>0600</mode>\n"
        "      <owner>0</owner>\n"
        "      <group>0</group>\n"
        "    </permissions>\n"
        "    <timestamps>\n"
        "      <atime>1796009259.709024410</atime>\n"
        "      <mtime>1796009259.702903611</mtime>\n"
        "      <ctime>1796009259.706903611</ctime>\n"
        "      <btime>0</btime>\n"
        "    </timestamps>\n"
        "  </target>\n"
        "</volume>\n");
  checkSchema(out, kStorageVolSchemaPath);
  // Logical volumes: extents grouped per device, no <format>.
  StorageVolDef lv = volOk("<volume type='block'><name>lv</name><capacity>8388608</capacity></volume>",
                           PoolType::Logical);
  lv.extents = {{"/dev/sdc1", 0, 4194304}, {"/dev/sdc1", 8388608, 12582912}, {"/dev/sdd1", 0, 4194304}};
  CHECK(formatStorageVolDef(lv, PoolType::Logical) ==
        "<volume type='block'>\n"
        "  <name>lv</name>\n"
        "  <source>\n"
        "    <device path='/dev/sdc1'>\n"
        "      <extent start='0' end='4194304'/>\n"
        "      <extent start='8388608' end='12582912'/>\n"
        "    </device>\n"
        "    <device path='/dev/sdd1'>\n"
        "      <extent start='0' end='4194304'/>\n"
        "    </device>\n"
        "  </source>\n"
        "  <capacity unit='bytes'>8388608</capacity>\n"
        "  <allocation unit='bytes'>8388608</allocation>\n"
        "  <target>\n"
        "  </target>\n"
        "</volume>\n");
}

TEST_CASE("pool and volume type names") {
  for (int i = 0; i < kPoolTypeCount; i++) {
    auto t = static_cast<PoolType>(i);
    CHECK(poolTypeFromName(poolTypeName(t)) == t);
  }
  CHECK(poolTypeName(PoolType::IscsiDirect) == "iscsi-direct");
  CHECK(static_cast<int>(PoolType::Rbd) == 9);  // "missing backend for pool type 9 (rbd)"
  CHECK(static_cast<int>(PoolType::Zfs) == 12);
  CHECK_FALSE(poolTypeFromName("lvm").has_value());
  CHECK(volTypeFromName("netdir") == VolType::Netdir);
  CHECK(volTypeName(VolType::Ploop) == "ploop");
  CHECK(poolSourceDefaultFormat(PoolType::Logical) == "lvm2");
  CHECK(poolSourceDefaultFormat(PoolType::Dir).empty());
  CHECK(poolSourceFormats(PoolType::Netfs).size() == 4);
  CHECK(volDefaultFormat(PoolType::Disk) == "none");
  CHECK(volDefaultFormat(PoolType::Netfs) == "raw");
  CHECK(volFormats(PoolType::Logical).empty());
}

TEST_CASE("target paths are sanitized as virFileSanitizePath does") {
  // Each checked against the reference's pool-dumpxml.
  CHECK(sanitizeStoragePath("//x/./y//") == "//x/./y");
  CHECK(sanitizeStoragePath("///a//b/") == "/a/b");
  CHECK(sanitizeStoragePath("//") == "//");
  CHECK(sanitizeStoragePath("/") == "/");
  CHECK(sanitizeStoragePath("a//b/") == "a/b");
  CHECK(sanitizeStoragePath("relative/x") == "relative/x");  // libvirt 9.0 accepts relative targets
  CHECK(sanitizeStoragePath("gluster://h//a//b/") == "gluster://h//a//b/");
}

TEST_CASE("permissions parse like virStorageDefParsePerms") {
  auto perms = [](const std::string& inner) { return poolOk(kPoolHead + inner + kPoolTail).targetPerms; };
  CHECK(perms("<owner> 107</owner>").owner == 107u);
  CHECK(perms("<owner>+5</owner>").owner == 5u);
  CHECK(perms("<owner>010</owner>").owner == 10u);  // decimal
  CHECK_FALSE(perms("<owner>-1</owner><group>-1</group>").owner.has_value());
  CHECK(perms("<owner>4294967295</owner>").empty());  // == (uid_t)-1
  CHECK(perms("<mode> 755</mode>").mode == 0755u);
  CHECK(perms("<mode>0</mode>").mode == 0u);
  CHECK_FALSE(perms("<mode></mode>").mode.has_value());
  CHECK(perms("<label>l</label>").label == "l");
  for (const char* bad : {"<owner>107 </owner>", "<owner>107.5</owner>", "<owner></owner>", "<owner>0x10</owner>",
                          "<owner>1e3</owner>"})
    CHECK(poolErr(kPoolHead + bad + kPoolTail) == "27 18\nXML error: malformed owner element");
  for (const char* bad : {"<mode>1000</mode>", "<mode>-1</mode>", "<mode>0x1</mode>", "<mode>755 </mode>"})
    CHECK(poolErr(kPoolHead + bad + kPoolTail) == "27 18\nXML error: malformed octal mode");
  // mode 0 prints as "00", owner above INT_MAX as libvirt's (int) cast
  StoragePoolDef def = poolOk(kPoolHead + "<mode>0</mode><owner>3000000000</owner>" + kPoolTail);
  std::string out = formatStoragePoolDef(def);
  CHECK(out.find("<mode>00</mode>") != std::string::npos);
  CHECK(out.find("<owner>-1294967296</owner>") != std::string::npos);
}

TEST_CASE("pool parse details checked against the reference") {
  // Network pools have no target; gluster's dir defaults to "/".
  StoragePoolDef g = poolOk("<pool type='gluster'><name>g</name><source><host name='h'/><name>vol</name></source>"
                            "<target><path>/ignored</path></target></pool>");
  CHECK(g.source.dir == "/");
  CHECK(g.targetPath.empty());
  std::string gout = formatStoragePoolDef(g);
  CHECK(gout.find("<target>") == std::string::npos);
  CHECK(gout.find("<dir path='/'/>") != std::string::npos);
  checkSchema(gout, kStoragePoolSchemaPath);
  // zfs: target from the source name; rbd: name and hosts, auth ceph.
  CHECK(poolOk("<pool type='zfs'><name>tank</name><source><device path='/dev/sdx'/></source></pool>").targetPath ==
        "/dev/zvol/tank");
  StoragePoolDef rbd = poolOk(
      "<pool type='rbd'><name>ceph</name><source><name>rbdpool</name><host name='mon1' port='6789'/>"
      "<auth type='ceph' username='admin'><secret uuid='2ec115d7-3a88-3ceb-bc12-0ac909a6fd87'/></auth>"
      "</source><refresh><volume allocation='capacity'/></refresh></pool>");
  CHECK(rbd.refreshVolumeAllocation == "capacity");
  std::string rout = formatStoragePoolDef(rbd);
  CHECK(rout.find("    <host name='mon1' port='6789'/>\n    <name>rbdpool</name>\n    <auth type='ceph' "
                  "username='admin'>\n      <secret uuid='2ec115d7-3a88-3ceb-bc12-0ac909a6fd87'/>\n    </auth>\n") !=
        std::string::npos);
  CHECK(rout.find("  <refresh>\n    <volume allocation='capacity'/>\n  </refresh>\n</pool>\n") != std::string::npos);
  checkSchema(rout, kStoragePoolSchemaPath);  // storagepool.rng allows <refresh> for rbd only
  // Accepted as the reference does: empty host name / device path, negative
  // port, 4294967295-style edge cases, protocol on a dir pool, relative target.
  CHECK(poolOk("<pool type='netfs'><name>n</name><source><host name='' port='-5'/><dir path='/e'/></source>"
               "<target><path>/x</path></target></pool>")
            .source.hosts[0]
            .port == -5);
  CHECK(poolOk("<pool type='dir'><name>d</name><source><protocol ver='3'/></source><target><path>rel</path></target>"
               "</pool>")
            .targetPath == "rel");
  // uuid with blanks around it; generated when absent.
  CHECK(formatUuid(poolOk("<pool type='dir'><name>u</name><uuid> 6f9b2f6e-2f1a-4b7e-9c1d-0a1b2c3d4eff </uuid>"
                          "<target><path>/x</path></target></pool>")
                       .uuid) == "6f9b2f6e-2f1a-4b7e-9c1d-0a1b2c3d4eff");
  CHECK(poolOk("<pool type='dir'><name>u</name><target><path>/x</path></target></pool>").uuid != Uuid{});
  // The "(null)" libvirt prints for an fs format index past the netfs names.
  CHECK(poolErr("<pool type='fs'><name>f</name><source><device path='/d'/><format type='xfs'/>"
                "<protocol ver='4'/></source><target><path>/x</path></target></pool>") ==
        "67 18\nunsupported configuration: storage pool protocol ver unsupported for pool type '(null)'");
  // --validate: refused by storagepool.rng
  if (fs::exists(kStoragePoolSchemaPath)) {
    auto r = parseStoragePoolDef("<pool type='dir'><name>v</name><bogus/><target><path>/x</path></target></pool>",
                                 kStorage, kPoolParseValidate);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == ErrorCode::XmlInvalidSchema);
  }
}

TEST_CASE("find-storage-pool-sources: <source> specs and <sources> lists") {
  auto src = parseStoragePoolSource("<source><host name='nfs.example.com'/></source>", PoolType::Netfs, kStorage);
  REQUIRE(src.has_value());
  CHECK(src->hosts.size() == 1);
  CHECK(src->format == "auto");
  auto bad = parseStoragePoolSource("<pool/>", PoolType::Netfs, kStorage);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message == "XML error: expecting root element of 'source', not 'pool'");
  StoragePoolSource a, b;
  a.hosts = {{"nfs.example.com", 0}};
  a.dir = "/export/a";
  a.format = "nfs";
  b = a;
  b.dir = "/export/b";
  CHECK(formatStoragePoolSourceList(PoolType::Netfs, {a, b}) ==
        "<sources>\n"
        "  <source>\n"
        "    <host name='nfs.example.com'/>\n"
        "    <dir path='/export/a'/>\n"
        "    <format type='nfs'/>\n"
        "  </source>\n"
        "  <source>\n"
        "    <host name='nfs.example.com'/>\n"
        "    <dir path='/export/b'/>\n"
        "    <format type='nfs'/>\n"
        "  </source>\n"
        "</sources>\n");
  CHECK(formatStoragePoolSourceList(PoolType::Logical, {}) == "<sources>\n</sources>\n");
}

TEST_CASE("volume capacity units follow virStorageSize") {
  auto cap = [](const std::string& unit, const std::string& v) {
    std::string u = unit.empty() ? "" : " unit='" + unit + "'";
    return volOk("<volume><name>v</name><capacity" + u + ">" + v + "</capacity></volume>").capacity;
  };
  CHECK(cap("", "1024") == 1024);
  CHECK(cap("", " 1024") == 1024);
  CHECK(cap("", "+1024") == 1024);
  CHECK(cap("b", "7") == 7);
  CHECK(cap("bytes", "7") == 7);
  CHECK(cap("KB", "3") == 3000);
  CHECK(cap("K", "3") == 3072);
  CHECK(cap("KiB", "3") == 3072);
  CHECK(cap("M", "10") == 10485760);
  CHECK(cap("MB", "1") == 1000000);
  CHECK(cap("G", "1") == 1073741824ull);
  CHECK(cap("GB", "2") == 2000000000ull);
  CHECK(cap("T", "1") == 1099511627776ull);
  CHECK(cap("TB", "1") == 1000000000000ull);
  CHECK(cap("P", "1") == 1125899906842624ull);
  CHECK(cap("E", "7") == 7 * 1152921504606846976ull);
  CHECK(cap("", "9223372036854775807") == 9223372036854775807ull);
  CHECK(cap("", "0") == 0);
  // Allocation: absent means "as capacity"; present is kept.
  StorageVolDef v = volOk("<volume><name>v</name><capacity>100</capacity></volume>");
  CHECK_FALSE(v.allocation.has_value());
  CHECK(v.effectiveAllocation() == 100);
  CHECK(volOk("<volume><name>v</name><capacity>100</capacity><allocation unit='KiB'>1</allocation></volume>")
            .allocation == 1024u);
  // Capacity is required unless the caller says otherwise.
  auto noCap = parseStorageVolDef("<volume><name>v</name></volume>", PoolType::Dir, kStorage, kVolParseNoCapacity);
  CHECK(noCap.has_value());
  auto optCap = parseStorageVolDef("<volume><name>v</name></volume>", PoolType::Dir, kStorage, kVolParseOptCapacity);
  REQUIRE_FALSE(optCap.has_value());
  CHECK(optCap.error().message == "XML error: missing capacity element");
}

TEST_CASE("volume parse details checked against the reference") {
  StorageVolDef v = volOk(
      "<volume><name>n</name><capacity>1</capacity><target><format type='qcow2'/><compat>-1.1</compat></target>"
      "</volume>");
  CHECK(v.compat == "-1.1");  // libvirt lets qemu-img refuse it
  // A newline or blank in a volume name is fine for libvirt.
  CHECK(volOk("<volume><name>a\nb</name><capacity>1</capacity></volume>").name == "a\nb");
  // Volumes of logical/iscsi pools have no format; disk partitions do.
  CHECK(volOk("<volume><name>n</name><capacity>1</capacity><target><format type='bogus'/></target></volume>",
              PoolType::Logical)
            .format.empty());
  auto badDisk = parseStorageVolDef(
      "<volume><name>n</name><capacity>1</capacity><target><format type='qcow2'/></target></volume>", PoolType::Disk,
      kStorage);
  REQUIRE_FALSE(badDisk.has_value());
  CHECK(badDisk.error().message == "unsupported configuration: unknown volume format type qcow2");
  // Name checks only apply to the local (dir/fs/netfs) backends.
  StorageVolDef slash = volOk("<volume><name>a/b</name><capacity>1</capacity></volume>", PoolType::Logical);
  CHECK(validateStorageVolDef(slash, refPool(PoolType::Logical), kStorage).has_value());
  CHECK_FALSE(validateStorageVolDef(slash, refPool(PoolType::Netfs), kStorage).has_value());
  // Cluster size 0 is "not given".
  CHECK(volOk("<volume><name>n</name><capacity>1</capacity><target><clusterSize>0</clusterSize></target></volume>")
            .clusterSize == 0);
  // Features given but empty print as <features/>, nocow is never printed.
  std::string out = formatStorageVolDef(
      volOk("<volume><name>n</name><capacity>1</capacity><target><nocow/><features/></target></volume>"),
      PoolType::Dir);
  CHECK(out.find("<features/>") != std::string::npos);
  CHECK(out.find("<compat>1.1</compat>") != std::string::npos);
  CHECK(out.find("nocow") == std::string::npos);
}
