// CRC-32C (Castagnoli, the checksum of iSCSI, ext4 and S3's transfer checks): a transport check,
// not a content address. With SSE 4.2 (every x86-64 server of the last decade) it runs at several
// GB/s on one core, a fraction of SHA-256's cost, so a sender can check what a receiver got
// without hashing the bytes twice.
#pragma once

#include <cstdint>
#include <string_view>

namespace mlcore::util {

// The CRC-32C of `bytes` continued from `crc` (0 to start): Crc32c(Crc32c(0, a), b) equals
// Crc32c(0, a + b).
uint32_t Crc32c(uint32_t crc, std::string_view bytes);

}  // namespace mlcore::util
