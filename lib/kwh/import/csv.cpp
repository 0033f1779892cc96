#include <kwh/import/csv.hpp>

#include <algorithm>
#include <cstdint>

namespace kwh::import {

namespace {

bool blank_char(char c) { return c == ' ' || c == '\t'; }

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (blank_char(s.front()))) s.remove_prefix(1);
  while (!s.empty() && (blank_char(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Whether s is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int more = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) more = 1, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) more = 2, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) more = 3, cp = c & 0x07;
    else return false;
    if (i + static_cast<std::size_t>(more) >= s.size()) return false;
    for (int k = 1; k <= more; ++k) {
      const auto d = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((more == 1 && cp < 0x80) || (more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += static_cast<std::size_t>(more) + 1;
  }
  return true;
}

} // namespace

bool CsvRecord::blank() const {
  return std::all_of(fields.begin(), fields.end(), [](const std::string& f) { return f.empty(); });
}

Csv parse_csv(std::string_view text) {
  Csv out;
  // Spreadsheets saving "CSV UTF-8" start the file with a byte order mark.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  const std::size_t n = text.size();
  std::size_t i = 0;
  int line = 1;
  // Drops the rest of a bad record: up to and past the end of its line.
  auto skip_line = [&] {
    while (i < n && text[i] != '\n') ++i;
    if (i < n) {
      ++i;
      ++line;
    }
  };
  while (i < n) {
    CsvRecord rec;
    rec.line = line;
    std::string bad;
    for (;;) {
      std::size_t j = i;
      while (j < n && blank_char(text[j])) ++j;
      std::string field;
      if (j < n && text[j] == '"') {
        const int opened = line;
        i = j + 1;
        bool closed = false;
        while (i < n) {
          const char c = text[i];
          if (c == '"') {
            if (i + 1 < n && text[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            closed = true;
            ++i;
            break;
          }
          if (c == '\n') ++line;
          field += c;
          ++i;
        }
        if (!closed) {
          out.errors.push_back({opened, "a double quote opened on this line is never closed"});
          return out;
        }
        while (i < n && blank_char(text[i])) ++i;
        if (i < n && text[i] == '\r' && (i + 1 >= n || text[i + 1] == '\n')) ++i;
        if (i < n && text[i] != ',' && text[i] != '\n') {
          bad = "text after the closing double quote of a field (a quote inside a quoted field is written \"\")";
          break;
        }
      } else {
        i = j;
        const std::size_t start = i;
        while (i < n && text[i] != ',' && text[i] != '\n') {
          if (text[i] == '"' && bad.empty())
            bad = "a double quote inside a field that does not start with one (quote the whole field, and double "
                  "the quotes inside it)";
          ++i;
        }
        if (!bad.empty()) break;
        field = std::string(trimmed(text.substr(start, i - start)));
      }
      rec.fields.push_back(std::move(field));
      if (i >= n) break;
      if (text[i] == ',') {
        ++i;
        continue;
      }
      // text[i] == '\n': the record ends.
      ++i;
      ++line;
      break;
    }
    if (!bad.empty()) {
      out.errors.push_back({rec.line, std::move(bad)});
      skip_line();
      continue;
    }
    const bool utf8 = std::all_of(rec.fields.begin(), rec.fields.end(), [](const std::string& f) { return valid_utf8(f); });
    if (!utf8) {
      out.errors.push_back({rec.line, "not UTF-8 text (save the sheet as \"CSV UTF-8\")"});
      continue;
    }
    out.records.push_back(std::move(rec));
  }
  return out;
}

} // namespace kwh::import
