#include "report/email.h"

#include <fmt/core.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>
#include <sstream>

#include "report/text.h"

namespace flakebisect::report {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;
using ::testing::StartsWith;

std::string sha_of(char c) { return std::string(40, c); }

bool ascii_only(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c <= 0x7E; });
}

// A report as build_report() writes it, small enough to read.
json sample_report() {
  json commits = json::array();
  const char* subjects[] = {"mm: one", "fs: two", "ext4: planted regression", "net: four"};
  for (int i = 0; i < 4; ++i) {
    json parents = i == 0 ? json::array() : json::array({i - 1});
    commits.push_back(json{{"idx", i},
                           {"sha", sha_of(static_cast<char>('a' + i))},
                           {"subject", subjects[i]},
                           {"parents", parents},
                           {"probability", i == 2 ? 0.993 : 0.002},
                           {"bad_probability", i >= 2 ? 0.995 : 0.002},
                           {"runs", i == 1 ? 0 : 16},
                           {"passes", i < 2 ? 16 : 10},
                           {"fails", i < 2 ? 0 : 5},
                           {"crashes", i < 2 ? 0 : 1},
                           {"hangs", 0},
                           {"infra", 0},
                           {"skips", 0},
                           {"interrupted", 0},
                           {"build", i == 1 ? json("failed") : json("ok")},
                           {"evidence", {{"passes", 10}, {"fails", 6}, {"skipped", i == 1}}}});
  }
  json culprit{{"sha", sha_of('c')},
               {"subject", "ext4: planted regression"},
               {"author", {{"name", "A U Thor"}, {"email", "author@example.com"}}},
               {"committer", {{"name", "C O Mitter"}, {"email", "committer@example.com"}}},
               {"date", "2023-11-14T23:13:20+01:00"},
               {"trailers",
                {{{"key", "Signed-off-by"}, {"value", "A U Thor <author@example.com>"}},
                 {{"key", "Reviewed-by"}, {"value", "\"Re, Viewer\" <rv@example.org>"}},
                 {{"key", "Acked-by"}, {"value", "Jörg Ünïcödé <joerg@example.de>"}},
                 {{"key", "Link"}, {"value", "https://lore.kernel.org/r/1"}},
                 {{"key", "Cc"}, {"value", "stable@vger.kernel.org # 5.10+"}}}},
               {"idx", 2},
               {"probability", 0.993}};
  return json{
      {"schema", "flakebisect-report"},
      {"version", 1},
      {"tool", {{"name", "flakebisect"}, {"version", "0.1.0"}}},
      {"generated_at", "2024-01-01T12:34:56Z"},
      {"bisection",
       {{"id", 7},
        {"state", "found"},
        {"repo", "/src/linux"},
        {"bad", {{"sha", sha_of('d')}, {"subject", "net: four"}}},
        {"good", {{{"sha", sha_of('9')}, {"subject", "Linux 6.1"}}}}}},
      {"parameters",
       {{"test",
         {{"command", {"./repro.sh", "-n", "4"}},
          {"timeout_s", 600},
          {"failure_outcomes", {"fail", "crash"}},
          {"signature", nullptr}}},
        {"build", {{"command", json::array()}, {"timeout_s", 3600}}},
        {"kernel", nullptr},
        {"qemu", nullptr},
        {"scratch", nullptr},
        {"reproducer", nullptr},
        {"decision", {{"confidence", 0.99}}}}},
      {"result",
       {{"status", "found"},
        {"reason", nullptr},
        {"culprit", culprit},
        {"confidence", 0.993},
        {"credible_set", {{{"sha", sha_of('c')}, {"subject", "x"}, {"probability", 0.993}}}},
        {"credible_set_size", 1},
        {"credible_mass", 0.99},
        {"theta", {{"mean", 0.3}, {"low", 0.2}, {"high", 0.41}}},
        {"eps", {{"mean", 0.001}, {"low", 0}, {"high", 0.005}}}}},
      {"commits", commits},
      {"decisions",
       {{{"at", "2024-01-01T00:00:00Z"},
         {"sha", sha_of('d')},
         {"runs", 16},
         {"information_bits", 0.0},
         {"cost", 16},
         {"max_probability", 0.25},
         {"best_sha", sha_of('a')},
         {"elapsed_ms", 0}},
        {{"at", "2024-01-01T00:10:00Z"},
         {"sha", sha_of('b')},
         {"runs", 16},
         {"information_bits", 0.81},
         {"cost", 26},
         {"max_probability", 0.4},
         {"best_sha", sha_of('c')},
         {"elapsed_ms", 3723000}}}},
      {"totals",
       {{"runs", 48},
        {"reused_runs", 0},
        {"evidence_runs", 48},
        {"builds", 4},
        {"failed_builds", 1},
        {"boots", 3},
        {"wall_ms", 3900000},
        {"build_ms", 2400000},
        {"run_ms", 1200000}}},
      {"crashes",
       {{{"title", "BUG: kernel NULL pointer dereference, address: 0000000000000008"},
         {"outcome", "crash"},
         {"counted", true},
         {"count", 2},
         {"commits", 2},
         {"first_sha", sha_of('c')},
         {"console_excerpt",
          "[   12.345678] BUG: kernel NULL pointer dereference, address: 0000000000000008\n"
          "[   12.345679] RIP: 0010:ext4_dio_write_iter+0x1a/0x30 fs/ext4/file.c:123 a long line "
          "that goes well past seventy-two columns"}}}},
      {"warnings", json::array()}};
}

// The header block and the body of a message.
std::pair<std::string, std::string> split_message(const std::string& message) {
  const size_t blank = message.find("\n\n");
  if (blank == std::string::npos) return {message, ""};
  return {message.substr(0, blank + 1), message.substr(blank + 2)};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string base64_decode(const std::string& text) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const size_t value = alphabet.find(c);
    if (value == std::string::npos) continue;
    buffer = (buffer << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return out;
}

// The value of header `name`, unfolded, with RFC 2047 words decoded (adjacent words joined, as
// RFC 2047 section 6.2 says).
std::string header_value(const std::string& headers, const std::string& name) {
  std::string unfolded = std::regex_replace(headers, std::regex("\n "), " ");
  const std::regex line("(^|\n)" + name + ": ([^\n]*)");
  std::smatch match;
  if (!std::regex_search(unfolded, match, line)) return "<missing>";
  std::string value = match[2].str();
  value = std::regex_replace(value, std::regex(R"((\?=) (=\?))"), "$1$2");
  std::string decoded;
  const std::regex word(R"(=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=)");
  auto begin = std::sregex_iterator(value.begin(), value.end(), word);
  size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    decoded += value.substr(last, static_cast<size_t>(it->position()) - last);
    decoded += base64_decode((*it)[1].str());
    last = static_cast<size_t>(it->position() + it->length());
  }
  return decoded + value.substr(last);
}

TEST(ConfidenceInWords, SaysHowSureInWordsAndNeverRoundsUpToCertainty) {
  EXPECT_EQ(confidence_in_words(0.993), "almost certain (99.3%)");
  EXPECT_EQ(confidence_in_words(0.99996), "almost certain (99.99%)");
  EXPECT_EQ(confidence_in_words(1.0), "almost certain (100%)");
  EXPECT_EQ(confidence_in_words(0.96), "very likely (96.0%)");
  EXPECT_EQ(confidence_in_words(0.85), "likely (85.0%)");
  EXPECT_EQ(confidence_in_words(0.6), "more likely than not (60.0%)");
  EXPECT_EQ(confidence_in_words(0.3), "possible (30.0%)");
  EXPECT_EQ(confidence_in_words(0.0001), "unlikely (<0.1%)");
}

TEST(ConfidenceInWords, RoundsDownToATenthOfAPercent) {
  EXPECT_EQ(confidence_in_words(0.98996), "very likely (98.9%)");
  EXPECT_EQ(confidence_in_words(0.79999), "more likely than not (79.9%)");
  EXPECT_EQ(confidence_in_words(0.57), "more likely than not (57.0%)");  // 56.99999... in binary
  EXPECT_EQ(confidence_in_words(0.29), "possible (29.0%)");
  EXPECT_EQ(confidence_in_words(0.0019), "unlikely (0.1%)");
  EXPECT_EQ(confidence_in_words(0.00099), "unlikely (<0.1%)");
  EXPECT_EQ(confidence_in_words(0.9994), "almost certain (99.9%)");
  EXPECT_EQ(confidence_in_words(0.99949), "almost certain (99.9%)");
  // Within the tolerance of a threshold, but below it.
  EXPECT_EQ(confidence_in_words(0.7999999999996), "more likely than not (79.9%)");
  EXPECT_EQ(confidence_in_words(0.9499999999995), "likely (94.9%)");
}

TEST(Mailbox, QuotesSpecialsEncodesNonAsciiAndRejectsBadAddresses) {
  EXPECT_THAT(mailbox("A U Thor", "author@example.com"),
              Optional(std::string("A U Thor <author@example.com>")));
  EXPECT_THAT(mailbox("Re, \"The\" Viewer", "rv@example.org"),
              Optional(std::string("\"Re, \\\"The\\\" Viewer\" <rv@example.org>")));
  EXPECT_THAT(mailbox("Jörg", "j@example.de"),
              Optional(std::string("=?UTF-8?B?SsO2cmc=?= <j@example.de>")));
  EXPECT_THAT(mailbox("", "j@example.de"), Optional(std::string("j@example.de")));
  EXPECT_THAT(mailbox("X\nBcc: evil@example.com", "a@example.com"),
              Optional(std::string("\"X Bcc: evil@example.com\" <a@example.com>")));
  // Text that looks like an encoded-word is encoded itself, so it reads back as written.
  const auto lookalike = mailbox("=?UTF-8?B?Zm9v?=", "a@example.com");
  ASSERT_TRUE(lookalike.has_value());
  EXPECT_EQ(header_value("To: " + *lookalike + "\n", "To"), "=?UTF-8?B?Zm9v?= <a@example.com>");
  for (const char* bad :
       {"a@example.com\nBcc: evil@example.com", "a b@example.com", "<a@example.com>",
        "a@@example.com", "", "a@-example.com", "ü@example.com", "a@example..com", ".a@example.com",
        "a@example.com>, evil@example.com", "a\r@example.com"}) {
    EXPECT_EQ(mailbox("Name", bad), std::nullopt) << bad;
  }
}

TEST(ParsePerson, ReadsTrailerValuesWithNamesQuotesAndComments) {
  auto person = parse_person("Jörg Ünïcödé <joerg@example.de>");
  ASSERT_TRUE(person.has_value());
  EXPECT_EQ(person->name, "Jörg Ünïcödé");
  EXPECT_EQ(person->address, "joerg@example.de");
  person = parse_person("stable@vger.kernel.org # 5.10+");
  ASSERT_TRUE(person.has_value());
  EXPECT_EQ(person->name, "");
  EXPECT_EQ(person->address, "stable@vger.kernel.org");
  person = parse_person("\"Re, Viewer\" <rv@example.org>");
  ASSERT_TRUE(person.has_value());
  EXPECT_EQ(person->name, "Re, Viewer");
  EXPECT_EQ(parse_person("no address here"), std::nullopt);
  EXPECT_EQ(parse_person("Evil <a@example.com\nBcc: evil@example.com>"), std::nullopt);
  // Two mailboxes are no one person (the first's address was dropped, its name kept).
  EXPECT_EQ(parse_person("Foo <foo@example.com>, Bar <bar@example.com>"), std::nullopt);
}

// A user-space bisection boots one prebuilt kernel at every commit: the mail names it.
TEST(RenderEmail, APrebuiltKernelIsNamed) {
  json report = sample_report();
  report["parameters"]["kernel"] = nullptr;
  report["parameters"]["qemu"] = {{"kernel", "/boot/vmlinuz-6.1.0-13-amd64"},
                                  {"accel", "tcg"},
                                  {"cpus", 2},
                                  {"memory_mb", 256}};
  const std::string email = render_email(report);
  EXPECT_THAT(email,
              HasSubstr("kernel:       /boot/vmlinuz-6.1.0-13-amd64 (prebuilt, at every commit)\n"
                        "qemu:         accel tcg, 2 CPUs, 256 MB\n"));
}

// A kernel bisection's .config goes along as an attachment, as kernel test robots and syzbot give
// theirs; without one the message stays a single text/plain part.
TEST(RenderEmail, AKernelBisectionAttachesItsConfig) {
  json report = sample_report();
  report["parameters"]["kernel"] = {
      {"base", "tinyconfig"}, {"fragments", {"qemu-guest"}}, {"target", "bzImage"}};
  const std::string config = "#\n# Linux/x86 6.1.0 Kernel Configuration\n#\nCONFIG_EXT4_FS=y\n";
  report["parameters"]["kernel_config_hash"] = std::string(64, 'a');
  report["parameters"]["kernel_config"] = config;
  const std::string email = render_email(report);
  const auto [headers, rest] = split_message(email);
  const std::string type = header_value(headers, "Content-Type");
  ASSERT_THAT(type, ::testing::StartsWith("multipart/mixed; boundary=\""));
  const std::string boundary =
      type.substr(type.find('"') + 1, type.rfind('"') - type.find('"') - 1);
  EXPECT_EQ(header_value(headers, "MIME-Version"), "1.0");
  EXPECT_EQ(header_value(headers, "Content-Transfer-Encoding"), "8bit");
  const std::string text_part = "\n--" + boundary +
                                "\nContent-Type: text/plain; charset=utf-8\n"
                                "Content-Transfer-Encoding: 8bit\n\n";
  const std::string config_part = "\n--" + boundary +
                                  "\nContent-Type: text/plain; charset=utf-8; name=\"config\"\n"
                                  "Content-Disposition: attachment; filename=\"config\"\n"
                                  "Content-Transfer-Encoding: 8bit\n\n" +
                                  config + "\n--" + boundary + "--\n";
  ASSERT_THAT(rest, HasSubstr(text_part));
  EXPECT_TRUE(rest.ends_with(config_part)) << rest;
  EXPECT_THAT(rest, HasSubstr(".config aaaaaaaaaaaa\n              (attached as \"config\")"));
  // The text report says nothing of an attachment; a report without a config attaches nothing.
  EXPECT_THAT(render_text(report), Not(HasSubstr("attached")));
  report["parameters"]["kernel_config"] = nullptr;
  const auto [plain_headers, plain_body] = split_message(render_email(report));
  EXPECT_EQ(header_value(plain_headers, "Content-Type"), "text/plain; charset=utf-8");
  EXPECT_THAT(plain_body, Not(HasSubstr("attached")));
  // A line SMTP cannot carry (or one an mbox would split at) makes the attachment base64.
  report["parameters"]["kernel_config"] = "CONFIG_CMDLINE=\"" + std::string(1000, 'x') + "\"\n";
  EXPECT_THAT(render_email(report),
              HasSubstr("Content-Transfer-Encoding: base64\n\nQ09ORklHX0NNRExJTkU9Inh4eHh4eH"));
  report["parameters"]["kernel_config"] = "#\n.\n";
  EXPECT_THAT(render_email(report), HasSubstr("Content-Transfer-Encoding: base64\n\nIwouCg==\n"));
  report["parameters"]["kernel_config"] = "From me\n";
  EXPECT_THAT(render_email(report),
              HasSubstr("Content-Transfer-Encoding: base64\n\nRnJvbSBtZQo=\n"));
}

TEST(RenderEmail, ACcTrailerWithSeveralAddressesCcsEach) {
  json report = sample_report();
  report["result"]["culprit"]["trailers"] = json::array(
      {{{"key", "Cc"}, {"value", "Foo <foo@example.com>, \"Bar, B.\" <bar@example.com>"}},
       {{"key", "Cc"}, {"value", "a@example.com,b@example.com"}}});
  const auto [headers, body] = split_message(render_email(report));
  EXPECT_EQ(header_value(headers, "Cc"),
            "Foo <foo@example.com>, \"Bar, B.\" <bar@example.com>, a@example.com, b@example.com");
}

TEST(RenderEmail, TheMaintainersGetGetMaintainerPlNamesAreCcdAndListedInTheBody) {
  json report = sample_report();
  report["result"]["culprit"]["maintainers"] =
      json::array({{{"name", "Theodore Ts'o"},
                    {"email", "tytso@mit.edu"},
                    {"role", "maintainer:EXT4 FILE SYSTEM"}},
                   {{"name", ""},
                    {"email", "linux-ext4@vger.kernel.org"},
                    {"role", "open list:EXT4 FILE SYSTEM"}},
                   // Already Cc'd from a trailer: once.
                   {{"name", "Re Viewer"}, {"email", "RV@example.org"}, {"role", "reviewer:X"}},
                   {{"name", "Bad"}, {"email", "not an address"}, {"role", ""}}});
  const auto [headers, body] = split_message(render_email(report));
  EXPECT_EQ(header_value(headers, "Cc"),
            "\"Re, Viewer\" <rv@example.org>, Jörg Ünïcödé <joerg@example.de>, "
            "stable@vger.kernel.org, linux-ext4@vger.kernel.org, Theodore Ts'o <tytso@mit.edu>");
  EXPECT_THAT(body, HasSubstr("Maintainers (scripts/get_maintainer.pl):\n"
                              "  Theodore Ts'o <tytso@mit.edu> (maintainer:EXT4 FILE SYSTEM)\n"
                              "  linux-ext4@vger.kernel.org (open list:EXT4 FILE SYSTEM)\n"));
  // A role that would take the line past 72 columns goes under the address.
  report["result"]["culprit"]["maintainers"] =
      json::array({{{"name", "Christoph Hellwig"},
                    {"email", "hch@infradead.org"},
                    {"role", "supporter:IOMAP FILESYSTEM LIBRARY"}}});
  const std::string wrapped = split_message(render_email(report)).second;
  EXPECT_THAT(wrapped, HasSubstr("\n  Christoph Hellwig <hch@infradead.org>\n"
                                 "    (supporter:IOMAP FILESYSTEM LIBRARY)\n"));
  // Without them (another tree, --no-maintainers) the body has no such section.
  report["result"]["culprit"]["maintainers"] = nullptr;
  EXPECT_THAT(render_email(report), Not(HasSubstr("Maintainers (")));
}

// The Cc: header folds between mailboxes, not inside a quoted name where one would fit a line.
TEST(RenderEmail, AddressHeadersFoldBetweenMailboxes) {
  // A quoted name at every position relative to the 78-column fold.
  for (size_t pad = 1; pad <= 40; ++pad) {
    json report = sample_report();
    report["result"]["culprit"]["maintainers"] = json::array(
        {{{"name", std::string(pad, 'x')}, {"email", "pad@kernel.org"}, {"role", "reviewer:X"}},
         {{"name", "Darrick J. Wong"}, {"email", "djwong@kernel.org"}, {"role", "reviewer:X"}}});
    const std::string message = render_email(report);
    const std::string headers = message.substr(0, message.find("\n\n"));
    for (const std::string& line : lines_of(headers)) {
      EXPECT_LE(line.size(), 78U) << line;
      EXPECT_EQ(std::count(line.begin(), line.end(), '"') % 2, 0)
          << "a fold inside a quoted name, pad " << pad << ":\n"
          << headers;
    }
  }
}

TEST(UnstructuredHeader, EncodesNonAsciiAndFoldsLongValuesWithinSeventyEightColumns) {
  const std::string subject =
      "[flakebisect] ext4: ✓ ünïcödé 修正 of the direct I/O write path for 1k blocks on 4k "
      "pages, which could read back zeroes through the page cache";
  const std::string header = unstructured_header("Subject", subject);
  for (const std::string& line : lines_of(header)) {
    EXPECT_LE(line.size(), 78U) << line;
    EXPECT_TRUE(ascii_only(line)) << line;
  }
  EXPECT_THAT(header, StartsWith("Subject: =?UTF-8?B?"));
  EXPECT_EQ(header_value(header, "Subject"), subject);
  EXPECT_EQ(unstructured_header("Subject", "[flakebisect] fs: short"),
            "Subject: [flakebisect] fs: short\n");
}

TEST(RenderEmail, AddressesTheAuthorAndCcsTheSignersOnce) {
  const auto [headers, body] = split_message(render_email(sample_report()));
  EXPECT_EQ(header_value(headers, "To"), "A U Thor <author@example.com>");
  EXPECT_EQ(header_value(headers, "Cc"),
            "\"Re, Viewer\" <rv@example.org>, Jörg Ünïcödé <joerg@example.de>, "
            "stable@vger.kernel.org");
  // KernelCI's subject; the bad end has no revision as typed here, so its SHA stands in.
  EXPECT_EQ(header_value(headers, "Subject"),
            "[flakebisect] linux/dddddddddddd bisection: repro.sh on host");
  EXPECT_EQ(header_value(headers, "From"), "flakebisect <flakebisect@localhost>");
  EXPECT_THAT(headers, HasSubstr("Content-Type: text/plain; charset=utf-8\n"));
  EXPECT_THAT(body, HasSubstr("commit cccccccccccccccccccccccccccccccccccccccc\n"
                              "Author: A U Thor <author@example.com>\n"
                              "Date:   Tue Nov 14 23:13:20 2023 +0100\n"));
  EXPECT_THAT(body, HasSubstr("Confidence: almost certain (99.3%)"));
  EXPECT_THAT(body, HasSubstr("Reported-by: flakebisect <flakebisect@localhost>\n"));
  EXPECT_THAT(body, HasSubstr("Fixes: cccccccccccc (\"ext4: planted regression\")\n"));
  EXPECT_THAT(body, HasSubstr("RIP: 0010:ext4_dio_write_iter+0x1a/0x30"));
  EXPECT_THAT(body, HasSubstr("   1:02:03  bbbbbbbbbbbb"));
}

TEST(RenderEmail, TheRangeSizeIsShownOnlyOnceTheRangeWasRead) {
  json report = sample_report();
  report["bisection"]["candidates"] = 42;
  EXPECT_THAT(render_email(report), HasSubstr("candidates:   42 commits between good and bad\n"));
  report["bisection"]["candidates"] = 1;
  EXPECT_THAT(render_email(report), HasSubstr("candidates:   1 commit between good and bad\n"));
  // A bisection that never ran has no candidates stored yet: not an empty range.
  report["bisection"]["candidates"] = 0;
  EXPECT_THAT(render_email(report), Not(HasSubstr("candidates:")));
}

TEST(RenderEmail, TheCommitDateIsInGitShowsFormInTheAuthorsZone) {
  const auto date_line = [](const std::string& date) {
    json report = sample_report();
    report["result"]["culprit"]["date"] = date;
    const std::string body = render_email(report);
    const size_t at = body.find("Date:   ");
    return at == std::string::npos ? std::string() : body.substr(at, body.find('\n', at) - at);
  };
  EXPECT_EQ(date_line("2024-02-29T01:02:03-07:00"), "Date:   Thu Feb 29 01:02:03 2024 -0700");
  EXPECT_EQ(date_line("2005-04-07T15:13:13+05:30"), "Date:   Thu Apr 7 15:13:13 2005 +0530");
  // A date of another shape, or no such day, is shown as it was stored.
  EXPECT_EQ(date_line("2023-02-29T01:02:03+00:00"), "Date:   2023-02-29T01:02:03+00:00");
  EXPECT_EQ(date_line("2023-11-14 22:40:20"), "Date:   2023-11-14 22:40:20");
}

TEST(RenderEmail, TheSubjectNamesTreeBranchTestAndTargetAsKernelCIDoes) {
  json report = sample_report();
  const auto subject = [](const json& r, const EmailOptions& options = {}) {
    return header_value(split_message(render_email(r, options)).first, "Subject");
  };
  report["bisection"]["repo"] = "/src/linux.git/";
  report["bisection"]["bad"]["ref"] = "refs/heads/linux-6.1.y";
  EXPECT_EQ(subject(report), "[flakebisect] linux/linux-6.1.y bisection: repro.sh on host");
  report["bisection"]["repo"] = "/src/linux/.git";
  EXPECT_EQ(subject(report), "[flakebisect] linux/linux-6.1.y bisection: repro.sh on host");
  // A directory name with characters --tree would refuse is made of the ones it allows.
  report["bisection"]["repo"] = "/src/r'e$po \"x\"";
  EXPECT_EQ(subject(report), "[flakebisect] r-e-po-x/linux-6.1.y bisection: repro.sh on host");
  report["bisection"]["repo"] = "/src/linux/.git";
  EmailOptions mainline;
  mainline.tree = "mainline";
  EXPECT_EQ(subject(report, mainline),
            "[flakebisect] mainline/linux-6.1.y bisection: repro.sh on host");
  // A revision typed as a SHA (or its start) is named by the bad commit's 12 digits.
  report["bisection"]["bad"]["ref"] = "dddddddd";
  EXPECT_EQ(subject(report), "[flakebisect] linux/dddddddddddd bisection: repro.sh on host");
  // So is one typed in capitals, or as an expression relative to something else.
  for (const char* typed : {"DDDDDDDD", "HEAD", "HEAD~2", "master~3", "v6.1^", "@{u}"}) {
    report["bisection"]["bad"]["ref"] = typed;
    EXPECT_EQ(subject(report), "[flakebisect] linux/dddddddddddd bisection: repro.sh on host")
        << typed;
  }
  // The longest parts still leave the outcome whole.
  json long_one = report;
  long_one["bisection"]["bad"]["ref"] = std::string(100, 'b');
  long_one["parameters"]["test"]["command"] = {std::string(100, 't')};
  long_one["result"]["culprit"] = nullptr;
  long_one["result"]["status"] = "not_reproduced";
  EmailOptions long_tree;
  long_tree.tree = std::string(40, 'r');
  const std::string cut = subject(long_one, long_tree);
  EXPECT_THAT(cut, ::testing::EndsWith("... (not reproduced)"));
  EXPECT_LE(cut.size(), 200U);

  // Under QEMU: the architecture and kvm-xfstests' name of the filesystem configuration.
  report["bisection"]["bad"]["ref"] = "v6.2-rc1";
  report["parameters"]["qemu"] = {{"binary", "/usr/bin/qemu-system-x86_64"}};
  report["parameters"]["scratch"] = {{"mkfs", {"mkfs.ext4", "-q", "-b", "1024"}},
                                     {"fstype", "ext4"}};
  report["parameters"]["reproducer"] = {{"program", "/usr/lib/flakebisect/fb-dio-check"}};
  EXPECT_EQ(subject(report),
            "[flakebisect] linux/v6.2-rc1 bisection: fb-dio-check on qemu-x86_64 ext4/1k");
  report["parameters"]["scratch"]["mkfs"] = {"mkfs.xfs", "-f", "-b", "size=4096"};
  report["parameters"]["scratch"]["fstype"] = "xfs";
  EXPECT_EQ(subject(report),
            "[flakebisect] linux/v6.2-rc1 bisection: fb-dio-check on qemu-x86_64 xfs/4k");
  report["parameters"]["scratch"]["mkfs"] = {"mkfs.ext4"};
  report["parameters"]["scratch"]["fstype"] = "ext4";
  EXPECT_EQ(subject(report),
            "[flakebisect] linux/v6.2-rc1 bisection: fb-dio-check on qemu-x86_64 ext4");
  // xfstests: its tests name the test, and MKFS_OPTIONS the block size.
  report["parameters"]["xfstests"] = {{"tests", {"generic/418", "generic/419"}},
                                      {"mkfs_options", "-b 1024 -O ^has_journal"}};
  EXPECT_EQ(subject(report),
            "[flakebisect] linux/v6.2-rc1 bisection: generic/418 generic/419 on qemu-x86_64 "
            "ext4/1k");
}

TEST(RenderEmail, KeepsBodyLinesWithinSeventyTwoColumnsExceptConsoleTagsAndAuthor) {
  json report = sample_report();
  report["bisection"]["repo"] = "/a/very/long/path/" + std::string(100, 'p') + "/linux";
  report["result"]["culprit"]["subject"] =
      "ext4: " + std::string(30, 'w') + " " + std::string(90, 'v') + " and many more words here";
  report["parameters"]["test"]["command"] = {"./repro.sh", std::string(100, 'a'), "it's"};
  const auto [headers, body] = split_message(render_email(report));
  bool in_console = false;
  for (const std::string& line : lines_of(body)) {
    if (line.starts_with("Console output")) in_console = true;
    if (line.starts_with("If you fix")) in_console = false;
    if (in_console || line.starts_with("Fixes: ") || line.starts_with("Reported-by: ") ||
        line.starts_with("Author: ")) {
      continue;
    }
    EXPECT_LE(columns(line), kEmailBodyColumns) << line;
  }
}

TEST(RenderEmail, TheReportedByTagAndTheAuthorLineAreNeverCut) {
  json report = sample_report();
  const std::string author_name = "Maximiliane Alexandra Wolkenstein-Hohenberg";
  const std::string author_email = "maximiliane.wolkenstein-hohenberg@storage.example.org";
  report["result"]["culprit"]["author"] = {{"name", author_name}, {"email", author_email}};
  EmailOptions options;
  options.reporter =
      "Jane Hacker of the Continuous Integration Team <jane.hacker@storage.example.org>";
  const std::string body = render_text(report, options);
  EXPECT_THAT(body, HasSubstr("\nAuthor: " + author_name + " <" + author_email + ">\n"));
  EXPECT_THAT(body, HasSubstr("\nReported-by: " + options.reporter + "\n"));
}

TEST(RenderEmail, TheFixesTagHasTheWholeSubject) {
  json report = sample_report();
  const std::string subject = "ext4: " + std::string(250, 'w') + " end of the subject";
  report["result"]["culprit"]["subject"] = subject + "\nsecond line";
  const std::string body = render_text(report);
  EXPECT_THAT(body, HasSubstr("\nFixes: cccccccccccc (\"" + subject + " second line\")\n"));
}

TEST(RenderEmail, OutputLinesThatWouldEndOrSplitTheMessageAreSpaceStuffed) {
  json report = sample_report();
  report["crashes"][0]["console_excerpt"] =
      "[   12.3] BUG: kernel NULL pointer dereference\n"
      ".\n"
      ". \n"
      "From attacker@example.com Mon Jan  1 00:00:00 2024\n"
      "From: not an mbox separator\n"
      "..\n"
      "[   12.4] RIP: 0010:ext4_dio_write_iter+0x1a/0x30";
  const auto [headers, body] = split_message(render_email(report));
  EXPECT_THAT(body, HasSubstr("dereference\n"
                              " .\n"
                              " .\n"
                              " From attacker@example.com Mon Jan  1 00:00:00 2024\n"
                              "From: not an mbox separator\n"
                              "..\n"
                              "[   12.4] RIP:"));
  for (const std::string& line : lines_of(body)) {
    EXPECT_NE(line, ".");
    EXPECT_THAT(line, Not(StartsWith("From ")));
  }
}

TEST(RenderEmail, CommitTextCannotInjectHeaders) {
  json report = sample_report();
  json& culprit = report["result"]["culprit"];
  culprit["author"] = {{"name", "X\nBcc: evil@example.com"}, {"email", "x@example.com"}};
  // What the subject is made of: the revision as typed, the repository's name, the test.
  report["bisection"]["bad"]["ref"] = "next\r\nBcc evil\n\nInjected body";
  report["bisection"]["repo"] = "/src/li\nBcc: evil3@example.com\nnux";
  report["parameters"]["test"]["command"] = {"./re\npro.sh"};
  culprit["trailers"] = {
      {{"key", "Signed-off-by"}, {"value", "Y <y@example.com>\r\nBcc: evil@example.com"}},
      {{"key", "Cc"}, {"value", "evil@example.com\nBcc: evil2@example.com"}},
      {{"key", "Reviewed-by"}, {"value", "Z <z@example.com\n>"}},
      {{"key", "Signed-off-by\nBcc"}, {"value", "W <w@example.com>"}}};
  for (int i = 0; i < 100; ++i) {
    culprit["trailers"].push_back(
        {{"key", "Cc"}, {"value", "p" + std::to_string(i) + "@example.com"}});
  }
  const std::string message = render_email(report);
  const auto [headers, body] = split_message(message);
  std::map<std::string, int> seen;
  for (const std::string& line : lines_of(headers)) {
    if (line.starts_with(" ")) continue;  // a folded line
    const std::string name = line.substr(0, line.find(": "));
    const bool known = name == "From" || name == "To" || name == "Cc" || name == "Subject" ||
                       name == "Date" || name == "Message-ID" || name == "MIME-Version" ||
                       name == "Content-Type" || name == "Content-Transfer-Encoding";
    EXPECT_TRUE(known) << "unexpected header line: " << line;
    EXPECT_EQ(++seen[name], 1) << "a second " << name << ": " << line;
    EXPECT_THAT(line, Not(StartsWith("Bcc")));
  }
  EXPECT_EQ(header_value(headers, "Date"), "Mon, 01 Jan 2024 12:34:56 +0000");
  EXPECT_TRUE(
      std::regex_match(header_value(headers, "Message-ID"),
                       std::regex("<flakebisect-7-20240101T123456Z-[0-9a-f]{12}@localhost>")))
      << header_value(headers, "Message-ID");
  EXPECT_THAT(message, Not(HasSubstr("\r")));
  EXPECT_EQ(header_value(headers, "To"), "\"X Bcc: evil@example.com\" <x@example.com>");
  EXPECT_EQ(header_value(headers, "Subject"),
            "[flakebisect] li-Bcc-evil3-example.com-nux/next Bcc evil Injected body bisection: "
            "re pro.sh on host");
  const std::string cc = header_value(headers, "Cc");
  EXPECT_THAT(cc, StartsWith("Y <y@example.com>, evil@example.com, Z <z@example.com>, p0@"));
  EXPECT_THAT(cc, Not(HasSubstr("evil2")));
  EXPECT_THAT(cc, Not(HasSubstr("Bcc")));
  EXPECT_THAT(cc, Not(HasSubstr("w@example.com")));      // "Signed-off-by\nBcc" is no known trailer
  EXPECT_EQ(std::count(cc.begin(), cc.end(), '@'), 32);  // at most 32 people
}

TEST(RenderEmail, HasADateAndAMessageIdMadeFromTheReport) {
  json report = sample_report();
  const std::string message = render_email(report);
  auto [headers, body] = split_message(message);
  EXPECT_EQ(header_value(headers, "Date"), "Mon, 01 Jan 2024 12:34:56 +0000");
  const std::string id = header_value(headers, "Message-ID");
  EXPECT_TRUE(
      std::regex_match(id, std::regex("<flakebisect-7-20240101T123456Z-[0-9a-f]{12}@localhost>")))
      << id;
  EXPECT_EQ(render_email(report), message) << "the same report renders the same message";

  // Another report of the same bisection at the same second is another message.
  report["result"]["confidence"] = 0.995;
  EXPECT_NE(header_value(split_message(render_email(report)).first, "Message-ID"), id);

  // The host part is the reporter's.
  EmailOptions options;
  options.reporter = "Jane Hacker <jane@example.org>";
  EXPECT_THAT(header_value(split_message(render_email(report, options)).first, "Message-ID"),
              ::testing::EndsWith("@example.org>"));

  // Other dates; a document without a valid generated_at has no Date: and no time in its id.
  report["generated_at"] = "2024-02-29T23:59:59Z";
  EXPECT_EQ(header_value(split_message(render_email(report)).first, "Date"),
            "Thu, 29 Feb 2024 23:59:59 +0000");
  for (const json& time : {json(nullptr), json("2023-02-29T00:00:00Z"), json("yesterday"),
                           json("2024-01-01T00:00:00+01:00"), json(1704067200)}) {
    report["generated_at"] = time;
    headers = split_message(render_email(report)).first;
    EXPECT_EQ(header_value(headers, "Date"), "<missing>") << time;
    EXPECT_TRUE(std::regex_match(header_value(headers, "Message-ID"),
                                 std::regex("<flakebisect-7-[0-9a-f]{12}@localhost>")))
        << headers;
  }
}

TEST(RenderEmail, AReporterWithoutAnAddressGivesWayToTheDefaultOne) {
  EmailOptions options;
  for (const char* reporter : {"Jane Hacker", "Jane Hacker <jane@>", ""}) {
    options.reporter = reporter;
    const auto [headers, body] = split_message(render_email(sample_report(), options));
    EXPECT_EQ(header_value(headers, "From"), "flakebisect <flakebisect@localhost>") << reporter;
    EXPECT_THAT(header_value(headers, "Message-ID"), ::testing::EndsWith("@localhost>"));
    EXPECT_THAT(body, HasSubstr("\nReported-by: flakebisect <flakebisect@localhost>\n"));
    EXPECT_EQ(render_text(sample_report(), options), body);
  }
}

TEST(RenderEmail, AnInconclusiveBisectionListsTheCommitsItCouldBe) {
  json report = sample_report();
  report["result"]["status"] = "inconclusive";
  report["result"]["reason"] = "run budget spent (5000 runs)";
  report["result"]["culprit"] = nullptr;
  report["result"]["credible_set"] = {
      {{"sha", sha_of('c')}, {"subject", "ext4: planted regression"}, {"probability", 0.6}},
      {{"sha", sha_of('b')}, {"subject", "fs: two"}, {"probability", 0.35}}};
  report["result"]["credible_set_size"] = 3;
  const auto [headers, body] = split_message(render_email(report));
  EXPECT_EQ(header_value(headers, "Subject"),
            "[flakebisect] linux/dddddddddddd bisection: repro.sh on host (inconclusive)");
  EXPECT_EQ(header_value(headers, "To"), "<missing>");
  EXPECT_THAT(body, HasSubstr("flakebisect could not bisect this flaky failure to one commit: run\n"
                              "budget spent (5000 runs)"));
  EXPECT_THAT(body, HasSubstr("The first bad commit could be any of (99.0% of the probability):\n"
                              "  cccccccccccc   60.0%  ext4: planted regression\n"
                              "  bbbbbbbbbbbb   35.0%  fs: two\n"
                              "  ... and 1 more\n"));
  EXPECT_THAT(body, Not(HasSubstr("Fixes:")));
}

// A stored reason is a phrase ("cancelled by the user"): the sentence it ends gets its full stop
// before the next one begins.
TEST(RenderEmail, ACancelledOrUnreproducedBisectionsReasonEndsItsSentence) {
  json report = sample_report();
  report["bisection"]["state"] = "cancelled";
  report["result"]["status"] = "cancelled";
  report["result"]["reason"] = "cancelled by the user";
  report["result"]["culprit"] = nullptr;
  std::string body = split_message(render_email(report)).second;
  std::replace(body.begin(), body.end(), '\n', ' ');
  EXPECT_THAT(body, HasSubstr("is cancelled: cancelled by the user. "));
  report["result"]["status"] = "not_reproduced";
  report["result"]["reason"] = "200 runs at cccccccccccc without a failure";
  body = split_message(render_email(report)).second;
  std::replace(body.begin(), body.end(), '\n', ' ');
  EXPECT_THAT(body, HasSubstr("without a failure. "));
}

TEST(RenderEmail, ALongCredibleSetShowsTwentyMembersAndCountsTheRest) {
  json report = sample_report();
  report["result"]["status"] = "inconclusive";
  report["result"]["culprit"] = nullptr;
  json set = json::array();
  for (int i = 0; i < 21; ++i) {
    set.push_back({{"sha", fmt::format("{:012x}", i + 1) + std::string(28, '0')},
                   {"subject", fmt::format("fs: change {}", i + 1)},
                   {"probability", 0.04}});
  }
  report["result"]["credible_set"] = set;
  report["result"]["credible_set_size"] = 21;
  std::string body = render_text(report);
  EXPECT_THAT(body, HasSubstr("  000000000014    4.0%  fs: change 20\n"
                              "  ... and 1 more\n"));
  EXPECT_THAT(body, Not(HasSubstr("fs: change 21")));

  // The document holds the first 50 of a larger set.
  for (int i = 21; i < 50; ++i) set.push_back(set[0]);
  report["result"]["credible_set"] = set;
  report["result"]["credible_set_size"] = 60;
  body = render_text(report);
  EXPECT_THAT(body, HasSubstr("fs: change 20\n  ... and 40 more\n"));

  // A size smaller than the list (a hand-edited document) still counts what is not shown.
  report["result"]["credible_set_size"] = 0;
  body = render_text(report);
  EXPECT_THAT(body, HasSubstr("fs: change 20\n  ... and 30 more\n"));
}

// result.checks.revert as build_report writes it: culprit c reverted on the bad commit d.
json revert_check(const std::string& status) {
  json check{{"status", status},
             {"reverted", sha_of('c')},
             {"onto", sha_of('d')},
             {"commit", sha_of('e')},
             {"runs", 24},
             {"fails", 0},
             {"probability_fixed", 0.9961},
             {"conflicts", json::array()},
             {"conflict_count", 0},
             {"detail", "0 of 24 runs failed with cccccccccccc reverted on dddddddddddd"},
             {"outcomes", nullptr}};
  if (status == "fail") {
    check["fails"] = 9;
    check["probability_fixed"] = 0.0003;
  } else if (status == "conflict" || status == "build_failed") {
    check["runs"] = 0;
    check["probability_fixed"] = nullptr;
    if (status == "conflict") {
      check["commit"] = nullptr;
      check["conflicts"] = {"fs/iomap/direct-io.c", "fs/ext4/file.c", "fs/ext4/inode.c",
                            "include/linux/iomap.h"};
      check["conflict_count"] = 4;
    }
  }
  return check;
}

TEST(RenderEmail, TheChecksBlockFollowsTheVerdictWhereKernelCiPutsIt) {
  json report = sample_report();
  report["result"]["checks"] = {{"revert", revert_check("pass")}};
  const auto [headers, body] = split_message(render_email(report));
  EXPECT_THAT(body,
              HasSubstr("(false\npositives).\n"
                        "\n"
                        "Checks:\n"
                        "  revert:  PASS  (0 of 24 runs failed with cccccccccccc reverted on\n"
                        "           dddddddddddd; P(fixed) = 0.9961)\n"
                        "\n"
                        "bad commit:   dddddddddddd net: four\n"));
  EXPECT_EQ(render_text(report), body);

  report["result"]["checks"] = {{"revert", revert_check("fail")}};
  EXPECT_THAT(render_text(report),
              HasSubstr("\nChecks:\n"
                        "  revert:  FAIL  (9 of 24 runs failed with cccccccccccc reverted on\n"
                        "           dddddddddddd; P(fixed) = 0.0003)\n\n"));

  report["result"]["checks"] = {{"revert", revert_check("conflict")}};
  EXPECT_THAT(render_text(report),
              HasSubstr("\nChecks:\n"
                        "  revert:  CONFLICT  (cccccccccccc does not revert cleanly on\n"
                        "           dddddddddddd: conflicts in fs/iomap/direct-io.c,\n"
                        "           fs/ext4/file.c, fs/ext4/inode.c and 1 more)\n\n"));

  report["result"]["checks"] = {{"revert", revert_check("build_failed")}};
  EXPECT_THAT(render_text(report),
              HasSubstr("\nChecks:\n"
                        "  revert:  BUILD FAILED  (dddddddddddd with cccccccccccc reverted does\n"
                        "           not build)\n\n"));
}

TEST(RenderEmail, WithoutACheckThereIsNoChecksBlock) {
  const std::string plain = render_email(sample_report());
  EXPECT_THAT(plain, Not(HasSubstr("Checks:")));
  json report = sample_report();
  for (const json& checks :
       {json(nullptr), json{{"revert", nullptr}}, json{{"revert", {{"status", "passed"}}}}}) {
    report["result"]["checks"] = checks;
    EXPECT_EQ(render_email(report), plain) << checks;
  }
}

TEST(RenderEmail, ACheckWithHostileOrHugeFieldsKeepsTheBodyWithinSeventyTwoColumns) {
  json report = sample_report();
  json check = revert_check("conflict");
  check["conflicts"] = {std::string(300, 'p'), "fs/\nFrom evil@example.com\r\n.\n", "x\x1b[31m\xff",
                        12};
  check["reverted"] = "cccccccccccc\nBcc: evil@example.com";
  check["conflict_count"] = -5;
  report["result"]["checks"] = {{"revert", check}};
  const std::string body = render_text(report);
  for (const std::string& line : lines_of(body)) {
    if (line.starts_with("Console output")) break;
    EXPECT_LE(columns(line), kEmailBodyColumns) << line;
    EXPECT_THAT(line, Not(StartsWith("From ")));
    EXPECT_THAT(line, Not(StartsWith("Bcc")));
  }
  EXPECT_THAT(body,
              HasSubstr("  revert:  CONFLICT  (the first bad commit does not revert cleanly on\n"
                        "           dddddddddddd: conflicts in"));
  EXPECT_THAT(body, Not(HasSubstr("\x1b")));
  EXPECT_THAT(body, Not(HasSubstr("\r")));
  EXPECT_THAT(body, Not(HasSubstr("Bcc")));
}

// result.checks.verify as build_report writes it: culprit c, run at its parent 9, outside the
// range (the good commit).
json verify_check(const std::string& status) {
  json check{{"status", status},
             {"culprit", sha_of('c')},
             {"commit", sha_of('9')},
             {"runs", 21},
             {"fails", 0},
             {"own_runs", 21},
             {"probability_good", 0.9961},
             {"detail", "the engine's own sentence"},
             {"outcomes", {{"runs", 21}, {"passes", 21}, {"skips", 0}}}};
  if (status == "fail") {
    check["runs"] = 12;
    check["fails"] = 3;
    check["own_runs"] = 12;
    check["probability_good"] = 0.00002;
    check["outcomes"] = {{"runs", 12}, {"passes", 9}, {"fails", 3}, {"skips", 0}};
  } else if (status == "inconclusive") {
    check["runs"] = 4;
    check["fails"] = 1;
    check["probability_good"] = 0.62;
    check["outcomes"] = {{"runs", 5}, {"passes", 3}, {"fails", 1}, {"skips", 1}};
  } else if (status == "build_failed") {
    check["runs"] = 0;
    check["own_runs"] = 0;
    check["probability_good"] = nullptr;
    check["outcomes"] = nullptr;
  }
  return check;
}

// The sample report as the engine leaves it when the verify check fails: inconclusive, no
// culprit, the check stored.
json verify_failed_report() {
  json report = sample_report();
  report["bisection"]["state"] = "inconclusive";
  report["result"]["status"] = "inconclusive";
  report["result"]["culprit"] = nullptr;
  report["result"]["reason"] =
      "the culprit's parent 999999999999, outside the range, fails like a bad commit";
  report["result"]["checks"] = {{"revert", nullptr}, {"verify", verify_check("fail")}};
  return report;
}

TEST(RenderEmail, TheVerifyCheckFollowsTheRevertCheckInTheChecksBlock) {
  json report = sample_report();
  report["result"]["checks"] = {{"revert", revert_check("pass")}, {"verify", verify_check("pass")}};
  const auto [headers, body] = split_message(render_email(report));
  EXPECT_THAT(body,
              HasSubstr("(false\npositives).\n"
                        "\n"
                        "Checks:\n"
                        "  revert:  PASS  (0 of 24 runs failed with cccccccccccc reverted on\n"
                        "           dddddddddddd; P(fixed) = 0.9961)\n"
                        "  verify:  PASS  (0 of 21 runs failed at 999999999999, the culprit's\n"
                        "           parent, outside the range; P(good) = 0.9961)\n"
                        "\n"
                        "bad commit:   dddddddddddd net: four\n"));
  EXPECT_EQ(render_text(report), body);
  EXPECT_THAT(body, Not(HasSubstr("the engine's own sentence")));

  // Alone (the revert check did not run, or could not be read).
  for (const json& revert : {json(nullptr), json{{"status", "unknown"}}}) {
    report["result"]["checks"] = {{"revert", revert}, {"verify", verify_check("inconclusive")}};
    EXPECT_THAT(
        render_text(report),
        HasSubstr("positives).\n\nChecks:\n"
                  "  verify:  INCONCLUSIVE  (1 of 4 runs failed at 999999999999, the\n"
                  "           culprit's parent, outside the range; P(good) = 0.6200; a run\n"
                  "           there was a skip)\n\nbad commit:"))
        << revert;
  }
  report["result"]["checks"] = {{"verify", verify_check("build_failed")}};
  EXPECT_THAT(render_text(report),
              HasSubstr("\nChecks:\n"
                        "  verify:  BUILD FAILED  (999999999999, the culprit's parent, does not\n"
                        "           build)\n\nbad commit:"));
}

TEST(RenderEmail, AVerifyCheckThatFailedIsShownUnderTheInconclusiveVerdict) {
  const json report = verify_failed_report();
  const std::string body = render_text(report);
  EXPECT_THAT(body,
              StartsWith("flakebisect could not bisect this flaky failure to one commit: "
                         "the\nculprit's parent 999999999999, outside the range, fails like"));
  EXPECT_THAT(body,
              HasSubstr("\n\nChecks:\n"
                        "  verify:  FAIL  (3 of 12 runs failed at 999999999999, the culprit's\n"
                        "           parent, outside the range: the regression is at or before it;\n"
                        "           P(good) < 0.0001)\n"
                        "\n"
                        "bad commit:   dddddddddddd net: four\n"));
  EXPECT_THAT(body, Not(HasSubstr("Fixes:")));
  EXPECT_THAT(render_email(report), HasSubstr("Subject: [flakebisect] linux/dddddddddddd "
                                              "bisection: repro.sh on host\n (inconclusive)\n"));
  // Without the check, the same inconclusive report has no block.
  json plain = report;
  plain["result"]["checks"].erase("verify");
  EXPECT_THAT(render_text(plain), Not(HasSubstr("Checks:")));
}

TEST(RenderEmail, WithoutAVerifyCheckTheMessageIsAsBefore) {
  json report = sample_report();
  report["result"]["checks"] = {{"revert", revert_check("pass")}};
  const std::string with_revert = render_email(report);
  for (const json& verify : {json(nullptr), json{{"status", "conflict"}}, json{{"status", "PASS"}},
                             json("pass"), json::array()}) {
    report["result"]["checks"]["verify"] = verify;
    EXPECT_EQ(render_email(report), with_revert) << verify;
  }
  const std::string plain = render_email(sample_report());
  report = sample_report();
  report["result"]["checks"] = {{"revert", nullptr}, {"verify", nullptr}};
  EXPECT_EQ(render_email(report), plain);
}

// result.checks.backport as build_report writes it for a fix bisection: fix c cherry-picked onto
// the broken (bad) commit d.
json backport_check(const std::string& status) {
  json check = revert_check(status);
  check.erase("reverted");
  check["picked"] = sha_of('c');
  check["own_runs"] = check["runs"];
  check["detail"] = "the engine's own sentence";
  return check;
}

TEST(RenderEmail, AFailedBackportOntoAnotherBranchNamesThatCommitInTheFooter) {
  json report = sample_report();
  report["bisection"]["mode"] = "fix";
  report["result"]["checks"] = {{"revert", nullptr}, {"backport", backport_check("fail")}};
  std::string body = render_text(report);
  std::replace(body.begin(), body.end(), '\n', ' ');
  EXPECT_THAT(body, HasSubstr("cherry-picked alone onto the broken commit it does not make"));
  EXPECT_THAT(body, Not(HasSubstr("to backport: git cherry-pick")));
  report["result"]["checks"]["backport"]["onto"] = sha_of('e');  // --backport-onto a stable tip
  body = render_text(report);
  std::replace(body.begin(), body.end(), '\n', ' ');
  EXPECT_THAT(body, HasSubstr("cherry-picked alone onto eeeeeeeeeeee it does not make"));
}

TEST(RenderEmail, AFixBisectionsBackportCheckIsInTheChecksBlockAfterTheVerifyCheck) {
  json report = sample_report();
  report["bisection"]["mode"] = "fix";
  report["result"]["checks"] = {{"revert", nullptr}, {"backport", backport_check("pass")}};
  const auto [headers, body] = split_message(render_email(report));
  EXPECT_THAT(body,
              HasSubstr("\n\nChecks:\n"
                        "  backport: PASS  (0 of 24 runs failed with cccccccccccc cherry-picked\n"
                        "            onto dddddddddddd; P(fixed) = 0.9961)\n"
                        "\nbroken:"));
  EXPECT_EQ(render_text(report), body);
  EXPECT_THAT(body, Not(HasSubstr("the engine's own sentence")));

  // Beside a backport check the verify check's verdict lines up with it.
  report["result"]["checks"]["verify"] = verify_check("pass");
  EXPECT_THAT(render_text(report),
              HasSubstr("\nChecks:\n"
                        "  verify:   PASS  (0 of 21 runs failed at 999999999999, the fixed (good)\n"
                        "            end; P(good) = 0.9961)\n"
                        "  backport: PASS  (0 of 24 runs failed with cccccccccccc cherry-picked\n"
                        "            onto dddddddddddd; P(fixed) = 0.9961)\n\n"));
  report["result"]["checks"].erase("verify");

  report["result"]["checks"]["backport"] = backport_check("fail");
  EXPECT_THAT(render_text(report),
              HasSubstr("\nChecks:\n"
                        "  backport: FAIL  (9 of 24 runs failed with cccccccccccc cherry-picked\n"
                        "            onto dddddddddddd: the fix alone does not fix it there (it\n"
                        "            needs other commits too); P(fixed) = 0.0003)\n"
                        "\n"));

  report["result"]["checks"]["backport"] = backport_check("conflict");
  EXPECT_THAT(render_text(report),
              HasSubstr("\nChecks:\n"
                        "  backport: CONFLICT  (cccccccccccc does not cherry-pick cleanly onto\n"
                        "            dddddddddddd: conflicts in fs/iomap/direct-io.c,\n"
                        "            fs/ext4/file.c, fs/ext4/inode.c and 1 more)\n\n"));

  report["result"]["checks"]["backport"] = backport_check("build_failed");
  EXPECT_THAT(render_text(report),
              HasSubstr("\nChecks:\n"
                        "  backport: BUILD FAILED  (dddddddddddd with cccccccccccc cherry-picked\n"
                        "            does not build)\n\n"));

  // An unknown status, or none stored: no block.
  for (const json& backport : {json(nullptr), json{{"status", "picked"}}, json("pass")}) {
    report["result"]["checks"]["backport"] = backport;
    EXPECT_THAT(render_text(report), Not(HasSubstr("Checks:"))) << backport;
  }
}

TEST(RenderEmail, AVerifyCheckWithHostileFieldsKeepsTheBodyClean) {
  json report = verify_failed_report();
  json& check = report["result"]["checks"]["verify"];
  check["commit"] = "999999999999\nBcc: evil@example.com";
  check["runs"] = -3;
  check["probability_good"] = "low";
  check["detail"] = "From evil@example.com\n.\n\x1b[31m";
  const std::string body = render_text(report);
  for (const std::string& line : lines_of(body)) {
    if (line.starts_with("Console output")) break;
    EXPECT_LE(columns(line), kEmailBodyColumns) << line;
    EXPECT_THAT(line, Not(StartsWith("From ")));
    EXPECT_THAT(line, Not(StartsWith("Bcc")));
  }
  EXPECT_THAT(body,
              HasSubstr("  verify:  FAIL  (the culprit's parent, outside the range, run counts\n"
                        "           not known: the regression is at or before it)\n"));
  EXPECT_THAT(body, Not(HasSubstr("\x1b")));
  EXPECT_THAT(body, Not(HasSubstr("evil")));
  for (const json& garbage :
       {json{{"result", {{"checks", {{"verify", {{"status", "pass"}, {"runs", "x"}}}}}}}},
        json{{"result", {{"checks", {{"verify", {{"status", "fail"}, {"outcomes", 3}}}}}}}},
        json{{"result", {{"checks", {{"verify", {1, 2}}}}}}}}) {
    EXPECT_NO_THROW((void)render_email(garbage)) << garbage.dump();
    EXPECT_NO_THROW((void)render_text(garbage)) << garbage.dump();
  }
}

TEST(RenderEmail, NeverThrowsOnDocumentsOfTheWrongShape) {
  for (const json& garbage :
       {json(nullptr), json::array(), json("text"), json{{"result", 3}, {"commits", "x"}},
        json{{"result", {{"culprit", {{"author", 5}, {"trailers", {1, 2}}}}}},
             {"decisions", {1, nullptr}},
             {"crashes", {{{"counted", "yes"}}}}},
        json{{"result", {{"checks", {{"revert", {{"status", "pass"}, {"runs", "x"}}}}}}}},
        json{{"result", {{"checks", {{"revert", {{"status", "conflict"}, {"conflicts", 3}}}}}}}},
        json{{"result", {{"checks", {{"revert", {1, 2}}}}}}}, json{{"result", {{"checks", 5}}}}}) {
    EXPECT_NO_THROW((void)render_email(garbage)) << garbage.dump();
    EXPECT_NO_THROW((void)render_text(garbage)) << garbage.dump();
  }
}

}  // namespace
}  // namespace flakebisect::report
