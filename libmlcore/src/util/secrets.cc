#include "util/secrets.h"

#include <cerrno>
#include <sys/stat.h>

#include "util/fs.h"

namespace mlcore::util {

std::map<std::string, std::string> ParseSecretsFile(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    std::string line =
        text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    start = end == std::string::npos ? text.size() : end + 1;
    if (line.empty() || line[0] == '#') continue;
    size_t sep = line.find_first_of("=:");
    if (sep == std::string::npos) continue;
    std::string key = line.substr(0, sep);
    std::string value = line.substr(sep + 1);
    auto trim = [](std::string& s) {
      while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.pop_back();
      while (!s.empty() && s.front() == ' ') s.erase(0, 1);
      if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) {
        s = s.substr(1, s.size() - 2);
      }
    };
    trim(key);
    trim(value);
    if (key.rfind("export ", 0) == 0) key = key.substr(7);
    out[key] = value;
  }
  return out;
}

Result<std::string> ReadSecretFromFile(const std::string& name, const std::string& path,
                                       const std::string& key) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    return FromErrno(errno, "secret " + name + ": cannot read " + path);
  }
  if ((st.st_mode & 077) != 0) {
    return FailedPreconditionError("secret " + name + ": " + path +
                                   " is readable by others; run `chmod 600 " + path + "`");
  }
  MLC_ASSIGN_OR_RETURN(auto text, ReadFile(path));
  auto entries = ParseSecretsFile(text);
  auto it = entries.find(key);
  if (it == entries.end()) {
    return NotFoundError("secret " + name + ": key " + key + " is not in " + path);
  }
  return it->second;
}

}  // namespace mlcore::util
