#include "core/validation.h"

#include <cctype>
#include <string>

#include "mlcore/v1/projects.pb.h"

namespace mlcore {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

Status CheckResources(std::string_view project, std::string_view which, const v1::Resources& r) {
  if (r.cpu_millis() < 0 || r.memory_bytes() < 0 || r.gpu() < 0) {
    return InvalidArgumentError("project " + Quote(project) + ": " + std::string(which) +
                                " quota has a negative amount; amounts must be >= 0");
  }
  return Status::Ok();
}

}  // namespace

bool IsEnvName(std::string_view name) {
  if (name.empty() || !(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) {
    return false;
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

Status ValidateName(std::string_view kind, std::string_view name) {
  const std::string rule =
      " names are 1-63 characters of lowercase letters, digits and '-', "
      "starting and ending with a letter or digit (e.g. \"ml-research\")";
  if (name.empty()) return InvalidArgumentError(std::string(kind) + " name is empty;" + rule);
  if (name.size() > kMaxNameLength) {
    return InvalidArgumentError(std::string(kind) + " name " + Quote(name.substr(0, 20)) +
                                "... is " + std::to_string(name.size()) + " characters long;" +
                                rule);
  }
  bool ok = IsLowerAlnum(name.front()) && IsLowerAlnum(name.back());
  for (char c : name) ok = ok && (IsLowerAlnum(c) || c == '-');
  if (!ok) {
    return InvalidArgumentError("invalid " + std::string(kind) + " name " + Quote(name) + ";" +
                                rule);
  }
  return Status::Ok();
}

Status ValidateContextName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= kMaxNameLength;
  for (char c : name) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
  }
  if (!ok) {
    return InvalidArgumentError("invalid context name " + Quote(name) +
                                "; use 1-63 letters, digits, '-', '_' or '.'");
  }
  return Status::Ok();
}

Status ValidateNewProject(const v1::Project& project) {
  MLC_RETURN_IF_ERROR(ValidateProjectName(project.name()));
  if (!project.parent().empty()) {
    MLC_RETURN_IF_ERROR(ValidateName("parent project", project.parent()));
    if (project.parent() == project.name()) {
      return InvalidArgumentError("project " + Quote(project.name()) + " cannot be its own parent");
    }
  }
  MLC_RETURN_IF_ERROR(CheckResources(project.name(), "guaranteed", project.guaranteed()));
  MLC_RETURN_IF_ERROR(CheckResources(project.name(), "limit", project.limit()));
  const auto& g = project.guaranteed();
  const auto& l = project.limit();
  auto above = [](int64_t guaranteed, int64_t limit) { return limit > 0 && guaranteed > limit; };
  if (above(g.cpu_millis(), l.cpu_millis()) || above(g.memory_bytes(), l.memory_bytes()) ||
      above(g.gpu(), l.gpu())) {
    return InvalidArgumentError("project " + Quote(project.name()) +
                                ": the guaranteed quota exceeds the limit quota; a guarantee must "
                                "fit under the limit");
  }
  return Status::Ok();
}

Result<int> ResolvePageSize(int requested) {
  if (requested == 0) return kDefaultPageSize;
  if (requested < 0 || requested > kMaxPageSize) {
    return InvalidArgumentError("page size " + std::to_string(requested) +
                                " is out of range; use 1.." + std::to_string(kMaxPageSize) +
                                " (or 0 for the default of " + std::to_string(kDefaultPageSize) +
                                ")");
  }
  return requested;
}

}  // namespace mlcore
