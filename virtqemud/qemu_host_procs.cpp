// Host-level procedures of virtqemud: type, versions, host facts, capabilities.
#include "caps/qemu_caps.hpp"
#include "host/hostinfo.hpp"
#include "protocol/connect_procs.hpp"
#include "qemu_driver.hpp"

#include <strings.h>
#include <unistd.h>

namespace splitvirt::qemu {

using namespace protocol;
using rpc::ConnContext;

void QemuDriver::bindHost(rpc::Program& p) {
  constexpr ErrorDomain d = ErrorDomain::Qemu;

  p.bind(kConnectGetType, [](ConnContext&, Void&&) -> Result<StringRet> { return StringRet{"QEMU"}; });

  p.bind(kConnectGetVersion, [](ConnContext&, Void&&) -> Result<UHyperRet> {
    auto info = probeQemuBinary(kDefaultEmulator);
    if (!info) return info.error();
    return UHyperRet{info->version};
  });

  p.bind(kConnectGetHostname, [](ConnContext&, Void&&) -> Result<StringRet> { return StringRet{host::hostname()}; });

  p.bind(kConnectGetCapabilities, [](ConnContext&, Void&&) -> Result<StringRet> {
    auto xml = buildCapabilitiesXml(kDefaultEmulator);
    if (!xml) return xml.error();
    return StringRet{std::move(*xml)};
  });

  p.bind(kNodeGetInfo, [](ConnContext&, Void&&) -> Result<NodeGetInfoRet> {
    host::NodeInfo n = host::readNodeInfo();
    NodeGetInfoRet r;
    r.model.chars = n.model;
    r.memory = n.memoryKiB;
    r.cpus = n.cpus;
    r.mhz = n.mhz;
    r.nodes = n.nodes;
    r.sockets = n.sockets;
    r.cores = n.cores;
    r.threads = n.threads;
    return r;
  });

  // qemuConnectGetMaxVcpus: TCG guests are capped at 16 unless KVM says more.
  p.bind(kConnectGetMaxVcpus, [d](ConnContext&, OptStringArg&& a) -> Result<IntRet> {
    if (!a.value || strcasecmp(a.value->c_str(), "qemu") == 0) return IntRet{16};
    if (strcasecmp(a.value->c_str(), "kvm") == 0) {
      if (::access("/dev/kvm", R_OK | W_OK) != 0)
        return Error::systemError(d, errno, "Unable to open /dev/kvm");
      return IntRet{host::kvmMaxVcpus()};
    }
    return Error::invalidArg(d, "unknown type '" + *a.value + "'");
  });

  p.bind(kNodeGetFreeMemory, [](ConnContext&, Void&&) -> Result<UHyperRet> {
    return UHyperRet{host::freeMemoryBytes()};
  });

  p.bind(kNodeGetCellsFreeMemory, [d](ConnContext&, NodeGetCellsFreeMemoryArgs&& a) -> Result<NodeGetCellsFreeMemoryRet> {
    int cells = std::max(1, host::readNodeInfo().nodes);
    if (a.startCell < 0 || a.startCell >= cells || a.maxcells <= 0)
      return Error::invalidArg(d, "start cell " + std::to_string(a.startCell) + " out of range (0-" +
                                      std::to_string(cells - 1) + ")");
    if (static_cast<uint32_t>(a.maxcells) > kNodeMaxCells)
      return Error::rpc(ErrorDomain::Rpc, "maxCells > REMOTE_NODE_MAX_CELLS");
    NodeGetCellsFreeMemoryRet r;
    for (uint64_t v : host::cellsFreeMemory(a.startCell, a.maxcells)) r.cells.push_back(v);
    return r;
  });

  p.bind(kNodeGetCpuMap, [](ConnContext&, NodeGetCpuMapArgs&& a) -> Result<NodeGetCpuMapRet> {
    int n = host::hostCpuCount();
    NodeGetCpuMapRet r;
    r.ret = n;
    if (a.need_map) {
      r.cpumap.bytes.assign(static_cast<size_t>((n + 7) / 8), '\0');
      for (int i = 0; i < n; ++i) r.cpumap.bytes[static_cast<size_t>(i / 8)] |= static_cast<char>(1 << (i % 8));
    }
    if (a.need_online) r.online = static_cast<uint32_t>(n);
    return r;
  });

  // libvirt's "none" security driver, as the reference reports it; the
  // char arrays carry their trailing NUL (protocol.md 1.7).
  p.bind(kNodeGetSecurityModel, [](ConnContext&, Void&&) -> Result<NodeGetSecurityModelRet> {
    NodeGetSecurityModelRet r;
    r.model.chars = std::string("none", 5);
    r.doi.chars = std::string("0", 2);
    return r;
  });
}

}  // namespace splitvirt::qemu
