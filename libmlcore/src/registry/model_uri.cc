#include "registry/model_uri.h"

#include <charconv>
#include <vector>

#include "core/validation.h"

namespace mlcore::registry {
namespace {

constexpr std::string_view kScheme = "models:";
constexpr std::string_view kForms =
    "; accepted forms: models:/NAME/VERSION, models:/NAME@ALIAS, models:/PROJECT/NAME/VERSION, "
    "models:/PROJECT/NAME@ALIAS (e.g. models:/resnet50/3, models:/resnet50@champion)";

bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

// A positive decimal number without sign or leading zeros; 0 when `s` is not one.
int64_t ParseVersionNumber(std::string_view s) {
  if (s.empty() || s.size() > 18 || s[0] == '0') return 0;
  for (char c : s) {
    if (!IsDigit(c)) return 0;
  }
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    parts.push_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) return parts;
    start = pos + 1;
  }
}

}  // namespace

Status ValidateModelName(std::string_view name) {
  const std::string rule =
      "; model names are 1-128 characters of letters, digits, '_', '-' and '.', starting with a "
      "letter (e.g. \"resnet50\", \"ranker.v2\")";
  if (name.empty()) return InvalidArgumentError("model name is empty" + rule);
  if (name.size() > 128) {
    return InvalidArgumentError("model name " + Quote(name.substr(0, 20)) + "... is " +
                                std::to_string(name.size()) + " characters long" + rule);
  }
  bool ok = IsAsciiLetter(name[0]);
  for (char c : name) {
    ok = ok && (IsAsciiLetter(c) || IsDigit(c) || c == '_' || c == '-' || c == '.');
  }
  if (!ok) return InvalidArgumentError("invalid model name " + Quote(name) + rule);
  return Status::Ok();
}

Status ValidateAliasName(std::string_view alias) {
  const std::string rule =
      "; aliases are 1-63 characters of lowercase letters, digits, '_' and '-', starting with a "
      "letter (e.g. \"champion\")";
  if (alias.empty()) return InvalidArgumentError("alias is empty" + rule);
  if (alias.size() > 63) {
    return InvalidArgumentError("alias " + Quote(alias.substr(0, 20)) + "... is " +
                                std::to_string(alias.size()) + " characters long" + rule);
  }
  bool ok = alias[0] >= 'a' && alias[0] <= 'z';
  for (char c : alias) ok = ok && ((c >= 'a' && c <= 'z') || IsDigit(c) || c == '_' || c == '-');
  if (!ok) return InvalidArgumentError("invalid alias " + Quote(alias) + rule);
  return Status::Ok();
}

std::string ModelUri::ToString() const {
  std::string out = "models:/";
  if (!project.empty()) out += project + "/";
  out += model;
  out += alias.empty() ? "/" + std::to_string(version) : "@" + alias;
  return out;
}

bool IsModelUri(std::string_view uri) { return uri.substr(0, kScheme.size()) == kScheme; }

Result<ModelUri> ParseModelUri(std::string_view uri) {
  auto bad = [&](const std::string& why) {
    return InvalidArgumentError("model URI " + Quote(uri) + ": " + why + std::string(kForms));
  };
  if (!IsModelUri(uri)) return bad("not a models:/ URI");
  std::string_view rest = uri.substr(kScheme.size());
  if (rest.substr(0, 1) != "/" || rest.substr(0, 2) == "//") {
    return bad("the scheme is followed by exactly one '/'");
  }
  rest.remove_prefix(1);
  std::vector<std::string_view> parts = Split(rest, '/');
  ModelUri out;
  std::string_view last = parts.back();
  std::string_view name_part;
  if (auto at = last.find('@'); at != std::string_view::npos) {
    if (parts.size() > 2) return bad("too many '/' before the alias");
    if (parts.size() == 2) out.project = std::string(parts[0]);
    name_part = last.substr(0, at);
    out.alias = std::string(last.substr(at + 1));
    if (out.alias.find('@') != std::string::npos) return bad("more than one '@'");
  } else {
    if (parts.size() < 2) return bad("no version or alias");
    if (parts.size() > 3) return bad("too many '/'");
    if (parts.size() == 3) out.project = std::string(parts[0]);
    name_part = parts[parts.size() - 2];
    out.version = ParseVersionNumber(last);
    if (out.version == 0) {
      return bad("version " + Quote(last) + " is not a positive integer");
    }
  }
  for (std::string_view part : parts) {
    if (part.find('@') != std::string_view::npos && part != last) return bad("misplaced '@'");
  }
  out.model = std::string(name_part);
  if (!out.project.empty()) {
    if (Status s = ValidateProjectName(out.project); !s.ok()) return bad(s.message());
  }
  if (Status s = ValidateModelName(out.model); !s.ok()) return bad(s.message());
  if (!out.alias.empty() || out.version == 0) {
    if (Status s = ValidateAliasName(out.alias); !s.ok()) return bad(s.message());
  }
  return out;
}

std::string VersionRefId(std::string_view model, int64_t version) {
  return std::string(model) + "/" + std::to_string(version);
}

Status ParseVersionRefId(std::string_view id, std::string* model, int64_t* version) {
  auto slash = id.rfind('/');
  int64_t v = slash == std::string_view::npos ? 0 : ParseVersionNumber(id.substr(slash + 1));
  if (v == 0) {
    return InvalidArgumentError("model version reference " + Quote(id) +
                                " must look like \"MODEL/VERSION\" (e.g. \"resnet50/3\")");
  }
  MLC_RETURN_IF_ERROR(ValidateModelName(id.substr(0, slash)));
  *model = std::string(id.substr(0, slash));
  *version = v;
  return Status::Ok();
}

}  // namespace mlcore::registry
