// MAC addresses as libvirt parses and prints them (virmacaddr.c subset).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace splitvirt::conf {

using MacAddr = std::array<uint8_t, 6>;

std::string formatMac(const MacAddr&);               // lower-case "52:54:00:0a:0b:0c"
std::optional<MacAddr> parseMac(std::string_view);  // virMacAddrParse
MacAddr generateMac();                              // 52:54:00:xx:xx:xx

}  // namespace splitvirt::conf
