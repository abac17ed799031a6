// The local backend's model registry store: registered models, their tags, versions, aliases and
// the registry event log, in `<state>/registry.db` (SQLite, WAL, synchronous=FULL).
//
// Every change runs in one IMMEDIATE transaction that checks `expected_version`, applies the
// change, increments the model's `resource_version`, and appends its RegistryEvent, so the event
// log never disagrees with the state and concurrent writers (threads or processes) serialize.
// Reads used on hot paths (ResolveModelUri, GetModelVersion) run prepared statements cached per
// connection over indexed lookups.
//
// The store knows nothing of runs, jobs or artifacts: LocalBackend resolves a version's source
// into a NewModelVersion first, and decorates lineage with display names. It does check what it
// owns: project/model/version existence, naming conflicts, statuses and `expected_version`.
//
// Thread safety: all methods may be called concurrently (one connection, serialized by a mutex);
// several processes may share the file.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "local/sqlite_store.h"
#include "mlcore/status.h"
#include "mlcore/v1/registry.pb.h"
#include "registry/model_uri.h"

namespace mlcore::local {

// The registry store's schema, as ordered migrations.
const std::vector<sqlite::Migration>& RegistryMigrations();

// A version ready to be recorded: everything resolved from its source.
struct NewModelVersion {
  // project, model, source, status (READY or PENDING_UPLOAD), manifest_digest, size_bytes, run_id,
  // job_id, input_datasets, metrics, metadata, description, source_code, created_by and
  // parent_model_version (kind MODEL_VERSION, project set). The store assigns the number and the
  // create time.
  v1::ModelVersion version;
  // The artifact holding its files (for lineage and ListModelVersionsBuiltFrom); empty for uploads.
  std::string artifact_id;
  // Idempotency key; empty = none. A key seen before for the model returns that version.
  std::string request_id;
  // The model's resource_version the caller last saw; 0 = unconditional.
  int64_t expected_version = 0;
};

class RegistryStore {
 public:
  // Opens (creating when missing) the store at `path`.
  static Result<std::unique_ptr<RegistryStore>> Open(const std::string& path);
  ~RegistryStore();

  // --- Models (callers have validated names and checked that the project exists). `actor` is who
  // makes the change, recorded in events. ---

  // Errors: ALREADY_EXISTS.
  Result<v1::RegisteredModel> CreateModel(const v1::RegisteredModel& model,
                                          const std::string& actor);
  // With tags, aliases and latest_version. Errors: NOT_FOUND.
  Result<v1::RegisteredModel> GetModel(const std::string& project, const std::string& name);
  // Filter and order as in registry/model_filter.h; `page_size` already resolved (1-1000).
  // Errors: INVALID_ARGUMENT (filter, order, page token).
  Result<v1::ListRegisteredModelsResponse> ListModels(const v1::ListRegisteredModelsRequest& r);
  // Emits MODEL_UPDATED when something changed. Errors: NOT_FOUND, ABORTED.
  Result<v1::RegisteredModel> UpdateModel(const v1::UpdateRegisteredModelRequest& r,
                                          const std::string& actor);
  // Emits MODEL_RENAMED. Renaming to the current name changes nothing. Errors: NOT_FOUND,
  // ALREADY_EXISTS, ABORTED.
  Result<v1::RegisteredModel> RenameModel(const v1::RenameRegisteredModelRequest& r,
                                          const std::string& actor);
  // Deletes the model, its versions, tags and aliases; emits MODEL_DELETED. Errors: NOT_FOUND,
  // FAILED_PRECONDITION (aliases exist and not `force`; the message lists them), ABORTED.
  Status DeleteModel(const v1::DeleteRegisteredModelRequest& r, const std::string& actor);
  // Number of models of `project`.
  Result<int64_t> CountModels(const std::string& project);
  // (project, manifest digest) of every READY version: garbage collection keeps the files of
  // versions whose manifest no artifact references (uploads, sub-paths of artifacts), and a store
  // from before per-project visibility makes them visible to the versions' projects.
  Result<std::vector<std::pair<std::string, std::string>>> VersionManifests();

  // --- Versions ---

  // The version created earlier with `request_id` for the model, if any (NOT_FOUND otherwise).
  Result<v1::ModelVersion> FindVersionByRequestId(const std::string& project,
                                                  const std::string& model,
                                                  const std::string& request_id);
  // Records the next version; emits VERSION_CREATED. Errors: NOT_FOUND (model, parent version),
  // ABORTED.
  Result<v1::ModelVersion> CreateVersion(const NewModelVersion& v, const std::string& actor);
  // READY with `manifest_digest` (of `size_bytes`), or FAILED with `failure_message`; emits
  // VERSION_READY or VERSION_FAILED. The same outcome again returns the version unchanged.
  // Errors: NOT_FOUND, FAILED_PRECONDITION (not PENDING_UPLOAD, or finished differently).
  Result<v1::ModelVersion> FinishUpload(const v1::FinishModelVersionUploadRequest& r,
                                        int64_t size_bytes, const std::string& actor);
  // Errors: NOT_FOUND (model or version).
  Result<v1::ModelVersion> GetVersion(const std::string& project, const std::string& model,
                                      int64_t version);
  // Highest number first. Errors: NOT_FOUND (model), INVALID_ARGUMENT (page token).
  Result<v1::ListModelVersionsResponse> ListVersions(const v1::ListModelVersionsRequest& r);
  // The version `uri` names now; `uri.project` must be set. Errors: NOT_FOUND (model, version,
  // alias — listing the model's aliases), FAILED_PRECONDITION (not READY).
  Result<v1::ModelVersion> Resolve(const registry::ModelUri& uri);

  // --- Aliases ---

  // Errors: NOT_FOUND (model, version), FAILED_PRECONDITION (version not READY), ABORTED.
  Result<v1::SetModelAliasResponse> SetAlias(const v1::SetModelAliasRequest& r,
                                             const std::string& actor);
  // Errors: NOT_FOUND (model, alias), ABORTED.
  Result<v1::DeleteModelAliasResponse> DeleteAlias(const v1::DeleteModelAliasRequest& r,
                                                   const std::string& actor);

  // --- Lineage (ids only; the caller adds display names) ---

  // The version, its run, job, code, datasets, artifact and parents to `depth` (1-100).
  // Errors: NOT_FOUND.
  Result<v1::ModelVersionLineage> Lineage(const std::string& project, const std::string& model,
                                          int64_t version, int depth);
  // Versions built from `r.source` (RUN, JOB, DATASET, ARTIFACT, MODEL_VERSION), newest first;
  // `page_size` already resolved. Errors: INVALID_ARGUMENT (kind, page token).
  Result<v1::ListModelVersionsBuiltFromResponse> BuiltFrom(
      const v1::ListModelVersionsBuiltFromRequest& r);

  // --- Events ---

  // Events of `project` with a sequence above `after_sequence`, oldest first, at most `limit`
  // (<= 0: 1000), only of `models` and `types` when those are non-empty.
  Result<std::vector<v1::RegistryEvent>> ListEvents(const std::string& project,
                                                    int64_t after_sequence,
                                                    const std::vector<std::string>& models,
                                                    const std::vector<v1::RegistryEventType>& types,
                                                    int limit = 0);

  // Highest sequence in the log of `project` (0 when empty): where a watch of new events starts.
  Result<int64_t> LastEventSequence(const std::string& project);

  // --- Webhooks and their deliveries (registry_webhooks.cc). Deliveries are queued by the
  // transaction that appends an event, one per enabled webhook of the project whose filters match.

  // Stores `hook` as given (id, create_time and created_by set by the caller).
  Status CreateWebhook(const v1::Webhook& hook);
  // Errors: NOT_FOUND.
  Result<v1::Webhook> GetWebhook(const std::string& id);
  // Ordered by creation; `page_size` already resolved. Errors: INVALID_ARGUMENT (page token).
  Result<v1::ListWebhooksResponse> ListWebhooks(const std::string& project, int page_size,
                                                const std::string& page_token);
  // Deletes the webhook and its unfinished deliveries; finished ones stay in the log.
  // Errors: NOT_FOUND.
  Status DeleteWebhook(const std::string& id);
  // Newest first; `page_size` already resolved. Errors: INVALID_ARGUMENT (page token).
  Result<v1::ListWebhookDeliveriesResponse> ListDeliveries(
      const v1::ListWebhookDeliveriesRequest& r, int page_size);
  // Appends a finished delivery made outside the queue (TestWebhook's PING) to the log.
  Status RecordDelivery(const v1::WebhookDelivery& delivery);

  // A queued delivery whose attempt is due, with what it needs.
  struct DueDelivery {
    v1::WebhookDelivery delivery;
    v1::Webhook webhook;
    v1::RegistryEvent event;
  };
  // For each webhook, its oldest unfinished delivery (so a webhook's events go out in order),
  // when that one is due at `now_us`.
  Result<std::vector<DueDelivery>> DueDeliveries(int64_t now_us);
  // When the earliest unfinished delivery is due; 0 when there is none.
  Result<int64_t> NextDeliveryDue();
  // Records an attempt's outcome; `due_us` is the next attempt for RETRYING.
  Status UpdateDelivery(const v1::WebhookDelivery& delivery, int64_t due_us);
  // True once after a change queued deliveries (whoever delivers should be woken).
  bool TakeDeliveriesQueued() { return deliveries_queued_.exchange(false); }

  const std::string& path() const { return db_->path(); }

 private:
  // A models row.
  struct ModelRow {
    int64_t id = 0;
    std::string project, name, description, created_by;
    int64_t create_us = 0, update_us = 0, resource_version = 0, latest_version = 0;
  };
  // A prepared statement from the connection's cache, reset when the Query goes out of scope.
  using Query = sqlite::CachedStatement;

  explicit RegistryStore(std::unique_ptr<sqlite::Db> db) : db_(std::move(db)) {}
  Result<Query> Prepare(const char* sql);

  // Row helpers (registry_store.cc); callers hold mu_.
  Result<ModelRow> LoadModelLocked(const std::string& project, const std::string& name);
  Result<ModelRow> LoadModelByIdLocked(int64_t id);
  Result<v1::RegisteredModel> ModelProtoLocked(const ModelRow& row);
  Status CheckExpectedVersion(const ModelRow& row, int64_t expected_version) const;
  // Sets the model's update time and increments its resource_version; returns the new value.
  Result<int64_t> TouchModelLocked(const ModelRow& row, int64_t now_us);
  // Appends an event (project, model, type, actor, time set by the caller's fields here).
  Status AppendEventLocked(v1::RegistryEvent event, int64_t now_us);
  // Queues a delivery of `event` (sequence set) to every enabled webhook of its project whose
  // filters match (registry_webhooks.cc).
  Status EnqueueDeliveriesLocked(const v1::RegistryEvent& event, int64_t now_us);
  // "champion -> 3, production -> 2"; empty when the model has none.
  Result<std::string> AliasSummaryLocked(int64_t model_id);

  // A versions row: the stored body plus the columns kept beside it.
  struct VersionRow {
    v1::ModelVersion body;  // without project, model, aliases and legacy_stage
    std::string artifact_id;
    int64_t parent_model_id = 0, parent_version = 0;  // 0 = no parent
  };

  // Version helpers (registry_versions.cc); callers hold mu_.
  Result<VersionRow> LoadVersionRowLocked(const ModelRow& model, int64_t version);
  // The row as the API shows it: project, model, aliases, legacy stage, the parent's current name.
  Result<v1::ModelVersion> VersionProtoLocked(const ModelRow& model, const VersionRow& row);
  Result<v1::ModelVersion> LoadVersionLocked(const ModelRow& model, int64_t version);
  Result<v1::ModelVersionLineage> LineageLocked(const ModelRow& model, int64_t version, int depth);

  std::mutex mu_;
  std::atomic<bool> deliveries_queued_{false};
  std::unique_ptr<sqlite::Db> db_;
};

}  // namespace mlcore::local
