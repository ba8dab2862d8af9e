// build_report over a store written by the test (a temporary SQLite file) and a generated git
// repository, and the renderings of that report compared with golden files in
// tests/report/golden/. After checking a deliberate change to the output, refresh them with
//   FLAKEBISECT_UPDATE_GOLDEN=1 build/tests/report_tests
#include "report/report.h"

#include <fmt/core.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>

#include "config/config.h"
#include "config/sha256.h"
#include "engine/bisector.h"
#include "engine/git_history.h"
#include "engine/identity.h"
#include "git/candidates.h"
#include "git/repository.h"
#include "report/bisect_log.h"
#include "report/email.h"
#include "report/html.h"
#include "report/text.h"
#include "store/store.h"

namespace flakebisect::report {
namespace {

using namespace flakebisect::testing;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr int64_t kStartMs = 1704067200000;  // 2024-01-01T00:00:00Z

void expect_golden(const std::string& name, const std::string& actual) {
  const fs::path path = fs::path(FLAKEBISECT_SOURCE_DIR) / "tests" / "report" / "golden" / name;
  if (const char* update = std::getenv("FLAKEBISECT_UPDATE_GOLDEN"); update && *update) {
    write_text(path, actual);
    return;
  }
  ASSERT_TRUE(fs::exists(path)) << path << " is missing; run with FLAKEBISECT_UPDATE_GOLDEN=1";
  EXPECT_EQ(read_text(path), actual)
      << "the output differs from " << path
      << "; if the change is intended, rerun with FLAKEBISECT_UPDATE_GOLDEN=1 and review the diff";
}

store::Store open_store(const fs::path& path) {
  store::OpenMode mode;
  mode.create_if_missing = true;
  auto store = store::Store::open(path.native(), mode);
  EXPECT_TRUE(store.has_value()) << (store ? "" : store.error().message());
  return std::move(store).value();
}

config::Config parse(const std::string& text) {
  auto config = config::parse_config(text, "test config");
  EXPECT_TRUE(config.has_value()) << (config ? "" : config.error().message());
  return std::move(config).value();
}

// A bisection row for `repo` with its candidates from git.
int64_t create_bisection(store::Store& store, const fs::path& repo, const std::string& bad,
                         const std::string& good, const std::string& config_text,
                         std::vector<store::Candidate>* candidates_out = nullptr,
                         const std::string& bad_ref = "", const std::string& good_ref = "") {
  const config::Config config = parse(config_text);
  store::BisectionSpec spec;
  spec.repo = repo.native();
  spec.bad_sha = bad;
  spec.good_shas = {good};
  spec.bad_ref = bad_ref;  // the revisions as typed: none, as in a store from before schema 3
  if (!good_ref.empty()) spec.good_refs = {good_ref};
  spec.config_toml = config_text;
  spec.config_hash = config.hash();
  spec.test_identity = engine::test_identity(config);
  auto id = store.create_bisection(spec, kStartMs);
  EXPECT_TRUE(id.has_value());
  auto git_repo = git::Repository::open(repo);
  EXPECT_TRUE(git_repo.has_value());
  auto graph = git::build_candidates(*git_repo, bad, {good});
  EXPECT_TRUE(graph.has_value()) << (graph ? "" : graph.error().message());
  std::vector<store::Candidate> candidates;
  for (uint32_t i = 0; i < graph->size(); ++i) {
    candidates.push_back(store::Candidate{i, graph->commits[i].sha, graph->commits[i].parents,
                                          graph->commits[i].subject});
  }
  EXPECT_TRUE(store.put_candidates(*id, candidates));
  if (candidates_out) *candidates_out = candidates;
  return *id;
}

struct Runs {
  int passes = 0;
  int fails = 0;
  int crashes = 0;
  int infra = 0;
};

class Recorder {
 public:
  Recorder(store::Store& store, int64_t id, std::string identity)
      : store_(store), id_(id), identity_(std::move(identity)) {}

  void plan(const std::string& sha, int runs, double bits, double cost, double best_p,
            const std::string& best_sha, bool reproducing = false) {
    clock_ms_ += 60000;
    store::Event event;
    event.bisection_id = id_;
    event.at_ms = kStartMs + clock_ms_;
    event.kind = std::string(engine::kEventPlan);
    event.message = "plan";
    event.data_json = json{
        {"sha", sha},
        {"runs", runs},
        {"information_bits", bits},
        {"cost", cost},
        {"reproducing", reproducing},
        {"max_probability", best_p},
        {"best_sha", best_sha},
        {"elapsed_ms",
         clock_ms_}}.dump();
    ASSERT_TRUE(store_.append_event(event));
  }

  void runs(const std::string& sha, const Runs& runs, const std::optional<std::string>& console) {
    const auto record = [&](store::RunOutcome outcome, const std::string& detail,
                            std::optional<std::string> signature) {
      store::RunRecord run;
      run.test_identity = identity_;
      run.sha = sha;
      run.bisection_id = id_;
      run.boot_id = sha.substr(0, 12) + "-boot";
      run.run_index = index_[sha]++;
      run.outcome = outcome;
      run.signature = std::move(signature);
      run.duration_ms = 2500;
      run.console_path = console;
      run.detail = detail;
      clock_ms_ += 3000;
      run.created_at_ms = kStartMs + clock_ms_;
      ASSERT_TRUE(store_.record_run(run));
    };
    for (int i = 0; i < runs.passes; ++i) record(store::RunOutcome::kPass, "exit 0", std::nullopt);
    for (int i = 0; i < runs.fails; ++i) {
      record(store::RunOutcome::kFail,
             "exit 1 (40 bytes of output)\ncmpbuf: offset 4096: "
             "Expected 0x1, got 0x0",
             std::nullopt);
    }
    for (int i = 0; i < runs.crashes; ++i) {
      record(store::RunOutcome::kCrash,
             "reproducer killed; kernel: BUG: kernel NULL pointer dereference, address: "
             "0000000000000008",
             "BUG: kernel NULL pointer dereference, address: 0000000000000008");
    }
    for (int i = 0; i < runs.infra; ++i) {
      record(store::RunOutcome::kInfra, "the guest could not get ready: no disk", std::nullopt);
    }
  }

  void finish(store::BisectionState state, const json& result) {
    store::Event event;
    event.bisection_id = id_;
    event.at_ms = kStartMs + clock_ms_;
    event.kind = std::string(engine::kEventFinished);
    event.message = "finished";
    event.data_json = json{{"status", store::to_string(state)}, {"elapsed_ms", clock_ms_}}.dump();
    ASSERT_TRUE(store_.append_event(event));
    ASSERT_TRUE(store_.set_result(id_, result.dump(), kStartMs + clock_ms_));
    ASSERT_TRUE(store_.set_state(id_, state, kStartMs + clock_ms_,
                                 state == store::BisectionState::kInconclusive
                                     ? std::optional<std::string>("run budget spent")
                                     : std::nullopt));
  }

 private:
  store::Store& store_;
  int64_t id_;
  std::string identity_;
  int64_t clock_ms_ = 0;
  std::map<std::string, int64_t> index_;
};

constexpr const char* kPlantedMessage =
    "ext4: fix the direct I/O write path for 1k blocks\n"
    "\n"
    "A long explanation of the change, which never reaches the report.\n"
    "\n"
    "Signed-off-by: A U Thor <author@example.com>\n"
    "Reviewed-by: Jörg Ünïcödé <joerg@example.de>\n"
    "Acked-by: \"Maintainer, The\" <maint@example.org>\n"
    "Link: https://lore.kernel.org/r/20231114.1@example.com\n"
    "Cc: stable@vger.kernel.org # 5.10+\n";

constexpr const char* kConfig =
    "[decision]\n"
    "confidence = 0.99\n"
    "\n"
    "[test]\n"
    "command = [\"./repro.sh\", \"-n\", \"4\"]\n"
    "timeout = 600\n";

constexpr const char* kConsole =
    "\x1b[0m[    0.000000] Linux version 6.1.0 (gcc (Debian 12.2.0-14) 12.2.0)\r\n"
    "[    0.123456] Run /init as init process\r\n"
    "[   12.345000] EXT4-fs (vda): mounted filesystem with ordered data mode\r\n"
    "[   12.345670] BUG: kernel NULL pointer dereference, address: 0000000000000008\r\n"
    "[   12.345671] #PF: supervisor read access in kernel mode\r\n"
    "[   12.345672] RIP: 0010:ext4_dio_write_iter+0x1a/0x30\r\n"
    "[   12.345673] Call Trace:\r\n"
    "[   12.345674]  <TASK>\r\n"
    "[   12.345675]  vfs_write+0x2b1/0x3c0\r\n"
    "[   12.345676]  ksys_write+0x6f/0xf0\r\n"
    "[   12.345677]  </TASK>\r\n"
    "[   12.345678] Kernel panic - not syncing: Fatal exception\r\n";

// One history and one store with two bisections over it: #1 found the planted commit after a
// flaky hunt, #2 (another test command, so other runs) ran out of budget.
class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HistoryOptions options = sized(30, 3);
    options.planted_message = kPlantedMessage;
    history_ = make_history(dir_ / "repo", options);
    store_.emplace(open_store(dir_ / "state" / "flakebisect.db"));
    write_text(dir_ / "console-tip.log", kConsole);

    found_ = create_bisection(*store_, history_.repo, history_.tip, history_.root, kConfig,
                              &candidates_, "linux-6.1.y", "v6.1");
    Recorder found(*store_, found_, engine::test_identity(parse(kConfig)));
    const std::string& tip = history_.tip;
    const size_t planted = history_.planted;
    const std::string planted_sha = history_.planted_sha();
    const std::string parent = history_.shas[history_.parents[planted][0]];
    std::string ancestor = parent;
    for (int k = 0; k < 3; ++k) {
      const size_t i = index_of(ancestor);
      if (history_.parents[i].empty() || history_.shas[history_.parents[i][0]] == history_.root)
        break;
      ancestor = history_.shas[history_.parents[i][0]];
    }
    std::string child;
    for (size_t i = 0; i < history_.shas.size() && child.empty(); ++i) {
      for (size_t p : history_.parents[i]) {
        if (p == planted) child = history_.shas[i];
      }
    }
    ASSERT_FALSE(child.empty());
    const std::string tip12 = tip.substr(0, 12);
    found.plan(tip, 16, 0, 16, 0.1, candidates_.front().sha, true);
    found.runs(tip, {10, 5, 1, 0}, (dir_ / "console-tip.log").native());
    found.plan(ancestor, 16, 0.84, 26, 0.08, tip);
    found.runs(ancestor, {16, 0, 0, 0}, std::nullopt);
    found.plan(child, 16, 0.71, 26, 0.21, child);
    found.runs(child, {11, 5, 0, 0}, std::nullopt);
    found.plan(planted_sha, 16, 0.65, 26, 0.42, child);
    found.runs(planted_sha, {11, 4, 1, 0}, std::nullopt);
    found.plan(parent, 16, 0.52, 26, 0.71, planted_sha);
    found.runs(parent, {16, 0, 0, 1}, std::nullopt);
    found.plan(parent, 16, 0.12, 16, 0.97, planted_sha);
    found.runs(parent, {16, 0, 0, 0}, std::nullopt);
    found.finish(store::BisectionState::kFound,
                 json{{"version", 1}, {"status", "found"}, {"culprit", {{"sha", planted_sha}}}});

    const std::string other_config = std::string(kConfig) + "no_output_timeout = 60\n";
    inconclusive_ =
        create_bisection(*store_, history_.repo, history_.tip, history_.root, other_config);
    Recorder budget(*store_, inconclusive_, engine::test_identity(parse(other_config)));
    budget.plan(tip, 8, 0, 8, 0.1, candidates_.front().sha, true);
    budget.runs(tip, {6, 2, 0, 0}, std::nullopt);
    budget.plan(ancestor, 4, 0.3, 14, 0.08, tip);
    budget.runs(ancestor, {4, 0, 0, 0}, std::nullopt);
    budget.finish(
        store::BisectionState::kInconclusive,
        json{{"version", 1}, {"status", "inconclusive"}, {"reason", "run budget spent (20 runs)"}});
  }

  size_t index_of(const std::string& sha) const {
    for (size_t i = 0; i < history_.shas.size(); ++i) {
      if (history_.shas[i] == sha) return i;
    }
    ADD_FAILURE() << sha;
    return 0;
  }

  json report(int64_t id, const ReportOptions& options = {}) {
    auto document = build_report(*store_, id, options);
    EXPECT_TRUE(document.has_value()) << (document ? "" : document.error().message());
    if (!document) return nullptr;
    // The repository lives in a temporary directory: give it a stable name for golden files.
    (*document)["bisection"]["repo"] = "/src/linux";
    return *document;
  }

  // The found bisection's stored result with `checks` added, as engine/bisector.cc finish()
  // writes it when the revert check ran.
  void store_checks(const json& checks) { store_checks_of(found_, checks); }

  void store_checks_of(int64_t id, const json& checks) {
    auto bisection = store_->get_bisection(id);
    ASSERT_TRUE(bisection.has_value());
    ASSERT_TRUE(bisection->result_json.has_value());
    json result = json::parse(*bisection->result_json);
    result["checks"] = checks;
    // At the time it ended, as the engine stores the checks with the result: a mail is dated so.
    ASSERT_TRUE(store_->set_result(id, result.dump(), bisection->updated_at_ms));
  }

  // A revert check of the planted commit on the tip.
  json revert_check(const std::string& status) const {
    json check{{"status", status},
               {"reverted", history_.planted_sha()},
               {"onto", history_.tip},
               {"commit", kRevertSha},
               {"runs", 24},
               {"fails", 0},
               {"probability_fixed", 0.9961},
               {"detail", "0 of 24 runs failed with " + history_.planted_sha().substr(0, 12) +
                              " reverted on " + history_.tip.substr(0, 12)}};
    if (status == "conflict") {
      check["commit"] = nullptr;
      check["runs"] = 0;
      check["probability_fixed"] = nullptr;
      check["conflicts"] = {"fs/iomap/direct-io.c", "fs/ext4/file.c"};
      check["detail"] = "the revert conflicts in 2 files";
    }
    return check;
  }

  // A verify check of the planted commit, as the engine writes it. It runs at the culprit's first
  // parent outside the range; the root (the good commit) stands in for it.
  json verify_check(const std::string& status) const {
    json check{{"status", status},
               {"culprit", history_.planted_sha()},
               {"commit", history_.root},
               {"runs", 21},
               {"fails", 0},
               {"own_runs", 21},
               {"probability_good", 0.9961},
               {"detail", "0 of 21 runs failed at " + history_.root.substr(0, 12) +
                              ", the culprit's parent"}};
    if (status == "fail") {
      check["runs"] = 12;
      check["fails"] = 3;
      check["own_runs"] = 12;
      check["probability_good"] = 0.00002;
      check["detail"] = "3 of 12 runs failed at the culprit's parent";
    } else if (status == "inconclusive") {
      check["runs"] = 40;
      check["fails"] = 6;
      check["own_runs"] = 40;
      check["probability_good"] = 0.5;
      check["detail"] = "the run cap (decision.verify_check_max_runs = 40) was reached";
    } else if (status == "build_failed") {
      check["runs"] = 0;
      check["own_runs"] = 0;
      check["probability_good"] = nullptr;
      check["detail"] = "the culprit's parent does not build: make: *** [vmlinux] Error 2";
    }
    return check;
  }

  static constexpr const char* kRevertSha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4";

  TempDir dir_;
  History history_;
  std::optional<store::Store> store_;
  std::vector<store::Candidate> candidates_;
  int64_t found_ = 0;
  int64_t inconclusive_ = 0;
};

TEST_F(ReportTest, NamesTheCulpritWithAuthorDateAndTrailersFromGit) {
  const json doc = report(found_);
  EXPECT_EQ(doc["schema"], "flakebisect-report");
  EXPECT_EQ(doc["version"], 1);
  EXPECT_EQ(doc["tool"]["name"], "flakebisect");
  EXPECT_EQ(doc["tool"]["version"], std::string(tool_version()));
  EXPECT_EQ(doc["generated_at"], nullptr);
  const json& result = doc["result"];
  EXPECT_EQ(result["status"], "found");
  EXPECT_EQ(result["culprit"]["sha"], history_.planted_sha());
  EXPECT_EQ(result["culprit"]["subject"], "ext4: fix the direct I/O write path for 1k blocks");
  EXPECT_EQ(result["culprit"]["author"],
            (json{{"name", "A U Thor"}, {"email", "author@example.com"}}));
  EXPECT_THAT(result["culprit"]["date"].get<std::string>(), StartsWith("2023-11-1"));
  EXPECT_THAT(result["culprit"]["date"].get<std::string>(), ::testing::EndsWith("+00:00"));
  ASSERT_EQ(result["culprit"]["trailers"].size(), 5U);
  EXPECT_EQ(result["culprit"]["trailers"][1],
            (json{{"key", "Reviewed-by"}, {"value", "Jörg Ünïcödé <joerg@example.de>"}}));
  EXPECT_GE(result["confidence"].get<double>(), 0.99);
  EXPECT_EQ(result["confidence"], result["culprit"]["probability"]);
  EXPECT_EQ(result["credible_set"][0]["sha"], history_.planted_sha());
  EXPECT_LE(result["theta"]["low"].get<double>(), result["theta"]["mean"].get<double>());
  EXPECT_GE(result["theta"]["high"].get<double>(), result["theta"]["mean"].get<double>());
  EXPECT_EQ(doc["warnings"], json::array());
}

TEST_F(ReportTest, ListsEveryCandidateWithItsRunsAndPosteriorProbability) {
  const json doc = report(found_);
  const json& commits = doc["commits"];
  ASSERT_EQ(commits.size(), candidates_.size());
  double total = 0;
  for (size_t i = 0; i < commits.size(); ++i) {
    EXPECT_EQ(commits[i]["idx"], i);
    EXPECT_EQ(commits[i]["sha"], candidates_[i].sha);
    EXPECT_EQ(commits[i]["parents"], json(candidates_[i].parents));
    EXPECT_EQ(commits[i]["build"], nullptr);  // no build configured
    total += commits[i]["probability"].get<double>();
  }
  EXPECT_NEAR(total, 1.0, 1e-9);
  const json& tip = commits.back();
  EXPECT_EQ(tip["sha"], history_.tip);
  EXPECT_EQ(tip["runs"], 16);
  EXPECT_EQ(tip["passes"], 10);
  EXPECT_EQ(tip["fails"], 5);
  EXPECT_EQ(tip["crashes"], 1);
  EXPECT_EQ(tip["evidence"], (json{{"passes", 10}, {"fails", 6}, {"skipped", false}}));
  EXPECT_NEAR(tip["bad_probability"].get<double>(), 1.0, 1e-9);
  const std::string parent = history_.shas[history_.parents[history_.planted][0]];
  for (const json& commit : commits) {
    if (commit["sha"] == parent) {
      EXPECT_EQ(commit["runs"], 33);
      EXPECT_EQ(commit["infra"], 1);
      EXPECT_EQ(commit["evidence"]["passes"], 32);
    }
  }
}

TEST_F(ReportTest, KeepsTheDecisionLogTotalsAndCrashTitlesWithAConsoleExcerpt) {
  const json doc = report(found_);
  ASSERT_EQ(doc["decisions"].size(), 6U);
  EXPECT_EQ(doc["decisions"][0]["sha"], history_.tip);
  EXPECT_EQ(doc["decisions"][0]["reproducing"], true);
  EXPECT_EQ(doc["decisions"][0]["at"], "2024-01-01T00:01:00Z");
  EXPECT_EQ(doc["decisions"][1]["information_bits"], 0.84);
  const json& totals = doc["totals"];
  EXPECT_EQ(totals["runs"], 97);
  EXPECT_EQ(totals["reused_runs"], 0);
  EXPECT_EQ(totals["evidence_runs"], 96);
  EXPECT_EQ(totals["boots"], 5);
  EXPECT_EQ(totals["run_ms"], 97 * 2500);
  EXPECT_EQ(totals["cost"], 136.0);
  EXPECT_GT(totals["wall_ms"].get<int64_t>(), 0);

  const json& crashes = doc["crashes"];
  ASSERT_EQ(crashes.size(), 2U);
  EXPECT_EQ(crashes[0]["title"], "fail: exit 1");
  EXPECT_EQ(crashes[0]["count"], 14);
  EXPECT_EQ(crashes[0]["commits"], 3);
  EXPECT_EQ(crashes[0]["console_excerpt"],
            "exit 1 (40 bytes of output)\ncmpbuf: offset 4096: Expected 0x1, got 0x0");
  EXPECT_EQ(crashes[1]["title"], "BUG: kernel NULL pointer dereference, address: 0000000000000008");
  EXPECT_EQ(crashes[1]["outcome"], "crash");
  EXPECT_EQ(crashes[1]["counted"], true);
  EXPECT_EQ(crashes[1]["first_sha"], history_.tip);
  const std::string excerpt = crashes[1]["console_excerpt"];
  EXPECT_THAT(excerpt, StartsWith("[    0.000000] Linux version"));  // five lines of context
  EXPECT_THAT(excerpt, HasSubstr("RIP: 0010:ext4_dio_write_iter+0x1a/0x30\n"));
  EXPECT_THAT(excerpt, Not(HasSubstr("\r")));
  EXPECT_THAT(excerpt, Not(HasSubstr("\x1b")));
}

// With test.signature set, a crash is shown under the title that matched it, which need not be
// its first: an unrelated WARNING often comes before the bug's own report.
TEST_F(ReportTest, ACrashIsShownUnderTheTitleThatTestSignatureMatched) {
  // Another test command than the fixture's bisections, whose runs would otherwise be shared.
  const std::string config_text =
      "[test]\n"
      "command = [\"./repro.sh\", \"-n\", \"9\"]\n"
      "failure_outcomes = [\"crash\"]\n"
      "signature = \"^BUG: .* in ext4_\"\n";
  const int64_t id =
      create_bisection(*store_, history_.repo, history_.tip, history_.root, config_text);
  const auto record = [&](int64_t index, std::vector<std::string> titles) {
    store::RunRecord run;
    run.test_identity = engine::test_identity(parse(config_text));
    run.sha = history_.tip;
    run.bisection_id = id;
    run.run_index = index;
    run.outcome = store::RunOutcome::kCrash;
    run.signature = titles.front();
    run.crash_titles = std::move(titles);
    run.created_at_ms = kStartMs + index;
    ASSERT_TRUE(store_->record_run(run));
  };
  record(0,
         {"WARNING in __alloc_pages", "BUG: unable to handle page fault in ext4_dio_write_iter"});
  record(1, {"BUG: unable to handle page fault in ext4_dio_write_iter"});
  record(2, {"WARNING in __alloc_pages"});
  const json doc = report(id);
  const json& crashes = doc["crashes"];
  ASSERT_EQ(crashes.size(), 2U) << crashes.dump(2);
  EXPECT_EQ(crashes[0]["title"], "BUG: unable to handle page fault in ext4_dio_write_iter");
  EXPECT_EQ(crashes[0]["counted"], true);
  EXPECT_EQ(crashes[0]["count"], 2);
  EXPECT_EQ(crashes[1]["title"], "WARNING in __alloc_pages");
  EXPECT_EQ(crashes[1]["counted"], false);
  EXPECT_EQ(crashes[1]["count"], 1);
  EXPECT_EQ(doc["totals"]["evidence_runs"], 2);
}

TEST_F(ReportTest, DescribesTheParametersFromTheStoredConfiguration) {
  const json doc = report(found_);
  const json& parameters = doc["parameters"];
  EXPECT_EQ(parameters["test"]["command"], (json{"./repro.sh", "-n", "4"}));
  EXPECT_EQ(parameters["test"]["timeout_s"], 600);
  EXPECT_EQ(parameters["test"]["failure_outcomes"], (json{"fail", "crash"}));
  EXPECT_EQ(parameters["decision"]["confidence"], 0.99);
  EXPECT_EQ(parameters["decision"]["rate_spread"], config::DecisionConfig{}.rate_spread);
  EXPECT_EQ(parameters["decision"]["min_rate_ratio"], config::DecisionConfig{}.min_rate_ratio);
  EXPECT_EQ(parameters["decision"]["noise_build_weight"],
            config::DecisionConfig{}.noise_build_weight);
  EXPECT_EQ(parameters["decision"]["rare_build_weight"],
            config::DecisionConfig{}.rare_build_weight);
  EXPECT_EQ(parameters["kernel"], nullptr);
  EXPECT_EQ(parameters["qemu"], nullptr);
  EXPECT_EQ(parameters["kernel_config_hash"], nullptr);
  EXPECT_EQ(parameters["kernel_config"], nullptr);
  EXPECT_EQ(doc["bisection"]["config_text"], kConfig);
  EXPECT_EQ(doc["bisection"]["good"][0]["sha"], history_.root);
  EXPECT_EQ(doc["bisection"]["good"][0]["subject"], "commit 0");
  EXPECT_EQ(doc["bisection"]["created_at"], "2024-01-01T00:00:00Z");
}

// The golden emails' Date: and Message-ID: come from this generated_at.
ReportOptions golden_options() {
  ReportOptions options;
  options.generated_at_ms = kStartMs + 86400000;
  return options;
}

TEST_F(ReportTest, TheFoundEmailMatchesItsGoldenFile) {
  const json doc = report(found_, golden_options());
  const std::string email = render_email(doc);
  expect_golden("found.email", email);
  EXPECT_EQ(email.substr(email.find("\n\n") + 2), render_text(doc));
}

TEST_F(ReportTest, TheFoundBisectLogMatchesItsGoldenFile) {
  expect_golden("found.bisect-log", render_bisect_log(report(found_)));
}

TEST_F(ReportTest, TheInconclusiveEmailMatchesItsGoldenFile) {
  const json doc = report(inconclusive_, golden_options());
  EXPECT_EQ(doc["result"]["status"], "inconclusive");
  EXPECT_EQ(doc["result"]["culprit"], nullptr);
  EXPECT_EQ(doc["result"]["reason"], "run budget spent (20 runs)");
  EXPECT_GT(doc["result"]["credible_set_size"].get<int>(), 1);
  expect_golden("inconclusive.email", render_email(doc));
  expect_golden("inconclusive.bisect-log", render_bisect_log(doc));
}

TEST_F(ReportTest, AResultWithoutChecksHasNullChecks) {
  EXPECT_EQ(report(found_)["result"]["checks"], nullptr);
  EXPECT_EQ(report(inconclusive_)["result"]["checks"], nullptr);
  store_checks(nullptr);
  EXPECT_EQ(report(found_)["result"]["checks"], nullptr);
  EXPECT_EQ(report(found_)["warnings"], json::array());
}

TEST_F(ReportTest, AStoredRevertCheckIsInTheResultWithTheRunsAtTheRevertCommit) {
  // The runs at the revert commit are ordinary runs of the bisection's test.
  Recorder revert(*store_, found_, engine::test_identity(parse(kConfig)));
  revert.runs(kRevertSha, {24, 0, 0, 1}, std::nullopt);
  store_checks({{"revert", revert_check("pass")}});
  const json doc = report(found_);
  EXPECT_EQ(doc["result"]["checks"],
            (json{{"revert",
                   {{"status", "pass"},
                    {"reverted", history_.planted_sha()},
                    {"onto", history_.tip},
                    {"commit", kRevertSha},
                    {"runs", 24},
                    {"fails", 0},
                    {"probability_fixed", 0.9961},
                    {"conflicts", json::array()},
                    {"conflict_count", 0},
                    {"detail", "0 of 24 runs failed with " + history_.planted_sha().substr(0, 12) +
                                   " reverted on " + history_.tip.substr(0, 12)},
                    {"outcomes",
                     {{"runs", 25},
                      {"passes", 24},
                      {"fails", 0},
                      {"crashes", 0},
                      {"hangs", 0},
                      {"infra", 1},
                      {"skips", 0},
                      {"interrupted", 0}}}}}}));
  EXPECT_EQ(doc["warnings"], json::array());
  // Not a candidate: the commit table and the posterior leave the revert commit out; the totals
  // count its runs as runs of the bisection.
  EXPECT_EQ(doc["commits"].size(), candidates_.size());
  for (const json& commit : doc["commits"]) EXPECT_NE(commit["sha"], kRevertSha);
  EXPECT_EQ(doc["totals"]["runs"], 97 + 25);
  EXPECT_EQ(doc["totals"]["evidence_runs"], 96);
  EXPECT_EQ(doc["result"]["culprit"]["sha"], history_.planted_sha());
}

// The found bisection's golden files with the check added where each format puts it: a report
// with a check differs from one without only by the check.
TEST_F(ReportTest, EveryFormatShowsTheRevertCheckAndOnlyThat) {
  const std::string planted12 = history_.planted_sha().substr(0, 12);
  const std::string tip12 = history_.tip.substr(0, 12);
  const std::string golden_email =
      read_text(fs::path(FLAKEBISECT_SOURCE_DIR) / "tests" / "report" / "golden" / "found.email");
  const std::string golden_body = golden_email.substr(golden_email.find("\n\n") + 2);
  const std::string golden_log = read_text(fs::path(FLAKEBISECT_SOURCE_DIR) / "tests" / "report" /
                                           "golden" / "found.bisect-log");
  const auto insert_before = [](std::string text, const std::string& before,
                                const std::string& block) {
    const size_t at = text.find(before);
    EXPECT_NE(at, std::string::npos) << before;
    return at == std::string::npos ? text : text.insert(at, block);
  };

  store_checks({{"revert", revert_check("pass")}});
  json doc = report(found_, golden_options());
  const std::string pass_block = "Checks:\n  revert:  PASS  (0 of 24 runs failed with " +
                                 planted12 + " reverted on\n           " + tip12 +
                                 "; P(fixed) = 0.9961)\n\n";
  EXPECT_EQ(render_text(doc), insert_before(golden_body, "bad commit:   ", pass_block));
  const std::string email = render_email(doc);
  EXPECT_EQ(email.substr(email.find("\n\n") + 2), render_text(doc));
  EXPECT_EQ(render_bisect_log(doc),
            insert_before(golden_log, "# first bad commit:",
                          "# flakebisect: revert check: PASS (0 of 24 runs failed with " +
                              planted12 + " reverted on " + tip12 + "; P(fixed) = 0.9961)\n"));
  const std::string html = render_html(doc);
  EXPECT_THAT(html, HasSubstr("<dt>Revert check</dt><dd id=\"revert-check\"><strong>PASS</strong> "
                              "0 of 24 runs failed with " +
                              planted12 + " reverted on " + tip12 +
                              "; P(fixed) = 0.9961 &middot; revert commit <code title=\"" +
                              kRevertSha + "\">" + std::string(kRevertSha).substr(0, 12) +
                              "</code></dd>\n"));  // the detail says nothing more
  EXPECT_EQ(doc["result"]["checks"]["revert"]["status"], "pass");

  store_checks({{"revert", revert_check("conflict")}});
  doc = report(found_, golden_options());
  EXPECT_EQ(doc["result"]["checks"]["revert"]["conflicts"],
            (json{"fs/iomap/direct-io.c", "fs/ext4/file.c"}));
  EXPECT_EQ(doc["result"]["checks"]["revert"]["commit"], nullptr);
  EXPECT_EQ(doc["result"]["checks"]["revert"]["outcomes"], nullptr);
  const std::string conflict_block = "Checks:\n  revert:  CONFLICT  (" + planted12 +
                                     " does not revert cleanly on\n           " + tip12 +
                                     ": conflicts in fs/iomap/direct-io.c and\n"
                                     "           fs/ext4/file.c)\n\n";
  EXPECT_EQ(render_text(doc), insert_before(golden_body, "bad commit:   ", conflict_block));
  EXPECT_THAT(render_bisect_log(doc), HasSubstr("\n# flakebisect: revert check: CONFLICT (" +
                                                planted12 + " does not revert cleanly on " + tip12 +
                                                ": conflicts in fs/iomap/direct-io.c and "
                                                "fs/ext4/file.c)\n# first bad commit: ["));
  EXPECT_THAT(render_html(doc), HasSubstr("<strong>CONFLICT</strong> " + planted12 +
                                          " does not revert cleanly on " + tip12 +
                                          ": conflicts in fs/iomap/direct-io.c and "
                                          "fs/ext4/file.c<br><span class=\"muted\">the revert "
                                          "conflicts in 2 files</span></dd>\n"));
  EXPECT_EQ(doc["warnings"], json::array());
}

TEST_F(ReportTest, ACorruptStoredCheckNeitherThrowsNorPassesGarbageThrough) {
  // Not an object, at either level, or an unknown status: the check is left out and a warning
  // says why.
  for (const json& checks :
       {json("revert: PASS"), json{1, 2}, json{{"revert", "PASS"}},
        json{{"revert", {{"status", "PASS"}}}}, json{{"revert", {{"status", 1}, {"runs", 24}}}}}) {
    store_checks(checks);
    const json doc = report(found_);
    const json& stored = doc["result"]["checks"];
    EXPECT_TRUE(stored.is_null() || stored == (json{{"revert", nullptr}})) << checks << stored;
    ASSERT_EQ(doc["warnings"].size(), 1U) << checks;
    EXPECT_THAT(doc["warnings"][0].get<std::string>(), HasSubstr("left out"));
    EXPECT_THAT(render_text(doc), Not(HasSubstr("Checks:")));
    EXPECT_THAT(render_bisect_log(doc), Not(HasSubstr("revert check")));
    EXPECT_THAT(render_html(doc), Not(HasSubstr("Revert check")));
  }

  // Members of the wrong type or value become null (or empty), with one warning naming them.
  // (The stored result is JSON, so its strings are valid UTF-8: a store with other bytes does
  // not parse, which the report already says.)
  const std::string huge = "\x1b[31m\u202e" + std::string(1 << 20, 'z') + "\n";
  store_checks({{"revert",
                 {{"status", "pass"},
                  {"reverted", "HEAD~1"},
                  {"onto", std::string(40, 'A')},
                  {"commit", history_.tip.substr(0, 39)},
                  {"runs", "24"},
                  {"fails", -1},
                  {"probability_fixed", 1.5},
                  {"conflicts", {huge}},
                  {"detail", huge},
                  {"unknown", huge}}}});
  json doc = report(found_);
  std::string text;
  ASSERT_NO_THROW(text = doc.dump()) << "a string in the report is not valid UTF-8";
  EXPECT_LT(text.size(), size_t{64} << 10) << "the huge string leaked into the report";
  const json& revert = doc["result"]["checks"]["revert"];
  EXPECT_EQ(revert["status"], "pass");
  for (const char* key :
       {"reverted", "onto", "commit", "runs", "fails", "probability_fixed", "outcomes"}) {
    EXPECT_EQ(revert[key], nullptr) << key;
  }
  EXPECT_EQ(revert["conflicts"], json::array());  // only a conflict has paths
  EXPECT_LE(revert["detail"].get<std::string>().size(), 4096U);
  EXPECT_THAT(revert["detail"].get<std::string>(), StartsWith("\x1b[31m\u202ezzz"));
  EXPECT_FALSE(revert.contains("unknown"));
  ASSERT_EQ(doc["warnings"].size(), 1U);
  EXPECT_EQ(doc["warnings"][0],
            "the stored revert check has members of the wrong type or value, left null or empty: "
            "reverted, onto, commit, runs, fails, probability_fixed");
  EXPECT_THAT(render_text(doc),
              HasSubstr("\nChecks:\n  revert:  PASS  (the first bad commit reverted on the bad "
                        "commit, run\n           counts not known)\n\n"));
  const std::string html = render_html(doc);
  EXPECT_LT(html.size(), size_t{1} << 20);
  EXPECT_THAT(html, HasSubstr("<strong>PASS</strong> the first bad commit reverted on the bad "
                              "commit, run counts not known<br><span class=\"muted\">"
                              "zzz"));  // no escape sequence, no override
  EXPECT_THAT(html, Not(HasSubstr("\x1b")));
  EXPECT_THAT(html, Not(HasSubstr("\u202e")));

  // A conflict: paths capped in number and length, non-strings dropped; counts more than runs.
  json paths = json::array({7, nullptr});
  for (int i = 0; i < 60; ++i) paths.push_back(fmt::format("fs/{}/", i) + huge);
  store_checks({{"revert",
                 {{"status", "conflict"},
                  {"reverted", history_.planted_sha()},
                  {"onto", history_.tip},
                  {"commit", kRevertSha},
                  {"runs", 3},
                  {"fails", 5},
                  {"probability_fixed", 0.5},
                  {"conflicts", paths}}}});
  doc = report(found_);
  ASSERT_NO_THROW(text = doc.dump());
  EXPECT_LT(text.size(), size_t{512} << 10);
  const json& conflict = doc["result"]["checks"]["revert"];
  EXPECT_EQ(conflict["commit"], nullptr);
  EXPECT_EQ(conflict["probability_fixed"], nullptr);
  EXPECT_EQ(conflict["runs"], 3);
  EXPECT_EQ(conflict["fails"], nullptr);
  EXPECT_EQ(conflict["conflicts"].size(), 50U);
  EXPECT_EQ(conflict["conflict_count"], 60);
  for (const json& path : conflict["conflicts"]) {
    EXPECT_LE(path.get<std::string>().size(), 4096U);
  }
  EXPECT_THAT(doc["warnings"][0].get<std::string>(), ::testing::EndsWith(": fails, conflicts"));
  const std::string body = render_text(doc);
  EXPECT_THAT(body, HasSubstr("  revert:  CONFLICT  (" + history_.planted_sha().substr(0, 12) +
                              " does not revert cleanly on"));
  EXPECT_THAT(body, HasSubstr(" and 57 more)\n"));
  EXPECT_NO_THROW((void)render_email(doc));
  EXPECT_NO_THROW((void)render_bisect_log(doc));
}

TEST_F(ReportTest, ACheckOfAnotherCommitIsShownWithAWarning) {
  json check = revert_check("pass");
  check["reverted"] = history_.root;
  check["onto"] = history_.planted_sha();
  store_checks({{"revert", check}});
  const json doc = report(found_);
  EXPECT_EQ(doc["result"]["checks"]["revert"]["reverted"], history_.root);
  ASSERT_EQ(doc["warnings"].size(), 2U);
  EXPECT_THAT(doc["warnings"][0].get<std::string>(),
              HasSubstr("the revert check reverted " + history_.root.substr(0, 12) +
                        ", which is not the first bad commit"));
  EXPECT_THAT(doc["warnings"][1].get<std::string>(),
              HasSubstr("which is not the bad commit " + history_.tip.substr(0, 12)));
}

TEST_F(ReportTest, AStoredVerifyCheckIsInTheResultWithTheRunsAtTheParent) {
  // The runs at the parent are ordinary runs of the bisection's test, outside the range.
  Recorder parent(*store_, found_, engine::test_identity(parse(kConfig)));
  parent.runs(history_.root, {20, 1, 0, 2}, std::nullopt);
  store_checks({{"revert", revert_check("pass")}, {"verify", verify_check("pass")}});
  const json doc = report(found_);
  EXPECT_EQ(doc["result"]["checks"]["verify"],
            (json{{"status", "pass"},
                  {"culprit", history_.planted_sha()},
                  {"commit", history_.root},
                  {"runs", 21},
                  {"fails", 0},
                  {"own_runs", 21},
                  {"probability_good", 0.9961},
                  {"detail", "0 of 21 runs failed at " + history_.root.substr(0, 12) +
                                 ", the culprit's parent"},
                  {"outcomes",
                   {{"runs", 23},
                    {"passes", 20},
                    {"fails", 1},
                    {"crashes", 0},
                    {"hangs", 0},
                    {"infra", 2},
                    {"skips", 0},
                    {"interrupted", 0}}}}));
  EXPECT_EQ(doc["result"]["checks"]["revert"]["status"], "pass");  // unchanged beside it
  EXPECT_EQ(doc["warnings"], json::array());
  // Not a candidate: no row, no evidence; the totals count its runs as the bisection's.
  EXPECT_EQ(doc["commits"].size(), candidates_.size());
  for (const json& commit : doc["commits"]) EXPECT_NE(commit["sha"], history_.root);
  EXPECT_EQ(doc["totals"]["runs"], 97 + 23);
  EXPECT_EQ(doc["totals"]["evidence_runs"], 96);

  // A failed build made no runs that count: no probability, no outcomes.
  store_checks({{"verify", verify_check("build_failed")}});
  const json failed = report(found_)["result"]["checks"];
  EXPECT_EQ(failed["revert"], nullptr);
  EXPECT_EQ(failed["verify"]["status"], "build_failed");
  EXPECT_EQ(failed["verify"]["commit"], history_.root);
  EXPECT_EQ(failed["verify"]["probability_good"], nullptr);
  EXPECT_EQ(failed["verify"]["outcomes"], nullptr);
}

TEST_F(ReportTest, WithoutAVerifyCheckTheDocumentAndEveryFormatAreAsBefore) {
  store_checks({{"revert", revert_check("pass")}});
  const json before = report(found_, golden_options());
  EXPECT_FALSE(before["result"]["checks"].contains("verify"));
  EXPECT_EQ(before["result"]["checks"].size(), 1U);
  // A null verify check is no check.
  store_checks({{"revert", revert_check("pass")}, {"verify", nullptr}});
  const json with_null = report(found_, golden_options());
  EXPECT_EQ(json_text(with_null, 2), json_text(before, 2));
  EXPECT_EQ(render_email(with_null), render_email(before));
  EXPECT_EQ(render_bisect_log(with_null), render_bisect_log(before));
  EXPECT_EQ(render_html(with_null), render_html(before));
  // Only {"verify": null}: the same as no check at all.
  store_checks_of(inconclusive_, {{"verify", nullptr}});
  const json inconclusive = report(inconclusive_, golden_options());
  EXPECT_EQ(inconclusive["result"]["checks"], (json{{"revert", nullptr}}));
  expect_golden("inconclusive.email", render_email(inconclusive));
  expect_golden("inconclusive.bisect-log", render_bisect_log(inconclusive));
}

// The golden files with the check added where each format puts it: a report with a verify
// check differs from one without only by the check.
TEST_F(ReportTest, EveryFormatShowsTheVerifyCheckAndOnlyThat) {
  const std::string root12 = history_.root.substr(0, 12);
  const fs::path golden = fs::path(FLAKEBISECT_SOURCE_DIR) / "tests" / "report" / "golden";
  const auto body_of = [](const std::string& email) {
    return email.substr(email.find("\n\n") + 2);
  };
  const auto insert_before = [](std::string text, const std::string& before,
                                const std::string& block) {
    const size_t at = text.find(before);
    EXPECT_NE(at, std::string::npos) << before;
    return at == std::string::npos ? text : text.insert(at, block);
  };

  // A pass: the found bisection's verdict stands.
  store_checks({{"verify", verify_check("pass")}});
  json doc = report(found_, golden_options());
  const std::string pass_words = "0 of 21 runs failed at " + root12 +
                                 ", the culprit's parent, outside the range; P(good) = 0.9961";
  EXPECT_EQ(render_text(doc),
            insert_before(body_of(read_text(golden / "found.email")), "bad commit:   ",
                          "Checks:\n  verify:  PASS  (0 of 21 runs failed at " + root12 +
                              ", the culprit's\n           parent, outside the range; P(good) = "
                              "0.9961)\n\n"));
  EXPECT_EQ(render_bisect_log(doc),
            insert_before(read_text(golden / "found.bisect-log"), "# first bad commit:",
                          "# flakebisect: verify check: PASS (" + pass_words + ")\n"));
  std::string html = render_html(doc);
  EXPECT_THAT(html,
              HasSubstr("<dt>Verify check</dt><dd id=\"verify-check\"><strong>PASS</strong> " +
                        std::string("0 of 21 runs failed at ") + root12 +
                        ", the culprit&#39;s parent, outside the range; P(good) = 0.9961 "
                        "&middot; parent <code title=\"" +
                        history_.root + "\">" + root12 + "</code></dd>\n"));
  EXPECT_THAT(html, Not(HasSubstr("Revert check")));
  EXPECT_EQ(doc["warnings"], json::array());

  // A fail: the engine ended the bisection inconclusive and stored the check.
  store_checks_of(inconclusive_, {{"verify", verify_check("fail")}});
  doc = report(inconclusive_, golden_options());
  EXPECT_EQ(doc["result"]["status"], "inconclusive");
  EXPECT_EQ(doc["result"]["culprit"], nullptr);
  EXPECT_EQ(doc["result"]["checks"]["revert"], nullptr);
  EXPECT_EQ(doc["result"]["checks"]["verify"]["status"], "fail");
  EXPECT_EQ(doc["result"]["checks"]["verify"]["culprit"], history_.planted_sha());
  EXPECT_EQ(doc["warnings"], json::array());  // no culprit to disagree with
  const std::string fail_words = "3 of 12 runs failed at " + root12 +
                                 ", the culprit's parent, outside the range: the regression is "
                                 "at or before it; P(good) < 0.0001";
  // The range is refuted: no commit of it is offered as the first bad one, in any format.
  EXPECT_EQ(doc["result"]["credible_set"], json::array());
  EXPECT_EQ(doc["result"]["credible_set_size"], 0);
  const auto without_credible_set = [](std::string text) {
    const size_t at = text.find("The first bad commit could be any of");
    EXPECT_NE(at, std::string::npos);
    const size_t end = text.find("\n\n", at);
    return at == std::string::npos ? text : text.erase(at, end + 2 - at);
  };
  EXPECT_EQ(render_text(doc),
            insert_before(without_credible_set(body_of(read_text(golden / "inconclusive.email"))),
                          "bad commit:   ",
                          "Checks:\n  verify:  FAIL  (3 of 12 runs failed at " + root12 +
                              ", the culprit's\n           parent, outside the range: the "
                              "regression is at or before it;\n           P(good) < 0.0001)\n\n"));
  // The log leaves out the good end the check found bad, so that git waits for a good commit.
  std::string log = insert_before(read_text(golden / "inconclusive.bisect-log"),
                                  "# flakebisect: the bisection is inconclusive",
                                  "# flakebisect: verify check: FAIL (" + fail_words + ")\n");
  const std::string good_line = "# good: [" + history_.root + "] commit 0\n";
  ASSERT_NE(log.find(good_line), std::string::npos) << log;
  log.replace(log.find(good_line), good_line.size(),
              "# flakebisect: good " + root12 + " left out: the verify check found it bad\n");
  const std::string good_arg = " '" + history_.root + "'\n";
  ASSERT_NE(log.find(good_arg), std::string::npos) << log;
  log.replace(log.find(good_arg), good_arg.size(), "\n");
  EXPECT_EQ(render_bisect_log(doc), log);
  html = render_html(doc);
  EXPECT_THAT(html, HasSubstr("<dd id=\"verify-check\"><strong>FAIL</strong> 3 of 12 runs failed "
                              "at " +
                              root12 +
                              ", the culprit&#39;s parent, outside the range: the "
                              "regression is at or before it; P(good) &lt; 0.0001 &middot; "
                              "parent <code title=\"" +
                              history_.root + "\">" + root12 + "</code></dd>\n"));

  // Inconclusive and a failed build: the words in text, the engine's sentence in HTML too. The
  // store holds the 40 runs the check made at the parent.
  Recorder(*store_, found_, engine::test_identity(parse(kConfig)))
      .runs(history_.root, {34, 6, 0, 0}, std::nullopt);
  store_checks({{"revert", revert_check("pass")}, {"verify", verify_check("inconclusive")}});
  doc = report(found_, golden_options());
  EXPECT_THAT(
      render_text(doc),
      HasSubstr("\nChecks:\n  revert:  PASS  (0 of 24 runs failed with " +
                history_.planted_sha().substr(0, 12) + " reverted on\n           " +
                history_.tip.substr(0, 12) +
                "; P(fixed) = 0.9961)\n  verify:  INCONCLUSIVE  (6 of 40 runs failed at " + root12 +
                ", the\n           culprit's parent, outside the range; P(good) "
                "= 0.5000;\n           undecided after 40 runs there)\n\n"));
  EXPECT_THAT(render_bisect_log(doc), HasSubstr("; P(fixed) = 0.9961)\n# flakebisect: verify "
                                                "check: INCONCLUSIVE (6 of 40 runs failed at " +
                                                root12 +
                                                ", the culprit's parent, outside the "
                                                "range; P(good) = 0.5000; undecided after 40 runs "
                                                "there)\n# first bad commit:"));
  EXPECT_THAT(render_html(doc), HasSubstr("</code><br><span class=\"muted\">the run cap "
                                          "(decision.verify_check_max_runs = 40) was "
                                          "reached</span></dd>\n"));
  store_checks({{"verify", verify_check("build_failed")}});
  doc = report(found_, golden_options());
  EXPECT_THAT(render_text(doc), HasSubstr("\nChecks:\n  verify:  BUILD FAILED  (" + root12 +
                                          ", the culprit's parent, does not\n           "
                                          "build)\n\n"));
  EXPECT_THAT(render_bisect_log(doc),
              HasSubstr("\n# flakebisect: verify check: BUILD FAILED (" + root12 +
                        ", the culprit's parent, does not build)\n# first bad commit:"));
  EXPECT_THAT(render_html(doc), HasSubstr("<span class=\"muted\">the culprit&#39;s parent does "
                                          "not build: make: *** [vmlinux] Error 2</span>"));
}

TEST_F(ReportTest, ACorruptStoredVerifyCheckNeitherThrowsNorPassesGarbageThrough) {
  // Not an object, or an unknown status ("conflict" is a revert status only): the verify check
  // is null, a warning says why, and the revert check beside it is untouched.
  for (const json& verify :
       {json("verify: PASS"), json{1, 2}, json(5), json{{"status", "PASS"}},
        json{{"status", "conflict"}, {"commit", history_.root}}, json{{"status", 1}}}) {
    store_checks({{"revert", revert_check("pass")}, {"verify", verify}});
    const json doc = report(found_);
    EXPECT_EQ(doc["result"]["checks"]["verify"], nullptr) << verify;
    EXPECT_EQ(doc["result"]["checks"]["revert"]["status"], "pass") << verify;
    ASSERT_EQ(doc["warnings"].size(), 1U) << verify;
    EXPECT_THAT(doc["warnings"][0].get<std::string>(), StartsWith("the stored verify check"));
    EXPECT_THAT(doc["warnings"][0].get<std::string>(), HasSubstr("left out"));
    EXPECT_THAT(render_text(doc), Not(HasSubstr("verify:")));
    EXPECT_THAT(render_bisect_log(doc), Not(HasSubstr("verify check")));
    EXPECT_THAT(render_html(doc), Not(HasSubstr("Verify check")));
  }

  // Members of the wrong type or value become null, with one warning naming them.
  const std::string huge = "\x1b[31m\u202e" + std::string(1 << 20, 'z') + "\n";
  store_checks({{"verify",
                 {{"status", "pass"},
                  {"culprit", "HEAD~1"},
                  {"commit", history_.root.substr(0, 39)},
                  {"runs", 21.5},
                  {"fails", -1},
                  {"own_runs", "21"},
                  {"probability_good", -0.1},
                  {"detail", huge},
                  {"unknown", huge}}}});
  json doc = report(found_);
  std::string text;
  ASSERT_NO_THROW(text = doc.dump()) << "a string in the report is not valid UTF-8";
  EXPECT_LT(text.size(), size_t{64} << 10) << "the huge string leaked into the report";
  const json& verify = doc["result"]["checks"]["verify"];
  EXPECT_EQ(verify["status"], "pass");
  for (const char* key :
       {"culprit", "commit", "runs", "fails", "own_runs", "probability_good", "outcomes"}) {
    EXPECT_EQ(verify[key], nullptr) << key;
  }
  EXPECT_LE(verify["detail"].get<std::string>().size(), 4096U);
  EXPECT_THAT(verify["detail"].get<std::string>(), StartsWith("\x1b[31m\u202ezzz"));
  EXPECT_FALSE(verify.contains("unknown"));
  ASSERT_EQ(doc["warnings"].size(), 1U);
  EXPECT_EQ(doc["warnings"][0],
            "the stored verify check has members of the wrong type or value, left null: "
            "culprit, commit, runs, fails, own_runs, probability_good");
  EXPECT_THAT(render_text(doc),
              HasSubstr("\nChecks:\n  verify:  PASS  (the culprit's parent, outside the range, "
                        "run counts\n           not known)\n\n"));
  const std::string html = render_html(doc);
  EXPECT_THAT(html, HasSubstr("<strong>PASS</strong> the culprit&#39;s parent, outside the range, "
                              "run counts not known<br><span class=\"muted\">zzz"));
  EXPECT_THAT(html, Not(HasSubstr("\x1b")));
  EXPECT_THAT(html, Not(HasSubstr("\u202e")));
  EXPECT_NO_THROW((void)render_email(doc));
  EXPECT_NO_THROW((void)render_bisect_log(doc));

  // Failures above runs; a probability for a failed build is dropped without a warning, as the
  // revert check's is; a detail of the wrong type.
  json check = verify_check("fail");
  check["fails"] = 13;
  check["detail"] = json{{"text", "x"}};
  store_checks({{"verify", check}});
  doc = report(found_);
  EXPECT_EQ(doc["result"]["checks"]["verify"]["runs"], 12);
  EXPECT_EQ(doc["result"]["checks"]["verify"]["fails"], nullptr);
  EXPECT_EQ(doc["result"]["checks"]["verify"]["detail"], nullptr);
  EXPECT_THAT(doc["warnings"][0].get<std::string>(), ::testing::EndsWith(": fails, detail"));
  check = verify_check("build_failed");
  check["probability_good"] = 0.5;
  check["runs"] = 24.0;  // a whole number is a count
  store_checks({{"verify", check}});
  doc = report(found_);
  EXPECT_EQ(doc["result"]["checks"]["verify"]["probability_good"], nullptr);
  EXPECT_EQ(doc["result"]["checks"]["verify"]["runs"], 24);
  EXPECT_EQ(doc["warnings"], json::array());
}

TEST_F(ReportTest, AVerifyCheckForAnotherCulpritIsShownWithAWarning) {
  json check = verify_check("pass");
  check["culprit"] = history_.tip;
  store_checks({{"verify", check}});
  const json doc = report(found_);
  EXPECT_EQ(doc["result"]["checks"]["verify"]["culprit"], history_.tip);
  ASSERT_EQ(doc["warnings"].size(), 1U);
  EXPECT_EQ(doc["warnings"][0], "the verify check ran for " + history_.tip.substr(0, 12) +
                                    ", which is not the first bad commit " +
                                    history_.planted_sha().substr(0, 12));
  EXPECT_THAT(render_text(doc), HasSubstr("  verify:  PASS  ("));
}

// range.first_parent, from the stored configuration: in the document, in the text and email
// bodies, and as the --first-parent of the bisect-log's start (so git replays the same chain).
TEST_F(ReportTest, AFirstParentBisectionSaysSoInTheDocumentTheTextAndTheBisectLog) {
  const json plain = report(found_);
  EXPECT_EQ(plain["bisection"]["first_parent"], false);
  EXPECT_THAT(render_text(plain), Not(HasSubstr("first-parent")));
  EXPECT_THAT(render_bisect_log(plain), Not(HasSubstr("--first-parent")));

  const std::string config_text = std::string("[range]\nfirst_parent = true\n\n") + kConfig;
  const int64_t id =
      create_bisection(*store_, history_.repo, history_.tip, history_.root, config_text);
  const json doc = report(id);
  EXPECT_EQ(doc["bisection"]["first_parent"], true);
  const std::string count = std::to_string(doc["bisection"]["candidates"].get<int64_t>());
  EXPECT_THAT(render_text(doc),
              HasSubstr("\ngood commit:  " + history_.root.substr(0, 12) +
                        " commit 0\ncandidates:   " + count +
                        " commits, the first-parent chain of bad (merges tested\n"
                        "              as one commit)\nrepository:   /src/linux\n"));
  EXPECT_THAT(render_email(doc),
              HasSubstr("\ncandidates:   " + count + " commits, the first-parent chain of bad"));
  EXPECT_THAT(render_bisect_log(doc), HasSubstr("\ngit bisect start '--first-parent' '" +
                                                history_.tip + "' '" + history_.root + "'\n"));
}

// An [xfstests] bisection: its tests and options are in the document's parameters, and they,
// QEMU's architecture and the scratch filesystem's block size name it in KernelCI's subject.
TEST_F(ReportTest, AnXfstestsBisectionHasItsParametersAndKernelCIsSubject) {
  const std::string config_text =
      "[qemu]\nbinary = \"qemu-system-x86_64\"\nkernel = \"/boot/vmlinuz\"\n\n"
      "[scratch]\nmkfs = [\"mkfs.ext4\", \"-F\", \"-b\", \"1024\"]\n\n"
      "[xfstests]\ndir = \"/opt/xfstests-dev\"\ntests = [\"generic/418\"]\n"
      "mkfs_options = \"-b 1024\"\nenvironment = [\"DIFF_LENGTH=0\"]\n";
  const int64_t id = create_bisection(*store_, history_.repo, history_.tip, history_.root,
                                      config_text, nullptr, "master", "v6.1");
  const json doc = report(id);
  EXPECT_EQ(doc["parameters"]["xfstests"], (json{{"root", "/"},
                                                 {"dir", "/opt/xfstests-dev"},
                                                 {"tests", {"generic/418"}},
                                                 {"mkfs_options", "-b 1024"},
                                                 {"mount_options", ""},
                                                 {"environment", {"DIFF_LENGTH=0"}}}));
  EXPECT_EQ(doc["parameters"]["reproducer"], nullptr);
  EXPECT_EQ(report(found_)["parameters"]["xfstests"], nullptr);
  EXPECT_THAT(render_email(doc), HasSubstr("\nSubject: [flakebisect] linux/master bisection: "
                                           "generic/418 on qemu-x86_64\n ext4/1k (queued)\n"));
  EXPECT_THAT(render_text(doc), HasSubstr("\nxfstests:     generic/418; MKFS_OPTIONS=-b 1024\n"));
  EXPECT_THAT(render_html(doc), HasSubstr("<dt>Bad</dt><dd><code>" + history_.tip.substr(0, 12) +
                                          "</code> (master) commit 42</dd>"));
  EXPECT_THAT(
      render_html(report(inconclusive_)),
      HasSubstr("<dt>Bad</dt><dd><code>" + history_.tip.substr(0, 12) + "</code> commit 42</dd>"));
  // Typed as a SHA: nothing beside the SHA, in the page as in the mail.
  const int64_t by_sha = create_bisection(*store_, history_.repo, history_.tip, history_.root,
                                          kConfig, nullptr, history_.tip.substr(0, 8), "HEAD~3");
  EXPECT_THAT(
      render_html(report(by_sha)),
      HasSubstr("<dt>Bad</dt><dd><code>" + history_.tip.substr(0, 12) + "</code> commit 42</dd>"));
  EXPECT_THAT(
      render_text(report(by_sha)),
      HasSubstr("\nbad commit:   " + history_.tip.substr(0, 12) +
                " commit 42\ngood commit:  " + history_.root.substr(0, 12) + " commit 0\n"));
}

TEST_F(ReportTest, AQueuedBisectionHasAnEmptyButCompleteReport) {
  const config::Config config = parse(kConfig);
  store::BisectionSpec spec;
  spec.repo = history_.repo.native();
  spec.bad_sha = history_.tip;
  spec.good_shas = {history_.root};
  spec.config_toml = kConfig;
  spec.config_hash = config.hash();
  spec.test_identity = "queued-identity";
  auto id = store_->create_bisection(spec, kStartMs);
  ASSERT_TRUE(id.has_value());
  const json doc = report(*id);
  EXPECT_EQ(doc["result"]["status"], "queued");
  EXPECT_EQ(doc["commits"], json::array());
  EXPECT_EQ(doc["result"]["theta"], nullptr);
  EXPECT_EQ(doc["result"]["confidence"], 0.0);
  EXPECT_EQ(doc["warnings"], json::array());
  EXPECT_NO_THROW((void)render_email(doc));
  EXPECT_THAT(render_bisect_log(doc), HasSubstr("no usable candidate commits"));
}

TEST_F(ReportTest, ABisectionWithoutEvidenceClaimsNoFailureRate) {
  // Candidates and only infra runs: the posterior and its rates are still the prior's.
  const std::string config_text = std::string(kConfig) + "no_output_timeout = 30\n";
  const int64_t id =
      create_bisection(*store_, history_.repo, history_.tip, history_.root, config_text);
  Recorder recorder(*store_, id, engine::test_identity(parse(config_text)));
  recorder.plan(history_.tip, 4, 0, 4, 0.1, candidates_.front().sha, true);
  recorder.runs(history_.tip, {0, 0, 0, 3}, std::nullopt);
  for (const char* state : {"running", "paused", "cancelled"}) {
    ASSERT_TRUE(store_->database_for_testing().execute(
        "UPDATE bisections SET state = ?2, owner_pid = IIF(?2 = 'running', 1, NULL) WHERE id = ?1",
        id, std::string(state)));
    const json doc = report(id);
    ASSERT_EQ(doc["result"]["status"], state);
    ASSERT_TRUE(doc["result"]["theta"].is_object()) << "the test needs a prior to leave out";
    EXPECT_EQ(doc["totals"]["evidence_runs"], 0);
    const std::string text = render_text(doc);
    EXPECT_THAT(text, Not(HasSubstr("The failure shows in about"))) << text;
    EXPECT_THAT(text, Not(HasSubstr("most likely first bad commit"))) << text;
  }
  // Passes alone are evidence, but until a run fails every commit is alike and the rates are
  // the prior's still: no "most likely so far" (the first commit of a tie) and no rate.
  recorder.runs(history_.tip, {3, 0, 0, 0}, std::nullopt);
  json doc = report(id);
  EXPECT_EQ(doc["totals"]["evidence_runs"], 3);
  EXPECT_EQ(doc["totals"]["evidence_failures"], 0);
  std::string text = render_text(doc);
  EXPECT_THAT(text, Not(HasSubstr("The failure shows in about"))) << text;
  EXPECT_THAT(text, Not(HasSubstr("most likely first bad commit"))) << text;
  // One failure, and both are there.
  recorder.runs(history_.tip, {0, 1, 0, 0}, std::nullopt);
  doc = report(id);
  EXPECT_EQ(doc["totals"]["evidence_failures"], 1);
  text = render_text(doc);
  EXPECT_THAT(text, HasSubstr("The failure shows in about")) << text;
  EXPECT_THAT(text, HasSubstr("most likely first bad commit so far")) << text;
}

TEST_F(ReportTest, AMissingRepositoryOrConfigurationIsAWarningNotAnError) {
  fs::rename(history_.repo, dir_ / "moved");
  json doc = report(found_);
  ASSERT_EQ(doc["warnings"].size(), 1U);
  EXPECT_THAT(doc["warnings"][0].get<std::string>(), HasSubstr("commit details are missing"));
  EXPECT_EQ(doc["result"]["culprit"]["sha"], history_.planted_sha());
  EXPECT_EQ(doc["result"]["culprit"]["author"], nullptr);
  EXPECT_EQ(doc["bisection"]["good"][0]["subject"], nullptr);
  EXPECT_EQ(doc["commits"].size(), candidates_.size());
  EXPECT_NO_THROW((void)render_email(doc));

  const fs::path db = dir_ / "state" / "flakebisect.db";
  auto raw = store::Store::open(db.native());
  ASSERT_TRUE(raw.has_value());
  ASSERT_TRUE(raw->database_for_testing().execute(
      "UPDATE bisections SET config_toml = '[test' WHERE id = ?1", found_));
  doc = report(found_);
  EXPECT_THAT(doc["warnings"].dump(), HasSubstr("the stored configuration does not parse"));
  EXPECT_EQ(doc["parameters"]["test"], nullptr);
  EXPECT_EQ(doc["result"]["status"], "found");
}

TEST_F(ReportTest, AStoredPlanEventOfAnotherShapeStillGivesAReport) {
  // Events written by another version, or damaged: members of the wrong type read as absent.
  for (const char* data :
       {R"({"sha": 5, "runs": "16", "reproducing": "yes", "max_probability": [1]})",
        R"({"reproducing": 1})", R"({"reproducing": null})", R"({"reproducing": {}})", R"([true])",
        R"("reproducing")"}) {
    store::Event event;
    event.bisection_id = found_;
    event.at_ms = kStartMs + 7200000;
    event.kind = std::string(engine::kEventPlan);
    event.message = "plan";
    event.data_json = data;
    ASSERT_TRUE(store_->append_event(event));
  }
  auto document = build_report(*store_, found_);
  ASSERT_TRUE(document.has_value()) << document.error().message();
  const json& decisions = (*document)["decisions"];
  ASSERT_EQ(decisions.size(), 12U);
  EXPECT_EQ(decisions[0]["reproducing"], true);
  for (size_t i = 6; i < decisions.size(); ++i) {
    EXPECT_EQ(decisions[i]["reproducing"], false) << i;
    EXPECT_EQ(decisions[i]["runs"], 0) << i;
  }
  EXPECT_NO_THROW((void)render_email(*document));
}

TEST_F(ReportTest, TotalsSayWhichBuildsCameFromTheCacheAndWhereTheTimeOutsideTheRunsWent) {
  const auto add = [&](std::string_view kind, const json& data) {
    store::Event event;
    event.bisection_id = found_;
    event.at_ms = kStartMs + 7200000;
    event.kind = std::string(kind);
    event.message = std::string(kind);
    event.data_json = data.dump();
    ASSERT_TRUE(store_->append_event(event));
  };
  add(engine::kEventBuild, {{"sha", history_.tip}, {"status", "ok"}, {"duration_ms", 540000}});
  add(engine::kEventBuild,
      {{"sha", history_.root}, {"status", "ok"}, {"duration_ms", 3000}, {"detail", "cached"}});
  add(engine::kEventBuild, {{"sha", history_.planted_sha()},
                            {"status", "failed"},
                            {"duration_ms", 60000},
                            {"detail", "cached"}});
  // Two batches, 100 s and 20 s outside their runs; one whose runs outlast it counts as none.
  add(engine::kEventBatch, {{"runs", 16}, {"run_ms", 40000}, {"wall_ms", 140000}});
  add(engine::kEventBatch, {{"runs", 4}, {"run_ms", 10000}, {"wall_ms", 30000}});
  add(engine::kEventBatch, {{"runs", 1}, {"run_ms", 9000}, {"wall_ms", 8000}});
  const json doc = report(found_);
  const json& totals = doc["totals"];
  EXPECT_EQ(totals["builds"], 3);
  EXPECT_EQ(totals["failed_builds"], 1);
  EXPECT_EQ(totals["cached_builds"], 1) << "a failed build is not an image from the cache";
  EXPECT_EQ(totals["build_ms"], 603000);
  EXPECT_EQ(totals["setup_ms"], 120000);
  // The "spent:" field as one line, its folds undone.
  std::string email = render_email(doc);
  for (size_t at; (at = email.find("\n              ")) != std::string::npos;) {
    email.replace(at, 15, " ");
  }
  EXPECT_THAT(email, HasSubstr("3 builds (1 failed, 1 from the artifact cache)"));
  EXPECT_THAT(email, HasSubstr("2m 00s booting and setting up, 4m 03s running"));
}

TEST_F(ReportTest, AnUnknownBisectionIsNotFound) {
  auto document = build_report(*store_, 42);
  ASSERT_FALSE(document.has_value());
  EXPECT_EQ(document.error().code(), base::ErrorCode::kNotFound);
  EXPECT_THAT(document.error().message(), HasSubstr("no bisection 42"));
}

TEST_F(ReportTest, KernelBisectionsShowBuildsConfigHashCompilerAndTheAccelTheRunsUsed) {
  const std::string config_text =
      "[kernel]\nbase = \"tinyconfig\"\n\n[qemu]\naccel = \"auto\"\n\n"
      "[reproducer]\nprogram = \"bundled:dio-check\"\n";
  const config::Config config = parse(config_text);
  const int64_t id =
      create_bisection(*store_, history_.repo, history_.tip, history_.root, config_text);
  auto repo = git::Repository::open(history_.repo);
  ASSERT_TRUE(repo.has_value());
  const fs::path artifact = dir_ / "artifacts" / "entry";
  write_text(artifact / "config", "CONFIG_EXT4_FS=y\n");
  write_text(artifact / "build.log",
             "make tinyconfig\n# compiler: gcc (Debian 12.2.0-14) 12.2.0\n# artifact key: k\n");
  const auto build = [&](const std::string& sha, store::BuildStatus status) {
    store::BuildRecord record;
    record.sha = sha;
    record.tree_id = repo->tree_id(sha).value();
    record.config_hash = engine::build_key(config);
    record.status = status;
    if (status == store::BuildStatus::kOk) record.artifact_path = artifact.native();
    record.duration_ms = 600000;
    ASSERT_TRUE(store_->record_build(record));
  };
  build(history_.tip, store::BuildStatus::kOk);
  build(history_.planted_sha(), store::BuildStatus::kFailed);
  store::Event event;
  event.bisection_id = id;
  event.at_ms = kStartMs;
  event.kind = "boot";
  event.message = "booted with kvm";
  event.data_json = R"({"accel": "kvm"})";
  ASSERT_TRUE(store_->append_event(event));

  const json doc = report(id);
  const json& parameters = doc["parameters"];
  EXPECT_EQ(parameters["kernel"]["base"], "tinyconfig");
  EXPECT_EQ(parameters["kernel_config_hash"], config::sha256_hex("CONFIG_EXT4_FS=y\n"));
  EXPECT_EQ(parameters["kernel_config"], "CONFIG_EXT4_FS=y\n") << "the mail attaches it";
  EXPECT_EQ(parameters["compiler"], "gcc (Debian 12.2.0-14) 12.2.0");
  EXPECT_EQ(parameters["qemu"]["accel"], "kvm");
  EXPECT_EQ(parameters["qemu"]["accel_configured"], "auto");
  EXPECT_EQ(parameters["scratch"]["mkfs"], (json{"mkfs.ext4", "-q", "-F", "-b", "1024"}));
  EXPECT_EQ(parameters["reproducer"]["program"], "bundled:dio-check");
  std::map<std::string, json> builds;
  for (const json& commit : doc["commits"]) builds[commit["sha"]] = commit["build"];
  EXPECT_EQ(builds[history_.tip], "ok");
  EXPECT_EQ(builds[history_.planted_sha()], "failed");
  EXPECT_EQ(builds[history_.shas[history_.parents[history_.planted][0]]], nullptr);
  for (const json& commit : doc["commits"]) {
    EXPECT_EQ(commit["evidence"]["skipped"], commit["sha"] == history_.planted_sha());
  }
  const std::string email = render_email(doc);
  EXPECT_THAT(email, HasSubstr("kernel:       tinyconfig + qemu-guest (bzImage), .config " +
                               config::sha256_hex("CONFIG_EXT4_FS=y\n").substr(0, 12) + "\n"));
  EXPECT_THAT(email, HasSubstr("compiler:     gcc (Debian 12.2.0-14) 12.2.0\n"));
  EXPECT_THAT(email, HasSubstr("qemu:         accel kvm, 2 CPUs, 512 MB\n"));
  // The bundled checker by the name a reader knows, in the body and the subject.
  EXPECT_THAT(email,
              HasSubstr("reproducer:   dio-check -w -t -b 1024 -n 4 -i 20\n"
                        "              {scratch}/dio-check.file (bundled with flakebisect)\n"));
  EXPECT_THAT(email, HasSubstr(" bisection: dio-check on qemu-x86_64"));
}

// A repository whose culprit was written by someone who does not like us.
TEST(HostileReport, UnicodeNamesNewlinesInvalidUtf8AndAMegabyteMessageStayWellFormed) {
  TempDir dir;
  const fs::path repo = dir / "repo";
  fs::create_directories(repo);
  flakebisect::testing::git(repo, {"init", "-q", "-b", "main"});
  const std::string hostile_message =
      "fs: \x1b[31mred\x1b[0m\rBcc: evil@example.com ü\xff\xfe \u202eright-to-left\n"
      "second line of the subject\n\n" +
      std::string(1 << 20, 'z') + "\n\n" +
      "Signed-off-by: Jörg Ünïcödé <joerg@example.de>\n"
      "Signed-off-by: Evil\rBcc: evil@example.com <evil@example.com>\n"
      "Reviewed-by: not an address\n";
  std::string stream;
  const auto commit = [&](int mark, const std::string& author, const std::string& message) {
    stream += "commit refs/heads/main\nmark :" + std::to_string(mark) + "\n";
    stream += "author " + author + " 1700000000 +0530\n";
    stream += "committer C O Mitter <committer@example.com> 1700000000 +0000\n";
    stream += "data " + std::to_string(message.size()) + "\n" + message + "\n";
    if (mark > 1) stream += "from :" + std::to_string(mark - 1) + "\n";
    stream += "M 100644 inline file" + std::to_string(mark) + "\ndata 2\nx\n\n";
  };
  commit(1, "Root <root@example.com>", "root\n");
  commit(2, "J\xc3\xb6rg \xff\xfe Ünïcödé \"Evil\" Bcc: evil@example.com <joerg@example.de>",
         hostile_message);
  commit(3, "Tip <tip@example.com>", "tip\n");
  flakebisect::testing::git(repo, {"fast-import", "--quiet"}, stream);
  const std::string root = trim(flakebisect::testing::git(repo, {"rev-parse", "main~2"}));
  const std::string culprit = trim(flakebisect::testing::git(repo, {"rev-parse", "main~1"}));
  const std::string tip = trim(flakebisect::testing::git(repo, {"rev-parse", "main"}));

  store::Store store = open_store(dir / "flakebisect.db");
  const int64_t id = create_bisection(store, repo, tip, root, kConfig);
  Recorder recorder(store, id, engine::test_identity(parse(kConfig)));
  recorder.runs(tip, {0, 4, 0, 0}, std::nullopt);
  recorder.runs(culprit, {0, 4, 0, 0}, std::nullopt);
  recorder.finish(store::BisectionState::kFound,
                  json{{"version", 1}, {"status", "found"}, {"culprit", {{"sha", culprit}}}});

  ReportOptions options;
  options.generated_at_ms = kStartMs + 86400000;
  auto document = build_report(store, id, options);
  ASSERT_TRUE(document.has_value()) << document.error().message();
  std::string text;
  ASSERT_NO_THROW(text = document->dump()) << "a string in the report is not valid UTF-8";
  EXPECT_LT(text.size(), size_t{64} << 10) << "the megabyte message leaked into the report";
  const json& found = (*document)["result"]["culprit"];
  EXPECT_EQ(found["sha"], culprit);
  EXPECT_THAT(found["subject"].get<std::string>(), StartsWith("fs: \x1b[31mred"));
  EXPECT_THAT(found["subject"].get<std::string>(), HasSubstr("\xEF\xBF\xBD"));
  EXPECT_THAT(found["author"]["name"].get<std::string>(), StartsWith("Jörg \xEF\xBF\xBD"));

  const std::string email = render_email(*document);
  const std::string headers = email.substr(0, email.find("\n\n") + 1);
  EXPECT_THAT(email, Not(HasSubstr("\r")));
  EXPECT_THAT(email, Not(HasSubstr("\x1b")));
  EXPECT_THAT(email, Not(HasSubstr("\u202e")));
  EXPECT_THAT(headers, Not(HasSubstr("\nBcc")));
  EXPECT_THAT(headers, HasSubstr("To: =?UTF-8?B?"));
  EXPECT_THAT(headers, HasSubstr("<joerg@example.de>\n"));
  std::istringstream lines(headers);
  std::map<std::string, int> seen;
  for (std::string line; std::getline(lines, line);) {
    EXPECT_LE(line.size(), 78U) << line;
    if (line.starts_with(" ")) continue;  // a folded line
    const std::string name = line.substr(0, line.find(": "));
    EXPECT_TRUE(name == "From" || name == "To" || name == "Cc" || name == "Subject" ||
                name == "Date" || name == "Message-ID" || name == "MIME-Version" ||
                name == "Content-Type" || name == "Content-Transfer-Encoding")
        << line << "\nin\n"
        << headers;
    EXPECT_EQ(++seen[name], 1) << "a second " << name << ": header in\n" << headers;
  }
  // Dated when the bisection ended, not when the report was made (2024-01-02).
  EXPECT_THAT(headers, HasSubstr("\nDate: Mon, 01 Jan 2024 00:00:24 +0000\n"));
  EXPECT_THAT(headers,
              ::testing::ContainsRegex(
                  "\nMessage-ID: <flakebisect-1-20240101T000024Z-[0-9a-f]{12}@localhost>\n"));
  // The second signer's name swallowed the "Bcc:" as text; the address is the real one.
  EXPECT_THAT(headers, HasSubstr("\"Evil Bcc: evil@example.com\" <evil@example.com>")) << headers;

  const std::string log = render_bisect_log(*document);
  EXPECT_THAT(log,
              HasSubstr("# first bad commit: [" + culprit + "] fs: red Bcc: evil@example.com"));
  EXPECT_THAT(log, Not(HasSubstr("\r")));
  EXPECT_THAT(log, Not(HasSubstr("\ngit bisect bad " + root)));
}

}  // namespace
}  // namespace flakebisect::report
