#include "remote/grpc_upload.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "artifacts/io.h"
#include "artifacts/manifest.h"
#include "remote/grpc_status.h"
#include "util/crc32c.h"
#include "util/fs.h"
#include "util/ids.h"

namespace mlcore::remote {
namespace {

using artifacts::kChunkSize;

// Chunks the reading thread may hold ahead of the stream.
constexpr size_t kReadAhead = 4;

// A file's content in kChunkSize pieces, each flagged when it is the last (the file is read one
// chunk ahead, so the last one is known without an empty message after it), with the CRC-32C of
// what was read (the transfer check; cheap next to SHA-256). Files over one chunk are read on a
// thread of their own, up to kReadAhead chunks ahead of Next().
class ChunkSource {
 public:
  struct Chunk {
    std::string bytes;
    bool last = false;
  };

  ChunkSource(int fd, std::string what, bool threaded) : fd_(fd), what_(std::move(what)) {
    if (threaded) thread_ = std::thread([this] { Loop(); });
  }
  ~ChunkSource() {
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }
  ChunkSource(const ChunkSource&) = delete;
  ChunkSource& operator=(const ChunkSource&) = delete;

  // The next chunk, or the read error.
  Result<Chunk> Next() {
    if (!thread_.joinable()) return ReadOne();
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !queue_.empty(); });
    Result<Chunk> next = std::move(queue_.front());
    queue_.pop_front();
    cv_.notify_all();
    return next;
  }

  // Gives back a chunk's buffer once sent, so reading does not allocate and clear a new one.
  void Recycle(std::string buffer) {
    std::lock_guard lock(mu_);
    if (buffer.capacity() >= kChunkSize && spare_.size() < kReadAhead + 1) {
      spare_.push_back(std::move(buffer));
    }
  }

  // The CRC-32C of everything read; once the last chunk was returned.
  uint32_t Crc() const { return crc_; }
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  void Loop() {
    while (true) {
      Result<Chunk> chunk = ReadOne();
      const bool end = !chunk.ok() || chunk->last;
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return queue_.size() < kReadAhead || stopped_; });
      if (stopped_) return;
      queue_.push_back(std::move(chunk));
      cv_.notify_all();
      if (end) return;
    }
  }

  Result<std::string> Read() {
    std::string bytes;
    {
      std::lock_guard lock(mu_);
      if (!spare_.empty()) {
        bytes = std::move(spare_.back());
        spare_.pop_back();
      }
    }
    bytes.resize(kChunkSize);  // a recycled buffer already has this size: nothing is cleared
    MLC_ASSIGN_OR_RETURN(size_t n, artifacts::ReadFull(fd_, bytes.data(), bytes.size(), what_));
    bytes.resize(n);
    crc_ = util::Crc32c(crc_, bytes);
    bytes_read_ += n;
    return bytes;
  }

  // Only ever runs on one thread (the reader's, or Next()'s caller's when not threaded).
  Result<Chunk> ReadOne() {
    if (!ahead_) {
      MLC_ASSIGN_OR_RETURN(std::string first, Read());
      ahead_ = std::move(first);
    }
    Chunk chunk{std::move(*ahead_), false};
    ahead_.reset();
    if (chunk.bytes.size() < kChunkSize) {
      chunk.last = true;
      return chunk;
    }
    MLC_ASSIGN_OR_RETURN(std::string next, Read());
    if (next.empty()) {
      chunk.last = true;
    } else {
      ahead_ = std::move(next);
    }
    return chunk;
  }

  const int fd_;
  const std::string what_;
  uint32_t crc_ = 0;
  std::optional<std::string> ahead_;
  std::atomic<uint64_t> bytes_read_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Result<Chunk>> queue_;
  std::vector<std::string> spare_;
  bool stopped_ = false;
  std::thread thread_;  // last: started once the rest is initialised
};

bool SameContentStat(const struct stat& a, const struct stat& b) {
  return a.st_size == b.st_size && artifacts::MtimeNs(a) == artifacts::MtimeNs(b) &&
         artifacts::CtimeNs(a) == artifacts::CtimeNs(b);
}

// A file of the tree and its manifest entry.
struct Item {
  artifacts::TreeFile file;
  v1::ManifestEntry* entry = nullptr;
  bool cached = false;  // digest from the digest cache
};

class TreeUpload {
 public:
  TreeUpload(const UploadChannel& channel, std::string project,
             const artifacts::ProgressFn& progress, artifacts::DigestCache& cache,
             UploadStats* stats)
      : channel_(channel),
        project_(std::move(project)),
        progress_(progress),
        cache_(cache),
        stats_(*stats) {}

  Result<v1::Manifest> Run(const std::string& local_path) {
    Result<v1::Manifest> result = RunInner(local_path);
    cache_.Record(stamps_, stamp_paths_).IgnoreError();  // only an optimisation
    return result;
  }

 private:
  Result<v1::Manifest> RunInner(const std::string& local_path) {
    MLC_RETURN_IF_ERROR(List(local_path));
    std::vector<Item*> speculative;
    for (Item& item : items_) {
      if (auto digest = cache_.Lookup(item.file.st)) {
        item.entry->set_digest(*digest);
        item.cached = true;
        ++stats_.files_cached;
      } else if (static_cast<uint64_t>(item.file.st.st_size) < kSpeculativeMinBytes) {
        MLC_RETURN_IF_ERROR(HashFirst(item));
      } else {
        speculative.push_back(&item);
      }
    }
    MLC_ASSIGN_OR_RETURN(auto missing, FindMissing());
    for (const auto& [digest, holders] : missing) total_ += holders.front()->file.st.st_size;
    for (const Item* item : speculative) total_ += item->file.st.st_size;

    for (const auto& [digest, holders] : missing) MLC_RETURN_IF_ERROR(SendKnown(holders));
    for (Item* item : speculative) MLC_RETURN_IF_ERROR(SendSpeculative(*item));
    if (progress_ && !progress_(total_, total_)) return CancelledError("upload cancelled");

    v1::PutManifestRequest put;
    put.set_project(project_);
    *put.mutable_entries() = manifest_.entries();
    grpc::ClientContext ctx;
    channel_.prepare(&ctx, true);
    v1::Manifest stored;
    grpc::Status status = channel_.stub->PutManifest(&ctx, put, &stored);
    if (!status.ok()) return FromGrpc(status, channel_.target);
    return stored;
  }

  // The files: a directory's tree, or a single regular file under its own name.
  Status List(const std::string& local_path) {
    const std::string path = util::AbsolutePath(local_path);
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) return util::FromErrno(errno, "cannot read " + local_path);
    std::vector<artifacts::TreeFile> files;
    if (S_ISDIR(st.st_mode)) {
      MLC_ASSIGN_OR_RETURN(files, artifacts::ListTree(path));
    } else if (S_ISREG(st.st_mode)) {
      files.push_back({std::filesystem::path(path).filename().string(), path, st, false});
    } else {
      return InvalidArgumentError(local_path + " is neither a regular file nor a directory");
    }
    items_.reserve(files.size());
    for (artifacts::TreeFile& f : files) {
      v1::ManifestEntry* e = manifest_.add_entries();
      e->set_path(f.rel);
      e->set_size_bytes(f.st.st_size);
      e->set_mode(f.st.st_mode & 0777);
      items_.push_back(Item{std::move(f), e, false});
    }
    stats_.files = static_cast<int64_t>(items_.size());
    return Status::Ok();
  }

  // Hashes a small file before the server is asked about it.
  Status HashFirst(Item& item) {
    const int64_t recorded = artifacts::NowNs();
    struct stat before {};
    MLC_ASSIGN_OR_RETURN(int fd, artifacts::OpenTreeFile(item.file, &before));
    artifacts::FdCloser closer(fd);
    MLC_ASSIGN_OR_RETURN(artifacts::BlobInfo hashed, artifacts::HashFd(fd, {}, 0, item.file.abs));
    stats_.bytes_read += hashed.size;
    ++stats_.files_hashed;
    item.entry->set_digest(hashed.digest);
    item.entry->set_size_bytes(static_cast<int64_t>(hashed.size));
    Remember(fd, before, hashed, recorded, item.file.abs);
    return Status::Ok();
  }

  // Keeps the stamp of a file just read whole, unless it changed meanwhile.
  void Remember(int fd, const struct stat& before, const artifacts::BlobInfo& read,
                int64_t recorded, const std::string& path) {
    struct stat after {};
    if (fstat(fd, &after) != 0 || !SameContentStat(before, after) ||
        static_cast<uint64_t>(after.st_size) != read.size) {
      return;
    }
    artifacts::FileStamp stamp = artifacts::StampOf(after, recorded);
    stamp.digest = read.digest;
    stamps_.push_back(std::move(stamp));
    stamp_paths_.push_back(path);
  }

  // Digest -> the items holding it, for the digests the server lacks (in digest order).
  Result<std::map<std::string, std::vector<Item*>>> FindMissing() {
    std::map<std::string, std::vector<Item*>> known;
    for (Item& item : items_) {
      if (!item.entry->digest().empty()) known[item.entry->digest()].push_back(&item);
    }
    std::map<std::string, std::vector<Item*>> missing;
    v1::FindMissingBlobsRequest ask;
    ask.set_project(project_);
    auto flush = [&]() -> Status {
      if (ask.digests_size() == 0) return Status::Ok();
      grpc::ClientContext ctx;
      channel_.prepare(&ctx, true);
      v1::FindMissingBlobsResponse answer;
      grpc::Status status = channel_.stub->FindMissingBlobs(&ctx, ask, &answer);
      if (!status.ok()) return FromGrpc(status, channel_.target);
      for (const auto& d : answer.missing_digests()) {
        auto it = known.find(d);
        if (it != known.end()) missing.insert(*it);
      }
      ask.clear_digests();
      return Status::Ok();
    };
    for (const auto& [digest, holders] : known) {
      ask.add_digests(digest);
      if (ask.digests_size() == 10000) MLC_RETURN_IF_ERROR(flush());
    }
    MLC_RETURN_IF_ERROR(flush());
    return missing;
  }

  // Sends a missing blob from the first of its holders whose content is right. A holder whose
  // digest came from the cache and proves wrong is forgotten and sent speculatively instead.
  Status SendKnown(const std::vector<Item*>& holders) {
    for (Item* item : holders) {
      Result<artifacts::BlobInfo> sent = Send(*item, item->entry->digest());
      if (sent.ok()) return Status::Ok();
      if (sent.status().code() != StatusCode::kDataLoss || !item->cached) return sent.status();
      cache_.Forget(item->file.st);
      item->cached = false;
      total_ += item->file.st.st_size;
      MLC_RETURN_IF_ERROR(SendSpeculative(*item));
    }
    return Status::Ok();  // no holder had the content: no entry references it any more
  }

  Status SendSpeculative(Item& item) {
    ++stats_.files_speculative;
    MLC_ASSIGN_OR_RETURN(artifacts::BlobInfo sent, Send(item, ""));
    item.entry->set_digest(sent.digest);
    item.entry->set_size_bytes(static_cast<int64_t>(sent.size));
    return Status::Ok();
  }

  // Streams one file with UploadBlob. With an empty `expected` digest the server's digest is the
  // file's, once the CRC-32C of what the server received equals ours (a server that reports none
  // has the file hashed here, in a second read); else the server checks `expected`. The file's
  // stamp is remembered.
  Result<artifacts::BlobInfo> Send(const Item& item, const std::string& expected) {
    const std::string& path = item.file.abs;
    const int64_t recorded = artifacts::NowNs();
    struct stat before {};
    MLC_ASSIGN_OR_RETURN(int fd, artifacts::OpenTreeFile(item.file, &before));
    artifacts::FdCloser closer(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    const bool speculative = expected.empty();
    ChunkSource source(fd, path, static_cast<uint64_t>(before.st_size) > kChunkSize);

    grpc::ClientContext ctx;
    channel_.prepare(&ctx, false);
    v1::UploadBlobResponse response;
    auto writer = channel_.stub->UploadBlob(&ctx, &response);
    v1::UploadBlobRequest message;
    v1::UploadBlobHeader* header = message.mutable_header();
    header->set_project(project_);
    header->set_upload_id(util::RandomHexId("up-", 24));
    header->set_digest(expected);
    header->set_size_bytes(before.st_size);
    bool open = writer->Write(message);
    auto abandon = [&](Status why) -> Status {
      ctx.TryCancel();
      writer->Finish().ok();  // CANCELLED by us
      return why;
    };
    uint64_t sent_bytes = 0;
    while (open) {
      Result<ChunkSource::Chunk> chunk = source.Next();
      if (!chunk.ok()) return abandon(chunk.status());
      message.Clear();
      const uint64_t n = chunk->bytes.size();
      message.set_chunk(std::move(chunk->bytes));
      if (chunk->last) {
        // Publish only what the file held from start to end: unchanged size, mtime and ctime.
        struct stat after {};
        if (fstat(fd, &after) != 0 || !SameContentStat(before, after) ||
            source.bytes_read() != static_cast<uint64_t>(before.st_size)) {
          return abandon(DataLossError(item.entry->path() +
                                       " changed while it was uploaded; nothing was published "
                                       "for it, upload again"));
        }
        message.set_finish(true);
        open = writer->Write(message, grpc::WriteOptions().set_last_message());
      } else {
        open = writer->Write(message);
      }
      if (!open) break;  // the server ended the call; Finish() says why
      source.Recycle(std::move(*message.mutable_chunk()));
      sent_bytes += n;
      done_ += n;
      stats_.bytes_sent += n;
      if (progress_ && !progress_(done_, total_)) {
        return abandon(CancelledError("upload cancelled at " + item.entry->path()));
      }
      if (chunk->last) break;
    }
    stats_.bytes_read += source.bytes_read();
    // The last message was flagged as such, which half-closes the stream (no WritesDone).
    grpc::Status status = writer->Finish();
    if (!status.ok()) {
      return FromGrpc(status, channel_.target).WithContext("uploading " + item.entry->path());
    }
    if (response.has_received_crc32c() && response.received_crc32c() != source.Crc()) {
      return DataLossError(item.entry->path() + ": the server received bytes with CRC-32C " +
                           std::to_string(response.received_crc32c()) + ", the client sent " +
                           std::to_string(source.Crc()) +
                           " (the bytes were damaged on the way); upload again");
    }
    std::string digest = expected;
    bool hashed_here = false;
    if (speculative && response.has_received_crc32c()) {
      digest = response.digest();
    } else if (speculative) {
      // A server without the transfer check: hash the file here to check its digest.
      if (lseek(fd, 0, SEEK_SET) != 0) return util::FromErrno(errno, "cannot rewind " + path);
      MLC_ASSIGN_OR_RETURN(artifacts::BlobInfo local,
                           artifacts::HashFd(fd, {}, static_cast<uint64_t>(before.st_size), path));
      digest = local.digest;
      hashed_here = true;
    }
    artifacts::BlobInfo blob{digest, sent_bytes, false};
    if (response.digest() != blob.digest) {
      return DataLossError(
          item.entry->path() + ": the server stored " + response.digest() + " but " +
          (hashed_here ? "the client hashed " : "the client expected ") + blob.digest +
          (hashed_here ? " (the bytes were damaged on the way); upload again"
                       : " (the file changed while it was uploaded); upload again"));
    }
    ++stats_.blobs_sent;
    Remember(fd, before, blob, recorded, path);
    return blob;
  }

  const UploadChannel& channel_;
  const std::string project_;
  const artifacts::ProgressFn& progress_;
  artifacts::DigestCache& cache_;
  UploadStats& stats_;
  v1::Manifest manifest_;
  std::vector<Item> items_;  // entries point into manifest_
  uint64_t done_ = 0;
  uint64_t total_ = 0;
  std::vector<artifacts::FileStamp> stamps_;  // learned here, recorded at the end
  std::vector<std::string> stamp_paths_;
};

}  // namespace

Result<v1::Manifest> UploadTreeToServer(const UploadChannel& channel, const std::string& project,
                                        const std::string& local_path,
                                        const artifacts::ProgressFn& progress,
                                        artifacts::DigestCache& cache, UploadStats* stats) {
  UploadStats local_stats;
  TreeUpload upload(channel, project, progress, cache, stats != nullptr ? stats : &local_stats);
  return upload.Run(local_path);
}

}  // namespace mlcore::remote
