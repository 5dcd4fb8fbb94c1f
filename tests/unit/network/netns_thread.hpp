// Running part of a test inside a fresh, empty network namespace.
//
// The namespace is the calling thread's own: unshare(CLONE_NEWNET) on a
// new thread moves only that thread (a network namespace is per thread),
// and every process it forks (nft, ip, dnsmasq) starts inside it. The rest
// of the test binary is untouched, and the namespace disappears when the
// thread and its children are gone. doctest assertions work from the
// thread. Needs root (CAP_SYS_ADMIN): callers skip otherwise.
#pragma once

#include <doctest/doctest.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <functional>
#include <sched.h>
#include <string>
#include <thread>
#include <unistd.h>

namespace splitvirt::test {

inline bool canUnshareNet() { return ::geteuid() == 0; }

// Runs `body` on a thread inside a new network namespace; returns false
// (after a failed CHECK) when the namespace could not be made. A REQUIRE
// that fails in `body` ends it and is rethrown here, on the test's thread.
inline bool runInNewNetns(const std::function<void()>& body) {
  bool ok = false;
  std::exception_ptr failure;
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      FAIL_CHECK("unshare(CLONE_NEWNET): " << std::strerror(errno));
      return;
    }
    ok = true;
    try {
      body();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  t.join();
  if (failure) std::rethrow_exception(failure);
  return ok;
}

}  // namespace splitvirt::test
