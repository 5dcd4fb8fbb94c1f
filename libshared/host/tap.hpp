// Tap devices for guest NICs of type bridge: created by the daemon, handed
// to QEMU as an fd, plugged into a host bridge. (Shared with the LXC driver.)
#pragma once

#include "util/error.hpp"

#include <array>
#include <cstdint>
#include <string>

namespace splitvirt::host {

struct Tap {
  int fd = -1;
  std::string name;
};

// Creates a tap named from `nameTemplate` ("vnet%d": the first free number)
// or exactly `name` when it has no %d. The device vanishes once every fd to
// it is closed (QEMU keeps its copy).
Result<Tap> createTap(const std::string& nameTemplate);
// libvirt gives the host side the guest MAC with the first byte 0xFE, so the
// bridge never picks the tap's address as its own.
Result<void> setTapMac(const std::string& ifname, const std::array<uint8_t, 6>& guestMac);
Result<void> setInterfaceUp(const std::string& ifname, bool up);
Result<void> setMtu(const std::string& ifname, int mtu);
Result<int> getMtu(const std::string& ifname);
Result<void> bridgeAddInterface(const std::string& bridge, const std::string& ifname);
bool interfaceExists(const std::string& ifname);

}  // namespace splitvirt::host
