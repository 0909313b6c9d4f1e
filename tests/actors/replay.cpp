#include "actors/replay.hpp"

#include "actors/schedule.hpp"

#include <cstdlib>
#include <iostream>
#include <random>
#include <sstream>

namespace actorvol::harness {

namespace {

using detail::choice;

std::vector<size_t> parse_indices(const std::string& s) {
  std::vector<size_t> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, '.'))
    if (!item.empty())
      out.push_back(std::stoul(item));
  return out;
}

} // namespace

run_record run_one(const scenario& sc, const std::string& policy, bool verbose,
                   std::string* failure) {
  using detail::run_with;
  detail::run_outcome out;
  uint64_t steps = 0;
  if (policy.rfind("seed=", 0) == 0) {
    std::mt19937_64 rng(std::stoull(policy.substr(5)));
    out = run_with(
      sc,
      [&](uint64_t, const std::vector<choice>& r) { return detail::pick_random(rng, r, sc.slow); },
      verbose, &steps);
  } else if (policy.rfind("t=", 0) == 0) {
    auto xs = parse_indices(policy.substr(2));
    out = run_with(
      sc,
      [&](uint64_t k, const std::vector<choice>& r) {
        return k < xs.size() && xs[k] < r.size() ? static_cast<int>(xs[k]) : 0;
      },
      verbose, &steps);
  } else if (policy.rfind("defer=", 0) == 0) {
    auto vol = policy.substr(6);
    out = run_with(
      sc,
      [&](uint64_t, const std::vector<choice>& r) {
        std::string label = "runner of " + vol + " (a blocking job)";
        for (size_t i = 0; i < r.size(); ++i)
          if (r[i].label != label)
            return static_cast<int>(i);
        return 0;
      },
      verbose, &steps);
  } else {
    out = run_with(
      sc, [](uint64_t, const std::vector<choice>&) { return 0; }, verbose, &steps);
  }
  if (failure)
    *failure = out.violations.empty() ? std::string{} : detail::failure_text(sc, policy, out);
  return out.record;
}

bool detail::replay_requested(const scenario& sc, exploration& result) {
  auto env = std::getenv("ACTORVOL_REPLAY");
  if (!env)
    return false;
  std::string s = env;
  auto colon = s.find(':');
  if (colon == std::string::npos || s.substr(0, colon) != sc.name)
    return false;
  auto policy = s.substr(colon + 1);
  std::cout << "[ replay   ] " << sc.name << " under " << policy << "\n";
  std::string failure;
  run_one(sc, policy, true, &failure);
  result.schedules = 1;
  if (!failure.empty()) {
    result.failed = true;
    result.failure = failure;
  }
  std::cout << (failure.empty() ? "[ replay   ] no violation\n" : failure);
  return true;
}

} // namespace actorvol::harness
