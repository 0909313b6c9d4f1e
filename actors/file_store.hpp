#pragma once

// Release 0.x's state: ROOT/state/NAME, one small JSON file per volume. A write is
// write-temp, fsync, rename, fsync dir, so a crash leaves either the old record or the new
// one. journal_store reads a root in this form once, to migrate it; tests use it as the
// simplest store.

#include "actors/store.hpp"

#include <filesystem>

namespace actorvol {

class file_store : public state_store {
public:
  explicit file_store(std::filesystem::path state_dir);

  /// Makes the state directory.
  caf::error init() override;

  /// Atomically replaces the file (failpoints: state.write, state.sync_dir). A write whose
  /// rename landed but whose directory sync failed is rolled back; should that rollback
  /// fail too, the error says so ("rollback failed").
  caf::error write(const volume_record& r, const volume_record* previous) override;

  /// Deletes the file (failpoints: state.write, state.sync_dir).
  caf::error erase(const std::string& name) override;

  /// Reads every record file; removes torn temp files. Entries whose names start with '.'
  /// are no records (another store's files).
  caf::error load_each(size_t part, const take_fn& take, unsigned threads = 4) override;

private:
  // fsync of the state directory, behind the failpoint state.sync_dir.
  int sync_dir();

  // Makes the disk hold `previous` (or no record) again after a failed change.
  // `previous`: the file's text before the change, or none (there was no record).
  caf::error roll_back(const std::string& name, const std::optional<std::string>& previous,
                       int why);

  std::filesystem::path dir_;
};

} // namespace actorvol
