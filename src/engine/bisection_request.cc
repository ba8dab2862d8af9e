#include "engine/bisection_request.h"

#include <algorithm>
#include <filesystem>

#include "base/paths.h"
#include "build/kernel_builder.h"
#include "engine/config_text.h"
#include "engine/identity.h"
#include "git/candidates.h"
#include "git/repository.h"

namespace flakebisect::engine {

using base::ErrorCode;

namespace {

// A program named bare must be on PATH and an absolute one must exist, or every run would fail
// the same way; a relative path with a slash is looked up in the commit's worktree, which does not
// exist yet, so it is left to the first run.
base::Status check_program(std::string_view what, const std::vector<std::string>& argv) {
  if (argv.empty()) {
    return {};
  }
  const std::string& program = argv.front();
  if (program.find('/') != std::string::npos && program.front() != '/') {
    return {};
  }
  auto found = base::find_executable(program);
  if (!found) {
    return std::move(found).error().context(fmt::format("{} command", what));
  }
  return {};
}

// A relative test program with a slash is looked up in each commit's checkout. Without a build
// command nothing can make it there, so one that neither end's tree has would leave every run
// "not found" and the bisection paused for good (its command cannot change): refused now. So is
// a guest's relative reproducer.program, which would make every commit a skip.
base::Status check_checkout_path(const git::Repository& repo, const store::BisectionSpec& spec,
                                 std::string_view what, const std::string& program) {
  // "." and empty components go; a ".." is left to the runs, since what it climbs out of may be
  // a symbolic link in the tree ("link/../run.sh"), as is a path that names a directory.
  std::string path;
  for (const auto& component : std::filesystem::path(program)) {
    const std::string name = component.native();
    if (name == "..") return {};
    if (name.empty() || name == "." || name == "/") continue;
    if (!path.empty()) path += '/';
    path += name;
  }
  if (path.empty() || program.back() == '/') {
    return {};
  }
  std::vector<std::string> ends = spec.good_shas;
  ends.push_back(spec.bad_sha);
  for (const std::string& sha : ends) {
    FB_ASSIGN_OR_RETURN(const bool there, repo.may_have_path(sha, path));
    if (there) {
      return {};
    }
  }
  std::error_code error;
  const std::filesystem::path here = std::filesystem::absolute(program, error);
  const bool in_current_dir = !error && std::filesystem::exists(here, error);
  return base::make_error(
      ErrorCode::kNotFound,
      "{} '{}': a relative path is looked up in each commit's checkout, and neither --bad '{}' "
      "nor {} has {} (there is no build.command to make it); {}",
      what, program, spec.bad_ref,
      spec.good_refs.size() == 1 ? fmt::format("--good '{}'", spec.good_refs.front())
                                 : std::string("any --good"),
      path,
      in_current_dir
          ? fmt::format("for the one in the current directory, give its absolute path '{}'",
                        here.lexically_normal().native())
          : "it is not in the current directory either");
}

// The test command's program with a slash, and a guest's reproducer.program, when relative.
base::Status check_checkout_program(const git::Repository& repo, const config::Config& config,
                                    const store::BisectionSpec& spec) {
  if (!config.build.command.empty()) {
    return {};
  }
  const std::vector<std::string>& argv = config.test.command;
  if (!argv.empty() && argv.front().find('/') != std::string::npos && argv.front().front() != '/') {
    FB_TRY(check_checkout_path(repo, spec, "test command", argv.front()));
  }
  // reproducer.program: "bundled:NAME", an absolute host path, or any other path the checkout's.
  if (config.reproducer && !config.xfstests) {
    const std::string& program = config.reproducer->program;
    if (!program.empty() && program.front() != '/' && !program.starts_with("bundled:")) {
      FB_TRY(check_checkout_path(repo, spec, "reproducer.program", program));
    }
  }
  return {};
}

// range.find_fix turns the range around: bad is the older commit (the test fails there) and the
// one good the newer (it passes there), so bad must be good's ancestor.
base::Status check_fix_range(const git::Repository& repo, const BisectRequest& request,
                             const store::BisectionSpec& spec) {
  if (spec.good_shas.size() != 1) {
    return base::make_error(ErrorCode::kInvalidInput,
                            "--find-fix takes one --good, the newer commit where the test passes "
                            "(got {})",
                            spec.good_shas.size());
  }
  const config::Config& config = request.config;
  const std::string& fixed = spec.good_shas.front();
  const std::string where =
      fmt::format("{}, --bad '{}' --good '{}'", config.origin_of("range.find_fix", "--find-fix"),
                  request.bad_rev, spec.good_refs.front());
  if (fixed == spec.bad_sha) {
    return base::make_error(ErrorCode::kInvalidInput, "{}: both name {}", where, fixed);
  }
  FB_ASSIGN_OR_RETURN(const bool ordered, repo.is_ancestor(spec.bad_sha, fixed));
  if (!ordered) {
    FB_ASSIGN_OR_RETURN(const bool swapped, repo.is_ancestor(fixed, spec.bad_sha));
    return base::make_error(
        ErrorCode::kInvalidInput,
        "{}: bad {} is not an ancestor of good {}{}; to find a fix, --bad is the older commit, "
        "where the test fails, and --good the newer one, where it passes",
        where, spec.bad_sha, fixed, swapped ? " (good is an ancestor of bad: swapped?)" : "");
  }
  // The same range the other way round: what a shallow or partial clone lacks, for example.
  if (auto valid = repo.validate_range({spec.bad_sha}, fixed); !valid) {
    return std::move(valid).error().context(where);
  }
  // The candidates are good's first-parent chain down to bad, so bad must be on it: reached only
  // through a merge's other parent, the chain's oldest commit is no descendant of bad, and the
  // search would name it the fix whenever bad is the last commit that fails.
  git::CandidateOptions options;
  options.first_parent_only = true;
  FB_ASSIGN_OR_RETURN(const git::CandidateGraph chain,
                      git::build_candidates(repo, fixed, {spec.bad_sha}, options));
  FB_ASSIGN_OR_RETURN(const git::CommitInfo oldest, repo.commit_info(chain.commits[0].sha));
  if (oldest.parents.empty() || oldest.parents.front() != spec.bad_sha) {
    const std::string below =
        oldest.parents.empty() ? std::string() : oldest.parents.front().substr(0, 12);
    return base::make_error(
        ErrorCode::kInvalidInput,
        "{}: bad {} is not on good's first-parent chain (a merge brought it in); the candidates "
        "are that chain, so give as --bad a commit on it where the test fails{}",
        where, spec.bad_sha,
        below.empty() ? std::string()
                      : fmt::format(", such as {}, where the chain meets bad's history (check "
                                    "that the test fails there)",
                                    below));
  }
  return {};
}

}  // namespace

base::Status check_setting_conflicts(const config::Config& config) {
  if (config.range.find_fix && config.decision.revert_check) {
    return base::make_error(
        ErrorCode::kInvalidInput,
        "{} cannot run the revert check, {}: it reverts a culprit, and a fix bisection names no "
        "culprit",
        config.origin_of("range.find_fix", "--find-fix"),
        config.origin_of("decision.revert_check", "--revert-check"));
  }
  if (!config.range.find_fix &&
      (config.decision.backport_check || !config.decision.backport_onto.empty())) {
    const bool onto = !config.decision.backport_onto.empty();
    return base::make_error(
        ErrorCode::kInvalidInput,
        "{} needs --find-fix (range.find_fix): it cherry-picks the fix found onto {}",
        onto ? config.origin_of("decision.backport_onto", "--backport-onto")
             : config.origin_of("decision.backport_check", "--backport-check"),
        onto ? "another commit" : "the broken commit");
  }
  return {};
}

base::Result<store::BisectionSpec> prepare_bisection(const BisectRequest& request) {
  if (request.config.test.command.empty() && !request.config.reproducer &&
      !request.config.xfstests) {
    return base::Error(
        "no test command: give one after '--', set test.command, or use [qemu] with "
        "[reproducer] or [xfstests] in the configuration",
        ErrorCode::kInvalidInput);
  }
  if (request.good_revs.empty()) {
    return base::Error("at least one --good revision is needed", ErrorCode::kInvalidInput);
  }
  FB_TRY(check_setting_conflicts(request.config));
  FB_TRY(check_program("test", request.config.test.command));
  FB_TRY(check_program("build", request.config.build.command));
  FB_ASSIGN_OR_RETURN(git::Repository repo, git::Repository::open(request.repo));

  store::BisectionSpec spec;
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(repo.path(), ec);
  spec.repo = ec ? repo.path().native() : absolute.lexically_normal().native();
  // A trailing slash would make the same repository look like two different paths in reports.
  while (spec.repo.size() > 1 && spec.repo.back() == '/') {
    spec.repo.pop_back();
  }
  // The private worktree borrows the repository's objects through git's alternates file, one path
  // per line: found here, before anything is stored, rather than when the first commit is checked
  // out.
  const std::filesystem::path objects = std::filesystem::weakly_canonical(repo.objects_dir(), ec);
  if ((ec ? repo.objects_dir() : objects).native().find('\n') != std::string::npos) {
    return base::make_error(
        ErrorCode::kInvalidInput,
        "{}: the repository's path contains a newline, which git's alternates file cannot hold; "
        "move or link it to a path without one",
        spec.repo);
  }

  auto bad = repo.resolve(request.bad_rev);
  if (!bad) {
    return std::move(bad).error().context(fmt::format("--bad '{}'", request.bad_rev));
  }
  spec.bad_sha = *bad;
  spec.bad_ref = request.bad_rev;
  for (const std::string& rev : request.good_revs) {
    auto good = repo.resolve(rev);
    if (!good) {
      return std::move(good).error().context(fmt::format("--good '{}'", rev));
    }
    // Two revisions of one commit count once; the first one typed names it.
    if (std::find(spec.good_shas.begin(), spec.good_shas.end(), *good) == spec.good_shas.end()) {
      spec.good_shas.push_back(*good);
      spec.good_refs.push_back(rev);
    }
  }
  if (request.config.range.find_fix) {
    FB_TRY(check_fix_range(repo, request, spec));
  } else {
    FB_TRY(repo.validate_range(spec.good_shas, spec.bad_sha, spec.good_refs, spec.bad_ref));
  }
  // After the range: a partial clone, or swapped ends, are the errors to see first.
  FB_TRY(check_checkout_program(repo, request.config, spec));

  // backport_onto is stored as the commit it names now, as the ends are.
  config::Config config = request.config;
  if (!config.decision.backport_onto.empty()) {
    auto onto = repo.resolve(config.decision.backport_onto);
    if (!onto) {
      return std::move(onto).error().context(
          fmt::format("{} '{}'", config.origin_of("decision.backport_onto", "--backport-onto"),
                      config.decision.backport_onto));
    }
    config.decision.backport_onto = *onto;
    config.decision.backport_check = true;
  }
  FB_ASSIGN_OR_RETURN(spec.config_toml, config_text_for_storage(config));
  spec.config_hash = config.hash();
  if (request.config.kernel) {
    // A fragment that cannot be read or asks for a module is refused now, not at the first build.
    FB_TRY(build::load_kernel_fragments(request.config.kernel->fragments));
  }
  FB_ASSIGN_OR_RETURN(const std::vector<InputFile> inputs, input_files(request.config));
  spec.test_identity = test_identity(request.config, reproducer_digest(request.config, inputs));
  spec.build_key = build_key(request.config, inputs);
  spec.inputs_json = inputs_to_json(inputs);
  return spec;
}

}  // namespace flakebisect::engine
