#include "net/protocol.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace actorvol;
using namespace actorvol::net;
using json = nlohmann::json;

namespace {

std::string bad_reason(endpoint ep, const std::string& body) {
  auto r = net::parse_request(ep, body);
  if (r)
    return "parsed";
  EXPECT_EQ(code_of(r.error()), ec::bad_request);
  return render(r.error());
}

// A published entry, as List's answer holds it.
read_view::entry_ptr listed(volume_info info) {
  auto e = std::make_shared<read_view::entry>();
  e->info = std::move(info);
  e->exists = true;
  return e;
}

view_listing listing_of(std::vector<read_view::entry_ptr> entries) {
  auto l = std::make_shared<listing>();
  l->entries = std::move(entries);
  return l;
}

} // namespace

TEST(Protocol, ParsesCreateWithOpts) {
  auto r = net::parse_request(endpoint::create, R"({"Name":"db","Opts":{"size":"1G"}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ep, endpoint::create);
  EXPECT_EQ(r->name, "db");
  EXPECT_EQ(r->opts, (volume_opts{{"size", "1G"}}));
}

TEST(Protocol, CreateOptsMayBeNullOrMissing) {
  for (auto body : {R"({"Name":"db","Opts":null})", R"({"Name":"db"})",
                    R"({"Name":"db","Opts":{}})"}) {
    auto r = net::parse_request(endpoint::create, body);
    ASSERT_TRUE(r) << body;
    EXPECT_TRUE(r->opts.empty());
  }
}

TEST(Protocol, ParsesMountAndUnmount) {
  for (auto ep : {endpoint::mount, endpoint::unmount}) {
    auto r = net::parse_request(ep, R"({"Name":"db","ID":"abc123","Extra":1})");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->name, "db");
    EXPECT_EQ(r->id, "abc123");
  }
}

TEST(Protocol, BodilessEndpointsTakeNothingOrAnyJson) {
  for (auto ep : {endpoint::activate, endpoint::capabilities, endpoint::list})
    for (auto body : {"", "  \n", "{}", "null"})
      EXPECT_TRUE(net::parse_request(ep, body)) << body;
  EXPECT_EQ(bad_reason(endpoint::list, "{nope"), "bad request: body is not valid JSON");
}

TEST(Protocol, RejectsBadBodies) {
  EXPECT_EQ(bad_reason(endpoint::get, ""),
            "bad request: empty body: expected a JSON object with \"Name\"");
  EXPECT_EQ(bad_reason(endpoint::get, "{"), "bad request: body is not valid JSON");
  EXPECT_EQ(bad_reason(endpoint::get, "[1]"), "bad request: body must be a JSON object");
  EXPECT_EQ(bad_reason(endpoint::get, "{}"), "bad request: missing field \"Name\"");
  EXPECT_EQ(bad_reason(endpoint::get, R"({"Name":7})"),
            "bad request: field \"Name\" must be a string");
  EXPECT_EQ(bad_reason(endpoint::mount, R"({"Name":"a"})"),
            "volume \"a\": bad request: missing field \"ID\"");
  EXPECT_EQ(bad_reason(endpoint::unmount, R"({"Name":"a","ID":null})"),
            "volume \"a\": bad request: field \"ID\" must be a string");
  EXPECT_EQ(bad_reason(endpoint::create, R"({"Name":"a","Opts":[]})"),
            "volume \"a\": bad request: field \"Opts\" must be an object or null");
  EXPECT_EQ(bad_reason(endpoint::create, R"({"Name":"a","Opts":{"size":1}})"),
            "volume \"a\": bad request: option \"size\" must be a string");
  // Helper-24: once Name is read the error names the volume, unless the name is not one.
  EXPECT_EQ(bad_reason(endpoint::mount, R"({"Name":"../a","ID":1})"),
            "bad request: field \"ID\" must be a string");
}

TEST(Protocol, RendersEachReplyShape) {
  api_reply r;
  EXPECT_EQ(net::render_reply(endpoint::activate, r).body, R"({"Implements":["VolumeDriver"]})");
  r.scope = "local";
  EXPECT_EQ(net::render_reply(endpoint::capabilities, r).body,
            R"({"Capabilities":{"Scope":"local"}})");
  EXPECT_EQ(net::render_reply(endpoint::create, r).body, R"({"Err":""})");
  r.mountpoint = "/m";
  auto mount = json::parse(net::render_reply(endpoint::mount, r).body);
  EXPECT_EQ(mount, json::parse(R"({"Mountpoint":"/m","Err":""})"));
  r.volume = volume_info{"db", "", "2026-01-01T00:00:00Z", 3, {{"Backend", "dir"}}};
  auto get = json::parse(net::render_reply(endpoint::get, r).body);
  EXPECT_EQ(get, json::parse(R"({"Volume":{"Name":"db","CreatedAt":"2026-01-01T00:00:00Z",
                                 "Status":{"Backend":"dir","Mounts":3}},"Err":""})"));
  r.volumes = listing_of({listed({"a", "/x", "t", 1, {}}), listed({"b", "", "t", 0, {}})});
  auto list = json::parse(net::render_reply(endpoint::list, r).body);
  EXPECT_EQ(list, json::parse(R"({"Volumes":[{"Name":"a","Mountpoint":"/x","CreatedAt":"t"},
                                             {"Name":"b","CreatedAt":"t"}],"Err":""})"));
  EXPECT_EQ(net::render_reply(endpoint::list, r).body, net::render_reply(endpoint::list, r).body)
    << "rendered once, the same text again";
  r.volumes = nullptr;
  EXPECT_EQ(net::render_reply(endpoint::list, r).body, R"({"Err":"","Volumes":[]})");
  r.volumes = listing_of({});
  EXPECT_EQ(net::render_reply(endpoint::list, r).body, R"({"Err":"","Volumes":[]})");
}

// List is rendered by hand (for speed): byte for byte what the JSON library makes, for
// every kind of character a mountpoint or timestamp could hold.
TEST(Protocol, ListRendersLikeTheJsonLibrary) {
  std::string nasty = "q\"b\\s/\b\f\n\r\t";
  for (char c = 1; c < 0x20; ++c)
    nasty += c;
  nasty += "\x7f caf\xc3\xa9 \xff\xfe";  // UTF-8, then bytes that are not
  api_reply r;
  r.volumes = listing_of({listed({"plain", "", "", 0, {}}), listed({"n", nasty, nasty, 2, {}}),
                          listed({"ascii", "/m/\x01\"", "t", 0, {}})});
  json want = {{"Err", ""}, {"Volumes", json::array()}};
  for (auto& e : r.volumes->entries) {
    json v = {{"Name", e->info.name}};
    if (!e->info.mountpoint.empty())
      v["Mountpoint"] = e->info.mountpoint;
    if (!e->info.created_at.empty())
      v["CreatedAt"] = e->info.created_at;
    want["Volumes"].push_back(v);
  }
  EXPECT_EQ(net::render_reply(endpoint::list, r).body,
            want.dump(-1, ' ', false, json::error_handler_t::replace));
}

// Every other answer is rendered by hand too: byte for byte what the JSON library makes from
// the same values (keys in its order, its escapes, invalid UTF-8 replaced), for strings of
// every kind of character and for backend Status entries on either side of "Mounts".
TEST(Protocol, EveryAnswerRendersLikeTheJsonLibrary) {
  auto lib = [](const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); };
  std::string nasty = "q\"b\\s/\b\f\n\r\t";
  for (char c = 1; c < 0x20; ++c)
    nasty += c;
  nasty += "\x7f caf\xc3\xa9 \xff\xfe";
  std::vector<std::map<std::string, std::string>> statuses = {
    {},
    {{"Backend", "dir"}},
    {{"Backend", "dir"}, {"Problem", nasty}},
    {{"Mounts", "stale"}, {"Backend", "tmpfs"}},
    {{"Mounts", "x"}},
    {{"Mount", "a"}, {"Mountsy", "b"}, {"MountS", "c"}, {"Zeta", "z"}, {"\xc3\xa9t\xff", nasty}},
    {{"A", "1"}, {"B", "2"}},
  };
  for (auto& text : {std::string{}, std::string{"db"}, nasty}) {
    for (auto& status : statuses) {
      api_reply r;
      r.volume = volume_info{text.empty() ? "v" : text, text, text, 7, status};
      r.mountpoint = text;
      r.scope = text;
      json info = {{"Name", r.volume.name}};
      if (!text.empty()) {
        info["Mountpoint"] = text;
        info["CreatedAt"] = text;
      }
      json st = json::object();
      for (auto& [k, v] : status)
        st[k] = v;
      st["Mounts"] = 7;
      info["Status"] = st;
      EXPECT_EQ(net::render_reply(endpoint::get, r).body,
                lib({{"Volume", info}, {"Err", ""}}));
      EXPECT_EQ(net::render_reply(endpoint::mount, r).body,
                lib({{"Mountpoint", text}, {"Err", ""}}));
      EXPECT_EQ(net::render_reply(endpoint::path, r).body,
                lib({{"Mountpoint", text}, {"Err", ""}}));
      EXPECT_EQ(net::render_reply(endpoint::capabilities, r).body,
                lib({{"Capabilities", {{"Scope", text}}}}));
      for (auto ep : {endpoint::create, endpoint::unmount, endpoint::remove})
        EXPECT_EQ(net::render_reply(ep, r).body, lib({{"Err", ""}}));
      r.error = make_error(ec::unknown_option, text, nasty);
      EXPECT_EQ(net::render_reply(endpoint::get, r).body, lib({{"Err", render(r.error)}}));
    }
  }
}

TEST(Protocol, ErrorsMapToStatuses) {
  EXPECT_EQ(net::status_of(make_error(ec::bad_request)), 400u);
  EXPECT_EQ(net::status_of(make_error(ec::unknown_endpoint)), 404u);
  EXPECT_EQ(net::status_of(make_error(ec::body_too_large)), 413u);
  EXPECT_EQ(net::status_of(make_error(ec::headers_too_large)), 431u);
  EXPECT_EQ(net::status_of(make_error(ec::no_such_volume, "x")), 500u);
  api_reply r;
  r.error = make_error(ec::no_such_volume, "x");
  auto a = net::render_reply(endpoint::mount, r);
  EXPECT_EQ(a.status, 500u);
  EXPECT_EQ(a.body, R"({"Err":"volume \"x\" not found"})");
}

TEST(Protocol, NonUtf8NeverThrows) {
  api_reply r;
  r.error = make_error(ec::unknown_option, "v", std::string("\xff\xfe", 2));
  EXPECT_NO_THROW(net::render_reply(endpoint::create, r));
}
