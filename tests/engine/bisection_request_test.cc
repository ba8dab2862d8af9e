#include "engine/bisection_request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "config/config.h"
#include "engine/fakes.h"
#include "engine/identity.h"

namespace flakebisect::engine {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace flakebisect::testing;

class BisectRequestTest : public ::testing::Test {
 protected:
  BisectRequestTest() : history_(make_history(dir_ / "repo", sized(30))) {}

  BisectRequest request(std::vector<std::string> good, std::string bad) {
    return BisectRequest{history_.repo.native(), std::move(good), std::move(bad), test_config()};
  }

  TempDir dir_;
  History history_;
};

TEST_F(BisectRequestTest, ResolvesRevisionsToFullShas) {
  git(history_.repo, {"tag", "v1.0", history_.root});
  auto spec = prepare_bisection(request({"v1.0"}, "main~0"));
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  EXPECT_EQ(spec->bad_sha, history_.tip);
  EXPECT_EQ(spec->good_shas, std::vector<std::string>{history_.root});
  EXPECT_EQ(spec->repo, history_.repo.native());
  EXPECT_EQ(spec->test_identity, test_identity(test_config()));
  EXPECT_EQ(spec->config_hash, test_config().hash());
  auto reparsed = config::parse_config(spec->config_toml, "stored");
  ASSERT_TRUE(reparsed.has_value());
  EXPECT_EQ(reparsed->hash(), spec->config_hash);

  auto short_sha =
      prepare_bisection(request({history_.root.substr(0, 10)}, history_.tip.substr(0, 8)));
  ASSERT_TRUE(short_sha.has_value()) << short_sha.error().message();
  EXPECT_EQ(short_sha->bad_sha, history_.tip);
}

// The worktree could not borrow its objects (git's alternates file holds one path per line), so the
// bisection is refused before it is stored, not paused at its first checkout.
TEST_F(BisectRequestTest, RefusesARepositoryWhosePathHasANewline) {
  const std::filesystem::path moved = dir_ / "two\nlines";
  std::filesystem::rename(history_.repo, moved);
  BisectRequest odd = request({history_.root}, history_.tip);
  odd.repo = moved.native();
  auto spec = prepare_bisection(odd);
  ASSERT_FALSE(spec.has_value());
  EXPECT_THAT(spec.error().message(), HasSubstr("path contains a newline"));
}

// The kernels built are booted without modules: a fragment asking for one is refused before the
// bisection is stored, naming the fragment's file and line, not at its first build.
TEST_F(BisectRequestTest, RefusesAKernelFragmentThatAsksForAModule) {
  const std::filesystem::path fragment = dir_ / "ext4.config";
  std::ofstream(fragment) << "# ext4 as a module\nCONFIG_EXT4_FS=m\n";
  auto parsed = config::parse_config("[kernel]\nfragments = [\"qemu-guest\", \"" +
                                         fragment.native() + "\"]\n[qemu]\n[reproducer]\n",
                                     "k.toml");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message();
  BisectRequest kernel = request({history_.root}, history_.tip);
  kernel.config = *parsed;
  auto spec = prepare_bisection(kernel);
  ASSERT_FALSE(spec.has_value());
  EXPECT_THAT(spec.error().message(), HasSubstr(fragment.native() + ":2: CONFIG_EXT4_FS=m"));
}

TEST_F(BisectRequestTest, RejectsAnUnknownRevisionNamingTheFlag) {
  auto spec = prepare_bisection(request({"no-such-tag"}, history_.tip));
  ASSERT_FALSE(spec.has_value());
  EXPECT_THAT(spec.error().message(), HasSubstr("--good 'no-such-tag'"));
  EXPECT_THAT(spec.error().message(), HasSubstr("unknown revision"));
  spec = prepare_bisection(request({history_.root}, "nope~3"));
  ASSERT_FALSE(spec.has_value());
  EXPECT_THAT(spec.error().message(), HasSubstr("--bad 'nope~3'"));
}

TEST_F(BisectRequestTest, RejectsAGoodThatIsNotAnAncestorOfBad) {
  auto spec = prepare_bisection(request({history_.tip}, history_.root));
  ASSERT_FALSE(spec.has_value());
  EXPECT_THAT(spec.error().message(), HasSubstr("not an ancestor"));
  // Each end is named as it was typed, with its commit.
  git(history_.repo, {"tag", "v1.0", history_.root});
  spec = prepare_bisection(request({"main"}, "v1.0"));
  ASSERT_FALSE(spec.has_value());
  EXPECT_THAT(spec.error().message(),
              HasSubstr("--good 'main' (" + history_.tip.substr(0, 12) +
                        ") is not an ancestor of --bad 'v1.0' (" + history_.root.substr(0, 12) +
                        ") (it is a descendant: are good and bad swapped?)"));
  spec = prepare_bisection(request({"v1.0"}, history_.root));
  ASSERT_FALSE(spec.has_value());
  EXPECT_THAT(spec.error().message(), HasSubstr("--good 'v1.0' (" + history_.root.substr(0, 12) +
                                                ") is the same commit as bad " + history_.root));
}

TEST_F(BisectRequestTest, FindFixTakesTheOlderBrokenCommitAsBadAndTheNewerFixedOneAsGood) {
  BisectRequest fix = request({history_.tip}, history_.root);
  fix.config.range.find_fix = true;
  auto spec = prepare_bisection(fix);
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  EXPECT_EQ(spec->bad_sha, history_.root);
  EXPECT_EQ(spec->good_shas, std::vector<std::string>{history_.tip});
  auto stored = config::parse_config(spec->config_toml, "stored");
  ASSERT_TRUE(stored.has_value()) << stored.error().message();
  EXPECT_TRUE(stored->range.find_fix);
  EXPECT_NE(spec->config_hash, test_config().hash()) << "another answer, another hash";
  EXPECT_EQ(spec->test_identity, test_identity(test_config())) << "the same test, the same runs";

  // The regression's way round is refused, saying which end is which.
  BisectRequest swapped = request({history_.root}, history_.tip);
  swapped.config.range.find_fix = true;
  auto refused = prepare_bisection(swapped);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), base::ErrorCode::kInvalidInput);
  EXPECT_THAT(refused.error().message(), HasSubstr("--find-fix, --bad '" + history_.tip + "'"));
  EXPECT_THAT(refused.error().message(), HasSubstr("swapped?"));
  EXPECT_THAT(refused.error().message(), HasSubstr("--bad is the older commit"));
  // Set in a file, it is named there, not as a flag the user never typed.
  auto from_file = config::parse_config("[range]\nfind_fix = true\n", "fix.toml");
  ASSERT_TRUE(from_file.has_value()) << from_file.error().message();
  swapped.config = *from_file;
  swapped.config.test = test_config().test;
  refused = prepare_bisection(swapped);
  ASSERT_FALSE(refused.has_value());
  EXPECT_THAT(refused.error().message(),
              HasSubstr("range.find_fix (fix.toml:2), --bad '" + history_.tip + "'"));
  EXPECT_THAT(refused.error().message(), Not(HasSubstr("--find-fix,")));

  BisectRequest two = request({history_.tip, "main~1"}, history_.root);
  two.config.range.find_fix = true;
  refused = prepare_bisection(two);
  ASSERT_FALSE(refused.has_value());
  EXPECT_THAT(refused.error().message(), HasSubstr("--find-fix takes one --good"));

  BisectRequest revert = fix;
  revert.config.decision.revert_check = true;
  refused = prepare_bisection(revert);
  ASSERT_FALSE(refused.has_value());
  EXPECT_THAT(refused.error().message(),
              HasSubstr("--find-fix cannot run the revert check, --revert-check"));
  // Both set in a file: each is named with its line.
  auto parsed = config::parse_config(
      "[range]\nfind_fix = true\n\n[decision]\nrevert_check = true\n", "fix.toml");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message();
  revert.config = *parsed;
  revert.config.test = fix.config.test;
  refused = prepare_bisection(revert);
  ASSERT_FALSE(refused.has_value());
  EXPECT_THAT(refused.error().message(),
              HasSubstr("range.find_fix (fix.toml:2) cannot run the revert check, "
                        "decision.revert_check (fix.toml:5)"));

  BisectRequest same = request({"main"}, history_.tip);
  same.config.range.find_fix = true;
  refused = prepare_bisection(same);
  ASSERT_FALSE(refused.has_value());
  EXPECT_THAT(refused.error().message(), HasSubstr("both name " + history_.tip));
}

TEST_F(BisectRequestTest, FindFixRefusesABadThatOnlyAMergeBringsIntoGoodsFirstParentChain) {
  // A commit of a merged topic branch is an ancestor of the tip but not on its first-parent
  // chain: with it as the broken end, the chain's oldest commit would be named the fix whenever
  // the broken end is the last to fail, though it does not descend from it.
  const std::vector<size_t> chain = first_parent_chain(history_);
  const std::set<size_t> on_chain(chain.begin(), chain.end());
  std::optional<size_t> topic;
  for (size_t i = 0; i < history_.shas.size() && !topic; ++i) {
    if (on_chain.count(i) == 0) topic = i;
  }
  ASSERT_TRUE(topic.has_value()) << "the history has no merged topic commit";
  BisectRequest fix = request({history_.tip}, history_.shas[*topic]);
  fix.config.range.find_fix = true;
  auto refused = prepare_bisection(fix);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), base::ErrorCode::kInvalidInput);
  EXPECT_THAT(refused.error().message(), HasSubstr("is not on good's first-parent chain"));
  EXPECT_THAT(refused.error().message(), HasSubstr("where the chain meets bad's history"));
  // The commit it suggests is on the chain, and accepted.
  const std::string message = refused.error().message();
  const size_t at = message.find("such as ") + 8;
  const std::string suggested = message.substr(at, 12);
  BisectRequest on = request({history_.tip}, suggested);
  on.config.range.find_fix = true;
  auto accepted = prepare_bisection(on);
  ASSERT_TRUE(accepted.has_value()) << accepted.error().message();
  EXPECT_EQ(on_chain.count(static_cast<size_t>(
                std::find(history_.shas.begin(), history_.shas.end(), accepted->bad_sha) -
                history_.shas.begin())),
            1U);
}

TEST_F(BisectRequestTest, RejectsGoodEqualToBad) {
  auto spec = prepare_bisection(request({"main"}, history_.tip));
  ASSERT_FALSE(spec.has_value());
  EXPECT_EQ(spec.error().code(), base::ErrorCode::kInvalidInput);
  // Said as such, not as "not an ancestor", which a commit also is of itself.
  EXPECT_THAT(spec.error().message(), HasSubstr("is the same commit as bad"));
}

TEST_F(BisectRequestTest, RejectsAnAmbiguousShortSha) {
  TempDir dir;
  History history = make_history(dir / "repo", with_blobs(sized(10), 3000));
  std::map<std::string, int> prefixes;
  std::string ambiguous;
  for (const std::string& sha : [&] {
         std::vector<std::string> all;
         std::istringstream in(
             git(history.repo, {"cat-file", "--batch-all-objects", "--batch-check=%(objectname)"}));
         for (std::string line; std::getline(in, line);) all.push_back(line);
         return all;
       }()) {
    if (++prefixes[sha.substr(0, 4)] == 2) ambiguous = sha.substr(0, 4);
  }
  ASSERT_FALSE(ambiguous.empty()) << "no 4-digit prefix collision among 3000 blobs";
  auto spec = prepare_bisection(
      BisectRequest{history.repo.native(), {ambiguous}, history.tip, test_config()});
  ASSERT_FALSE(spec.has_value());
  EXPECT_THAT(spec.error().message(), HasSubstr("ambiguous"));
}

TEST_F(BisectRequestTest, RequiresATestCommand) {
  BisectRequest r = request({history_.root}, history_.tip);
  r.config.test.command.clear();
  auto spec = prepare_bisection(r);
  ASSERT_FALSE(spec.has_value());
  EXPECT_THAT(spec.error().message(), HasSubstr("no test command"));
}

TEST_F(BisectRequestTest, RejectsATestOrBuildProgramThatDoesNotExist) {
  BisectRequest r = request({history_.root}, history_.tip);
  r.config.test.command = {"flakebisect-no-such-program-anywhere"};
  auto spec = prepare_bisection(r);
  ASSERT_FALSE(spec.has_value());
  EXPECT_THAT(spec.error().message(),
              HasSubstr("test command: flakebisect-no-such-program-anywhere"));
  r = request({history_.root}, history_.tip);
  r.config.build.command = {"/no/such/make"};
  spec = prepare_bisection(r);
  ASSERT_FALSE(spec.has_value());
  EXPECT_THAT(spec.error().message(), HasSubstr("build command"));
  // A relative path is looked up in each commit's worktree, later, when a build may make it.
  r = request({history_.root}, history_.tip);
  r.config.test.command = {"tools/testing/run.sh"};
  r.config.build.command = {"/bin/true"};
  EXPECT_TRUE(prepare_bisection(r).has_value());
}

// Without a build command, a relative test program that neither end's tree has would fail every
// run "not found" and leave the bisection paused for good: refused before it is stored, saying
// where it was looked for.
TEST_F(BisectRequestTest, RefusesARelativeTestProgramThatNoCommitOfTheRangeHas) {
  BisectRequest r = request({history_.root}, history_.tip);
  r.config.test.command = {"./tools/testing/run.sh", "--quick"};
  auto spec = prepare_bisection(r);
  ASSERT_FALSE(spec.has_value());
  EXPECT_EQ(spec.error().code(), base::ErrorCode::kNotFound);
  EXPECT_THAT(spec.error().message(),
              HasSubstr("test command './tools/testing/run.sh': a relative path is looked up in "
                        "each commit's checkout"));
  EXPECT_THAT(spec.error().message(), HasSubstr("tools/testing/run.sh (there is no build.command"));
  EXPECT_THAT(spec.error().message(), HasSubstr("--good '" + history_.root + "'"));

  // One in the current directory is named by its absolute path, which is what to give.
  const std::filesystem::path before = std::filesystem::current_path();
  std::filesystem::current_path(dir_ / "");
  std::filesystem::create_directories("tools/testing");
  std::ofstream("tools/testing/run.sh") << "#!/bin/sh\nexit 0\n";
  spec = prepare_bisection(r);
  std::filesystem::current_path(before);
  ASSERT_FALSE(spec.has_value());
  EXPECT_THAT(spec.error().message(),
              HasSubstr("give its absolute path '" +
                        (dir_ / "tools/testing/run.sh").native() + "'"));

  // A commit of the range that has it is enough: the tip, here (and the file may be a link).
  std::filesystem::create_directories(history_.repo / "tools/testing");
  std::ofstream(history_.repo / "tools/testing/run.sh") << "#!/bin/sh\nexit 0\n";
  git(history_.repo, {"add", "tools"});
  git(history_.repo, {"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "test"});
  const std::string tip = git(history_.repo, {"rev-parse", "HEAD"});
  r = request({history_.root}, tip.substr(0, 40));
  r.config.test.command = {"./tools/testing/run.sh"};
  EXPECT_TRUE(prepare_bisection(r).has_value());
  // A path through a symbolic link in the tree is left to the runs, which follow it.
  std::filesystem::create_symlink("tools", history_.repo / "bin");
  git(history_.repo, {"add", "bin"});
  git(history_.repo, {"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "link"});
  const std::string linked = git(history_.repo, {"rev-parse", "HEAD"});
  r = request({history_.root}, linked.substr(0, 40));
  r.config.test.command = {"bin/testing/run.sh"};
  EXPECT_TRUE(prepare_bisection(r).has_value());
  r.config.test.command = {"missing/testing/run.sh"};
  EXPECT_FALSE(prepare_bisection(r).has_value());
  // A ".." may climb out of a link ("bin/../run.sh" is tools/run.sh): left to the runs.
  r.config.test.command = {"bin/testing/../../x.sh"};
  EXPECT_TRUE(prepare_bisection(r).has_value());
  // "." and doubled slashes are no part of the path.
  r.config.test.command = {"./tools//./testing/run.sh"};
  EXPECT_TRUE(prepare_bisection(r).has_value());
  // The range's own errors come first: swapped ends are named as such, not the program.
  r = request({linked.substr(0, 40)}, history_.root);
  r.config.test.command = {"missing/run.sh"};
  auto swapped = prepare_bisection(r);
  ASSERT_FALSE(swapped.has_value());
  EXPECT_THAT(swapped.error().message(), HasSubstr("swapped?"));
}

// A guest's relative reproducer.program is the checkout's too: one no end of the range has would
// make every commit a skip.
TEST_F(BisectRequestTest, RefusesARelativeReproducerThatNoCommitOfTheRangeHas) {
  auto guest = config::parse_config(
      "[qemu]\nkernel = \"/boot/vmlinuz\"\naccel = \"tcg\"\n"
      "[reproducer]\nprogram = \"tools/repro.sh\"\n",
      "guest.toml");
  ASSERT_TRUE(guest.has_value()) << guest.error().message();
  BisectRequest r = request({history_.root}, history_.tip);
  r.config = *guest;
  auto spec = prepare_bisection(r);
  ASSERT_FALSE(spec.has_value());
  EXPECT_THAT(spec.error().message(),
              HasSubstr("reproducer.program 'tools/repro.sh': a relative path is looked up in "
                        "each commit's checkout, and neither --bad"));
  // The bundled checker and a host path are no checkout paths.
  for (const char* program : {"bundled:dio-check", "/bin/true"}) {
    r.config.reproducer->program = program;
    spec = prepare_bisection(r);
    if (!spec) {
      EXPECT_THAT(spec.error().message(), Not(HasSubstr("reproducer.program '"))) << program;
    }
  }
}

TEST_F(BisectRequestTest, ANoOutputTimeoutIsForAReproducerNotForXfstests) {
  // The guest init watches a reproducer's output (qemu/guest/init), not ./check's.
  const std::string guest =
      "[qemu]\nkernel = \"/boot/vmlinuz\"\naccel = \"tcg\"\n"
      "[reproducer]\nprogram = \"/bin/true\"\n"
      "[test]\ntimeout = \"10m\"\n";
  auto reproducer = config::parse_config(guest + "no_output_timeout = \"2m\"\n", "guest.toml");
  ASSERT_TRUE(reproducer.has_value()) << reproducer.error().message();
  EXPECT_EQ(reproducer->test.no_output_timeout, std::chrono::minutes(2));
  const std::string xfstests =
      "[qemu]\nkernel = \"/boot/vmlinuz\"\n"
      "[xfstests]\ndir = \"/opt/xfstests\"\ntests = [\"generic/418\"]\n"
      "[test]\ntimeout = \"10m\"\n";
  auto parsed = config::parse_config(xfstests + "no_output_timeout = \"2m\"\n", "x.toml");
  ASSERT_FALSE(parsed.has_value());
  EXPECT_THAT(parsed.error().message(),
              HasSubstr("x.toml:8:1: test.no_output_timeout: not supported with [xfstests]"));
  EXPECT_THAT(parsed.error().message(), HasSubstr("remove it or set it to 0"));
  auto off = config::parse_config(xfstests + "no_output_timeout = 0\n", "x.toml");
  EXPECT_TRUE(off.has_value()) << off.error().message();
}

TEST_F(BisectRequestTest, RejectsAPathThatIsNotARepository) {
  BisectRequest r = request({history_.root}, history_.tip);
  r.repo = (dir_ / "nothing here").native();
  EXPECT_FALSE(prepare_bisection(r).has_value());
}

}  // namespace
}  // namespace flakebisect::engine
