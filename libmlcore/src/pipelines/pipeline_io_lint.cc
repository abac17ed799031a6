// Checks of declared inputs and outputs (IoSpec) and the type names messages use.
#include <algorithm>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/validation.h"
#include "pipelines/pipeline_internal.h"

namespace mlcore::pipelines {
namespace {

using nlohmann::json;

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

// Input and output names: [a-z][a-z0-9_]*, at most 63.
bool IsIoName(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameLength || s.front() < 'a' || s.front() > 'z') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::string ExampleOf(v1::ParameterType t) {
  switch (t) {
    case v1::PARAMETER_TYPE_INT:
      return "42";
    case v1::PARAMETER_TYPE_DOUBLE:
      return "0.5";
    case v1::PARAMETER_TYPE_BOOL:
      return "true";
    case v1::PARAMETER_TYPE_LIST:
      return "'[1, 2, 3]'";
    case v1::PARAMETER_TYPE_STRUCT:
      return "'{\"k\": 1}'";
    default:
      return "'\"text\"'";
  }
}

void CheckDefault(const v1::IoSpec& io, const std::string& p, const std::string& loc,
                  const std::string& label, ProblemList* out) {
  const std::string& text = io.default_value();
  const std::string dp = p + ".default_value", dl = loc + ".default_value";
  switch (io.type()) {
    case v1::IO_TYPE_PARAMETER: {
      if (io.parameter_type() == v1::PARAMETER_TYPE_UNSPECIFIED ||
          io.parameter_type() == v1::PARAMETER_TYPE_STRING) {
        return;  // any text is a string; a JSON string literal is unquoted when used
      }
      json value = json::parse(text, nullptr, false);
      const std::string type = ParameterTypeName(io.parameter_type());
      bool ok = !value.is_discarded();
      if (ok) {
        switch (io.parameter_type()) {
          case v1::PARAMETER_TYPE_INT:
            ok = value.is_number_integer();
            break;
          case v1::PARAMETER_TYPE_DOUBLE:
            ok = value.is_number();
            break;
          case v1::PARAMETER_TYPE_BOOL:
            ok = value.is_boolean();
            break;
          case v1::PARAMETER_TYPE_LIST:
            ok = value.is_array();
            break;
          case v1::PARAMETER_TYPE_STRUCT:
            ok = value.is_object();
            break;
          default:
            break;
        }
      }
      if (!ok) {
        out->Error("invalid_default", dp, dl,
                   label + " is " + type + " but its default " + Quote(text) + " is not " +
                       (type == "list" || type == "int" ? "an " : "a ") + type,
                   "write a JSON " + type + ", e.g. " + ExampleOf(io.parameter_type()));
      }
      return;
    }
    case v1::IO_TYPE_ARTIFACT:
      if (!text.starts_with("artifact://")) {
        out->Error(
            "invalid_default", dp, dl,
            label + " is an artifact; its default " + Quote(text) + " is not an artifact URI",
            "write artifact://ID (see `mlc artifact ls`)");
      }
      return;
    case v1::IO_TYPE_DATASET:
      if (text.find("://") == std::string::npos && !text.starts_with("models:/")) {
        out->Error("invalid_default", dp, dl,
                   label + " is a dataset; its default " + Quote(text) + " has no URI scheme",
                   "write file:///data/train, https://..., artifact://ID or models:/NAME@ALIAS");
      }
      return;
    case v1::IO_TYPE_METRICS:
      out->Error("invalid_default", dp, dl, label + " is metrics, which take no default",
                 "remove default_value, or feed it by an edge");
      return;
    default:
      return;
  }
}

}  // namespace

void CheckIoSpecs(const google::protobuf::RepeatedPtrField<v1::IoSpec>& ios,
                  const std::string& path, const std::string& locator, const std::string& owner,
                  bool inputs, ProblemList* out) {
  const char* what = inputs ? "input" : "output";
  std::set<std::string> seen;
  for (int i = 0; i < ios.size(); ++i) {
    const v1::IoSpec& io = ios.Get(i);
    const std::string loc = locator + "[" + std::to_string(i) + "]";
    const std::string p = io.name().empty() ? loc : path + "." + io.name();
    const std::string label =
        owner + " " + what + " " + (io.name().empty() ? std::to_string(i + 1) : Quote(io.name()));
    if (io.name().empty()) {
      out->Error("invalid_name", p, loc + ".name", label + " has no name",
                 "add name: (lowercase letters, digits and '_')");
    } else if (!IsIoName(io.name())) {
      out->Error("invalid_name", p, loc + ".name",
                 owner + " has an invalid " + what + " name " + Quote(io.name()),
                 "use lowercase letters, digits and '_', starting with a letter (it becomes "
                 "MLC_INPUT_" +
                     std::string("NAME") + " in the step's environment)");
    } else if (!seen.insert(io.name()).second) {
      out->Error("duplicate_name", p, loc + ".name",
                 owner + " declares " + what + " " + Quote(io.name()) + " twice",
                 "rename or remove one of the two");
    }
    if (io.type() == v1::IO_TYPE_UNSPECIFIED) {
      out->Error("missing_type", p, loc, label + " has no type",
                 "add type: parameter, artifact, dataset or metrics");
      continue;
    }
    if (io.type() != v1::IO_TYPE_PARAMETER && io.parameter_type() != 0) {
      out->Warning("ignored_field", p + ".parameter_type", loc + ".parameter_type",
                   label + " is not a parameter, so its parameter_type is ignored", "remove it");
    }
    if (!io.default_value().empty()) {
      if (!inputs) {
        out->Warning("ignored_field", p + ".default_value", loc + ".default_value",
                     label + " is an output; default_value only applies to inputs", "remove it");
      } else {
        CheckDefault(io, p, loc, label, out);
      }
    }
  }
}

std::string ParameterTypeName(v1::ParameterType type) {
  switch (type) {
    case v1::PARAMETER_TYPE_INT:
      return "int";
    case v1::PARAMETER_TYPE_DOUBLE:
      return "double";
    case v1::PARAMETER_TYPE_BOOL:
      return "bool";
    case v1::PARAMETER_TYPE_LIST:
      return "list";
    case v1::PARAMETER_TYPE_STRUCT:
      return "struct";
    default:
      return "string";
  }
}

v1::ParameterType EffectiveType(v1::ParameterType type) {
  return type == v1::PARAMETER_TYPE_UNSPECIFIED ? v1::PARAMETER_TYPE_STRING : type;
}

std::string IoTypeText(const v1::IoSpec& io, bool bare) {
  switch (io.type()) {
    case v1::IO_TYPE_PARAMETER: {
      std::string t = ParameterTypeName(io.parameter_type());
      return bare ? t : (t == "int" ? "an int parameter" : "a " + t + " parameter");
    }
    case v1::IO_TYPE_ARTIFACT:
      return bare ? "artifact" : "an artifact";
    case v1::IO_TYPE_DATASET:
      return bare ? "dataset" : "a dataset";
    case v1::IO_TYPE_METRICS:
      return "metrics";
    default:
      return "untyped";
  }
}

void ProblemList::Add(v1::LintSeverity severity, std::string_view code, const std::string& path,
                      std::string locator, std::string message, std::string suggestion) {
  LocatedProblem lp;
  lp.problem = MakeLintProblem(code, path, std::move(message), std::move(suggestion), severity);
  lp.locator = std::move(locator);
  problems.push_back(std::move(lp));
}

}  // namespace mlcore::pipelines
