#include "plugin/config.hpp"

#include <gtest/gtest.h>

#include <map>

using namespace actorvol;

namespace {

parse_result parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  return parse_command_line(args, [env](const char* name) -> const char* {
    auto i = env.find(name);
    return i == env.end() ? nullptr : i->second.c_str();
  });
}

} // namespace

TEST(Config, Defaults) {
  auto c = std::get<config>(parse({}));
  EXPECT_EQ(c.socket, "/run/docker/plugins/actorvol.sock");
  EXPECT_EQ(c.root, "/var/lib/actorvol");
  EXPECT_EQ(c.scope, "local");
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.docker_socket, "");
  EXPECT_EQ(c.reconcile_interval, 60);
  EXPECT_EQ(c.reconcile_grace, 120);
}

TEST(Config, FlagsInBothForms) {
  auto c = std::get<config>(parse({"--socket", "/s", "--root=/r", "--scope", "global",
                                   "--log-level=debug", "--reconcile-grace", "5"}));
  EXPECT_EQ(c.socket, "/s");
  EXPECT_EQ(c.root, "/r");
  EXPECT_EQ(c.scope, "global");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.reconcile_grace, 5);
}

TEST(Config, EnvironmentUnderneathFlags) {
  std::map<std::string, std::string> env{{"ACTORVOL_SOCKET", "/env.sock"},
                                         {"ACTORVOL_ROOT", "/env-root"},
                                         {"ACTORVOL_LOG_LEVEL", "warn"}};
  auto c = std::get<config>(parse({"--root", "/flag-root"}, env));
  EXPECT_EQ(c.socket, "/env.sock");
  EXPECT_EQ(c.root, "/flag-root");
  EXPECT_EQ(c.log_level, "warn");
}

TEST(Config, HelpAndVersion) {
  EXPECT_TRUE(std::holds_alternative<show_help>(parse({"--help"})));
  EXPECT_TRUE(std::holds_alternative<show_version>(parse({"--version"})));
  EXPECT_NE(usage_text().find("--socket"), std::string::npos);
}

TEST(Config, BadInputIsAUsageError) {
  for (auto args : std::vector<std::vector<std::string>>{{"--bogus"},
                                                         {"--socket"},
                                                         {"--scope", "planet"},
                                                         {"--log-level", "loud"},
                                                         {"--reconcile-interval", "0"},
                                                         {"--reconcile-grace", "-1"},
                                                         {"--workers", "x"},
                                                         {"--workers", "99999999999999999999"},
                                                         {"--op-timeout", "10000000000"},
                                                         {"--mount-timeout", "31536001"},
                                                         {"positional"}})
    EXPECT_TRUE(std::holds_alternative<usage_error>(parse(args))) << args[0];
  auto bad_env = parse({}, {{"ACTORVOL_SCOPE", "planet"}});
  ASSERT_TRUE(std::holds_alternative<usage_error>(bad_env));
  EXPECT_NE(std::get<usage_error>(bad_env).message.find("ACTORVOL_SCOPE"), std::string::npos);
}
