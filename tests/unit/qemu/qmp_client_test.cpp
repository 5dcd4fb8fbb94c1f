// QmpClient and the typed QMP commands: a scripted fake QMP server on a unix
// socket, a replay of a recorded QEMU 7.2 session (tests/golden/qmp), and live
// runs against /usr/bin/qemu-system-x86_64 when it is installed.
#include "monitor/qmp_client.hpp"
#include "monitor/qmp_commands.hpp"
#include "monitor/qmp_migration.hpp"

#include "support/golden.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

using namespace splitvirt;
using namespace splitvirt::qemu;
namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const char* kGreeting =
    R"({"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "fake"}, "capabilities": ["oob"]}})";

// A scratch folder, removed with everything in it.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/sv-qmp-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const char* name) const { return (path / name).string(); }
};

int listenUnix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 4) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

int connectUnixOnce(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool writeAll(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    s.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// One accepted connection of the fake server, driven by a test's script.
class FakeConn {
 public:
  explicit FakeConn(int fd) : fd_(fd) {}
  ~FakeConn() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool send(std::string_view msg) { return writeAll(fd_, std::string(msg) + "\r\n"); }
  // One byte per write: the client sees the message in many partial reads.
  bool sendBytewise(std::string_view msg) {
    std::string s = std::string(msg) + "\r\n";
    for (char c : s) {
      if (!writeAll(fd_, std::string_view(&c, 1))) return false;
      if (c == ',') std::this_thread::sleep_for(50us);
    }
    return true;
  }
  // The next command line the client sent, parsed.
  std::optional<json::object> readCommand(std::chrono::milliseconds timeout = 3000ms) {
    auto until = Clock::now() + timeout;
    for (;;) {
      auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        boost::system::error_code ec;
        auto v = json::parse(line, ec);
        if (ec || !v.is_object()) return std::nullopt;
        return v.get_object();
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
      if (left <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) return std::nullopt;
      char tmp[65536];
      ssize_t n = ::read(fd_, tmp, sizeof tmp);
      if (n <= 0) return std::nullopt;
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }
  // Reads qmp_capabilities after sending the greeting; answers it.
  bool handshake() {
    if (!send(kGreeting)) return false;
    auto c = readCommand();
    if (!c || c->at("execute").as_string() != "qmp_capabilities") return false;
    return reply(*c, "{}");
  }
  bool reply(const json::object& cmd, std::string_view returnJson) {
    return send(R"({"return": )" + std::string(returnJson) + R"(, "id": )" + json::serialize(cmd.at("id")) + "}");
  }
  int fd() const { return fd_; }

 private:
  int fd_;
  std::string buf_;
};

// A QMP server on a unix socket in a temp dir, running `script` on the first
// connection in its own thread.
class FakeServer {
 public:
  using Script = std::function<void(FakeConn&)>;
  explicit FakeServer(Script script, std::chrono::milliseconds listenDelay = 0ms)
      : path_(dir_.file("qmp.sock")), script_(std::move(script)) {
    if (listenDelay == 0ms) listen_ = listenUnix(path_);
    thread_ = std::thread([this, listenDelay] {
      if (listenDelay > 0ms) {
        std::this_thread::sleep_for(listenDelay);
        listen_ = listenUnix(path_);
      }
      pollfd p{listen_, POLLIN, 0};
      if (listen_ < 0 || ::poll(&p, 1, 4000) <= 0) return;
      int fd = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      FakeConn conn(fd);
      script_(conn);
      done_ = true;
    });
  }
  ~FakeServer() {
    thread_.join();
    if (listen_ >= 0) ::close(listen_);
  }
  const std::string& path() const { return path_; }
  bool scriptDone() const { return done_; }

 private:
  TempDir dir_;
  std::string path_;
  Script script_;
  int listen_ = -1;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// Collects events and close notifications from the monitor thread.
struct Observer {
  std::mutex m;
  std::condition_variable cv;
  std::vector<QmpEvent> events;
  int closes = 0;

  QmpClient::EventHandler onEvent() {
    return [this](const QmpEvent& e) {
      std::lock_guard l(m);
      events.push_back(e);
      cv.notify_all();
    };
  }
  QmpClient::CloseHandler onClose() {
    return [this] {
      std::lock_guard l(m);
      closes++;
      cv.notify_all();
    };
  }
  bool waitEvents(size_t n, std::chrono::milliseconds t = 3000ms) {
    std::unique_lock l(m);
    return cv.wait_for(l, t, [&] { return events.size() >= n; });
  }
  bool waitClose(std::chrono::milliseconds t = 3000ms) {
    std::unique_lock l(m);
    return cv.wait_for(l, t, [&] { return closes > 0; });
  }
  std::vector<std::string> names() {
    std::lock_guard l(m);
    std::vector<std::string> out;
    for (auto& e : events) out.push_back(e.name);
    return out;
  }
};

QmpClientPtr mustConnect(const std::string& path, Observer& obs, std::chrono::milliseconds deadline = 3000ms) {
  auto c = QmpClient::connect(path, deadline, obs.onEvent(), obs.onClose());
  REQUIRE_MESSAGE(c.has_value(), (c ? "" : c.error().message));
  return std::move(*c);
}

json::value parse(std::string_view s) { return json::parse(s); }

}  // namespace

// ---- JSON helpers ----------------------------------------------------------------

TEST_CASE("jsonString escapes what JSON requires") {
  CHECK(jsonString("plain") == R"("plain")");
  CHECK(jsonString("a\"b\\c") == R"("a\"b\\c")");
  CHECK(jsonString("l1\nl2\t\r\b\f") == R"("l1\nl2\t\r\b\f")");
  CHECK(jsonString(std::string_view("\x01\x1f\x7f", 3)) == R"("\u0001\u001f\u007f")");
  CHECK(jsonString("d\xc3\xa9j\xc3\xa0") == "\"d\xc3\xa9j\xc3\xa0\"");  // UTF-8 passes through
  // Whatever we escape parses back to the same bytes.
  std::string nasty = "x\"},{\"execute\":\"quit\"}\\\n\x02";
  CHECK(parse(jsonString(nasty)).as_string() == nasty);

  auto args = JsonArgs().str("node-name", "n\"1").num("size", -5).boolean("ro", true).raw("file", R"({"a":1})").json();
  CHECK(args == R"({"node-name":"n\"1","size":-5,"ro":true,"file":{"a":1}})");
  CHECK(parse(args).is_object());
  CHECK(JsonArgs().json() == "{}");
}

TEST_CASE("typed reply parsers") {
  auto st = parseQueryStatus(R"({"status": "prelaunch", "singlestep": false, "running": false})");
  REQUIRE(st.has_value());
  CHECK(st->status == "prelaunch");
  CHECK(!st->running);
  auto bad = parseQueryStatus(R"({"status": "running"})");
  REQUIRE(!bad);
  CHECK(bad.error().code == ErrorCode::InternalError);
  CHECK(bad.error().domain == ErrorDomain::Qemu);
  CHECK(bad.error().message == "internal error: query-status reply was missing running state");
  CHECK(!parseQueryStatus("[1,"));

  auto blk = parseQueryBlock(
      R"([{"device": "", "qdev": "/machine/peripheral/disk0/virtio-backend", "locked": false, "removable": false,)"
      R"( "inserted": {"node-name": "fmt0", "file": "/var/img.qcow2", "drv": "qcow2", "ro": true}},)"
      R"( {"device": "ide1-cd0", "qdev": "cd0", "removable": true, "tray_open": false, "locked": false}])");
  REQUIRE(blk.has_value());
  REQUIRE(blk->size() == 2);
  CHECK((*blk)[0].qdev == "/machine/peripheral/disk0/virtio-backend");
  CHECK((*blk)[0].nodeName == "fmt0");
  CHECK((*blk)[0].file == "/var/img.qcow2");
  CHECK((*blk)[0].format == "qcow2");
  CHECK((*blk)[0].readOnly);
  CHECK((*blk)[1].device == "ide1-cd0");
  CHECK((*blk)[1].nodeName.empty());

  auto chr = parseQueryChardev(R"([{"frontend-open": false, "filename": "pty:/dev/pts/7", "label": "charserial0"},)"
                               R"( {"frontend-open": true, "filename": "unix:/x.sock,server=on", "label": "mon"}])");
  REQUIRE(chr.has_value());
  REQUIRE(chr->size() == 2);
  CHECK(ptyPath((*chr)[0]) == std::optional<std::string>("/dev/pts/7"));
  CHECK(!ptyPath((*chr)[1]));

  auto cpus = parseQueryCpusFast(R"([{"thread-id": 4242, "props": {"core-id": 0}, "qom-path": "/machine/unattached/device[0]",)"
                                 R"( "cpu-index": 0, "target": "x86_64"}, {"thread-id": 4243, "cpu-index": 1}])");
  REQUIRE(cpus.has_value());
  REQUIRE(cpus->size() == 2);
  CHECK((*cpus)[1].cpuIndex == 1);
  CHECK((*cpus)[1].threadId == 4243);

  auto kvm = parseQueryKvm(R"({"enabled": false, "present": true})");
  REQUIRE(kvm.has_value());
  CHECK(!kvm->enabled);
  CHECK(kvm->present);
}

TEST_CASE("query-migrate replies") {
  auto done = parseQueryMigrate(R"({"status": "completed", "total-time": 120, "ram": {"total": 134217728}})");
  REQUIRE(done.has_value());
  CHECK(done->status == "completed");
  CHECK(done->error.empty());
  auto failed = parseQueryMigrate(R"({"status": "failed", "error-desc": "Unable to write to file"})");
  REQUIRE(failed.has_value());
  CHECK(failed->status == "failed");
  CHECK(failed->error == "Unable to write to file");
  // before any migration (or migrate-incoming) QEMU reports no status
  auto none = parseQueryMigrate("{}");
  REQUIRE(none.has_value());
  CHECK(none->status.empty());
  CHECK(!parseQueryMigrate("[1,"));
}

// ---- the client against a scripted fake server -----------------------------------

TEST_CASE("connect: greeting, qmp_capabilities, one command") {
  json::object seenCaps;
  FakeServer srv([&](FakeConn& c) {
    c.send(kGreeting);
    auto caps = c.readCommand();
    if (!caps) return;
    seenCaps = *caps;
    c.reply(*caps, "{}");
    auto q = c.readCommand();
    if (q) c.reply(*q, R"({"status": "prelaunch", "singlestep": false, "running": false})");
    c.readCommand(1000ms);  // until the client closes
  });
  Observer obs;
  auto client = mustConnect(srv.path(), obs);
  CHECK(client->alive());
  CHECK(parse(client->greeting()).at("version").at("qemu").at("major").as_int64() == 7);
  auto st = queryStatus(*client);
  REQUIRE_MESSAGE(st.has_value(), (st ? "" : st.error().message));
  CHECK(st->status == "prelaunch");
  CHECK(seenCaps.at("execute").as_string() == "qmp_capabilities");
  CHECK(!seenCaps.contains("arguments"));
  CHECK(seenCaps.at("id").is_number());
  client.reset();
  CHECK(obs.closes == 0);  // closing it ourselves is not "QEMU went away"
}

TEST_CASE("connect: retries until the socket shows up; fails cleanly when it never does") {
  {
    FakeServer srv([](FakeConn& c) { c.handshake(); c.readCommand(1000ms); }, 150ms);
    Observer obs;
    auto t0 = Clock::now();
    auto client = mustConnect(srv.path(), obs, 3000ms);
    CHECK(Clock::now() - t0 >= 140ms);
  }
  {
    TempDir d;
    auto t0 = Clock::now();
    auto r = QmpClient::connect(d.file("nothing.sock"), 100ms, nullptr, nullptr);
    REQUIRE(!r);
    CHECK(Clock::now() - t0 >= 100ms);
    CHECK(Clock::now() - t0 < 1000ms);
    CHECK(r.error().code == ErrorCode::OperationFailed);
    CHECK(r.error().domain == ErrorDomain::Qemu);
    CHECK(r.error().message == "operation failed: monitor socket did not show up: No such file or directory");
  }
  {
    std::string longPath(200, 'x');
    auto r = QmpClient::connect("/tmp/" + longPath, 100ms, nullptr, nullptr);
    REQUIRE(!r);
    CHECK(r.error().code == ErrorCode::InternalError);
  }
}

TEST_CASE("connect: no greeting -> timeout; EOF before the greeting -> failure") {
  {
    FakeServer srv([](FakeConn& c) { c.readCommand(1500ms); });
    auto t0 = Clock::now();
    auto r = QmpClient::connect(srv.path(), 200ms, nullptr, nullptr);
    REQUIRE(!r);
    CHECK(Clock::now() - t0 < 1000ms);
    CHECK(r.error().code == ErrorCode::OperationTimeout);
    CHECK(r.error().message == "Timed out during operation: QEMU monitor sent no greeting");
  }
  {
    FakeServer srv([](FakeConn& c) { c.close(); });
    int closes = 0;
    auto r = QmpClient::connect(srv.path(), 2000ms, nullptr, [&] { closes++; });
    REQUIRE(!r);
    CHECK(r.error().code == ErrorCode::OperationFailed);
    CHECK(r.error().message == "operation failed: QEMU unexpectedly closed the monitor");
    CHECK(closes == 0);
  }
}

TEST_CASE("replies out of order, events interleaved, several messages per read") {
  FakeServer srv([](FakeConn& c) {
    if (!c.handshake()) return;
    auto a = c.readCommand();
    auto b = c.readCommand();
    if (!a || !b) return;
    // b first, with events around it, all in one write.
    std::string batch =
        R"({"timestamp": {"seconds": 1700000000, "microseconds": 123456}, "event": "STOP"})" "\r\n"
        R"({"return": {"who": "b"}, "id": )" + json::serialize(b->at("id")) + "}\r\n" +
        R"({"timestamp": {"seconds": 1700000001, "microseconds": 5}, "event": "RESUME", "data": {"x": [1, 2]}})" "\r\n";
    writeAll(c.fd(), batch);
    std::this_thread::sleep_for(20ms);
    c.reply(*a, R"({"who": "a"})");
    c.readCommand(1000ms);
  });
  Observer obs;
  auto client = mustConnect(srv.path(), obs);
  auto fa = std::async(std::launch::async, [&] { return client->execute("cmd-a"); });
  std::this_thread::sleep_for(20ms);  // a is sent first
  auto fb = std::async(std::launch::async, [&] { return client->execute("cmd-b", R"({"k": "v"})"); });
  auto rb = fb.get();
  auto ra = fa.get();
  REQUIRE(ra.has_value());
  REQUIRE(rb.has_value());
  CHECK(parse(*ra).at("who").as_string() == "a");
  CHECK(parse(*rb).at("who").as_string() == "b");
  REQUIRE(obs.waitEvents(2));
  std::lock_guard l(obs.m);
  CHECK(obs.events[0].name == "STOP");
  CHECK(obs.events[0].dataJson == "{}");
  CHECK(obs.events[0].seconds == 1700000000);
  CHECK(obs.events[0].micros == 123456);
  CHECK(obs.events[1].name == "RESUME");
  CHECK(parse(obs.events[1].dataJson).at("x").as_array().size() == 2);
}

TEST_CASE("a reply and an event written byte by byte") {
  FakeServer srv([](FakeConn& c) {
    if (!c.handshake()) return;
    auto q = c.readCommand();
    if (!q) return;
    c.sendBytewise(R"({"timestamp": {"seconds": 1, "microseconds": 2}, "event": "POWERDOWN"})");
    c.sendBytewise(R"({"return": {"status": "running", "singlestep": false, "running": true}, "id": )" +
                   json::serialize(q->at("id")) + "}");
    c.readCommand(1000ms);
  });
  Observer obs;
  auto client = mustConnect(srv.path(), obs);
  auto st = queryStatus(*client);
  REQUIRE_MESSAGE(st.has_value(), (st ? "" : st.error().message));
  CHECK(st->running);
  CHECK(st->status == "running");
  CHECK(obs.names() == std::vector<std::string>{"POWERDOWN"});
}

TEST_CASE("a QMP error reply becomes libvirt's internal error") {
  FakeServer srv([](FakeConn& c) {
    if (!c.handshake()) return;
    auto q = c.readCommand();
    if (!q) return;
    c.send(R"({"id": )" + json::serialize(q->at("id")) +
           R"(, "error": {"class": "GenericError", "desc": "Node 'nope' not found"}})");
    c.readCommand(1000ms);
  });
  Observer obs;
  auto client = mustConnect(srv.path(), obs);
  auto r = blockdevDel(*client, "nope");
  REQUIRE(!r);
  CHECK(r.error().code == ErrorCode::InternalError);
  CHECK(r.error().domain == ErrorDomain::Qemu);
  CHECK(r.error().message == "internal error: unable to execute QEMU command 'blockdev-del': Node 'nope' not found");
  CHECK(client->alive());
}

TEST_CASE("no reply by the deadline: timeout, and the client stays usable") {
  FakeServer srv([](FakeConn& c) {
    if (!c.handshake()) return;
    auto slow = c.readCommand();
    auto next = c.readCommand();
    if (!slow || !next) return;
    c.reply(*slow, R"("late")");  // nobody waits for it any more: dropped
    c.reply(*next, R"("next")");
    c.readCommand(1000ms);
  });
  Observer obs;
  auto client = mustConnect(srv.path(), obs);
  auto t0 = Clock::now();
  auto r = client->execute("slow-cmd", "{}", 150ms);
  auto took = Clock::now() - t0;
  REQUIRE(!r);
  CHECK(took >= 140ms);
  CHECK(took < 600ms);
  CHECK(r.error().code == ErrorCode::OperationTimeout);
  CHECK(r.error().domain == ErrorDomain::Qemu);
  CHECK(r.error().message == "Timed out during operation: QEMU command 'slow-cmd' got no reply");
  auto n = client->execute("next-cmd");
  REQUIRE(n.has_value());
  CHECK(*n == R"("next")");
  CHECK(client->alive());
}

TEST_CASE("EOF mid-command: every pending call fails, the close handler fires once") {
  FakeServer srv([](FakeConn& c) {
    if (!c.handshake()) return;
    for (int i = 0; i < 3; i++) c.readCommand();
    c.send(R"({"timestamp": {"seconds": 1, "microseconds": 0}, "event": "SHUTDOWN", "data": {"guest": false}})");
    c.close();
  });
  Observer obs;
  auto client = mustConnect(srv.path(), obs);
  std::vector<std::future<Result<std::string>>> calls;
  for (int i = 0; i < 3; i++)
    calls.push_back(std::async(std::launch::async, [&, i] { return client->execute("cmd" + std::to_string(i)); }));
  for (auto& f : calls) {
    REQUIRE(f.wait_for(3s) == std::future_status::ready);
    auto r = f.get();
    REQUIRE(!r);
    CHECK(r.error().code == ErrorCode::OperationFailed);
    CHECK(r.error().message == "operation failed: QEMU unexpectedly closed the monitor");
  }
  REQUIRE(obs.waitClose());
  CHECK(!client->alive());
  CHECK(obs.names() == std::vector<std::string>{"SHUTDOWN"});
  // Later calls fail at once.
  auto t0 = Clock::now();
  auto r = client->execute("after");
  CHECK(!r);
  CHECK(Clock::now() - t0 < 100ms);
  client.reset();
  CHECK(obs.closes == 1);
}

TEST_CASE("many concurrent callers, answered in arrival order") {
  constexpr int kThreads = 4, kPer = 50;
  FakeServer srv([](FakeConn& c) {
    if (!c.handshake()) return;
    for (int i = 0; i < kThreads * kPer; i++) {
      auto q = c.readCommand();
      if (!q) return;
      // echo the argument back, so each caller can check it got its own reply
      c.reply(*q, json::serialize(q->at("arguments").at("n")));
    }
    c.readCommand(1000ms);
  });
  Observer obs;
  auto client = mustConnect(srv.path(), obs);
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kPer; i++) {
        int n = t * 1000 + i;
        auto r = client->execute("echo", JsonArgs().num("n", n).json(), 3s);
        if (r && *r == std::to_string(n)) ok++;
      }
    });
  }
  for (auto& t : ts) t.join();
  CHECK(ok == kThreads * kPer);
}

TEST_CASE("large replies (several MB) arrive whole") {
  std::string big = "[";
  for (int i = 0; i < 40000; i++) {
    if (i) big += ", ";
    big += R"({"name": "type-)" + std::to_string(i) + R"(", "meta-type": "object", "members": []})";
  }
  big += "]";
  REQUIRE(big.size() > 2'000'000);
  FakeServer srv([&](FakeConn& c) {
    if (!c.handshake()) return;
    auto q = c.readCommand();
    if (q) c.reply(*q, big);
    c.readCommand(1000ms);
  });
  Observer obs;
  auto client = mustConnect(srv.path(), obs);
  auto r = client->execute("query-qmp-schema");
  REQUIRE(r.has_value());
  auto v = parse(*r);
  CHECK(v.as_array().size() == 40000);
  CHECK(v.as_array()[39999].at("name").as_string() == "type-39999");
}

TEST_CASE("bad arguments, calls from a handler, destruction with a call pending") {
  std::promise<void> pendingSeen;
  FakeServer srv([&](FakeConn& c) {
    if (!c.handshake()) return;
    auto trigger = c.readCommand();
    if (!trigger) return;
    c.reply(*trigger, "{}");
    c.send(R"({"timestamp": {"seconds": 1, "microseconds": 0}, "event": "PING"})");
    auto q = c.readCommand();  // the async call made by the handler
    if (q) c.reply(*q, R"("from-handler")");
    if (c.readCommand()) pendingSeen.set_value();  // never answered
    c.readCommand(2000ms);                          // until the client closes
  });
  std::promise<std::string> syncFromHandler;
  std::promise<std::string> asyncFromHandler;
  std::atomic<QmpClient*> self{nullptr};
  auto r = QmpClient::connect(
      srv.path(), 3s,
      [&](const QmpEvent&) {
        QmpClient* c = self.load();
        if (!c) return;
        auto s = c->execute("query-status");  // would wait for its own thread: refused
        syncFromHandler.set_value(s ? "ok" : s.error().message);
        c->executeAsync("query-status", "{}", 1s, [&](Result<std::string> a) {
          asyncFromHandler.set_value(a ? *a : a.error().message);
        });
      },
      nullptr);
  REQUIRE(r.has_value());
  auto client = std::move(*r);
  self = client.get();

  auto bad = client->execute("x", "[1, 2]");
  REQUIRE(!bad);
  CHECK(bad.error().code == ErrorCode::InternalError);
  CHECK(bad.error().message == "internal error: arguments of QEMU command 'x' are not a JSON object: [1, 2]");
  CHECK(!client->execute("x", "{not json"));

  REQUIRE(client->execute("trigger").has_value());
  auto f1 = syncFromHandler.get_future();
  auto f2 = asyncFromHandler.get_future();
  REQUIRE(f1.wait_for(2s) == std::future_status::ready);
  CHECK(f1.get() == "internal error: cannot wait for QEMU command 'query-status' on the monitor thread");
  REQUIRE(f2.wait_for(2s) == std::future_status::ready);
  CHECK(f2.get() == R"("from-handler")");

  auto pending = std::async(std::launch::async, [&] { return client->execute("hangs", "{}", 5s); });
  REQUIRE(pendingSeen.get_future().wait_for(2s) == std::future_status::ready);
  self = nullptr;
  client.reset();
  REQUIRE(pending.wait_for(1s) == std::future_status::ready);
  auto pr = pending.get();
  REQUIRE(!pr);
  CHECK(pr.error().message == "operation failed: QEMU monitor was closed");
}

TEST_CASE("the owner may drop the client from its own close handler") {
  FakeServer srv([](FakeConn& c) {
    if (!c.handshake()) return;
    c.readCommand();
    c.close();
  });
  QmpClientPtr holder;
  std::promise<void> dropped;
  auto r = QmpClient::connect(srv.path(), 3s, nullptr, [&] {
    holder.reset();
    dropped.set_value();
  });
  REQUIRE(r.has_value());
  holder = std::move(*r);
  std::promise<std::string> reply;
  holder->executeAsync("bye", "{}", 2s, [&](Result<std::string> x) { reply.set_value(x ? *x : x.error().message); });
  REQUIRE(dropped.get_future().wait_for(3s) == std::future_status::ready);
  auto f = reply.get_future();
  REQUIRE(f.wait_for(1s) == std::future_status::ready);
  CHECK(f.get() == "operation failed: QEMU unexpectedly closed the monitor");
}

TEST_CASE("garbage from the peer closes the connection") {
  FakeServer srv([](FakeConn& c) {
    if (!c.handshake()) return;
    auto q = c.readCommand();
    if (q) c.send("{\"return\": }");
    c.readCommand(1000ms);
  });
  Observer obs;
  auto client = mustConnect(srv.path(), obs);
  auto r = client->execute("query-status");
  REQUIRE(!r);
  CHECK(r.error().code == ErrorCode::InternalError);
  CHECK(r.error().message.starts_with("internal error: cannot parse QEMU monitor reply"));
  CHECK(obs.waitClose());
  CHECK(!client->alive());
}

// ---- a recorded QEMU 7.2 session, replayed, and live QEMU ----------------------------

namespace {

const char* kQemuBinary = "/usr/bin/qemu-system-x86_64";
const std::filesystem::path kTranscript = std::filesystem::path(SV_GOLDEN_DIR) / "qmp" / "qemu-7.2.replies";

bool haveQemu() { return ::access(kQemuBinary, X_OK) == 0; }

// A QEMU child, killed and reaped on destruction unless it already exited.
struct QemuProcess {
  pid_t pid = -1;
  QemuProcess(const std::vector<std::string>& args, const std::string& logPath) {
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(kQemuBinary));
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (::posix_spawn(&pid, kQemuBinary, &fa, nullptr, argv.data(), environ) != 0) pid = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~QemuProcess() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  // The exit status once the process has exited within `t`.
  std::optional<int> waitExit(std::chrono::milliseconds t) {
    auto until = Clock::now() + t;
    while (pid > 0) {
      int st = 0;
      pid_t r = ::waitpid(pid, &st, WNOHANG);
      if (r == pid) {
        pid = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      if (Clock::now() >= until) return std::nullopt;
      std::this_thread::sleep_for(2ms);
    }
    return std::nullopt;
  }
};

// Sits between the client and QEMU and records every line, in order, with
// the ids removed: the golden transcript of a session.
class RecordingProxy {
 public:
  RecordingProxy(std::string listenPath, std::string upstream)
      : listen_(listenUnix(listenPath)), upstream_(std::move(upstream)) {
    thread_ = std::thread([this] { run(); });
  }
  ~RecordingProxy() {
    thread_.join();
    if (listen_ >= 0) ::close(listen_);
  }
  std::string transcript() {
    thread_.join();
    thread_ = std::thread([] {});
    std::string out;
    for (auto& l : lines_) out += l + "\n";
    return out;
  }

 private:
  void record(std::string& buf, const char* data, size_t n) {
    buf.append(data, n);
    for (auto nl = buf.find('\n'); nl != std::string::npos; nl = buf.find('\n')) {
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      boost::system::error_code ec;
      auto v = json::parse(line, ec);
      if (ec || !v.is_object()) continue;
      v.get_object().erase("id");
      lines_.push_back(json::serialize(v));
    }
  }
  void run() {
    pollfd lp{listen_, POLLIN, 0};
    if (listen_ < 0 || ::poll(&lp, 1, 5000) <= 0) return;
    int c = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
    int q = -1;
    for (auto until = Clock::now() + 5s; q < 0 && Clock::now() < until; std::this_thread::sleep_for(5ms))
      q = connectUnixOnce(upstream_);
    if (c < 0 || q < 0) {
      if (c >= 0) ::close(c);
      return;
    }
    std::string fromClient, fromQemu;
    for (;;) {
      pollfd p[2] = {{c, POLLIN, 0}, {q, POLLIN, 0}};
      if (::poll(p, 2, 5000) <= 0) break;
      char buf[65536];
      bool eof = false;
      for (int i = 0; i < 2; i++) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::read(p[i].fd, buf, sizeof buf);
        if (n <= 0) {
          eof = true;
          break;
        }
        record(i == 0 ? fromClient : fromQemu, buf, static_cast<size_t>(n));
        if (!writeAll(i == 0 ? q : c, std::string_view(buf, static_cast<size_t>(n)))) eof = true;
      }
      if (eof) break;
    }
    ::close(c);
    ::close(q);
  }

  int listen_;
  std::string upstream_;
  std::vector<std::string> lines_;
  std::thread thread_;
};

// Plays a transcript back: checks each command the client sends against the
// recorded one, answers with the recorded reply and events, and closes at the
// end (QEMU exits after "quit").
class ReplayServer {
 public:
  explicit ReplayServer(std::vector<std::string> lines)
      : lines_(std::move(lines)), srv_([this](FakeConn& c) { play(c); }) {}
  const std::string& path() const { return srv_.path(); }
  std::vector<std::string> problems;  // read after the client is done

 private:
  void play(FakeConn& c) {
    json::value lastId;
    for (const auto& line : lines_) {
      json::value v = json::parse(line);
      json::object& o = v.get_object();
      if (o.contains("execute")) {
        auto got = c.readCommand();
        if (!got) {
          problems.push_back("client sent nothing where the transcript has " + line);
          return;
        }
        lastId = got->at("id");
        got->erase("id");
        if (json::value(*got) != v) {
          problems.push_back("expected " + line + " got " + json::serialize(*got));
          return;
        }
      } else {
        if (o.contains("return") || o.contains("error")) o["id"] = lastId;
        c.send(json::serialize(v));
      }
    }
    c.close();
  }
  std::vector<std::string> lines_;
  FakeServer srv_;
};

// The session recorded into the golden transcript; run against live QEMU
// (machine pc, paused, a pty serial port) and against its replay.
void transcriptSession(const std::string& path) {
  Observer obs;
  auto c = mustConnect(path, obs, 5000ms);
  auto st = queryStatus(*c);
  REQUIRE(st.has_value());
  CHECK(st->status == "prelaunch");
  CHECK(!st->running);
  auto kvm = queryKvm(*c);
  REQUIRE(kvm.has_value());
  CHECK(!kvm->enabled);
  auto chr = queryChardev(*c);
  REQUIRE(chr.has_value());
  auto serial = std::find_if(chr->begin(), chr->end(), [](auto& x) { return x.label == "charserial0"; });
  REQUIRE(serial != chr->end());
  REQUIRE(ptyPath(*serial).has_value());
  CHECK(ptyPath(*serial)->starts_with("/dev/pts/"));
  auto cpus = queryCpusFast(*c);
  REQUIRE(cpus.has_value());
  REQUIRE(cpus->size() == 1);
  CHECK((*cpus)[0].cpuIndex == 0);
  CHECK((*cpus)[0].threadId > 0);

  auto r = blockdevAdd(*c, JsonArgs().str("driver", "null-co").str("node-name", "null0").num("size", 1 << 20).json());
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  r = deviceAdd(*c, JsonArgs().str("driver", "virtio-blk-pci").str("drive", "null0").str("id", "disk0").json());
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  auto blk = queryBlock(*c);
  REQUIRE(blk.has_value());
  auto disk = std::find_if(blk->begin(), blk->end(), [](auto& b) { return b.nodeName == "null0"; });
  REQUIRE(disk != blk->end());
  CHECK(disk->format == "null-co");
  CHECK(disk->qdev.find("disk0") != std::string::npos);
  CHECK(!disk->readOnly);
  r = blockdevDel(*c, "null0");  // in use by disk0
  REQUIRE(!r.has_value());
  CHECK(r.error().code == ErrorCode::InternalError);
  CHECK(r.error().message.starts_with("internal error: unable to execute QEMU command 'blockdev-del': "));
  auto unknown = c->execute("no-such-command");
  REQUIRE(!unknown.has_value());
  CHECK(unknown.error().message ==
        "internal error: unable to execute QEMU command 'no-such-command': The command no-such-command has not been found");
  r = netdevAdd(*c, JsonArgs().str("type", "user").str("id", "net0").json());
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  r = netdevDel(*c, "net0");
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));

  REQUIRE(cont(*c).has_value());
  st = queryStatus(*c);
  REQUIRE(st.has_value());
  CHECK(st->running);
  CHECK(st->status == "running");
  REQUIRE(stop(*c).has_value());
  st = queryStatus(*c);
  REQUIRE(st.has_value());
  CHECK(st->status == "paused");
  REQUIRE(systemReset(*c).has_value());
  REQUIRE(systemPowerdown(*c).has_value());
  r = deviceDel(*c, "disk0");  // only requests the unplug: no guest OS to acknowledge it
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  REQUIRE(quit(*c).has_value());
  REQUIRE(obs.waitClose(3000ms));
  CHECK(!c->alive());
  auto names = obs.names();
  for (const char* want : {"RESUME", "STOP", "RESET", "POWERDOWN", "SHUTDOWN"})
    CHECK_MESSAGE(std::find(names.begin(), names.end(), want) != names.end(), "missing event " << want);
}

std::vector<std::string> qemuArgs(const std::string& machine, const std::string& qmpPath,
                                  std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {"-machine", machine, "-nodefaults", "-display", "none", "-no-user-config",
                                "-qmp", "unix:" + qmpPath + ",server=on,wait=off", "-S"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

}  // namespace

TEST_CASE("replay of the recorded QEMU 7.2 session") {
  auto text = test::readFile(kTranscript);
  REQUIRE_MESSAGE(text.has_value(), "missing " << kTranscript.string());
  std::vector<std::string> lines;
  std::istringstream in(*text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) lines.push_back(l);
  REQUIRE(lines.size() > 10);
  REQUIRE(json::parse(lines[0]).as_object().contains("QMP"));
  ReplayServer srv(lines);
  transcriptSession(srv.path());
  for (auto& p : srv.problems) FAIL_CHECK(p);
}

TEST_CASE("live QEMU: record the session transcript (rewritten with SPLITVIRT_REGENERATE=1)") {
  if (!haveQemu()) {
    MESSAGE("qemu-system-x86_64 not installed: skipped");
    return;
  }
  TempDir d;
  const std::string qmp = d.file("qemu.qmp"), proxy = d.file("proxy.qmp");
  QemuProcess q(qemuArgs("pc,accel=tcg", qmp,
                         {"-m", "64", "-chardev", "pty,id=charserial0", "-device",
                          "isa-serial,chardev=charserial0,id=serial0"}),
                d.file("qemu.log"));
  REQUIRE(q.pid > 0);
  RecordingProxy rec(proxy, qmp);
  transcriptSession(proxy);
  CHECK(q.waitExit(3000ms) == std::optional<int>(0));
  std::string transcript = rec.transcript();
  CHECK(transcript.starts_with(R"({"QMP":)"));
  if (test::regenerateGoldens()) test::compareToGolden(transcript, kTranscript);
}

TEST_CASE("live QEMU -machine none: status, cont, round trip, quit") {
  if (!haveQemu()) {
    MESSAGE("qemu-system-x86_64 not installed: skipped");
    return;
  }
  TempDir d;
  const std::string qmp = d.file("m.qmp");
  auto t0 = Clock::now();
  QemuProcess q(qemuArgs("none", qmp), d.file("qemu.log"));
  REQUIRE(q.pid > 0);
  Observer obs;
  auto c = mustConnect(qmp, obs, 5000ms);
  auto connectMs = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  auto st = queryStatus(*c);
  REQUIRE(st.has_value());
  CHECK(st->status == "prelaunch");
  CHECK(!st->running);
  REQUIRE(cont(*c).has_value());
  st = queryStatus(*c);
  REQUIRE(st.has_value());
  CHECK(st->running);
  CHECK(st->status == "running");

  constexpr int kRounds = 300;
  std::vector<double> us;
  for (int i = 0; i < kRounds; i++) {
    auto t = Clock::now();
    auto s = c->execute("query-status");
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
    REQUIRE(s.has_value());
  }
  std::sort(us.begin(), us.end());
  double sum = 0;
  for (double x : us) sum += x;
  MESSAGE("spawn->connected " << connectMs << " ms; query-status round trip over " << kRounds << ": min " << us.front()
                              << " us, median " << us[us.size() / 2] << " us, mean " << sum / kRounds << " us, p99 "
                              << us[us.size() * 99 / 100] << " us");

  REQUIRE(quit(*c).has_value());
  CHECK(obs.waitClose(3000ms));
  CHECK(!c->alive());
  CHECK(q.waitExit(3000ms) == std::optional<int>(0));
  auto after = c->execute("query-status");
  REQUIRE(!after.has_value());
  CHECK(after.error().code == ErrorCode::OperationFailed);
}

TEST_CASE("live QEMU: query-qmp-schema (about 1 MB) parses") {
  if (!haveQemu()) {
    MESSAGE("qemu-system-x86_64 not installed: skipped");
    return;
  }
  TempDir d;
  const std::string qmp = d.file("s.qmp");
  QemuProcess q(qemuArgs("none", qmp), d.file("qemu.log"));
  REQUIRE(q.pid > 0);
  Observer obs;
  auto c = mustConnect(qmp, obs, 5000ms);
  auto t = Clock::now();
  auto schema = c->execute("query-qmp-schema", "{}", 4000ms);
  auto ms = std::chrono::duration<double, std::milli>(Clock::now() - t).count();
  REQUIRE_MESSAGE(schema.has_value(), (schema ? "" : schema.error().message));
  auto v = json::parse(*schema);
  REQUIRE(v.is_array());
  CHECK(v.as_array().size() > 500);
  MESSAGE("query-qmp-schema: " << schema->size() << " bytes, " << v.as_array().size() << " entries, " << ms << " ms");
  // still in step afterwards
  auto st = queryStatus(*c);
  REQUIRE(st.has_value());
  CHECK(st->status == "prelaunch");
  REQUIRE(quit(*c).has_value());
  CHECK(q.waitExit(3000ms) == std::optional<int>(0));
}
