#include "mlcore/credentials.h"

#include <map>
#include <sstream>
#include <sys/stat.h>

#include "util/fs.h"

namespace mlcore {
namespace {

using Tokens = std::map<std::string, std::string, std::less<>>;

Result<Tokens> ReadAll(const std::string& path) {
  Tokens out;
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return out;  // none yet
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", st.st_mode & 07777);
    return PermissionDeniedError("credentials file " + path + " is readable by others (mode " +
                                 mode + "); its tokens may have leaked: run `chmod 600 " + path +
                                 "` and consider revoking them (`mlc token revoke`)");
  }
  MLC_ASSIGN_OR_RETURN(std::string text, util::ReadFile(path));
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.find(' ');
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = line.substr(space + 1);
  }
  return out;
}

Status WriteAll(const std::string& path, const Tokens& tokens) {
  const auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    MLC_RETURN_IF_ERROR(util::EnsureDirectory(path.substr(0, slash), "credentials directory"));
  }
  std::string text = "# mlcore API tokens, one line per server: URI TOKEN (written by mlc login)\n";
  for (const auto& [target, token] : tokens) text += target + " " + token + "\n";
  return util::AtomicWriteFile(path, text, 0600);
}

}  // namespace

std::string CredentialsPath() {
  std::string explicit_path = util::GetEnv("MLC_CREDENTIALS");
  if (!explicit_path.empty()) return util::AbsolutePath(explicit_path);
  return util::GetEnv("XDG_CONFIG_HOME", util::HomeDir() + "/.config") + "/mlcore/credentials";
}

Result<std::string> LoadToken(std::string_view target) {
  MLC_ASSIGN_OR_RETURN(Tokens tokens, ReadAll(CredentialsPath()));
  auto it = tokens.find(target);
  return it == tokens.end() ? std::string() : it->second;
}

Status SaveToken(std::string_view target, std::string_view token) {
  if (target.find_first_of(" \n") != std::string_view::npos ||
      token.find_first_of(" \n") != std::string_view::npos || token.empty()) {
    return InvalidArgumentError("a server URI or token with spaces or newlines cannot be stored");
  }
  const std::string path = CredentialsPath();
  MLC_ASSIGN_OR_RETURN(Tokens tokens, ReadAll(path));
  tokens[std::string(target)] = std::string(token);
  return WriteAll(path, tokens);
}

Status ForgetToken(std::string_view target) {
  const std::string path = CredentialsPath();
  MLC_ASSIGN_OR_RETURN(Tokens tokens, ReadAll(path));
  auto it = tokens.find(target);
  if (it == tokens.end()) {
    return NotFoundError("no token is stored for " + std::string(target) + " in " + path);
  }
  tokens.erase(it);
  return WriteAll(path, tokens);
}

}  // namespace mlcore
