// Every REMOTE_PROGRAM procedure of libvirt 9.0, as data: number, name,
// public API name, owning family, read-only refusal. Typed argument/return
// declarations for the procedures we implement live in *_procs.hpp.
#pragma once

#include <array>
#include <string_view>

namespace splitvirt::protocol {

// Which daemon family serves a procedure (virtproxyd routes by it).
enum class Family { Connect, Domain, Network, Storage, NodeDev, Secret, NWFilter, Interface };

struct ProcInfo {
  int number;
  std::string_view name;  // REMOTE_PROC_ suffix, e.g. "DOMAIN_DEFINE_XML"
  std::string_view api;   // public API, e.g. "virDomainDefineXML"
  Family family;
  bool deniedReadOnly;    // refused on read-only connections (OPERATION_DENIED)
  bool isEvent;           // a server->client MESSAGE, never a call
  bool opensStream;       // data follows the reply as STREAM packets
  bool isEventRegistration;  // (de)registers an event callback
};

inline constexpr int kRemoteProcMax = 443;
extern const std::array<ProcInfo, kRemoteProcMax + 1> kRemoteProcs;

inline const ProcInfo* findRemoteProc(int number) {
  if (number < 1 || number > kRemoteProcMax) return nullptr;
  return &kRemoteProcs[static_cast<size_t>(number)];
}

}  // namespace splitvirt::protocol
