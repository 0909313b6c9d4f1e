// The real build/actorvol under 32 concurrent clients on 8 volumes: the recorded history
// must be linearizable against the sequential model of the contract, per volume. The same
// history, mutated or checked against a deliberately wrong model, must be rejected: the
// checker can fail.

#include "linearizability/checker.hpp"
#include "linearizability/recorder.hpp"
#include "support/plugin.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>

using namespace actorvol::lin;

namespace {

history record(const recorder_options& opt) {
  actorvol::test::plugin p;
  auto t0 = std::chrono::steady_clock::now();
  auto h = record_history(p.socket(), opt);
  std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  std::cout << "[ recorded ] " << h.size() << " operations from " << opt.clients
            << " clients on " << opt.volumes << " volumes in " << dt.count() << " s"
            << std::endl;
  return h;
}

// A lighter history: 4 clients on 8 volumes, where many Gets overlap nothing on their volume
// (under 32 clients on a loaded machine there may be none to mutate).
const history& recorded_light() {
  static history h = [] {
    recorder_options opt;
    opt.clients = 4;
    opt.ops_per_client = 400;
    return record(opt);
  }();
  return h;
}

// One recorded history, shared by the tests below (recording it is the slow part).
const history& recorded() {
  static history h = record(recorder_options{});  // 32 clients x 320 operations on 8 volumes
  return h;
}

// A model that wrongly takes an Unmount of an unrecorded ID as a harmless success.
class lenient_unmount_model : public model {
public:
  std::vector<vstate> step(const vstate& s, const operation& op,
                           const std::string& volume) const override {
    if (op.kind == op_kind::unmount && s.exists && s.uses.count(op.id) == 0) {
      if (op.err == err_kind::none)
        return {s};
      if (op.err == err_kind::unknown_id)
        return {};
    }
    return model::step(s, op, volume);
  }
};

// A model that wrongly forgets repeated IDs (a set of IDs instead of counts).
class set_of_ids_model : public model {
public:
  std::vector<vstate> step(const vstate& s, const operation& op,
                           const std::string& volume) const override {
    auto out = model::step(s, op, volume);
    for (auto& n : out)
      for (auto& [id, c] : n.uses)
        c = 1;
    return out;
  }
};

} // namespace

TEST(RealBinary, TenThousandOperationsFrom32ClientsOn8VolumesAreLinearizable) {
  auto& h = recorded();
  ASSERT_GE(h.size(), 10000u);
  std::map<err_kind, size_t> answers;
  for (auto& op : h)
    ++answers[op.err];
  std::cout << "[ answers  ]";
  for (auto& [e, n] : answers)
    std::cout << " " << to_string(e) << "=" << n;
  std::cout << std::endl;
  EXPECT_EQ(answers[err_kind::other], 0u);
  EXPECT_EQ(answers[err_kind::unknown], 0u);
  EXPECT_GT(answers[err_kind::none], h.size() / 3);
  auto t0 = std::chrono::steady_clock::now();
  auto r = check(h, model{});
  std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  std::cout << "[ checked  ] " << r.operations << " operations in " << r.partitions
            << " partitions, " << r.states_explored << " states, " << dt.count() << " s"
            << std::endl;
  EXPECT_TRUE(r.ok) << r.explanation;
  EXPECT_EQ(r.partitions, 8u);
}

TEST(RealBinary, AWrongModelIsRejected) {
  auto& h = recorded();
  auto r = check(h, lenient_unmount_model{});
  EXPECT_FALSE(r.ok);
  std::cout << "[ rejected ] lenient Unmount model, first on volume " << r.volume << std::endl;
  auto r2 = check(h, set_of_ids_model{});
  EXPECT_FALSE(r2.ok);
  std::cout << "[ rejected ] set-of-IDs model, first on volume " << r2.volume << std::endl;
}

TEST(RealBinary, MutatedHistoriesAreRejected) {
  auto h = recorded_light();
  // Find a successful Get that overlaps no other operation on its volume (so its count
  // is pinned down), and change the count it reported.
  std::map<std::string, std::vector<size_t>> nearby;  // per volume, List everywhere
  for (size_t i = 0; i < h.size(); ++i)
    if (h[i].kind != op_kind::list)
      nearby[h[i].volume].push_back(i);
  for (size_t i = 0; i < h.size(); ++i)
    if (h[i].kind == op_kind::list)
      for (auto& [v, xs] : nearby)
        xs.push_back(i);
  size_t mutated = 0, caught = 0;
  for (size_t i = 0; i < h.size() && mutated < 5; ++i) {
    auto& g = h[i];
    if (g.kind != op_kind::get || g.err != err_kind::none)
      continue;
    bool alone = std::none_of(nearby[g.volume].begin(), nearby[g.volume].end(), [&](size_t j) {
      auto& o = h[j];
      return j != i && o.call < g.ret && g.call < o.ret;
    });
    if (!alone)
      continue;
    auto m = h;
    m[i].mounts += 1;
    if (m[i].mounts == 1)
      m[i].mountpoint = "/somewhere";
    ++mutated;
    auto r = check(m, model{});
    if (!r.ok)
      ++caught;
    EXPECT_FALSE(r.ok) << "mutated " << describe(m[i]);
  }
  std::cout << "[ mutated  ] " << mutated << " isolated Get answers changed, " << caught
            << " caught" << std::endl;
  EXPECT_GT(mutated, 0u);
  // And a success turned into a failure that the state cannot explain: the first Create
  // of each volume answered "not found".
  auto m = h;
  std::sort(m.begin(), m.end(),
            [](const operation& a, const operation& b) { return a.call < b.call; });
  for (auto& o : m)
    if (o.kind == op_kind::create && o.err == err_kind::none) {
      o.err = err_kind::not_found;
      break;
    }
  EXPECT_FALSE(check(m, model{}).ok);
}
