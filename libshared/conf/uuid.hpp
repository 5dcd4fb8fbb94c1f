// 16-byte UUIDs as libvirt handles them (virUUIDParse/virUUIDFormat/virUUIDGenerate).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace splitvirt::conf {

using Uuid = std::array<uint8_t, 16>;

// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lower-case.
std::string formatUuid(const Uuid& uuid);

// libvirt's liberal scan: surrounding whitespace, and '-' or ' ' between
// byte pairs, are allowed as long as there are exactly 32 hex digits.
std::optional<Uuid> parseUuid(std::string_view s);

// RFC 4122 version 4 (random) UUID from /dev/urandom.
Uuid generateUuid();

// Fills `buf` from /dev/urandom (falls back to getrandom-less std::random_device).
void randomBytes(uint8_t* buf, size_t len);

}  // namespace splitvirt::conf
