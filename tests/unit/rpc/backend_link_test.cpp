#include "rpc/backend_link.hpp"
#include "rpc/packet.hpp"

#include <boost/asio/io_context.hpp>

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

using namespace splitvirt;
using namespace splitvirt::rpc;
using protocol::Header;
using protocol::MsgStatus;
using protocol::MsgType;

namespace {

struct Recorder : BackendLink::Handler {
  std::optional<Result<void>> connected;
  std::vector<std::string> packets;
  int closed = 0;
  std::string closeMessage;
  bool closeOnFirstPacket = false;
  BackendLink* link = nullptr;
  void onBackendConnected(BackendLink&, const Result<void>& r) override { connected = r; }
  void onBackendPacket(BackendLink& l, const Header&, std::string&& p) override {
    packets.push_back(std::move(p));
    if (closeOnFirstPacket) l.close();
  }
  void onBackendClosed(BackendLink&, const Error& e) override {
    ++closed;
    closeMessage = e.message;
  }
};

// A one-connection server on a thread with blocking I/O: reads one packet,
// answers with `reply` in a single write, then closes.
struct OneShotServer {
  std::string path;
  int lfd;
  std::thread t;
  std::string got;
  OneShotServer(std::string reply) {
    path = (std::filesystem::temp_directory_path() / ("svbl-" + std::to_string(getpid()) + ".sock")).string();
    ::unlink(path.c_str());
    lfd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strcpy(a.sun_path, path.c_str());
    REQUIRE(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(lfd, 1) == 0);
    t = std::thread([this, reply] {
      int c = ::accept(lfd, nullptr, nullptr);
      char buf[64];
      size_t n = 0;
      while (n < 32) {
        ssize_t r = ::read(c, buf + n, 32 - n);
        if (r <= 0) break;
        n += static_cast<size_t>(r);
      }
      got.assign(buf, n);
      size_t off = 0;
      while (off < reply.size()) {
        ssize_t w = ::write(c, reply.data() + off, reply.size() - off);
        if (w <= 0) break;
        off += static_cast<size_t>(w);
      }
      ::close(c);
    });
  }
  ~OneShotServer() {
    if (t.joinable()) t.join();
    ::close(lfd);
    ::unlink(path.c_str());
  }
};

std::string packet(int proc, uint32_t serial, std::string payload) {
  return makePacket(Header{protocol::kRemoteProgram, 1, proc, MsgType::Reply, serial, MsgStatus::Ok}, payload);
}

}  // namespace

TEST_CASE("backend link: packets both ways, several per read, a large one whole, EOF once") {
  std::string big(300000, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = char(i * 7);
  OneShotServer srv(packet(1, 0, "") + packet(157, 1, std::string(8, '\1')) + packet(209, 2, big));
  boost::asio::io_context io;
  Recorder rec;
  {
    BackendLink link(io.get_executor(), srv.path, rec);
    link.send(packet(157, 1, "abcd"));  // queued before the connection is up
    link.connect();
    io.run();
    REQUIRE(rec.connected);
    CHECK(rec.connected->has_value());
    CHECK(srv.got == packet(157, 1, "abcd"));
    REQUIRE(rec.packets.size() == 3);
    CHECK(rec.packets[0].size() == 28);
    CHECK(rec.packets[1].size() == 36);
    CHECK(rec.packets[2] == packet(209, 2, big));
    CHECK(rec.closed == 1);
    CHECK(rec.closeMessage.find("End of file") != std::string::npos);
    CHECK(link.queuedBytes() == 0);
  }
}

TEST_CASE("backend link: a missing socket fails the connect; close() silences the handler") {
  boost::asio::io_context io;
  Recorder rec;
  BackendLink link(io.get_executor(), "/nonexistent/svbl.sock", rec);
  link.connect();
  io.run();
  REQUIRE(rec.connected);
  REQUIRE_FALSE(rec.connected->has_value());
  CHECK(rec.connected->error().message.find("Failed to connect socket to '/nonexistent/svbl.sock'") == 0);
  CHECK(rec.closed == 0);

  OneShotServer srv(packet(1, 0, "") + packet(2, 1, ""));
  boost::asio::io_context io2;
  Recorder rec2;
  rec2.closeOnFirstPacket = true;
  BackendLink link2(io2.get_executor(), srv.path, rec2);
  link2.connect();
  link2.send(packet(1, 0, "abcd"));
  io2.run();
  CHECK(rec2.packets.size() == 1);  // nothing after close(), not even the EOF
  CHECK(rec2.closed == 0);
}
