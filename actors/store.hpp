#pragma once

// Durable per-volume records: ROOT/state/NAME, one small JSON file per volume.
// A write is write-temp, fsync, rename, fsync dir, so a crash leaves either the old record
// or the new one. There is no shared file and no lock: volumes persist in parallel.

#include "core/types.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace actorvol {

/// One record found on disk at start-up: the record, or why it could not be read.
struct loaded_record {
  std::string name;                     // from the file name
  std::optional<volume_record> record;  // empty when unreadable
  std::string problem;                  // why, e.g. "corrupt state record: ..."
};

class state_store {
public:
  explicit state_store(std::filesystem::path state_dir);

  /// Makes the state directory. Called once at start-up.
  caf::error init();

  /// Atomically replaces the record of `r.name` (failpoints: state.write, state.sync_dir).
  /// `previous` is the record on disk now (nullptr: none). On an error the disk holds
  /// `previous` again: a write whose rename landed but whose directory sync failed is
  /// rolled back. Should that rollback fail too, the error says so ("rollback failed").
  caf::error write(const volume_record& r, const volume_record* previous);

  /// Deletes the record of `name` (failpoints: state.write, state.sync_dir); on an error
  /// the file is on disk again as it was, byte for byte (so an unreadable one too).
  caf::error erase(const std::string& name);

  /// Reads every record; removes torn temp files. Uses up to `threads` readers.
  std::vector<loaded_record> load_all(unsigned threads = 4);

  /// The JSON form of a record, and back (used by tests and tools too).
  static std::string encode(const volume_record& r);
  static caf::expected<volume_record> decode(const std::string& name, const std::string& text);

private:
  // fsync of the state directory, behind the failpoint state.sync_dir.
  int sync_dir();

  // Makes the disk hold `previous` (or no record) again after a failed change.
  // `previous`: the file's text before the change, or none (there was no record).
  caf::error roll_back(const std::string& name, const std::optional<std::string>& previous,
                       int why);

  // Parses a record; returns "" or what is wrong with it.
  static std::string parse(const std::string& name, const std::string& text, volume_record& out);

  std::filesystem::path dir_;
};

using StorePtr = std::shared_ptr<state_store>;

} // namespace actorvol
