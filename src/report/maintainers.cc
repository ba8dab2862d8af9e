#include "report/maintainers.h"

#include <fmt/core.h>
#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "base/paths.h"
#include "report/email.h"

namespace flakebisect::report {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxScriptBytes = size_t{4} << 20;        // get_maintainer.pl is about 70 KB
constexpr size_t kMaxMaintainersBytes = size_t{16} << 20;  // MAINTAINERS is about 700 KB in 6.x
constexpr size_t kMaxPatchBytes = size_t{32} << 20;        // a tree-wide change can be large
constexpr size_t kMaxLineBytes = 1000;
constexpr size_t kMaxDirectories = 200000;  // linux 6.1 has about 5000

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

// A directory removed with everything in it when this goes out of scope.
class ScratchDir {
 public:
  static base::Result<ScratchDir> make(const std::string& parent) {
    std::string name = (fs::path(parent) / "get-maintainer-XXXXXX").native();
    if (::mkdtemp(name.data()) == nullptr) {
      return base::make_error(base::ErrorCode::kIo, "cannot make a directory in {}: {}", parent,
                              std::strerror(errno));
    }
    return ScratchDir(std::move(name));
  }
  ScratchDir(ScratchDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  ScratchDir& operator=(ScratchDir&&) = delete;
  ~ScratchDir() {
    if (!path_.empty()) {
      std::error_code error;
      fs::remove_all(path_, error);
    }
  }
  const std::string& path() const { return path_; }

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace

std::vector<Maintainer> parse_get_maintainer_output(std::string_view output) {
  std::vector<Maintainer> out;
  std::set<std::string> seen;
  while (!output.empty() && out.size() < kMaxMaintainers) {
    const size_t newline = output.find('\n');
    std::string_view line = trim(output.substr(0, newline));
    output.remove_prefix(newline == std::string_view::npos ? output.size() : newline + 1);
    if (line.empty() || line.size() > kMaxLineBytes) {
      continue;
    }
    // The mailbox ends at its '>' ("Name <address>") or, for a bare address, at the first space;
    // the role is what follows in parentheses. A section name can hold parentheses of its own
    // ("maintainer:X86 ARCHITECTURE (32-BIT AND 64-BIT)").
    size_t end = line.find(" <") != std::string_view::npos ? line.find('>') : line.find(' ');
    if (end != std::string_view::npos && line[end] == '>') ++end;
    std::string role;
    if (end != std::string_view::npos && end < line.size()) {
      std::string_view rest = trim(line.substr(end));
      line = line.substr(0, end);
      if (rest.size() >= 2 && rest.front() == '(' && rest.back() == ')') {
        rest = rest.substr(1, rest.size() - 2);
      }
      role = std::string(rest);
    }
    const auto person = parse_person(line);
    if (!person) {
      continue;
    }
    std::string key = person->address;
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!seen.insert(key).second) {
      continue;
    }
    out.push_back(Maintainer{person->name, person->address, std::move(role)});
  }
  return out;
}

base::Result<std::optional<std::vector<Maintainer>>> kernel_maintainers(
    const git::Repository& repo, std::string_view sha, base::ProcessRunner& runner,
    const MaintainersOptions& options) {
  using Found = std::optional<std::vector<Maintainer>>;
  const std::string what = fmt::format("get_maintainer.pl at {}", sha.substr(0, 12));
  FB_ASSIGN_OR_RETURN(auto script, repo.file_at(sha, "scripts/get_maintainer.pl", kMaxScriptBytes));
  if (!script) {
    return Found();
  }
  FB_ASSIGN_OR_RETURN(auto maintainers, repo.file_at(sha, "MAINTAINERS", kMaxMaintainersBytes));
  if (!maintainers) {
    return Found();
  }
  // A merge's first-parent diff is a whole branch: its maintainers would be everyone's.
  FB_ASSIGN_OR_RETURN(git::CommitInfo info, repo.commit_info(sha));
  if (info.parents.size() > 1) {
    return Found();
  }
  FB_ASSIGN_OR_RETURN(auto mailmap, repo.file_at(sha, ".mailmap", kMaxMaintainersBytes));
  FB_ASSIGN_OR_RETURN(std::vector<std::string> dirs, repo.directories_at(sha, kMaxDirectories));
  FB_ASSIGN_OR_RETURN(git::Repository::Patch patch, repo.patch_of(sha, kMaxPatchBytes));
  auto dir = ScratchDir::make(options.temp_parent);
  if (!dir) {
    return std::move(dir).error().context(what);
  }
  // The script runs in a copy of the commit's directories (empty) with its MAINTAINERS, .mailmap
  // and itself in place: it tells a directory pattern ("F: drivers/foo", no slash) from a file by
  // looking (-d) from its working directory, and reads ./MAINTAINERS and ./.mailmap.
  const fs::path tree = fs::path(dir->path()) / "tree";
  std::error_code error;
  fs::create_directory(tree, error);
  for (const std::string& sub : dirs) {
    if (error) break;
    fs::create_directory(tree / sub, error);
  }
  if (error) {
    return base::make_error(base::ErrorCode::kIo, "{}: cannot make {}: {}", what, tree.native(),
                            error.message());
  }
  const std::string patch_path = (fs::path(dir->path()) / "commit.patch").native();
  std::vector<std::pair<std::string, const std::string*>> files = {
      {(tree / "scripts" / "get_maintainer.pl").native(), &*script},
      {(tree / "MAINTAINERS").native(), &*maintainers},
      {patch_path, &patch.text}};
  if (mailmap) files.emplace_back((tree / ".mailmap").native(), &*mailmap);
  for (const auto& [path, contents] : files) {
    if (auto written = base::write_file_atomic(path, *contents); !written) {
      return std::move(written).error().context(what);
    }
  }
  base::ProcessOptions run;
  // --no-tree: the copy is no whole kernel tree (which the script checks for, file by file); no
  // git history (commit signers), which would depend on the clone and take minutes on a full
  // one. No --mpath, which older scripts do not know: ./MAINTAINERS is the default.
  run.argv = {"perl",
              "scripts/get_maintainer.pl",
              "--no-tree",
              "--no-git",
              "--no-git-fallback",
              "--rolestats",
              "--multiline",
              patch_path};
  run.cwd = tree.native();
  // The script reads ~/.get_maintainer.conf and ~/.get_maintainer.ignore: not the user's, so
  // that the answer is the tree's own.
  run.env_set = {{"HOME", dir->path()}};
  run.timeout = options.timeout;
  run.output_cap = size_t{1} << 20;
  FB_ASSIGN_OR_RETURN(base::ProcessResult result, runner.run(run));
  if (!result.succeeded()) {
    std::string err(
        trim(result.err.size() > 500 ? result.err.substr(result.err.size() - 500) : result.err));
    std::replace(err.begin(), err.end(), '\n', ' ');
    return base::make_error(base::ErrorCode::kFailed, "{}: {}{}{}", what, result.status_text(run),
                            err.empty() ? "" : ": ", err);
  }
  return Found(parse_get_maintainer_output(result.out));
}

}  // namespace flakebisect::report
