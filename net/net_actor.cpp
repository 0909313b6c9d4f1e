#include "net/net_actor.hpp"

#include "core/log.hpp"

#include <caf/all.hpp>

namespace actorvol::net {

namespace {

using namespace std::chrono_literals;

using self_ptr = net_actor::stateful_pointer<net_state>;

// A Mount whose success its client never heard of is undone: Docker sends no Unmount for it.
// Create and Remove stay done (and are idempotent); reads change nothing. `done` (may be
// empty) is called once that is settled.
void undo(self_ptr self, const registry_actor& registry, api_request& req,
          api_responder done = {}) {
  auto settle = [done] {
    if (done)
      done(api_reply{});
  };
  if (req.ep != endpoint::mount)
    return settle();
  log::write(log::level::warn, {{"event", "undo-mount"},
                                {"volume", req.name},
                                {"id", req.id},
                                {"result", "its client never heard it succeed (gone, or answered a timeout)"}});
  auto name = req.name;
  auto id = req.id;
  self->request(registry, caf::infinite, atom::unmount::value, std::move(req.name),
                std::move(req.id))
    .then([settle](atom::ok) { settle(); },
          [name, id, settle](caf::error& err) {
            log::write(log::level::error, {{"event", "undo-mount"},
                                           {"volume", name},
                                           {"id", id},
                                           {"result", render(err)}});
            settle();
          });
}

void schedule_sweep(self_ptr self) {
  auto& st = self->state;
  if (st.sweeping || st.waiting_for.empty())
    return;
  st.sweeping = true;
  self->delayed_send(self, std::chrono::seconds(1), atom::timeout::value);
}

// Answers the requests whose limit has passed; their late answers find no one waiting.
void sweep(self_ptr self) {
  auto& st = self->state;
  st.sweeping = false;
  auto now = std::chrono::steady_clock::now();
  for (auto i = st.waiting_for.begin(); i != st.waiting_for.end();) {
    if (i->second.due > now) {
      ++i;
      continue;
    }
    api_reply reply;
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(i->second.limit + 999ms).count();
    reply.error = make_error(ec::timed_out, i->second.name,
                             "timed out: no answer within " + std::to_string(secs)
                               + " s (the state journal may be stuck)");
    i->second.respond(std::move(reply));
    i = st.waiting_for.erase(i);
  }
  schedule_sweep(self);
}

// Sends `xs` to the REGISTRY; `fill` puts a success into the reply; errors go in as they are.
template <class Result, class... Ts>
void forward(self_ptr self, const registry_actor& registry, std::chrono::milliseconds limit,
             api_request& req, const api_responder& respond, void (*fill)(api_reply&, Result&),
             Ts&&... xs) {
  auto& st = self->state;
  auto key = st.next++;
  st.waiting_for.emplace(key, net_state::waiting{req.name, respond,
                                                 std::chrono::steady_clock::now() + limit, limit});
  schedule_sweep(self);
  // The answer goes to whoever still waits for it; a success that comes after the sweep
  // answered is undone like an undelivered one (the request travels with the answer's
  // handler for that).
  auto deliver = [self, registry, key](api_reply reply) {
    auto& st = self->state;
    auto i = st.waiting_for.find(key);
    if (i == st.waiting_for.end())
      return false;
    auto respond = std::move(i->second.respond);
    st.waiting_for.erase(i);
    respond(std::move(reply));
    return true;
  };
  self->request(registry, caf::infinite, std::forward<Ts>(xs)...)
    .then(
      [self, registry, key, req, deliver, fill](Result& result) mutable {
        api_reply reply;
        fill(reply, result);
        if (!deliver(std::move(reply)))
          undo(self, registry, req);
      },
      [deliver, name = req.name](caf::error& err) {
        api_reply reply;
        reply.error = about_volume(std::move(err), name);
        deliver(std::move(reply));
      });
}

// Hands one request to the REGISTRY as its typed message; `respond` gets the answer.
void handle(self_ptr self, const registry_actor& registry, const std::string& scope,
            const deadlines& limits, api_request& req, const api_responder& respond) {
  auto limit = req.ep == endpoint::create || req.ep == endpoint::mount ? limits.long_ops
                                                                        : limits.short_ops;
  void (*nothing)(api_reply&, atom::ok&) = [](api_reply&, atom::ok&) {};
  void (*mountpoint)(api_reply&, std::string&) = [](api_reply& r, std::string& mp) {
    r.mountpoint = std::move(mp);
  };
  switch (req.ep) {
    case endpoint::activate:
      respond(api_reply{});
      return;
    case endpoint::capabilities: {
      api_reply reply;
      reply.scope = scope;
      respond(std::move(reply));
      return;
    }
    case endpoint::create:
      forward(self, registry, limit, req, respond, nothing, atom::create::value, req.name,
              req.opts);
      return;
    case endpoint::get:
      forward(
        self, registry, limit, req, respond,
        +[](api_reply& r, volume_info& info) { r.volume = std::move(info); }, atom::get::value,
        req.name);
      return;
    case endpoint::list:
      forward(
        self, registry, limit, req, respond,
        +[](api_reply& r, view_listing& listed) { r.volumes = std::move(listed); },
        atom::list::value);
      return;
    case endpoint::mount:
      forward(self, registry, limit, req, respond, mountpoint, atom::mount::value, req.name,
              req.id);
      return;
    case endpoint::path:
      forward(self, registry, limit, req, respond, mountpoint, atom::path::value, req.name);
      return;
    case endpoint::unmount:
      forward(self, registry, limit, req, respond, nothing, atom::unmount::value, req.name,
              req.id);
      return;
    case endpoint::remove:
      forward(self, registry, limit, req, respond, nothing, atom::remove::value, req.name);
      return;
  }
}

} // namespace

net_actor::behavior_type net_actor_behavior(self_ptr self, registry_actor registry,
                                            std::string scope, deadlines limits) {
  return {
    [self, registry, scope, limits](atom::handle, api_request& req, api_responder& respond) {
      handle(self, registry, scope, limits, req, respond);
    },
    [self, registry](atom::undo, api_request& req, api_responder& done) {
      undo(self, registry, req, std::move(done));
    },
    [self](atom::timeout) { sweep(self); },
  };
}

} // namespace actorvol::net
