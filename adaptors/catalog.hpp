#pragma once

// The set of adaptors a VOLUME chooses from, by its options. Adding a backend is one
// catalog.add() in default_catalog() (adaptors/catalog.cpp); actors/ and net/ stay as they are.

#include "adaptors/adaptor.hpp"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <vector>

namespace actorvol {

class catalog {
public:
  /// Adds an adaptor; the first one added is the default.
  void add(AdaptorPtr a) {
    adaptors_.push_back(std::move(a));
  }

  /// The first adaptor that accepts `opts`, else the default (whose validate() then names
  /// the option it does not know).
  AdaptorPtr select(const volume_opts& opts) const {
    for (auto& a : adaptors_)
      if (a->accepts(opts))
        return a;
    return adaptors_.empty() ? nullptr : adaptors_.front();
  }

  /// Every place any adaptor may keep data of volume `name` (see adaptor::data_paths).
  std::vector<std::filesystem::path> data_paths(const std::string& name) const {
    std::vector<std::filesystem::path> out;
    for (auto& a : adaptors_)
      for (auto& p : a->data_paths(name))
        if (std::find(out.begin(), out.end(), p) == out.end())
          out.push_back(p);
    return out;
  }

private:
  std::vector<AdaptorPtr> adaptors_;
};

using CatalogPtr = std::shared_ptr<const catalog>;

/// The backends actorvol ships: dir (the default), tmpfs, loop (`size=`), the local driver's
/// type/device/o pass-through and sshfs (`type=sshfs`), all keeping their data under `root`.
/// `host_root` is where the host's / is seen (the managed plugin's /host), or empty;
/// `secrets` is the directory of the secrets sshfs volumes name (empty: ROOT/secrets).
CatalogPtr default_catalog(const std::filesystem::path& root,
                           const std::filesystem::path& host_root = {},
                           const std::filesystem::path& secrets = {});

} // namespace actorvol
