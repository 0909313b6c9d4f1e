#include "linearizability/checker.hpp"

#include <algorithm>
#include <set>
#include <sstream>
#include <unordered_set>

namespace actorvol::lin {

namespace {

// A set of operation indices, as a bitset.
struct bits {
  std::vector<uint64_t> w;
  explicit bits(size_t n) : w((n + 63) / 64, 0) {
  }
  void set(size_t i) {
    w[i / 64] |= uint64_t{1} << (i % 64);
  }
  void reset(size_t i) {
    w[i / 64] &= ~(uint64_t{1} << (i % 64));
  }
  size_t hash() const {
    size_t h = 0;
    for (auto x : w)
      h = h * 1000003u ^ std::hash<uint64_t>{}(x);
    return h;
  }
  friend bool operator==(const bits& x, const bits& y) {
    return x.w == y.w;
  }
};

struct memo_key {
  bits linearized;
  vstate state;
  friend bool operator==(const memo_key& x, const memo_key& y) {
    return x.linearized == y.linearized && x.state == y.state;
  }
};

struct memo_hash {
  size_t operator()(const memo_key& k) const {
    return k.linearized.hash() * 31 + k.state.hash();
  }
};

// One call or return event in a doubly linked list ordered by time.
struct event {
  bool is_call;
  size_t op;  // index into the partition's ops
  int64_t time;
  event* match = nullptr;  // call <-> return
  event* prev = nullptr;
  event* next = nullptr;
};

void lift(event* call) {
  // Unlinks the call and its return.
  for (event* e : {call, call->match}) {
    e->prev->next = e->next;
    if (e->next)
      e->next->prev = e->prev;
  }
}

void unlift(event* call) {
  for (event* e : {call->match, call}) {
    e->prev->next = e;
    if (e->next)
      e->next->prev = e;
  }
}

} // namespace

check_result check_partition(const history& h, const std::string& volume, const model& m,
                             size_t max_steps) {
  check_result result;
  result.partitions = 1;
  std::vector<const operation*> ops;
  for (auto& op : h)
    if (op.volume == volume || op.kind == op_kind::list)
      ops.push_back(&op);
  result.operations = ops.size();
  if (ops.empty())
    return result;
  // Events sorted by time; on equal times calls come first (treated as overlapping).
  std::vector<event> events;
  events.reserve(2 * ops.size() + 1);
  events.push_back({false, 0, 0});  // the list head (a sentinel)
  for (size_t i = 0; i < ops.size(); ++i) {
    events.push_back({true, i, ops[i]->call});
    events.push_back({false, i, ops[i]->ret});
  }
  std::stable_sort(events.begin() + 1, events.end(), [](const event& a, const event& b) {
    if (a.time != b.time)
      return a.time < b.time;
    return a.is_call && !b.is_call;
  });
  std::vector<event*> call_of(ops.size()), ret_of(ops.size());
  for (size_t i = 1; i < events.size(); ++i) {
    (events[i].is_call ? call_of : ret_of)[events[i].op] = &events[i];
    events[i].prev = &events[i - 1];
    events[i - 1].next = &events[i];
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    call_of[i]->match = ret_of[i];
    ret_of[i]->match = call_of[i];
  }
  event* head = &events[0];

  struct frame {
    event* call;
    vstate state;   // before the op
    size_t choice;  // which successor state was taken
  };
  std::vector<frame> stack;
  std::unordered_set<memo_key, memo_hash> memo;
  bits linearized(ops.size());
  vstate state;
  size_t longest = 0;
  std::vector<size_t> best_order;
  event* entry = head->next;
  size_t first_choice = 0;
  size_t steps = 0;
  while (head->next) {
    if (max_steps && ++steps > max_steps) {
      result.ok = false;
      result.gave_up = true;
      break;
    }
    if (entry->is_call) {
      auto nexts = m.step(state, *ops[entry->op], volume);
      bool taken = false;
      for (size_t c = first_choice; c < nexts.size(); ++c) {
        auto lin = linearized;
        lin.set(entry->op);
        memo_key key{std::move(lin), nexts[c]};
        if (memo.count(key))
          continue;
        ++result.states_explored;
        stack.push_back({entry, state, c});
        linearized = key.linearized;
        state = nexts[c];
        memo.insert(std::move(key));
        lift(entry);
        entry = head->next;
        taken = true;
        if (stack.size() > longest) {
          longest = stack.size();
          best_order.clear();
          for (auto& f : stack)
            best_order.push_back(f.call->op);
        }
        break;
      }
      first_choice = 0;
      if (!taken)
        entry = entry->next;
    } else {
      // A return before which nothing more can be linearized: backtrack.
      if (stack.empty()) {
        result.ok = false;
        break;
      }
      auto f = std::move(stack.back());
      stack.pop_back();
      state = f.state;
      linearized.reset(f.call->op);
      unlift(f.call);
      entry = f.call;  // retry this op with its next successor, then go on to later calls
      first_choice = f.choice + 1;
    }
  }
  if (!result.ok) {
    result.volume = volume;
    std::ostringstream os;
    os << "volume \"" << volume << "\": " << ops.size() << " operations, no linearization"
       << (result.gave_up ? " found within the step budget" : " exists") << "\n";
    os << "  longest linearizable prefix (" << longest << " ops):\n";
    for (size_t i = 0; i < best_order.size() && i < 40; ++i)
      os << "    " << describe(*ops[best_order[i]]) << "\n";
    if (best_order.size() > 40)
      os << "    ...\n";
    std::set<size_t> in_prefix(best_order.begin(), best_order.end());
    os << "  not linearizable after it (first by call time):\n";
    std::vector<size_t> rest;
    for (size_t i = 0; i < ops.size(); ++i)
      if (!in_prefix.count(i))
        rest.push_back(i);
    std::sort(rest.begin(), rest.end(),
              [&](size_t a, size_t b) { return ops[a]->call < ops[b]->call; });
    for (size_t i = 0; i < rest.size() && i < 12; ++i)
      os << "    " << describe(*ops[rest[i]]) << "\n";
    result.explanation = os.str();
  }
  return result;
}

check_result check(const history& h, const model& m, size_t max_steps) {
  std::set<std::string> volumes;
  for (auto& op : h)
    if (op.kind != op_kind::list)
      volumes.insert(op.volume);
  check_result total;
  for (auto& v : volumes) {
    auto r = check_partition(h, v, m, max_steps);
    total.partitions += 1;
    total.operations += r.operations;
    total.states_explored += r.states_explored;
    if (!r.ok && total.ok) {
      total.ok = false;
      total.gave_up = r.gave_up;
      total.volume = r.volume;
      total.explanation = r.explanation;
    }
  }
  return total;
}

} // namespace actorvol::lin
