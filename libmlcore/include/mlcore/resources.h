// Human-friendly resource quantities: parsing "cpu=8,memory=32Gi,gpu=2" and formatting them back.
#pragma once

#include <string>
#include <string_view>

#include "mlcore/status.h"
#include "mlcore/v1/common.pb.h"

namespace mlcore {

// Parses a comma-separated list of key=value pairs into Resources:
//   cpu=4 | cpu=0.5 | cpu=500m            (cores, or millicores with "m")
//   memory=32Gi | mem=512Mi | memory=1G   (Ki/Mi/Gi/Ti binary, K/M/G/T decimal, or bytes)
//   gpu=2 | gpu=2:a100                    (count, optionally with a model)
//   gpu-model=h100
// Errors: INVALID_ARGUMENT naming the offending pair and the accepted forms.
Result<v1::Resources> ParseResources(std::string_view text);

// "cpu=8 memory=32Gi gpu=2:a100"; "-" when every field is zero.
std::string FormatResources(const v1::Resources& resources);

// "32Gi", "1.5Gi", "512Mi", "100" (bytes) - the largest binary unit that keeps it readable.
std::string FormatBytes(int64_t bytes);

}  // namespace mlcore
