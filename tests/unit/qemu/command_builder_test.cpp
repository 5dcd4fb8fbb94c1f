// The QEMU command line builder: golden argv files (domainxml2argv, compared
// with libvirt 9.0's for the same XML, see the .args files), then every
// golden argv that can run here is started for real under QEMU 7.2 (TCG):
// QMP greeting, qmp_capabilities, quit, exit status 0.
#include "process/command_builder.hpp"

#include "conf/domain_def.hpp"
#include "support/golden.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

extern char** environ;

namespace fs = std::filesystem;
using namespace splitvirt;
using namespace splitvirt::conf;
using namespace splitvirt::qemu;

namespace {

const fs::path kGolden = fs::path(SV_GOLDEN_DIR) / "domainxml2argv";
constexpr const char* kQemuBinary = "/usr/bin/qemu-system-x86_64";
constexpr int64_t kClockNow = 1700000000;  // 2023-11-14T22:13:20Z
constexpr int kFirstTapFd = 24;             // what libvirt's domxml-to-native shows

bool usesTap(const NetDef& n) {
  return n.type == NetType::Bridge || n.type == NetType::Network || n.type == NetType::Ethernet;
}

// Golden cases named kvm-host-* run as if /dev/kvm were there.
CommandOptions goldenOptions(const std::string& name, const DomainDef& def) {
  CommandOptions o;
  o.monitorSocketPath = "/run/splitvirt/qemu/domain-" + name + "/monitor.sock";
  o.pidFilePath = "/run/splitvirt/qemu/" + name + ".pid";
  o.domainDir = "/run/splitvirt/qemu/domain-" + name;
  o.kvmAvailable = name.starts_with("kvm-host-");
  o.clockNow = kClockNow;
  int fd = kFirstTapFd;
  for (const auto& n : def.nets)
    if (usesTap(n)) o.tapFds.push_back(fd++);
  return o;
}

Result<DomainDef> parseFile(const fs::path& path) {
  auto xml = test::readFile(path);
  REQUIRE_MESSAGE(xml.has_value(), "cannot read " << path.string());
  return parseDomainDef(*xml, 0, ErrorDomain::Domain);
}

std::string errorText(const Error& e) {
  return "error " + std::to_string(static_cast<int>(e.code)) + " " + std::to_string(static_cast<int>(e.domain)) +
         ": " + e.message + "\n";
}

class TempDir {
 public:
  TempDir() {
    // short: unix socket paths must fit in sun_path
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/sv-argv-XXXXXX";
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A listening socket kept open for the life of a test (chardev peers).
class Listener {
 public:
  Listener() = default;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener() {
    if (fd_ >= 0) close(fd_);
  }
  // TCP on 127.0.0.1; returns the port (0 on failure). `from` > 0: the first
  // free port at or above it (VNC needs ports >= 5900).
  int listenTcp(int from = 0) {
    for (int port = from; port < (from ? from + 2000 : 1); port++) {
      fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<uint16_t>(port));
      if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && listen(fd_, 4) == 0) {
        socklen_t len = sizeof a;
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        return ntohs(a.sin_port);
      }
      close(fd_);
      fd_ = -1;
    }
    return 0;
  }
  bool listenUnix(const fs::path& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    return bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && listen(fd_, 4) == 0;
  }
  void release() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// A free port for QEMU to bind itself: found by binding, then released.
int freePort(int from) {
  Listener l;
  int port = l.listenTcp(from);
  return port;
}

// A fake bzImage QEMU's x86 loader accepts (boot protocol 2.15 header,
// four setup sectors); the guest never runs it: QEMU stays paused (-S).
void writeFakeKernel(const fs::path& path) {
  std::string b(65536, '\0');
  auto put16 = [&](size_t off, uint16_t v) {
    b[off] = static_cast<char>(v & 0xff);
    b[off + 1] = static_cast<char>(v >> 8);
  };
  auto put32 = [&](size_t off, uint32_t v) {
    put16(off, static_cast<uint16_t>(v & 0xffff));
    put16(off + 2, static_cast<uint16_t>(v >> 16));
  };
  b[0x1f1] = 4;
  put16(0x1fe, 0xaa55);
  b.replace(0x202, 4, "HdrS");
  put16(0x206, 0x020f);
  b[0x211] = 1;  // LOADED_HIGH
  put32(0x22c, 0x37ffffff);
  put32(0x238, 2048);
  std::ofstream(path, std::ios::binary) << b;
}

bool run(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return false;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Everything a golden def needs to start here: its files and sockets moved
// into `dir`, images created with qemu-img, peers listening for chardevs
// that connect, free ports for the ones that bind.
struct LaunchSetup {
  DomainDef def;
  std::vector<std::unique_ptr<Listener>> peers;
};

LaunchSetup prepareLaunch(DomainDef def, const fs::path& dir) {
  LaunchSetup s;
  int n = 0;
  for (auto& disk : def.disks) {
    if (!disk.sourcePath) continue;
    const std::string fmt = disk.driverType.value_or("raw");
    const fs::path img = dir / ("disk" + std::to_string(n++) + "." + fmt);
    REQUIRE(run({"/usr/bin/qemu-img", "create", "-q", "-f", fmt, img.string(), "16M"}));
    disk.sourcePath = img.string();
    disk.type = DiskType::File;  // a block device would need a loop device
  }
  if (def.kernel) {
    writeFakeKernel(dir / "vmlinuz");
    def.kernel = (dir / "vmlinuz").string();
  }
  if (def.initrd) {
    std::ofstream(dir / "initrd.img", std::ios::binary) << std::string(4096, '\0');
    def.initrd = (dir / "initrd.img").string();
  }
  auto fixChr = [&](ChrDef& c, const std::string& tag) {
    if (c.type == ChrType::File) c.sourcePath = (dir / (tag + ".log")).string();
    if (c.type == ChrType::Unix) {
      c.sourcePath = (dir / (tag + ".sock")).string();
      if (c.sourceMode != "bind") {
        s.peers.push_back(std::make_unique<Listener>());
        REQUIRE(s.peers.back()->listenUnix(*c.sourcePath));
      }
    }
    if (c.type == ChrType::Tcp) {
      c.sourceHost = "127.0.0.1";
      if (c.sourceMode == "bind") {
        c.sourceService = std::to_string(freePort(20000));
      } else {
        s.peers.push_back(std::make_unique<Listener>());
        int port = s.peers.back()->listenTcp();
        REQUIRE(port > 0);
        c.sourceService = std::to_string(port);
      }
    }
  };
  for (size_t i = 0; i < def.serials.size(); i++) fixChr(def.serials[i], "serial" + std::to_string(i));
  for (size_t i = 0; i < def.consoles.size(); i++) fixChr(def.consoles[i], "console" + std::to_string(i));
  for (auto& g : def.graphics) {
    for (auto& l : g.listens) {
      if (l.type == "socket") l.socket = (dir / "vnc.sock").string();
      if (l.type == "address") l.address = "127.0.0.1";
    }
    if (g.type == GraphicsType::Vnc) {
      g.port = freePort(15900);
      REQUIRE(g.port > 0);
      if (g.websocket > 0) g.websocket = freePort(g.port + 1);
    }
  }
  s.def = std::move(def);
  return s;
}

// Reads one line (QMP messages end in \r\n) within the deadline.
bool readLine(int fd, std::string& buf, std::string& line, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    auto nl = buf.find('\n');
    if (nl != std::string::npos) {
      line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      return true;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char tmp[4096];
    ssize_t r = read(fd, tmp, sizeof tmp);
    if (r <= 0) return false;
    buf.append(tmp, static_cast<size_t>(r));
  }
}

// Reads lines until one that is not an event (a reply), or fails.
bool readReply(int fd, std::string& buf, std::string& line, std::chrono::steady_clock::time_point deadline) {
  while (readLine(fd, buf, line, deadline))
    if (line.find("\"event\"") == std::string::npos) return true;
  return false;
}

// Starts QEMU with `argv`, talks QMP on `monitor`: greeting (<= 5 s),
// qmp_capabilities, quit; expects exit status 0. Returns "" or what failed.
std::string launchAndQuit(const std::vector<std::string>& argv, const fs::path& monitor, const fs::path& log) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return "posix_spawn failed: " + std::string(strerror(rc));

  int status = 0;
  bool reaped = false;
  auto logText = [&] { return test::readFile(log).value_or(""); };
  auto fail = [&](const std::string& why) {
    if (!reaped) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      reaped = true;
    }
    return why + "; QEMU said: " + logText();
  };

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int fd = -1;
  while (fd < 0) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      reaped = true;
      return fail("QEMU exited before its monitor came up (status " + std::to_string(status) + ")");
    }
    if (std::chrono::steady_clock::now() > deadline) return fail("no QMP socket within 5 s");
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", monitor.c_str());
    if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      fd = s;
    } else {
      close(s);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::string buf, line;
  auto send = [&](const std::string& msg) { return write(fd, msg.data(), msg.size()) == static_cast<ssize_t>(msg.size()); };
  std::string why;
  if (!readLine(fd, buf, line, deadline) || line.find("\"QMP\"") == std::string::npos) why = "no QMP greeting";
  else if (!send("{\"execute\":\"qmp_capabilities\"}\n") || !readReply(fd, buf, line, deadline + std::chrono::seconds(5)) ||
           line.find("\"return\"") == std::string::npos)
    why = "qmp_capabilities failed: " + line;
  else if (!send("{\"execute\":\"quit\"}\n") || !readReply(fd, buf, line, deadline + std::chrono::seconds(5)) ||
           line.find("\"return\"") == std::string::npos)
    why = "quit failed: " + line;
  close(fd);
  if (!why.empty()) return fail(why);
  const auto exitDeadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (waitpid(pid, &status, WNOHANG) != pid) {
    if (std::chrono::steady_clock::now() > exitDeadline) return fail("QEMU did not exit after quit");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  reaped = true;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return fail("QEMU exit status " + std::to_string(status));
  return "";
}

}  // namespace

TEST_CASE("domainxml2argv: golden command lines") {
  auto inputs = test::goldenFiles(kGolden, ".xml");
  REQUIRE(inputs.size() >= 10);
  for (const auto& in : inputs) {
    const std::string name = in.stem().string();
    CAPTURE(name);
    auto def = parseFile(in);
    REQUIRE_MESSAGE(def.has_value(), (def ? "" : def.error().message));
    auto argv = buildCommandLine(*def, goldenOptions(name, *def));
    std::string text = argv ? formatCommandLine(*argv) + "\n" : errorText(argv.error());
    test::compareToGolden(text, kGolden / (name + ".args"));
  }
}

TEST_CASE("domainxml2argv: the refusals") {
  auto def = parseFile(kGolden / "kvm-nodev.xml");
  REQUIRE(def.has_value());
  auto r = buildCommandLine(*def, goldenOptions("x", *def));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ErrorCode::ConfigUnsupported);
  CHECK(r.error().domain == ErrorDomain::Qemu);
  CHECK(r.error().message.starts_with("unsupported configuration: Domain requires KVM"));

  def = parseFile(kGolden / "host-passthrough-tcg.xml");
  REQUIRE(def.has_value());
  r = buildCommandLine(*def, goldenOptions("x", *def));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ErrorCode::ConfigUnsupported);
  CHECK(r.error().message ==
        "unsupported configuration: CPU mode 'host-passthrough' for x86_64 qemu domain on x86_64 host is not "
        "supported by hypervisor");

  // tap fds must match the tap interfaces one to one
  def = parseFile(kGolden / "net-bridge.xml");
  REQUIRE(def.has_value());
  CommandOptions o = goldenOptions("x", *def);
  o.tapFds.pop_back();
  r = buildCommandLine(*def, o);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ErrorCode::InternalError);
  o.tapFds = {3, 4, 5};
  CHECK_FALSE(buildCommandLine(*def, o).has_value());

  // no monitor path, no command line
  def = parseFile(kGolden / "minimal.xml");
  REQUIRE(def.has_value());
  o = CommandOptions{};
  CHECK_FALSE(buildCommandLine(*def, o).has_value());

  // what QEMU 7.2 or this builder cannot express is refused up front
  const std::pair<const char*, const char*> refused[] = {
      // SPICE graphics bring a SPICE audio backend; either refusal may come first.
      {"<devices><graphics type='spice' autoport='yes'/></devices>", "supported"},
      {"<clock offset='timezone' timezone='Europe/Paris'/>", "clock offset 'timezone'"},
      {"<devices><disk type='file' device='disk'><source file='/a.img'/><target dev='hda' bus='ide'/>"
       "<readonly/></disk></devices>",
       "readonly ide disks are not supported"},
      {"<devices><interface type='direct'><source dev='eth0' mode='bridge'/></interface></devices>",
       "interface type of net0"},
      {"<devices><video><model type='vga'/></video><video><model type='vga'/></video></devices>",
       "video type vga is only valid as primary video device"},
  };
  for (const auto& [devices, text] : refused) {
    CAPTURE(devices);
    auto d = parseDomainDef(std::string("<domain type='qemu'><name>r</name><memory>131072</memory>"
                                        "<os><type arch='x86_64' machine='pc'>hvm</type></os>") +
                                devices + "</domain>",
                            0, ErrorDomain::Domain);
    REQUIRE_MESSAGE(d.has_value(), (d ? "" : d.error().message));
    auto res = buildCommandLine(*d, goldenOptions("r", *d));
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error().code == ErrorCode::ConfigUnsupported);
    CHECK(res.error().domain == ErrorDomain::Qemu);
    CHECK_MESSAGE(res.error().message.find(text) != std::string::npos, res.error().message);
  }
}

TEST_CASE("domainxml2argv: user aliases name the QEMU devices") {
  auto def = parseDomainDef(
      "<domain type='qemu'><name>ua</name><memory>131072</memory><os><type arch='x86_64'>hvm</type></os>"
      "<devices><disk type='file' device='disk'><source file='/a.img'/><target dev='vda' bus='virtio'/>"
      "<alias name='ua-root'/></disk><interface type='user'><alias name='ua-nic'/></interface></devices>"
      "</domain>",
      0, ErrorDomain::Domain);
  REQUIRE(def.has_value());
  auto argv = buildCommandLine(*def, goldenOptions("ua", *def));
  REQUIRE(argv.has_value());
  const std::string text = formatCommandLine(*argv);
  CHECK(text.find(R"("drive":"libvirt-1-format","id":"ua-root","bootindex":1)") != std::string::npos);
  CHECK(text.find(R"({"type":"user","id":"hostua-nic"})") != std::string::npos);
  CHECK(text.find(R"("netdev":"hostua-nic","id":"ua-nic")") != std::string::npos);
}

TEST_CASE("domainxml2argv: options") {
  auto def = parseFile(kGolden / "minimal.xml");
  REQUIRE(def.has_value());
  CommandOptions o = goldenOptions("minimal", *def);
  o.startPaused = false;
  o.pidFilePath.clear();
  o.emulator = "/opt/qemu/bin/qemu-system-x86_64";
  auto argv = buildCommandLine(*def, o);
  REQUIRE(argv.has_value());
  CHECK((*argv)[0] == "/opt/qemu/bin/qemu-system-x86_64");
  CHECK(std::find(argv->begin(), argv->end(), "-S") == argv->end());
  CHECK(std::find(argv->begin(), argv->end(), "-pidfile") == argv->end());

  // commas in values QEMU parses as key=value lists are doubled
  def->name = "a,b";
  o.monitorSocketPath = "/run/x,y/monitor.sock";
  argv = buildCommandLine(*def, o);
  REQUIRE(argv.has_value());
  CHECK(std::find(argv->begin(), argv->end(), "guest=a,,b,debug-threads=on") != argv->end());
  CHECK(std::find(argv->begin(), argv->end(), "socket,id=charmonitor,path=/run/x,,y/monitor.sock,server=on,wait=off") !=
        argv->end());

  // a restore: `-incoming defer` after the devices, before the balloon (libvirt's place)
  o.incomingDefer = true;
  argv = buildCommandLine(*def, o);
  REQUIRE(argv.has_value());
  auto inc = std::find(argv->begin(), argv->end(), "-incoming");
  REQUIRE(inc != argv->end());
  CHECK(*(inc + 1) == "defer");
  auto balloon = std::find_if(argv->begin(), argv->end(),
                              [](const std::string& a) { return a.find("virtio-balloon") != std::string::npos; });
  if (balloon != argv->end()) CHECK(inc < balloon);

  CHECK(formatCommandLine({"/bin/q", "-S", "-name", "guest=x", "-append", "a b'c", "pos"}) ==
        "/bin/q \\\n-S \\\n-name guest=x \\\n-append 'a b'\\''c' \\\npos");
}

TEST_CASE("domainxml2argv: every golden command line starts QEMU 7.2") {
  if (!fs::exists(kQemuBinary) || !fs::exists("/usr/bin/qemu-img")) {
    MESSAGE("skipped: " << kQemuBinary << " or qemu-img is not installed");
    return;
  }
  size_t launched = 0;
  for (const auto& in : test::goldenFiles(kGolden, ".xml")) {
    const std::string name = in.stem().string();
    CAPTURE(name);
    auto def = parseFile(in);
    REQUIRE(def.has_value());
    if (!buildCommandLine(*def, goldenOptions(name, *def))) continue;  // a refusal case
    const bool tap = std::any_of(def->nets.begin(), def->nets.end(), usesTap);
    if (tap || def->type == "kvm") continue;  // needs taps the test cannot create, or /dev/kvm
    TempDir dir;
    LaunchSetup setup = prepareLaunch(*def, dir.path());
    CommandOptions o = goldenOptions(name, setup.def);
    o.monitorSocketPath = (dir.path() / "mon.sock").string();
    o.pidFilePath = (dir.path() / "qemu.pid").string();
    o.domainDir = dir.path().string();
    o.clockNow = 0;
    auto argv = buildCommandLine(setup.def, o);
    REQUIRE_MESSAGE(argv.has_value(), (argv ? "" : argv.error().message));
    std::string failure = launchAndQuit(*argv, o.monitorSocketPath, dir.path() / "qemu.log");
    CHECK_MESSAGE(failure.empty(), failure << "\nargv:\n" << formatCommandLine(*argv));
    launched++;
  }
  CHECK(launched >= 10);
}
