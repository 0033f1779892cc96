#pragma once
// The one error type that crosses library boundaries, and the exit codes of kwh(1).
//
// Library code reports expected failures through Result<T> (or throws Error where a failure
// must unwind a whole command); it never exits. The programs turn an Error into one line on
// stderr and its exit code, in one place at the top of main.

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace kwh {

// Exit codes, as kwh(1) and docs/contract.md "Exit codes" list them (the BSD sysexits values).
enum class Exit : int {
  ok = 0,
  failed = 1,
  usage = 64,
  data = 65,        // bad amount, file, conflict, rule
  no_input = 66,    // no such account, meter, gateway, tariff or file
  unavailable = 69, // meter or gateway unreachable
  temporary = 75,   // database busy, command still pending
  no_perm = 77,     // not permitted for this operator
  config = 78,      // bad configuration or profile
};

// An error's message is one line: control characters that come in with what it quotes (a
// parser's "saw '\n'", bytes of a bad file) are written as \n, \r, \t or \xHH.
std::string one_line(std::string_view text);

class Error : public std::runtime_error {
public:
  Error(Exit code, std::string message) : std::runtime_error(one_line(message)), m_code(code) {}
  Exit code() const noexcept { return m_code; }

private:
  Exit m_code;
};

template <typename... Args>
[[noreturn]] void fail(Exit code, fmt::format_string<Args...> f, Args&&... args) {
  throw Error(code, fmt::format(f, std::forward<Args>(args)...));
}

// A value or an Error, for failures that callers are expected to handle.
template <typename T> class Result {
public:
  Result(T value) : m_v(std::move(value)) {}
  Result(Error error) : m_v(std::move(error)) {}

  bool ok() const noexcept { return m_v.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  T& value() & { return get_or_throw(); }
  const T& value() const& { return const_cast<Result*>(this)->get_or_throw(); }
  T&& value() && { return std::move(get_or_throw()); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(get_or_throw()); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(m_v); }

private:
  T& get_or_throw() {
    if (!ok()) throw std::get<1>(m_v);
    return std::get<0>(m_v);
  }
  std::variant<T, Error> m_v;
};

} // namespace kwh
