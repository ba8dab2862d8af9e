#include "report/maintainers.h"

#include <fmt/core.h>
#include <stdlib.h>
#include <sys/stat.h>

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
    // The role: the last parenthesised group, at the end of the line.
    std::string role;
    if (line.back() == ')') {
      const size_t open = line.rfind(" (");
      if (open != std::string_view::npos) {
        role = std::string(line.substr(open + 2, line.size() - open - 3));
        line = trim(line.substr(0, open));
      }
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
  FB_ASSIGN_OR_RETURN(git::Repository::Patch patch, repo.patch_of(sha, kMaxPatchBytes));
  auto dir = ScratchDir::make(options.temp_parent);
  if (!dir) {
    return std::move(dir).error().context(what);
  }
  const std::string script_path = (fs::path(dir->path()) / "get_maintainer.pl").native();
  const std::string maintainers_path = (fs::path(dir->path()) / "MAINTAINERS").native();
  const std::string patch_path = (fs::path(dir->path()) / "commit.patch").native();
  for (const auto& [path, contents] :
       {std::pair<const std::string&, const std::string&>{script_path, *script},
        {maintainers_path, *maintainers},
        {patch_path, patch.text}}) {
    if (auto written = base::write_file_atomic(path, contents); !written) {
      return std::move(written).error().context(what);
    }
  }
  base::ProcessOptions run;
  // --no-tree: the directory is not a kernel tree; --mpath: the commit's MAINTAINERS; no git
  // history (commit signers), which would depend on the clone and take minutes on a full one.
  run.argv = {"perl",     script_path,         "--no-tree",   "--mpath",     maintainers_path,
              "--no-git", "--no-git-fallback", "--rolestats", "--multiline", patch_path};
  // Its working directory: nothing of the user's (a .get_maintainer.conf, a .mailmap) in it.
  run.cwd = dir->path();
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
