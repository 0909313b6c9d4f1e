#pragma once

// The SDK's extension point: a storage backend for actorvol.
//
// An adaptor is as small as go-plugins-helpers' Driver. The VOLUME actor owns all
// bookkeeping (names, mount counts, persistence, ordering); an adaptor only knows how to make,
// attach, detach and delete one kind of backing store. Every call but accepts(), validate()
// and data_paths() (which touch nothing) runs on a blocking worker thread, never on CAF's
// scheduler, and calls for one volume never overlap.

#include "core/error.hpp"
#include "core/types.hpp"

#include <caf/expected.hpp>

#include <filesystem>
#include <vector>

#include <map>
#include <memory>
#include <string>

namespace actorvol {

/// What an adaptor is told about the volume it works on.
struct volume_spec {
  std::string name;
  volume_opts opts;
};

/// Backend details an adaptor reports for Get's Status, e.g. {"backend": "dir"}.
using status_map = std::map<std::string, std::string>;

class adaptor {
public:
  virtual ~adaptor() = default;

  /// Whether this adaptor serves a volume with these options (e.g. `type=tmpfs`).
  virtual bool accepts(const volume_opts& opts) const = 0;

  /// Checks the options without touching anything; an unknown option is ec::unknown_option.
  virtual caf::error validate(const volume_spec& v) const = 0;

  /// Makes the backing store. On failure nothing may be left behind.
  virtual caf::error create(const volume_spec& v) = 0;

  /// Deletes the backing store and its data. Only called while the volume is detached.
  virtual caf::error remove(const volume_spec& v) = 0;

  /// Attaches the backing store (idempotent: it may already be attached, e.g. after a
  /// restart) and returns the absolute mountpoint.
  virtual caf::expected<std::string> mount(const volume_spec& v) = 0;

  /// Detaches the backing store.
  virtual caf::error unmount(const volume_spec& v) = 0;

  /// Reports backend details; problems are reported here, never thrown.
  virtual status_map status(const volume_spec& v) = 0;

  /// True when the adaptor's steps are local and cheap (the directory adaptor): the VOLUME
  /// then writes a change's record asynchronously, so the WORKER that ran the step is free
  /// before the record is durable, and many records share one commit. The default keeps the
  /// WORKER through the whole change (the race harness's deterministic schedules need that;
  /// any adaptor would be correct either way).
  virtual bool quick() const {
    return false;
  }

  /// False when unmount() has nothing to do (the directory adaptor attaches nothing). With
  /// quick() too, an Unmount then changes only the record: no WORKER runs for it, and the
  /// backend's status is read again later, in the background.
  virtual bool detaches() const {
    return true;
  }

  /// True when a volume's data lives only while it is attached (tmpfs): detaching discards
  /// it. The last Unmount of such a volume then writes its record before it detaches, so an
  /// Unmount whose write fails leaves the volume attached with its data. (Others detach
  /// first, while a hung detach can still be abandoned at its deadline, and attach again if
  /// the write fails.)
  virtual bool data_lost_on_detach() const {
    return false;
  }

  /// Where this adaptor keeps the data of volume `name` (files or directories). The core
  /// moves these to ROOT/quarantine/ instead of deleting them when a volume's record is
  /// unreadable, or when a Create finds data left behind by an earlier crash. Must not
  /// touch the disk.
  virtual std::vector<std::filesystem::path> data_paths(const std::string& name) const {
    (void) name;
    return {};
  }
};

using AdaptorPtr = std::shared_ptr<adaptor>;

} // namespace actorvol
