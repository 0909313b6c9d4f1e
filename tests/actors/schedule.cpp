#include "actors/schedule.hpp"

#include <sstream>

namespace actorvol::harness::detail {

std::string trace_text(const std::vector<std::string>& trace) {
  std::ostringstream os;
  for (size_t i = 0; i < trace.size(); ++i)
    os << "    " << i << ": " << trace[i] << "\n";
  return os.str();
}

std::string indices_text(const std::vector<size_t>& xs) {
  std::string s;
  for (size_t i = 0; i < xs.size(); ++i)
    s += (i ? "." : "") + std::to_string(xs[i]);
  return s;
}

std::string failure_text(const scenario& sc, const std::string& how,
                         const run_outcome& out) {
  std::ostringstream os;
  os << "scenario \"" << sc.name << "\" failed under schedule " << how << ":\n";
  for (auto& v : out.violations)
    os << "  VIOLATION: " << v << "\n";
  os << "  history:\n";
  for (auto& op : out.record.history)
    os << "    " << lin::describe(op) << "\n";
  os << "  schedule (" << out.trace.size() << " steps):\n" << trace_text(out.trace);
  os << "  replay: ACTORVOL_REPLAY='" << sc.name << ":t=" << indices_text(out.indices) << "'";
  if (how.rfind("seed=", 0) == 0)
    os << "  (or ACTORVOL_REPLAY='" << sc.name << ":" << how << "')";
  os << "\n";
  return os.str();
}

int pick_random(std::mt19937_64& rng, const std::vector<choice>& ready,
                const std::set<std::string>& slow) {
  if (!slow.empty()) {
    std::vector<int> fast;
    for (size_t i = 0; i < ready.size(); ++i) {
      bool is_slow = false;
      for (auto& s : slow)
        if (ready[i].label == "runner of " + s + " (a blocking job)")
          is_slow = true;
      if (!is_slow)
        fast.push_back(static_cast<int>(i));
    }
    if (!fast.empty() && fast.size() < ready.size() && rng() % 10 != 0)
      return fast[rng() % fast.size()];
  }
  return static_cast<int>(rng() % ready.size());
}

} // namespace actorvol::harness::detail
