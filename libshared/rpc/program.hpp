// The dispatch table of one RPC program. Handlers are bound per typed
// procedure; the template decodes args and encodes the return with the
// generic XDR codec, so there are no hand-written per-call bodies. A
// procedure nobody bound answers NO_SUPPORT automatically.
#pragma once

#include "protocol/header.hpp"
#include "protocol/proc.hpp"
#include "rpc/conn_context.hpp"
#include "rpc/stream.hpp"
#include "util/error.hpp"
#include "xdr/codec.hpp"

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace splitvirt::rpc {

// Appends the encoded return value to `out` or returns the error. A
// stream-opening procedure also sets `stream`.
using RawHandler =
    std::function<Result<void>(ConnContext&, std::string_view payload, std::string& out, StreamEndpointPtr& stream)>;

struct Entry {
  RawHandler handler;
  bool blocking = false;
};

class Program {
 public:
  // The REMOTE program.
  explicit Program(ErrorDomain driverDomain)
      : Program(driverDomain, protocol::kRemoteProgram, std::span<const protocol::ProcInfo>(protocol::kRemoteProcs)) {}
  // Any program: its number and its procedure table (index = number).
  Program(ErrorDomain driverDomain, uint32_t number, std::span<const protocol::ProcInfo> procs)
      : driverDomain_(driverDomain), number_(number), procs_(procs) {
    entries_.resize(procs.size());
  }
  uint32_t number() const { return number_; }

  // Handler: Result<Ret>(ConnContext&, Args&&). Checked at compile time.
  template <class A, class R, class F>
  void bind(const protocol::Proc<A, R>& proc, F&& fn) {
    static_assert(std::is_invocable_r_v<Result<R>, F&, ConnContext&, A&&>,
                  "handler must be Result<Ret>(ConnContext&, Args&&)");
    entries_[static_cast<size_t>(proc.number)] = Entry{
        [fn = std::forward<F>(fn), domain = driverDomain_](ConnContext& ctx, std::string_view payload,
                                                           std::string& out, StreamEndpointPtr&) -> Result<void> {
          A args{};
          if (!xdr::decodeFromBytes(payload.data(), payload.size(), args))
            return Error::rpc(ErrorDomain::Rpc, "Unable to decode message payload");
          Result<R> r = fn(ctx, std::move(args));
          if (!r) return r.error();
          xdr::Writer w(out);
          xdr::encode(w, *r);
          return {};
        },
        proc.blocking};
  }

  // A stream-opening procedure: the handler returns the daemon's end of the
  // stream; the reply is void (as for every stream procedure in libvirt).
  template <class A, class R, class F>
  void bindStream(const protocol::Proc<A, R>& proc, F&& fn) {
    static_assert(std::is_invocable_r_v<Result<StreamEndpointPtr>, F&, ConnContext&, A&&>,
                  "stream handler must be Result<StreamEndpointPtr>(ConnContext&, Args&&)");
    entries_[static_cast<size_t>(proc.number)] = Entry{
        [fn = std::forward<F>(fn)](ConnContext& ctx, std::string_view payload, std::string&,
                                   StreamEndpointPtr& stream) -> Result<void> {
          A args{};
          if (!xdr::decodeFromBytes(payload.data(), payload.size(), args))
            return Error::rpc(ErrorDomain::Rpc, "Unable to decode message payload");
          auto r = fn(ctx, std::move(args));
          if (!r) return r.error();
          stream = std::move(*r);
          return {};
        },
        proc.blocking};
  }

  // A handler on raw payloads (forwarding: no decoding at all).
  void bindRaw(int number, bool blocking, RawHandler handler) {
    if (number < 1 || static_cast<size_t>(number) >= entries_.size()) return;
    entries_[static_cast<size_t>(number)] = Entry{std::move(handler), blocking};
  }

  const Entry* find(int number) const {
    if (number < 1 || static_cast<size_t>(number) >= entries_.size()) return nullptr;
    const Entry& e = entries_[static_cast<size_t>(number)];
    return e.handler ? &e : nullptr;
  }
  ErrorDomain driverDomain() const { return driverDomain_; }

  // Connection-level rules applied before any handler (protocol.md 2.4):
  // calls before CONNECT_OPEN, read-only refusal, unknown procedures.
  // Returns the entry to run, or the error to answer with.
  Result<const Entry*> route(const ConnContext& ctx, int number) const;

 private:
  const protocol::ProcInfo* info(int number) const {
    if (number < 1 || static_cast<size_t>(number) >= procs_.size()) return nullptr;
    return &procs_[static_cast<size_t>(number)];
  }

  ErrorDomain driverDomain_;
  uint32_t number_;
  std::span<const protocol::ProcInfo> procs_;
  std::vector<Entry> entries_;
};

}  // namespace splitvirt::rpc
