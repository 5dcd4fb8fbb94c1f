// Shared wire structs of the REMOTE program: object handles and remote_error,
// field order exactly as protocol.md 2.1 and 4.1.
#pragma once

#include "xdr/types.hpp"

#include <boost/describe/class.hpp>

#include <optional>
#include <string>

namespace splitvirt::protocol {

using xdr::Array;
using xdr::Uuid;
using OptString = std::optional<std::string>;

inline constexpr uint32_t kDomainListMax = 16384;
inline constexpr uint32_t kAuthTypeListMax = 20;
inline constexpr uint32_t kCpumapMax = 2048;
inline constexpr uint32_t kCpumapsMax = 8388608;
inline constexpr uint32_t kVcpuinfoMax = 16384;
inline constexpr uint32_t kSecurityModelMax = 257;
inline constexpr uint32_t kSecurityLabelMax = 4097;
inline constexpr uint32_t kSecurityDoiMax = 257;
inline constexpr uint32_t kDomainMessagesMax = 2048;
inline constexpr uint32_t kIdentityParamsMax = 20;
inline constexpr uint32_t kMemoryStatsMax = 1024;
inline constexpr uint32_t kNodeMaxCells = 1024;
inline constexpr uint32_t kStoragePoolListMax = 16384;
inline constexpr uint32_t kStorageVolListMax = 16384;

struct NonnullDomain {
  std::string name;
  Uuid uuid{};
  int32_t id = -1;
};
BOOST_DESCRIBE_STRUCT(NonnullDomain, (), (name, uuid, id))

struct NonnullNetwork {
  std::string name;
  Uuid uuid{};
};
BOOST_DESCRIBE_STRUCT(NonnullNetwork, (), (name, uuid))

struct NonnullStoragePool {
  std::string name;
  Uuid uuid{};
};
BOOST_DESCRIBE_STRUCT(NonnullStoragePool, (), (name, uuid))

// pool = the pool's *name*; key = stable id (the path for dir pools).
struct NonnullStorageVol {
  std::string pool;
  std::string name;
  std::string key;
};
BOOST_DESCRIBE_STRUCT(NonnullStorageVol, (), (pool, name, key))

struct RemoteError {
  int32_t code = 0;
  int32_t domain = 0;
  OptString message;
  int32_t level = 2;
  std::optional<NonnullDomain> dom;
  OptString str1;
  OptString str2;
  OptString str3;
  int32_t int1 = -1;
  int32_t int2 = -1;
  std::optional<NonnullNetwork> net;
};
BOOST_DESCRIBE_STRUCT(RemoteError, (), (code, domain, message, level, dom, str1, str2, str3, int1, int2, net))

}  // namespace splitvirt::protocol
