// The HTML report in a real browser: headless Chromium (the Debian `chromium` package; CI installs
// it with scripts/install-deps.sh, and without it these tests fail rather than skip) loads the page
// without a single console message, its DOM holds the result, and a screenshot, decoded here with
// zlib, shows the plot in colour. Two control tests prove the checks can fail: a throwing script
// is seen on the console, and an empty page's screenshot has no ink. FLAKEBISECT_CHROMIUM names
// another browser binary.
#include <fmt/core.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "base/paths.h"
#include "base/process.h"
#include "report/html.h"
#include "support/temp_dir.h"

namespace flakebisect::report {
namespace {

using nlohmann::json;
using test_support::TempDir;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// Starting Chromium takes 1-3 s; a loaded CI machine gets plenty of slack.
constexpr std::chrono::seconds kChromiumTimeout{60};
constexpr int kWindowWidth = 1200;
constexpr int kWindowHeight = 2000;
// Subjects that would run code if escaping failed; the page's CSP would then report a violation
// on the console, which the console test catches.
constexpr std::string_view kHostileSubject =
    "mm: <script>console.error(\"injected\")</script> <img src=x onerror=alert(1)>";

std::string sha_of(size_t i) {
  const auto h = static_cast<uint32_t>((i + 1) * 2654435761U);
  return fmt::format("{0:08x}{0:08x}{0:08x}{0:08x}{0:08x}", h);
}

// A finished bisection over 40 commits: culprit 25 with 95% of the mass, runs on every fifth
// commit and around the culprit, failures and a crash after it.
json browser_report() {
  constexpr size_t kCount = 40;
  constexpr size_t kCulprit = 25;
  json commits = json::array();
  for (size_t i = 0; i < kCount; ++i) {
    const bool ran = i % 5 == 0 || (i + 2 >= kCulprit && i <= kCulprit + 2);
    const bool bad = i >= kCulprit;
    const int runs = ran ? 10 : 0;
    const int fails = ran && bad ? 3 : 0;
    const int crashes = ran && bad && i % 2 == 0 ? 1 : 0;
    commits.push_back(
        {{"idx", i},
         {"sha", sha_of(i)},
         {"subject", i == 7 ? std::string(kHostileSubject) : fmt::format("fs/ext4: change {}", i)},
         {"probability", i == kCulprit       ? 0.95
                         : i + 1 == kCulprit ? 0.03
                                             : 0.02 / 38},
         {"runs", runs},
         {"passes", runs - fails - crashes},
         {"fails", fails},
         {"crashes", crashes},
         {"hangs", 0},
         {"infra", 0},
         {"skips", 0},
         {"build", ran ? json("ok") : json(nullptr)}});
  }
  json decisions = json::array();
  for (int d = 0; d < 12; ++d) {
    decisions.push_back({{"at", fmt::format("2024-05-01T10:{:02}:00Z", d * 5)},
                         {"sha", sha_of(static_cast<size_t>(d) * 3)},
                         {"runs", 4},
                         {"information_bits", 0.6},
                         {"cost", 1.0},
                         {"max_probability", 0.05 + 0.08 * d},
                         {"best_sha", sha_of(kCulprit)}});
  }
  return {{"schema", "flakebisect-report"},
          {"version", 1},
          {"tool", {{"name", "flakebisect"}, {"version", "0.1.0"}}},
          {"bisection",
           {{"id", 1},
            {"state", "found"},
            {"repo", "/src/linux"},
            {"bad", {{"sha", sha_of(kCount - 1)}, {"subject", "Linux 6.2-rc1"}}},
            {"good", json::array({{{"sha", sha_of(100)}, {"subject", "Linux 6.1"}}})},
            {"created_at", "2024-05-01T10:00:00Z"},
            {"updated_at", "2024-05-01T11:00:00Z"},
            {"config_hash", "abc"},
            {"test_identity", "generic/418"},
            {"config_text", "[test]\ncommand = [\"./repro\"]\n"}}},
          {"parameters", nullptr},
          {"result",
           {{"status", "found"},
            {"reason", nullptr},
            {"culprit",
             {{"sha", sha_of(kCulprit)},
              {"subject", kHostileSubject},
              {"author", {{"name", "Ann Author"}, {"email", "ann@example.org"}}},
              {"date", "2024-04-30T09:00:00Z"},
              {"trailers", json::array()}}},
            {"confidence", 0.95},
            {"credible_set", json::array({{{"sha", sha_of(kCulprit)}, {"probability", 0.95}}})},
            {"theta", {{"mean", 0.4}, {"low", 0.25}, {"high", 0.55}}},
            {"eps", {{"mean", 0.0}, {"low", 0.0}, {"high", 0.002}}}}},
          {"commits", commits},
          {"decisions", decisions},
          {"totals",
           {{"runs", 120},
            {"builds", 12},
            {"boots", 120},
            {"wall_ms", 3600000},
            {"build_ms", 1800000},
            {"run_ms", 1800000}}},
          {"crashes", json::array({{{"title", "BUG: kernel NULL pointer dereference"},
                                    {"count", 2},
                                    {"first_sha", sha_of(kCulprit)},
                                    {"console_excerpt",
                                     "[ 3.1] BUG: kernel NULL pointer dereference\n"
                                     "[ 3.1] <TASK>\n[ 3.1] Call Trace:\n"}}})}};
}

std::string chromium_program() {
  const char* program = std::getenv("FLAKEBISECT_CHROMIUM");
  return program != nullptr && *program != '\0' ? program : "chromium";
}

// Runs headless Chromium on the file `page` with `flags`; its profile, HOME and caches live in
// `dir`. Adds a failure and returns nullopt when Chromium cannot be started at all.
std::optional<base::ProcessResult> run_chromium(const TempDir& dir, const std::string& page,
                                                const std::vector<std::string>& flags) {
  base::ProcessOptions options;
  // --disable-dev-shm-usage: shared memory in /tmp, not /dev/shm, which a container or chroot may
  // lack or keep small (chromium aborts there: "Creating shared memory in /dev/shm ... failed").
  options.argv = {chromium_program(),
                  "--headless=new",
                  "--no-sandbox",
                  "--disable-gpu",
                  "--disable-dev-shm-usage",
                  "--no-first-run",
                  "--user-data-dir=" + dir.file("profile")};
  options.argv.insert(options.argv.end(), flags.begin(), flags.end());
  options.argv.push_back("file://" + page);
  options.env_set = {{"HOME", dir.path()},
                     {"XDG_CONFIG_HOME", dir.file("config")},
                     {"XDG_CACHE_HOME", dir.file("cache")}};
  options.timeout = kChromiumTimeout;
  auto result = base::run_process(options);
  if (!result) {
    ADD_FAILURE() << "cannot run " << chromium_program()
                  << " (install the Debian chromium package: scripts/install-deps.sh): "
                  << result.error().message();
    return std::nullopt;
  }
  EXPECT_TRUE(result->succeeded())
      << chromium_program() << ": " << result->status_text(options) << "\nstderr:\n"
      << result->err;
  return *std::move(result);
}

// The console messages in Chromium's --enable-logging=stderr output, one per line, such as
// `[1:1:0101/000000.0:INFO:CONSOLE:1] "Uncaught Error: x", source: file:///p.html (1)` (older
// versions write "CONSOLE(1)"). Every level is logged as INFO, so any message counts.
std::vector<std::string> console_messages(const std::string& log) {
  std::vector<std::string> messages;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(":CONSOLE") != std::string::npos) {
      messages.push_back(line);
    }
  }
  return messages;
}

struct Image {
  uint32_t width = 0;
  uint32_t height = 0;
  std::vector<uint8_t> rgb;  // 3 bytes per pixel, rows top to bottom

  size_t pixels() const { return size_t{width} * height; }
};

uint32_t big_endian32(std::string_view bytes, size_t at) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) {
    value = (value << 8) | static_cast<uint8_t>(bytes[at + i]);
  }
  return value;
}

uint8_t paeth(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = std::abs(p - a);
  const int pb = std::abs(p - b);
  const int pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) {
    return static_cast<uint8_t>(a);
  }
  return static_cast<uint8_t>(pb <= pc ? b : c);
}

// Decodes what Chromium's --screenshot writes: an 8-bit, non-interlaced PNG, grey or RGB with or
// without alpha (alpha is dropped: screenshots are opaque). Adds a failure and returns nullopt for
// anything else.
std::optional<Image> decode_png(std::string_view png) {
  if (png.substr(0, 8) != std::string_view("\x89PNG\r\n\x1A\n", 8)) {
    ADD_FAILURE() << "not a PNG (" << png.size() << " bytes)";
    return std::nullopt;
  }
  Image image;
  size_t channels = 0;
  std::string compressed;
  for (size_t at = 8; at + 12 <= png.size();) {
    const uint32_t length = big_endian32(png, at);
    if (length > png.size() - at - 12) {
      break;
    }
    const std::string_view type = png.substr(at + 4, 4);
    const std::string_view data = png.substr(at + 8, length);
    if (type == "IHDR" && length >= 13) {
      image.width = big_endian32(data, 0);
      image.height = big_endian32(data, 4);
      const int depth = static_cast<uint8_t>(data[8]);
      const int color = static_cast<uint8_t>(data[9]);
      const int interlace = static_cast<uint8_t>(data[12]);
      channels = color == 0 ? 1 : color == 2 ? 3 : color == 4 ? 2 : color == 6 ? 4 : 0;
      if (depth != 8 || channels == 0 || interlace != 0) {
        ADD_FAILURE() << "unsupported PNG: depth " << depth << ", colour type " << color
                      << ", interlace " << interlace;
        return std::nullopt;
      }
    } else if (type == "IDAT") {
      compressed.append(data);
    } else if (type == "IEND") {
      break;
    }
    at += 12 + size_t{length};
  }
  if (channels == 0 || image.pixels() == 0) {
    ADD_FAILURE() << "PNG without a usable IHDR";
    return std::nullopt;
  }
  const size_t stride = size_t{image.width} * channels;
  std::vector<uint8_t> filtered((stride + 1) * image.height);
  auto filtered_size = static_cast<uLongf>(filtered.size());
  const int status =
      uncompress(filtered.data(), &filtered_size, reinterpret_cast<const Bytef*>(compressed.data()),
                 static_cast<uLong>(compressed.size()));
  if (status != Z_OK || filtered_size != filtered.size()) {
    ADD_FAILURE() << "PNG image data does not inflate: zlib status " << status;
    return std::nullopt;
  }
  std::vector<uint8_t> raw(stride * image.height);
  for (size_t y = 0; y < image.height; ++y) {
    const uint8_t filter = filtered[y * (stride + 1)];
    const uint8_t* in = &filtered[y * (stride + 1) + 1];
    uint8_t* out = &raw[y * stride];
    const uint8_t* up = y > 0 ? &raw[(y - 1) * stride] : nullptr;
    for (size_t x = 0; x < stride; ++x) {
      const int a = x >= channels ? out[x - channels] : 0;
      const int b = up != nullptr ? up[x] : 0;
      const int c = up != nullptr && x >= channels ? up[x - channels] : 0;
      int predicted = 0;
      switch (filter) {
        case 0:
          predicted = 0;
          break;
        case 1:
          predicted = a;
          break;
        case 2:
          predicted = b;
          break;
        case 3:
          predicted = (a + b) / 2;
          break;
        case 4:
          predicted = paeth(a, b, c);
          break;
        default:
          ADD_FAILURE() << "bad PNG filter " << int{filter};
          return std::nullopt;
      }
      out[x] = static_cast<uint8_t>(in[x] + predicted);
    }
  }
  image.rgb.resize(image.pixels() * 3);
  for (size_t p = 0; p < image.pixels(); ++p) {
    const uint8_t* pixel = &raw[p * channels];
    for (size_t k = 0; k < 3; ++k) {
      image.rgb[p * 3 + k] = pixel[channels >= 3 ? k : 0];
    }
  }
  return image;
}

// Pixels that are not (nearly) white.
size_t ink(const Image& image) {
  size_t count = 0;
  for (size_t p = 0; p < image.pixels(); ++p) {
    const uint8_t* pixel = &image.rgb[p * 3];
    if (pixel[0] < 245 || pixel[1] < 245 || pixel[2] < 245) {
      ++count;
    }
  }
  return count;
}

// Pixels within `tolerance` of the colour 0xRRGGBB in every channel.
size_t pixels_of_colour(const Image& image, uint32_t colour, int tolerance = 12) {
  const int want[3] = {static_cast<int>(colour >> 16), static_cast<int>((colour >> 8) & 0xFF),
                       static_cast<int>(colour & 0xFF)};
  size_t count = 0;
  for (size_t p = 0; p < image.pixels(); ++p) {
    bool close = true;
    for (size_t k = 0; k < 3; ++k) {
      close = close && std::abs(image.rgb[p * 3 + k] - want[k]) <= tolerance;
    }
    if (close) {
      ++count;
    }
  }
  return count;
}

std::optional<Image> screenshot(const TempDir& dir, const std::string& page) {
  const std::string png = dir.file("screenshot.png");
  const auto run = run_chromium(
      dir, page,
      {"--screenshot=" + png, fmt::format("--window-size={},{}", kWindowWidth, kWindowHeight),
       "--hide-scrollbars"});
  if (!run) {
    return std::nullopt;
  }
  const auto bytes = base::read_file(png);
  if (!bytes) {
    ADD_FAILURE() << "no screenshot: " << bytes.error().message() << "; stderr:\n" << run->err;
    return std::nullopt;
  }
  return decode_png(*bytes);
}

TEST(HtmlInChromium, ReportPageLoadsWithoutConsoleMessagesAndShowsTheResult) {
  TempDir dir;
  const std::string page = dir.write("report.html", render_html(browser_report()));
  const auto run = run_chromium(dir, page, {"--enable-logging=stderr", "--v=0", "--dump-dom"});
  ASSERT_TRUE(run.has_value());
  // No scripts, no loads: any console message at all (a CSP violation included) is a bug.
  EXPECT_THAT(console_messages(run->err), IsEmpty());
  const std::string& dom = run->out;
  EXPECT_THAT(dom, HasSubstr("<h1>flakebisect: regression found</h1>"));
  EXPECT_THAT(dom, HasSubstr("<code id=\"culprit-sha\">" + sha_of(25) + "</code>"));
  EXPECT_THAT(dom, HasSubstr("<svg class=\"plot\" id=\"commit-plot\""));
  EXPECT_THAT(dom, HasSubstr("<svg class=\"plot\" id=\"decision-chart\""));
  // The hostile subject stayed text: the DOM has no element it could have made.
  EXPECT_THAT(dom, HasSubstr("mm: &lt;script&gt;console.error(\"injected\")&lt;/script&gt;"));
  EXPECT_THAT(dom, Not(HasSubstr("<script")));
  EXPECT_THAT(dom, Not(HasSubstr("<img")));
}

TEST(HtmlInChromium, ConsoleCheckSeesAThrowingScript) {
  TempDir dir;
  const std::string page =
      dir.write("throw.html",
                "<!DOCTYPE html><html><body><p>x</p><script>throw new Error('kaboom')</script>"
                "</body></html>");
  const auto run = run_chromium(dir, page, {"--enable-logging=stderr", "--v=0", "--dump-dom"});
  ASSERT_TRUE(run.has_value());
  EXPECT_THAT(console_messages(run->err), Contains(HasSubstr("kaboom")))
      << "Chromium no longer logs console messages as ':CONSOLE' lines; stderr:\n"
      << run->err;
}

TEST(HtmlInChromium, ScreenshotOfTheReportShowsThePlotInColour) {
  TempDir dir;
  const std::string page = dir.write("report.html", render_html(browser_report()));
  const auto image = screenshot(dir, page);
  ASSERT_TRUE(image.has_value());
  EXPECT_EQ(image->width, static_cast<uint32_t>(kWindowWidth));
  EXPECT_EQ(image->height, static_cast<uint32_t>(kWindowHeight));
  // Text, tables and plots: a few percent of the page is ink (a blank page has none).
  EXPECT_GT(ink(*image), image->pixels() / 50) << "ink " << ink(*image);
  // The culprit's posterior bar (red, 95% of the plot's height) and the passing runs (green).
  EXPECT_GT(pixels_of_colour(*image, 0xd62728), 2000U);
  EXPECT_GT(pixels_of_colour(*image, 0x59a14f), 2000U);
  // The found-status header band (light green).
  EXPECT_GT(pixels_of_colour(*image, 0xe8f5e9, 2), 20000U);
}

TEST(HtmlInChromium, ScreenshotOfAnEmptyPageHasNoInk) {
  TempDir dir;
  const std::string page = dir.write("empty.html", "<!DOCTYPE html><html><body></body></html>");
  const auto image = screenshot(dir, page);
  ASSERT_TRUE(image.has_value());
  EXPECT_EQ(image->width, static_cast<uint32_t>(kWindowWidth));
  EXPECT_EQ(ink(*image), 0U);
}

}  // namespace
}  // namespace flakebisect::report
