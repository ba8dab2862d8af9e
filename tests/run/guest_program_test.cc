#include "run/guest_program.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "support/temp_dir.h"

namespace flakebisect::run {
namespace {

using flakebisect::test_support::TempDir;
using ::testing::HasSubstr;
using ::testing::Optional;

TEST(ScriptInterpreter, IsThePathAfterHashBangWithoutItsArgument) {
  EXPECT_THAT(script_interpreter("#!/bin/sh\necho\n"), Optional(std::string("/bin/sh")));
  EXPECT_THAT(script_interpreter("#! /bin/bash -e\n"), Optional(std::string("/bin/bash")));
  EXPECT_THAT(script_interpreter("#!/usr/bin/env python3\r\n"),
              Optional(std::string("/usr/bin/env")));
  EXPECT_THAT(script_interpreter("#!/bin/sh"), Optional(std::string("/bin/sh")));
  EXPECT_EQ(script_interpreter("\x7f"
                               "ELF"),
            std::nullopt);
  EXPECT_EQ(script_interpreter("echo no hash bang\n"), std::nullopt);
}

TEST(WhyGuestCannotRun, AScriptNeedsBusyboxsShellOrAnotherOfItsApplets) {
  const std::set<std::string> applets = {"sh", "ash", "awk"};
  ProgramFacts facts;
  facts.interpreter = "/bin/sh";
  EXPECT_EQ(why_guest_cannot_run(facts, {}), std::nullopt);
  facts.interpreter = "/bin/awk";
  EXPECT_EQ(why_guest_cannot_run(facts, applets), std::nullopt);
  facts.interpreter = "/bin/bash";
  EXPECT_THAT(why_guest_cannot_run(facts, applets),
              Optional(HasSubstr("interpreter '/bin/bash' is not in the guest")));
  facts.interpreter = "/usr/bin/env";  // busybox has env, but only in /bin here
  EXPECT_THAT(why_guest_cannot_run(facts, {"env"}), Optional(HasSubstr("/usr/bin/env")));
  facts.interpreter = "";
  EXPECT_NE(why_guest_cannot_run(facts, applets), std::nullopt);
}

TEST(ReadProgramFacts, TellsAStaticBinaryFromADynamicOne) {
  // busybox-static and a dynamically linked program of the host (both in the tool's packages).
  const ProgramFacts busybox = read_program_facts("/bin/busybox");
  EXPECT_TRUE(busybox.elf);
  EXPECT_FALSE(busybox.dynamic);
  EXPECT_FALSE(busybox.foreign_machine);
  EXPECT_EQ(why_guest_cannot_run(busybox, {}), std::nullopt);
  const ProgramFacts ls = read_program_facts("/bin/ls");
  EXPECT_TRUE(ls.elf);
  EXPECT_TRUE(ls.dynamic);
  EXPECT_THAT(why_guest_cannot_run(ls, {}), Optional(HasSubstr("dynamically linked")));
}

TEST(GuestCannotRun, AsksForTheAppletsOnlyForAnotherInterpreterThanTheShell) {
  TempDir dir;
  int asked = 0;
  const auto list = [&] {
    ++asked;
    return std::set<std::string>{"sh", "awk"};
  };
  std::ofstream(dir.file("sh.sh")) << "#!/bin/sh\nexit 0\n";
  std::ofstream(dir.file("awk.awk")) << "#!/bin/awk -f\n{ print }\n";
  std::ofstream(dir.file("bash.sh")) << "#!/bin/bash\nexit 0\n";
  EXPECT_EQ(guest_cannot_run(dir.file("sh.sh"), list), std::nullopt);
  EXPECT_EQ(asked, 0);
  EXPECT_EQ(guest_cannot_run(dir.file("awk.awk"), list), std::nullopt);
  EXPECT_NE(guest_cannot_run(dir.file("bash.sh"), list), std::nullopt);
  EXPECT_EQ(asked, 2);
}

}  // namespace
}  // namespace flakebisect::run
