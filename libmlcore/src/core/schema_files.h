// Keeps every generated schema file linked (see proto/schema_files.cc.in).
#pragma once

namespace mlcore {

// Forces all proto/mlcore/v1 files into the link; returns how many there are.
int EnsureSchemaLinked();

}  // namespace mlcore
