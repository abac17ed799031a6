// Values in and out of a step's job (see pipeline_step_io.h).
#include "pipelines/pipeline_step_io.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <nlohmann/json.hpp>

#include "mlcore/client.h"
#include "util/fs.h"
#include "util/sha256.h"

namespace mlcore::pipelines {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr size_t kMaxParameterBytes = size_t{1} << 20;

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

v1::ParameterType EffectiveParamType(v1::ParameterType t) {
  return t == v1::PARAMETER_TYPE_UNSPECIFIED ? v1::PARAMETER_TYPE_STRING : t;
}

std::string DeterministicBytes(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

}  // namespace

Result<std::string> ParameterJsonOfText(const v1::IoSpec& io, const std::string& text,
                                        const std::string& what) {
  const v1::ParameterType type = EffectiveParamType(io.parameter_type());
  Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (type == v1::PARAMETER_TYPE_STRING) {
    if (value.is_string()) return value.dump();
    return Json(text).dump();
  }
  if (value.is_discarded()) {
    return InvalidArgumentError(what + " must be JSON of type " +
                                Upper(v1::ParameterType_Name(type)).substr(15) + ", got \"" + text +
                                "\"");
  }
  bool ok = false;
  switch (type) {
    case v1::PARAMETER_TYPE_INT:
      ok = value.is_number_integer() ||
           (value.is_number_float() && value.get<double>() == static_cast<int64_t>(value));
      break;
    case v1::PARAMETER_TYPE_DOUBLE:
      ok = value.is_number();
      break;
    case v1::PARAMETER_TYPE_BOOL:
      ok = value.is_boolean();
      break;
    case v1::PARAMETER_TYPE_LIST:
      ok = value.is_array();
      break;
    case v1::PARAMETER_TYPE_STRUCT:
      ok = value.is_object();
      break;
    default:
      ok = true;
  }
  if (!ok) {
    return InvalidArgumentError(what + " is not a valid " +
                                std::string(v1::ParameterType_Name(type)).substr(15) + ": " + text);
  }
  return value.dump();
}

// What a step sees of a parameter: the text of a string, JSON otherwise.
std::string InputEnvName(const std::string& input) { return "MLC_INPUT_" + Upper(input); }

std::string ParameterEnvText(const std::string& json_text) {
  Json value = Json::parse(json_text, nullptr, false);
  if (value.is_string()) return value.get<std::string>();
  return json_text;
}

std::string CacheKey(const v1::Step& step, const v1::StepRun& sr) {
  std::string material = "mlcore.pipeline-step/1\n";
  v1::JobSpec job = step.job();
  job.clear_name();
  material += DeterministicBytes(job);
  for (const auto& out : step.outputs()) material += "\nout:" + DeterministicBytes(out);
  std::vector<const v1::IoValue*> inputs;
  for (const auto& in : sr.inputs()) inputs.push_back(&in);
  std::sort(inputs.begin(), inputs.end(),
            [](const auto* a, const auto* b) { return a->name() < b->name(); });
  for (const v1::IoValue* in : inputs) {
    material += "\nin:" + in->name() + ":" + std::to_string(in->type()) + ":";
    if (in->type() == v1::IO_TYPE_ARTIFACT && !in->manifest_digest().empty()) {
      material += in->manifest_digest();
    } else if (in->type() == v1::IO_TYPE_DATASET) {
      material += in->dataset().uri() + "@" + in->dataset().digest();
    } else {
      material += in->parameter_json();
      for (const auto& [k, v] : std::map(in->metrics().begin(), in->metrics().end())) {
        material += k + "=" + std::to_string(v) + ";";
      }
    }
  }
  return util::Sha256Hex(material);
}

// Replaces {{inputs.NAME}} in `text` with the inputs' values.
std::string Substitute(std::string text, const std::map<std::string, std::string>& values) {
  size_t pos = 0;
  while ((pos = text.find("{{", pos)) != std::string::npos) {
    size_t end = text.find("}}", pos);
    if (end == std::string::npos) break;
    std::string inner = text.substr(pos + 2, end - pos - 2);
    inner.erase(0, inner.find_first_not_of(' '));
    inner.erase(inner.find_last_not_of(' ') + 1);
    if (inner.starts_with("inputs.")) {
      auto it = values.find(inner.substr(7));
      const std::string replacement = it == values.end() ? "" : it->second;
      text.replace(pos, end + 2 - pos, replacement);
      pos += replacement.size();
    } else {
      pos = end + 2;
    }
  }
  return text;
}

Status MaterializeInput(Client& client, const std::string& project, const v1::IoValue& value,
                        const std::string& dir, std::string* env_value) {
  switch (value.type()) {
    case v1::IO_TYPE_PARAMETER:
      *env_value = ParameterEnvText(value.parameter_json());
      return Status::Ok();
    case v1::IO_TYPE_METRICS: {
      if (!value.parameter_json().empty()) {
        *env_value = value.parameter_json();
        return Status::Ok();
      }
      Json m = Json::object();
      for (const auto& [k, v] : value.metrics()) m[k] = v;
      *env_value = m.dump();
      return Status::Ok();
    }
    case v1::IO_TYPE_DATASET: {
      v1::LoadRequest load;
      load.set_project(project);
      load.set_uri(value.dataset().uri());
      load.set_digest(value.dataset().digest());
      MLC_ASSIGN_OR_RETURN(v1::LoadResponse loaded, client.LoadData(load));
      *env_value = loaded.local_path();
      return Status::Ok();
    }
    case v1::IO_TYPE_ARTIFACT: {
      std::error_code ec;
      fs::remove_all(dir, ec);
      auto fetch = [&](const std::string& artifact_id,
                       const std::string& dest) -> Result<std::string> {
        MLC_ASSIGN_OR_RETURN(v1::Artifact artifact, client.GetArtifact(artifact_id));
        MLC_ASSIGN_OR_RETURN(v1::Manifest manifest, client.DownloadArtifact(artifact_id, dest));
        auto kind = artifact.labels().find("mlc.io");
        if (kind != artifact.labels().end() && kind->second == "file" &&
            manifest.entries_size() == 1) {
          return dest + "/" + manifest.entries(0).path();
        }
        return dest;
      };
      if (!value.artifact_id().empty()) {
        MLC_ASSIGN_OR_RETURN(*env_value, fetch(value.artifact_id(), dir));
        return Status::Ok();
      }
      // A list of artifacts (the outputs of a parallel-for): one subdirectory per element.
      Json list = Json::parse(value.parameter_json(), nullptr, false);
      MLC_RETURN_IF_ERROR(util::EnsureDirectory(dir, "a step's input directory"));
      if (list.is_array()) {
        for (size_t i = 0; i < list.size(); ++i) {
          if (!list[i].is_object()) continue;
          MLC_RETURN_IF_ERROR(
              fetch(list[i].value("artifact_id", ""), dir + "/" + std::to_string(i)).status());
        }
      }
      *env_value = dir;
      return Status::Ok();
    }
    default:
      return Status::Ok();
  }
}

Status CollectStepOutputs(Client& client, const v1::PipelineRun& run, const v1::Step& step,
                          const v1::Job& job, const std::string& dir, v1::StepRun& sr) {
  sr.clear_outputs();
  v1::MetricBatch metrics;
  for (const auto& io : step.outputs()) {
    const std::string path = dir + "/" + io.name();
    std::error_code ec;
    const auto status = fs::symlink_status(path, ec);
    if (ec || !fs::exists(status)) {
      if (io.optional()) continue;
      return FailedPreconditionError("its job succeeded but did not write output " + io.name() +
                                     " ($MLC_OUTPUT_DIR/" + io.name() + ")");
    }
    v1::IoValue value;
    value.set_name(io.name());
    value.set_type(io.type());
    auto read_small = [&]() -> Result<std::string> {
      if (!fs::is_regular_file(status)) {
        return InvalidArgumentError("output " + io.name() + " must be a file holding its value");
      }
      if (fs::file_size(path, ec) > kMaxParameterBytes) {
        return InvalidArgumentError("output " + io.name() +
                                    " is larger than 1 MiB; pass it as an "
                                    "artifact instead");
      }
      return util::ReadFile(path);
    };
    switch (io.type()) {
      case v1::IO_TYPE_PARAMETER: {
        MLC_ASSIGN_OR_RETURN(std::string text, read_small());
        if (EffectiveParamType(io.parameter_type()) == v1::PARAMETER_TYPE_STRING && !text.empty() &&
            text.back() == '\n' && !Json::parse(text, nullptr, false).is_string()) {
          text.pop_back();
        }
        MLC_ASSIGN_OR_RETURN(std::string json,
                             ParameterJsonOfText(io, text, "output " + io.name()));
        value.set_parameter_json(json);
        break;
      }
      case v1::IO_TYPE_METRICS: {
        MLC_ASSIGN_OR_RETURN(std::string text, read_small());
        Json m = Json::parse(text, nullptr, false);
        if (!m.is_object()) {
          return InvalidArgumentError(
              "output " + io.name() +
              " must be a JSON object of numbers, got: " + text.substr(0, 80));
        }
        for (const auto& [k, v] : m.items()) {
          if (!v.is_number()) {
            return InvalidArgumentError("output " + io.name() + ": metric " + k +
                                        " is not a number");
          }
          (*value.mutable_metrics())[k] = v.get<double>();
          v1::MetricSeries* series = metrics.add_metrics();
          series->set_key(k);
          series->add_values(v.get<double>());
          series->add_steps(0);
        }
        break;
      }
      case v1::IO_TYPE_DATASET: {
        MLC_ASSIGN_OR_RETURN(std::string text, read_small());
        while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
        value.mutable_dataset()->set_uri(text);
        break;
      }
      case v1::IO_TYPE_ARTIFACT: {
        v1::ObjectRef owner;
        owner.set_project(run.project());
        if (!job.run_id().empty()) {
          owner.set_kind(v1::OBJECT_KIND_RUN);
          owner.set_id(job.run_id());
        } else {
          owner.set_kind(v1::OBJECT_KIND_JOB);
          owner.set_id(job.id());
        }
        std::map<std::string, std::string> labels = {
            {"mlc.io", fs::is_directory(status) ? "dir" : "file"},
            {"mlc.pipeline-run", run.id()},
            {"mlc.pipeline-step", step.name()}};
        std::string artifact_path = io.name();
        if (sr.has_iteration()) artifact_path += "-" + std::to_string(sr.iteration());
        auto logged =
            client.LogArtifact(owner, path, artifact_path, v1::ARTIFACT_KIND_UNSPECIFIED, labels);
        if (!logged.ok() && logged.status().code() == StatusCode::kAlreadyExists) {
          // The driver stopped after storing it last time: find it again.
          v1::ListArtifactsRequest list;
          *list.mutable_owner() = owner;
          list.set_project(run.project());
          MLC_ASSIGN_OR_RETURN(auto listed, client.ListArtifacts(list));
          for (const auto& a : listed.artifacts()) {
            if (a.path() == artifact_path) logged = a;
          }
        }
        MLC_RETURN_IF_ERROR(logged.status());
        value.set_artifact_id(logged->id());
        value.set_manifest_digest(logged->manifest_digest());
        break;
      }
      default:
        break;
    }
    *sr.add_outputs() = std::move(value);
  }
  if (metrics.metrics_size() > 0 && !job.run_id().empty()) {
    metrics.set_run_id(job.run_id());
    client.LogBatch(metrics).status().IgnoreError();
  }
  return Status::Ok();
}

}  // namespace mlcore::pipelines
