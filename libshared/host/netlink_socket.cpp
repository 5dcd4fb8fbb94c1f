#include "host/netlink_socket.hpp"

#include "util/log.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace splitvirt::host::nl {

namespace {

// rtnetlink answers synchronously; the timeout only guards against a kernel
// (or a seccomp filter) that never answers, so a caller cannot hang forever.
constexpr int kReceiveTimeoutSec = 10;
// A dump races with concurrent changes (NLM_F_DUMP_INTR): start it again.
constexpr int kDumpAttempts = 5;

std::atomic<uint32_t> gSeq{static_cast<uint32_t>(::time(nullptr))};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

Error systemErr(int err, std::string text) { return Error::systemError(kFromNet, err, std::move(text)); }

// A bound socket and the port id the kernel gave it (replies carry it).
Result<uint32_t> bindSocket(int fd) {
  int one = 1;
  // Best effort: older kernels lack them, and they only improve diagnostics
  // (extended ACK text) and shrink error answers (no echo of the request).
  (void)::setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  (void)::setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  timeval tv{kReceiveTimeoutSec, 0};
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
    return systemErr(errno, "cannot set netlink socket receive timeout");
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0)
    return systemErr(errno, "cannot connect to netlink socket with protocol 0");
  socklen_t len = sizeof sa;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) < 0 || sa.nl_family != AF_NETLINK)
    return systemErr(errno, "cannot get netlink socket address");
  return sa.nl_pid;
}

Result<void> sendAll(int fd, const Message& msg, const uint8_t* data) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    ssize_t n = ::sendto(fd, data, msg.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return systemErr(errno, "cannot send to netlink socket");
    if (static_cast<size_t>(n) != msg.size()) return systemErr(EIO, "cannot send to netlink socket");
    return {};
  }
}

// One datagram from the kernel, sized by peeking first so nothing is cut off.
// Datagrams from other senders (a process may unicast to our port) are dropped.
Result<std::vector<uint8_t>> receiveDatagram(int fd) {
  for (;;) {
    ssize_t want = ::recv(fd, nullptr, 0, MSG_PEEK | MSG_TRUNC);
    if (want < 0 && errno == EINTR) continue;
    if (want < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return systemErr(ETIMEDOUT, "no valid netlink response was received");
    if (want < 0) return systemErr(errno, "nl_recv failed");
    std::vector<uint8_t> buf(static_cast<size_t>(std::max<ssize_t>(want, NLMSG_HDRLEN)));
    sockaddr_nl from{};
    iovec iov{buf.data(), buf.size()};
    msghdr mh{};
    mh.msg_name = &from;
    mh.msg_namelen = sizeof from;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    ssize_t n = ::recvmsg(fd, &mh, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return systemErr(errno, "nl_recv failed");
    if (n == 0) return Error::internal(kFromNet, "nl_recv failed - returned 0 bytes");
    if (mh.msg_flags & MSG_TRUNC) return malformed();
    if (from.nl_pid != 0) continue;
    buf.resize(static_cast<size_t>(n));
    return buf;
  }
}

// The kernel's explanation attached to an error (NETLINK_EXT_ACK), if any.
std::string extackText(const nlmsghdr& h, Bytes payload) {
  if (!(h.nlmsg_flags & NLM_F_ACK_TLVS)) return {};
  nlmsgerr e;
  std::memcpy(&e, payload.data(), sizeof e);
  size_t off = sizeof e;
  // Without NLM_F_CAPPED the request's payload is echoed before the TLVs.
  if (!(h.nlmsg_flags & NLM_F_CAPPED) && e.msg.nlmsg_len >= NLMSG_HDRLEN)
    off += NLMSG_ALIGN(e.msg.nlmsg_len - NLMSG_HDRLEN);
  if (off >= payload.size()) return {};
  Attrs tlv(payload.subspan(off), NLMSGERR_ATTR_MAX);
  return tlv.valid() ? tlv.str(NLMSGERR_ATTR_MSG).value_or("") : std::string();
}

struct Exchange {
  Answer answer;
  bool interrupted = false;
};

// Walks the messages of one datagram; true once the answer is complete.
Result<bool> consume(const std::vector<uint8_t>& buf, uint32_t seq, uint32_t port, bool dump, Exchange& ex) {
  size_t off = 0;
  while (off < buf.size()) {
    if (buf.size() - off < NLMSG_HDRLEN) return malformed();
    nlmsghdr h;
    std::memcpy(&h, buf.data() + off, sizeof h);
    if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > buf.size() - off) return malformed();
    Bytes payload(buf.data() + off + NLMSG_HDRLEN, h.nlmsg_len - NLMSG_HDRLEN);
    off = std::min(buf.size(), off + NLMSG_ALIGN(h.nlmsg_len));
    if (h.nlmsg_seq != seq || h.nlmsg_pid != port) continue;  // a stale answer to an earlier request
    if (h.nlmsg_flags & NLM_F_DUMP_INTR) ex.interrupted = true;
    switch (h.nlmsg_type) {
      case NLMSG_NOOP:
        continue;
      case NLMSG_OVERRUN:
        return malformed();
      case NLMSG_ERROR: {
        if (payload.size() < sizeof(nlmsgerr)) return malformed();
        nlmsgerr e;
        std::memcpy(&e, payload.data(), sizeof e);
        ex.answer.err = e.error < 0 ? -e.error : e.error;
        if (ex.answer.err) {
          std::string why = extackText(h, payload);
          if (!why.empty()) log::debug("netlink: kernel says: %s", why.c_str());
        }
        return true;
      }
      case NLMSG_DONE: {
        // A dump's final status; newer kernels put an errno here.
        if (dump && payload.size() >= sizeof(int)) {
          int status;
          std::memcpy(&status, payload.data(), sizeof status);
          if (status < 0) ex.answer.err = -status;
        }
        return true;
      }
      default:
        if (h.nlmsg_type < NLMSG_MIN_TYPE) continue;  // reserved control types
        ex.answer.messages.push_back(
            Received{h.nlmsg_type, h.nlmsg_flags, std::vector<uint8_t>(payload.begin(), payload.end())});
    }
  }
  return false;
}

Result<Exchange> exchangeOnce(Message& msg, bool dump) {
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (fd.get() < 0) return systemErr(errno, "cannot allocate nlhandle for netlink");
  uint32_t port = 0;
  SV_TRY_ASSIGN(port, bindSocket(fd.get()));
  uint32_t seq = ++gSeq;
  nlmsghdr h;
  std::memcpy(&h, msg.data(), sizeof h);
  h.nlmsg_seq = seq;
  h.nlmsg_pid = 0;
  std::memcpy(msg.data(), &h, sizeof h);
  SV_TRY_VOID(sendAll(fd.get(), msg, msg.data()));
  Exchange ex;
  for (;;) {
    std::vector<uint8_t> buf;
    SV_TRY_ASSIGN(buf, receiveDatagram(fd.get()));
    bool done = false;
    SV_TRY_ASSIGN(done, consume(buf, seq, port, dump, ex));
    if (done) return ex;
  }
}

}  // namespace

Error malformed() { return Error::internal(kFromNet, "malformed netlink response message"); }

// ---- Message ---------------------------------------------------------------

Message::Message(uint16_t type, uint16_t flags) : buf_(NLMSG_HDRLEN, 0) {
  nlmsghdr h{};
  h.nlmsg_type = type;
  h.nlmsg_flags = static_cast<uint16_t>(flags | NLM_F_REQUEST);
  std::memcpy(buf_.data(), &h, sizeof h);
  setLength();
}

void Message::append(const void* data, size_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
  buf_.insert(buf_.end(), p, p + len);
  buf_.resize(NLMSG_ALIGN(buf_.size()), 0);
  setLength();
}

void Message::put(uint16_t type, const void* data, size_t len) {
  // Every attribute we build is a few bytes; an oversized one is a bug
  // here, and truncating it would send the kernel something else.
  if (len > UINT16_MAX - NLA_HDRLEN) std::abort();
  nlattr a{static_cast<uint16_t>(NLA_HDRLEN + len), type};
  size_t at = buf_.size();
  buf_.resize(at + NLA_HDRLEN, 0);
  std::memcpy(buf_.data() + at, &a, sizeof a);
  if (len) append(data, len);
  else setLength();
}

void Message::putString(uint16_t type, std::string_view s) {
  std::string z(s);
  put(type, z.c_str(), z.size() + 1);
}

size_t Message::beginNest(uint16_t type) {
  size_t at = buf_.size();
  put(type, nullptr, 0);
  return at;
}

void Message::endNest(size_t handle) {
  size_t len = buf_.size() - handle;
  if (len > UINT16_MAX) std::abort();
  nlattr a;
  std::memcpy(&a, buf_.data() + handle, sizeof a);
  a.nla_len = static_cast<uint16_t>(len);
  std::memcpy(buf_.data() + handle, &a, sizeof a);
}

uint16_t Message::type() const {
  nlmsghdr h;
  std::memcpy(&h, buf_.data(), sizeof h);
  return h.nlmsg_type;
}

void Message::setLength() {
  nlmsghdr h;
  std::memcpy(&h, buf_.data(), sizeof h);
  h.nlmsg_len = static_cast<uint32_t>(buf_.size());
  std::memcpy(buf_.data(), &h, sizeof h);
}

// ---- answers ---------------------------------------------------------------

Bytes Received::attrs(size_t headerSize) const {
  size_t off = NLMSG_ALIGN(headerSize);
  if (off >= payload.size()) return {};
  return Bytes(payload).subspan(off);
}

Attrs::Attrs(Bytes data, uint16_t maxType) : tb_(static_cast<size_t>(maxType) + 1) {
  size_t off = 0;
  while (data.size() - off >= NLA_HDRLEN) {
    nlattr a;
    std::memcpy(&a, data.data() + off, sizeof a);
    if (a.nla_len < NLA_HDRLEN || a.nla_len > data.size() - off) {
      valid_ = false;
      return;
    }
    uint16_t t = a.nla_type & NLA_TYPE_MASK;
    if (t <= maxType) tb_[t] = data.subspan(off + NLA_HDRLEN, a.nla_len - NLA_HDRLEN);
    off = std::min(data.size(), off + NLA_ALIGN(a.nla_len));
  }
}

std::optional<Bytes> Attrs::get(uint16_t type) const {
  if (type >= tb_.size()) return std::nullopt;
  return tb_[type];
}

std::optional<uint32_t> Attrs::u32(uint16_t type) const {
  auto b = get(type);
  if (!b || b->size() < sizeof(uint32_t)) return std::nullopt;
  uint32_t v;
  std::memcpy(&v, b->data(), sizeof v);
  return v;
}

std::optional<uint8_t> Attrs::u8(uint16_t type) const {
  auto b = get(type);
  if (!b || b->empty()) return std::nullopt;
  return (*b)[0];
}

std::optional<std::string> Attrs::str(uint16_t type) const {
  auto b = get(type);
  if (!b) return std::nullopt;
  auto end = std::find(b->begin(), b->end(), uint8_t{0});
  return std::string(b->begin(), end);
}

// ---- the exchange ----------------------------------------------------------

Result<Answer> transact(Message& msg) {
  nlmsghdr h;
  std::memcpy(&h, msg.data(), sizeof h);
  bool dump = (h.nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
  if (!dump) {
    // The ACK tells success from "no answer yet"; GET requests answer first.
    h.nlmsg_flags |= NLM_F_ACK;
    std::memcpy(msg.data(), &h, sizeof h);
  }
  for (int attempt = 1;; ++attempt) {
    Exchange ex;
    SV_TRY_ASSIGN(ex, exchangeOnce(msg, dump));
    if (!ex.interrupted || ex.answer.err) return std::move(ex.answer);
    if (attempt == kDumpAttempts) {
      ex.answer.err = EAGAIN;
      ex.answer.messages.clear();
      return std::move(ex.answer);
    }
    log::debug("netlink: dump of type %u interrupted by a concurrent change, restarting", h.nlmsg_type);
  }
}

}  // namespace splitvirt::host::nl
