// A typed procedure declaration: the number ties it to its row in the
// procedure table, Args/Ret are the described wire structs.
#pragma once

#include "protocol/proc_table.hpp"

namespace splitvirt::protocol {

template <class A, class R>
struct Proc {
  using Args = A;
  using Ret = R;
  int number;
  // Blocking procedures (disk I/O, fsync, process spawn) run on the blocking
  // pool; the rest are answered inline on the session's I/O thread.
  bool blocking = false;
  const ProcInfo& info() const { return kRemoteProcs[static_cast<size_t>(number)]; }
};

}  // namespace splitvirt::protocol
