// Versions, URI resolution and lineage of the registry store (models, aliases and events are in
// registry_store.cc).
#include <charconv>
#include <cstdint>
#include <map>
#include <set>

#include <google/protobuf/util/time_util.h>

#include "core/page_token.h"
#include "local/job_store.h"
#include "local/registry_store.h"

namespace mlcore::local {
namespace {

using google::protobuf::util::TimeUtil;

// Columns of a versions row, in the order ReadVersionRow expects them.
#define MLC_VERSION_COLUMNS "v.body, v.artifact_id, v.parent_model_id, v.parent_version"

Status ParseBody(const sqlite::Statement& s, int first, const std::string& path,
                 v1::ModelVersion* body, std::string* artifact_id, int64_t* parent_model_id,
                 int64_t* parent_version) {
  if (!body->ParseFromString(s.ColumnBlob(first))) {
    return DataLossError("store " + path + ": a model version record is corrupt");
  }
  *artifact_id = s.ColumnText(first + 1);
  *parent_model_id = s.ColumnIsNull(first + 2) ? 0 : s.ColumnInt(first + 2);
  *parent_version = s.ColumnIsNull(first + 3) ? 0 : s.ColumnInt(first + 3);
  return Status::Ok();
}

std::string StatusName(v1::ModelVersionStatus s) {
  std::string name = v1::ModelVersionStatus_Name(s);
  const std::string prefix = "MODEL_VERSION_STATUS_";
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

v1::ObjectRef Ref(v1::ObjectKind kind, const std::string& id, const std::string& project) {
  v1::ObjectRef ref;
  ref.set_kind(kind);
  ref.set_id(id);
  ref.set_project(project);
  return ref;
}

}  // namespace

Result<RegistryStore::VersionRow> RegistryStore::LoadVersionRowLocked(const ModelRow& model,
                                                                      int64_t version) {
  MLC_ASSIGN_OR_RETURN(Query q, Prepare("SELECT " MLC_VERSION_COLUMNS " FROM versions v WHERE "
                                        "v.model_id = ? AND v.version = ?"));
  q->Bind(1, model.id).Bind(2, version);
  MLC_ASSIGN_OR_RETURN(bool found, q->Step());
  if (!found) {
    return NotFoundError(
        "model \"" + model.name + "\" has no version " + std::to_string(version) +
        (model.latest_version == 0
             ? " (it has no versions yet)"
             : " (its versions are 1-" + std::to_string(model.latest_version) + ")"));
  }
  VersionRow row;
  MLC_RETURN_IF_ERROR(ParseBody(*q, 0, db_->path(), &row.body, &row.artifact_id,
                                &row.parent_model_id, &row.parent_version));
  return row;
}

Result<v1::ModelVersion> RegistryStore::VersionProtoLocked(const ModelRow& model,
                                                           const VersionRow& row) {
  v1::ModelVersion v = row.body;
  v.set_project(model.project);
  v.set_model(model.name);
  MLC_ASSIGN_OR_RETURN(Query q, Prepare("SELECT alias FROM aliases WHERE model_id = ? AND "
                                        "version = ? ORDER BY alias"));
  q->Bind(1, model.id).Bind(2, v.version());
  std::set<std::string> aliases;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool more, q->Step());
    if (!more) break;
    aliases.insert(q->ColumnText(0));
    v.add_aliases(q->ColumnText(0));
  }
  v.set_legacy_stage(
      aliases.count(std::string(registry::kStagingAlias))      ? v1::LEGACY_STAGE_STAGING
      : aliases.count(std::string(registry::kProductionAlias)) ? v1::LEGACY_STAGE_PRODUCTION
      : aliases.count(std::string(registry::kArchivedAlias))   ? v1::LEGACY_STAGE_ARCHIVED
                                                               : v1::LEGACY_STAGE_NONE);
  if (row.parent_model_id != 0) {
    // The parent is kept by model id, so a rename of its model is followed; a deleted model stays
    // named as it was when the version was created.
    auto parent = row.parent_model_id == model.id ? Result<ModelRow>(model)
                                                  : LoadModelByIdLocked(row.parent_model_id);
    if (parent.ok()) {
      v1::ObjectRef* ref = v.mutable_parent_model_version();
      ref->set_project(parent->project);
      ref->set_id(registry::VersionRefId(parent->name, row.parent_version));
      ref->set_display_name(ref->id());
    } else if (parent.status().code() != StatusCode::kNotFound) {
      return parent.status();
    }
  }
  return v;
}

Result<v1::ModelVersion> RegistryStore::LoadVersionLocked(const ModelRow& model, int64_t version) {
  MLC_ASSIGN_OR_RETURN(VersionRow row, LoadVersionRowLocked(model, version));
  return VersionProtoLocked(model, row);
}

Result<v1::ModelVersion> RegistryStore::FindVersionByRequestId(const std::string& project,
                                                               const std::string& model,
                                                               const std::string& request_id) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(ModelRow row, LoadModelLocked(project, model));
  int64_t version = 0;
  {
    MLC_ASSIGN_OR_RETURN(Query q, Prepare("SELECT version FROM versions WHERE model_id = ? AND "
                                          "request_id = ?"));
    q->Bind(1, row.id).Bind(2, request_id);
    MLC_ASSIGN_OR_RETURN(bool found, q->Step());
    if (!found) return NotFoundError("no version of \"" + model + "\" has request " + request_id);
    version = q->ColumnInt(0);
  }
  return LoadVersionLocked(row, version);
}

Result<v1::ModelVersion> RegistryStore::CreateVersion(const NewModelVersion& in,
                                                      const std::string& actor) {
  const int64_t now = NowMicros();
  const v1::ModelVersion& v = in.version;
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  MLC_ASSIGN_OR_RETURN(ModelRow row, LoadModelLocked(v.project(), v.model()));
  if (!in.request_id.empty()) {
    // A retry of a call that succeeded: the same version, even though the model has moved on.
    MLC_ASSIGN_OR_RETURN(Query q, Prepare("SELECT version FROM versions WHERE model_id = ? AND "
                                          "request_id = ?"));
    q->Bind(1, row.id).Bind(2, in.request_id);
    MLC_ASSIGN_OR_RETURN(bool found, q->Step());
    if (found) return LoadVersionLocked(row, q->ColumnInt(0));
  }
  MLC_RETURN_IF_ERROR(CheckExpectedVersion(row, in.expected_version));
  int64_t parent_model_id = 0, parent_version = 0;
  if (v.has_parent_model_version() && !v.parent_model_version().id().empty()) {
    const v1::ObjectRef& ref = v.parent_model_version();
    std::string parent_name;
    MLC_RETURN_IF_ERROR(registry::ParseVersionRefId(ref.id(), &parent_name, &parent_version));
    auto parent = LoadModelLocked(ref.project(), parent_name);
    if (!parent.ok()) {
      return parent.status().WithContext("parent version " + ref.project() + "/" + ref.id());
    }
    MLC_RETURN_IF_ERROR(LoadVersionRowLocked(*parent, parent_version)
                            .status()
                            .WithContext("parent version " + ref.project() + "/" + ref.id()));
    parent_model_id = parent->id;
  }
  const int64_t number = row.latest_version + 1;
  v1::ModelVersion body = v;
  body.clear_project();
  body.clear_model();
  body.clear_aliases();
  body.clear_legacy_stage();
  body.set_version(number);
  body.set_created_by(actor);
  *body.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(now);
  {
    MLC_ASSIGN_OR_RETURN(
        Query q, Prepare("INSERT INTO versions(model_id, version, status, create_us, run_id, "
                         "job_id, artifact_id, parent_model_id, parent_version, request_id, body, "
                         "manifest_digest) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"));
    q->Bind(1, row.id).Bind(2, number).Bind(3, static_cast<int64_t>(body.status())).Bind(4, now);
    q->Bind(5, body.run_id()).Bind(6, body.job_id()).Bind(7, in.artifact_id);
    if (parent_model_id != 0) {
      q->Bind(8, parent_model_id).Bind(9, parent_version);
    } else {
      q->BindNull(8).BindNull(9);
    }
    if (in.request_id.empty()) {
      q->BindNull(10);
    } else {
      q->Bind(10, in.request_id);
    }
    q->BindBlob(11, body.SerializeAsString()).Bind(12, body.manifest_digest());
    MLC_RETURN_IF_ERROR(q->Run());
  }
  for (const auto& d : body.input_datasets()) {
    if (d.digest().empty()) continue;
    MLC_ASSIGN_OR_RETURN(Query q, Prepare("INSERT OR IGNORE INTO version_datasets(model_id, "
                                          "version, digest) VALUES (?, ?, ?)"));
    q->Bind(1, row.id).Bind(2, number).Bind(3, d.digest());
    MLC_RETURN_IF_ERROR(q->Run());
  }
  {
    MLC_ASSIGN_OR_RETURN(Query q, Prepare("UPDATE models SET latest_version = ? WHERE id = ?"));
    q->Bind(1, number).Bind(2, row.id);
    MLC_RETURN_IF_ERROR(q->Run());
  }
  MLC_ASSIGN_OR_RETURN(int64_t rv, TouchModelLocked(row, now));
  v1::RegistryEvent e;
  e.set_type(v1::REGISTRY_EVENT_TYPE_VERSION_CREATED);
  e.set_actor(actor);
  e.set_project(row.project);
  e.set_model(row.name);
  e.set_version(number);
  e.set_resource_version(rv);
  MLC_RETURN_IF_ERROR(AppendEventLocked(e, now));
  row.latest_version = number;
  MLC_ASSIGN_OR_RETURN(v1::ModelVersion out, LoadVersionLocked(row, number));
  MLC_RETURN_IF_ERROR(txn.Commit());
  return out;
}

Result<v1::ModelVersion> RegistryStore::FinishUpload(const v1::FinishModelVersionUploadRequest& r,
                                                     int64_t size_bytes, const std::string& actor) {
  const int64_t now = NowMicros();
  const bool ready = r.outcome_case() == v1::FinishModelVersionUploadRequest::kManifestDigest;
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  MLC_ASSIGN_OR_RETURN(ModelRow row, LoadModelLocked(r.project(), r.model()));
  MLC_ASSIGN_OR_RETURN(VersionRow version, LoadVersionRowLocked(row, r.version()));
  v1::ModelVersion& body = version.body;
  const std::string which =
      "version " + std::to_string(r.version()) + " of model \"" + row.name + "\"";
  if (body.status() != v1::MODEL_VERSION_STATUS_PENDING_UPLOAD) {
    const bool same = ready ? body.status() == v1::MODEL_VERSION_STATUS_READY &&
                                  body.manifest_digest() == r.manifest_digest()
                            : body.status() == v1::MODEL_VERSION_STATUS_FAILED &&
                                  body.status_message() == r.failure_message();
    if (same) return VersionProtoLocked(row, version);  // a repeat of the call that finished it
    if (body.source().kind() != v1::MODEL_SOURCE_KIND_UPLOAD) {
      return FailedPreconditionError(which +
                                     " was not created from an upload; only UPLOAD "
                                     "versions are finished");
    }
    return FailedPreconditionError(
        which + " is already " + StatusName(body.status()) +
        (body.status() == v1::MODEL_VERSION_STATUS_READY
             ? " with manifest " + body.manifest_digest()
             : " (" + body.status_message() + ")") +
        "; a version's files never change: create a new version instead");
  }
  if (ready) {
    body.set_status(v1::MODEL_VERSION_STATUS_READY);
    body.set_manifest_digest(r.manifest_digest());
    body.set_size_bytes(size_bytes);
  } else {
    body.set_status(v1::MODEL_VERSION_STATUS_FAILED);
    body.set_status_message(r.failure_message());
  }
  {
    MLC_ASSIGN_OR_RETURN(Query q,
                         Prepare("UPDATE versions SET status = ?, body = ?, "
                                 "manifest_digest = ? WHERE model_id = ? AND version = ?"));
    q->Bind(1, static_cast<int64_t>(body.status())).BindBlob(2, body.SerializeAsString());
    q->Bind(3, body.manifest_digest()).Bind(4, row.id).Bind(5, r.version());
    MLC_RETURN_IF_ERROR(q->Run());
  }
  MLC_ASSIGN_OR_RETURN(int64_t rv, TouchModelLocked(row, now));
  v1::RegistryEvent e;
  e.set_type(ready ? v1::REGISTRY_EVENT_TYPE_VERSION_READY
                   : v1::REGISTRY_EVENT_TYPE_VERSION_FAILED);
  e.set_actor(actor);
  e.set_project(row.project);
  e.set_model(row.name);
  e.set_version(r.version());
  e.set_resource_version(rv);
  MLC_RETURN_IF_ERROR(AppendEventLocked(e, now));
  MLC_ASSIGN_OR_RETURN(v1::ModelVersion out, VersionProtoLocked(row, version));
  MLC_RETURN_IF_ERROR(txn.Commit());
  return out;
}

Result<v1::ModelVersion> RegistryStore::GetVersion(const std::string& project,
                                                   const std::string& model, int64_t version) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(ModelRow row, LoadModelLocked(project, model));
  return LoadVersionLocked(row, version);
}

Result<v1::ListModelVersionsResponse> RegistryStore::ListVersions(
    const v1::ListModelVersionsRequest& r) {
  MLC_ASSIGN_OR_RETURN(std::string token, DecodePageToken(r.page_token(), "model versions"));
  int64_t before = INT64_MAX;
  if (!token.empty()) {
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), before);
    if (ec != std::errc() || end != token.data() + token.size()) {
      return InvalidArgumentError(
          "invalid page token; pass the next_page_token of the previous "
          "model versions listing unchanged");
    }
  }
  const std::set<int> statuses(r.statuses().begin(), r.statuses().end());
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(ModelRow model, LoadModelLocked(r.project(), r.model()));
  std::vector<VersionRow> rows;
  bool more = false;
  {
    MLC_ASSIGN_OR_RETURN(Query q, Prepare("SELECT v.status, " MLC_VERSION_COLUMNS " FROM versions "
                                          "v WHERE v.model_id = ? AND v.version < ? ORDER BY "
                                          "v.version DESC"));
    q->Bind(1, model.id).Bind(2, before);
    while (true) {
      MLC_ASSIGN_OR_RETURN(bool row, q->Step());
      if (!row) break;
      if (!statuses.empty() && !statuses.count(static_cast<int>(q->ColumnInt(0)))) continue;
      if (static_cast<int>(rows.size()) == r.page_size()) {
        more = true;
        break;
      }
      VersionRow v;
      MLC_RETURN_IF_ERROR(ParseBody(*q, 1, db_->path(), &v.body, &v.artifact_id, &v.parent_model_id,
                                    &v.parent_version));
      rows.push_back(std::move(v));
    }
  }
  v1::ListModelVersionsResponse response;
  for (const VersionRow& v : rows) {
    MLC_ASSIGN_OR_RETURN(*response.add_versions(), VersionProtoLocked(model, v));
  }
  if (more && !rows.empty()) {
    response.set_next_page_token(
        EncodePageToken(std::to_string(rows.back().body.version()), "model versions"));
  }
  return response;
}

Result<v1::ModelVersion> RegistryStore::Resolve(const registry::ModelUri& uri) {
  std::lock_guard lock(mu_);
  // One read transaction for the lookups below: one snapshot (a concurrent alias move is seen
  // entirely or not at all) and one lock round trip instead of one per statement.
  MLC_ASSIGN_OR_RETURN(auto read, sqlite::ReadTransaction::Begin(*db_));
  MLC_ASSIGN_OR_RETURN(ModelRow model, LoadModelLocked(uri.project, uri.model));
  int64_t number = uri.version;
  if (uri.alias == registry::kLatestAlias) {
    MLC_ASSIGN_OR_RETURN(Query q, Prepare("SELECT version FROM versions WHERE model_id = ? AND "
                                          "status = ? ORDER BY version DESC LIMIT 1"));
    q->Bind(1, model.id).Bind(2, static_cast<int64_t>(v1::MODEL_VERSION_STATUS_READY));
    MLC_ASSIGN_OR_RETURN(bool found, q->Step());
    if (!found) {
      return NotFoundError(uri.ToString() + ": model \"" + model.name +
                           "\" has no READY version yet");
    }
    number = q->ColumnInt(0);
  } else if (!uri.alias.empty()) {
    MLC_ASSIGN_OR_RETURN(Query q, Prepare("SELECT version FROM aliases WHERE model_id = ? AND "
                                          "alias = ?"));
    q->Bind(1, model.id).Bind(2, uri.alias);
    MLC_ASSIGN_OR_RETURN(bool found, q->Step());
    if (!found) {
      MLC_ASSIGN_OR_RETURN(std::string aliases, AliasSummaryLocked(model.id));
      return NotFoundError(uri.ToString() + ": model \"" + model.name + "\" has no alias \"" +
                           uri.alias + "\"; " +
                           (aliases.empty() ? "it has no aliases (only @latest resolves)"
                                            : "its aliases: " + aliases + " (and latest)"));
    }
    number = q->ColumnInt(0);
  }
  MLC_ASSIGN_OR_RETURN(v1::ModelVersion v, LoadVersionLocked(model, number));
  if (v.status() == v1::MODEL_VERSION_STATUS_PENDING_UPLOAD) {
    return FailedPreconditionError(uri.ToString() + " is version " + std::to_string(number) +
                                   ", still PENDING_UPLOAD: its files are not in the store yet");
  }
  if (v.status() != v1::MODEL_VERSION_STATUS_READY) {
    return FailedPreconditionError(uri.ToString() + " is version " + std::to_string(number) +
                                   ", which is " + StatusName(v.status()) + " (" +
                                   v.status_message() + ") and cannot be used");
  }
  return v;
}

// --- Lineage -----------------------------------------------------------------------------------

Result<v1::ModelVersionLineage> RegistryStore::LineageLocked(const ModelRow& model, int64_t version,
                                                             int depth) {
  MLC_ASSIGN_OR_RETURN(VersionRow row, LoadVersionRowLocked(model, version));
  v1::ModelVersionLineage out;
  MLC_ASSIGN_OR_RETURN(*out.mutable_version(), VersionProtoLocked(model, row));
  const v1::ModelVersion& v = out.version();
  if (!v.run_id().empty()) *out.mutable_run() = Ref(v1::OBJECT_KIND_RUN, v.run_id(), v.project());
  if (!v.job_id().empty()) *out.mutable_job() = Ref(v1::OBJECT_KIND_JOB, v.job_id(), v.project());
  if (v.has_source_code()) *out.mutable_source_code() = v.source_code();
  *out.mutable_datasets() = v.input_datasets();
  if (!row.artifact_id.empty()) {
    *out.mutable_artifact() = Ref(v1::OBJECT_KIND_ARTIFACT, row.artifact_id, v.project());
  }
  if (depth <= 0 || !v.has_parent_model_version() || v.parent_model_version().id().empty()) {
    return out;
  }
  auto parent = LoadModelByIdLocked(row.parent_model_id);
  if (parent.ok()) {
    auto up = LineageLocked(*parent, row.parent_version, depth - 1);
    if (up.ok()) {
      *out.mutable_parent() = std::move(up).value();
      return out;
    }
    if (up.status().code() != StatusCode::kNotFound) return up.status();
  } else if (parent.status().code() != StatusCode::kNotFound) {
    return parent.status();
  }
  // The parent's model was deleted since: it is still named, as recorded.
  v1::ModelVersion* named = out.mutable_parent()->mutable_version();
  const v1::ObjectRef& ref = v.parent_model_version();
  std::string name;
  int64_t number = 0;
  if (registry::ParseVersionRefId(ref.id(), &name, &number).ok()) {
    named->set_project(ref.project());
    named->set_model(name);
    named->set_version(number);
  }
  return out;
}

Result<v1::ModelVersionLineage> RegistryStore::Lineage(const std::string& project,
                                                       const std::string& model, int64_t version,
                                                       int depth) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(ModelRow row, LoadModelLocked(project, model));
  return LineageLocked(row, version, depth);
}

Result<v1::ListModelVersionsBuiltFromResponse> RegistryStore::BuiltFrom(
    const v1::ListModelVersionsBuiltFromRequest& r) {
  MLC_ASSIGN_OR_RETURN(std::string token, DecodePageToken(r.page_token(), "built-from"));
  int64_t after[3] = {0, 0, 0};  // create_us, model_id, version of the last row returned
  if (!token.empty()) {
    const char* p = token.data();
    const char* end = token.data() + token.size();
    for (int i = 0; i < 3; ++i) {
      auto [next, ec] = std::from_chars(p, end, after[i]);
      if (ec != std::errc() || (i < 2 && (next == end || *next != '/')) ||
          (i == 2 && next != end)) {
        return InvalidArgumentError(
            "invalid page token; pass the next_page_token of the previous "
            "listing unchanged");
      }
      p = next + 1;
    }
  }
  const v1::ObjectRef& source = r.source();
  std::lock_guard lock(mu_);
  std::string where;
  std::vector<std::pair<int64_t, std::string>> args;  // (int or -1 for text, text)
  auto bind_text = [&](const std::string& s) { args.emplace_back(-1, s); };
  switch (source.kind()) {
    case v1::OBJECT_KIND_RUN:
      where = "v.run_id = ?";
      bind_text(source.id());
      break;
    case v1::OBJECT_KIND_JOB:
      where = "v.job_id = ?";
      bind_text(source.id());
      break;
    case v1::OBJECT_KIND_ARTIFACT:
      where = "v.artifact_id = ?";
      bind_text(source.id());
      break;
    case v1::OBJECT_KIND_DATASET:
      where =
          "(v.model_id, v.version) IN (SELECT model_id, version FROM version_datasets WHERE "
          "digest = ?)";
      bind_text(source.id());
      break;
    case v1::OBJECT_KIND_MODEL_VERSION: {
      std::string name;
      int64_t number = 0;
      MLC_RETURN_IF_ERROR(registry::ParseVersionRefId(source.id(), &name, &number));
      const std::string& project = source.project().empty() ? r.project() : source.project();
      MLC_ASSIGN_OR_RETURN(ModelRow parent, LoadModelLocked(project, name));
      MLC_RETURN_IF_ERROR(LoadVersionRowLocked(parent, number).status());
      where = "v.parent_model_id = ? AND v.parent_version = ?";
      args.emplace_back(parent.id, "");
      args.emplace_back(number, "");
      break;
    }
    default:
      return InvalidArgumentError(
          "versions are built from a RUN, JOB, DATASET, ARTIFACT or "
          "MODEL_VERSION, not " +
          v1::ObjectKind_Name(source.kind()));
  }
  std::string sql = "SELECT v.model_id, v.create_us, " MLC_VERSION_COLUMNS
                    " FROM versions v JOIN models m ON m.id = v.model_id WHERE " +
                    where;
  if (!r.project().empty()) {
    sql += " AND m.project = ?";
    bind_text(r.project());
  }
  if (!token.empty()) {
    sql += " AND (v.create_us, v.model_id, v.version) < (?, ?, ?)";
    for (int64_t a : after) args.emplace_back(a, "");
  }
  sql += " ORDER BY v.create_us DESC, v.model_id DESC, v.version DESC LIMIT ?";
  args.emplace_back(static_cast<int64_t>(r.page_size()) + 1, "");
  MLC_ASSIGN_OR_RETURN(sqlite::Statement select, db_->Prepare(sql));
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].first == -1) {
      select.Bind(static_cast<int>(i + 1), args[i].second);
    } else {
      select.Bind(static_cast<int>(i + 1), args[i].first);
    }
  }
  struct Found {
    int64_t model_id, create_us;
    VersionRow row;
  };
  std::vector<Found> found;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool more, select.Step());
    if (!more) break;
    Found f{select.ColumnInt(0), select.ColumnInt(1), {}};
    MLC_RETURN_IF_ERROR(ParseBody(select, 2, db_->path(), &f.row.body, &f.row.artifact_id,
                                  &f.row.parent_model_id, &f.row.parent_version));
    found.push_back(std::move(f));
  }
  select.Reset();
  v1::ListModelVersionsBuiltFromResponse response;
  const bool more = static_cast<int>(found.size()) > r.page_size();
  if (more) found.resize(static_cast<size_t>(r.page_size()));
  std::map<int64_t, ModelRow> models;
  for (const Found& f : found) {
    auto it = models.find(f.model_id);
    if (it == models.end()) {
      MLC_ASSIGN_OR_RETURN(ModelRow m, LoadModelByIdLocked(f.model_id));
      it = models.emplace(f.model_id, std::move(m)).first;
    }
    MLC_ASSIGN_OR_RETURN(*response.add_versions(), VersionProtoLocked(it->second, f.row));
  }
  if (more && !found.empty()) {
    const Found& last = found.back();
    response.set_next_page_token(EncodePageToken(std::to_string(last.create_us) + "/" +
                                                     std::to_string(last.model_id) + "/" +
                                                     std::to_string(last.row.body.version()),
                                                 "built-from"));
  }
  return response;
}

#undef MLC_VERSION_COLUMNS

}  // namespace mlcore::local
