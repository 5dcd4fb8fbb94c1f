// CRC-32 (IEEE), for detecting torn journal records.
#pragma once

#include <cstddef>
#include <cstdint>

namespace splitvirt {

uint32_t crc32(const void* data, size_t len, uint32_t crc = 0);

}  // namespace splitvirt
