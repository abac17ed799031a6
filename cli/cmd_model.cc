// mlc model create|ls|get|update|rename|rm|register|versions|version|alias|resolve|lineage|
// download: the model registry (watch and webhook: cmd_model_events.cc) (see docs/registry.md and
// proto/mlcore/v1/registry.proto).
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>

#include <CLI/CLI.hpp>
#include <google/protobuf/util/time_util.h>

#include "app.h"
#include "exit_codes.h"
#include "mlcore/backend.h"
#include "mlcore/v1/data.pb.h"
#include "mlcore/v1/registry.pb.h"
#include "progress_line.h"
#include "tracking_view.h"

namespace mlc {
namespace {

using google::protobuf::util::TimeUtil;
using mlcore::v1::ModelVersion;
using mlcore::v1::ModelVersionLineage;
using mlcore::v1::ObjectRef;
using mlcore::v1::RegisteredModel;

std::string StatusName(mlcore::v1::ModelVersionStatus status) {
  return EnumWord(mlcore::v1::ModelVersionStatus_Name(status), "MODEL_VERSION_STATUS_");
}

std::string SourceLabel(const mlcore::v1::ModelVersionSource& s) {
  std::string path = s.path().empty() ? "" : ":" + s.path();
  switch (s.kind()) {
    case mlcore::v1::MODEL_SOURCE_KIND_RUN_ARTIFACT:
      return "run " + s.run_id() + path;
    case mlcore::v1::MODEL_SOURCE_KIND_JOB_OUTPUT:
      return "job " + s.job_id() + path;
    case mlcore::v1::MODEL_SOURCE_KIND_ARTIFACT:
      return "artifact " + s.artifact_id() + path;
    case mlcore::v1::MODEL_SOURCE_KIND_UPLOAD:
      return "upload " + s.path();
    default:
      return "-";
  }
}

std::string RefText(const ObjectRef& ref) {
  if (ref.display_name().empty() || ref.display_name() == ref.id()) return ref.id();
  return ref.display_name() + " (" + ref.id() + ")";
}

std::string Joined(const google::protobuf::RepeatedPtrField<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

std::string TagList(const google::protobuf::Map<std::string, std::string>& tags) {
  std::map<std::string, std::string> sorted(tags.begin(), tags.end());
  std::string out;
  for (const auto& [k, v] : sorted) out += (out.empty() ? "" : ", ") + k + "=" + v;
  return out;
}

std::string MetricList(const google::protobuf::Map<std::string, double>& metrics) {
  std::map<std::string, double> sorted(metrics.begin(), metrics.end());
  std::string out;
  for (const auto& [k, v] : sorted) out += (out.empty() ? "" : ", ") + k + "=" + ShortDouble(v);
  return out;
}

void Line(const std::string& key, const std::string& value) {
  if (value.empty()) return;
  std::cout << key << ":" << std::string(key.size() < 12 ? 12 - key.size() : 1, ' ') << value
            << "\n";
}

mlcore::Result<int64_t> ParseVersion(const std::string& text) {
  char* end = nullptr;
  const long long n = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || n < 1) {
    return mlcore::InvalidArgumentError("version must be a number >= 1, not \"" + text + "\"");
  }
  return static_cast<int64_t>(n);
}

// NAME/VERSION, NAME@ALIAS or a models:/ URI -> the version it names now.
mlcore::Result<ModelVersion> FindVersion(mlcore::Client& client, const std::string& ref) {
  const bool uri = ref.rfind("models:/", 0) == 0;
  const size_t slash = ref.rfind('/');
  if (!uri && ref.find('@') == std::string::npos) {
    if (slash == std::string::npos) {
      return mlcore::InvalidArgumentError("give a version as NAME/VERSION or NAME@ALIAS, not \"" +
                                          ref + "\"");
    }
    MLC_ASSIGN_OR_RETURN(int64_t version, ParseVersion(ref.substr(slash + 1)));
    mlcore::v1::GetModelVersionRequest get;
    get.set_model(ref.substr(0, slash));
    get.set_version(version);
    return client.GetModelVersion(get);
  }
  mlcore::v1::ResolveModelUriRequest resolve;
  resolve.set_uri(uri ? ref : "models:/" + ref);
  return client.ResolveModelUri(resolve);
}

void PrintVersion(const ModelVersion& v) {
  Line("model", v.model());
  Line("version", std::to_string(v.version()));
  Line("status", StatusName(v.status()) +
                     (v.status_message().empty() ? "" : " (" + v.status_message() + ")"));
  Line("project", v.project());
  Line("source", SourceLabel(v.source()));
  Line("aliases", Joined(v.aliases()));
  if (v.legacy_stage() > mlcore::v1::LEGACY_STAGE_NONE) {
    Line("stage", EnumWord(mlcore::v1::LegacyStage_Name(v.legacy_stage()), "LEGACY_STAGE_"));
  }
  Line("run", v.run_id());
  Line("job", v.job_id());
  Line("metrics", MetricList(v.metrics()));
  Line("framework", v.metadata().framework());
  Line("format", v.metadata().format());
  Line("description", v.description());
  if (v.has_parent_model_version()) Line("parent", RefText(v.parent_model_version()));
  Line("manifest", v.manifest_digest());
  Line("size", HumanBytes(v.size_bytes()));
  if (v.has_create_time()) {
    Line("created", TimeUtil::ToString(v.create_time()) + " (" + Ago(v.create_time()) + ")");
  }
  Line("by", v.created_by());
}

mlcore::Status ParseTags(const std::vector<std::string>& items, const char* what,
                         google::protobuf::Map<std::string, std::string>* out) {
  for (const auto& t : items) {
    std::string k, v;
    MLC_RETURN_IF_ERROR(SplitKeyValue(t, what, &k, &v));
    (*out)[k] = v;
  }
  return mlcore::Status::Ok();
}

struct CreateFlags {
  std::string name, description;
  std::vector<std::string> tags;
};

mlcore::Status Create(const Globals& globals, const CreateFlags& f) {
  RegisteredModel model;
  model.set_name(f.name);
  model.set_description(f.description);
  MLC_RETURN_IF_ERROR(ParseTags(f.tags, "--tag", model.mutable_tags()));
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(RegisteredModel created, client->CreateRegisteredModel(model));
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(created, globals.format());
    return mlcore::Status::Ok();
  }
  std::cout << "model " << created.name() << " created in project " << created.project() << "\n";
  return mlcore::Status::Ok();
}

struct ListFlags {
  std::string filter;
  std::vector<std::string> order_by;
};

mlcore::Status List(const Globals& globals, const ListFlags& f) {
  mlcore::v1::ListRegisteredModelsRequest request;
  request.set_filter(f.filter);
  for (const auto& o : f.order_by) request.add_order_by(o);
  request.set_page_size(1000);
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  mlcore::v1::ListRegisteredModelsResponse all;
  do {
    MLC_ASSIGN_OR_RETURN(auto page, client->ListRegisteredModels(request));
    for (auto& m : *page.mutable_models()) *all.add_models() = std::move(m);
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(all, globals.format());
    return mlcore::Status::Ok();
  }
  if (all.models_size() == 0) {
    std::cerr << (f.filter.empty() ? "No models. Create one with: mlc model create NAME\n"
                                   : "No models match the filter.\n");
    return mlcore::Status::Ok();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : all.models()) {
    std::string aliases;
    for (const auto& a : m.aliases()) {
      aliases += (aliases.empty() ? "" : ", ") + a.alias() + "->" + std::to_string(a.version());
    }
    rows.push_back({m.name(), std::to_string(m.latest_version()), aliases.empty() ? "-" : aliases,
                    TagList(m.tags()).empty() ? "-" : TagList(m.tags()), Ago(m.update_time())});
  }
  PrintIndentedTable({"NAME", "LATEST", "ALIASES", "TAGS", "UPDATED"}, rows, 0);
  return mlcore::Status::Ok();
}

mlcore::Status Get(const Globals& globals, const std::string& name) {
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  mlcore::v1::GetRegisteredModelRequest get;
  get.set_name(name);
  MLC_ASSIGN_OR_RETURN(RegisteredModel m, client->GetRegisteredModel(get));
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(m, globals.format());
    return mlcore::Status::Ok();
  }
  Line("name", m.name());
  Line("project", m.project());
  Line("description", m.description());
  Line("tags", TagList(m.tags()));
  Line("latest", m.latest_version() == 0 ? "none" : std::to_string(m.latest_version()));
  if (m.has_create_time()) {
    Line("created", TimeUtil::ToString(m.create_time()) + " (" + Ago(m.create_time()) + ")");
  }
  if (m.has_update_time()) Line("updated", Ago(m.update_time()));
  Line("by", m.created_by());
  Line("resource", "version " + std::to_string(m.resource_version()));
  if (m.aliases_size() == 0) {
    std::cout << "aliases:     none\n";
    return mlcore::Status::Ok();
  }
  std::cout << "aliases:\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& a : m.aliases()) {
    rows.push_back({a.alias(), std::to_string(a.version()),
                    a.has_update_time() ? Ago(a.update_time()) : "-",
                    a.updated_by().empty() ? "-" : a.updated_by()});
  }
  PrintIndentedTable({"ALIAS", "VERSION", "SET", "BY"}, rows, 2);
  return mlcore::Status::Ok();
}

struct UpdateFlags {
  std::string name, description;
  bool has_description = false;
  std::vector<std::string> tags, remove_tags;
};

mlcore::Status Update(const Globals& globals, const UpdateFlags& f) {
  mlcore::v1::UpdateRegisteredModelRequest request;
  request.set_name(f.name);
  if (f.has_description) request.set_description(f.description);
  MLC_RETURN_IF_ERROR(ParseTags(f.tags, "--tag", request.mutable_set_tags()));
  for (const auto& k : f.remove_tags) request.add_remove_tags(k);
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(RegisteredModel m, client->UpdateRegisteredModel(request));
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(m, globals.format());
    return mlcore::Status::Ok();
  }
  std::cout << "model " << m.name() << " updated\n";
  return mlcore::Status::Ok();
}

mlcore::Status Rename(const Globals& globals, const std::string& name, const std::string& to) {
  mlcore::v1::RenameRegisteredModelRequest request;
  request.set_name(name);
  request.set_new_name(to);
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(RegisteredModel m, client->RenameRegisteredModel(request));
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(m, globals.format());
    return mlcore::Status::Ok();
  }
  std::cout << "model " << name << " renamed to " << m.name() << "\n";
  return mlcore::Status::Ok();
}

mlcore::Status Remove(const Globals& globals, const std::string& name, bool force, bool yes) {
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  mlcore::v1::GetRegisteredModelRequest get;
  get.set_name(name);
  MLC_ASSIGN_OR_RETURN(RegisteredModel m, client->GetRegisteredModel(get));
  if (!yes) {
    const std::string what =
        "model " + m.name() + " with its " + std::to_string(m.latest_version()) + " version(s)";
    if (!::isatty(STDIN_FILENO)) {
      return mlcore::InvalidArgumentError("not deleting " + what +
                                          " without confirmation: pass --yes (stdin is not a "
                                          "terminal to ask on)");
    }
    std::cerr << "Delete " << what << "? [y/N] " << std::flush;
    std::string answer;
    if (!std::getline(std::cin, answer) || (answer != "y" && answer != "Y" && answer != "yes")) {
      std::cerr << "nothing deleted\n";
      CommandExitCode() = kExitCancelled;
      return mlcore::Status::Ok();
    }
  }
  mlcore::v1::DeleteRegisteredModelRequest request;
  request.set_name(name);
  request.set_force(force);
  MLC_RETURN_IF_ERROR(client->DeleteRegisteredModel(request));
  std::cout << "model " << name << " deleted\n";
  return mlcore::Status::Ok();
}

struct RegisterFlags {
  std::string name, run, job, artifact, dir, path, framework, format, description, parent;
  std::vector<std::string> metrics;
};

mlcore::Status Register(const Globals& globals, const RegisterFlags& f) {
  const int sources =
      !f.run.empty() + !f.job.empty() + !f.artifact.empty() + static_cast<int>(!f.dir.empty());
  if (sources != 1) {
    return mlcore::InvalidArgumentError(
        "give exactly one source: --run RUN, --job JOB, --artifact ID or --dir LOCAL_DIR");
  }
  if (!f.dir.empty() && !f.path.empty()) {
    return mlcore::InvalidArgumentError("--path applies to --run, --job and --artifact, not --dir");
  }
  mlcore::v1::CreateModelVersionRequest request;
  request.set_model(f.name);
  auto* source = request.mutable_source();
  source->set_path(f.path);
  if (!f.run.empty()) {
    source->set_kind(mlcore::v1::MODEL_SOURCE_KIND_RUN_ARTIFACT);
    source->set_run_id(f.run);
  } else if (!f.job.empty()) {
    source->set_kind(mlcore::v1::MODEL_SOURCE_KIND_JOB_OUTPUT);
    source->set_job_id(f.job);
  } else if (!f.artifact.empty()) {
    source->set_kind(mlcore::v1::MODEL_SOURCE_KIND_ARTIFACT);
    source->set_artifact_id(f.artifact);
  } else {
    std::error_code ec;
    if (!std::filesystem::is_directory(f.dir, ec)) {
      return mlcore::NotFoundError("no directory " + f.dir);
    }
    source->set_kind(mlcore::v1::MODEL_SOURCE_KIND_UPLOAD);
    source->set_path(std::filesystem::absolute(f.dir).string());
  }
  for (const auto& m : f.metrics) {
    std::string k, v;
    MLC_RETURN_IF_ERROR(SplitKeyValue(m, "--metric", &k, &v));
    char* end = nullptr;
    const double value = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0') {
      return mlcore::InvalidArgumentError("--metric " + m + ": the value must be a number");
    }
    (*request.mutable_metrics())[k] = value;
  }
  request.mutable_metadata()->set_framework(f.framework);
  request.mutable_metadata()->set_format(f.format);
  request.set_description(f.description);
  if (!f.parent.empty()) {
    const size_t slash = f.parent.rfind('/');
    if (slash == std::string::npos) {
      return mlcore::InvalidArgumentError("--parent must be NAME/VERSION, not \"" + f.parent +
                                          "\"");
    }
    MLC_ASSIGN_OR_RETURN(int64_t pv, ParseVersion(f.parent.substr(slash + 1)));
    auto* parent = request.mutable_parent_model_version();
    parent->set_kind(mlcore::v1::OBJECT_KIND_MODEL_VERSION);
    parent->set_id(f.parent.substr(0, slash) + "/" + std::to_string(pv));
  }
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  ProgressLine progress("uploading");
  auto registered = client->RegisterModelVersion(request, progress.Fn());
  progress.Finish();
  MLC_ASSIGN_OR_RETURN(ModelVersion v, std::move(registered));
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(v, globals.format());
    return mlcore::Status::Ok();
  }
  std::cout << "registered " << v.model() << " version " << v.version() << "\n";
  return mlcore::Status::Ok();
}

mlcore::Status Versions(const Globals& globals, const std::string& name) {
  mlcore::v1::ListModelVersionsRequest request;
  request.set_model(name);
  request.set_page_size(1000);
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  mlcore::v1::ListModelVersionsResponse all;
  do {
    MLC_ASSIGN_OR_RETURN(auto page, client->ListModelVersions(request));
    for (auto& v : *page.mutable_versions()) *all.add_versions() = std::move(v);
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(all, globals.format());
    return mlcore::Status::Ok();
  }
  if (all.versions_size() == 0) {
    std::cerr << "No versions. Register one with: mlc model register " << name
              << " --run RUN --path PATH\n";
    return mlcore::Status::Ok();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& v : all.versions()) {
    const std::string aliases = Joined(v.aliases());
    const std::string metrics = MetricList(v.metrics());
    rows.push_back({std::to_string(v.version()), StatusName(v.status()),
                    aliases.empty() ? "-" : aliases, SourceLabel(v.source()),
                    metrics.empty() ? "-" : metrics, HumanBytes(v.size_bytes()),
                    Ago(v.create_time())});
  }
  PrintIndentedTable({"VERSION", "STATUS", "ALIASES", "SOURCE", "METRICS", "SIZE", "CREATED"}, rows,
                     0);
  return mlcore::Status::Ok();
}

mlcore::Status ShowVersion(const Globals& globals, const std::string& ref) {
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(ModelVersion v, FindVersion(*client, ref));
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(v, globals.format());
    return mlcore::Status::Ok();
  }
  PrintVersion(v);
  return mlcore::Status::Ok();
}

mlcore::Status Resolve(const Globals& globals, const std::string& uri) {
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  mlcore::v1::ResolveModelUriRequest request;
  request.set_uri(uri);
  MLC_ASSIGN_OR_RETURN(ModelVersion v, client->ResolveModelUri(request));
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(v, globals.format());
    return mlcore::Status::Ok();
  }
  std::cout << "models:/" << v.project() << "/" << v.model() << "/" << v.version() << "\n";
  return mlcore::Status::Ok();
}

mlcore::Status AliasSet(const Globals& globals, const std::string& name, const std::string& alias,
                        const std::string& version_text) {
  MLC_ASSIGN_OR_RETURN(int64_t version, ParseVersion(version_text));
  mlcore::v1::SetModelAliasRequest request;
  request.set_model(name);
  request.set_alias(alias);
  request.set_version(version);
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(auto response, client->SetModelAlias(request));
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(response, globals.format());
    return mlcore::Status::Ok();
  }
  std::cout << name << "@" << alias << " -> version " << version;
  if (response.previous_version() == version) {
    std::cout << " (unchanged)";
  } else if (response.previous_version() != 0) {
    std::cout << " (moved from version " << response.previous_version() << ")";
  }
  std::cout << "\n";
  return mlcore::Status::Ok();
}

mlcore::Status AliasRemove(const Globals& globals, const std::string& name,
                           const std::string& alias) {
  mlcore::v1::DeleteModelAliasRequest request;
  request.set_model(name);
  request.set_alias(alias);
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(auto response, client->DeleteModelAlias(request));
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(response, globals.format());
    return mlcore::Status::Ok();
  }
  std::cout << name << "@" << alias << " deleted (pointed at version "
            << response.previous_version() << ")\n";
  return mlcore::Status::Ok();
}

// One lineage level as a tree below `indent`.
void PrintLineage(const ModelVersionLineage& l, const std::string& indent) {
  std::vector<std::pair<std::string, std::string>> items;
  if (l.has_run()) items.emplace_back("run", RefText(l.run()));
  if (l.has_job()) items.emplace_back("job", RefText(l.job()));
  if (l.has_pipeline_run()) items.emplace_back("pipeline", RefText(l.pipeline_run()));
  const auto& code = l.source_code();
  if (!code.git_commit().empty() || !code.entry_point().empty()) {
    std::string text = code.git_commit().empty() ? "-" : code.git_commit().substr(0, 12);
    if (code.git_dirty()) text += " (dirty)";
    if (!code.git_remote().empty()) text += " " + code.git_remote();
    if (!code.entry_point().empty()) text += " " + code.entry_point();
    items.emplace_back("code", text);
  }
  for (const auto& d : l.datasets()) {
    items.emplace_back("dataset",
                       d.uri() + (d.digest().empty() ? "" : " " + d.digest().substr(0, 12)));
  }
  if (l.has_artifact()) items.emplace_back("artifact", RefText(l.artifact()));
  const bool parent = l.has_parent();
  for (size_t i = 0; i < items.size(); ++i) {
    const bool last = i + 1 == items.size() && !parent;
    std::cout << indent << (last ? "└── " : "├── ") << items[i].first << ": " << items[i].second
              << "\n";
  }
  if (parent) {
    const ModelVersion& p = l.parent().version();
    std::cout << indent << "└── parent: " << p.model() << "/" << p.version() << " ("
              << StatusName(p.status()) << ")\n";
    PrintLineage(l.parent(), indent + "    ");
  }
}

mlcore::Status Lineage(const Globals& globals, const std::string& ref, int depth) {
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(ModelVersion v, FindVersion(*client, ref));
  mlcore::v1::GetModelVersionLineageRequest request;
  request.set_project(v.project());
  request.set_model(v.model());
  request.set_version(v.version());
  request.set_depth(depth);
  MLC_ASSIGN_OR_RETURN(ModelVersionLineage lineage, client->GetModelVersionLineage(request));
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(lineage, globals.format());
    return mlcore::Status::Ok();
  }
  std::cout << v.model() << "/" << v.version() << " (" << StatusName(v.status()) << ")\n";
  PrintLineage(lineage, "");
  return mlcore::Status::Ok();
}

mlcore::Status Download(const Globals& globals, const std::string& uri, const std::string& dest) {
  namespace fs = std::filesystem;
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  mlcore::v1::LoadRequest request;
  request.set_uri(uri.rfind("models:/", 0) == 0 ? uri : "models:/" + uri);
  ProgressLine progress("downloading");
  auto loaded = client->LoadData(request, progress.Fn());
  progress.Finish();
  MLC_ASSIGN_OR_RETURN(mlcore::v1::LoadResponse response, std::move(loaded));
  std::error_code ec;
  fs::create_directories(dest, ec);
  if (ec) return mlcore::InternalError("cannot create " + dest + ": " + ec.message());
  const fs::path src(response.local_path());
  if (fs::is_directory(src)) {
    fs::copy(src, dest, fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
  } else {
    fs::copy_file(src, fs::path(dest) / src.filename(), fs::copy_options::overwrite_existing, ec);
  }
  if (ec) {
    return mlcore::InternalError("cannot copy " + src.string() + " to " + dest + ": " +
                                 ec.message());
  }
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(response, globals.format());
    return mlcore::Status::Ok();
  }
  std::cout << dest << "\n";
  std::cerr << "downloaded from "
            << (response.source() == mlcore::v1::LOAD_SOURCE_HOT    ? "hot"
                : response.source() == mlcore::v1::LOAD_SOURCE_COLD ? "cold"
                                                                    : "origin")
            << ": " << HumanBytes(response.size_bytes()) << "\n";
  return mlcore::Status::Ok();
}

}  // namespace

void AddModelCommands(CLI::App& app, Globals& globals) {
  auto* model = app.add_subcommand("model", "Register, version, alias and download models");
  model->alias("models");
  model->require_subcommand(1);
  model->footer(
      "NAME is a model name; VERSION a number; URI models:/NAME/VERSION or models:/NAME@ALIAS.\n"
      "Examples:\n"
      "  mlc model create ranker --description 'CTR ranker' --tag task=ranking\n"
      "  mlc model register ranker --run baseline --path model --metric val_auc=0.91\n"
      "  mlc model register ranker --dir ./model --framework pytorch\n"
      "  mlc model alias set ranker champion 3\n"
      "  mlc model download models:/ranker@champion ./ranker");

  static CreateFlags create_flags;
  auto* create = model->add_subcommand("create", "Create a registered model");
  create->add_option("name", create_flags.name, "Model name")->required();
  create->add_option("--description", create_flags.description, "Free text");
  create->add_option("--tag", create_flags.tags, "Tag KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  OnRun(create, [&globals] { return Create(globals, create_flags); });

  static ListFlags list_flags;
  auto* ls = model->add_subcommand("ls", "List or search the project's models");
  ls->alias("list");
  ls->add_option("--filter", list_flags.filter,
                 "Filter: name, tags.K, alias, create_time, update_time (name like \"rank%\")");
  ls->add_option("--order-by", list_flags.order_by, "Sort key [asc|desc] (repeatable)")
      ->allow_extra_args(false);
  OnRun(ls, [&globals] { return List(globals, list_flags); });

  static std::string get_name;
  auto* get = model->add_subcommand("get", "Describe a model with its aliases");
  get->alias("describe");
  get->add_option("name", get_name, "Model name")->required();
  OnRun(get, [&globals] { return Get(globals, get_name); });

  static UpdateFlags update_flags;
  auto* update = model->add_subcommand("update", "Change a model's description and tags");
  update->add_option("name", update_flags.name, "Model name")->required();
  auto* description = update->add_option("--description", update_flags.description, "Free text");
  update->add_option("--tag", update_flags.tags, "Set tag KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  update->add_option("--remove-tag", update_flags.remove_tags, "Remove tag KEY (repeatable)")
      ->allow_extra_args(false);
  OnRun(update, [&globals, description] {
    update_flags.has_description = description->count() > 0;
    return Update(globals, update_flags);
  });

  static std::string rename_from, rename_to;
  auto* rename = model->add_subcommand("rename", "Rename a model (old URIs stop resolving)");
  rename->add_option("name", rename_from, "Current name")->required();
  rename->add_option("new_name", rename_to, "New name")->required();
  OnRun(rename, [&globals] { return Rename(globals, rename_from, rename_to); });

  static std::string rm_name;
  static bool rm_force = false, rm_yes = false;
  auto* rm = model->add_subcommand(
      "rm", "Delete a model with its versions (asks first on a terminal; --yes in scripts)");
  rm->alias("delete");
  rm->add_option("name", rm_name, "Model name")->required();
  rm->add_flag("--force", rm_force, "Delete even when aliases point at its versions");
  rm->add_flag("-y,--yes", rm_yes, "Delete without asking");
  OnRun(rm, [&globals] { return Remove(globals, rm_name, rm_force, rm_yes); });

  static RegisterFlags reg;
  auto* registration = model->add_subcommand(
      "register", "Register a new version from a run, job, artifact or local directory");
  registration->add_option("name", reg.name, "Model name")->required();
  registration->add_option("--run", reg.run, "Run (id or name) whose artifact it is");
  registration->add_option("--job", reg.job, "Job (id or name) whose output it is");
  registration->add_option("--artifact", reg.artifact, "Artifact id");
  registration->add_option("--dir", reg.dir, "Local directory to upload");
  registration->add_option("--path", reg.path, "Path inside the run's, job's or artifact's tree");
  registration->add_option("--metric", reg.metrics, "Metric KEY=NUMBER (repeatable)")
      ->allow_extra_args(false);
  registration->add_option("--framework", reg.framework, "pytorch, sklearn, onnx, ...");
  registration->add_option("--format", reg.format, "safetensors, torchscript, onnx, ...");
  registration->add_option("--description", reg.description, "Free text");
  registration->add_option("--parent", reg.parent, "Version it derives from (NAME/VERSION)");
  OnRun(registration, [&globals] { return Register(globals, reg); });

  static std::string versions_name;
  auto* versions = model->add_subcommand("versions", "List a model's versions, newest first");
  versions->add_option("name", versions_name, "Model name")->required();
  OnRun(versions, [&globals] { return Versions(globals, versions_name); });

  static std::string version_ref;
  auto* version = model->add_subcommand("version", "Describe one version");
  version->add_option("ref", version_ref, "NAME/VERSION, NAME@ALIAS or a models:/ URI")->required();
  OnRun(version, [&globals] { return ShowVersion(globals, version_ref); });

  auto* alias = model->add_subcommand("alias", "Set or delete aliases");
  alias->require_subcommand(1);
  static std::string alias_model, alias_name, alias_version;
  auto* alias_set = alias->add_subcommand("set", "Point an alias at a version (create or move)");
  alias_set->add_option("name", alias_model, "Model name")->required();
  alias_set->add_option("alias", alias_name, "Alias name")->required();
  alias_set->add_option("version", alias_version, "Version number")->required();
  OnRun(alias_set,
        [&globals] { return AliasSet(globals, alias_model, alias_name, alias_version); });
  auto* alias_rm = alias->add_subcommand("rm", "Delete an alias");
  alias_rm->alias("delete");
  alias_rm->add_option("name", alias_model, "Model name")->required();
  alias_rm->add_option("alias", alias_name, "Alias name")->required();
  OnRun(alias_rm, [&globals] { return AliasRemove(globals, alias_model, alias_name); });

  static std::string resolve_uri;
  auto* resolve = model->add_subcommand("resolve", "The version a models:/ URI names now");
  resolve->add_option("uri", resolve_uri, "models:/NAME/VERSION or models:/NAME@ALIAS")->required();
  OnRun(resolve, [&globals] { return Resolve(globals, resolve_uri); });

  static std::string lineage_ref;
  static int lineage_depth = 0;
  auto* lineage = model->add_subcommand("lineage", "Where a version came from, as a tree");
  lineage->add_option("ref", lineage_ref, "NAME/VERSION, NAME@ALIAS or a models:/ URI")->required();
  lineage->add_option("--depth", lineage_depth, "Parent versions to follow (default 10)");
  OnRun(lineage, [&globals] { return Lineage(globals, lineage_ref, lineage_depth); });

  static std::string download_uri, download_dest;
  auto* download = model->add_subcommand(
      "download", "Copy a version's files into a directory (through the data cache)");
  download->add_option("uri", download_uri, "models:/NAME@ALIAS or models:/NAME/VERSION")
      ->required();
  download->add_option("dest", download_dest, "Destination directory")->required();
  OnRun(download, [&globals] { return Download(globals, download_uri, download_dest); });

  AddModelEventCommands(model, globals);
}

}  // namespace mlc
