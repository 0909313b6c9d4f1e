#pragma once

// The vocabulary every layer shares: a volume's options, its durable record, what Get and List
// report, and the volume name rule. Each struct has an inspect() so CAF can carry it.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace actorvol {

/// A volume's options as Docker sends them (`docker volume create -o k=v`).
using volume_opts = std::map<std::string, std::string>;

/// Uses per mount ID. Docker repeats IDs (e.g. `docker cp`) and sends one Unmount per Mount.
using mount_uses = std::map<std::string, uint32_t>;

/// The whole durable state of one volume: what its VOLUME actor writes to disk.
struct volume_record {
  std::string name;
  volume_opts opts;
  std::string created_at;  // RFC 3339, UTC
  mount_uses uses;
  std::map<std::string, int64_t> used_since;  // mount ID -> unix seconds of its first use

  uint64_t total_uses() const {
    uint64_t n = 0;
    for (auto& [id, count] : uses)
      n += count;
    return n;
  }

  friend bool operator==(const volume_record& x, const volume_record& y) {
    return x.name == y.name && x.opts == y.opts && x.created_at == y.created_at
           && x.uses == y.uses && x.used_since == y.used_since;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, volume_record& x) {
  return f(caf::meta::type_name("volume_record"), x.name, x.opts, x.created_at, x.uses,
           x.used_since);
}

/// What Get and List report of a volume.
struct volume_info {
  std::string name;
  std::string mountpoint;  // empty while not mounted
  std::string created_at;
  uint64_t mounts = 0;     // the total of all uses
  std::map<std::string, std::string> status;  // backend details and problems

  friend bool operator==(const volume_info& x, const volume_info& y) {
    return x.name == y.name && x.mountpoint == y.mountpoint && x.created_at == y.created_at
           && x.mounts == y.mounts && x.status == y.status;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, volume_info& x) {
  return f(caf::meta::type_name("volume_info"), x.name, x.mountpoint, x.created_at, x.mounts,
           x.status);
}

/// Checks Docker's volume name rule: [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 255 bytes.
bool valid_volume_name(const std::string& name);

/// Splits `text` at each `sep`, dropping empty items ("a,,b," -> {"a", "b"}).
std::vector<std::string> split(const std::string& text, char sep);

/// Escapes a name for an error message: control bytes and quotes become \xNN.
std::string printable(const std::string& name);

} // namespace actorvol
