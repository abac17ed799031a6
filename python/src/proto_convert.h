// Generic conversion between protobuf messages and Python objects, by reflection, so no entity is
// declared twice: messages become dicts keyed by the .proto field names (snake_case), int64 stays
// int, enums become their names, Timestamp becomes an aware datetime (UTC), Duration a timedelta,
// bytes stay bytes, maps become dicts and repeated fields lists.
#pragma once

#include <string>

#include <pybind11/pybind11.h>

namespace google::protobuf {
class Message;
}

namespace mlcore::python {

// Converts a message into a dict. Fields at their default value are omitted, except in maps and
// lists.
pybind11::dict ToPython(const google::protobuf::Message& message);

// Fills `message` from a mapping. Accepts snake_case or lowerCamelCase keys; enums by name or
// number; Timestamp from datetime, RFC 3339 text or Unix seconds; Duration from timedelta,
// seconds or "1.5s". Returns an empty string on success, otherwise a message naming the field path
// and the problem (the caller raises InvalidArgumentError with it).
std::string FromPython(const pybind11::handle& value, google::protobuf::Message* message);

}  // namespace mlcore::python
