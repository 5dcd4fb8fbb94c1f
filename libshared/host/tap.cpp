#include "host/tap.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace splitvirt::host {

namespace {

constexpr ErrorDomain kErr = ErrorDomain::None;

// A throwaway socket for interface ioctls.
struct CtlSocket {
  int fd = ::socket(AF_LOCAL, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ~CtlSocket() {
    if (fd >= 0) ::close(fd);
  }
};

Result<ifreq> ifreqFor(const std::string& ifname) {
  ifreq r{};
  if (ifname.size() >= IFNAMSIZ) return Error::internal(kErr, "Network interface name '" + ifname + "' is too long");
  std::memcpy(r.ifr_name, ifname.c_str(), ifname.size() + 1);
  return r;
}

// SIOCGIFINDEX: <net/if.h> (if_nametoindex) clashes with <linux/if.h>.
unsigned ifIndex(const std::string& ifname) {
  CtlSocket s;
  auto r = ifreqFor(ifname);
  if (!r || ::ioctl(s.fd, SIOCGIFINDEX, &*r) < 0) return 0;
  return static_cast<unsigned>(r->ifr_ifindex);
}

}  // namespace

Result<Tap> createTap(const std::string& nameTemplate) {
  bool numbered = nameTemplate.find("%d") != std::string::npos;
  for (int i = 0; i < (numbered ? 4096 : 1); ++i) {
    std::string name = nameTemplate;
    if (numbered) name.replace(name.find("%d"), 2, std::to_string(i));
    if (numbered && interfaceExists(name)) continue;
    int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) return Error::systemError(kErr, errno, "Unable to open /dev/net/tun, is tun module loaded?");
    auto r = ifreqFor(name);
    if (!r) {
      ::close(fd);
      return r.error();
    }
    r->ifr_flags = IFF_TAP | IFF_NO_PI;
    if (::ioctl(fd, TUNSETIFF, &*r) < 0) {
      int e = errno;
      ::close(fd);
      if (numbered && e == EBUSY) continue;  // raced with another creator
      return Error::systemError(kErr, e, "Unable to create tap device " + name);
    }
    return Tap{fd, r->ifr_name};
  }
  return Error::internal(kErr, "no free tap device name for '" + nameTemplate + "'");
}

Result<void> setTapMac(const std::string& ifname, const std::array<uint8_t, 6>& guestMac) {
  CtlSocket s;
  auto r = ifreqFor(ifname);
  if (!r) return r.error();
  r->ifr_hwaddr.sa_family = ARPHRD_ETHER;
  std::memcpy(r->ifr_hwaddr.sa_data, guestMac.data(), 6);
  r->ifr_hwaddr.sa_data[0] = static_cast<char>(0xfe);
  if (::ioctl(s.fd, SIOCSIFHWADDR, &*r) < 0)
    return Error::systemError(kErr, errno, "Cannot set interface MAC on '" + ifname + "'");
  return {};
}

Result<void> setInterfaceUp(const std::string& ifname, bool up) {
  CtlSocket s;
  auto r = ifreqFor(ifname);
  if (!r) return r.error();
  if (::ioctl(s.fd, SIOCGIFFLAGS, &*r) < 0)
    return Error::systemError(kErr, errno, "Cannot get interface flags on '" + ifname + "'");
  if (up)
    r->ifr_flags |= IFF_UP;
  else
    r->ifr_flags &= ~IFF_UP;
  if (::ioctl(s.fd, SIOCSIFFLAGS, &*r) < 0)
    return Error::systemError(kErr, errno, "Cannot set interface flags on '" + ifname + "'");
  return {};
}

Result<int> getMtu(const std::string& ifname) {
  CtlSocket s;
  auto r = ifreqFor(ifname);
  if (!r) return r.error();
  if (::ioctl(s.fd, SIOCGIFMTU, &*r) < 0)
    return Error::systemError(kErr, errno, "Cannot get interface MTU on '" + ifname + "'");
  return r->ifr_mtu;
}

Result<void> setMtu(const std::string& ifname, int mtu) {
  CtlSocket s;
  auto r = ifreqFor(ifname);
  if (!r) return r.error();
  r->ifr_mtu = mtu;
  if (::ioctl(s.fd, SIOCSIFMTU, &*r) < 0)
    return Error::systemError(kErr, errno, "Cannot set interface MTU on '" + ifname + "'");
  return {};
}

Result<void> bridgeAddInterface(const std::string& bridge, const std::string& ifname) {
  CtlSocket s;
  auto r = ifreqFor(bridge);
  if (!r) return r.error();
  unsigned idx = ifIndex(ifname);
  if (!idx) return Error::systemError(kErr, errno, "Unable to get index for interface " + ifname);
  r->ifr_ifindex = static_cast<int>(idx);
  if (::ioctl(s.fd, SIOCBRADDIF, &*r) < 0)
    return Error::systemError(kErr, errno, "Unable to add bridge " + bridge + " port " + ifname);
  return {};
}

bool interfaceExists(const std::string& ifname) { return ifIndex(ifname) != 0; }

}  // namespace splitvirt::host
