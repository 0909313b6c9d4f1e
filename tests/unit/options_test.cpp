#include "adaptors/options.hpp"

#include <gtest/gtest.h>
#include <sys/mount.h>

using namespace actorvol;

TEST(OptionsParse, Sizes) {
  EXPECT_EQ(options::parse_size("512"), 512u);
  EXPECT_EQ(options::parse_size("8K"), 8u << 10);
  EXPECT_EQ(options::parse_size("8m"), 8u << 20);
  EXPECT_EQ(options::parse_size("2G"), 2ull << 30);
  EXPECT_EQ(options::parse_size("1T"), 1ull << 40);
  for (auto bad : {"", "G", "-1", "1.5G", "1GB", "x"})
    EXPECT_EQ(options::parse_size(bad), 0u) << bad;
}

TEST(OptionsParse, MountOptionsSplitIntoFlagsAndData) {
  auto o = options::parse_mount_options("ro,bind,size=64m,,nosuid,mode=0700");
  EXPECT_EQ(o.flags, static_cast<unsigned long>(MS_RDONLY | MS_BIND | MS_NOSUID));
  EXPECT_EQ(o.data, "size=64m,mode=0700");
  EXPECT_EQ(options::parse_mount_options("").flags, 0u);
}

TEST(OptionsParse, Ownership) {
  EXPECT_FALSE(options::check_ownership({"v", {{"uid", "0"}, {"gid", "100"}, {"mode", "0755"}}}));
  EXPECT_FALSE(options::check_ownership({"v", {{"mode", "1777"}}}));
  EXPECT_TRUE(options::check_ownership({"v", {{"mode", "10000"}}}));
  EXPECT_TRUE(options::check_ownership({"v", {{"mode", "8"}}}));
  EXPECT_TRUE(options::check_ownership({"v", {{"uid", "abc"}}}));
  EXPECT_TRUE(options::check_ownership({"v", {{"gid", ""}}}));
  EXPECT_TRUE(options::check_ownership({"v", {{"uid", " 7"}}}));
  EXPECT_TRUE(options::check_ownership({"v", {{"mode", " +755"}}}));
  EXPECT_EQ(render(options::only({"v", {{"uid", "1"}, {"zz", "1"}}}, {"uid"})),
            "volume \"v\": unknown option \"zz\"");
}

TEST(OptionsParse, SizeEdgeCases) {
  // The largest size that fits in 63 bits (off_t) per unit, and one more.
  EXPECT_EQ(options::parse_size("8388607T"), 8388607ull << 40);
  EXPECT_EQ(options::parse_size("8388608T"), 0u);
  EXPECT_EQ(options::parse_size("8589934591G"), 8589934591ull << 30);
  EXPECT_EQ(options::parse_size("8589934592G"), 0u);
  // Sizes whose product wraps around 64 bits are refused, never taken modulo 2^64.
  EXPECT_EQ(options::parse_size("16777216T"), 0u);
  EXPECT_EQ(options::parse_size("16777217T"), 0u);
  EXPECT_EQ(options::parse_size("99999999999999T"), 0u);
  EXPECT_EQ(options::parse_size("999999999999T"), 0u);
  EXPECT_EQ(options::parse_size("18446744073709551616"), 0u);
  // Zero is no size.
  for (auto zero : {"0", "0K", "0M", "0G", "0T", "000"})
    EXPECT_EQ(options::parse_size(zero), 0u) << zero;
  // Signs, blanks, other bases and units are refused.
  for (auto bad : {"+1G", "-1G", "1G ", "1 G", " 1G", " 8M", "0x10", "1e3", "1P", "1KK", "k"})
    EXPECT_EQ(options::parse_size(bad), 0u) << bad;
  // A plain byte count may have more than 12 digits.
  EXPECT_EQ(options::parse_size("1099511627776"), 1ull << 40);
  EXPECT_EQ(options::parse_size("1k"), 1024u);
  EXPECT_EQ(options::parse_size("1t"), 1ull << 40);
  EXPECT_EQ(options::parse_size("010M"), 10ull << 20) << "decimal, not octal";
}
