#pragma once

// Running one schedule of a scenario (internal; scenarios include harness.hpp): a fresh
// world, a pick of the next step at every step, the invariants after each, and the text of
// a failure. The explorers (explorer.cpp) and replay (replay.cpp) are built on run_with.

#include "actors/harness.hpp"
#include "actors/world.hpp"

#include <cstdint>
#include <functional>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace actorvol::harness::detail {

struct run_outcome {
  std::vector<std::string> violations;
  std::vector<std::string> trace;
  std::vector<size_t> indices;  // the index chosen at each step (in the sorted ready set)
  bool sleep_blocked = false;
  run_record record;
};

std::string trace_text(const std::vector<std::string>& trace);
std::string indices_text(const std::vector<size_t>& xs);
std::string failure_text(const scenario& sc, const std::string& how, const run_outcome& out);

// A seeded random pick; the jobs of slow volumes are taken only 1 time in 10.
int pick_random(std::mt19937_64& rng, const std::vector<choice>& ready,
                const std::set<std::string>& slow);

// Runs one schedule. `pick` gets the step number and the ready set (sorted) and returns the
// index to run, or -1 to stop (sleep-blocked).
using step_hook = std::function<void(uint64_t, const footprint&)>;

template <class Pick>
run_outcome run_with(const scenario& sc, Pick pick, bool verbose, uint64_t* steps,
                     const step_hook& on_step = {}, uint64_t max_steps = 20000) {
  run_outcome out;
  world w(sc);
  for (uint64_t k = 0; k < max_steps; ++k) {
    auto ready = w.enabled();
    if (ready.empty())
      break;
    auto idx = pick(k, ready);
    if (idx < 0) {
      out.sleep_blocked = true;
      return out;
    }
    auto& c = ready[static_cast<size_t>(idx)];
    out.trace.push_back(c.label);
    out.indices.push_back(static_cast<size_t>(idx));
    if (verbose) {
      std::cout << "  step " << k << ": " << c.label << "   (ready:";
      for (auto& r : ready)
        std::cout << " [" << r.label << "]";
      std::cout << ")" << std::endl;
    }
    auto fp = w.execute(c);
    if (on_step)
      on_step(k, fp);
    if (steps)
      ++*steps;
    auto v = w.check_step();
    for (auto& x : w.take_extra_replies())
      v.push_back(x);
    if (!v.empty()) {
      out.violations = std::move(v);
      out.record.history = w.history();
      return out;
    }
  }
  if (!w.enabled().empty())
    out.violations.push_back("the schedule did not finish within " + std::to_string(max_steps)
                             + " steps");
  for (auto& x : w.check_final())
    out.violations.push_back(x);
  out.record.history = w.history();
  out.record.jobs = w.jobs();
  out.record.trace = out.trace;
  return out;
}

} // namespace actorvol::harness::detail
