// mlc data load|ls|pin|unpin|evict|prefetch|stats: the data-load cache (see docs/data.md).
#include <iostream>

#include <CLI/CLI.hpp>
#include <google/protobuf/util/time_util.h>

#include "app.h"
#include "exit_codes.h"
#include "mlcore/jobs.h"
#include "mlcore/v1/data.pb.h"
#include "progress_line.h"
#include "tracking_view.h"

namespace mlc {
namespace {

using google::protobuf::util::TimeUtil;
using mlcore::v1::CacheEntry;
using mlcore::v1::CacheTier;

constexpr size_t kDigestLength = 64;

// "hot" / "cold" / "" -> the CacheTier (UNSPECIFIED for ""; the flags are checked by CLI11).
CacheTier ParseTier(const std::string& text) {
  if (text == "hot") return mlcore::v1::CACHE_TIER_HOT;
  if (text == "cold") return mlcore::v1::CACHE_TIER_COLD;
  return mlcore::v1::CACHE_TIER_UNSPECIFIED;
}

std::string TierName(CacheTier tier) {
  switch (tier) {
    case mlcore::v1::CACHE_TIER_HOT:
      return "hot";
    case mlcore::v1::CACHE_TIER_COLD:
      return "cold";
    default:
      return "-";
  }
}

std::string SourceName(mlcore::v1::LoadSource source) {
  switch (source) {
    case mlcore::v1::LOAD_SOURCE_HOT:
      return "hot";
    case mlcore::v1::LOAD_SOURCE_COLD:
      return "cold";
    case mlcore::v1::LOAD_SOURCE_ORIGIN:
      return "origin";
    default:
      return "-";
  }
}

std::string ShortDigest(const std::string& digest) {
  return digest.empty() ? "-" : digest.substr(0, 12);
}

bool IsHex64(std::string_view text) {
  return text.size() == kDigestLength &&
         text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// "user:ann, job:j0123" (owners only), or "-".
std::string PinOwners(const CacheEntry& e) {
  std::string out;
  for (const auto& p : e.pins()) out += (out.empty() ? "" : ", ") + p.owner();
  return out.empty() ? "-" : out;
}

// "user:ann (until 2026-01-02T03:04:05Z), job:j0123"; "nobody" without pins.
std::string PinDetails(const CacheEntry& e) {
  std::string out;
  for (const auto& p : e.pins()) {
    out += (out.empty() ? "" : ", ") + p.owner();
    if (p.has_expire_time()) out += " (until " + TimeUtil::ToString(p.expire_time()) + ")";
  }
  return out.empty() ? "nobody" : out;
}

mlcore::Result<google::protobuf::Duration> OptionalDuration(const std::string& text) {
  if (text.empty()) return google::protobuf::Duration();
  return mlcore::ParseDurationText(text);
}

// The value of a bare `--pin`: pin for the core's default owner ("user:<you>").
constexpr const char* kPinDefault = "-";

struct LoadFlags {
  std::string uri, digest, timeout;
  std::string pin_owner;  // empty = no pin; kPinDefault = the default owner
  bool revalidate = false;
};

mlcore::Status Load(const Globals& globals, const LoadFlags& f) {
  mlcore::v1::LoadRequest request;
  request.set_uri(f.uri);
  request.set_digest(f.digest);
  request.set_revalidate(f.revalidate);
  const bool default_pin = f.pin_owner == kPinDefault;
  if (!default_pin) request.set_pin_owner(f.pin_owner);
  MLC_ASSIGN_OR_RETURN(*request.mutable_timeout(), OptionalDuration(f.timeout));
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  ProgressLine progress("loading");
  auto loaded = client->LoadData(request, progress.Fn());
  progress.Finish();
  MLC_ASSIGN_OR_RETURN(mlcore::v1::LoadResponse response, std::move(loaded));
  std::string pinned = request.pin_owner();
  if (default_pin) {
    // `--pin` alone: the core's default owner ("user:<you>"), which only PinData applies.
    mlcore::v1::PinRequest pin;
    pin.set_uri(f.uri);
    MLC_ASSIGN_OR_RETURN(CacheEntry entry, client->PinData(pin));
    pinned = PinOwners(entry);
  }
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(response, globals.format());
    return mlcore::Status::Ok();
  }
  // The path alone on stdout, so `cat $(mlc data load URI)` works; the summary on stderr.
  std::cout << response.local_path() << "\n" << std::flush;
  std::cerr << "loaded from " << SourceName(response.source()) << ": "
            << HumanBytes(response.size_bytes()) << ", digest " << ShortDigest(response.digest())
            << (pinned.empty() ? "" : ", pinned by " + pinned) << "\n";
  return mlcore::Status::Ok();
}

struct ListFlags {
  std::string tier, prefix;
  bool pinned = false;
  bool all = false;
};

mlcore::Status List(const Globals& globals, const ListFlags& f) {
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  mlcore::v1::ListCacheEntriesRequest request;
  if (!f.all) {
    if (client->project().empty()) {
      return mlcore::InvalidArgumentError(
          "no project to list the cached data of: pass -p PROJECT (or set MLC_PROJECT), or list "
          "every entry of the cache with --all");
    }
    request.set_project(client->project());
  }
  request.set_tier(ParseTier(f.tier));
  request.set_uri_prefix(f.prefix);
  request.set_pinned_only(f.pinned);
  request.set_page_size(1000);
  mlcore::v1::ListCacheEntriesResponse all;
  do {
    MLC_ASSIGN_OR_RETURN(auto page, client->ListCacheEntries(request));
    for (auto& e : *page.mutable_entries()) *all.add_entries() = std::move(e);
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(all, globals.format());
    return mlcore::Status::Ok();
  }
  if (all.entries_size() == 0) {
    std::cerr << "Nothing cached" << (f.all ? "" : " for project " + client->project())
              << ". Load something with: mlc data load URI\n";
    return mlcore::Status::Ok();
  }
  std::vector<std::vector<std::string>> rows;
  rows.reserve(all.entries_size());
  for (const auto& e : all.entries()) {
    rows.push_back({e.uri(), TierName(e.tier()), HumanBytes(e.size_bytes()), PinOwners(e),
                    Ago(e.last_access_time()), std::to_string(e.access_count())});
  }
  PrintIndentedTable({"URI", "TIER", "SIZE", "PINNED-BY", "LAST-USED", "HITS"}, rows, 0);
  return mlcore::Status::Ok();
}

mlcore::Status Pin(const Globals& globals, const std::string& uri, const std::string& owner,
                   const std::string& ttl) {
  mlcore::v1::PinRequest request;
  request.set_uri(uri);
  request.set_owner(owner);
  MLC_ASSIGN_OR_RETURN(*request.mutable_ttl(), OptionalDuration(ttl));
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(CacheEntry entry, client->PinData(request));
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(entry, globals.format());
    return mlcore::Status::Ok();
  }
  std::cout << "pinned " << entry.uri() << "; pinned by " << PinDetails(entry) << "\n";
  return mlcore::Status::Ok();
}

mlcore::Status Unpin(const Globals& globals, const std::string& uri, const std::string& owner) {
  mlcore::v1::UnpinRequest request;
  request.set_uri(uri);
  request.set_owner(owner);
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(CacheEntry entry, client->UnpinData(request));
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(entry, globals.format());
    return mlcore::Status::Ok();
  }
  std::cout << "unpinned " << entry.uri() << "; pinned by " << PinDetails(entry) << "\n";
  return mlcore::Status::Ok();
}

mlcore::Status Evict(const Globals& globals, const std::string& uri, const std::string& tier,
                     bool force) {
  mlcore::v1::EvictRequest request;
  request.set_uri(uri);
  request.set_tier(ParseTier(tier));
  request.set_force(force);
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(auto evicted, client->EvictData(request));
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(evicted, globals.format());
    return mlcore::Status::Ok();
  }
  std::cout << "evicted " << uri << ": " << evicted.entries_evicted()
            << (evicted.entries_evicted() == 1 ? " entry, " : " entries, ")
            << HumanBytes(evicted.bytes_freed()) << " freed (" << evicted.bytes_freed()
            << " bytes)\n";
  return mlcore::Status::Ok();
}

// "OK", "STARTED" (not waiting) or the failure's code name ("NOT_FOUND").
std::string ItemStatus(const mlcore::v1::PrefetchResult& r, bool no_wait) {
  if (r.code() != 0) {
    return std::string(mlcore::StatusCodeName(static_cast<mlcore::StatusCode>(r.code())));
  }
  return no_wait ? "STARTED" : "OK";
}

mlcore::Status Prefetch(const Globals& globals, const std::vector<std::string>& items,
                        bool no_wait) {
  mlcore::v1::PrefetchRequest request;
  request.set_wait(!no_wait);
  for (const std::string& item : items) {
    auto* added = request.add_items();
    // URI@DIGEST; an '@' not followed by a digest belongs to the URI (http://user@host/...).
    const size_t at = item.rfind('@');
    if (at != std::string::npos && IsHex64(std::string_view(item).substr(at + 1))) {
      added->set_uri(item.substr(0, at));
      added->set_digest(item.substr(at + 1));
    } else {
      added->set_uri(item);
    }
  }
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(auto response, client->PrefetchData(request));
  int failed = 0;
  for (const auto& r : response.results()) {
    if (r.code() == 0) continue;
    const auto code = static_cast<mlcore::StatusCode>(r.code());
    if (failed++ == 0) CommandExitCode() = ExitCodeFor(code);
    std::cerr << "mlc: error: cannot prefetch " << r.uri() << ": " << r.message() << " ["
              << mlcore::StatusCodeName(code) << "]\n";
  }
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(response, globals.format());
    return mlcore::Status::Ok();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : response.results()) {
    rows.push_back({r.uri(), ItemStatus(r, no_wait), ShortDigest(r.digest())});
  }
  PrintIndentedTable({"URI", "STATUS", "DIGEST"}, rows, 0);
  if (failed > 0) {
    std::cerr << failed << " of " << response.results_size() << " failed\n";
  } else if (no_wait) {
    std::cerr << "loading in the background; see `mlc data ls` or `mlc data stats`\n";
  }
  return mlcore::Status::Ok();
}

std::string Percent(int64_t part, int64_t whole) {
  if (whole <= 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%",
                100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return buf;
}

mlcore::Status Stats(const Globals& globals) {
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(auto stats, client->GetCacheStats());
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(stats, globals.format());
    return mlcore::Status::Ok();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : stats.tiers()) {
    rows.push_back({TierName(t.tier()), std::to_string(t.hits()), std::to_string(t.misses()),
                    Percent(t.hits(), t.hits() + t.misses()), HumanBytes(t.used_bytes()),
                    t.capacity_bytes() > 0 ? HumanBytes(t.capacity_bytes()) : "unlimited",
                    HumanBytes(t.pinned_bytes()), std::to_string(t.entries()),
                    std::to_string(t.evictions())});
  }
  PrintIndentedTable(
      {"TIER", "HITS", "MISSES", "HIT-RATIO", "USED", "CAPACITY", "PINNED", "ENTRIES", "EVICTIONS"},
      rows, 0);
  std::cout << "origin fetches:        " << stats.origin_fetches() << " ("
            << HumanBytes(stats.origin_bytes()) << ")\n"
            << "single-flight waits:   " << stats.single_flight_waits() << "\n"
            << "verification failures: " << stats.verification_failures() << "\n";
  if (stats.has_since()) {
    std::cout << "since:                 " << TimeUtil::ToString(stats.since()) << " ("
              << Ago(stats.since()) << ")\n";
  }
  return mlcore::Status::Ok();
}

}  // namespace

void AddDataCommands(CLI::App& app, Globals& globals) {
  auto* data = app.add_subcommand("data", "Load remote data through the hot/cold cache");
  data->require_subcommand(1);
  data->footer(
      "URI is a path, file://, http(s):// or artifact://ID[/PATH].\n"
      "Examples:\n"
      "  cat $(mlc data load https://example.org/train.csv --digest SHA256)\n"
      "  mlc data load artifact://a1b2c3d4e5f6/weights --pin\n"
      "  mlc data prefetch https://example.org/a.bin file:///data/b.bin@SHA256 --no-wait\n"
      "  mlc data ls --pinned; mlc data evict URI --force; mlc data stats");

  static LoadFlags load_flags;
  auto* load = data->add_subcommand(
      "load", "Print a local path to verified content of URI, fetching it once on a miss");
  load->add_option("uri", load_flags.uri, "What to load")->required();
  load->add_option("--digest", load_flags.digest, "Expected SHA-256; a mismatch fails the load");
  // A flag with an optional value: `--pin` alone (kPinDefault) or `--pin=OWNER`.
  load->add_flag(std::string("--pin{") + kPinDefault + "}", load_flags.pin_owner,
                 "Pin it after loading: --pin for user:<you>, --pin=OWNER for another holder");
  load->add_flag("--revalidate", load_flags.revalidate,
                 "Ask the origin (ETag / Last-Modified) even on a hit");
  load->add_option("--timeout", load_flags.timeout, "Give up after this long (default 30m)");
  load->footer(
      "The path goes to stdout and a summary (source hot, cold or origin; size; digest) to "
      "stderr.");
  OnRun(load, [&globals] { return Load(globals, load_flags); });

  static ListFlags list_flags;
  auto* ls = data->add_subcommand("ls", "List the cached data of the project (or all of it)");
  ls->alias("list");
  ls->add_option("--tier", list_flags.tier, "Only this tier")
      ->check(CLI::IsMember({"hot", "cold"}));
  ls->add_option("--prefix", list_flags.prefix, "Only URIs starting with this");
  ls->add_flag("--pinned", list_flags.pinned, "Only pinned entries");
  ls->add_flag("-A,--all", list_flags.all, "Every entry of the cache, of every project");
  OnRun(ls, [&globals] { return List(globals, list_flags); });

  static std::string pin_uri, pin_owner, pin_ttl;
  auto* pin = data->add_subcommand("pin", "Keep a cached object from being evicted");
  pin->add_option("uri", pin_uri, "A cached URI")->required();
  pin->add_option("--owner", pin_owner, "Pin holder (default user:<you>)");
  pin->add_option("--ttl", pin_ttl, "Let the pin lapse after this long (default: never)");
  OnRun(pin, [&globals] { return Pin(globals, pin_uri, pin_owner, pin_ttl); });

  static std::string unpin_uri, unpin_owner;
  auto* unpin = data->add_subcommand("unpin", "Release one owner's pin");
  unpin->add_option("uri", unpin_uri, "A cached URI")->required();
  unpin->add_option("--owner", unpin_owner, "Pin holder (default user:<you>)");
  OnRun(unpin, [&globals] { return Unpin(globals, unpin_uri, unpin_owner); });

  static std::string evict_uri, evict_tier;
  static bool evict_force = false;
  auto* evict = data->add_subcommand("evict", "Remove an object from the cache");
  evict->add_option("uri", evict_uri, "A cached URI")->required();
  evict->add_option("--tier", evict_tier, "Only from this tier (default both)")
      ->check(CLI::IsMember({"hot", "cold"}));
  evict->add_flag("--force", evict_force, "Evict even when pinned (the pins are dropped)");
  OnRun(evict, [&globals] { return Evict(globals, evict_uri, evict_tier, evict_force); });

  static std::vector<std::string> prefetch_items;
  static bool prefetch_no_wait = false;
  auto* prefetch = data->add_subcommand(
      "prefetch", "Bring objects into the cache; exits non-zero when any failed");
  prefetch->add_option("items", prefetch_items, "URI or URI@SHA256 (repeatable)")->required();
  prefetch->add_flag("--no-wait", prefetch_no_wait,
                     "Start the loads in the background and return at once");
  OnRun(prefetch, [&globals] { return Prefetch(globals, prefetch_items, prefetch_no_wait); });

  auto* stats = data->add_subcommand("stats", "Hits, misses, occupancy and origin traffic");
  OnRun(stats, [&globals] { return Stats(globals); });
}

}  // namespace mlc
