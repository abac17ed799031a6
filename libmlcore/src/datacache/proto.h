// Conversions of the data cache's structs to the messages of proto/mlcore/v1/data.proto.
#pragma once

#include "datacache/data_cache.h"
#include "mlcore/v1/data.pb.h"

namespace mlcore::datacache {

v1::LoadResponse ToProto(const LoadResult& result);
v1::CacheEntry ToProto(const Entry& entry);
v1::CacheStats ToProto(const Stats& stats);
v1::EvictResponse ToProto(const EvictResult& result);

}  // namespace mlcore::datacache
