// The explorers: every schedule of a scenario (depth-first, replaying from a fresh world for
// each, with sleep sets), or seeded random schedules.

#include "actors/harness.hpp"
#include "actors/replay.hpp"
#include "actors/schedule.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace actorvol::harness {

namespace {

using detail::choice;
using detail::footprint;

// Two steps commute when they ran on different actors, neither sent to the other, they
// sent to no common mailbox, at most one spawned, at most one was a client's, and they
// used different backing stores. Steps on different volumes usually do.
bool independent(const footprint& a, const footprint& b) {
  if (a.self == b.self || a.targets.count(b.self) || b.targets.count(a.self))
    return false;
  if ((a.spawned && b.spawned) || (a.client && b.client))
    return false;
  if (!a.resource.empty() && a.resource == b.resource)
    return false;
  for (auto t : a.targets)
    if (b.targets.count(t))
      return false;
  return true;
}

// The depth-first search over schedules: the path of steps taken so far, each node with the
// steps already run from it and the steps asleep there (explored elsewhere).
class dfs {
public:
  explicit dfs(bool prune) : prune_(prune) {}

  // The pick of run_with: replays the path, then extends it with the first ready step that
  // is not asleep; -1 when every ready step sleeps (the schedule is redundant).
  int pick(uint64_t k, const std::vector<choice>& ready);

  // The on_step hook of run_with: records the footprint of the step taken at depth k.
  void record(uint64_t k, const footprint& fp);

  // Moves to the deepest node with a ready step neither done nor asleep; false when none.
  bool backtrack();

private:
  struct entry {
    choice c;
    footprint fp;
  };
  struct node {
    std::vector<choice> ready;
    std::vector<entry> sleep;  // steps that need not run here (explored elsewhere)
    std::vector<entry> done;   // steps run from here so far
    size_t chosen = 0;
  };

  static bool contains(const std::vector<entry>& xs, const choice& c) {
    return std::any_of(xs.begin(), xs.end(), [&](const entry& e) { return e.c == c; });
  }

  std::vector<node> path_;
  bool prune_;
};

int dfs::pick(uint64_t k, const std::vector<choice>& ready) {
  if (k < path_.size()) {
    auto& n = path_[k];
    if (!(n.ready == ready))
      throw std::logic_error("nondeterministic replay at step " + std::to_string(k));
    return static_cast<int>(n.chosen);
  }
  node n;
  n.ready = ready;
  if (k > 0 && prune_) {
    auto& p = path_[k - 1];
    auto& taken = p.done.back();  // the step just run from the parent
    for (auto* set : {&p.sleep, &p.done})
      for (auto& e : *set)
        if (!(e.c == taken.c) && independent(e.fp, taken.fp) && !contains(n.sleep, e.c))
          n.sleep.push_back(e);
  }
  for (size_t i = 0; i < ready.size(); ++i) {
    if (contains(n.sleep, ready[i]))
      continue;
    n.chosen = i;
    path_.push_back(std::move(n));
    return static_cast<int>(i);
  }
  path_.push_back(std::move(n));  // every ready step sleeps: redundant
  return -1;
}

void dfs::record(uint64_t k, const footprint& fp) {
  auto& n = path_[k];
  auto& c = n.ready[n.chosen];
  if (!contains(n.done, c))
    n.done.push_back({c, fp});
  else if (n.done.back().c == c)
    n.done.back().fp = fp;
  else  // keep `done.back()` the step taken last
    for (size_t i = 0; i < n.done.size(); ++i)
      if (n.done[i].c == c) {
        auto e = n.done[i];
        e.fp = fp;
        n.done.erase(n.done.begin() + static_cast<long>(i));
        n.done.push_back(e);
        break;
      }
}

bool dfs::backtrack() {
  while (!path_.empty()) {
    auto& n = path_.back();
    for (size_t i = 0; i < n.ready.size(); ++i) {
      if (contains(n.done, n.ready[i]) || contains(n.sleep, n.ready[i]))
        continue;
      n.chosen = i;
      return true;
    }
    path_.pop_back();
  }
  return false;
}

} // namespace

std::string exploration::summary() const {
  std::ostringstream os;
  os << schedules << " schedules explored";
  if (pruned)
    os << " (+" << pruned << " pruned by sleep sets)";
  os << ", " << steps << " steps, max depth " << max_depth << ", " << seconds << " s";
  if (bounded)
    os << " [stopped at the budget]";
  return os.str();
}

double default_max_seconds() {
  if (auto env = std::getenv("ACTORVOL_EXPLORE_SECONDS")) {
    char* end = nullptr;
    double s = std::strtod(env, &end);
    if (end != env && *end == '\0' && s > 0)
      return s;
  }
  return 60;
}

exploration explore_all(const scenario& sc, const options& opt) {
  exploration result;
  if (detail::replay_requested(sc, result))
    return result;
  auto t0 = std::chrono::steady_clock::now();
  dfs search(opt.prune);
  auto pick = [&](uint64_t k, const std::vector<choice>& ready) { return search.pick(k, ready); };
  auto on_step = [&](uint64_t k, const footprint& fp) { search.record(k, fp); };
  for (;;) {
    auto out = detail::run_with(sc, pick, false, &result.steps, on_step);
    result.max_depth = std::max<uint64_t>(result.max_depth, out.trace.size());
    if (out.sleep_blocked) {
      ++result.pruned;
    } else {
      ++result.schedules;
      if (!out.violations.empty()) {
        result.failed = true;
        result.failure = detail::failure_text(
          sc, "t=" + detail::indices_text(out.indices) + " (exhaustive)", out);
        if (opt.stop_at_first_failure)
          break;
      } else if (opt.observe) {
        opt.observe(out.record);
      }
    }
    bool more = search.backtrack();
    std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    result.seconds = dt.count();
    if (!more)
      break;
    if (result.schedules + result.pruned >= opt.max_schedules || dt.count() > opt.max_seconds) {
      result.bounded = true;
      break;
    }
  }
  std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  result.seconds = dt.count();
  return result;
}

exploration explore_random(const scenario& sc, uint64_t first_seed, uint64_t count,
                           const options& opt) {
  exploration result;
  if (detail::replay_requested(sc, result))
    return result;
  auto t0 = std::chrono::steady_clock::now();
  for (uint64_t seed = first_seed; seed < first_seed + count; ++seed) {
    std::mt19937_64 rng(seed);
    auto out = detail::run_with(
      sc,
      [&](uint64_t, const std::vector<choice>& r) { return detail::pick_random(rng, r, sc.slow); },
      false, &result.steps);
    ++result.schedules;
    result.max_depth = std::max<uint64_t>(result.max_depth, out.trace.size());
    if (!out.violations.empty()) {
      result.failed = true;
      result.failure = detail::failure_text(sc, "seed=" + std::to_string(seed), out);
      if (opt.stop_at_first_failure)
        break;
    } else if (opt.observe) {
      opt.observe(out.record);
    }
    std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    if (dt.count() > opt.max_seconds) {
      result.bounded = true;
      break;
    }
  }
  std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  result.seconds = dt.count();
  return result;
}

} // namespace actorvol::harness
