#include "tracking/spool.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "util/fs.h"

namespace mlcore::tracking {
namespace {

uint32_t Crc(const std::string& bytes) {
  return static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

Result<std::unique_ptr<SpoolWriter>> SpoolWriter::Open(const std::string& dir,
                                                       const std::string& run_id) {
  MLC_RETURN_IF_ERROR(util::EnsureDirectory(dir, "spool directory"));
  const std::string path = dir + "/" + run_id + ".spool";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return util::FromErrno(errno, "cannot open spool file " + path);
  return std::unique_ptr<SpoolWriter>(new SpoolWriter(fd, path));
}

SpoolWriter::~SpoolWriter() { ::close(fd_); }

Status SpoolWriter::Append(const v1::SpoolRecord& record) {
  const std::string payload = record.SerializeAsString();
  std::string frame;
  frame.reserve(payload.size() + 8);
  PutU32(&frame, static_cast<uint32_t>(payload.size()));
  PutU32(&frame, Crc(payload));
  frame += payload;
  size_t done = 0;
  while (done < frame.size()) {
    const ssize_t n = ::write(fd_, frame.data() + done, frame.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return util::FromErrno(errno, "cannot write spool file " + path_);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd_) != 0) return util::FromErrno(errno, "cannot sync spool file " + path_);
  return Status::Ok();
}

Result<SpoolContents> ReadSpool(const std::string& path) {
  MLC_ASSIGN_OR_RETURN(std::string data, util::ReadFile(path));
  SpoolContents out;
  size_t at = 0;
  while (at < data.size()) {
    if (data.size() - at < 8) {
      out.torn_tail = true;
      break;
    }
    const uint32_t len = GetU32(data.data() + at);
    const uint32_t crc = GetU32(data.data() + at + 4);
    if (data.size() - at - 8 < len) {
      out.torn_tail = true;
      break;
    }
    std::string payload = data.substr(at + 8, len);
    v1::SpoolRecord record;
    if (Crc(payload) != crc || !record.ParseFromString(payload)) {
      out.torn_tail = true;
      break;
    }
    out.records.push_back(std::move(record));
    at += 8 + len;
  }
  return out;
}

std::vector<std::string> ListSpoolFiles(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".spool") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace mlcore::tracking
