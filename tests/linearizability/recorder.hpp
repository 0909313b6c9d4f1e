#pragma once

// Records a history of the real binary: concurrent clients, each on its own keep-alive
// connection, issue random requests on a few volumes and note invoke and return times
// (steady clock, ns), arguments and answers.

#include "linearizability/model.hpp"

#include <cstdint>
#include <string>

namespace actorvol::lin {

struct recorder_options {
  int clients = 32;
  int volumes = 8;
  int ops_per_client = 320;
  uint64_t seed = 1;
};

/// Runs the clients against the plugin listening on `socket`; returns the history.
history record_history(const std::string& socket, const recorder_options& opt);

} // namespace actorvol::lin
