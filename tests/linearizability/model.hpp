#pragma once

// The sequential model of actorvol's contract, per volume, and the operations a history is
// made of. The actor harness (tests/actors) and the checker against the real binary
// (tests/linearizability) share it, so both hold the code to the same rules.

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace actorvol::lin {

enum class op_kind { create, mount, unmount, remove, get, path, list };

/// What kind of failure an operation answered with. `unknown` means no usable answer
/// (the request was cut off, e.g. by a shutdown): it may or may not have taken effect.
enum class err_kind { none, not_found, conflict, in_use, unknown_id, backend, unknown, other };

const char* to_string(op_kind k);
const char* to_string(err_kind e);

/// Sorts an `Err` text from the wire into an err_kind (by the contract's wording).
err_kind classify_err(const std::string& err);

/// The time an operation without an answer "returns": never.
constexpr int64_t never = std::numeric_limits<int64_t>::max();

/// One operation of a history: what was asked, when, and what came back.
struct operation {
  int client = 0;
  op_kind kind = op_kind::get;
  std::string volume;                       // empty for List
  std::string id;                           // Mount/Unmount
  std::map<std::string, std::string> opts;  // Create
  int64_t call = 0;                         // invoke time
  int64_t ret = never;                      // return time (never: no answer)
  // -- the answer --
  err_kind err = err_kind::none;
  std::string mountpoint;  // Mount, Path, Get
  int64_t mounts = -1;     // Get (and List entries when known); -1: not reported
  std::vector<std::string> listed;     // List: the names, in the order answered
  std::vector<int64_t> listed_mounts;  // List: mounts per name, when known (else empty)
  std::string err_text;                // for reports
};

std::string describe(const operation& op);

using history = std::vector<operation>;

/// One volume's state in the model.
struct vstate {
  bool exists = false;
  std::map<std::string, std::string> opts;
  std::map<std::string, uint32_t> uses;  // mount ID -> count; no zero entries

  uint64_t total() const {
    uint64_t n = 0;
    for (auto& [id, c] : uses)
      n += c;
    return n;
  }
  friend bool operator==(const vstate& x, const vstate& y) {
    return x.exists == y.exists && x.opts == y.opts && x.uses == y.uses;
  }
  size_t hash() const;
};

/// The sequential specification of one volume.
class model {
public:
  virtual ~model() = default;

  /// Every state `op` (with its recorded answer) may lead to from `s`; empty when the
  /// answer is impossible in `s`. `volume` is the partition's volume (List is projected).
  virtual std::vector<vstate> step(const vstate& s, const operation& op,
                                   const std::string& volume) const;

  /// Backend failures (injected adaptor errors) may fail a mutating call, state unchanged.
  bool allow_backend_failures = false;

  /// When set, the mountpoint a successful Mount/Path/Get must report for a volume.
  std::function<std::string(const std::string&)> mountpoint_of;
};

} // namespace actorvol::lin
