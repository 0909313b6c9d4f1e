#include "net/net_actor.hpp"

#include "core/log.hpp"

#include <caf/all.hpp>

namespace actorvol::net {

namespace {

// Sends `xs` to the REGISTRY; `fill` puts a success into the reply; errors go in as they are.
template <class Result, class... Ts>
void forward(net_actor::pointer self, const registry_actor& registry,
             std::chrono::milliseconds limit, api_responder respond,
             void (*fill)(api_reply&, Result&), Ts&&... xs) {
  self->request(registry, limit, std::forward<Ts>(xs)...)
    .then(
      [respond, fill](Result& result) {
        api_reply reply;
        fill(reply, result);
        respond(std::move(reply));
      },
      [respond](caf::error& err) {
        api_reply reply;
        reply.error = std::move(err);
        respond(std::move(reply));
      });
}

// Hands one request to the REGISTRY as its typed message; `respond` gets the answer.
void handle(net_actor::pointer self, const registry_actor& registry, const std::string& scope,
            std::chrono::milliseconds limit, api_request& req, const api_responder& respond) {
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
      forward(self, registry, limit, respond, nothing, atom::create::value, std::move(req.name),
              std::move(req.opts));
      return;
    case endpoint::get:
      forward(
        self, registry, limit, respond,
        +[](api_reply& r, volume_info& info) { r.volume = std::move(info); },
        atom::get::value, std::move(req.name));
      return;
    case endpoint::list:
      forward(
        self, registry, limit, respond,
        +[](api_reply& r, view_listing& listed) { r.volumes = std::move(listed); },
        atom::list::value);
      return;
    case endpoint::mount:
      forward(self, registry, limit, respond, mountpoint, atom::mount::value,
              std::move(req.name), std::move(req.id));
      return;
    case endpoint::path:
      forward(self, registry, limit, respond, mountpoint, atom::path::value, std::move(req.name));
      return;
    case endpoint::unmount:
      forward(self, registry, limit, respond, nothing, atom::unmount::value, std::move(req.name),
              std::move(req.id));
      return;
    case endpoint::remove:
      forward(self, registry, limit, respond, nothing, atom::remove::value, std::move(req.name));
      return;
  }
}

// A Mount whose success its client never heard of is undone: Docker sends no Unmount for it.
// Create and Remove stay done (and are idempotent); reads change nothing.
void undo(net_actor::pointer self, const registry_actor& registry, api_request& req) {
  if (req.ep != endpoint::mount)
    return;
  log::write(log::level::warn, {{"event", "undo-mount"},
                                {"volume", req.name},
                                {"id", req.id},
                                {"result", "client went away before the answer"}});
  auto name = req.name;
  auto id = req.id;
  self->request(registry, caf::infinite, atom::unmount::value, std::move(req.name),
                std::move(req.id))
    .then([](atom::ok) {},
          [name, id](caf::error& err) {
            log::write(log::level::error, {{"event", "undo-mount"},
                                           {"volume", name},
                                           {"id", id},
                                           {"result", render(err)}});
          });
}

} // namespace

net_actor::behavior_type net_actor_behavior(net_actor::pointer self, registry_actor registry,
                                            std::string scope, std::chrono::milliseconds limit) {
  return {
    [self, registry, scope, limit](atom::handle, api_request& req, api_responder& respond) {
      handle(self, registry, scope, limit, req, respond);
    },
    [self, registry](atom::undo, api_request& req) { undo(self, registry, req); },
  };
}

} // namespace actorvol::net
