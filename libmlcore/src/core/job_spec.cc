#include "core/job_spec.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>
#include <utility>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/duration.pb.h>

#include "core/validation.h"
#include "mlcore/resources.h"
#include "util/fs.h"

namespace mlcore {
namespace {

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

std::string Index(std::string_view path, int i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool IsAlpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

// Label keys and values: letters, digits, '-', '_', '.' (keys also '/'), alphanumeric at both
// ends, at most 63 characters; values may be empty.
bool IsLabelText(std::string_view s, bool key) {
  if (s.empty()) return !key;
  if (s.size() > kMaxNameLength || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [key](char c) {
    return IsAlnum(c) || c == '-' || c == '_' || c == '.' || (key && c == '/');
  });
}

// Environment names that probably hold a secret value.
bool LooksLikeSecret(std::string_view name) {
  std::string upper(name);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const char* word : {"TOKEN", "SECRET", "PASSWORD", "PASSWD", "API_KEY", "APIKEY",
                           "ACCESS_KEY", "PRIVATE_KEY", "CREDENTIAL"}) {
    if (upper.find(word) != std::string::npos) return true;
  }
  return false;
}

// Collects semantic problems in check order.
class Checker {
 public:
  explicit Checker(const LintContext& ctx) : ctx_(ctx) {}

  std::vector<v1::LintProblem> Run(const v1::JobSpec& spec) {
    CheckCommand(spec);
    CheckNames(spec);
    CheckSize(spec);
    if (spec.replicas() < 0) {
      Error("invalid_value", "replicas",
            "replicas is " + std::to_string(spec.replicas()) + "; it must be at least 1",
            "leave it out for one replica");
    }
    if (!spec.priority_class().empty() && !ctx_.known_priority_classes.empty()) {
      CheckKnown("unknown_priority_class", "priority_class", "priority class",
                 spec.priority_class(), ctx_.known_priority_classes);
    }
    if (spec.has_deadline()) CheckDuration("deadline", spec.deadline(), "no deadline");
    if (spec.has_ttl()) CheckDuration("ttl", spec.ttl(), "no time-to-live");
    if (spec.has_termination_grace_period()) {
      CheckDuration("termination_grace_period", spec.termination_grace_period(),
                    "the default of 30s");
    }
    if (spec.has_retry()) CheckRetry(spec.retry());
    CheckEnvironment(spec);
    CheckLabels("labels", spec.labels());
    CheckLabels("node_selector", spec.node_selector());
    CheckPaths(spec);
    return std::move(problems_);
  }

 private:
  void Add(v1::LintSeverity severity, std::string_view code, std::string_view path,
           std::string message, std::string suggestion) {
    problems_.push_back(
        MakeLintProblem(code, path, std::move(message), std::move(suggestion), severity));
  }
  void Error(std::string_view code, std::string_view path, std::string message,
             std::string suggestion = {}) {
    Add(v1::LINT_SEVERITY_ERROR, code, path, std::move(message), std::move(suggestion));
  }
  void Warning(std::string_view code, std::string_view path, std::string message,
               std::string suggestion = {}) {
    Add(v1::LINT_SEVERITY_WARNING, code, path, std::move(message), std::move(suggestion));
  }

  void CheckCommand(const v1::JobSpec& spec) {
    if (spec.command().empty() && spec.entrypoint().empty()) {
      Error("missing_command", "command", "the job has no command: set command (or entrypoint)",
            "e.g. command: [\"python\", \"train.py\"]");
    }
    for (int i = 0; i < spec.command_size(); ++i) {
      if (spec.command(i).empty()) {
        Error("invalid_value", Index("command", i),
              "command item " + std::to_string(i) + " is empty; remove it or give it a value");
      }
    }
  }

  void CheckNames(const v1::JobSpec& spec) {
    if (!spec.name().empty()) {
      Status s = ValidateName("job", spec.name());
      if (s.ok() && !IsAlpha(spec.name()[0])) {
        s = InvalidArgumentError("job name " + Quote(spec.name()) + " must start with a letter");
      }
      if (!s.ok()) {
        Error("invalid_name", "name", s.message(), "leave it out to get a generated name");
      }
    }
    if (!spec.project().empty()) {
      Status s = ValidateProjectName(spec.project());
      if (!s.ok()) Error("invalid_name", "project", s.message());
    } else if (ctx_.require_project) {
      Error("invalid_value", "project", "the job names no project",
            "add project: NAME or select a context with a default project");
    }
  }

  void CheckSize(const v1::JobSpec& spec) {
    if (spec.has_flavor()) {
      if (spec.flavor().empty()) {
        Error("unknown_flavor", "flavor", "flavor is empty",
              ctx_.known_flavors.empty() ? "leave it out for the default flavor"
                                         : "known flavors: " + Join(ctx_.known_flavors));
      } else if (!ctx_.known_flavors.empty()) {
        CheckKnown("unknown_flavor", "flavor", "flavor", spec.flavor(), ctx_.known_flavors);
      }
    }
    if (spec.has_resources()) {
      const v1::Resources& r = spec.resources();
      if (!ctx_.allow_raw_resources) {
        Error("resources_not_allowed", "resources",
              "this backend's catalog does not accept raw resources; name a flavor instead",
              ctx_.known_flavors.empty() ? std::string()
                                         : "known flavors: " + Join(ctx_.known_flavors));
      }
      if (r.cpu_millis() < 0 || r.memory_bytes() < 0 || r.gpu() < 0) {
        Error(
            "invalid_value", "resources",
            "resources have a negative amount (" + FormatResources(r) + "); amounts must be >= 0");
      }
      if (!r.gpu_model().empty() && r.gpu() == 0) {
        Warning("invalid_value", "resources.gpu_model",
                "gpu_model " + Quote(r.gpu_model()) + " is set but gpu is 0",
                "set gpu to the number of devices");
      }
    }
  }

  void CheckKnown(std::string_view code, std::string_view path, std::string_view what,
                  const std::string& value, const std::vector<std::string>& known) {
    if (std::find(known.begin(), known.end(), value) != known.end()) return;
    std::string guess = ClosestMatch(value, known);
    std::string plural = std::string(what) + (what.ends_with("class") ? "es" : "s");
    Error(code, path, "unknown " + std::string(what) + " " + Quote(value),
          (guess.empty() ? "" : "did you mean " + Quote(guess) + "? ") + "known " + plural + ": " +
              Join(known));
  }

  void CheckDuration(const std::string& path, const google::protobuf::Duration& d,
                     std::string_view zero_means) {
    const bool valid = d.nanos() > -1000000000 && d.nanos() < 1000000000 &&
                       !(d.seconds() > 0 && d.nanos() < 0) && !(d.seconds() < 0 && d.nanos() > 0);
    if (!valid) {
      Error("invalid_duration", path, path + " is not a valid duration",
            "write it like 90s, 15m or 1h30m");
    } else if (d.seconds() < 0 || d.nanos() < 0) {
      Error("invalid_duration", path,
            path + " is negative (" + FormatDurationText(d) + "); it must be positive",
            "write it like 90s, 15m or 1h30m");
    } else if (d.seconds() == 0 && d.nanos() == 0) {
      Warning("invalid_duration", path, path + " is 0, which means " + std::string(zero_means),
              "leave it out or give a positive duration");
    }
  }

  void CheckRetry(const v1::RetryPolicy& retry) {
    if (retry.max_restarts() < 0) {
      Error("invalid_value", "retry.max_restarts",
            "retry.max_restarts is " + std::to_string(retry.max_restarts()) +
                "; it must be 0 (never restart) or more");
    }
    for (int i = 0; i < retry.retry_exit_codes_size(); ++i) {
      int code = retry.retry_exit_codes(i);
      std::string path = Index("retry.retry_exit_codes", i);
      if (code < 0 || code > 255) {
        Error("invalid_exit_code", path,
              "exit code " + std::to_string(code) + " is out of range; exit codes are 0 to 255",
              "a process killed by signal N exits with 128+N, e.g. 137 for SIGKILL");
      } else if (code == 0) {
        Warning("invalid_exit_code", path, "exit code 0 means success and never causes a restart",
                "remove it");
      }
    }
    if (retry.max_restarts() == 0 && retry.retry_exit_codes_size() > 0) {
      Warning("invalid_value", "retry.max_restarts",
              "retry.retry_exit_codes has no effect while retry.max_restarts is 0",
              "set retry.max_restarts to the number of restarts allowed");
    }
    if (retry.has_initial_backoff()) {
      CheckDuration("retry.initial_backoff", retry.initial_backoff(), "the default of 10s");
    }
    if (retry.has_max_backoff()) {
      CheckDuration("retry.max_backoff", retry.max_backoff(), "the default of 10m");
    }
    double m = retry.backoff_multiplier();
    if (!std::isfinite(m) || (m != 0 && m < 1)) {
      Error("invalid_value", "retry.backoff_multiplier",
            "retry.backoff_multiplier must be at least 1 (0 = the default 2.0)");
    }
  }

  void CheckEnvironment(const v1::JobSpec& spec) {
    std::map<std::string, std::string> env(spec.env().begin(), spec.env().end());  // sorted
    for (const auto& [name, value] : env) {
      std::string path = "env." + name;
      if (!IsEnvName(name)) {
        Error("invalid_env_name", path, "invalid environment variable name " + Quote(name),
              "use letters, digits and '_', not starting with a digit");
      } else if (LooksLikeSecret(name) && !value.empty()) {
        Warning(
            "secret_in_env", path,
            "environment variable " + name + " looks like a secret written in clear",
            "move it to secrets: [{name: " + name + ", source: env}] so its value is never stored");
      }
    }
    std::set<std::string> names;
    for (int i = 0; i < spec.secrets_size(); ++i) {
      const v1::SecretRef& s = spec.secrets(i);
      const std::string path = Index("secrets", i);
      if (s.name().empty()) {
        Error("invalid_secret", path + ".name", "secret " + std::to_string(i) + " has no name",
              "set name: the environment variable the job sees, e.g. HF_TOKEN");
      } else if (!IsEnvName(s.name()) || s.name().size() > 128) {
        Error("invalid_secret", path + ".name", "invalid secret name " + Quote(s.name()),
              "use 1-128 letters, digits and '_', not starting with a digit");
      } else if (!names.insert(s.name()).second) {
        Error("invalid_secret", path + ".name", "secret " + s.name() + " is listed twice",
              "keep one of the two");
      } else if (spec.env().contains(s.name())) {
        Error("invalid_secret", path + ".name", s.name() + " is both a secret and an env variable",
              "remove it from env");
      }
      const std::string label = s.name().empty() ? "secret " + std::to_string(i) : s.name();
      if (s.source() == v1::SECRET_SOURCE_UNSPECIFIED) {
        Error("invalid_secret", path + ".source", "secret " + label + " has no source",
              "set source: env to read it from the submitter's environment, or source: file "
              "with a path");
      } else if (s.source() == v1::SECRET_SOURCE_FILE && s.path().empty()) {
        Error("invalid_secret", path + ".path", "secret " + label + " reads a file but has no path",
              "set path: to a secrets file, dotenv or YAML, readable only by you");
      } else if (s.source() == v1::SECRET_SOURCE_ENV && !s.path().empty()) {
        Error("invalid_secret", path + ".path",
              "secret " + label + " has a path but its source is env",
              "remove path or use source: file");
      }
      if (s.source() == v1::SECRET_SOURCE_ENV && !s.key().empty() && !IsEnvName(s.key())) {
        Error("invalid_secret", path + ".key",
              "invalid environment variable name " + Quote(s.key()),
              "use letters, digits and '_', not starting with a digit");
      }
    }
  }

  template <typename Map>
  void CheckLabels(const std::string& field, const Map& labels) {
    std::map<std::string, std::string> sorted(labels.begin(), labels.end());
    for (const auto& [key, value] : sorted) {
      std::string path = field + "." + key;
      if (!IsLabelText(key, true)) {
        Error("invalid_label", path, "invalid " + field + " key " + Quote(key),
              "use 1-63 letters, digits, '-', '_', '.' or '/', starting and ending with a letter "
              "or digit");
      } else if (!IsLabelText(value, false)) {
        Error("invalid_label", path,
              "invalid value " + Quote(value) + " for " + field + " key " + Quote(key),
              "use up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or "
              "digit");
      }
    }
  }

  void CheckPaths(const v1::JobSpec& spec) {
    if (!spec.working_dir().empty() && spec.working_dir().front() != '/') {
      Error("invalid_path", "working_dir",
            "working_dir " + Quote(spec.working_dir()) + " is not an absolute path",
            "use an absolute path, or leave it out for the submitter's current directory");
    }
    for (int i = 0; i < spec.output_paths_size(); ++i) {
      const std::string& p = spec.output_paths(i);
      std::string path = Index("output_paths", i);
      bool dotdot = false;
      for (size_t start = 0; start <= p.size();) {
        size_t end = std::min(p.find('/', start), p.size());
        dotdot = dotdot || p.compare(start, end - start, "..") == 0;
        start = end + 1;
      }
      if (p.empty()) {
        Error("invalid_path", path, "output path " + std::to_string(i) + " is empty");
      } else if (p.front() == '/' || p.front() == '~') {
        Error("invalid_path", path, "output path " + Quote(p) + " is absolute",
              "output paths are relative to the job's working directory");
      } else if (dotdot) {
        Error("invalid_path", path, "output path " + Quote(p) + " leaves the working directory",
              "remove the \"..\" components");
      }
    }
    for (int i = 0; i < spec.input_datasets_size(); ++i) {
      const v1::DatasetRef& d = spec.input_datasets(i);
      std::string path = Index("input_datasets", i);
      size_t colon = d.uri().find(':');
      bool scheme =
          colon != std::string::npos && colon > 0 && IsAlpha(d.uri()[0]) &&
          std::all_of(d.uri().begin(), d.uri().begin() + static_cast<long>(colon),
                      [](char c) { return IsAlnum(c) || c == '+' || c == '.' || c == '-'; });
      if (!scheme) {
        Error("invalid_uri", path + ".uri",
              d.uri().empty() ? "input dataset " + std::to_string(i) + " has no uri"
                              : "dataset uri " + Quote(d.uri()) + " has no scheme",
              "write it with a scheme: file:///data/train, https://..., artifact://...");
      }
      bool hex =
          d.digest().size() == 64 && std::all_of(d.digest().begin(), d.digest().end(), [](char c) {
            return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
          });
      if (!d.digest().empty() && !hex) {
        Error("invalid_value", path + ".digest",
              "dataset digest " + Quote(d.digest()) + " is not a SHA-256 digest",
              "write 64 lowercase hex characters, or leave it out to use what the uri holds now");
      }
      if (d.size_bytes() != 0) {
        Warning("invalid_value", path + ".size_bytes", "size_bytes is output only and is ignored",
                "remove it");
      }
    }
  }

  const LintContext& ctx_;
  std::vector<v1::LintProblem> problems_;
};

std::string Basename(std::string_view s) {
  size_t slash = s.find_last_of('/');
  return std::string(slash == std::string_view::npos ? s : s.substr(slash + 1));
}

}  // namespace

// The closest written position of `path`: itself, else its nearest parent, else the document.
SourcePosition FindPosition(const FieldPositions& positions, std::string path) {
  while (true) {
    if (auto it = positions.find(path); it != positions.end()) return it->second;
    if (path.empty()) return {};
    size_t cut = path.find_last_of(".[");
    path = cut == std::string::npos ? std::string() : path.substr(0, cut);
  }
}

bool Covers(const std::string& reported, const std::string& path) {
  if (reported.empty() || reported == path) return true;
  return path.starts_with(reported) &&
         (path[reported.size()] == '.' || path[reported.size()] == '[');
}

YamlToProtoOptions JobSpecYamlOptions(std::string_view file_name) {
  YamlToProtoOptions options;
  options.file = std::string(file_name);
  // `resources: cpu=4,memory=32Gi,gpu=1` as well as the mapping form.
  options.scalar_messages.emplace(
      v1::Resources::descriptor()->full_name(),
      [](std::string_view scalar, google::protobuf::Message* message) -> Status {
        MLC_ASSIGN_OR_RETURN(v1::Resources r, ParseResources(scalar));
        message->CopyFrom(r);
        return Status::Ok();
      });
  // A `value:` under a secret is refused without ever echoing it.
  options.unknown_field_hook = [](const google::protobuf::Descriptor& descriptor,
                                  std::string_view key,
                                  std::string_view) -> std::optional<v1::LintProblem> {
    if (descriptor.full_name() != v1::SecretRef::descriptor()->full_name()) return std::nullopt;
    std::string k = ToSnakeCase(key);
    if (k != "value" && k != "secret" && k != "password" && k != "token") return std::nullopt;
    return MakeLintProblem(
        "inline_secret", "",
        "a secret's value must not be written in a job spec; secrets must be referenced from the "
        "environment or a secrets file, never inlined",
        "remove \"" + std::string(key) +
            "\"; use source: env to read the variable named by key, which defaults to the "
            "secret's name, or source: file with path: a secrets file readable only by you");
  };
  return options;
}

Result<ParsedJobSpec> ParseJobSpecYaml(std::string_view text, std::string_view file_name) {
  if (text.size() > kMaxJobSpecBytes) {
    return InvalidArgumentError("job spec " + Quote(file_name) + " is " +
                                std::to_string(text.size()) + " bytes; the limit is " +
                                std::to_string(kMaxJobSpecBytes) + " (is it the right file?)");
  }
  YamlToProtoOptions options = JobSpecYamlOptions(file_name);
  ParsedJobSpec parsed;
  parsed.file = std::string(file_name);
  YamlToProtoResult result = YamlTextToProto(text, options, &parsed.spec);
  parsed.positions = std::move(result.positions);
  parsed.problems = std::move(result.problems);
  parsed.guessed_paths = std::move(result.guessed_paths);
  return parsed;
}

Result<ParsedJobSpec> ParseJobSpecFile(const std::string& path) {
  Result<std::string> text = util::ReadFile(path);
  if (!text.ok()) {
    Status s = text.status().WithContext("cannot load job spec");
    if (s.code() == StatusCode::kNotFound) {
      s = Status(s.code(), s.message() + " (relative paths start at the current directory)");
    }
    return s;
  }
  return ParseJobSpecYaml(*text, path);
}

std::vector<v1::LintProblem> LintJobSpec(const v1::JobSpec& spec, const LintContext& ctx) {
  return Checker(ctx).Run(spec);
}

std::vector<v1::LintProblem> LintJobSpec(const ParsedJobSpec& parsed, const LintContext& ctx) {
  std::vector<v1::LintProblem> out = parsed.problems;
  for (v1::LintProblem& p : LintJobSpec(parsed.spec, ctx)) {
    bool reported = std::any_of(parsed.problems.begin(), parsed.problems.end(), [&](const auto& y) {
      return y.code() != "unknown_field" && Covers(y.field_path(), p.field_path());
    });
    if (reported || parsed.guessed_paths.contains(p.field_path())) continue;
    SourcePosition pos = FindPosition(parsed.positions, p.field_path());
    p.set_file(parsed.file);
    p.set_line(pos.line);
    p.set_column(pos.column);
    out.push_back(std::move(p));
  }
  SortLintProblems(&out);
  return out;
}

bool HasLintErrors(const std::vector<v1::LintProblem>& problems) {
  return std::any_of(problems.begin(), problems.end(), [](const v1::LintProblem& p) {
    return p.severity() == v1::LINT_SEVERITY_ERROR;
  });
}

Status LintProblemsToStatus(const std::vector<v1::LintProblem>& problems) {
  auto errors = std::count_if(problems.begin(), problems.end(), [](const v1::LintProblem& p) {
    return p.severity() == v1::LINT_SEVERITY_ERROR;
  });
  if (errors == 0) return Status::Ok();
  std::string text = FormatLintProblems(problems);
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return InvalidArgumentError("job spec has " + std::to_string(errors) +
                              (errors == 1 ? " error:\n" : " errors:\n") + text);
}

std::string FormatLintProblems(const std::vector<v1::LintProblem>& problems) {
  std::string out;
  for (const v1::LintProblem& p : problems) {
    std::string where = p.file().empty() ? "<input>" : p.file();
    if (p.line() > 0) {
      where += ":" + std::to_string(p.line()) + ":" + std::to_string(p.column());
    } else if (p.file().empty()) {
      where = p.field_path().empty() ? "job spec" : p.field_path();
    }
    out += where;
    out += p.severity() == v1::LINT_SEVERITY_WARNING ? ": warning: " : ": error: ";
    out += p.message();
    if (!p.suggestion().empty()) out += " (" + p.suggestion() + ")";
    out += '\n';
  }
  return out;
}

Result<v1::JobSpec> JobSpecFromCommand(const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0].empty()) {
    return InvalidArgumentError(
        "no command given; put it after \"--\", e.g. mlc job submit -- python train.py --lr 0.1");
  }
  v1::JobSpec spec;
  spec.add_command(argv[0]);
  for (size_t i = 1; i < argv.size(); ++i) spec.add_args(argv[i]);
  return spec;
}

std::string JobNameBase(const v1::JobSpec& spec) {
  static const std::set<std::string> kLaunchers = {
      "python",   "python2",    "python3",   "py",     "pypy",    "pypy3",   "bash",      "sh",
      "zsh",      "node",       "deno",      "bun",    "ruby",    "perl",    "rscript",   "julia",
      "java",     "uv",         "uvx",       "poetry", "pipenv",  "conda",   "mamba",     "env",
      "torchrun", "accelerate", "deepspeed", "srun",   "mpirun",  "mpiexec", "time",      "nohup",
      "exec",     "run",        "launch",    "nice",   "ipython", "jupyter", "papermill", "pixi"};
  std::vector<std::string> words;
  if (!spec.entrypoint().empty()) words.push_back(spec.entrypoint());
  words.insert(words.end(), spec.command().begin(), spec.command().end());
  words.insert(words.end(), spec.args().begin(), spec.args().end());
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "-m" && i + 1 < words.size()) {
      const std::string& module = words[i + 1];
      return module.substr(
          module.find_last_of('.') == std::string::npos ? 0 : module.find_last_of('.') + 1);
    }
    std::string base = Basename(w);
    std::string lower = base;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    // "python3.11" counts as "python".
    std::string stem = lower.substr(0, lower.find_last_not_of("0123456789.") + 1);
    if (w.empty() || w[0] == '-' || kLaunchers.contains(lower) || kLaunchers.contains(stem) ||
        !IsAlpha(base.empty() ? '0' : base[0])) {
      continue;
    }
    return w;
  }
  return "job";
}

std::string GenerateJobName(std::string_view base, uint64_t seed) {
  std::string stem = Basename(base);
  if (size_t dot = stem.find_last_of('.'); dot != std::string::npos && dot > 0) stem.resize(dot);
  std::string clean;
  for (char c : stem) {
    if (IsAlnum(c)) {
      clean += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!clean.empty() && clean.back() != '-') {
      clean += '-';
    }
  }
  while (!clean.empty() && clean.back() == '-') clean.pop_back();
  if (clean.empty()) clean = "job";
  if (!IsAlpha(clean[0])) clean = "job-" + clean;
  if (clean.size() > 56) clean.resize(56);
  while (clean.back() == '-') clean.pop_back();
  // splitmix64: nearby seeds give unrelated suffixes.
  uint64_t x = seed + 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  x ^= x >> 31;
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string suffix;
  for (int i = 0; i < 6; ++i) {
    suffix += kAlphabet[x % 36];
    x /= 36;
  }
  return clean + "-" + suffix;
}

std::string JobSpecToYaml(const v1::JobSpec& spec) { return ProtoToYaml(spec); }

}  // namespace mlcore
