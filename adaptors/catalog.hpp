#pragma once

// The set of adaptors a VOLUME chooses from, by its options. Adding a backend is one
// catalog.add() in the wiring (actors/system.cpp); actors/ and net/ stay as they are.

#include "adaptors/adaptor.hpp"

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

private:
  std::vector<AdaptorPtr> adaptors_;
};

using CatalogPtr = std::shared_ptr<const catalog>;

} // namespace actorvol
