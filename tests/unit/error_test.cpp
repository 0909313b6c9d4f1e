#include "core/error.hpp"

#include <caf/sec.hpp>
#include <gtest/gtest.h>

using namespace actorvol;

TEST(ErrorRender, DockerStyleMessages) {
  EXPECT_EQ(render(make_error(ec::no_such_volume, "db")), "volume \"db\" not found");
  EXPECT_EQ(render(make_error(ec::in_use, "db", "2")), "volume \"db\" is in use: 2 active mount(s)");
  EXPECT_EQ(render(make_error(ec::unknown_option, "db", "sizee")),
            "volume \"db\": unknown option \"sizee\"");
  EXPECT_EQ(render(make_error(ec::unknown_mount_id, "db", "abc")),
            "volume \"db\" has no mount with id \"abc\"");
  EXPECT_EQ(render(make_error(ec::options_conflict, "db")),
            "volume \"db\" already exists with different options");
  EXPECT_EQ(render(make_error(ec::state_write_failed, "db", os_reason(EIO))),
            "volume \"db\": state write failed: input/output error");
  EXPECT_EQ(render(make_error(ec::backend_failed, "db", "mount failed: " + os_reason(EBUSY))),
            "volume \"db\": mount failed: device or resource busy");
}

TEST(ErrorRender, AFailureOfNoVolumeNamesNone) {
  // A List that timed out, or an internal error that did not know the volume.
  EXPECT_EQ(render(make_error(ec::timed_out, "", "timed out: no answer within 60 s")),
            "timed out: no answer within 60 s");
  EXPECT_EQ(render(make_error(ec::backend_failed, "", "internal error")), "internal error");
  EXPECT_EQ(render(make_error(ec::state_write_failed, "", os_reason(EIO))),
            "state write failed: input/output error");
  EXPECT_EQ(render(make_error(ec::shutting_down, "")), "actorvol is shutting down");
  EXPECT_EQ(render(make_error(ec::timed_out, "v", "timed out")), "volume \"v\": timed out");
}

TEST(ErrorRender, AnErrorIsMadeAboutAVolumeOnlyWhereItNamesNone) {
  EXPECT_EQ(render(about_volume(make_error(ec::backend_failed, "", "internal error: boom"), "v")),
            "volume \"v\": internal error: boom");
  EXPECT_EQ(render(about_volume(caf::make_error(caf::sec::request_receiver_down), "v")),
            "volume \"v\": actorvol is shutting down");
  EXPECT_EQ(render(about_volume(caf::make_error(caf::sec::request_timeout), "v")),
            "volume \"v\": internal request timed out");
  EXPECT_EQ(render(about_volume(make_error(ec::in_use, "w", "1"), "v")),
            "volume \"w\" is in use: 1 active mount(s)");
  EXPECT_FALSE(about_volume(caf::error{}, "v"));
  EXPECT_EQ(render(about_volume(make_error(ec::timed_out, "", "timed out"), "")), "timed out");
}

TEST(ErrorRender, EveryCodeIsLowerCaseWithoutFinalPeriod) {
  for (int c = 1; c <= static_cast<int>(ec::shutting_down); ++c) {
    auto text = render(make_error(static_cast<ec>(c), "v", "detail"));
    ASSERT_FALSE(text.empty()) << c;
    EXPECT_FALSE(std::isupper(static_cast<unsigned char>(text[0]))) << text;
    EXPECT_NE(text.back(), '.') << text;
  }
}

TEST(ErrorRender, NoErrorIsEmpty) {
  EXPECT_EQ(render(caf::error{}), "");
  EXPECT_EQ(code_of(caf::error{}), ec::none);
}

TEST(ErrorRender, CafErrorsAreRenderedToo) {
  auto text = render(caf::make_error(caf::sec::request_timeout));
  EXPECT_EQ(text, "internal request timed out");
  EXPECT_EQ(code_of(caf::make_error(caf::sec::request_timeout)), ec::backend_failed);
}

TEST(ErrorRender, OsReasonIsLowerCase) {
  EXPECT_EQ(os_reason(ENOSPC), "no space left on device");
}
