#pragma once

// The durable state: one record per volume (its Opts, when it was made, its recorded mount
// uses). A VOLUME's jobs write through this interface and answer only after it returns, so
// every answered change is on disk. Two implementations: journal_store (one SQLite journal
// for all volumes, group commit: the default) and file_store (release 0.x's one file per
// volume, read once to migrate). A store shared by several hosts (etcd, say) would be a
// third.

#include "core/types.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace actorvol {

/// One record found on disk at start-up: the record, or why it could not be read.
struct loaded_record {
  std::string name;                     // the key it is stored under
  std::optional<volume_record> record;  // empty when unreadable
  std::string problem;                  // why, e.g. "corrupt state record: ..."
};

class state_store {
public:
  virtual ~state_store() = default;

  /// Opens (or makes) the store. Called once at start-up, before anything else.
  virtual caf::error init() = 0;

  /// Replaces the record of `r.name`, durably before it returns (failpoint: state.write).
  /// `previous` is the record stored now (nullptr: none). On an error the store holds
  /// `previous` again.
  virtual caf::error write(const volume_record& r, const volume_record* previous) = 0;

  /// The same write without waiting: `done` is called once, with the outcome, when the
  /// record is durable or the write failed (on a thread of the store's: it must only hand
  /// the outcome on, e.g. as a message). The default writes at once and calls `done` on the
  /// caller's thread; a store with a committer of its own (journal_store) returns at once.
  using written_fn = std::function<void(caf::error)>;
  virtual void write_async(const volume_record& r, const volume_record* previous,
                           written_fn done) {
    done(write(r, previous));
  }

  /// Deletes the record of `name`, durably (failpoint: state.write); on an error it is
  /// stored again as it was, byte for byte (so an unreadable one too). A missing record is
  /// no error.
  virtual caf::error erase(const std::string& name) = 0;

  /// Reads every record and hands them to `take` in parts of at most `part` records (no
  /// second copy of every record at start-up, and the REGISTRY takes a part while the next
  /// is read),
  /// using up to `threads` threads to decode them. A record that cannot be decoded is
  /// handed on with its problem. An error means not all could be read: start-up must not go
  /// on without some volumes, whatever parts were taken.
  using take_fn = std::function<void(std::vector<loaded_record>)>;
  virtual caf::error load_each(size_t part, const take_fn& take, unsigned threads = 4) = 0;

  /// The part size start-up reads with: large enough that a part's fixed costs (one
  /// message to the REGISTRY, a decode thread) vanish, small enough that a part's
  /// temporaries stay a few MiB.
  static constexpr size_t load_part = 4096;

  /// Every record at once (tools and tests).
  caf::expected<std::vector<loaded_record>> load_all(unsigned threads = 4);

  /// The JSON form of a record, and back (used by tests and tools too).
  static std::string encode(const volume_record& r);
  static caf::expected<volume_record> decode(const std::string& name, const std::string& text);

protected:
  /// Decodes `texts[i]` (stored under `out[i].name`) into `out[i]`, on up to `threads`
  /// threads. A text that is no record gives a "corrupt state record: ..." problem.
  static void decode_all(std::vector<loaded_record>& out,
                         const std::vector<std::string_view>& texts, unsigned threads);

  /// The failpoint state.write, as the error a write gets from it (none: go on).
  static caf::error injected(const std::string& name);
};

using StorePtr = std::shared_ptr<state_store>;

} // namespace actorvol
