// The NET actor's safety net: a request the REGISTRY leaves unanswered past the limit is
// answered with a timeout, and a Mount that succeeds after that is undone (its client heard
// a failure, so Docker sends no Unmount for it). A registry of the test's own holds answers
// back for as long as the test says.

#include "net/net_actor.hpp"

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <mutex>
#include <vector>

using namespace actorvol;
using namespace actorvol::net;
using namespace std::chrono_literals;

namespace {

// What the registry of this test was asked, and the Mount it holds unanswered.
struct seen {
  std::mutex mu;
  std::vector<std::string> calls;  // "mount v id", "unmount v id"
  void add(std::string call) {
    std::lock_guard<std::mutex> lock(mu);
    calls.push_back(std::move(call));
  }
  std::vector<std::string> all() {
    std::lock_guard<std::mutex> lock(mu);
    return calls;
  }
};

struct slow_registry_state {
  caf::typed_response_promise<std::string> held;  // the Mount it holds back
  std::vector<caf::typed_response_promise<atom::ok>> held_changes;  // Creates, Removes: never answered
  static inline const char* name = "slow_registry";
};

// Answers a Mount only when told (atom::ok from the test); unmounts at once.
registry_actor::behavior_type
slow_registry(registry_actor::stateful_pointer<slow_registry_state> self, seen* log) {
  auto nope = [](auto&&...) -> caf::error { return make_error(ec::no_such_volume, "x"); };
  return {
    [self, log](atom::create, std::string& name, volume_opts&) -> caf::result<atom::ok> {
      log->add("create " + name);
      self->state.held_changes.push_back(self->make_response_promise<atom::ok>());
      return self->state.held_changes.back();
    },
    [self, log](atom::mount, std::string& name, std::string& id) -> caf::result<std::string> {
      log->add("mount " + name + " " + id);
      self->state.held = self->make_response_promise<std::string>();
      return self->state.held;
    },
    [log](atom::unmount, std::string& name, std::string& id) -> caf::result<atom::ok> {
      log->add("unmount " + name + " " + id);
      return atom::ok::value;
    },
    [self, log](atom::remove, std::string& name) -> caf::result<atom::ok> {
      log->add("remove " + name);
      self->state.held_changes.push_back(self->make_response_promise<atom::ok>());
      return self->state.held_changes.back();
    },
    [nope](atom::get, std::string&) -> caf::result<volume_info> { return nope(); },
    [nope](atom::path, std::string&) -> caf::result<std::string> { return nope(); },
    [nope](atom::list) -> caf::result<view_listing> { return nope(); },
    [nope](atom::drop, std::string&, int64_t) -> caf::result<std::vector<std::string>> {
      return nope();
    },
    [](atom::adopt, adoption_ptr&) {},
    [](atom::summary, volume_summary&) {},
    [](atom::refresh, std::string&) {},
    // The test's cue (sent as a registry timeout): the held Mount succeeds now.
    [self](atom::timeout) { self->state.held.deliver(std::string{"/mnt/v"}); },
  };
}

// Has `door` handle a Mount of volume v for c1; `respond` gets its answer.
void mount_v(const net_actor& door, api_responder respond) {
  api_request req;
  req.ep = endpoint::mount;
  req.name = "v";
  req.id = "c1";
  caf::anon_send(door, atom::handle::value, std::move(req), std::move(respond));
}

// A NET actor in front of the slow registry; both stop with the test.
class NetActor : public ::testing::Test {
protected:
  net_actor door_with(std::chrono::milliseconds long_ops,
                      std::chrono::milliseconds short_ops) {
    door = sys.spawn(net_actor_behavior, registry, std::string{"local"},
                     deadlines{long_ops, short_ops});
    return door;
  }
  ~NetActor() override {
    caf::anon_send_exit(door, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
  }
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  seen log;
  registry_actor registry = sys.spawn(slow_registry, &log);
  net_actor door;
};

} // namespace

TEST_F(NetActor, ARequestPastTheLimitIsAnsweredAndALateMountIsUndone) {
  auto door = door_with(200ms, 200ms);

  std::promise<api_reply> answered;
  auto started = std::chrono::steady_clock::now();
  mount_v(door, [&](api_reply r) { answered.set_value(std::move(r)); });
  auto fut = answered.get_future();
  ASSERT_EQ(fut.wait_for(10s), std::future_status::ready) << "no answer past the limit";
  auto waited = std::chrono::steady_clock::now() - started;
  auto reply = fut.get();
  EXPECT_EQ(render(reply.error), "volume \"v\": timed out: no answer within 1 s (the state "
                                 "journal may be stuck)");
  EXPECT_GE(waited, 200ms) << "answered before its limit";

  // Its Mount succeeds only now: the client heard a failure, so the use is given back.
  caf::anon_send(registry, atom::timeout::value);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (log.all().size() < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(log.all(), (std::vector<std::string>{"mount v c1", "unmount v c1"}));
}

// Answers that come in time go to their client once, and nothing is undone.
TEST_F(NetActor, AnAnswerInTimeIsDeliveredOnceAndNothingIsUndone) {
  auto door = door_with(3000ms, 3000ms);
  std::mutex mu;
  std::vector<api_reply> replies;
  mount_v(door, [&](api_reply r) {
    std::lock_guard<std::mutex> lock(mu);
    replies.push_back(std::move(r));
  });
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (log.all().empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  caf::anon_send(registry, atom::timeout::value);  // the Mount succeeds in time
  std::this_thread::sleep_for(4500ms);  // past the limit and a sweep after it
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_FALSE(replies[0].error) << render(replies[0].error);
  EXPECT_EQ(replies[0].mountpoint, "/mnt/v");
  EXPECT_EQ(log.all(), (std::vector<std::string>{"mount v c1"}));
}

// Create and Mount wait for the long limit, the rest for the short one.
TEST_F(NetActor, EachRequestIsAnsweredAtTheLimitOfItsKind) {
  auto door = door_with(30s, 200ms);
  std::promise<api_reply> mount_answer, remove_answer, create_answer;
  mount_v(door, [&](api_reply r) { mount_answer.set_value(std::move(r)); });
  api_request rm;
  rm.ep = endpoint::remove;
  rm.name = "w";
  caf::anon_send(door, atom::handle::value, std::move(rm),
                 api_responder{[&](api_reply r) { remove_answer.set_value(std::move(r)); }});
  api_request mk;
  mk.ep = endpoint::create;
  mk.name = "x";
  caf::anon_send(door, atom::handle::value, std::move(mk),
                 api_responder{[&](api_reply r) { create_answer.set_value(std::move(r)); }});
  auto removed = remove_answer.get_future();
  ASSERT_EQ(removed.wait_for(10s), std::future_status::ready) << "no answer past the limit";
  EXPECT_EQ(render(removed.get().error), "volume \"w\": timed out: no answer within 1 s (the "
                                         "state journal may be stuck)");
  auto mounted = mount_answer.get_future();
  auto created = create_answer.get_future();
  EXPECT_EQ(mounted.wait_for(1500ms), std::future_status::timeout)
    << "the Mount was answered at the short limit";
  EXPECT_EQ(created.wait_for(0s), std::future_status::timeout)
    << "the Create was answered at the short limit";
  caf::anon_send(registry, atom::timeout::value);  // the Mount succeeds, within its limit
  ASSERT_EQ(mounted.wait_for(10s), std::future_status::ready);
  auto reply = mounted.get();
  EXPECT_FALSE(reply.error) << render(reply.error);
  EXPECT_EQ(reply.mountpoint, "/mnt/v");
}
