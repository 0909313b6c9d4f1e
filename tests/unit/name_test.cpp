#include "core/types.hpp"

#include <gtest/gtest.h>

using actorvol::printable;
using actorvol::valid_volume_name;

TEST(VolumeName, AcceptsDockersRule) {
  for (auto name : {"a", "A", "0", "db", "my-vol_1.2", "9.-_", "x--y"})
    EXPECT_TRUE(valid_volume_name(name)) << name;
  EXPECT_TRUE(valid_volume_name(std::string(255, 'v')));
}

TEST(VolumeName, RejectsEverythingElse) {
  for (auto name : {"", ".", "..", "../x", "a/b", "/abs", "-a", "_a", ".hidden", "a b",
                    "a\tb", "a:b", "a\\b", "é", "a*"})
    EXPECT_FALSE(valid_volume_name(name)) << name;
  EXPECT_FALSE(valid_volume_name(std::string(256, 'v')));
  EXPECT_FALSE(valid_volume_name(std::string("a\0b", 3)));
}

TEST(VolumeName, PrintableEscapesControlBytesAndQuotes) {
  EXPECT_EQ(printable("ok-name"), "ok-name");
  EXPECT_EQ(printable(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(printable("a\"b\n"), "a\\x22b\\x0a");
}
