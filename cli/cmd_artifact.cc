// mlc artifact log|ls|get|download|lineage|rm|gc: the artifact store (see docs/artifacts.md).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>

#include <CLI/CLI.hpp>
#include <google/protobuf/util/time_util.h>
#include <nlohmann/json.hpp>

#include "app.h"
#include "exit_codes.h"
#include "mlcore/jobs.h"
#include "mlcore/json.h"
#include "mlcore/v1/artifacts.pb.h"
#include "progress_line.h"
#include "tracking_view.h"

namespace mlc {
namespace {

using google::protobuf::util::TimeUtil;
using mlcore::v1::Artifact;
using mlcore::v1::ObjectRef;

constexpr const char* kKinds = "file, directory, checkpoint, model, logs or snapshot";

// "model" for ARTIFACT_KIND_MODEL; "-" for unspecified.
std::string KindName(mlcore::v1::ArtifactKind kind) {
  if (kind == mlcore::v1::ARTIFACT_KIND_UNSPECIFIED) return "-";
  return EnumWord(mlcore::v1::ArtifactKind_Name(kind), "ARTIFACT_KIND_");
}

mlcore::Result<mlcore::v1::ArtifactKind> ParseKind(const std::string& text) {
  if (text.empty()) return mlcore::v1::ARTIFACT_KIND_UNSPECIFIED;
  std::string upper = text;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (upper.rfind("ARTIFACT_KIND_", 0) != 0) upper = "ARTIFACT_KIND_" + upper;
  mlcore::v1::ArtifactKind kind{};
  if (!mlcore::v1::ArtifactKind_Parse(upper, &kind) ||
      kind == mlcore::v1::ARTIFACT_KIND_UNSPECIFIED) {
    return mlcore::InvalidArgumentError("unknown artifact kind \"" + text + "\"; use " + kKinds);
  }
  return kind;
}

// "run", "job", "model version", ...
std::string ObjectKindName(mlcore::v1::ObjectKind kind) {
  switch (kind) {
    case mlcore::v1::OBJECT_KIND_RUN:
      return "run";
    case mlcore::v1::OBJECT_KIND_JOB:
      return "job";
    case mlcore::v1::OBJECT_KIND_ARTIFACT:
      return "artifact";
    case mlcore::v1::OBJECT_KIND_DATASET:
      return "dataset";
    case mlcore::v1::OBJECT_KIND_MODEL_VERSION:
      return "model-version";
    case mlcore::v1::OBJECT_KIND_PIPELINE_RUN:
      return "pipeline-run";
    default:
      return "-";
  }
}

// `run train (r0123...)`, or `job j0123...` without a display name.
std::string RefLabel(const ObjectRef& ref) {
  std::string out = ObjectKindName(ref.kind()) + " ";
  if (ref.display_name().empty()) return out + ref.id();
  return out + ref.display_name() + " (" + ref.id() + ")";
}

// The run or job a --run/--job pair names; kind UNSPECIFIED when neither is given.
ObjectRef OwnerRef(const std::string& run, const std::string& job) {
  ObjectRef ref;
  if (!run.empty()) {
    ref.set_kind(mlcore::v1::OBJECT_KIND_RUN);
    ref.set_id(run);
  } else if (!job.empty()) {
    ref.set_kind(mlcore::v1::OBJECT_KIND_JOB);
    ref.set_id(job);
  }
  return ref;
}

// A consumer for lineage, resolved to its id (names are accepted).
mlcore::Result<ObjectRef> ResolveConsumer(mlcore::Client& client, const std::string& run,
                                          const std::string& job) {
  ObjectRef ref;
  if (!run.empty()) {
    MLC_ASSIGN_OR_RETURN(auto r, client.GetRun(run));
    ref.set_kind(mlcore::v1::OBJECT_KIND_RUN);
    ref.set_id(r.id());
    ref.set_project(r.project());
    ref.set_display_name(r.name());
  } else if (!job.empty()) {
    MLC_ASSIGN_OR_RETURN(auto j, client.GetJob(job, mlcore::v1::JOB_VIEW_BASIC));
    ref.set_kind(mlcore::v1::OBJECT_KIND_JOB);
    ref.set_id(j.id());
    ref.set_project(j.spec().project());
    ref.set_display_name(j.spec().name());
  }
  return ref;
}

std::string Mode(uint32_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 0777);
  return buf;
}

std::string LabelList(const Artifact& a) {
  std::map<std::string, std::string> sorted(a.labels().begin(), a.labels().end());
  std::string out;
  for (const auto& [k, v] : sorted) out += (out.empty() ? "" : ", ") + k + "=" + v;
  return out;
}

struct LogFlags {
  std::string run, job, local_path, path, kind;
  std::vector<std::string> labels;
};

mlcore::Status Log(const Globals& globals, const LogFlags& f) {
  if (f.run.empty() == f.job.empty()) {
    return mlcore::InvalidArgumentError("give the artifact's owner: --run RUN or --job JOB");
  }
  MLC_ASSIGN_OR_RETURN(auto kind, ParseKind(f.kind));
  std::map<std::string, std::string> labels;
  for (const auto& l : f.labels) {
    std::string k, v;
    MLC_RETURN_IF_ERROR(SplitKeyValue(l, "--label", &k, &v));
    labels[k] = v;
  }
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  ProgressLine progress("uploading");
  auto logged = client->LogArtifact(OwnerRef(f.run, f.job), f.local_path, f.path, kind, labels,
                                    progress.Fn());
  progress.Finish();
  MLC_ASSIGN_OR_RETURN(Artifact a, std::move(logged));
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(a, globals.format());
    return mlcore::Status::Ok();
  }
  std::cout << "artifact " << a.id() << " logged for " << RefLabel(a.owner()) << ": " << a.path()
            << " (" << KindName(a.kind()) << ", " << a.file_count()
            << (a.file_count() == 1 ? " file, " : " files, ") << HumanBytes(a.size_bytes())
            << ")\n";
  return mlcore::Status::Ok();
}

struct ListFlags {
  std::string run, job, prefix, kind;
};

mlcore::Status List(const Globals& globals, const ListFlags& f) {
  mlcore::v1::ListArtifactsRequest request;
  MLC_ASSIGN_OR_RETURN(auto kind, ParseKind(f.kind));
  request.set_kind(kind);
  request.set_path_prefix(f.prefix);
  ObjectRef owner = OwnerRef(f.run, f.job);
  if (owner.kind() != mlcore::v1::OBJECT_KIND_UNSPECIFIED) *request.mutable_owner() = owner;
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  mlcore::v1::ListArtifactsResponse all;
  request.set_page_size(1000);
  do {
    MLC_ASSIGN_OR_RETURN(auto page, client->ListArtifacts(request));
    for (auto& a : *page.mutable_artifacts()) *all.add_artifacts() = std::move(a);
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(all, globals.format());
    return mlcore::Status::Ok();
  }
  if (all.artifacts_size() == 0) {
    std::cerr << "No artifacts. Log one with: mlc artifact log --run RUN PATH\n";
    return mlcore::Status::Ok();
  }
  std::vector<std::vector<std::string>> rows;
  rows.reserve(all.artifacts_size());
  for (const auto& a : all.artifacts()) {
    const auto& o = a.owner();
    rows.push_back(
        {a.id(),
         ObjectKindName(o.kind()) + "/" + (o.display_name().empty() ? o.id() : o.display_name()),
         a.path(), KindName(a.kind()), std::to_string(a.file_count()), HumanBytes(a.size_bytes()),
         Ago(a.create_time())});
  }
  PrintIndentedTable({"ID", "OWNER", "PATH", "KIND", "FILES", "SIZE", "CREATED"}, rows, 0);
  return mlcore::Status::Ok();
}

mlcore::Status Get(const Globals& globals, const std::string& id) {
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(Artifact a, client->GetArtifact(id));
  mlcore::v1::GetManifestRequest get;
  get.set_project(a.project());
  get.set_digest(a.manifest_digest());
  MLC_ASSIGN_OR_RETURN(auto manifest, client->GetManifest(get));
  if (globals.format() != OutputFormat::kTable) {
    nlohmann::json out = {{"artifact", nlohmann::json::parse(mlcore::ToJson(a))},
                          {"manifest", nlohmann::json::parse(mlcore::ToJson(manifest))}};
    PrintJsonText(out.dump(), globals.format());
    return mlcore::Status::Ok();
  }
  auto line = [](const std::string& key, const std::string& value) {
    if (!value.empty())
      std::cout << key << ":" << std::string(10 - key.size(), ' ') << value << "\n";
  };
  line("id", a.id());
  line("path", a.path());
  line("project", a.project());
  line("owner", RefLabel(a.owner()));
  line("kind", KindName(a.kind()));
  line("files", std::to_string(a.file_count()));
  line("size", HumanBytes(a.size_bytes()) + " (" + std::to_string(a.size_bytes()) + " bytes)");
  line("manifest", a.manifest_digest());
  if (a.has_create_time()) {
    line("created", TimeUtil::ToString(a.create_time()) + " (" + Ago(a.create_time()) + ")");
  }
  line("by", a.created_by());
  line("labels", LabelList(a));
  std::cout << "entries:\n";
  std::vector<std::vector<std::string>> rows;
  rows.reserve(manifest.entries_size());
  for (const auto& e : manifest.entries()) {
    rows.push_back(
        {e.path(), HumanBytes(e.size_bytes()), Mode(e.mode()), e.digest().substr(0, 12)});
  }
  PrintIndentedTable({"PATH", "SIZE", "MODE", "DIGEST"}, rows, 2);
  return mlcore::Status::Ok();
}

struct DownloadFlags {
  std::string id, dest, path, for_run, for_job;
};

mlcore::Status Download(const Globals& globals, const DownloadFlags& f) {
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(auto consumer, ResolveConsumer(*client, f.for_run, f.for_job));
  ProgressLine progress("downloading");
  auto got = client->DownloadArtifact(f.id, f.dest, f.path, consumer, progress.Fn());
  progress.Finish();
  MLC_ASSIGN_OR_RETURN(auto manifest, std::move(got));
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(manifest, globals.format());
    return mlcore::Status::Ok();
  }
  std::cout << "downloaded " << manifest.entries_size()
            << (manifest.entries_size() == 1 ? " file, " : " files, ")
            << HumanBytes(manifest.total_size_bytes()) << " to " << f.dest;
  if (consumer.kind() != mlcore::v1::OBJECT_KIND_UNSPECIFIED) {
    std::cout << " (used by " << RefLabel(consumer) << ")";
  }
  std::cout << "\n";
  return mlcore::Status::Ok();
}

mlcore::Status Lineage(const Globals& globals, const std::string& id) {
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(auto lineage, client->GetLineage(id));
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(lineage, globals.format());
    return mlcore::Status::Ok();
  }
  const Artifact& a = lineage.artifact();
  std::cout << "artifact:  " << a.id() << " (" << a.path() << ")\n";
  std::cout << "producer:  " << RefLabel(lineage.producer()) << "\n";
  if (lineage.consumers_size() == 0) {
    std::cout << "consumers: none\n";
    return mlcore::Status::Ok();
  }
  std::cout << "consumers:\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : lineage.consumers()) {
    rows.push_back(
        {ObjectKindName(c.kind()), c.id(), c.display_name().empty() ? "-" : c.display_name()});
  }
  PrintIndentedTable({"KIND", "ID", "NAME"}, rows, 2);
  return mlcore::Status::Ok();
}

mlcore::Status Remove(const Globals& globals, const std::string& id, bool yes) {
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(Artifact a, client->GetArtifact(id));
  if (!yes) {
    const std::string what = "artifact " + a.id() + " (" + a.path() + ")";
    if (!::isatty(STDIN_FILENO)) {
      return mlcore::InvalidArgumentError("not deleting " + what +
                                          " without confirmation: pass --yes (stdin is not a "
                                          "terminal to ask on)");
    }
    std::cerr << "Delete " << what << " of " << RefLabel(a.owner()) << "? [y/N] " << std::flush;
    std::string answer;
    if (!std::getline(std::cin, answer) || (answer != "y" && answer != "Y" && answer != "yes")) {
      std::cerr << "nothing deleted\n";
      CommandExitCode() = kExitCancelled;
      return mlcore::Status::Ok();
    }
  }
  MLC_RETURN_IF_ERROR(client->DeleteArtifact(a.id()));
  std::cout << "artifact " << a.id() << " (" << a.path()
            << ") deleted; its blobs are freed by the next `mlc artifact gc`\n";
  return mlcore::Status::Ok();
}

mlcore::Status CollectGarbage(const Globals& globals, bool dry_run, const std::string& min_age) {
  mlcore::v1::CollectGarbageRequest request;
  request.set_dry_run(dry_run);
  if (!min_age.empty()) {
    MLC_ASSIGN_OR_RETURN(*request.mutable_min_age(), mlcore::ParseDurationText(min_age));
  }
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(auto report, client->CollectGarbage(request));
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(report, globals.format());
    return mlcore::Status::Ok();
  }
  const char* would = report.dry_run() ? " (dry run: nothing removed)" : "";
  std::cout << "blobs scanned:     " << report.blobs_scanned() << "\n"
            << "blobs removed:     " << report.blobs_removed() << "\n"
            << "bytes freed:       " << HumanBytes(report.bytes_freed()) << "\n"
            << "manifests removed: " << report.manifests_removed() << "\n"
            << "uploads removed:   " << report.uploads_removed() << "\n";
  if (*would) std::cout << would + 1 << "\n";
  return mlcore::Status::Ok();
}

}  // namespace

void AddArtifactCommands(CLI::App& app, Globals& globals) {
  auto* artifact = app.add_subcommand("artifact", "Log, list, download and collect artifacts");
  artifact->alias("artifacts");
  artifact->require_subcommand(1);
  artifact->footer(
      "ID is an artifact id; RUN a run id or name; JOB a job id or name.\n"
      "Examples:\n"
      "  mlc artifact log --run baseline ./model --kind model --label step=1000\n"
      "  mlc artifact ls --run baseline\n"
      "  mlc artifact download ID ./restored --path weights --for-run finetune\n"
      "  mlc artifact gc --dry-run");

  static LogFlags log_flags;
  auto* log = artifact->add_subcommand("log", "Upload a file or directory as an artifact");
  auto* log_run = log->add_option("--run", log_flags.run, "Owner run (id or name)");
  auto* log_job = log->add_option("--job", log_flags.job, "Owner job (id or name)");
  log_run->excludes(log_job);
  log->add_option("local_path", log_flags.local_path, "File or directory to upload")->required();
  log->add_option("--path", log_flags.path,
                  "Artifact path under its owner (default: the local base name)");
  log->add_option("--kind", log_flags.kind,
                  "file, directory, checkpoint, model, logs or snapshot (default: file or "
                  "directory)");
  log->add_option("--label", log_flags.labels, "Label KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  OnRun(log, [&globals] { return Log(globals, log_flags); });

  static ListFlags list_flags;
  auto* ls = artifact->add_subcommand("ls", "List artifacts of the project, a run or a job");
  ls->alias("list");
  auto* ls_run = ls->add_option("--run", list_flags.run, "Only this run's artifacts");
  auto* ls_job = ls->add_option("--job", list_flags.job, "Only this job's artifacts");
  ls_run->excludes(ls_job);
  ls->add_option("--prefix", list_flags.prefix, "Only paths starting with this");
  ls->add_option("--kind", list_flags.kind, "Only this kind");
  OnRun(ls, [&globals] { return List(globals, list_flags); });

  static std::string get_id;
  auto* get = artifact->add_subcommand("get", "Describe an artifact and list its files");
  get->alias("describe");
  get->add_option("id", get_id, "Artifact id")->required();
  OnRun(get, [&globals] { return Get(globals, get_id); });

  static DownloadFlags download_flags;
  auto* download = artifact->add_subcommand(
      "download", "Write an artifact (or one file or subtree of it) below a directory");
  download->add_option("id", download_flags.id, "Artifact id")->required();
  download->add_option("dest", download_flags.dest, "Destination directory")->required();
  download->add_option("--path", download_flags.path, "Only this file or subtree");
  auto* for_run = download->add_option("--for-run", download_flags.for_run,
                                       "Record this run as a consumer (lineage)");
  auto* for_job = download->add_option("--for-job", download_flags.for_job,
                                       "Record this job as a consumer (lineage)");
  for_run->excludes(for_job);
  OnRun(download, [&globals] { return Download(globals, download_flags); });

  static std::string lineage_id;
  auto* lineage = artifact->add_subcommand("lineage", "Who produced an artifact and who used it");
  lineage->add_option("id", lineage_id, "Artifact id")->required();
  OnRun(lineage, [&globals] { return Lineage(globals, lineage_id); });

  static std::string rm_id;
  static bool rm_yes = false;
  auto* rm = artifact->add_subcommand(
      "rm", "Delete an artifact record (asks first on a terminal; --yes in scripts)");
  rm->alias("delete");
  rm->add_option("id", rm_id, "Artifact id")->required();
  rm->add_flag("-y,--yes", rm_yes, "Delete without asking");
  OnRun(rm, [&globals] { return Remove(globals, rm_id, rm_yes); });

  static bool gc_dry_run = false;
  static std::string gc_min_age;
  auto* gc =
      artifact->add_subcommand("gc", "Remove blobs and manifests nothing references (needs ADMIN)");
  gc->add_flag("--dry-run", gc_dry_run, "Report what would be removed, remove nothing");
  gc->add_option("--min-age", gc_min_age,
                 "Keep unreferenced blobs younger than this (default 1h, at least 1m)");
  OnRun(gc, [&globals] { return CollectGarbage(globals, gc_dry_run, gc_min_age); });
}

}  // namespace mlc
