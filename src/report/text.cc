#include "report/text.h"

#include <algorithm>
#include <cstdint>

namespace flakebisect::report {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr std::string_view kEllipsis = "...";

bool continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// Length of the well-formed UTF-8 sequence at text[i] (storing its code point), or 0.
size_t decode(std::string_view text, size_t i, uint32_t& code_point) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[i + k]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) {
    code_point = lead;
    return 1;
  }
  size_t length = 0;
  uint32_t min = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    code_point = lead & 0x1FU;
    min = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    code_point = lead & 0x0FU;
    min = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    code_point = lead & 0x07U;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + length > text.size()) {
    return 0;
  }
  for (size_t k = 1; k < length; ++k) {
    if (!continuation(byte(k))) {
      return 0;
    }
    code_point = (code_point << 6) | (byte(k) & 0x3FU);
  }
  if (code_point < min || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    return 0;
  }
  return length;
}

// Cuts valid UTF-8 `text` to at most max_bytes, at a character boundary, ending in "...".
void cut_bytes(std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) {
    return;
  }
  if (max_bytes < kEllipsis.size()) {
    text.clear();
    return;
  }
  size_t end = max_bytes - kEllipsis.size();
  while (end > 0 && continuation(static_cast<unsigned char>(text[end]))) {
    --end;
  }
  text.resize(end);
  text += kEllipsis;
}

// Drops ECMA-48 escape sequences (CSI, OSC and two-byte escapes) from valid UTF-8. Their bytes
// are ASCII, so what is left stays valid UTF-8.
std::string strip_escapes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '\x1b') {
      out += text[i++];
      continue;
    }
    ++i;
    if (i >= text.size()) {
      break;
    }
    const char kind = text[i++];
    if (kind == '[') {  // CSI: parameters, intermediates, one final byte
      while (i < text.size() && text[i] >= 0x20 && text[i] <= 0x3F) ++i;
      while (i < text.size() && text[i] >= 0x20 && text[i] <= 0x2F) ++i;
      if (i < text.size() && text[i] >= 0x40 && text[i] <= 0x7E) ++i;
    } else if (kind == ']' || kind == 'P' || kind == '_' || kind == '^') {  // strings: to ST/BEL
      while (i < text.size() && text[i] != '\x07' &&
             !(text[i] == '\x1b' && i + 1 < text.size() && text[i + 1] == '\\')) {
        ++i;
      }
      i += i < text.size() && text[i] == '\x07' ? 1 : (i < text.size() ? 2 : 0);
    }
    // Any other escape is ESC plus one character, both dropped. A non-ASCII "kind" byte would be
    // the start of a character: keep it.
    if (static_cast<unsigned char>(kind) >= 0x80) {
      --i;
    }
  }
  return out;
}

bool is_control(uint32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

}  // namespace

bool is_layout_control(uint32_t cp) {
  return cp == 0x2028 || cp == 0x2029 || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

std::string valid_utf8(std::string_view text, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes == std::string_view::npos ? text.size() : max_bytes));
  size_t i = 0;
  while (i < text.size()) {
    uint32_t cp = 0;
    const size_t length = decode(text, i, cp);
    if (length == 0) {
      out += kReplacement;
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
    // Past the cap there is no point reading further: the result is cut anyway.
    if (max_bytes != std::string_view::npos && out.size() > max_bytes) {
      break;
    }
  }
  if (max_bytes != std::string_view::npos) {
    cut_bytes(out, max_bytes);
  }
  return out;
}

std::string one_line(std::string_view text, size_t max_columns) {
  // Work on a bounded prefix: a line longer than this is cut anyway.
  const size_t bound =
      max_columns == std::string_view::npos ? text.size() : std::min(text.size(), max_columns * 8);
  const std::string clean = strip_escapes(valid_utf8(text.substr(0, bound)));
  std::string out;
  out.reserve(clean.size());
  size_t i = 0;
  while (i < clean.size()) {
    uint32_t cp = 0;
    const size_t length = decode(clean, i, cp);
    const bool space = cp == ' ' || is_control(cp) || is_layout_control(cp);
    if (space) {
      if (!out.empty() && out.back() != ' ') {
        out += ' ';
      }
    } else {
      out.append(clean, i, length);
    }
    i += length;
  }
  while (!out.empty() && out.back() == ' ') {
    out.pop_back();
  }
  return truncate_columns(out, max_columns);
}

std::string clean_block(std::string_view text, size_t max_columns) {
  const std::string clean = strip_escapes(valid_utf8(text));
  std::vector<std::string> lines(1);
  size_t column = 0;
  size_t i = 0;
  while (i < clean.size()) {
    uint32_t cp = 0;
    const size_t length = decode(clean, i, cp);
    std::string& line = lines.back();
    if (cp == '\r' && i + 1 < clean.size() && clean[i + 1] == '\n') {
      ++i;  // CR LF: the LF ends the line
      continue;
    }
    if (cp == '\n' || cp == '\r') {
      lines.emplace_back();
      column = 0;
    } else if (cp == '\t') {
      const size_t next = (column / 8 + 1) * 8;
      line.append(next - column, ' ');
      column = next;
    } else if (is_control(cp) || is_layout_control(cp)) {
      line += '?';
      ++column;
    } else {
      line.append(clean, i, length);
      ++column;
    }
    i += length;
  }
  std::string out;
  size_t first = 0;
  while (first < lines.size() && lines[first].find_first_not_of(' ') == std::string::npos) {
    ++first;
  }
  size_t last = lines.size();
  while (last > first && lines[last - 1].find_first_not_of(' ') == std::string::npos) {
    --last;
  }
  for (size_t k = first; k < last; ++k) {
    std::string& line = lines[k];
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    if (k > first) {
      out += '\n';
    }
    out += truncate_columns(line, max_columns);
  }
  return out;
}

size_t columns(std::string_view text) {
  size_t count = 0;
  for (char c : text) {
    if (!continuation(static_cast<unsigned char>(c))) {
      ++count;
    }
  }
  return count;
}

std::string truncate_columns(std::string_view text, size_t max_columns) {
  if (max_columns == std::string_view::npos || columns(text) <= max_columns) {
    return std::string(text);
  }
  const size_t keep = max_columns >= kEllipsis.size() ? max_columns - kEllipsis.size() : 0;
  size_t seen = 0;
  size_t end = 0;
  while (end < text.size()) {
    if (!continuation(static_cast<unsigned char>(text[end]))) {
      if (seen == keep) {
        break;
      }
      ++seen;
    }
    ++end;
  }
  std::string out(text.substr(0, end));
  if (max_columns >= kEllipsis.size()) {
    out += kEllipsis;
  }
  return out;
}

std::vector<std::string> wrap(std::string_view paragraph, size_t width) {
  std::vector<std::string> lines;
  std::string line;
  size_t line_columns = 0;
  size_t start = 0;
  while (start <= paragraph.size()) {
    size_t end = paragraph.find(' ', start);
    if (end == std::string_view::npos) {
      end = paragraph.size();
    }
    std::string_view word = paragraph.substr(start, end - start);
    start = end + 1;
    if (word.empty()) {
      continue;
    }
    // Split a word that can never fit, at character boundaries.
    while (columns(word) > width) {
      if (line_columns > 0) {
        lines.push_back(line);
        line.clear();
        line_columns = 0;
      }
      size_t cut = 0;
      for (size_t seen = 0; cut < word.size(); ++cut) {
        if (!continuation(static_cast<unsigned char>(word[cut]))) {
          if (seen == width) break;
          ++seen;
        }
      }
      lines.emplace_back(word.substr(0, cut));
      word.remove_prefix(cut);
    }
    const size_t word_columns = columns(word);
    if (word_columns == 0) {
      continue;
    }
    if (line_columns > 0 && line_columns + 1 + word_columns > width) {
      lines.push_back(line);
      line.clear();
      line_columns = 0;
    }
    if (line_columns > 0) {
      line += ' ';
      ++line_columns;
    }
    line.append(word);
    line_columns += word_columns;
  }
  if (line_columns > 0 || lines.empty()) {
    lines.push_back(line);
  }
  return lines;
}

std::string tail_lines(std::string_view text, size_t lines, size_t max_bytes) {
  if (text.size() > max_bytes) {
    text.remove_prefix(text.size() - max_bytes);
    // Start at a whole line when there is one, else at a character boundary.
    const size_t newline = text.find('\n');
    if (newline != std::string_view::npos && newline + 1 < text.size()) {
      text.remove_prefix(newline + 1);
    } else {
      while (!text.empty() && continuation(static_cast<unsigned char>(text.front()))) {
        text.remove_prefix(1);
      }
    }
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  size_t start = text.size();
  for (size_t seen = 0; start > 0; --start) {
    if (text[start - 1] == '\n' && ++seen == lines) {
      break;
    }
  }
  return std::string(text.substr(start));
}

}  // namespace flakebisect::report
